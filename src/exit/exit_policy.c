/* SPDX-License-Identifier: MIT */
/*
 * Exit policy evaluation and summary (exit_policy.h; docs/PROTOCOL.md section 10).
 *
 * Evaluation is a linear first-match scan. The summary needs "is there a public address of
 * this family for which the first matching rule at this port is accept": with addresses as
 * integers, every rule's address set is a union of intervals (a prefix is one interval;
 * "private" is the list below), so the question becomes "does accept-rule interval Q have a
 * point outside the union of the private intervals and of the intervals of every earlier
 * rule that applies at this port", answered by a sweep over those intervals kept sorted.
 * Ports are grouped into the intervals between rule port boundaries (every port of one
 * group sees the same rules), so the work is O(rules^2) per group, not per port.
 */
#include "exit/exit_policy.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "exit/exit_policy_st.h"

/* ---- addresses as 16-byte big-endian integers ---- */

/* IPv4 uses the first 4 bytes (the rest zero), IPv6 all 16: memcmp orders both. */
struct ip_iv {
	uint8_t lo[16];
	uint8_t hi[16];
};

struct ip_pfx {
	uint8_t addr[16];
	uint8_t bits;
};

static size_t
family_width(uint8_t family)
{
	return family == EXIT_AF_IPV4 ? 4 : 16;
}

/* The non-public IPv4 networks (RFC 6890 and friends); docs/PROTOCOL.md 10.2. */
static const struct ip_pfx private4[] = {
	{ { 0, 0, 0, 0 }, 8 },          /* "this network" */
	{ { 10, 0, 0, 0 }, 8 },         /* RFC 1918 */
	{ { 100, 64, 0, 0 }, 10 },      /* RFC 6598 carrier-grade NAT */
	{ { 127, 0, 0, 0 }, 8 },        /* loopback */
	{ { 169, 254, 0, 0 }, 16 },     /* link-local */
	{ { 172, 16, 0, 0 }, 12 },      /* RFC 1918 */
	{ { 192, 0, 0, 0 }, 24 },       /* IETF protocol assignments */
	{ { 192, 168, 0, 0 }, 16 },     /* RFC 1918 */
	{ { 198, 18, 0, 0 }, 15 },      /* benchmarking */
	{ { 224, 0, 0, 0 }, 4 },        /* multicast */
	{ { 240, 0, 0, 0 }, 4 },        /* reserved */
	{ { 255, 255, 255, 255 }, 32 }, /* limited broadcast */
};

/* The non-public IPv6 networks; the IPv4-compatible forms (::a.b.c.d) of the IPv4 list are
 * added by private6_at(). IPv4-mapped addresses never reach this list (they are judged as
 * IPv4). */
static const struct ip_pfx private6[] = {
	{ { 0 }, 128 },                                              /* :: unspecified */
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128 }, /* ::1 loopback */
	{ { 0xfc }, 7 },                                             /* unique local */
	{ { 0xfe, 0x80 }, 10 },                                      /* link-local */
	{ { 0xff }, 8 },                                             /* multicast */
};

/* ::ffff:0:0/96, the IPv4-mapped block: IPv4 destinations, not part of IPv6's space. */
static const struct ip_pfx mapped6 = { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96 };

enum { N_PRIVATE6 = UM_ARRAY_LEN(private6) + UM_ARRAY_LEN(private4) };

static size_t
n_private(uint8_t family)
{
	return family == EXIT_AF_IPV4 ? UM_ARRAY_LEN(private4) : (size_t)N_PRIVATE6;
}

/* The i-th private prefix of family. */
static struct ip_pfx
private_at(uint8_t family, size_t i)
{
	struct ip_pfx p;

	if (family == EXIT_AF_IPV4)
		return private4[i];
	if (i < UM_ARRAY_LEN(private6))
		return private6[i];
	/* IPv4-compatible form: ::a.b.c.d/(96 + bits). */
	memset(&p, 0, sizeof(p));
	memcpy(p.addr + 12, private4[i - UM_ARRAY_LEN(private6)].addr, 4);
	p.bits = (uint8_t)(96 + private4[i - UM_ARRAY_LEN(private6)].bits);
	return p;
}

