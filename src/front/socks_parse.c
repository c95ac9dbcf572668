/* SPDX-License-Identifier: MIT */
/*
 * The SOCKS server state machine (socks.h; docs/PROTOCOL.md section 8). Each message is
 * parsed trunnel-style from the bytes buffered so far plus the new input, one field per
 * statement and each value checked as soon as it is read: so every strict prefix of a valid
 * message is UM_ERR_TRUNCATED, an invalid message fails at the same byte however the input is
 * split, and the reply to send is decided by the first field that broke a rule.
 *
 * Buffering: at most SOCKS_MSG_MAX bytes (one maximal message) are copied per feed; a message
 * that parses consumes only its own bytes, so whatever follows (the next message, or the
 * stream's optimistic data after the request) stays with the caller.
 */
#include "front/socks.h"

#include <string.h>
#include <sys/types.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "front/socks_st.h"

/* The outcome of parsing one message: bytes to write and, on failure, the error. */
struct msg_result {
	uint8_t reply[SOCKS5_REPLY_IPV4_LEN];
	size_t reply_len;
	int err;
};

static void
set_reply(struct msg_result *res, const uint8_t *p, size_t n)
{
	memcpy(res->reply, p, n);
	res->reply_len = n;
}

/* A failed SOCKS5 request: 05 rep 00 01 0.0.0.0 0 (RFC 1928 section 6). */
static ssize_t
fail5(struct msg_result *res, uint8_t rep, int err)
{
	const uint8_t r[SOCKS5_REPLY_IPV4_LEN] = { SOCKS5_VERSION, rep, 0, FRONT_HOST_IPV4 };

	set_reply(res, r, sizeof(r));
	res->err = err;
	return err;
}

/* A rejected SOCKS4 request: 00 5B 0 0.0.0.0. */
static ssize_t
fail4(struct msg_result *res, int err)
{
	const uint8_t r[SOCKS4_REPLY_LEN] = { SOCKS4_REPLY_VERSION, SOCKS4_REP_REJECTED };

	set_reply(res, r, sizeof(r));
	res->err = err;
	return err;
}

/*
 * A NUL-terminated string of at most max bytes: *v points at it (NUL excluded), the reader
 * moves past the NUL. UM_ERR_TOO_LARGE as soon as max + 1 bytes arrived without a NUL.
 */
static int
get_cstr(struct wire_rd *r, size_t max, const uint8_t **v, size_t *n)
{
	struct wire_rd t = *r;
	size_t i = 0;
	uint8_t c;
	int ret;

	for (;;) {
		if ((ret = wire_get_u8(&t, &c)) != UM_OK)
			return ret;
		if (c == 0)
			break;
		if (++i > max)
			return UM_ERR_TOO_LARGE;
	}
	if ((ret = wire_get_view(r, i, v)) != UM_OK || (ret = wire_skip(r, 1)) != UM_OK)
		return ret;
	*n = i;
	return UM_OK;
}

/*
 * SOCKS4 / SOCKS4a: VN CD DSTPORT DSTIP USERID 00 [HOST 00]. Any failure replies 00 5B.
 */
