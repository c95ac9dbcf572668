/* SPDX-License-Identifier: MIT */
/*
 * The HTTP CONNECT request parser (http_connect.h; docs/PROTOCOL.md section 9). Bytes go in
 * one at a time through a wire_rd into a fixed line buffer, so a split anywhere gives the
 * same result; each line is judged when its CRLF arrives, and the verdict for a line never
 * depends on what follows it.
 *
 * Grammar (RFC 9110 9.3.6, RFC 9112 3 and 5): request-line = method SP authority SP
 * HTTP-version CRLF; field-line = token ":" OWS value OWS CRLF; the head ends with an empty
 * line. Lines end with CRLF only: a bare CR or LF, a control byte other than HTAB, obs-fold
 * (a line starting with SP or HTAB) or a space before the colon are 400, as are
 * Transfer-Encoding and a Content-Length other than 0 (the bytes after the head are tunnel
 * data; a body would make two parsers disagree about where it starts).
 */
#include "front/http_connect.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "front/http_connect_st.h"

/* ---- character classes (RFC 9110 5.6.2) ---- */

static bool
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* A DNS name character as we accept it in an authority: letters, digits, "-", ".", "_". */
static bool
is_name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '.' || c == '_';
}

/* ---- request line ---- */

/* port = 1*5DIGIT, 1..65535. */
static int
parse_port(const uint8_t *s, size_t n, uint16_t *port)
{
	uint32_t v = 0;

	if (n == 0 || n > 5)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return UM_ERR_MALFORMED;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return UM_ERR_MALFORMED;
	*port = (uint16_t)v;
	return UM_OK;
}

/* authority = ( "[" IPv6 "]" / IPv4 / name ) ":" port, into req. */
static int
parse_authority(const uint8_t *s, size_t n, struct front_request *req)
{
	char tmp[FRONT_HOST_MAX + 1];
	size_t colon, hlen;
	bool numeric = true;

	if (n > 0 && s[0] == '[') {
		size_t close = 1;

		while (close < n && s[close] != ']')
			close++;
		if (close == n || close + 1 >= n || s[close + 1] != ':')
			return UM_ERR_MALFORMED;
		hlen = close - 1;
		if (hlen == 0 || hlen >= sizeof(tmp))
			return UM_ERR_MALFORMED;
		memcpy(tmp, s + 1, hlen);
		tmp[hlen] = '\0';
		/* inet_pton refuses zone ids ("%eth0") and anything but the RFC 4291 text forms. */
		if (inet_pton(AF_INET6, tmp, req->addr) != 1)
			return UM_ERR_MALFORMED;
		req->host_type = FRONT_HOST_IPV6;
		return parse_port(s + close + 2, n - close - 2, &req->port);
	}
	colon = n;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':') {
			colon = i;
			break;
		}
	}
	if (colon == n)
		return UM_ERR_MALFORMED; /* the port is required */
	hlen = colon;
	if (hlen == 0 || hlen > FRONT_HOST_MAX)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < hlen; i++) {
		if (!is_name_char(s[i]))
			return UM_ERR_MALFORMED;
		numeric = numeric && (is_digit(s[i]) || s[i] == '.');
	}
	if (numeric) {
		/* All digits and dots: an IPv4 address or nothing (inet_pton takes exactly four
		 * decimal parts without leading zeros: no "1.2.3", no octal). */
		if (hlen >= sizeof(tmp))
			return UM_ERR_MALFORMED;
		memcpy(tmp, s, hlen);
		tmp[hlen] = '\0';
		if (inet_pton(AF_INET, tmp, req->addr) != 1)
			return UM_ERR_MALFORMED;
		req->host_type = FRONT_HOST_IPV4;
	} else {
		if (!front_host_is_valid(s, hlen))
			return UM_ERR_MALFORMED;
		memcpy(req->host, s, hlen);
		req->host[hlen] = '\0';
		req->host_type = FRONT_HOST_NAME;
	}
	return parse_port(s + colon + 1, n - colon - 1, &req->port);
}

