/* SPDX-License-Identifier: MIT */
/*
 * Relay body and relay message encoders, command and reason names, and the StreamID rule (the
 * parsers are in relay_msg_parse.c). Every writer is the parser's mirror and proves it by
 * parsing its own output back: what the parser would refuse, we never send.
 */
#include "circuit/relay_msg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"

struct cmd_info {
	const char *name;
	enum relay_stream_rule rule;
};

static const struct cmd_info cmd_table[] = {
	[RELAY_BEGIN] = { "begin", RELAY_STREAM_REQUIRED },
	[RELAY_DATA] = { "data", RELAY_STREAM_REQUIRED },
	[RELAY_END] = { "end", RELAY_STREAM_REQUIRED },
	[RELAY_CONNECTED] = { "connected", RELAY_STREAM_REQUIRED },
	/* Circuit-level only: stream flow control is XON/XOFF (prop 324), never stream SENDMEs. */
	[RELAY_SENDME] = { "sendme", RELAY_STREAM_FORBIDDEN },
	[RELAY_TRUNCATE] = { "truncate", RELAY_STREAM_FORBIDDEN },
	[RELAY_TRUNCATED] = { "truncated", RELAY_STREAM_FORBIDDEN },
	[RELAY_DROP] = { "drop", RELAY_STREAM_FORBIDDEN },
	[RELAY_RESOLVE] = { "resolve", RELAY_STREAM_REQUIRED },
	[RELAY_RESOLVED] = { "resolved", RELAY_STREAM_REQUIRED },
	[RELAY_BEGIN_DIR] = { "begin_dir", RELAY_STREAM_REQUIRED },
	[RELAY_EXTEND2] = { "extend2", RELAY_STREAM_FORBIDDEN },
	[RELAY_EXTENDED2] = { "extended2", RELAY_STREAM_FORBIDDEN },
	[RELAY_XON] = { "xon", RELAY_STREAM_REQUIRED },
	[RELAY_XOFF] = { "xoff", RELAY_STREAM_REQUIRED },
	/* Ours (docs/PROTOCOL.md 17.5): a token for the circuit, end to end to the exit. */
	[RELAY_TOKEN] = { "token", RELAY_STREAM_FORBIDDEN },
	[RELAY_TOKEN_ACK] = { "token_ack", RELAY_STREAM_FORBIDDEN },
};

static const char *const end_reason_names[RELAY_END_REASON_MAX + 1] = {
	[RELAY_END_MISC] = "misc",
	[RELAY_END_RESOLVEFAILED] = "resolvefailed",
	[RELAY_END_CONNECTREFUSED] = "connectrefused",
	[RELAY_END_EXITPOLICY] = "exitpolicy",
	[RELAY_END_DESTROY] = "destroy",
	[RELAY_END_DONE] = "done",
	[RELAY_END_TIMEOUT] = "timeout",
	[RELAY_END_NOROUTE] = "noroute",
	[RELAY_END_HIBERNATING] = "hibernating",
	[RELAY_END_INTERNAL] = "internal",
	[RELAY_END_RESOURCELIMIT] = "resourcelimit",
	[RELAY_END_CONNRESET] = "connreset",
	[RELAY_END_TORPROTOCOL] = "torprotocol",
	[RELAY_END_NOTDIRECTORY] = "notdirectory",
};

const char *
relay_cmd_name(uint8_t cmd)
{
	if (cmd >= UM_ARRAY_LEN(cmd_table) || cmd_table[cmd].name == NULL)
		return "unknown";
	return cmd_table[cmd].name;
}

enum relay_stream_rule
relay_cmd_stream_rule(uint8_t cmd)
{
	if (cmd >= UM_ARRAY_LEN(cmd_table))
		return RELAY_STREAM_UNKNOWN;
	return cmd_table[cmd].rule;
}

const char *
relay_end_reason_str(uint8_t reason)
{
	if (reason == 0 || reason > RELAY_END_REASON_MAX)
		return "unknown";
	return end_reason_names[reason];
}

int
relay_body_encode(uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
                  uint8_t out[RELAY_BODY_LEN])
{
	size_t pad, zeros;

	if (len > RELAY_DATA_MAX || (len > 0 && data == NULL))
		return UM_ERR_INVALID;
	out[0] = cmd;
	wire_store_u16(out + 1, 0); /* Recognized */
	wire_store_u16(out + 3, stream_id);
	memset(out + RELAY_DIGEST_OFF, 0, RELAY_DIGEST_LEN);
	wire_store_u16(out + RELAY_HEADER_LEN - 2, (uint16_t)len);
	if (len > 0)
		memcpy(out + RELAY_HEADER_LEN, data, len);
	/* tor-spec 6.1: four zero bytes, then random ones, so padding carries no predictable
	 * plaintext for a tagging or known-plaintext attacker to lean on. */
	pad = RELAY_DATA_MAX - len;
	zeros = UM_MIN(pad, (size_t)RELAY_PAD_ZERO_LEN);
	memset(out + RELAY_HEADER_LEN + len, 0, zeros);
	if (pad > zeros)
		rand_bytes(out + RELAY_HEADER_LEN + len + zeros, pad - zeros);
	return UM_OK;
}