static ssize_t
parse_socks4(const uint8_t *in, size_t len, struct front_request *out, struct msg_result *res)
{
	struct wire_rd r;
	struct front_request req;
	const uint8_t *v;
	size_t n;
	uint8_t ver;
	int ret;

	memset(&req, 0, sizeof(req));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &ver)) != UM_OK)
		return ret;
	if (ver != SOCKS4_VERSION)
		return fail4(res, UM_ERR_MALFORMED);
	if ((ret = wire_get_u8(&r, &req.cmd)) != UM_OK)
		return ret;
	if (req.cmd != FRONT_CMD_CONNECT && req.cmd != FRONT_CMD_RESOLVE)
		return fail4(res, UM_ERR_MALFORMED); /* BIND and anything else */
	if ((ret = wire_get_u16(&r, &req.port)) != UM_OK)
		return ret;
	if (req.cmd == FRONT_CMD_CONNECT && req.port == 0)
		return fail4(res, UM_ERR_MALFORMED);
	if ((ret = wire_get_bytes(&r, req.addr, FRONT_IPV4_LEN)) != UM_OK)
		return ret;
	if ((ret = get_cstr(&r, SOCKS4_USERID_MAX, &v, &n)) != UM_OK)
		return ret == UM_ERR_TRUNCATED ? ret : fail4(res, ret);
	if (n > 0) {
		req.iso.kind = FRONT_ISO_SOCKS4_USERID;
		req.iso.user_len = (uint8_t)n;
		memcpy(req.iso.user, v, n);
	}
	/* SOCKS4a: DSTIP 0.0.0.x with x != 0 means "a host name follows". */
	if (req.addr[0] == 0 && req.addr[1] == 0 && req.addr[2] == 0 && req.addr[3] != 0) {
		if ((ret = get_cstr(&r, FRONT_HOST_MAX, &v, &n)) != UM_OK)
			return ret == UM_ERR_TRUNCATED ? ret : fail4(res, ret);
		if (!front_host_is_valid(v, n))
			return fail4(res, UM_ERR_MALFORMED);
		req.proto = FRONT_PROTO_SOCKS4A;
		req.host_type = FRONT_HOST_NAME;
		memset(req.addr, 0, sizeof(req.addr));
		memcpy(req.host, v, n);
		req.host[n] = '\0';
	} else {
		req.proto = FRONT_PROTO_SOCKS4;
		req.host_type = FRONT_HOST_IPV4;
	}
	*out = req;
	um_memzero(&req, sizeof(req));
	return (ssize_t)r.off;
}

/* SOCKS5 greeting: VER NMETHODS METHODS. Picks user/pass if offered (for isolation). */
static ssize_t
parse_greeting(const uint8_t *in, size_t len, uint8_t *method, struct msg_result *res)
{
	static const uint8_t unacceptable[2] = { SOCKS5_VERSION, SOCKS5_METHOD_UNACCEPTABLE };
	struct wire_rd r;
	const uint8_t *methods;
	uint8_t ver, n;
	bool none = false, userpass = false;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &ver)) != UM_OK)
		return ret;
	if (ver != SOCKS5_VERSION)
		return UM_ERR_MALFORMED; /* not reached: the caller dispatched on this byte */
	if ((ret = wire_get_u8(&r, &n)) != UM_OK)
		return ret;
	if ((ret = wire_get_view(&r, n, &methods)) != UM_OK)
		return ret;
	for (size_t i = 0; i < n; i++) {
		none = none || methods[i] == SOCKS5_METHOD_NONE;
		userpass = userpass || methods[i] == SOCKS5_METHOD_USERPASS;
	}
	if (!none && !userpass) {
		/* NMETHODS 0 included: RFC 1928 sends X'FF' and the client closes; so do we. */
		set_reply(res, unacceptable, sizeof(unacceptable));
		res->err = UM_ERR_MALFORMED;
		return UM_ERR_MALFORMED;
	}
	*method = userpass ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_NONE;
	res->reply[0] = SOCKS5_VERSION;
	res->reply[1] = *method;
	res->reply_len = 2;
	return (ssize_t)r.off;
}

