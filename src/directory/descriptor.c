/* SPDX-License-Identifier: MIT */
/*
 * Relay descriptors: signature, verification, digest, and the field rules the parser and the
 * descriptor builder share (the wire side is in descriptor_parse.c).
 */
#include "directory/descriptor.h"

#include <string.h>

#include "lib/err.h"
#include "crypto/hash.h"
#include "link/handshake.h"

static const char desc_label[RELAY_DESC_LABEL_LEN] = "umbra-relaydesc-v1"; /* with its NUL */
static const char opcert_label[17] = "umbra-relayop-v1";                   /* with its NUL */

/*
 * Encode d after the signature label into buf (RELAY_DESC_LABEL_LEN + RELAY_DESC_MAX_LEN
 * bytes); *len is the descriptor's encoded length. The signed message is then buf[0 ..
 * LABEL_LEN + *len - SIG_LEN].
 */
static int
encode_labelled(const struct relay_desc *d, uint8_t *buf, size_t *len)
{
	struct wire_wr w;
	int ret;

	memcpy(buf, desc_label, RELAY_DESC_LABEL_LEN);
	wire_wr_init(&w, buf + RELAY_DESC_LABEL_LEN, RELAY_DESC_MAX_LEN);
	if ((ret = relay_desc_encode(d, &w)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
	*len = w.len;
	return UM_OK;
}

int
relay_desc_sign(struct relay_desc *d, const struct keys_ed25519 *k)
{
	uint8_t buf[RELAY_DESC_LABEL_LEN + RELAY_DESC_MAX_LEN];
	size_t len = 0;
	int ret;

	if (k->sk == NULL || memcmp(k->pk, d->identity, RELAY_DESC_ID_LEN) != 0)
		return UM_ERR_INVALID;
	if ((ret = encode_labelled(d, buf, &len)) != UM_OK)
		return ret;
	sign_ed25519(k, buf, RELAY_DESC_LABEL_LEN + len - RELAY_DESC_SIG_LEN, d->sig);
	return UM_OK;
}

void
relay_opcert_msg(uint8_t out[RELAY_OPCERT_MSG_LEN], const uint8_t operator_id[32],
                 const uint8_t identity[32], uint64_t expires_s)
{
	memcpy(out, opcert_label, sizeof(opcert_label));
	memcpy(out + sizeof(opcert_label), operator_id, RELAY_DESC_ID_LEN);
	memcpy(out + sizeof(opcert_label) + RELAY_DESC_ID_LEN, identity, RELAY_DESC_ID_LEN);
	wire_store_u64(out + sizeof(opcert_label) + 2 * RELAY_DESC_ID_LEN, expires_s);
}

void
relay_desc_sign_operator(struct relay_desc *d, const struct keys_ed25519 *op, uint64_t expires_s)
{
	uint8_t msg[RELAY_OPCERT_MSG_LEN];

	memcpy(d->operator_id, op->pk, RELAY_DESC_ID_LEN);
	d->has_operator_cert = true;
	d->operator_cert_expires_s = expires_s;
	relay_opcert_msg(msg, d->operator_id, d->identity, expires_s);
	sign_ed25519(op, msg, sizeof(msg), d->operator_cert_sig);
}

int
relay_desc_verify(const struct relay_desc *d, const uint8_t *encoded, size_t len, uint64_t now_s)
{
	uint8_t buf[RELAY_DESC_LABEL_LEN + RELAY_DESC_MAX_LEN];
	uint8_t opmsg[RELAY_OPCERT_MSG_LEN];
	size_t n = 0;
	int ret;

	/* Size and binding: d must be exactly what encoded says, byte for byte. */
	if (len > RELAY_DESC_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	if (encode_labelled(d, buf, &n) != UM_OK)
		return UM_ERR_MALFORMED;
	if (len < n || memcmp(buf + RELAY_DESC_LABEL_LEN, encoded, n) != 0)
		return UM_ERR_MALFORMED;
	if (len > n)
		return UM_ERR_TRAILING;

	/* Time: not from the future (beyond the allowed skew), not expired. */
	if (d->published_s > now_s && d->published_s - now_s > RELAY_DESC_CLOCK_SKEW_S)
		return UM_ERR_EXPIRED;
	if (d->expires_s <= now_s || d->link_cert_expires_s <= now_s)
		return UM_ERR_EXPIRED;
	if (d->has_operator_cert && d->operator_cert_expires_s <= now_s)
		return UM_ERR_EXPIRED;

	/* Signatures: the descriptor, then the certificates. */
	if ((ret = sign_ed25519_verify(d->identity, buf,
	                               RELAY_DESC_LABEL_LEN + n - RELAY_DESC_SIG_LEN, d->sig)) !=
	    UM_OK)
		return UM_ERR_AUTH;
	ret = link_cert_verify(NULL, d->identity, d->link_key, d->link_cert_expires_s,
	                       d->link_cert_sig, now_s);
	if (ret != UM_OK)
		return ret == UM_ERR_EXPIRED ? UM_ERR_EXPIRED : UM_ERR_AUTH;
	if (d->has_operator_cert) {
		relay_opcert_msg(opmsg, d->operator_id, d->identity, d->operator_cert_expires_s);
		if (sign_ed25519_verify(d->operator_id, opmsg, sizeof(opmsg),
		                        d->operator_cert_sig) != UM_OK)
			return UM_ERR_AUTH;
	}
	return UM_OK;
}

int
relay_desc_parse_verify(const uint8_t *in, size_t len, uint64_t now_s, struct relay_desc *out)
{
	struct relay_desc d;
	ssize_t n;
	int ret;

	if (len > RELAY_DESC_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	n = relay_desc_parse(in, len, &d);
	if (n < 0)
		return (int)n;
	if ((size_t)n != len)
		return UM_ERR_TRAILING;
	if ((ret = relay_desc_verify(&d, in, len, now_s)) != UM_OK)
		return ret;
	*out = d;
	return UM_OK;
}

void
relay_desc_digest(const uint8_t *encoded, size_t len, uint8_t out[RELAY_DESC_DIGEST_LEN])
{
	hash_blake2b(out, RELAY_DESC_DIGEST_LEN, encoded, len, NULL, 0);
}

bool
relay_desc_nickname_is_valid(const char *s, size_t len)
{
	if (len < 1 || len > RELAY_DESC_NICKNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

bool
relay_desc_region_is_valid(const char *s, size_t len)
{
	if (len > RELAY_DESC_REGION_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

bool
relay_desc_text_is_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

bool
relay_desc_country_is_valid(const char *s, size_t len)
{
	return len == RELAY_DESC_COUNTRY_LEN && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
	       s[1] <= 'Z';
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

bool
relay_addr_is_valid(const struct relay_addr *a)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->port == 0)
		return false;
	switch (a->type) {
	case RELAY_ADDR_IPV4:
		return !all_zero(a->addr, RELAY_DESC_IPV4_LEN) &&
		       all_zero(a->addr + RELAY_DESC_IPV4_LEN,
		                RELAY_DESC_IPV6_LEN - RELAY_DESC_IPV4_LEN);
	case RELAY_ADDR_IPV6:
		/* Not ::, and an IPv4 address is sent as IPv4, never as ::ffff:a.b.c.d. */
		return !all_zero(a->addr, RELAY_DESC_IPV6_LEN) &&
		       memcmp(a->addr, v4mapped, sizeof(v4mapped)) != 0;
	default:
		return false;
	}
}

int
relay_addr_cmp(const struct relay_addr *a, const struct relay_addr *b)
{
	int c;

	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, sizeof(a->addr))) != 0)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

/* Number of ranges in the complement (within 1..65535) of sorted, merged ranges. */
static size_t
complement_count(const struct relay_port_range *r, size_t n)
{
	size_t c = n + 1;

	if (n == 0)
		return 1;
	if (r[0].lo == 1)
		c--;
	if (r[n - 1].hi == 65535)
		c--;
	return c;
}

/* Write the complement of sorted, merged ranges into out (room for n + 1); returns count. */
static size_t
complement(const struct relay_port_range *r, size_t n, struct relay_port_range *out)
{
	uint32_t next = 1; /* first port not yet covered */
	size_t c = 0;

	for (size_t i = 0; i < n; i++) {
		if (r[i].lo > next)
			out[c++] = (struct relay_port_range){ (uint16_t)next,
				                              (uint16_t)(r[i].lo - 1) };
		next = (uint32_t)r[i].hi + 1;
	}
	if (next <= 65535)
		out[c++] = (struct relay_port_range){ (uint16_t)next, 65535 };
	return c;
}

bool
relay_policy_is_canonical(const struct relay_policy *p)
{
	size_t n = p->n_ranges;
	size_t other;

	if (p->kind != RELAY_POLICY_ACCEPT && p->kind != RELAY_POLICY_REJECT)
		return false;
	if (n > RELAY_DESC_MAX_PORT_RANGES)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p->r[i].lo == 0 || p->r[i].hi < p->r[i].lo)
			return false;
		if (i > 0 && (uint32_t)p->r[i].lo <= (uint32_t)p->r[i - 1].hi + 1)
			return false;
	}
	other = complement_count(p->r, n);
	return p->kind == RELAY_POLICY_ACCEPT ? n <= other : n < other;
}

int
relay_policy_normalize(struct relay_policy *p)
{
	struct relay_port_range sorted[RELAY_DESC_MAX_PORT_RANGES];
	struct relay_port_range acc[RELAY_DESC_MAX_PORT_RANGES + 1];
	struct relay_port_range rej[RELAY_DESC_MAX_PORT_RANGES + 1];
	size_t n = p->n_ranges, m = 0, n_acc, n_rej;

	if ((p->kind != RELAY_POLICY_ACCEPT && p->kind != RELAY_POLICY_REJECT) ||
	    n > RELAY_DESC_MAX_PORT_RANGES)
		return UM_ERR_INVALID;
	/* Insertion sort by lo (n <= 32), then merge overlapping or adjacent ranges. */
	for (size_t i = 0; i < n; i++) {
		struct relay_port_range x = p->r[i];
		size_t j = i;

		if (x.lo == 0 || x.hi < x.lo)
			return UM_ERR_INVALID;
		while (j > 0 && sorted[j - 1].lo > x.lo) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = x;
	}
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && (uint32_t)sorted[i].lo <= (uint32_t)sorted[m - 1].hi + 1) {
			if (sorted[i].hi > sorted[m - 1].hi)
				sorted[m - 1].hi = sorted[i].hi;
		} else {
			sorted[m++] = sorted[i];
		}
	}
	/* The accepted set in both forms; keep the shorter, accept on a tie. */
	if (p->kind == RELAY_POLICY_ACCEPT) {
		memcpy(acc, sorted, m * sizeof(sorted[0]));
		n_acc = m;
		n_rej = complement(sorted, m, rej);
	} else {
		memcpy(rej, sorted, m * sizeof(sorted[0]));
		n_rej = m;
		n_acc = complement(sorted, m, acc);
	}
	memset(p->r, 0, sizeof(p->r));
	if (n_acc <= n_rej) {
		p->kind = RELAY_POLICY_ACCEPT;
		p->n_ranges = (uint8_t)n_acc;
		memcpy(p->r, acc, n_acc * sizeof(acc[0]));
	} else {
		p->kind = RELAY_POLICY_REJECT;
		p->n_ranges = (uint8_t)n_rej;
		memcpy(p->r, rej, n_rej * sizeof(rej[0]));
	}
	return UM_OK;
}

bool
relay_policy_allows_port(const struct relay_policy *p, uint16_t port)
{
	bool listed = false;
	size_t n = UM_MIN(p->n_ranges, (size_t)RELAY_DESC_MAX_PORT_RANGES);

	if (port == 0)
		return false;
	for (size_t i = 0; i < n && !listed; i++)
		listed = port >= p->r[i].lo && port <= p->r[i].hi;
	switch (p->kind) {
	case RELAY_POLICY_ACCEPT:
		return listed;
	case RELAY_POLICY_REJECT:
		return !listed;
	default:
		return false;
	}
}
