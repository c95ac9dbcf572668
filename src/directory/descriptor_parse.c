/* SPDX-License-Identifier: MIT */
/*
 * Relay descriptors: parse and encode (layout in descriptor.h and docs/PROTOCOL.md 4.2).
 * Trunnel style: one field per statement, each value checked as soon as it is read, and a
 * rule that relates two fields checked once the later one is read, so every strict prefix of
 * a valid descriptor is UM_ERR_TRUNCATED and never UM_ERR_MALFORMED. The encoder is the
 * parser's mirror and proves it by parsing its own output back.
 */
#include "directory/descriptor.h"

#include <string.h>

#include "lib/err.h"

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
	if (!relay_addr_is_valid(a))
		return UM_ERR_MALFORMED;
	return UM_OK;
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
		if (pr->lo == 0)
			return UM_ERR_MALFORMED;
		/* Sorted, and a gap of at least one port since the previous range (merged). */
		if (i > 0 && (uint32_t)pr->lo <= (uint32_t)p->r[i - 1].hi + 1)
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_u16(r, &pr->hi)) != UM_OK)
			return ret;
		if (pr->hi < pr->lo)
			return UM_ERR_MALFORMED;
	}
	/* The shorter of the accept and reject forms, accept on a tie. */
	if (!relay_policy_is_canonical(p))
		return UM_ERR_MALFORMED;
	return UM_OK;
}

static bool
policy_is_reject_all(const struct relay_policy *p)
{
	return p->kind == RELAY_POLICY_ACCEPT && p->n_ranges == 0;
}

