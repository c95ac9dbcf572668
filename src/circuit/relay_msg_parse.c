/* SPDX-License-Identifier: MIT */
/*
 * Relay body and relay message parsers (layouts in relay_msg.h, docs/PROTOCOL.md 11.2-11.4).
 * Trunnel style, as descriptor_parse.c: one field per statement, each value checked as soon
 * as it is read (a length before the bytes it announces), so a strict prefix of a valid
 * message is UM_ERR_TRUNCATED wherever the layout allows telling it apart from a shorter
 * valid message, and a value that can never be valid is UM_ERR_MALFORMED at once. Host text
 * (BEGIN, RESOLVE, RESOLVED) is read byte by byte through the wire reader and refused at the
 * first byte that cannot belong to it.
 */
#include "circuit/relay_msg.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/err.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool
relay_hostname_canon(const char *s, size_t n, char out[RELAY_HOSTNAME_MAX + 1])
{
	size_t label = 0;
	bool all_digits = true;

	memset(out, 0, RELAY_HOSTNAME_MAX + 1);
	if (n == 0 || n > RELAY_HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			/* Empty labels ("a..b", ".a", "a.") and labels ending in '-'. */
			if (label == 0 || out[i - 1] == '-')
				return false;
			label = 0;
			all_digits = true;
			out[i] = c;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > RELAY_HOSTNAME_LABEL_MAX)
			return false;
		if (!is_digit(c))
			all_digits = false;
		out[i] = c;
	}
	/* A numeric last label would let "1.2.3" or "256.1.1.1" pass for an address. */
	if (label == 0 || out[n - 1] == '-' || all_digits)
		return false;
	return true;
}

bool
relay_ipv4_parse(const char *s, size_t n, uint8_t out[4])
{
	uint8_t a[4];
	size_t i = 0;

	for (size_t k = 0; k < 4; k++) {
		unsigned v = 0;
		size_t digits = 0;

		if (k > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		while (i < n && is_digit(s[i])) {
			/* "01" is octal to inet_aton(): refuse leading zeros outright. */
			if (digits > 0 && v == 0)
				return false;
			if (++digits > 3)
				return false;
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (digits == 0 || v > 255)
			return false;
		a[k] = (uint8_t)v;
	}
	if (i != n)
		return false;
	memcpy(out, a, 4);
	return true;
}

static bool
ipv6_parse(const char *s, size_t n, uint8_t out[16])
{
	char buf[RELAY_IPV6_TEXT_MAX + 1];

	if (n < 2 || n > RELAY_IPV6_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
		      c == '.'))
			return false;
		buf[i] = c;
	}
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1;
}

/* Parse "host:port" (n bytes, no NUL) into *t (canonical, see relay_msg.h). */
static int
target_parse(const char *s, size_t n, struct relay_target *t)
{
	size_t colon = n, plen;
	unsigned port = 0;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++)
		if (s[i] == ':')
			colon = i;
	if (colon == n || colon == 0)
		return UM_ERR_MALFORMED;

	/* Port: 1..65535 in plain decimal, no sign, no leading zero. */
	plen = n - colon - 1;
	if (plen == 0 || plen > 5 || s[colon + 1] == '0')
		return UM_ERR_MALFORMED;
	for (size_t i = colon + 1; i < n; i++) {
		if (!is_digit(s[i]))
			return UM_ERR_MALFORMED;
		port = port * 10 + (unsigned)(s[i] - '0');
	}
	if (port > 65535)
		return UM_ERR_MALFORMED;
	t->port = (uint16_t)port;

	if (s[0] == '[') {
		if (colon < 2 || s[colon - 1] != ']' || !ipv6_parse(s + 1, colon - 2, t->addr))
			return UM_ERR_MALFORMED;
		t->type = RELAY_HOST_IPV6;
	} else if (relay_ipv4_parse(s, colon, t->addr)) {
		t->type = RELAY_HOST_IPV4;
	} else if (relay_hostname_canon(s, colon, t->name)) {
		t->type = RELAY_HOST_NAME;
	} else {
		return UM_ERR_MALFORMED;
	}
	return UM_OK;
}