/* Undo a failed write: nothing of it stays in w. */
static int
rollback(struct wire_wr *w, size_t start, int ret)
{
	if (ret != UM_OK)
		w->len = start;
	return ret;
}

/* ---- EXTEND2 ---- */

static int
extend2_put(struct wire_wr *w, const struct relay_extend2 *e)
{
	uint8_t nspec = (uint8_t)(1 + (e->has_ipv4 ? 1 : 0) + (e->has_ipv6 ? 1 : 0) +
	                          (e->has_link_key ? 1 : 0));
	int ret;

	if ((ret = wire_put_u8(w, nspec)) != UM_OK)
		return ret;
	/* Order 00, 03, 01 (PROTOCOLS.md 2.1), then ours, 80 (docs/PROTOCOL.md 11.6). */
	if (e->has_ipv4 && ((ret = wire_put_u8(w, RELAY_LS_IPV4)) != UM_OK ||
	                    (ret = wire_put_u8(w, RELAY_LS_IPV4_LEN)) != UM_OK ||
	                    (ret = wire_put_bytes(w, e->ipv4, 4)) != UM_OK ||
	                    (ret = wire_put_u16(w, e->ipv4_port)) != UM_OK))
		return ret;
	if ((ret = wire_put_u8(w, RELAY_LS_ED25519_ID)) != UM_OK ||
	    (ret = wire_put_u8(w, RELAY_LS_ED25519_ID_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, e->ed25519_id, RELAY_LS_ED25519_ID_LEN)) != UM_OK)
		return ret;
	if (e->has_ipv6 && ((ret = wire_put_u8(w, RELAY_LS_IPV6)) != UM_OK ||
	                    (ret = wire_put_u8(w, RELAY_LS_IPV6_LEN)) != UM_OK ||
	                    (ret = wire_put_bytes(w, e->ipv6, 16)) != UM_OK ||
	                    (ret = wire_put_u16(w, e->ipv6_port)) != UM_OK))
		return ret;
	if (e->has_link_key &&
	    ((ret = wire_put_u8(w, RELAY_LS_LINK_KEY)) != UM_OK ||
	     (ret = wire_put_u8(w, RELAY_LS_LINK_KEY_LEN)) != UM_OK ||
	     (ret = wire_put_bytes(w, e->link_key, RELAY_LS_LINK_KEY_LEN)) != UM_OK))
		return ret;
	return circ_create2_write(w, &e->create);
}