ssize_t
relay_desc_parse(const uint8_t *in, size_t len, struct relay_desc *out)
{
	struct wire_rd r;
	struct relay_desc d;
	uint8_t present;
	uint8_t country[RELAY_DESC_COUNTRY_LEN];
	int ret;

	memset(&d, 0, sizeof(d));
	wire_rd_init(&r, in, len);

	if ((ret = wire_get_u8(&r, &d.version)) != UM_OK)
		return ret;
	if (d.version != RELAY_DESC_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, d.identity, RELAY_DESC_ID_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_get_u64(&r, &d.published_s)) != UM_OK)
		return ret;
	if ((ret = wire_get_u64(&r, &d.expires_s)) != UM_OK)
		return ret;
	if (d.expires_s <= d.published_s || d.expires_s - d.published_s > RELAY_DESC_LIFETIME_MAX_S)
		return UM_ERR_MALFORMED;
	if ((ret = get_text(&r, 1, RELAY_DESC_NICKNAME_MAX, relay_desc_nickname_is_valid,
	                    d.nickname)) != UM_OK)
		return ret;
	if ((ret = wire_get_u8(&r, &d.roles)) != UM_OK)
		return ret;
	if (d.roles == 0 || (d.roles & ~RELAY_ROLE_ALL) != 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &present)) != UM_OK)
		return ret;
	if ((present & ~RELAY_DESC_P_ALL) != 0)
		return UM_ERR_MALFORMED;
	d.has_prev_onion_key = (present & RELAY_DESC_P_PREV_ONION) != 0;
	d.has_operator_cert = (present & RELAY_DESC_P_OPERATOR_CERT) != 0;

	/* Link key and certificate: the certificate must cover the descriptor's lifetime. */
	if ((ret = wire_get_bytes(&r, d.link_key, RELAY_DESC_KEY_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_get_u64(&r, &d.link_cert_expires_s)) != UM_OK)
		return ret;
	if (d.link_cert_expires_s < d.expires_s)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, d.link_cert_sig, RELAY_DESC_SIG_LEN)) != UM_OK)
		return ret;

	/* Onion keys. */
	if ((ret = wire_get_bytes(&r, d.onion_key, RELAY_DESC_KEY_LEN)) != UM_OK)
		return ret;
	if (d.has_prev_onion_key) {
		if ((ret = wire_get_bytes(&r, d.prev_onion_key, RELAY_DESC_KEY_LEN)) != UM_OK)
			return ret;
		if (memcmp(d.prev_onion_key, d.onion_key, RELAY_DESC_KEY_LEN) == 0)
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_u64(&r, &d.prev_onion_expires_s)) != UM_OK)
			return ret;
		if (d.prev_onion_expires_s <= d.published_s ||
		    d.prev_onion_expires_s - d.published_s > RELAY_DESC_ONION_GRACE_MAX_S)
			return UM_ERR_MALFORMED;
	}

	/* Addresses: 1..MAX, strictly ascending (so distinct). */
	if ((ret = wire_get_u8(&r, &d.n_addrs)) != UM_OK)
		return ret;
	if (d.n_addrs == 0 || d.n_addrs > RELAY_DESC_MAX_ADDRS)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < d.n_addrs; i++) {
		if ((ret = get_addr(&r, &d.addrs[i])) != UM_OK)
			return ret;
		if (i > 0 && relay_addr_cmp(&d.addrs[i - 1], &d.addrs[i]) >= 0)
			return UM_ERR_MALFORMED;
	}

	/* Exit policy: only an exit has one; an exit accepts something somewhere. */
	if ((ret = wire_get_u8(&r, &d.exit_flags)) != UM_OK)
		return ret;
	if ((d.exit_flags & ~RELAY_EXIT_F_ALL) != 0)
		return UM_ERR_MALFORMED;
	if ((d.roles & RELAY_ROLE_EXIT) == 0 && d.exit_flags != 0)
		return UM_ERR_MALFORMED;
	if ((ret = get_policy(&r, &d.policy4)) != UM_OK)
		return ret;
	if ((d.roles & RELAY_ROLE_EXIT) == 0 && !policy_is_reject_all(&d.policy4))
		return UM_ERR_MALFORMED;
	if ((ret = get_policy(&r, &d.policy6)) != UM_OK)
		return ret;
	if ((d.roles & RELAY_ROLE_EXIT) == 0 && !policy_is_reject_all(&d.policy6))
		return UM_ERR_MALFORMED;
	if ((d.roles & RELAY_ROLE_EXIT) != 0 && policy_is_reject_all(&d.policy4) &&
	    policy_is_reject_all(&d.policy6))
		return UM_ERR_MALFORMED;

	/* Bandwidth. */
	if ((ret = wire_get_u32(&r, &d.bw.rate)) != UM_OK)
		return ret;
	if ((ret = wire_get_u32(&r, &d.bw.burst)) != UM_OK)
		return ret;
	if (d.bw.burst < d.bw.rate)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u32(&r, &d.bw.observed)) != UM_OK)
		return ret;

	/* Operator and its optional certificate (covering the descriptor's lifetime). */
	if ((ret = wire_get_bytes(&r, d.operator_id, RELAY_DESC_ID_LEN)) != UM_OK)
		return ret;
	if (d.has_operator_cert) {
		if ((ret = wire_get_u64(&r, &d.operator_cert_expires_s)) != UM_OK)
			return ret;
		if (d.operator_cert_expires_s < d.expires_s)
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_bytes(&r, d.operator_cert_sig, RELAY_DESC_SIG_LEN)) != UM_OK)
			return ret;
	}

	/* Location. */
	if ((ret = wire_get_bytes(&r, country, RELAY_DESC_COUNTRY_LEN)) != UM_OK)
		return ret;
	if (!relay_desc_country_is_valid((const char *)country, sizeof(country)))
		return UM_ERR_MALFORMED;
	memcpy(d.country, country, RELAY_DESC_COUNTRY_LEN);
	d.country[RELAY_DESC_COUNTRY_LEN] = '\0';
	if ((ret = get_text(&r, 0, RELAY_DESC_REGION_MAX, relay_desc_region_is_valid, d.region)) !=
	    UM_OK)
		return ret;
	if ((ret = wire_get_u8(&r, &d.geo_confidence)) != UM_OK)
		return ret;
	if (d.geo_confidence > RELAY_DESC_GEO_CONF_MAX)
		return UM_ERR_MALFORMED;

	/* Scores, basis points. */
	if ((ret = wire_get_u16(&r, &d.scores.reputation)) != UM_OK)
		return ret;
	if (d.scores.reputation > RELAY_DESC_SCORE_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &d.scores.uptime)) != UM_OK)
		return ret;
	if (d.scores.uptime > RELAY_DESC_SCORE_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &d.scores.capacity)) != UM_OK)
		return ret;
	if (d.scores.capacity > RELAY_DESC_SCORE_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &d.scores.abuse_penalty)) != UM_OK)
		return ret;
	if (d.scores.abuse_penalty > RELAY_DESC_SCORE_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &d.scores.bond)) != UM_OK)
		return ret;
	if (d.scores.bond > RELAY_DESC_SCORE_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &d.scores.stake)) != UM_OK)
		return ret;
	if (d.scores.stake > RELAY_DESC_SCORE_MAX)
		return UM_ERR_MALFORMED;

	/* Family: strictly ascending, without the relay itself. */
	if ((ret = wire_get_u8(&r, &d.n_family)) != UM_OK)
		return ret;
	if (d.n_family > RELAY_DESC_MAX_FAMILY)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < d.n_family; i++) {
		if ((ret = wire_get_bytes(&r, d.family[i], RELAY_DESC_ID_LEN)) != UM_OK)
			return ret;
		if (memcmp(d.family[i], d.identity, RELAY_DESC_ID_LEN) == 0)
			return UM_ERR_MALFORMED;
		if (i > 0 && memcmp(d.family[i - 1], d.family[i], RELAY_DESC_ID_LEN) >= 0)
			return UM_ERR_MALFORMED;
	}

	/* Free text. */
	if ((ret = get_text(&r, 0, RELAY_DESC_PLATFORM_MAX, relay_desc_text_is_valid,
	                    d.platform)) != UM_OK)
		return ret;
	if ((ret = get_text(&r, 0, RELAY_DESC_CONTACT_MAX, relay_desc_text_is_valid, d.contact)) !=
	    UM_OK)
		return ret;

	if ((ret = wire_get_bytes(&r, d.sig, RELAY_DESC_SIG_LEN)) != UM_OK)
		return ret;

	*out = d;
	return (ssize_t)r.off;
}