/* Bytes that may appear in an ADDRPORT or a RESOLVE name before its NUL. */
static bool
is_host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
}

/*
 * Read a NUL-terminated string of at most max bytes (NUL excluded) into buf[max + 1]. A byte
 * that cannot be host text (control, space, non-ASCII, ...) or a string longer than max is
 * MALFORMED as soon as it is seen; running out before the NUL is TRUNCATED.
 */
static int
get_host_string(struct wire_rd *r, size_t max, char *buf, size_t *n)
{
	for (size_t i = 0;; i++) {
		uint8_t c;
		int ret;

		if ((ret = wire_get_u8(r, &c)) != UM_OK)
			return ret;
		if (c == 0) {
			buf[i] = '\0';
			*n = i;
			return UM_OK;
		}
		if (i == max || !is_host_char(c))
			return UM_ERR_MALFORMED;
		buf[i] = (char)c;
	}
}

int
relay_body_parse(const uint8_t *body, size_t len, struct relay_hdr *out)
{
	struct wire_rd r;
	struct relay_hdr h;
	uint16_t recognized;
	int ret;

	memset(&h, 0, sizeof(h));
	if (len < RELAY_BODY_LEN)
		return UM_ERR_TRUNCATED;
	wire_rd_init(&r, body, RELAY_BODY_LEN);
	if ((ret = wire_get_u8(&r, &h.cmd)) != UM_OK ||
	    (ret = wire_get_u16(&r, &recognized)) != UM_OK)
		return ret;
	/* The crypto layer only hands us bodies it recognised: Recognized is zero there. */
	if (recognized != 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &h.stream_id)) != UM_OK ||
	    (ret = wire_get_bytes(&r, h.digest, RELAY_DIGEST_LEN)) != UM_OK ||
	    (ret = wire_get_u16(&r, &h.length)) != UM_OK)
		return ret;
	if (h.length > RELAY_DATA_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_view(&r, h.length, &h.data)) != UM_OK)
		return ret;
	*out = h;
	return UM_OK;
}

int
relay_extend2_parse(const uint8_t *data, size_t len, struct relay_extend2 *out)
{
	struct wire_rd r;
	struct relay_extend2 e;
	uint8_t nspec, seen[256 / 8] = { 0 };
	bool has_id = false;
	int ret;

	memset(&e, 0, sizeof(e));
	wire_rd_init(&r, data, len);
	if ((ret = wire_get_u8(&r, &nspec)) != UM_OK)
		return ret;
	if (nspec > RELAY_EXTEND2_MAX_SPECS)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < nspec; i++) {
		uint8_t type, lslen;
		const uint8_t *v;

		if ((ret = wire_get_u8(&r, &type)) != UM_OK)
			return ret;
		/* At most one of each type, known or not. */
		if (seen[type / 8] & (1u << (type % 8)))
			return UM_ERR_MALFORMED;
		seen[type / 8] = (uint8_t)(seen[type / 8] | (1u << (type % 8)));
		if ((ret = wire_get_u8(&r, &lslen)) != UM_OK)
			return ret;
		switch (type) {
		case RELAY_LS_IPV4:
			if (lslen != RELAY_LS_IPV4_LEN)
				return UM_ERR_MALFORMED;
			if ((ret = wire_get_bytes(&r, e.ipv4, 4)) != UM_OK ||
			    (ret = wire_get_u16(&r, &e.ipv4_port)) != UM_OK)
				return ret;
			if (e.ipv4_port == 0)
				return UM_ERR_MALFORMED;
			e.has_ipv4 = true;
			break;
		case RELAY_LS_IPV6:
			if (lslen != RELAY_LS_IPV6_LEN)
				return UM_ERR_MALFORMED;
			if ((ret = wire_get_bytes(&r, e.ipv6, 16)) != UM_OK ||
			    (ret = wire_get_u16(&r, &e.ipv6_port)) != UM_OK)
				return ret;
			if (e.ipv6_port == 0)
				return UM_ERR_MALFORMED;
			e.has_ipv6 = true;
			break;
		case RELAY_LS_LEGACY_ID:
			/* Tor's RSA identity: we have none to check it against. */
			if (lslen != RELAY_LS_LEGACY_ID_LEN)
				return UM_ERR_MALFORMED;
			if ((ret = wire_skip(&r, lslen)) != UM_OK)
				return ret;
			break;
		case RELAY_LS_ED25519_ID:
			if (lslen != RELAY_LS_ED25519_ID_LEN)
				return UM_ERR_MALFORMED;
			if ((ret = wire_get_bytes(&r, e.ed25519_id, RELAY_LS_ED25519_ID_LEN)) !=
			    UM_OK)
				return ret;
			has_id = true;
			break;
		case RELAY_LS_LINK_KEY:
			if (lslen != RELAY_LS_LINK_KEY_LEN)
				return UM_ERR_MALFORMED;
			if ((ret = wire_get_bytes(&r, e.link_key, RELAY_LS_LINK_KEY_LEN)) != UM_OK)
				return ret;
			e.has_link_key = true;
			break;
		default:
			/* Unknown: skipped (NSPEC bounds how many). */
			if ((ret = wire_get_view(&r, lslen, &v)) != UM_OK)
				return ret;
			break;
		}
	}
	/* The extending relay must know whom to connect to and which identity to expect. */
	if (!has_id || (!e.has_ipv4 && !e.has_ipv6))
		return UM_ERR_MALFORMED;
	if ((ret = circ_create2_read(&r, &e.create)) != UM_OK)
		return ret;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = e;
	return UM_OK;
}

