/* SPDX-License-Identifier: MIT */
/*
 * Consensus parameters and relay entries: parse and encode (docs/PROTOCOL.md 5.2). Trunnel
 * style, as descriptor_parse.c: one field per statement, each value checked as soon as it
 * is read and each cross-field rule once its later field is read, so every strict prefix of
 * a valid entry is UM_ERR_TRUNCATED. Field rules are the descriptor's (descriptor.h). The
 * encoders parse their own output back, so nothing that breaks a rule is ever written.
 */
#include "directory/relay_entry.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

bool
dir_param_name_is_valid(const char *s, size_t len)
{
	if (len < 1 || len > DIR_PARAM_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int
dir_param_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, UM_MIN(alen, blen));

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int
dir_params_parse(struct wire_rd *r, struct dir_params *out)
{
	struct dir_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	if ((ret = wire_get_u8(r, &p.n)) != UM_OK)
		return ret;
	if (p.n > DIR_PARAMS_MAX)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < p.n; i++) {
		const uint8_t *v;
		size_t n;

		if ((ret = wire_get_lv8(r, DIR_PARAM_NAME_MAX, &v, &n)) != UM_OK)
			return ret == UM_ERR_TOO_LARGE ? UM_ERR_MALFORMED : ret;
		if (!dir_param_name_is_valid((const char *)v, n))
			return UM_ERR_MALFORMED;
		memcpy(p.p[i].name, v, n);
		p.p[i].name[n] = '\0';
		/* Strictly ascending: sorted and distinct. */
		if (i > 0 && dir_param_name_cmp(p.p[i - 1].name, strlen(p.p[i - 1].name),
		                                p.p[i].name, n) >= 0)
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_u32(r, &p.p[i].value)) != UM_OK)
			return ret;
	}
	*out = p;
	return UM_OK;
}

size_t
dir_params_encoded_len(const struct dir_params *p)
{
	size_t n = 1;

	for (size_t i = 0; i < p->n && i < DIR_PARAMS_MAX; i++)
		n += 1 + strnlen(p->p[i].name, DIR_PARAM_NAME_MAX + 1) + 4;
	return n;
}

int
dir_params_encode(const struct dir_params *p, struct wire_wr *w)
{
	size_t start = w->len;
	int ret = UM_OK;

	if (p->n > DIR_PARAMS_MAX)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, p->n)) != UM_OK)
		return ret;
	for (size_t i = 0; i < p->n; i++) {
		size_t n = strnlen(p->p[i].name, DIR_PARAM_NAME_MAX + 1);

		if (!dir_param_name_is_valid(p->p[i].name, n) ||
		    (i > 0 && dir_param_name_cmp(p->p[i - 1].name, strlen(p->p[i - 1].name),
		                                 p->p[i].name, n) >= 0)) {
			ret = UM_ERR_INVALID;
			break;
		}
		if ((ret = wire_put_lv8(w, p->p[i].name, n)) != UM_OK ||
		    (ret = wire_put_u32(w, p->p[i].value)) != UM_OK)
			break;
	}
	if (ret != UM_OK)
		w->len = start;
	return ret;
}

