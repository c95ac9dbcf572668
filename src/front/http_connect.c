/* SPDX-License-Identifier: MIT */
/*
 * HTTP CONNECT responses, END-reason mapping, the parser object's lifetime and a client-side
 * request encoder for tests and tools (http_connect.h; docs/PROTOCOL.md section 9). The
 * parser is in http_connect_parse.c.
 */
#include "front/http_connect.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "front/http_connect_st.h"

struct http_connect *
http_connect_new(void)
{
	struct http_connect *h = um_xcalloc(1, sizeof(*h));

	h->state = HC_ST_REQUEST_LINE;
	return h;
}

void
http_connect_free_(struct http_connect *h)
{
	if (h == NULL)
		return;
	um_memzero(h, sizeof(*h));
	free(h);
}

const struct front_request *
http_connect_request(const struct http_connect *h)
{
	return h->have_req ? &h->req : NULL;
}

int
http_connect_status_from_end_reason(int reason)
{
	switch (reason) {
	case FRONT_END_EXITPOLICY:
		return 403;
	case FRONT_END_RESOLVEFAILED:
		return 404;
	case FRONT_END_TIMEOUT:
		return 504;
	default:
		return 502;
	}
}

int
http_connect_reply_success(struct wire_wr *w)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	return wire_put_bytes(w, ok, sizeof(ok) - 1);
}

struct http_error {
	int status;
	const char *reason;
	const char *body;
};

/* Every error response we send; docs/PROTOCOL.md 9.3 lists the same table. */
static const struct http_error http_errors[] = {
	{ 400, "Bad Request", "malformed CONNECT request\n" },
	{ 403, "Forbidden", "the exit policy refuses this destination\n" },
	{ 404, "Not Found", "the destination host name did not resolve\n" },
	{ 405, "Method Not Allowed", "this is an HTTP CONNECT proxy: only CONNECT is allowed\n" },
	{ 431, "Request Header Fields Too Large", "request head over 8192 bytes or 64 headers\n" },
	{ 502, "Bad Gateway", "cannot reach the destination\n" },
	{ 504, "Gateway Timeout", "the destination did not answer in time\n" },
};

int
http_connect_reply_error(int status, struct wire_wr *w)
{
	const struct http_error *e = NULL;
	char head[256];
	size_t blen;
	int n;

	for (size_t i = 0; i < UM_ARRAY_LEN(http_errors); i++) {
		if (http_errors[i].status == status)
			e = &http_errors[i];
	}
	if (e == NULL)
		return UM_ERR_INVALID;
	blen = strlen(e->body);
	n = snprintf(head, sizeof(head),
	             "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	             "Connection: close\r\n\r\n",
	             e->status, e->reason, status == 405 ? "Allow: CONNECT\r\n" : "", blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return UM_ERR_INTERNAL;
	if (wire_wr_left(w) < (size_t)n + blen)
		return UM_ERR_TOO_LARGE;
	if (wire_put_bytes(w, head, (size_t)n) != UM_OK ||
	    wire_put_bytes(w, e->body, blen) != UM_OK)
		return UM_ERR_INTERNAL;
	return UM_OK;
}

int
http_connect_reply_failure(int reason, struct wire_wr *w)
{
	return http_connect_reply_error(http_connect_status_from_end_reason(reason), w);
}

int
http_connect_request_encode(const struct front_request *req, struct wire_wr *w)
{
	char host[FRONT_HOST_MAX + 3];
	char line[2 * sizeof(host) + 64];
	char cred[HTTP_CONNECT_CRED_MAX];
	char b64[BASE64_LEN(HTTP_CONNECT_CRED_MAX)];
	size_t start = w->len, clen;
	int n, ret = UM_ERR_INVALID;

	if (req->cmd != FRONT_CMD_CONNECT || req->port == 0)
		return UM_ERR_INVALID;
	switch (req->host_type) {
	case FRONT_HOST_IPV4:
		if (inet_ntop(AF_INET, req->addr, host, sizeof(host)) == NULL)
			return UM_ERR_INVALID;
		break;
	case FRONT_HOST_IPV6:
		host[0] = '[';
		if (inet_ntop(AF_INET6, req->addr, host + 1, sizeof(host) - 2) == NULL)
			return UM_ERR_INVALID;
		strcat(host, "]");
		break;
	case FRONT_HOST_NAME:
		n = snprintf(host, sizeof(host), "%s", req->host);
		if (n <= 0 || (size_t)n >= sizeof(host))
			return UM_ERR_INVALID;
		break;
	default:
		return UM_ERR_INVALID;
	}
	n = snprintf(line, sizeof(line), "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n", host,
	             (unsigned)req->port, host, (unsigned)req->port);
	if (n < 0 || (size_t)n >= sizeof(line))
		return UM_ERR_INVALID;
	if ((ret = wire_put_bytes(w, line, (size_t)n)) != UM_OK)
		goto out;
	if (req->iso.kind == FRONT_ISO_HTTP_BASIC) {
		ret = UM_ERR_INVALID;
		if (memchr(req->iso.user, ':', req->iso.user_len) != NULL)
			goto out;
		memcpy(cred, req->iso.user, req->iso.user_len);
		cred[req->iso.user_len] = ':';
		memcpy(cred + req->iso.user_len + 1, req->iso.pass, req->iso.pass_len);
		clen = (size_t)req->iso.user_len + 1 + req->iso.pass_len;
		if ((ret = enc_base64(b64, sizeof(b64), cred, clen)) != UM_OK)
			goto out;
		if ((ret = wire_put_bytes(w, "Proxy-Authorization: Basic ", 27)) != UM_OK ||
		    (ret = wire_put_bytes(w, b64, strlen(b64))) != UM_OK ||
		    (ret = wire_put_bytes(w, "\r\n", 2)) != UM_OK)
			goto out;
	} else if (req->iso.kind != FRONT_ISO_NONE) {
		ret = UM_ERR_INVALID;
		goto out;
	}
	ret = wire_put_bytes(w, "\r\n", 2);
out:
	um_memzero(cred, sizeof(cred));
	um_memzero(b64, sizeof(b64));
	if (ret != UM_OK)
		w->len = start;
	return ret;
}
