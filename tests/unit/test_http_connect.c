/* SPDX-License-Identifier: MIT */
/*
 * HTTP CONNECT front end (docs/PROTOCOL.md section 9): valid heads with the request decoded
 * (DNS name, IPv4, IPv6, Basic credentials as the isolation key), malformed heads with the
 * exact response bytes (400, 405, 431), each fed in one chunk and in chunks of 1, 2, 3 and 7
 * bytes; optimistic data after the head left to the caller; every strict prefix of a valid
 * head is "need more"; the head and header-count limits at and over the edge; the success
 * and END-reason responses as frozen bytes; request encoder round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "front/front.h"
#include "front/http_connect.h"

/* Frozen responses (docs/PROTOCOL.md 9.3). */
#define R400                                                       \
	"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n" \
	"Content-Length: 26\r\nConnection: close\r\n\r\nmalformed CONNECT request\n"
#define R403                                                                           \
	"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"                       \
	"Content-Length: 41\r\nConnection: close\r\n\r\nthe exit policy refuses this " \
	"destination\n"
#define R404                                                                                \
	"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"                            \
	"Content-Length: 42\r\nConnection: close\r\n\r\nthe destination host name did not " \
	"resolve\n"
#define R405                                                                                \
	"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Type: text/plain\r\n" \
	"Content-Length: 55\r\nConnection: close\r\n\r\n"                                   \
	"this is an HTTP CONNECT proxy: only CONNECT is allowed\n"
#define R431                                                                                 \
	"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"       \
	"Content-Length: 43\r\nConnection: close\r\n\r\nrequest head over 8192 bytes or 64 " \
	"headers\n"
#define R502                                                       \
	"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n" \
	"Content-Length: 29\r\nConnection: close\r\n\r\ncannot reach the destination\n"
#define R504                                                           \
	"HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\n" \
	"Content-Length: 39\r\nConnection: close\r\n\r\nthe destination did not answer in time\n"

enum { BIG = 16384 };

struct run {
	uint8_t ev;
	int err, status;
	size_t consumed;
	size_t out_len;
	uint8_t out[HTTP_CONNECT_OUT_MAX];
	bool have_req;
	struct front_request req;
};

static void
run_hc(const uint8_t *in, size_t len, size_t chunk, struct run *res)
{
	struct http_connect *h = http_connect_new();
	size_t off = 0;

	memset(res, 0, sizeof(*res));
	res->ev = HTTP_CONNECT_EV_NEED_MORE;
	do {
		struct http_connect_step step;
		size_t n = chunk == 0 ? len - off : UM_MIN(chunk, len - off);

		assert_int_equal(http_connect_feed(h, in + off, n, &step), UM_OK);
		res->ev = step.ev;
		if (step.ev == HTTP_CONNECT_EV_NEED_MORE) {
			assert_int_equal(step.consumed, n);
			assert_int_equal(step.out_len, 0);
			assert_null(http_connect_request(h));
		} else if (step.ev == HTTP_CONNECT_EV_REQUEST) {
			assert_true(step.consumed <= n);
			assert_int_equal(step.out_len, 0);
			res->consumed = off + step.consumed;
			res->have_req = true;
			res->req = *http_connect_request(h);
		} else {
			res->err = step.err;
			res->status = step.status;
			res->out_len = step.out_len;
			memcpy(res->out, step.out, step.out_len);
			assert_null(http_connect_request(h));
		}
		off += n;
	} while (res->ev == HTTP_CONNECT_EV_NEED_MORE && off < len);
	if (res->ev != HTTP_CONNECT_EV_NEED_MORE) {
		struct http_connect_step step;

		assert_int_equal(http_connect_feed(h, (const uint8_t *)"x", 1, &step),
		                 UM_ERR_STATE);
	}
	http_connect_free(h);
	assert_null(h);
}

struct valid_case {
	const char *in;
	uint8_t host_type;
	const char *host;
	uint8_t addr[16];
	uint16_t port;
	uint8_t iso_kind;
	const char *user, *pass;
};