/* Write a NUL-terminated string of at most max bytes from a buffer of max + 1. */
static int
put_text(struct wire_wr *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return UM_ERR_INVALID;
	return wire_put_lv8(w, s, n);
}

static int
put_addr(struct wire_wr *w, const struct relay_addr *a)
{
	size_t alen;
	int ret;

	switch (a->type) {
	case RELAY_ADDR_IPV4:
		alen = RELAY_DESC_IPV4_LEN;
		break;
	case RELAY_ADDR_IPV6:
		alen = RELAY_DESC_IPV6_LEN;
		break;
	default:
		return UM_ERR_INVALID;
	}
	if ((ret = wire_put_u8(w, a->type)) != UM_OK ||
	    (ret = wire_put_bytes(w, a->addr, alen)) != UM_OK ||
	    (ret = wire_put_u16(w, a->port)) != UM_OK)
		return ret;
	return UM_OK;
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
encode_fields(const struct relay_desc *d, struct wire_wr *w)
{
	uint8_t present = 0;
	int ret;

	if (d->n_addrs > RELAY_DESC_MAX_ADDRS || d->n_family > RELAY_DESC_MAX_FAMILY ||
	    strnlen(d->country, sizeof(d->country)) != RELAY_DESC_COUNTRY_LEN)
		return UM_ERR_INVALID;
	if (d->has_prev_onion_key)
		present |= RELAY_DESC_P_PREV_ONION;
	if (d->has_operator_cert)
		present |= RELAY_DESC_P_OPERATOR_CERT;

	if ((ret = wire_put_u8(w, d->version)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->identity, RELAY_DESC_ID_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, d->published_s)) != UM_OK ||
	    (ret = wire_put_u64(w, d->expires_s)) != UM_OK ||
	    (ret = put_text(w, d->nickname, RELAY_DESC_NICKNAME_MAX)) != UM_OK ||
	    (ret = wire_put_u8(w, d->roles)) != UM_OK || (ret = wire_put_u8(w, present)) != UM_OK)
		return ret;
	if ((ret = wire_put_bytes(w, d->link_key, RELAY_DESC_KEY_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, d->link_cert_expires_s)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->link_cert_sig, RELAY_DESC_SIG_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->onion_key, RELAY_DESC_KEY_LEN)) != UM_OK)
		return ret;
	if (d->has_prev_onion_key) {
		if ((ret = wire_put_bytes(w, d->prev_onion_key, RELAY_DESC_KEY_LEN)) != UM_OK ||
		    (ret = wire_put_u64(w, d->prev_onion_expires_s)) != UM_OK)
			return ret;
	}
	if ((ret = wire_put_u8(w, d->n_addrs)) != UM_OK)
		return ret;
	for (size_t i = 0; i < d->n_addrs; i++) {
		if ((ret = put_addr(w, &d->addrs[i])) != UM_OK)
			return ret;
	}
	if ((ret = wire_put_u8(w, d->exit_flags)) != UM_OK ||
	    (ret = put_policy(w, &d->policy4)) != UM_OK ||
	    (ret = put_policy(w, &d->policy6)) != UM_OK)
		return ret;
	if ((ret = wire_put_u32(w, d->bw.rate)) != UM_OK ||
	    (ret = wire_put_u32(w, d->bw.burst)) != UM_OK ||
	    (ret = wire_put_u32(w, d->bw.observed)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->operator_id, RELAY_DESC_ID_LEN)) != UM_OK)
		return ret;
	if (d->has_operator_cert) {
		if ((ret = wire_put_u64(w, d->operator_cert_expires_s)) != UM_OK ||
		    (ret = wire_put_bytes(w, d->operator_cert_sig, RELAY_DESC_SIG_LEN)) != UM_OK)
			return ret;
	}
	if ((ret = wire_put_bytes(w, d->country, RELAY_DESC_COUNTRY_LEN)) != UM_OK ||
	    (ret = put_text(w, d->region, RELAY_DESC_REGION_MAX)) != UM_OK ||
	    (ret = wire_put_u8(w, d->geo_confidence)) != UM_OK)
		return ret;
	if ((ret = wire_put_u16(w, d->scores.reputation)) != UM_OK ||
	    (ret = wire_put_u16(w, d->scores.uptime)) != UM_OK ||
	    (ret = wire_put_u16(w, d->scores.capacity)) != UM_OK ||
	    (ret = wire_put_u16(w, d->scores.abuse_penalty)) != UM_OK ||
	    (ret = wire_put_u16(w, d->scores.bond)) != UM_OK ||
	    (ret = wire_put_u16(w, d->scores.stake)) != UM_OK)
		return ret;
	if ((ret = wire_put_u8(w, d->n_family)) != UM_OK)
		return ret;
	for (size_t i = 0; i < d->n_family; i++) {
		if ((ret = wire_put_bytes(w, d->family[i], RELAY_DESC_ID_LEN)) != UM_OK)
			return ret;
	}
	if ((ret = put_text(w, d->platform, RELAY_DESC_PLATFORM_MAX)) != UM_OK ||
	    (ret = put_text(w, d->contact, RELAY_DESC_CONTACT_MAX)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->sig, RELAY_DESC_SIG_LEN)) != UM_OK)
		return ret;
	return UM_OK;
}

#ifdef UM_UNIT_TESTS
int
relay_desc_encode_unchecked(const struct relay_desc *d, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if ((ret = encode_fields(d, w)) != UM_OK)
		w->len = start;
	return ret;
}
#endif

int
relay_desc_encode(const struct relay_desc *d, struct wire_wr *w)
{
	struct relay_desc back;
	size_t start = w->len;
	ssize_t n;
	int ret;

	if ((ret = encode_fields(d, w)) != UM_OK) {
		w->len = start;
		return ret;
	}
	/* The parser holds every rule of the format: what it does not take back exactly, we
	 * must not have written. */
	n = relay_desc_parse(w->p + start, w->len - start, &back);
	if (n < 0 || (size_t)n != w->len - start) {
		w->len = start;
		return UM_ERR_INVALID;
	}
	return UM_OK;
}