int
relay_extended2_parse(const uint8_t *data, size_t len, struct circ_created2 *out)
{
	struct wire_rd r;
	struct circ_created2 c;
	int ret;

	wire_rd_init(&r, data, len);
	if ((ret = circ_created2_read(&r, RELAY_EXTENDED2_HDATA_MAX, &c)) != UM_OK)
		return ret;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = c;
	return UM_OK;
}

int
relay_begin_parse(const uint8_t *data, size_t len, struct relay_begin *out)
{
	struct wire_rd r;
	struct relay_begin b;
	char text[RELAY_ADDRPORT_MAX + 1];
	size_t n;
	int ret;

	memset(&b, 0, sizeof(b));
	wire_rd_init(&r, data, len);
	if ((ret = get_host_string(&r, RELAY_ADDRPORT_MAX, text, &n)) != UM_OK)
		return ret;
	if ((ret = target_parse(text, n, &b.target)) != UM_OK)
		return ret;
	/* FLAGS may be absent (Tor omits it when zero). */
	if (wire_rd_left(&r) > 0) {
		if ((ret = wire_get_u32(&r, &b.flags)) != UM_OK)
			return ret;
		if ((b.flags & ~(uint32_t)RELAY_BEGIN_F_ALL) != 0)
			return UM_ERR_MALFORMED;
		/* "No IPv4" without "IPv6 ok" leaves no family to connect with. */
		if ((b.flags & RELAY_BEGIN_F_IPV4_NOT_OK) && !(b.flags & RELAY_BEGIN_F_IPV6_OK))
			return UM_ERR_MALFORMED;
	}
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = b;
	return UM_OK;
}

static bool
is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int
relay_connected_parse(const uint8_t *data, size_t len, struct relay_connected *out)
{
	struct wire_rd r;
	struct relay_connected c;
	uint8_t type;
	int ret;

	memset(&c, 0, sizeof(c));
	wire_rd_init(&r, data, len);
	if (wire_rd_left(&r) > 0) {
		if ((ret = wire_get_bytes(&r, c.addr, 4)) != UM_OK)
			return ret;
		if (!is_zero(c.addr, 4)) {
			c.addr_type = RELAY_HOST_IPV4;
		} else {
			/* 0.0.0.0 announces the IPv6 form. */
			if ((ret = wire_get_u8(&r, &type)) != UM_OK)
				return ret;
			if (type != RELAY_HOST_IPV6)
				return UM_ERR_MALFORMED;
			if ((ret = wire_get_bytes(&r, c.addr, 16)) != UM_OK)
				return ret;
			c.addr_type = RELAY_HOST_IPV6;
		}
		if ((ret = wire_get_u32(&r, &c.ttl)) != UM_OK)
			return ret;
	}
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = c;
	return UM_OK;
}