/* Returns UM_OK, or the HTTP status to fail with (400 or 405). */
static int
parse_request_line(struct http_connect *h, const uint8_t *s, size_t n)
{
	struct wire_rd r;
	const uint8_t *method, *target, *version;
	size_t mlen = 0, tlen = 0;
	uint8_t c;

	wire_rd_init(&r, s, n);
	/* method SP */
	method = s;
	for (;;) {
		if (wire_get_u8(&r, &c) != UM_OK)
			return 400;
		if (c == ' ')
			break;
		if (!is_tchar(c) || ++mlen > HTTP_CONNECT_METHOD_MAX)
			return 400;
	}
	if (mlen == 0)
		return 400;
	if (mlen != 7 || memcmp(method, "CONNECT", 7) != 0)
		return 405; /* methods are case-sensitive (RFC 9110 9.1) */
	/* authority SP */
	target = s + r.off;
	for (;;) {
		if (wire_get_u8(&r, &c) != UM_OK)
			return 400;
		if (c == ' ')
			break;
		tlen++;
	}
	/* HTTP-version, then the end of the line */
	if (wire_get_view(&r, 8, &version) != UM_OK || wire_expect_end(&r) != UM_OK)
		return 400;
	if (memcmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1'))
		return 400;
	if (parse_authority(target, tlen, &h->req) != UM_OK)
		return 400;
	h->req.proto = FRONT_PROTO_HTTP_CONNECT;
	h->req.cmd = FRONT_CMD_CONNECT;
	return UM_OK;
}

/* ---- header lines ---- */

/* "Basic" 1*SP token68, decoded into the isolation key. */
static int
parse_basic(struct http_connect *h, const uint8_t *v, size_t n)
{
	uint8_t cred[HTTP_CONNECT_CRED_MAX];
	size_t i = 5, colon;
	ssize_t dlen;
	int ret = UM_ERR_MALFORMED;

	if (n < 6 || strncasecmp((const char *)v, "Basic", 5) != 0 || v[5] != ' ')
		return UM_ERR_MALFORMED; /* only Basic: another scheme would lose the isolation */
	while (i < n && v[i] == ' ')
		i++;
	dlen = dec_base64(cred, sizeof(cred), (const char *)v + i, n - i);
	if (dlen < 0)
		goto out; /* bad base64, or credentials over HTTP_CONNECT_CRED_MAX */
	colon = (size_t)dlen;
	for (size_t j = 0; j < (size_t)dlen; j++) {
		if (cred[j] == ':') {
			colon = j;
			break;
		}
	}
	/* RFC 7617: user-id ":" password; the user-id has no colon, the password may. */
	if (colon == (size_t)dlen || colon > FRONT_ISO_FIELD_MAX ||
	    (size_t)dlen - colon - 1 > FRONT_ISO_FIELD_MAX)
		goto out;
	h->req.iso.kind = FRONT_ISO_HTTP_BASIC;
	h->req.iso.user_len = (uint8_t)colon;
	memcpy(h->req.iso.user, cred, colon);
	h->req.iso.pass_len = (uint8_t)((size_t)dlen - colon - 1);
	memcpy(h->req.iso.pass, cred + colon + 1, h->req.iso.pass_len);
	ret = UM_OK;
out:
	um_memzero(cred, sizeof(cred));
	return ret;
}

/* Returns UM_OK, or the HTTP status to fail with (400). */
static int
parse_header(struct http_connect *h, const uint8_t *s, size_t n)
{
	size_t colon = 0, vs, ve;

	if (n > 0 && is_ows(s[0]))
		return 400; /* obs-fold */
	while (colon < n && is_tchar(s[colon]))
		colon++;
	if (colon == 0 || colon == n || s[colon] != ':')
		return 400; /* empty name, no colon, or a space or other byte before the colon */
	for (size_t i = colon + 1; i < n; i++) {
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 400;
	}
	vs = colon + 1;
	ve = n;
	while (vs < ve && is_ows(s[vs]))
		vs++;
	while (ve > vs && is_ows(s[ve - 1]))
		ve--;
	if (colon == 19 && strncasecmp((const char *)s, "Proxy-Authorization", 19) == 0) {
		if (h->have_auth)
			return 400;
		h->have_auth = true;
		return parse_basic(h, s + vs, ve - vs) == UM_OK ? UM_OK : 400;
	}
	if (colon == 17 && strncasecmp((const char *)s, "Transfer-Encoding", 17) == 0)
		return 400;
	if (colon == 14 && strncasecmp((const char *)s, "Content-Length", 14) == 0)
		return ve - vs == 1 && s[vs] == '0' ? UM_OK : 400;
	return UM_OK;
}

/* ---- the feed ---- */

static void
fail(struct http_connect *h, struct http_connect_step *step, int status, int err)
{
	struct wire_wr w;

	wire_wr_init(&w, step->out, sizeof(step->out));
	/* Every status passed here has a response that fits HTTP_CONNECT_OUT_MAX. */
	if (http_connect_reply_error(status, &w) != UM_OK)
		w.len = 0;
	step->out_len = w.len;
	step->ev = HTTP_CONNECT_EV_FAILED;
	step->status = status;
	step->err = err;
	h->state = HC_ST_FAILED;
	um_memzero(&h->req, sizeof(h->req));
	um_memzero(h->line, sizeof(h->line));
}

int
http_connect_feed(struct http_connect *h, const uint8_t *in, size_t len,
                  struct http_connect_step *step)
{
	struct wire_rd r;
	uint8_t c;
	int status;

	memset(step, 0, sizeof(*step));
	if (h->state == HC_ST_DONE || h->state == HC_ST_FAILED)
		return UM_ERR_STATE;
	wire_rd_init(&r, in, len);
	while (wire_get_u8(&r, &c) == UM_OK) {
		step->consumed = r.off;
		if (++h->head_len > HTTP_CONNECT_HEAD_MAX) {
			fail(h, step, 431, UM_ERR_TOO_LARGE);
			return UM_OK;
		}
		if (h->cr) {
			if (c != '\n') {
				fail(h, step, 400, UM_ERR_MALFORMED); /* bare CR */
				return UM_OK;
			}
			h->cr = false;
		} else if (c == '\r') {
			h->cr = true;
			continue;
		} else if (c == '\n') {
			fail(h, step, 400, UM_ERR_MALFORMED); /* bare LF */
			return UM_OK;
		} else {
			/* head_len bounds line_len: the line always fits. */
			h->line[h->line_len++] = c;
			continue;
		}
		/* A complete line in line[0, line_len). */
		if (h->state == HC_ST_REQUEST_LINE) {
			status = parse_request_line(h, h->line, h->line_len);
			h->state = HC_ST_HEADERS;
		} else if (h->line_len == 0) {
			h->state = HC_ST_DONE;
			h->have_req = true;
			step->ev = HTTP_CONNECT_EV_REQUEST;
			um_memzero(h->line, sizeof(h->line));
			return UM_OK;
		} else if (++h->n_headers > HTTP_CONNECT_HEADERS_MAX) {
			fail(h, step, 431, UM_ERR_TOO_LARGE);
			return UM_OK;
		} else {
			status = parse_header(h, h->line, h->line_len);
		}
		if (status != UM_OK) {
			fail(h, step, status, UM_ERR_MALFORMED);
			return UM_OK;
		}
		h->line_len = 0;
	}
	step->ev = HTTP_CONNECT_EV_NEED_MORE;
	step->consumed = len;
	return UM_OK;
}