/* A length-prefixed (u8) text field of min..max bytes that passes valid(); NUL-terminated. */
static int
get_text(struct wire_rd *r, size_t min, size_t max, bool (*valid)(const char *, size_t), char *dst)
{
	const uint8_t *v;
	size_t n;
	int ret;

	if ((ret = wire_get_lv8(r, max, &v, &n)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_MALFORMED : ret;
	if (n < min || !valid((const char *)v, n))
		return UM_ERR_MALFORMED;
	if (n > 0)
		memcpy(dst, v, n);
	dst[n] = '\0';
	return UM_OK;
}

static int
get_addr(struct wire_rd *r, struct relay_addr *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	if ((ret = wire_get_u8(r, &a->type)) != UM_OK)
		return ret;
	switch (a->type) {
	case RELAY_ADDR_IPV4:
		ret = wire_get_bytes(r, a->addr, RELAY_DESC_IPV4_LEN);
		break;
	case RELAY_ADDR_IPV6:
		ret = wire_get_bytes(r, a->addr, RELAY_DESC_IPV6_LEN);
		break;
	default:
		return UM_ERR_MALFORMED;
	}
	if (ret != UM_OK)
		return ret;
	if ((ret = wire_get_u16(r, &a->port)) != UM_OK)
		return ret;
	return relay_addr_is_valid(a) ? UM_OK : UM_ERR_MALFORMED;
}

static int
get_policy(struct wire_rd *r, struct relay_policy *p)
{
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = wire_get_u8(r, &p->kind)) != UM_OK)
		return ret;
	if (p->kind != RELAY_POLICY_ACCEPT && p->kind != RELAY_POLICY_REJECT)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(r, &p->n_ranges)) != UM_OK)
		return ret;
	if (p->n_ranges > RELAY_DESC_MAX_PORT_RANGES)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < p->n_ranges; i++) {
		struct relay_port_range *pr = &p->r[i];

		if ((ret = wire_get_u16(r, &pr->lo)) != UM_OK)
			return ret;
		if (pr->lo == 0 || (i > 0 && (uint32_t)pr->lo <= (uint32_t)p->r[i - 1].hi + 1))
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_u16(r, &pr->hi)) != UM_OK)
			return ret;
		if (pr->hi < pr->lo)
			return UM_ERR_MALFORMED;
	}
	return relay_policy_is_canonical(p) ? UM_OK : UM_ERR_MALFORMED;
}

static bool
policy_is_reject_all(const struct relay_policy *p)
{
	return p->kind == RELAY_POLICY_ACCEPT && p->n_ranges == 0;
}

static int
get_score(struct wire_rd *r, uint16_t *v)
{
	int ret;

	if ((ret = wire_get_u16(r, v)) != UM_OK)
		return ret;
	return *v > RELAY_DESC_SCORE_MAX ? UM_ERR_MALFORMED : UM_OK;
}