static const struct valid_case valid_cases[] = {
	{ "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
	  "User-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n",
	  FRONT_HOST_NAME,
	  "example.com",
	  { 0 },
	  443,
	  FRONT_ISO_NONE,
	  "",
	  "" },
	{ "CONNECT 93.184.216.34:80 HTTP/1.0\r\n\r\n",
	  FRONT_HOST_IPV4,
	  "",
	  { 93, 184, 216, 34 },
	  80,
	  FRONT_ISO_NONE,
	  "",
	  "" },
	{ "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
	  "proxy-authorization:   Basic dXNlcjpwYXNz  \r\n\r\n",
	  FRONT_HOST_IPV6,
	  "",
	  { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	  8443,
	  FRONT_ISO_HTTP_BASIC,
	  "user",
	  "pass" },
	{ "CONNECT a-b_c.anon:65535 HTTP/1.1\r\nContent-Length: 0\r\nX-Empty:\r\n"
	  "Proxy-Authorization: basic Og==\r\n\r\n",
	  FRONT_HOST_NAME,
	  "a-b_c.anon",
	  { 0 },
	  65535,
	  FRONT_ISO_HTTP_BASIC,
	  "",
	  "" },
	{ "CONNECT [::ffff:1.2.3.4]:1 HTTP/1.1\r\nProxy-Authorization: Basic dTpwOnE=\r\n\r\n",
	  FRONT_HOST_IPV6,
	  "",
	  { [10] = 0xff, 0xff, 1, 2, 3, 4 },
	  1,
	  FRONT_ISO_HTTP_BASIC,
	  "u",
	  "p:q" },
	{ "CONNECT 1.2.3.4.example:22 HTTP/1.1\r\n\r\n",
	  FRONT_HOST_NAME,
	  "1.2.3.4.example",
	  { 0 },
	  22,
	  FRONT_ISO_NONE,
	  "",
	  "" },
};

static const size_t chunks[] = { 0, 1, 2, 3, 7 };

static void
check_valid(const struct valid_case *c, const struct run *res, size_t len)
{
	assert_int_equal(res->ev, HTTP_CONNECT_EV_REQUEST);
	assert_int_equal(res->consumed, len);
	assert_int_equal(res->req.proto, FRONT_PROTO_HTTP_CONNECT);
	assert_int_equal(res->req.cmd, FRONT_CMD_CONNECT);
	assert_int_equal(res->req.host_type, c->host_type);
	assert_string_equal(res->req.host, c->host);
	assert_memory_equal(res->req.addr, c->addr, 16);
	assert_int_equal(res->req.port, c->port);
	assert_int_equal(res->req.iso.kind, c->iso_kind);
	assert_int_equal(res->req.iso.user_len, strlen(c->user));
	assert_memory_equal(res->req.iso.user, c->user, strlen(c->user));
	assert_int_equal(res->req.iso.pass_len, strlen(c->pass));
	assert_memory_equal(res->req.iso.pass, c->pass, strlen(c->pass));
}

static void
test_hc_valid_table(void **state)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		size_t len = strlen(c->in);
		uint8_t in[BIG];
		struct run res;

		memcpy(in, c->in, len);
		memcpy(in + len, tls, sizeof(tls) - 1);
		for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
			run_hc(in, len, chunks[k], &res);
			check_valid(c, &res, len);
			/* Optimistic data after the head: not consumed, left to the caller. */
			run_hc(in, len + sizeof(tls) - 1, chunks[k], &res);
			check_valid(c, &res, len);
		}
	}
}

static void
test_hc_every_prefix_is_need_more(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		const char *in = valid_cases[i].in;

		for (size_t n = 0; n < strlen(in); n++) {
			struct run res;

			run_hc((const uint8_t *)in, n, 0, &res);
			assert_int_equal(res.ev, HTTP_CONNECT_EV_NEED_MORE);
		}
	}
}

struct bad_case {
	const char *in;
	int status;
	const char *out;
};

static const struct bad_case bad_cases[] = {
	/* 405 as soon as the request line is complete, whatever follows. */
	{ "GET http://example.com/ HTTP/1.1\r\n", 405, R405 },
	{ "connect a:1 HTTP/1.1\r\n", 405, R405 },
	{ "POST / HTTP/1.1\r\n\x01garbage", 405, R405 },
	/* 400: request line */
	{ "\r\n", 400, R400 },
	{ "CONNECT\r\n", 400, R400 },
	{ " CONNECT a:1 HTTP/1.1\r\n", 400, R400 },
	{ "CONN(ECT a:1 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a: HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT :80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a:0 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a:65536 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a:+80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a:080000 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/2.0\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1 \r\n", 400, R400 },
	{ "CONNECT a:80 http/1.1\r\n", 400, R400 },
	{ "CONNECT a:80  HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a:80\r\n", 400, R400 },
	{ "CONNECT a:b:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT a/b:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT user@a:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT 1.2.3:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT 1.2.3.04:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT 1.2.3.256:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT 2001:db8::1:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT [2001:db8::1]80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT [2001:db8::1] HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT [fe80::1%eth0]:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT []:80 HTTP/1.1\r\n", 400, R400 },
	{ "CONNECT [example.com]:80 HTTP/1.1\r\n", 400, R400 },
	/* 400: line framing */
	{ "CONNECT a:80 HTTP/1.1\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\rX", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nHost: a\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\n\n", 400, R400 },
	/* 400: headers */
	{ "CONNECT a:80 HTTP/1.1\r\n folded\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nHost : a\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\n: a\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nNoColon\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nX: a\x01\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nContent-Length: 00\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nProxy-Authorization: Bearer abc\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nProxy-Authorization: Basic\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcg==\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcjpwYXNz=\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nProxy-Authorization: Basic d XNlcjpwYXNz\r\n\r\n", 400, R400 },
	{ "CONNECT a:80 HTTP/1.1\r\nProxy-Authorization: Basic Og==\r\n"
	  "Proxy-Authorization: Basic Og==\r\n\r\n",
	  400, R400 },
};

static void
test_hc_malformed_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = strlen(c->in);

		print_message("%s", c->in);
		for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
			struct run res;

			run_hc((const uint8_t *)c->in, len, chunks[k], &res);
			assert_int_equal(res.ev, HTTP_CONNECT_EV_FAILED);
			assert_int_equal(res.status, c->status);
			assert_int_equal(res.err, UM_ERR_MALFORMED);
			assert_int_equal(res.out_len, strlen(c->out));
			assert_memory_equal(res.out, c->out, res.out_len);
		}
	}
}

