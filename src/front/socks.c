/* SPDX-License-Identifier: MIT */
/*
 * SOCKS replies and END-reason mapping, the server object's lifetime, and a client-side
 * request encoder for tests and tools (socks.h; docs/PROTOCOL.md section 8). The state
 * machine is in socks_parse.c.
 */
#include "front/socks.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "front/socks_st.h"

struct socks_server *
socks_server_new(void)
{
	struct socks_server *s = um_xcalloc(1, sizeof(*s));

	s->state = SOCKS_ST_FIRST;
	return s;
}

void
socks_server_free_(struct socks_server *s)
{
	if (s == NULL)
		return;
	um_memzero(s, sizeof(*s));
	free(s);
}

const struct front_request *
socks_server_request(const struct socks_server *s)
{
	return s->have_req ? &s->req : NULL;
}

uint8_t
socks5_rep_from_end_reason(int reason)
{
	switch (reason) {
	case FRONT_END_EXITPOLICY:
		return SOCKS5_REP_NOT_ALLOWED;
	case FRONT_END_RESOLVEFAILED:
		return SOCKS5_REP_HOST_UNREACHABLE;
	case FRONT_END_CONNECTREFUSED:
		return SOCKS5_REP_CONN_REFUSED;
	case FRONT_END_TIMEOUT:
		return SOCKS5_REP_TTL_EXPIRED;
	case FRONT_END_NOROUTE:
		return SOCKS5_REP_NET_UNREACHABLE;
	default:
		return SOCKS5_REP_GENERAL_FAILURE;
	}
}

uint8_t
socks4_rep_from_end_reason(int reason)
{
	(void)reason; /* SOCKS4 has a single failure code */
	return SOCKS4_REP_REJECTED;
}

int
socks5_reply_encode(uint8_t rep, const struct front_addr *bound, struct wire_wr *w)
{
	static const struct front_addr zero = { .type = FRONT_HOST_IPV4 };
	size_t alen, need;
	int ret;

	if (bound == NULL)
		bound = &zero;
	if (bound->type == FRONT_HOST_IPV4)
		alen = FRONT_IPV4_LEN;
	else if (bound->type == FRONT_HOST_IPV6)
		alen = FRONT_IPV6_LEN;
	else
		return UM_ERR_INVALID;
	need = 4 + alen + 2;
	if (wire_wr_left(w) < need)
		return UM_ERR_TOO_LARGE;
	if ((ret = wire_put_u8(w, SOCKS5_VERSION)) != UM_OK ||
	    (ret = wire_put_u8(w, rep)) != UM_OK || (ret = wire_put_u8(w, 0)) != UM_OK ||
	    (ret = wire_put_u8(w, bound->type)) != UM_OK ||
	    (ret = wire_put_bytes(w, bound->addr, alen)) != UM_OK ||
	    (ret = wire_put_u16(w, bound->port)) != UM_OK)
		return ret;
	return UM_OK;
}

int
socks4_reply_encode(uint8_t cd, const struct front_addr *bound, struct wire_wr *w)
{
	static const struct front_addr zero = { .type = FRONT_HOST_IPV4 };
	int ret;

	if (bound == NULL || bound->type != FRONT_HOST_IPV4)
		bound = &zero;
	if (wire_wr_left(w) < SOCKS4_REPLY_LEN)
		return UM_ERR_TOO_LARGE;
	if ((ret = wire_put_u8(w, SOCKS4_REPLY_VERSION)) != UM_OK ||
	    (ret = wire_put_u8(w, cd)) != UM_OK || (ret = wire_put_u16(w, bound->port)) != UM_OK ||
	    (ret = wire_put_bytes(w, bound->addr, FRONT_IPV4_LEN)) != UM_OK)
		return ret;
	return UM_OK;
}

int
socks_reply_success(const struct front_request *req, const struct front_addr *bound,
                    struct wire_wr *w)
{
	switch (req->proto) {
	case FRONT_PROTO_SOCKS5:
		return socks5_reply_encode(SOCKS5_REP_SUCCEEDED, bound, w);
	case FRONT_PROTO_SOCKS4:
	case FRONT_PROTO_SOCKS4A:
		/* A RESOLVE answer must fit DSTIP; CONNECT's bound address is informational. */
		if (req->cmd == FRONT_CMD_RESOLVE &&
		    (bound == NULL || bound->type != FRONT_HOST_IPV4))
			return UM_ERR_INVALID;
		return socks4_reply_encode(SOCKS4_REP_GRANTED, bound, w);
	default:
		return UM_ERR_INVALID;
	}
}