/* RFC 1929: VER ULEN UNAME PLEN PASSWD, lengths 1..255. Failure replies 01 01. */
static ssize_t
parse_auth(const uint8_t *in, size_t len, struct front_iso *out, struct msg_result *res)
{
	static const uint8_t failed[2] = { SOCKS5_AUTH_VERSION, SOCKS5_AUTH_FAILED };
	static const uint8_t ok[2] = { SOCKS5_AUTH_VERSION, SOCKS5_AUTH_OK };
	struct wire_rd r;
	const uint8_t *user, *pass;
	uint8_t ver, ulen, plen;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &ver)) != UM_OK)
		return ret;
	if (ver != SOCKS5_AUTH_VERSION)
		goto fail;
	if ((ret = wire_get_u8(&r, &ulen)) != UM_OK)
		return ret;
	if (ulen == 0)
		goto fail;
	if ((ret = wire_get_view(&r, ulen, &user)) != UM_OK)
		return ret;
	if ((ret = wire_get_u8(&r, &plen)) != UM_OK)
		return ret;
	if (plen == 0)
		goto fail;
	if ((ret = wire_get_view(&r, plen, &pass)) != UM_OK)
		return ret;
	memset(out, 0, sizeof(*out));
	out->kind = FRONT_ISO_SOCKS5_USERPASS;
	out->user_len = ulen;
	memcpy(out->user, user, ulen);
	out->pass_len = plen;
	memcpy(out->pass, pass, plen);
	set_reply(res, ok, sizeof(ok));
	return (ssize_t)r.off;
fail:
	set_reply(res, failed, sizeof(failed));
	res->err = UM_ERR_MALFORMED;
	return UM_ERR_MALFORMED;
}

/* SOCKS5 request: VER CMD RSV ATYP DST.ADDR DST.PORT. */
static ssize_t
parse_request5(const uint8_t *in, size_t len, struct front_request *out, struct msg_result *res)
{
	struct wire_rd r;
	struct front_request req;
	const uint8_t *name;
	size_t n;
	uint8_t ver, rsv;
	int ret;

	memset(&req, 0, sizeof(req));
	req.proto = FRONT_PROTO_SOCKS5;
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &ver)) != UM_OK)
		return ret;
	if (ver != SOCKS5_VERSION)
		return fail5(res, SOCKS5_REP_GENERAL_FAILURE, UM_ERR_MALFORMED);
	if ((ret = wire_get_u8(&r, &req.cmd)) != UM_OK)
		return ret;
	if (req.cmd != FRONT_CMD_CONNECT && req.cmd != FRONT_CMD_RESOLVE)
		return fail5(res, SOCKS5_REP_CMD_NOT_SUPPORTED, UM_ERR_MALFORMED);
	if ((ret = wire_get_u8(&r, &rsv)) != UM_OK)
		return ret;
	if (rsv != 0)
		return fail5(res, SOCKS5_REP_GENERAL_FAILURE, UM_ERR_MALFORMED);
	if ((ret = wire_get_u8(&r, &req.host_type)) != UM_OK)
		return ret;
	switch (req.host_type) {
	case FRONT_HOST_IPV4:
		ret = wire_get_bytes(&r, req.addr, FRONT_IPV4_LEN);
		break;
	case FRONT_HOST_IPV6:
		ret = wire_get_bytes(&r, req.addr, FRONT_IPV6_LEN);
		break;
	case FRONT_HOST_NAME:
		if ((ret = wire_get_lv8(&r, FRONT_HOST_MAX, &name, &n)) != UM_OK)
			break;
		if (!front_host_is_valid(name, n))
			return fail5(res, SOCKS5_REP_GENERAL_FAILURE, UM_ERR_MALFORMED);
		memcpy(req.host, name, n);
		req.host[n] = '\0';
		break;
	default:
		return fail5(res, SOCKS5_REP_ATYP_NOT_SUPPORTED, UM_ERR_MALFORMED);
	}
	if (ret != UM_OK)
		return ret;
	if ((ret = wire_get_u16(&r, &req.port)) != UM_OK)
		return ret;
	if (req.cmd == FRONT_CMD_CONNECT && req.port == 0)
		return fail5(res, SOCKS5_REP_GENERAL_FAILURE, UM_ERR_MALFORMED);
	*out = req;
	return (ssize_t)r.off;
}