/* A Basic credential with a 255-byte user and a 255-byte password, or one byte more. */
static size_t
basic_head(char *out, size_t cap, size_t ulen, size_t plen)
{
	static const char b64[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t cred[1024];
	char enc[2048];
	size_t n = 0, k = 0;

	memset(cred, 'u', ulen);
	cred[ulen] = ':';
	memset(cred + ulen + 1, 'p', plen);
	n = ulen + 1 + plen;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)cred[i] << 16;

		v |= i + 1 < n ? (uint32_t)cred[i + 1] << 8 : 0;
		v |= i + 2 < n ? cred[i + 2] : 0;
		enc[k++] = b64[v >> 18 & 63];
		enc[k++] = b64[v >> 12 & 63];
		enc[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		enc[k++] = i + 2 < n ? b64[v & 63] : '=';
	}
	enc[k] = '\0';
	return (size_t)snprintf(
	        out, cap, "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic %s\r\n\r\n", enc);
}

static void
test_hc_limits(void **state)
{
	static char in[BIG];
	struct run res;
	size_t n;

	(void)state;
	/* 64 headers pass, 65 are 431. */
	n = (size_t)snprintf(in, sizeof(in), "CONNECT a:1 HTTP/1.1\r\n");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "X-%d: %d\r\n", i, i);
	memcpy(in + n, "\r\n", 2);
	run_hc((const uint8_t *)in, n + 2, 0, &res);
	assert_int_equal(res.ev, HTTP_CONNECT_EV_REQUEST);
	memcpy(in + n, "Y: 1\r\n\r\n", 8);
	for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
		run_hc((const uint8_t *)in, n + 8, chunks[k], &res);
		assert_int_equal(res.ev, HTTP_CONNECT_EV_FAILED);
		assert_int_equal(res.status, 431);
		assert_int_equal(res.err, UM_ERR_TOO_LARGE);
		assert_int_equal(res.out_len, strlen(R431));
		assert_memory_equal(res.out, R431, res.out_len);
	}
	/* A head of exactly 8192 bytes passes; 8193 is 431 (found at byte 8193). */
	n = (size_t)snprintf(in, sizeof(in), "CONNECT a:1 HTTP/1.1\r\nX: ");
	memset(in + n, 'v', HTTP_CONNECT_HEAD_MAX - n - 4);
	memcpy(in + HTTP_CONNECT_HEAD_MAX - 4, "\r\n\r\n", 4);
	run_hc((const uint8_t *)in, HTTP_CONNECT_HEAD_MAX, 0, &res);
	assert_int_equal(res.ev, HTTP_CONNECT_EV_REQUEST);
	assert_int_equal(res.consumed, HTTP_CONNECT_HEAD_MAX);
	memset(in + n, 'v', HTTP_CONNECT_HEAD_MAX - n - 3);
	memcpy(in + HTTP_CONNECT_HEAD_MAX - 3, "\r\n\r\n", 4);
	for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
		run_hc((const uint8_t *)in, HTTP_CONNECT_HEAD_MAX + 1, chunks[k], &res);
		assert_int_equal(res.ev, HTTP_CONNECT_EV_FAILED);
		assert_int_equal(res.status, 431);
	}
	/* Credentials: 255 + 255 pass, 256 in either field is 400. */
	n = basic_head(in, sizeof(in), 255, 255);
	run_hc((const uint8_t *)in, n, 1, &res);
	assert_int_equal(res.ev, HTTP_CONNECT_EV_REQUEST);
	assert_int_equal(res.req.iso.user_len, 255);
	assert_int_equal(res.req.iso.pass_len, 255);
	n = basic_head(in, sizeof(in), 256, 10);
	run_hc((const uint8_t *)in, n, 0, &res);
	assert_int_equal(res.status, 400);
	n = basic_head(in, sizeof(in), 10, 256);
	run_hc((const uint8_t *)in, n, 0, &res);
	assert_int_equal(res.status, 400);
}