int
relay_entry_parse(struct wire_rd *r, struct relay_entry *e)
{
	uint8_t country[RELAY_DESC_COUNTRY_LEN];
	int ret;

	if ((ret = wire_get_bytes(r, e->identity, RELAY_DESC_ID_LEN)) != UM_OK ||
	    (ret = wire_get_bytes(r, e->desc_digest, RELAY_DESC_DIGEST_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_get_u16(r, &e->flags)) != UM_OK)
		return ret;
	if ((e->flags & ~RELAY_FLAG_ALL) != 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u32(r, &e->measured_bw)) != UM_OK)
		return ret;
	if ((ret = get_text(r, 1, RELAY_DESC_NICKNAME_MAX, relay_desc_nickname_is_valid,
	                    e->nickname)) != UM_OK)
		return ret;
	if ((ret = wire_get_u8(r, &e->roles)) != UM_OK)
		return ret;
	if (e->roles == 0 || (e->roles & ~RELAY_ROLE_ALL) != 0)
		return UM_ERR_MALFORMED;
	/* A flag needs the role it qualifies (an exit flag on a non-exit means nothing). */
	if (relay_entry_mask_flags(e->flags, e->roles) != e->flags)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(r, e->link_key, RELAY_DESC_KEY_LEN)) != UM_OK ||
	    (ret = wire_get_bytes(r, e->onion_key, RELAY_DESC_KEY_LEN)) != UM_OK)
		return ret;

	if ((ret = wire_get_u8(r, &e->n_addrs)) != UM_OK)
		return ret;
	if (e->n_addrs == 0 || e->n_addrs > RELAY_DESC_MAX_ADDRS)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < e->n_addrs; i++) {
		if ((ret = get_addr(r, &e->addrs[i])) != UM_OK)
			return ret;
		if (i > 0 && relay_addr_cmp(&e->addrs[i - 1], &e->addrs[i]) >= 0)
			return UM_ERR_MALFORMED;
	}

	/* Exit policy, with the descriptor's rules (PROTOCOL.md 4.2). */
	if ((ret = wire_get_u8(r, &e->exit_flags)) != UM_OK)
		return ret;
	if ((e->exit_flags & ~RELAY_EXIT_F_ALL) != 0 ||
	    ((e->roles & RELAY_ROLE_EXIT) == 0 && e->exit_flags != 0))
		return UM_ERR_MALFORMED;
	if ((ret = get_policy(r, &e->policy4)) != UM_OK)
		return ret;
	if ((e->roles & RELAY_ROLE_EXIT) == 0 && !policy_is_reject_all(&e->policy4))
		return UM_ERR_MALFORMED;
	if ((ret = get_policy(r, &e->policy6)) != UM_OK)
		return ret;
	if ((e->roles & RELAY_ROLE_EXIT) == 0 && !policy_is_reject_all(&e->policy6))
		return UM_ERR_MALFORMED;
	if ((e->roles & RELAY_ROLE_EXIT) != 0 && policy_is_reject_all(&e->policy4) &&
	    policy_is_reject_all(&e->policy6))
		return UM_ERR_MALFORMED;

	if ((ret = wire_get_bytes(r, e->operator_id, RELAY_DESC_ID_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_get_bytes(r, country, RELAY_DESC_COUNTRY_LEN)) != UM_OK)
		return ret;
	if (!relay_desc_country_is_valid((const char *)country, sizeof(country)))
		return UM_ERR_MALFORMED;
	memcpy(e->country, country, RELAY_DESC_COUNTRY_LEN);
	e->country[RELAY_DESC_COUNTRY_LEN] = '\0';
	if ((ret = get_text(r, 0, RELAY_DESC_REGION_MAX, relay_desc_region_is_valid, e->region)) !=
	    UM_OK)
		return ret;
	if ((ret = wire_get_u8(r, &e->geo_confidence)) != UM_OK)
		return ret;
	if (e->geo_confidence > RELAY_DESC_GEO_CONF_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = get_score(r, &e->scores.reputation)) != UM_OK ||
	    (ret = get_score(r, &e->scores.uptime)) != UM_OK ||
	    (ret = get_score(r, &e->scores.capacity)) != UM_OK ||
	    (ret = get_score(r, &e->scores.abuse_penalty)) != UM_OK ||
	    (ret = get_score(r, &e->scores.bond)) != UM_OK ||
	    (ret = get_score(r, &e->scores.stake)) != UM_OK)
		return ret;

	if ((ret = wire_get_u8(r, &e->n_family)) != UM_OK)
		return ret;
	if (e->n_family > RELAY_DESC_MAX_FAMILY)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < e->n_family; i++) {
		if ((ret = wire_get_bytes(r, e->family[i], RELAY_DESC_ID_LEN)) != UM_OK)
			return ret;
		if (memcmp(e->family[i], e->identity, RELAY_DESC_ID_LEN) == 0 ||
		    (i > 0 && memcmp(e->family[i - 1], e->family[i], RELAY_DESC_ID_LEN) >= 0))
			return UM_ERR_MALFORMED;
	}
	return UM_OK;
}

static size_t
policy_len(const struct relay_policy *p)
{
	return 2 + 4 * (size_t)p->n_ranges;
}