int
relay_extend2_write(struct wire_wr *w, const struct relay_extend2 *e)
{
	struct relay_extend2 back;
	size_t start = w->len;
	int ret = extend2_put(w, e);

	if (ret == UM_OK && relay_extend2_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

/* ---- BEGIN, RESOLVE ---- */

static int
put_name(struct wire_wr *w, const char *name)
{
	char canon[RELAY_HOSTNAME_MAX + 1];
	size_t n = strnlen(name, RELAY_HOSTNAME_MAX + 1);

	if (!relay_hostname_canon(name, n, canon))
		return UM_ERR_INVALID;
	return wire_put_bytes(w, canon, n);
}

static int
target_put(struct wire_wr *w, const struct relay_target *t)
{
	char text[RELAY_IPV6_TEXT_MAX + 1], port[8];
	int ret;

	if (t->port == 0)
		return UM_ERR_INVALID;
	switch (t->type) {
	case RELAY_HOST_NAME:
		ret = put_name(w, t->name);
		break;
	case RELAY_HOST_IPV4:
		snprintf(text, sizeof(text), "%u.%u.%u.%u", t->addr[0], t->addr[1], t->addr[2],
		         t->addr[3]);
		ret = wire_put_bytes(w, text, strlen(text));
		break;
	case RELAY_HOST_IPV6:
		if (inet_ntop(AF_INET6, t->addr, text, sizeof(text)) == NULL)
			return UM_ERR_INVALID;
		if ((ret = wire_put_u8(w, '[')) == UM_OK &&
		    (ret = wire_put_bytes(w, text, strlen(text))) == UM_OK)
			ret = wire_put_u8(w, ']');
		break;
	default:
		return UM_ERR_INVALID;
	}
	if (ret != UM_OK)
		return ret;
	snprintf(port, sizeof(port), ":%u", t->port);
	return wire_put_bytes(w, port, strlen(port) + 1); /* with the NUL */
}

int
relay_begin_write(struct wire_wr *w, const struct relay_begin *b)
{
	struct relay_begin back;
	size_t start = w->len;
	int ret;

	/* FLAGS always written: explicit beats absent-means-zero. */
	if ((ret = target_put(w, &b->target)) == UM_OK)
		ret = wire_put_u32(w, b->flags);
	if (ret == UM_OK && relay_begin_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

int
relay_resolve_write(struct wire_wr *w, const struct relay_resolve *r)
{
	struct relay_resolve back;
	size_t start = w->len;
	int ret;

	if ((ret = put_name(w, r->name)) == UM_OK)
		ret = wire_put_u8(w, 0);
	if (ret == UM_OK && relay_resolve_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

/* ---- CONNECTED, END ---- */

static int
addr_ttl_put(struct wire_wr *w, uint8_t type, const uint8_t addr[16], uint32_t ttl, bool marker)
{
	int ret;

	if (type == RELAY_HOST_IPV4)
		ret = wire_put_bytes(w, addr, 4);
	else if (type == RELAY_HOST_IPV6 && marker) {
		/* CONNECTED: 0.0.0.0 then the type byte announce the IPv6 form. */
		if ((ret = wire_put_u32(w, 0)) == UM_OK &&
		    (ret = wire_put_u8(w, RELAY_HOST_IPV6)) == UM_OK)
			ret = wire_put_bytes(w, addr, 16);
	} else if (type == RELAY_HOST_IPV6)
		ret = wire_put_bytes(w, addr, 16);
	else
		return UM_ERR_INVALID;
	if (ret != UM_OK)
		return ret;
	return wire_put_u32(w, ttl);
}

int
relay_connected_write(struct wire_wr *w, const struct relay_connected *c)
{
	struct relay_connected back;
	size_t start = w->len;
	int ret = UM_OK;

	if (c->addr_type != 0)
		ret = addr_ttl_put(w, c->addr_type, c->addr, c->ttl, true);
	if (ret == UM_OK && relay_connected_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

int
relay_end_write(struct wire_wr *w, const struct relay_end *e)
{
	struct relay_end back;
	size_t start = w->len;
	int ret;

	if (e->addr_type != 0 && e->reason != RELAY_END_EXITPOLICY)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, e->reason)) == UM_OK && e->addr_type != 0)
		ret = addr_ttl_put(w, e->addr_type, e->addr, e->ttl, false);
	if (ret == UM_OK && relay_end_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

/* ---- RESOLVED ---- */

static int
answer_put(struct wire_wr *w, const struct relay_answer *a)
{
	char canon[RELAY_HOSTNAME_MAX + 1];
	size_t n;
	int ret;

	if ((ret = wire_put_u8(w, a->type)) != UM_OK)
		return ret;
	switch (a->type) {
	case RELAY_ANSWER_IPV4:
		ret = wire_put_lv8(w, a->addr, 4);
		break;
	case RELAY_ANSWER_IPV6:
		ret = wire_put_lv8(w, a->addr, 16);
		break;
	case RELAY_ANSWER_HOSTNAME:
		n = strnlen(a->name, RELAY_HOSTNAME_MAX + 1);
		if (!relay_hostname_canon(a->name, n, canon))
			return UM_ERR_INVALID;
		ret = wire_put_lv8(w, canon, n);
		break;
	case RELAY_ANSWER_ERR_TRANSIENT:
	case RELAY_ANSWER_ERR_NONTRANSIENT:
		ret = wire_put_u8(w, 0);
		break;
	default:
		return UM_ERR_INVALID;
	}
	if (ret != UM_OK)
		return ret;
	return wire_put_u32(w, a->ttl);
}

int
relay_resolved_write(struct wire_wr *w, const struct relay_resolved *r)
{
	struct relay_resolved back;
	size_t start = w->len;
	int ret = UM_OK;

	if (r->n_answers == 0 || r->n_answers > RELAY_RESOLVED_MAX_ANSWERS)
		return UM_ERR_INVALID;
	for (size_t i = 0; i < r->n_answers && ret == UM_OK; i++)
		ret = answer_put(w, &r->answers[i]);
	if (ret == UM_OK && relay_resolved_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

/* ---- SENDME, XON, XOFF ---- */

int
relay_sendme_write(struct wire_wr *w, const struct relay_sendme *s)
{
	size_t start = w->len;
	int ret;

	if ((ret = wire_put_u8(w, RELAY_SENDME_VERSION)) == UM_OK &&
	    (ret = wire_put_u16(w, RELAY_SENDME_DIGEST_LEN)) == UM_OK)
		ret = wire_put_bytes(w, s->digest, RELAY_SENDME_DIGEST_LEN);
	return rollback(w, start, ret);
}

int
relay_xon_write(struct wire_wr *w, const struct relay_xon *x)
{
	size_t start = w->len;
	int ret;

	if ((ret = wire_put_u8(w, RELAY_XON_VERSION)) == UM_OK)
		ret = wire_put_u32(w, x->kbps_ewma);
	return rollback(w, start, ret);
}

int
relay_xoff_write(struct wire_wr *w)
{
	return wire_put_u8(w, RELAY_XON_VERSION);
}

/* ---- TOKEN, TOKEN_ACK ---- */

int
relay_token_write(struct wire_wr *w, const struct relay_token *t)
{
	struct relay_token back;
	size_t start = w->len;
	int ret;

	if (t->token.len > RELAY_TOKEN_MAX || (t->token.len > 0 && t->token.p == NULL))
		return UM_ERR_INVALID;
	if ((ret = wire_put_bytes(w, t->issuer, sizeof(t->issuer))) == UM_OK && t->token.len > 0)
		ret = wire_put_bytes(w, t->token.p, t->token.len);
	if (ret == UM_OK && relay_token_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

int
relay_token_ack_write(struct wire_wr *w, const struct relay_token_ack *a)
{
	struct relay_token_ack back;
	size_t start = w->len;
	int ret;

	if ((ret = wire_put_u8(w, a->status)) == UM_OK)
		ret = wire_put_u8(w, a->tier);
	if (ret == UM_OK && relay_token_ack_parse(w->p + start, w->len - start, &back) != UM_OK)
		ret = UM_ERR_INVALID;
	return rollback(w, start, ret);
}

/* ---- Any message ---- */

static int
msg_put(struct wire_wr *w, const struct relay_msg *m)
{
	switch (m->cmd) {
	case RELAY_BEGIN:
		return relay_begin_write(w, &m->u.begin);
	case RELAY_DATA:
	case RELAY_DROP:
		if (m->u.data.len > RELAY_DATA_MAX || (m->u.data.len == 0 && m->cmd == RELAY_DATA))
			return UM_ERR_INVALID;
		if (m->u.data.len == 0)
			return UM_OK;
		return wire_put_bytes(w, m->u.data.p, m->u.data.len);
	case RELAY_END:
		return relay_end_write(w, &m->u.end);
	case RELAY_CONNECTED:
		return relay_connected_write(w, &m->u.connected);
	case RELAY_SENDME:
		return relay_sendme_write(w, &m->u.sendme);
	case RELAY_TRUNCATED:
		if (m->u.reason > CIRC_REASON_MAX)
			return UM_ERR_INVALID;
		return wire_put_u8(w, m->u.reason);
	case RELAY_RESOLVE:
		return relay_resolve_write(w, &m->u.resolve);
	case RELAY_RESOLVED:
		return relay_resolved_write(w, &m->u.resolved);
	case RELAY_EXTEND2:
		return relay_extend2_write(w, &m->u.extend2);
	case RELAY_EXTENDED2:
		if (m->u.extended2.hlen > RELAY_EXTENDED2_HDATA_MAX)
			return UM_ERR_INVALID;
		return circ_created2_write(w, &m->u.extended2);
	case RELAY_XON:
		return relay_xon_write(w, &m->u.xon);
	case RELAY_XOFF:
		return relay_xoff_write(w);
	case RELAY_TOKEN:
		return relay_token_write(w, &m->u.token);
	case RELAY_TOKEN_ACK:
		return relay_token_ack_write(w, &m->u.token_ack);
	case RELAY_TRUNCATE:
	case RELAY_BEGIN_DIR:
		return UM_OK;
	default:
		return UM_ERR_INVALID;
	}
}

int
relay_msg_encode(const struct relay_msg *m, uint8_t *out, size_t cap, size_t *len)
{
	struct relay_msg back;
	struct wire_wr w;
	int ret;

	wire_wr_init(&w, out, UM_MIN(cap, (size_t)RELAY_DATA_MAX));
	if ((ret = msg_put(&w, m)) != UM_OK)
		return ret;
	/* The parser holds every rule, the StreamID rule included. */
	ret = relay_msg_parse(m->cmd, m->stream_id, out, w.len, &back);
	if (ret != UM_OK)
		return UM_ERR_INVALID;
	*len = w.len;
	return UM_OK;
}