int
relay_end_parse(const uint8_t *data, size_t len, struct relay_end *out)
{
	struct wire_rd r;
	struct relay_end e;
	size_t left;
	int ret;

	memset(&e, 0, sizeof(e));
	wire_rd_init(&r, data, len);
	if ((ret = wire_get_u8(&r, &e.reason)) != UM_OK)
		return ret;
	if (e.reason == 0 || e.reason > RELAY_END_REASON_MAX)
		return UM_ERR_MALFORMED;
	/* EXITPOLICY may say which address was refused: the form is told by its length (Tor). */
	left = wire_rd_left(&r);
	if (e.reason == RELAY_END_EXITPOLICY && left > 0) {
		if (left < 4 + 4)
			return UM_ERR_TRUNCATED;
		if (left == 4 + 4) {
			e.addr_type = RELAY_HOST_IPV4;
			ret = wire_get_bytes(&r, e.addr, 4);
		} else if (left < 16 + 4) {
			return UM_ERR_TRUNCATED;
		} else {
			e.addr_type = RELAY_HOST_IPV6;
			ret = wire_get_bytes(&r, e.addr, 16);
		}
		if (ret != UM_OK || (ret = wire_get_u32(&r, &e.ttl)) != UM_OK)
			return ret;
	}
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = e;
	return UM_OK;
}

int
relay_resolve_parse(const uint8_t *data, size_t len, struct relay_resolve *out)
{
	struct wire_rd r;
	char text[RELAY_HOSTNAME_MAX + 1];
	char name[RELAY_HOSTNAME_MAX + 1];
	size_t n;
	int ret;

	wire_rd_init(&r, data, len);
	if ((ret = get_host_string(&r, RELAY_HOSTNAME_MAX, text, &n)) != UM_OK)
		return ret;
	if (!relay_hostname_canon(text, n, name))
		return UM_ERR_MALFORMED;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	memcpy(out->name, name, sizeof(name));
	return UM_OK;
}

static bool
answer_is_error(uint8_t type)
{
	return type == RELAY_ANSWER_ERR_TRANSIENT || type == RELAY_ANSWER_ERR_NONTRANSIENT;
}

static int
get_answer(struct wire_rd *r, struct relay_answer *a)
{
	const uint8_t *v;
	uint8_t vlen;
	int ret;

	memset(a, 0, sizeof(*a));
	if ((ret = wire_get_u8(r, &a->type)) != UM_OK || (ret = wire_get_u8(r, &vlen)) != UM_OK)
		return ret;
	switch (a->type) {
	case RELAY_ANSWER_IPV4:
		if (vlen != 4)
			return UM_ERR_MALFORMED;
		break;
	case RELAY_ANSWER_IPV6:
		if (vlen != 16)
			return UM_ERR_MALFORMED;
		break;
	case RELAY_ANSWER_HOSTNAME:
		if (vlen == 0)
			return UM_ERR_MALFORMED;
		break;
	case RELAY_ANSWER_ERR_TRANSIENT:
	case RELAY_ANSWER_ERR_NONTRANSIENT:
		if (vlen != 0)
			return UM_ERR_MALFORMED;
		break;
	default:
		return UM_ERR_MALFORMED;
	}
	if ((ret = wire_get_view(r, vlen, &v)) != UM_OK)
		return ret;
	if (a->type == RELAY_ANSWER_HOSTNAME) {
		if (!relay_hostname_canon((const char *)v, vlen, a->name))
			return UM_ERR_MALFORMED;
	} else if (vlen > 0) {
		memcpy(a->addr, v, vlen);
	}
	return wire_get_u32(r, &a->ttl);
}