size_t
relay_entry_encoded_len(const struct relay_entry *e)
{
	size_t n = RELAY_ENTRY_MIN_LEN - (1 + 1) - (1 + 7) - 2 - 2 - 1;

	if (e->n_addrs > RELAY_DESC_MAX_ADDRS || e->n_family > RELAY_DESC_MAX_FAMILY ||
	    e->policy4.n_ranges > RELAY_DESC_MAX_PORT_RANGES ||
	    e->policy6.n_ranges > RELAY_DESC_MAX_PORT_RANGES)
		return 0;
	n += 1 + strnlen(e->nickname, RELAY_DESC_NICKNAME_MAX + 1);
	n += 1;
	for (size_t i = 0; i < e->n_addrs; i++)
		n += e->addrs[i].type == RELAY_ADDR_IPV4 ? 1 + RELAY_DESC_IPV4_LEN + 2
		                                         : 1 + RELAY_DESC_IPV6_LEN + 2;
	n += policy_len(&e->policy4) + policy_len(&e->policy6);
	n += 1 + strnlen(e->region, RELAY_DESC_REGION_MAX + 1);
	n += (size_t)e->n_family * RELAY_DESC_ID_LEN;
	return n;
}

static int
put_text(struct wire_wr *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return UM_ERR_INVALID;
	return wire_put_lv8(w, s, n);
}

static int
put_policy(struct wire_wr *w, const struct relay_policy *p)
{
	int ret;

	if (p->n_ranges > RELAY_DESC_MAX_PORT_RANGES)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, p->kind)) != UM_OK ||
	    (ret = wire_put_u8(w, p->n_ranges)) != UM_OK)
		return ret;
	for (size_t i = 0; i < p->n_ranges; i++) {
		if ((ret = wire_put_u16(w, p->r[i].lo)) != UM_OK ||
		    (ret = wire_put_u16(w, p->r[i].hi)) != UM_OK)
			return ret;
	}
	return UM_OK;
}

static int
encode_fields(const struct relay_entry *e, struct wire_wr *w)
{
	int ret;

	if (e->n_addrs > RELAY_DESC_MAX_ADDRS || e->n_family > RELAY_DESC_MAX_FAMILY ||
	    strnlen(e->country, sizeof(e->country)) != RELAY_DESC_COUNTRY_LEN)
		return UM_ERR_INVALID;
	if ((ret = wire_put_bytes(w, e->identity, RELAY_DESC_ID_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, e->desc_digest, RELAY_DESC_DIGEST_LEN)) != UM_OK ||
	    (ret = wire_put_u16(w, e->flags)) != UM_OK ||
	    (ret = wire_put_u32(w, e->measured_bw)) != UM_OK ||
	    (ret = put_text(w, e->nickname, RELAY_DESC_NICKNAME_MAX)) != UM_OK ||
	    (ret = wire_put_u8(w, e->roles)) != UM_OK ||
	    (ret = wire_put_bytes(w, e->link_key, RELAY_DESC_KEY_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, e->onion_key, RELAY_DESC_KEY_LEN)) != UM_OK ||
	    (ret = wire_put_u8(w, e->n_addrs)) != UM_OK)
		return ret;
	for (size_t i = 0; i < e->n_addrs; i++) {
		const struct relay_addr *a = &e->addrs[i];
		size_t alen =
		        a->type == RELAY_ADDR_IPV4 ? RELAY_DESC_IPV4_LEN : RELAY_DESC_IPV6_LEN;

		if (a->type != RELAY_ADDR_IPV4 && a->type != RELAY_ADDR_IPV6)
			return UM_ERR_INVALID;
		if ((ret = wire_put_u8(w, a->type)) != UM_OK ||
		    (ret = wire_put_bytes(w, a->addr, alen)) != UM_OK ||
		    (ret = wire_put_u16(w, a->port)) != UM_OK)
			return ret;
	}
	if ((ret = wire_put_u8(w, e->exit_flags)) != UM_OK ||
	    (ret = put_policy(w, &e->policy4)) != UM_OK ||
	    (ret = put_policy(w, &e->policy6)) != UM_OK ||
	    (ret = wire_put_bytes(w, e->operator_id, RELAY_DESC_ID_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, e->country, RELAY_DESC_COUNTRY_LEN)) != UM_OK ||
	    (ret = put_text(w, e->region, RELAY_DESC_REGION_MAX)) != UM_OK ||
	    (ret = wire_put_u8(w, e->geo_confidence)) != UM_OK ||
	    (ret = wire_put_u16(w, e->scores.reputation)) != UM_OK ||
	    (ret = wire_put_u16(w, e->scores.uptime)) != UM_OK ||
	    (ret = wire_put_u16(w, e->scores.capacity)) != UM_OK ||
	    (ret = wire_put_u16(w, e->scores.abuse_penalty)) != UM_OK ||
	    (ret = wire_put_u16(w, e->scores.bond)) != UM_OK ||
	    (ret = wire_put_u16(w, e->scores.stake)) != UM_OK ||
	    (ret = wire_put_u8(w, e->n_family)) != UM_OK)
		return ret;
	for (size_t i = 0; i < e->n_family; i++) {
		if ((ret = wire_put_bytes(w, e->family[i], RELAY_DESC_ID_LEN)) != UM_OK)
			return ret;
	}
	return UM_OK;
}