int
socks_reply_failure(const struct front_request *req, int reason, struct wire_wr *w)
{
	switch (req->proto) {
	case FRONT_PROTO_SOCKS5:
		return socks5_reply_encode(socks5_rep_from_end_reason(reason), NULL, w);
	case FRONT_PROTO_SOCKS4:
	case FRONT_PROTO_SOCKS4A:
		return socks4_reply_encode(socks4_rep_from_end_reason(reason), NULL, w);
	default:
		return UM_ERR_INVALID;
	}
}

static int
encode5(const struct front_request *req, struct wire_wr *w)
{
	const struct front_iso *iso = &req->iso;
	bool userpass = iso->kind == FRONT_ISO_SOCKS5_USERPASS;
	size_t hlen = strnlen(req->host, sizeof(req->host));
	int ret;

	if (iso->kind != FRONT_ISO_NONE && !userpass)
		return UM_ERR_INVALID;
	if (userpass && (iso->user_len == 0 || iso->pass_len == 0))
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, SOCKS5_VERSION)) != UM_OK || (ret = wire_put_u8(w, 1)) != UM_OK ||
	    (ret = wire_put_u8(w, userpass ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_NONE)) != UM_OK)
		return ret;
	if (userpass && ((ret = wire_put_u8(w, SOCKS5_AUTH_VERSION)) != UM_OK ||
	                 (ret = wire_put_lv8(w, iso->user, iso->user_len)) != UM_OK ||
	                 (ret = wire_put_lv8(w, iso->pass, iso->pass_len)) != UM_OK))
		return ret;
	if ((ret = wire_put_u8(w, SOCKS5_VERSION)) != UM_OK ||
	    (ret = wire_put_u8(w, req->cmd)) != UM_OK || (ret = wire_put_u8(w, 0)) != UM_OK ||
	    (ret = wire_put_u8(w, req->host_type)) != UM_OK)
		return ret;
	switch (req->host_type) {
	case FRONT_HOST_IPV4:
		ret = wire_put_bytes(w, req->addr, FRONT_IPV4_LEN);
		break;
	case FRONT_HOST_IPV6:
		ret = wire_put_bytes(w, req->addr, FRONT_IPV6_LEN);
		break;
	case FRONT_HOST_NAME:
		if (!front_host_is_valid((const uint8_t *)req->host, hlen))
			return UM_ERR_INVALID;
		ret = wire_put_lv8(w, req->host, hlen);
		break;
	default:
		return UM_ERR_INVALID;
	}
	if (ret != UM_OK)
		return ret;
	return wire_put_u16(w, req->port);
}

static int
encode4(const struct front_request *req, struct wire_wr *w)
{
	static const uint8_t socks4a_ip[4] = { 0, 0, 0, 1 };
	const struct front_iso *iso = &req->iso;
	size_t hlen = strnlen(req->host, sizeof(req->host));
	bool is4a = req->proto == FRONT_PROTO_SOCKS4A;
	int ret;

	if (iso->kind != FRONT_ISO_NONE && iso->kind != FRONT_ISO_SOCKS4_USERID)
		return UM_ERR_INVALID;
	if (memchr(iso->user, 0, iso->user_len) != NULL)
		return UM_ERR_INVALID;
	if (is4a ? (req->host_type != FRONT_HOST_NAME ||
	            !front_host_is_valid((const uint8_t *)req->host, hlen))
	         : (req->host_type != FRONT_HOST_IPV4 || (req->addr[0] == 0 && req->addr[1] == 0 &&
	                                                  req->addr[2] == 0 && req->addr[3] != 0)))
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, SOCKS4_VERSION)) != UM_OK ||
	    (ret = wire_put_u8(w, req->cmd)) != UM_OK ||
	    (ret = wire_put_u16(w, req->port)) != UM_OK ||
	    (ret = wire_put_bytes(w, is4a ? socks4a_ip : req->addr, FRONT_IPV4_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, iso->user, iso->user_len)) != UM_OK ||
	    (ret = wire_put_u8(w, 0)) != UM_OK)
		return ret;
	if (is4a && ((ret = wire_put_bytes(w, req->host, hlen)) != UM_OK ||
	             (ret = wire_put_u8(w, 0)) != UM_OK))
		return ret;
	return UM_OK;
}

int
socks_request_encode(const struct front_request *req, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (req->cmd != FRONT_CMD_CONNECT && req->cmd != FRONT_CMD_RESOLVE)
		return UM_ERR_INVALID;
	if (req->cmd == FRONT_CMD_CONNECT && req->port == 0)
		return UM_ERR_INVALID;
	switch (req->proto) {
	case FRONT_PROTO_SOCKS5:
		ret = encode5(req, w);
		break;
	case FRONT_PROTO_SOCKS4:
	case FRONT_PROTO_SOCKS4A:
		ret = encode4(req, w);
		break;
	default:
		ret = UM_ERR_INVALID;
		break;
	}
	if (ret != UM_OK)
		w->len = start; /* nothing left appended */
	return ret;
}