static void
test_hc_replies(void **state)
{
	static const struct {
		int reason, status;
		const char *out;
	} map[] = {
		{ FRONT_END_MISC, 502, R502 },
		{ FRONT_END_RESOLVEFAILED, 404, R404 },
		{ FRONT_END_CONNECTREFUSED, 502, R502 },
		{ FRONT_END_EXITPOLICY, 403, R403 },
		{ FRONT_END_DESTROY, 502, R502 },
		{ FRONT_END_DONE, 502, R502 },
		{ FRONT_END_TIMEOUT, 504, R504 },
		{ FRONT_END_NOROUTE, 502, R502 },
		{ FRONT_END_HIBERNATING, 502, R502 },
		{ FRONT_END_INTERNAL, 502, R502 },
		{ FRONT_END_RESOURCELIMIT, 502, R502 },
		{ FRONT_END_CONNRESET, 502, R502 },
		{ FRONT_END_TORPROTOCOL, 502, R502 },
		{ FRONT_END_NOTDIRECTORY, 502, R502 },
		{ 99, 502, R502 },
	};
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	uint8_t buf[HTTP_CONNECT_OUT_MAX];
	struct wire_wr w;

	(void)state;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(http_connect_reply_success(&w), UM_OK);
	assert_int_equal(w.len, strlen(ok));
	assert_memory_equal(buf, ok, w.len);
	for (size_t i = 0; i < UM_ARRAY_LEN(map); i++) {
		assert_int_equal(http_connect_status_from_end_reason(map[i].reason), map[i].status);
		wire_wr_init(&w, buf, sizeof(buf));
		assert_int_equal(http_connect_reply_failure(map[i].reason, &w), UM_OK);
		assert_int_equal(w.len, strlen(map[i].out));
		assert_memory_equal(buf, map[i].out, w.len);
	}
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(http_connect_reply_error(500, &w), UM_ERR_INVALID);
	wire_wr_init(&w, buf, 20);
	assert_int_equal(http_connect_reply_error(400, &w), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
}

static void
test_hc_request_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		const char *in = valid_cases[i].in;
		uint8_t enc[2048];
		struct wire_wr w;
		struct run a, b;

		run_hc((const uint8_t *)in, strlen(in), 0, &a);
		assert_true(a.have_req);
		wire_wr_init(&w, enc, sizeof(enc));
		assert_int_equal(http_connect_request_encode(&a.req, &w), UM_OK);
		run_hc(enc, w.len, 1, &b);
		assert_int_equal(b.ev, HTTP_CONNECT_EV_REQUEST);
		assert_int_equal(b.consumed, w.len);
		assert_int_equal(b.req.host_type, a.req.host_type);
		assert_memory_equal(b.req.addr, a.req.addr, 16);
		assert_string_equal(b.req.host, a.req.host);
		assert_int_equal(b.req.port, a.req.port);
		assert_true(front_iso_eq(&a.req.iso, &b.req.iso));
	}
	{
		struct front_request r = { .cmd = FRONT_CMD_RESOLVE,
			                   .host_type = FRONT_HOST_IPV4,
			                   .port = 80 };
		uint8_t enc[64];
		struct wire_wr w;

		wire_wr_init(&w, enc, sizeof(enc));
		assert_int_equal(http_connect_request_encode(&r, &w), UM_ERR_INVALID);
		r.cmd = FRONT_CMD_CONNECT;
		r.iso.kind = FRONT_ISO_HTTP_BASIC;
		r.iso.user_len = 1;
		r.iso.user[0] = ':'; /* a user-id cannot hold a colon */
		assert_int_equal(http_connect_request_encode(&r, &w), UM_ERR_INVALID);
		wire_wr_init(&w, enc, 10); /* too small: nothing left appended */
		r.iso.kind = FRONT_ISO_NONE;
		assert_int_equal(http_connect_request_encode(&r, &w), UM_ERR_TOO_LARGE);
		assert_int_equal(w.len, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hc_valid_table),
		cmocka_unit_test(test_hc_every_prefix_is_need_more),
		cmocka_unit_test(test_hc_malformed_table),
		cmocka_unit_test(test_hc_limits),
		cmocka_unit_test(test_hc_replies),
		cmocka_unit_test(test_hc_request_roundtrip),
	};

	return cmocka_run_group_tests_name("http_connect", tests, NULL, NULL);
}