int
relay_resolved_parse(const uint8_t *data, size_t len, struct relay_resolved *out)
{
	struct wire_rd r;
	struct relay_resolved res;
	int ret;

	memset(&res, 0, sizeof(res));
	wire_rd_init(&r, data, len);
	while (wire_rd_left(&r) > 0) {
		struct relay_answer *a;

		if (res.n_answers == RELAY_RESOLVED_MAX_ANSWERS)
			return UM_ERR_MALFORMED;
		a = &res.answers[res.n_answers];
		if ((ret = get_answer(&r, a)) != UM_OK)
			return ret;
		/* An error is the whole answer (tor-spec 6.4). */
		if (res.n_answers > 0 &&
		    (answer_is_error(a->type) || answer_is_error(res.answers[0].type)))
			return UM_ERR_MALFORMED;
		res.n_answers++;
	}
	if (res.n_answers == 0)
		return UM_ERR_TRUNCATED;
	*out = res;
	return UM_OK;
}

int
relay_sendme_parse(const uint8_t *data, size_t len, struct relay_sendme *out)
{
	struct wire_rd r;
	struct relay_sendme s;
	uint8_t version;
	uint16_t dlen;
	int ret;

	/* An empty SENDME is version 0 (unauthenticated): we only speak version 1. */
	if (len == 0)
		return UM_ERR_MALFORMED;
	wire_rd_init(&r, data, len);
	if ((ret = wire_get_u8(&r, &version)) != UM_OK)
		return ret;
	if (version != RELAY_SENDME_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(&r, &dlen)) != UM_OK)
		return ret;
	if (dlen != RELAY_SENDME_DIGEST_LEN)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, s.digest, RELAY_SENDME_DIGEST_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = s;
	return UM_OK;
}

static int
get_flow_version(struct wire_rd *r)
{
	uint8_t version;
	int ret;

	if ((ret = wire_get_u8(r, &version)) != UM_OK)
		return ret;
	return version == RELAY_XON_VERSION ? UM_OK : UM_ERR_MALFORMED;
}