int
relay_entry_encode(const struct relay_entry *e, struct wire_wr *w)
{
	struct relay_entry back;
	struct wire_rd r;
	size_t start = w->len;
	int ret;

	if ((ret = encode_fields(e, w)) != UM_OK) {
		w->len = start;
		return ret;
	}
	/* The parser holds every rule: what it does not take back exactly, we must not write. */
	wire_rd_init(&r, w->p + start, w->len - start);
	if (relay_entry_parse(&r, &back) != UM_OK || wire_expect_end(&r) != UM_OK) {
		w->len = start;
		return UM_ERR_INVALID;
	}
	return UM_OK;
}

bool
dir_period_is_valid(uint64_t valid_after, uint64_t fresh_until, uint64_t valid_until)
{
	return valid_after < fresh_until && fresh_until < valid_until &&
	       valid_until - valid_after <= CONS_LIFETIME_MAX_S;
}

int
relay_entries_parse(struct wire_rd *r, struct relay_entry **out, size_t *n_out)
{
	struct relay_entry *e = NULL;
	uint32_t n;
	int ret;

	if ((ret = wire_get_u32(r, &n)) != UM_OK)
		return ret;
	if (n > CONS_MAX_RELAYS)
		return UM_ERR_MALFORMED;
	/* Refuse to allocate for bytes that are not there (a prefix is TRUNCATED anyway). */
	if ((size_t)n > wire_rd_left(r) / RELAY_ENTRY_MIN_LEN)
		return UM_ERR_TRUNCATED;
	if (n > 0)
		e = um_xcalloc(n, sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		if ((ret = relay_entry_parse(r, &e[i])) != UM_OK)
			goto fail;
		if (i > 0 && memcmp(e[i - 1].identity, e[i].identity, RELAY_DESC_ID_LEN) >= 0) {
			ret = UM_ERR_MALFORMED;
			goto fail;
		}
	}
	*out = e;
	*n_out = n;
	return UM_OK;
fail:
	free(e);
	return ret;
}

size_t
relay_entries_encoded_len(const struct relay_entry *e, size_t n)
{
	size_t total = 4;

	for (size_t i = 0; i < n; i++) {
		size_t one = relay_entry_encoded_len(&e[i]);

		if (one == 0)
			return 0;
		total += one;
	}
	return total;
}

int
relay_entries_encode(const struct relay_entry *e, size_t n, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (n > CONS_MAX_RELAYS)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u32(w, (uint32_t)n)) != UM_OK)
		return ret;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && memcmp(e[i - 1].identity, e[i].identity, RELAY_DESC_ID_LEN) >= 0) {
			ret = UM_ERR_INVALID;
			break;
		}
		if ((ret = relay_entry_encode(&e[i], w)) != UM_OK)
			break;
	}
	if (ret != UM_OK)
		w->len = start;
	return ret;
}