static struct ip_iv
pfx_to_iv(const uint8_t *addr, unsigned bits, size_t width)
{
	struct ip_iv iv;

	memset(&iv, 0, sizeof(iv));
	for (size_t i = 0; i < width; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * (unsigned)i : 0;
		uint8_t mask = (uint8_t)(keep == 0 ? 0 : 0xff << (8 - keep));

		iv.lo[i] = addr[i] & mask;
		iv.hi[i] = (uint8_t)(addr[i] | (uint8_t)~mask);
	}
	return iv;
}

static bool
pfx_match(const uint8_t *net, unsigned bits, const uint8_t *addr)
{
	size_t full = bits / 8;
	unsigned rest = bits % 8;

	if (memcmp(net, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* x += 1 within width bytes; false on overflow. */
static bool
iv_inc(uint8_t x[16], size_t width)
{
	for (size_t i = width; i-- > 0;) {
		if (++x[i] != 0)
			return true;
	}
	return false;
}

/* ---- evaluation ---- */

static bool
is_mapped(const uint8_t *addr)
{
	return pfx_match(mapped6.addr, mapped6.bits, addr);
}

static bool
private_match(uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < n_private(family); i++) {
		struct ip_pfx p = private_at(family, i);

		if (pfx_match(p.addr, p.bits, addr))
			return true;
	}
	return false;
}

bool
exit_addr_is_private(uint8_t family, const uint8_t *addr)
{
	if (family == EXIT_AF_IPV6 && is_mapped(addr))
		return private_match(EXIT_AF_IPV4, addr + 12);
	if (family != EXIT_AF_IPV4 && family != EXIT_AF_IPV6)
		return false;
	return private_match(family, addr);
}

static bool
rule_matches_addr(const struct exit_rule *r, uint8_t family, const uint8_t *addr)
{
	switch (r->addr_kind) {
	case EXIT_ADDR_ANY:
		return true;
	case EXIT_ADDR_ANY4:
		return family == EXIT_AF_IPV4;
	case EXIT_ADDR_ANY6:
		return family == EXIT_AF_IPV6;
	case EXIT_ADDR_PRIVATE:
		return private_match(family, addr);
	case EXIT_ADDR_IPV4:
		return family == EXIT_AF_IPV4 && pfx_match(r->addr, r->bits, addr);
	case EXIT_ADDR_IPV6:
		return family == EXIT_AF_IPV6 && pfx_match(r->addr, r->bits, addr);
	default:
		return false;
	}
}

const struct exit_rule *
exit_policy_match(const struct exit_policy *p, uint8_t family, const uint8_t *addr, uint16_t port)
{
	if (port == 0 || (family != EXIT_AF_IPV4 && family != EXIT_AF_IPV6))
		return NULL;
	if (family == EXIT_AF_IPV6 && is_mapped(addr)) {
		family = EXIT_AF_IPV4;
		addr += 12;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct exit_rule *r = &p->rules[i];

		if (port >= r->port_lo && port <= r->port_hi && rule_matches_addr(r, family, addr))
			return r;
	}
	return NULL;
}

bool
exit_policy_allows(const struct exit_policy *p, uint8_t family, const uint8_t *addr, uint16_t port)
{
	const struct exit_rule *r = exit_policy_match(p, family, addr, port);

	return r != NULL && r->accept;
}

void
exit_policy_free_(struct exit_policy *p)
{
	free(p);
}

size_t
exit_policy_n_rules(const struct exit_policy *p)
{
	return p->n_rules;
}

const struct exit_rule *
exit_policy_rule(const struct exit_policy *p, size_t i)
{
	return i < p->n_rules ? &p->rules[i] : NULL;
}

/* ---- interval sets for the summary ---- */

/* A set of intervals sorted by lo (overlaps allowed), with a fixed capacity. */
struct iv_set {
	size_t n, cap;
	struct ip_iv *v;
};

static void
iv_set_add(struct iv_set *s, const struct ip_iv *iv)
{
	size_t i = s->n;

	if (UM_BUG(s->n >= s->cap))
		return;
	while (i > 0 && memcmp(s->v[i - 1].lo, iv->lo, 16) > 0) {
		s->v[i] = s->v[i - 1];
		i--;
	}
	s->v[i] = *iv;
	s->n++;
}

/* Is some point of q outside every interval of s? A sweep from q->lo. */
static bool
iv_minus_nonempty(const struct ip_iv *q, const struct iv_set *s, size_t width)
{
	uint8_t cur[16];

	memcpy(cur, q->lo, 16);
	for (size_t i = 0; i < s->n; i++) {
		const struct ip_iv *c = &s->v[i];

		if (memcmp(c->hi, cur, 16) < 0)
			continue; /* entirely below cur */
		if (memcmp(c->lo, cur, 16) > 0)
			return true; /* cur (<= q->hi) is in a gap */
		if (memcmp(c->hi, q->hi, 16) >= 0)
			return false; /* covered up to the end of q */
		memcpy(cur, c->hi, 16);
		if (!iv_inc(cur, width))
			return false;
	}
	return true;
}

/* The intervals of rule r's address set in family (0, 1 or several). */
static size_t
rule_ivs(const struct exit_rule *r, uint8_t family, struct ip_iv *out, size_t cap)
{
	size_t width = family_width(family), n = 0;
	static const uint8_t zero[16];

	switch (r->addr_kind) {
	case EXIT_ADDR_ANY:
		out[n++] = pfx_to_iv(zero, 0, width);
		break;
	case EXIT_ADDR_ANY4:
	case EXIT_ADDR_IPV4:
		if (family == EXIT_AF_IPV4)
			out[n++] = pfx_to_iv(r->addr, r->addr_kind == EXIT_ADDR_ANY4 ? 0 : r->bits,
			                     width);
		break;
	case EXIT_ADDR_ANY6:
	case EXIT_ADDR_IPV6:
		if (family == EXIT_AF_IPV6)
			out[n++] = pfx_to_iv(r->addr, r->addr_kind == EXIT_ADDR_ANY6 ? 0 : r->bits,
			                     width);
		break;
	case EXIT_ADDR_PRIVATE:
		for (size_t i = 0; i < n_private(family) && n < cap; i++) {
			struct ip_pfx p = private_at(family, i);

			out[n++] = pfx_to_iv(p.addr, p.bits, width);
		}
		break;
	default:
		break;
	}
	return n;
}

/* Intersection of a and b, if not empty (prefix intervals are nested or disjoint, but the
 * code does not rely on it). */
static bool
iv_intersect(const struct ip_iv *a, const struct ip_iv *b, struct ip_iv *out)
{
	const uint8_t *lo = memcmp(a->lo, b->lo, 16) >= 0 ? a->lo : b->lo;
	const uint8_t *hi = memcmp(a->hi, b->hi, 16) <= 0 ? a->hi : b->hi;

	if (memcmp(lo, hi, 16) > 0)
		return false;
	memcpy(out->lo, lo, 16);
	memcpy(out->hi, hi, 16);
	return true;
}

/*
 * Is there an address of family in the target set (public: outside the private list;
 * private: inside it) whose first matching rule at port is accept?
 */
static bool
port_accepts(const struct exit_policy *p, uint8_t family, uint16_t port, bool private_target,
             struct iv_set *covered)
{
	size_t width = family_width(family), npriv = n_private(family);
	struct ip_iv ivs[N_PRIVATE6], priv[N_PRIVATE6];

	covered->n = 0;
	/* Mapped addresses are IPv4 destinations: never part of the IPv6 space. */
	if (family == EXIT_AF_IPV6) {
		struct ip_iv m = pfx_to_iv(mapped6.addr, mapped6.bits, width);

		iv_set_add(covered, &m);
	}
	for (size_t i = 0; i < npriv; i++) {
		struct ip_pfx pp = private_at(family, i);

		priv[i] = pfx_to_iv(pp.addr, pp.bits, width);
		if (!private_target)
			iv_set_add(covered, &priv[i]);
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct exit_rule *r = &p->rules[i];
		size_t n;

		if (port < r->port_lo || port > r->port_hi)
			continue;
		n = rule_ivs(r, family, ivs, UM_ARRAY_LEN(ivs));
		/* A wildcard rule decides private addresses too but never accepts one (the
		 * exit's rule, exit_conn.h): only explicit rules reach private targets. */
		if (r->accept && !(private_target && (r->addr_kind == EXIT_ADDR_ANY ||
		                                      r->addr_kind == EXIT_ADDR_ANY4 ||
		                                      r->addr_kind == EXIT_ADDR_ANY6))) {
			for (size_t j = 0; j < n; j++) {
				if (!private_target) {
					if (iv_minus_nonempty(&ivs[j], covered, width))
						return true;
					continue;
				}
				for (size_t k = 0; k < npriv; k++) {
					struct ip_iv x;

					if (iv_intersect(&ivs[j], &priv[k], &x) &&
					    iv_minus_nonempty(&x, covered, width))
						return true;
				}
			}
		}
		/* A "private" rule adds the same intervals each time: once is enough. */
		for (size_t j = 0; j < n; j++) {
			if (iv_minus_nonempty(&ivs[j], covered, width))
				iv_set_add(covered, &ivs[j]);
		}
	}
	return false;
}

static struct iv_set
iv_set_new(const struct exit_policy *p)
{
	struct iv_set s;

	/* The mapped block, the private list, and at most that many per rule. */
	s.n = 0;
	s.cap = 1 + N_PRIVATE6 + p->n_rules * N_PRIVATE6;
	s.v = um_xcalloc(s.cap, sizeof(*s.v));
	return s;
}

bool
exit_policy_may_accept_port(const struct exit_policy *p, uint16_t port)
{
	struct iv_set s;
	bool ok;

	if (port == 0)
		return false;
	s = iv_set_new(p);
	ok = port_accepts(p, EXIT_AF_IPV4, port, false, &s) ||
	     port_accepts(p, EXIT_AF_IPV6, port, false, &s);
	free(s.v);
	return ok;
}

/* ---- summary ---- */

/*
 * The start ports of the groups of ports that see the same rules: 1 and every lo and hi + 1,
 * sorted, distinct, <= 65535. Returns the count (<= 2 * n_rules + 1).
 */
static size_t
port_groups(const struct exit_policy *p, uint32_t *starts)
{
	size_t n = 0;

	starts[n++] = 1;
	for (size_t i = 0; i < p->n_rules; i++) {
		starts[n++] = p->rules[i].port_lo;
		starts[n++] = (uint32_t)p->rules[i].port_hi + 1;
	}
	/* Insertion sort, then drop duplicates and 65536. */
	for (size_t i = 1; i < n; i++) {
		uint32_t x = starts[i];
		size_t j = i;

		while (j > 0 && starts[j - 1] > x) {
			starts[j] = starts[j - 1];
			j--;
		}
		starts[j] = x;
	}
	{
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			if (starts[i] > 65535 || (m > 0 && starts[m - 1] == starts[i]))
				continue;
			starts[m++] = starts[i];
		}
		n = m;
	}
	return n;
}

struct port_ranges {
	size_t n;
	struct relay_port_range *r; /* sorted, disjoint, not adjacent */
};

static void
ranges_add(struct port_ranges *pr, uint32_t lo, uint32_t hi)
{
	if (pr->n > 0 && (uint32_t)pr->r[pr->n - 1].hi + 1 == lo) {
		pr->r[pr->n - 1].hi = (uint16_t)hi;
		return;
	}
	pr->r[pr->n].lo = (uint16_t)lo;
	pr->r[pr->n].hi = (uint16_t)hi;
	pr->n++;
}

/* Ranges needed by the reject form of the accepted set acc. */
static size_t
reject_count(const struct port_ranges *acc)
{
	size_t n = acc->n + 1;

	if (acc->n > 0 && acc->r[0].lo == 1)
		n--;
	if (acc->n > 0 && acc->r[acc->n - 1].hi == 65535)
		n--;
	return n;
}

/* Fill out from the accepted ranges: the shorter form, then normalize. */
static int
to_relay_policy(struct port_ranges *acc, struct relay_policy *out)
{
	/* Too many ranges either way: drop the smallest accepted range (the last on a tie). */
	while (acc->n > RELAY_DESC_MAX_PORT_RANGES &&
	       reject_count(acc) > RELAY_DESC_MAX_PORT_RANGES) {
		size_t k = 0;

		for (size_t i = 1; i < acc->n; i++) {
			if (acc->r[i].hi - acc->r[i].lo <= acc->r[k].hi - acc->r[k].lo)
				k = i;
		}
		memmove(&acc->r[k], &acc->r[k + 1], (acc->n - k - 1) * sizeof(acc->r[0]));
		acc->n--;
	}
	memset(out, 0, sizeof(*out));
	if (acc->n <= RELAY_DESC_MAX_PORT_RANGES) {
		out->kind = RELAY_POLICY_ACCEPT;
		out->n_ranges = (uint8_t)acc->n;
		memcpy(out->r, acc->r, acc->n * sizeof(acc->r[0]));
	} else {
		uint32_t next = 1;

		out->kind = RELAY_POLICY_REJECT;
		for (size_t i = 0; i < acc->n; i++) {
			if (acc->r[i].lo > next) {
				out->r[out->n_ranges].lo = (uint16_t)next;
				out->r[out->n_ranges].hi = (uint16_t)(acc->r[i].lo - 1);
				out->n_ranges++;
			}
			next = (uint32_t)acc->r[i].hi + 1;
		}
		if (next <= 65535) {
			out->r[out->n_ranges].lo = (uint16_t)next;
			out->r[out->n_ranges].hi = 65535;
			out->n_ranges++;
		}
	}
	return relay_policy_normalize(out);
}

int
exit_policy_summarize(const struct exit_policy *p, struct relay_policy *policy4,
                      struct relay_policy *policy6, uint8_t *exit_flags)
{
	uint32_t *starts = um_xcalloc(2 * p->n_rules + 1, sizeof(*starts));
	struct port_ranges acc4 = { 0, NULL }, acc6 = { 0, NULL };
	struct iv_set s = iv_set_new(p);
	size_t ng = port_groups(p, starts);
	bool private_ok = false;
	int ret = UM_ERR_INTERNAL;

	acc4.r = um_xcalloc(ng, sizeof(*acc4.r));
	acc6.r = um_xcalloc(ng, sizeof(*acc6.r));
	for (size_t g = 0; g < ng; g++) {
		uint32_t lo = starts[g], hi = g + 1 < ng ? starts[g + 1] - 1 : 65535;
		uint16_t port = (uint16_t)lo;

		if (port_accepts(p, EXIT_AF_IPV4, port, false, &s))
			ranges_add(&acc4, lo, hi);
		if (port_accepts(p, EXIT_AF_IPV6, port, false, &s))
			ranges_add(&acc6, lo, hi);
		private_ok = private_ok || port_accepts(p, EXIT_AF_IPV4, port, true, &s) ||
		             port_accepts(p, EXIT_AF_IPV6, port, true, &s);
	}
	if ((ret = to_relay_policy(&acc4, policy4)) != UM_OK ||
	    (ret = to_relay_policy(&acc6, policy6)) != UM_OK)
		goto out;
	*exit_flags = private_ok ? 0 : RELAY_EXIT_F_REJECT_PRIVATE;
	ret = UM_OK;
out:
	free(acc4.r);
	free(acc6.r);
	free(s.v);
	free(starts);
	return ret;
}