int
relay_xon_parse(const uint8_t *data, size_t len, struct relay_xon *out)
{
	struct wire_rd r;
	uint32_t kbps;
	int ret;

	wire_rd_init(&r, data, len);
	if ((ret = get_flow_version(&r)) != UM_OK || (ret = wire_get_u32(&r, &kbps)) != UM_OK ||
	    (ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	out->kbps_ewma = kbps;
	return UM_OK;
}

int
relay_xoff_parse(const uint8_t *data, size_t len)
{
	struct wire_rd r;
	int ret;

	wire_rd_init(&r, data, len);
	if ((ret = get_flow_version(&r)) != UM_OK)
		return ret;
	return wire_expect_end(&r);
}

int
relay_truncated_parse(const uint8_t *data, size_t len, uint8_t *reason)
{
	struct wire_rd r;
	uint8_t v;
	int ret;

	wire_rd_init(&r, data, len);
	if ((ret = wire_get_u8(&r, &v)) != UM_OK)
		return ret;
	if (v > CIRC_REASON_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*reason = v;
	return UM_OK;
}

int
relay_token_parse(const uint8_t *data, size_t len, struct relay_token *out)
{
	struct wire_rd r;
	struct relay_token t;
	int ret;

	memset(&t, 0, sizeof(t));
	wire_rd_init(&r, data, len);
	if ((ret = wire_get_bytes(&r, t.issuer, sizeof(t.issuer))) != UM_OK)
		return ret;
	/* The token's own rules are the exit's to judge (an ACK, not a protocol violation). */
	t.token.len = len - sizeof(t.issuer);
	if (t.token.len > RELAY_TOKEN_MAX)
		return UM_ERR_MALFORMED;
	t.token.p = t.token.len > 0 ? data + sizeof(t.issuer) : NULL;
	*out = t;
	return UM_OK;
}

int
relay_token_ack_parse(const uint8_t *data, size_t len, struct relay_token_ack *out)
{
	struct wire_rd r;
	uint8_t status, tier;
	bool tiered;
	int ret;

	wire_rd_init(&r, data, len);
	if ((ret = wire_get_u8(&r, &status)) != UM_OK)
		return ret;
	if (status > RELAY_TOKEN_STATUS_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &tier)) != UM_OK)
		return ret;
	/* ACCEPTED and HAS_TIER name the circuit's tier (1..15); every refusal leaves it 0. */
	tiered = status == RELAY_TOKEN_ACCEPTED || status == RELAY_TOKEN_HAS_TIER;
	if (tier > RELAY_TIER_MAX || (tier != 0) != tiered)
		return UM_ERR_MALFORMED;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	out->status = status;
	out->tier = tier;
	return UM_OK;
}

int
relay_msg_parse(uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
                struct relay_msg *out)
{
	struct relay_msg m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.cmd = cmd;
	m.stream_id = stream_id;
	switch (relay_cmd_stream_rule(cmd)) {
	case RELAY_STREAM_UNKNOWN:
		return UM_ERR_NOT_FOUND;
	case RELAY_STREAM_REQUIRED:
		if (stream_id == 0)
			return UM_ERR_MALFORMED;
		break;
	case RELAY_STREAM_FORBIDDEN:
		if (stream_id != 0)
			return UM_ERR_MALFORMED;
		break;
	}
	/* Data never exceeds a body's room: more is a caller bug or a lie. */
	if (len > RELAY_DATA_MAX)
		return UM_ERR_MALFORMED;

	switch (cmd) {
	case RELAY_BEGIN:
		ret = relay_begin_parse(data, len, &m.u.begin);
		break;
	case RELAY_DATA:
		/* An empty DATA cell carries nothing and moves no window: refuse it. */
		ret = len == 0 ? UM_ERR_MALFORMED : UM_OK;
		m.u.data = (struct relay_bytes){ len > 0 ? data : NULL, len };
		break;
	case RELAY_DROP:
		ret = UM_OK;
		m.u.data = (struct relay_bytes){ len > 0 ? data : NULL, len };
		break;
	case RELAY_END:
		ret = relay_end_parse(data, len, &m.u.end);
		break;
	case RELAY_CONNECTED:
		ret = relay_connected_parse(data, len, &m.u.connected);
		break;
	case RELAY_SENDME:
		ret = relay_sendme_parse(data, len, &m.u.sendme);
		break;
	case RELAY_TRUNCATED:
		ret = relay_truncated_parse(data, len, &m.u.reason);
		break;
	case RELAY_RESOLVE:
		ret = relay_resolve_parse(data, len, &m.u.resolve);
		break;
	case RELAY_RESOLVED:
		ret = relay_resolved_parse(data, len, &m.u.resolved);
		break;
	case RELAY_EXTEND2:
		ret = relay_extend2_parse(data, len, &m.u.extend2);
		break;
	case RELAY_EXTENDED2:
		ret = relay_extended2_parse(data, len, &m.u.extended2);
		break;
	case RELAY_XON:
		ret = relay_xon_parse(data, len, &m.u.xon);
		break;
	case RELAY_XOFF:
		ret = relay_xoff_parse(data, len);
		break;
	case RELAY_TOKEN:
		ret = relay_token_parse(data, len, &m.u.token);
		break;
	case RELAY_TOKEN_ACK:
		ret = relay_token_ack_parse(data, len, &m.u.token_ack);
		break;
	case RELAY_TRUNCATE:
	case RELAY_BEGIN_DIR:
		ret = len == 0 ? UM_OK : UM_ERR_TRAILING;
		break;
	default:
		return UM_ERR_INTERNAL; /* relay_cmd_stream_rule() knows a command we do not */
	}
	if (ret != UM_OK)
		return ret;
	*out = m;
	return UM_OK;
}