/* Parse the message the state expects from in[0, len). */
static ssize_t
parse_message(struct socks_server *s, const uint8_t *in, size_t len, uint8_t *method,
              struct msg_result *res)
{
	switch (s->state) {
	case SOCKS_ST_FIRST:
		if (len == 0)
			return UM_ERR_TRUNCATED;
		if (in[0] == SOCKS4_VERSION)
			return parse_socks4(in, len, &s->req, res);
		if (in[0] == SOCKS5_VERSION)
			return parse_greeting(in, len, method, res);
		res->err = UM_ERR_MALFORMED; /* not SOCKS at all: close without a reply */
		return UM_ERR_MALFORMED;
	case SOCKS_ST_AUTH:
		return parse_auth(in, len, &s->iso, res);
	case SOCKS_ST_REQUEST:
		return parse_request5(in, len, &s->req, res);
	default:
		return UM_ERR_STATE;
	}
}

static void
out_append(struct socks_step *step, const uint8_t *p, size_t n)
{
	/* Bounded by construction: 2 + 2 + 10 <= SOCKS_OUT_MAX. */
	if (n > SOCKS_OUT_MAX - step->out_len)
		n = SOCKS_OUT_MAX - step->out_len;
	memcpy(step->out + step->out_len, p, n);
	step->out_len += n;
}

int
socks_server_feed(struct socks_server *s, const uint8_t *in, size_t len, struct socks_step *step)
{
	size_t off = 0;

	memset(step, 0, sizeof(*step));
	if (s->state == SOCKS_ST_DONE || s->state == SOCKS_ST_FAILED)
		return UM_ERR_STATE;
	for (;;) {
		struct msg_result res;
		size_t take = UM_MIN(len - off, SOCKS_MSG_MAX - s->msg_len);
		size_t have = s->msg_len + take;
		uint8_t method = 0;
		ssize_t n;

		memset(&res, 0, sizeof(res));
		if (take > 0)
			memcpy(s->msg + s->msg_len, in + off, take);
		n = parse_message(s, s->msg, have, &method, &res);
		if (n == UM_ERR_TRUNCATED) {
			if (have == SOCKS_MSG_MAX) {
				/* Impossible: no message is longer than SOCKS_MSG_MAX. */
				s->state = SOCKS_ST_FAILED;
				step->ev = SOCKS_EV_FAILED;
				step->err = UM_ERR_INTERNAL;
				step->consumed = len;
				return UM_OK;
			}
			s->msg_len = have;
			step->ev = SOCKS_EV_NEED_MORE;
			step->consumed = len;
			return UM_OK;
		}
		if (n < 0) {
			out_append(step, res.reply, res.reply_len);
			um_memzero(s->msg, sizeof(s->msg));
			s->msg_len = 0;
			s->state = SOCKS_ST_FAILED;
			step->ev = SOCKS_EV_FAILED;
			step->err = res.err != 0 ? res.err : (int)n;
			step->consumed = off + take;
			return UM_OK;
		}
		/* n > s->msg_len: the bytes buffered earlier were a strict prefix (TRUNCATED). */
		off += (size_t)n - s->msg_len;
		um_memzero(s->msg, sizeof(s->msg)); /* it may have held a password */
		s->msg_len = 0;
		out_append(step, res.reply, res.reply_len);
		switch (s->state) {
		case SOCKS_ST_FIRST:
			if (s->req.proto == FRONT_PROTO_SOCKS4 ||
			    s->req.proto == FRONT_PROTO_SOCKS4A) {
				s->state = SOCKS_ST_DONE;
				break;
			}
			s->state =
			        method == SOCKS5_METHOD_USERPASS ? SOCKS_ST_AUTH : SOCKS_ST_REQUEST;
			continue;
		case SOCKS_ST_AUTH:
			s->state = SOCKS_ST_REQUEST;
			continue;
		default:
			s->req.iso = s->iso;
			um_memzero(&s->iso, sizeof(s->iso));
			s->state = SOCKS_ST_DONE;
			break;
		}
		s->have_req = true;
		step->ev = SOCKS_EV_REQUEST;
		step->consumed = off;
		return UM_OK;
	}
}
