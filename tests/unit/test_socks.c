/* SPDX-License-Identifier: MIT */
/*
 * SOCKS4/4a/5 server (docs/PROTOCOL.md section 8): a table of valid handshakes with the
 * exact bytes we answer and the request decoded, a table of malformed ones with the exact
 * error reply, each fed in one chunk and in chunks of 1, 2, 3 and 7 bytes (same result);
 * optimistic data after the request left to the caller; every strict prefix of a valid
 * handshake is "need more"; the maximal messages and one byte over; reply encoders and the
 * END-reason mapping as frozen bytes; request encoder round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "front/front.h"
#include "front/socks.h"

enum { BIG = 2048 };

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	ssize_t n = dec_hex(out, cap, hex, strlen(hex));

	assert_true(n >= 0);
	return (size_t)n;
}

struct run {
	uint8_t ev;
	int err;
	size_t consumed; /* total over all feeds (REQUEST only) */
	size_t out_len;
	uint8_t out[256];
	bool have_req;
	struct front_request req;
};

/* Feed in[0, len) in chunks of chunk bytes (0: one call) until an event other than NEED_MORE. */
static void
run_socks(const uint8_t *in, size_t len, size_t chunk, struct run *res)
{
	struct socks_server *s = socks_server_new();
	size_t off = 0;

	memset(res, 0, sizeof(*res));
	res->ev = SOCKS_EV_NEED_MORE;
	do {
		struct socks_step step;
		size_t n = chunk == 0 ? len - off : UM_MIN(chunk, len - off);

		assert_int_equal(socks_server_feed(s, in + off, n, &step), UM_OK);
		assert_true(res->out_len + step.out_len <= sizeof(res->out));
		memcpy(res->out + res->out_len, step.out, step.out_len);
		res->out_len += step.out_len;
		res->ev = step.ev;
		res->err = step.err;
		if (step.ev == SOCKS_EV_NEED_MORE)
			assert_int_equal(step.consumed, n);
		if (step.ev == SOCKS_EV_REQUEST) {
			assert_true(step.consumed <= n);
			res->consumed = off + step.consumed;
			res->have_req = true;
			res->req = *socks_server_request(s);
		} else {
			assert_null(socks_server_request(s));
		}
		off += n;
	} while (res->ev == SOCKS_EV_NEED_MORE && off < len);
	if (res->ev != SOCKS_EV_NEED_MORE) {
		struct socks_step step;

		/* Done or failed: no more input is taken. */
		assert_int_equal(socks_server_feed(s, (const uint8_t *)"x", 1, &step),
		                 UM_ERR_STATE);
	}
	socks_server_free(s);
	assert_null(s);
}

struct valid_case {
	const char *name;
	const char *in;  /* hex */
	const char *out; /* hex: everything we write before the request is complete */
	uint8_t proto, cmd, host_type;
	const char *addr; /* hex, for IP types */
	const char *host; /* for names */
	uint16_t port;
	uint8_t iso_kind;
	const char *user, *pass;
};

static const struct valid_case valid_cases[] = {
	{ "socks5 no-auth CONNECT IPv4",
	  "050100"
	  "050100015db8d82201bb",
	  "0500", FRONT_PROTO_SOCKS5, FRONT_CMD_CONNECT, FRONT_HOST_IPV4, "5db8d822", "", 443,
	  FRONT_ISO_NONE, "", "" },
	{ "socks5 user/pass CONNECT name",
	  "05020002"
	  "010475736572057061737373"
	  "050100030b6578616d706c652e636f6d0050",
	  "0502"
	  "0100",
	  FRONT_PROTO_SOCKS5, FRONT_CMD_CONNECT, FRONT_HOST_NAME, NULL, "example.com", 80,
	  FRONT_ISO_SOCKS5_USERPASS, "user", "passs" },
	{ "socks5 only user/pass offered",
	  "050102"
	  "0101610162"
	  "05010003016101bb",
	  "0502"
	  "0100",
	  FRONT_PROTO_SOCKS5, FRONT_CMD_CONNECT, FRONT_HOST_NAME, NULL, "a", 443,
	  FRONT_ISO_SOCKS5_USERPASS, "a", "b" },
	{ "socks5 CONNECT IPv6",
	  "0502ff00"
	  "0501000420010db80000000000000000000000010016",
	  "0500", FRONT_PROTO_SOCKS5, FRONT_CMD_CONNECT, FRONT_HOST_IPV6,
	  "20010db8000000000000000000000001", "", 22, FRONT_ISO_NONE, "", "" },
	{ "socks5 RESOLVE name, port 0",
	  "050100"
	  "05f000030b6578616d706c652e636f6d0000",
	  "0500", FRONT_PROTO_SOCKS5, FRONT_CMD_RESOLVE, FRONT_HOST_NAME, NULL, "example.com", 0,
	  FRONT_ISO_NONE, "", "" },
	{ "socks4 CONNECT with USERID", "040100505db8d822616c69636500", "", FRONT_PROTO_SOCKS4,
	  FRONT_CMD_CONNECT, FRONT_HOST_IPV4, "5db8d822", "", 80, FRONT_ISO_SOCKS4_USERID, "alice",
	  "" },
	{ "socks4 CONNECT no USERID", "040100160102030400", "", FRONT_PROTO_SOCKS4,
	  FRONT_CMD_CONNECT, FRONT_HOST_IPV4, "01020304", "", 22, FRONT_ISO_NONE, "", "" },
	{ "socks4 CONNECT 0.0.0.0 is plain socks4", "040100160000000000", "", FRONT_PROTO_SOCKS4,
	  FRONT_CMD_CONNECT, FRONT_HOST_IPV4, "00000000", "", 22, FRONT_ISO_NONE, "", "" },
	{ "socks4a CONNECT",
	  "040101bb0000000100"
	  "6578616d706c652e636f6d00",
	  "", FRONT_PROTO_SOCKS4A, FRONT_CMD_CONNECT, FRONT_HOST_NAME, NULL, "example.com", 443,
	  FRONT_ISO_NONE, "", "" },
	{ "socks4a RESOLVE with USERID",
	  "04f00000000000ff"
	  "6b00"
	  "782e616e6f6e00",
	  "", FRONT_PROTO_SOCKS4A, FRONT_CMD_RESOLVE, FRONT_HOST_NAME, NULL, "x.anon", 0,
	  FRONT_ISO_SOCKS4_USERID, "k", "" },
};

static void
check_valid(const struct valid_case *c, const struct run *res, size_t in_len)
{
	uint8_t out[64], addr[16] = { 0 };
	size_t out_len = unhex(c->out, out, sizeof(out));

	assert_int_equal(res->ev, SOCKS_EV_REQUEST);
	assert_int_equal(res->out_len, out_len);
	assert_memory_equal(res->out, out, out_len);
	assert_int_equal(res->consumed, in_len);
	assert_true(res->have_req);
	assert_int_equal(res->req.proto, c->proto);
	assert_int_equal(res->req.cmd, c->cmd);
	assert_int_equal(res->req.host_type, c->host_type);
	if (c->addr != NULL)
		unhex(c->addr, addr, sizeof(addr));
	assert_memory_equal(res->req.addr, addr, sizeof(addr));
	assert_string_equal(res->req.host, c->host != NULL ? c->host : "");
	assert_int_equal(res->req.port, c->port);
	assert_int_equal(res->req.iso.kind, c->iso_kind);
	assert_int_equal(res->req.iso.user_len, strlen(c->user));
	assert_memory_equal(res->req.iso.user, c->user, strlen(c->user));
	assert_int_equal(res->req.iso.pass_len, strlen(c->pass));
	assert_memory_equal(res->req.iso.pass, c->pass, strlen(c->pass));
}

static const size_t chunks[] = { 0, 1, 2, 3, 7 };

static void
test_socks_valid_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		uint8_t in[BIG];
		size_t len = unhex(c->in, in, sizeof(in));
		struct run res;

		print_message("%s\n", c->name);
		for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
			run_socks(in, len, chunks[k], &res);
			check_valid(c, &res, len);
		}
	}
}

static void
test_socks_optimistic_data_kept(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		static const char data[] = "GET / HTTP/1.1\r\n\r\n";
		uint8_t in[BIG];
		size_t len = unhex(c->in, in, sizeof(in));
		struct run res;

		memcpy(in + len, data, sizeof(data) - 1);
		for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
			run_socks(in, len + sizeof(data) - 1, chunks[k], &res);
			/* The request ends where it ends; the data after it is not consumed. */
			check_valid(c, &res, len);
		}
	}
}

static void
test_socks_every_prefix_is_need_more(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		uint8_t in[BIG];
		size_t len = unhex(valid_cases[i].in, in, sizeof(in));

		for (size_t n = 0; n < len; n++) {
			struct run res;

			run_socks(in, n, 0, &res);
			assert_int_equal(res.ev, SOCKS_EV_NEED_MORE);
			assert_false(res.have_req);
		}
	}
}

struct bad_case {
	const char *name;
	const char *in;
	const char *out; /* hex: every byte we write, the error reply last */
	int err;
};

static const struct bad_case bad_cases[] = {
	{ "not socks", "474554202f", "", UM_ERR_MALFORMED },
	{ "socks5 no methods", "0500", "05ff", UM_ERR_MALFORMED },
	{ "socks5 only GSSAPI", "050101", "05ff", UM_ERR_MALFORMED },
	{ "socks5 BIND",
	  "050100"
	  "0502",
	  "0500"
	  "05070001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 UDP ASSOCIATE",
	  "050100"
	  "0503",
	  "0500"
	  "05070001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 RESOLVE_PTR",
	  "050100"
	  "05f1",
	  "0500"
	  "05070001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 bad request version",
	  "050100"
	  "04",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 RSV not 0",
	  "050100"
	  "050101",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 ATYP 2",
	  "050100"
	  "05010002",
	  "0500"
	  "05080001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 ATYP 5",
	  "050100"
	  "05f00005",
	  "0500"
	  "05080001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 empty name",
	  "050100"
	  "0501000300",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 name with LF",
	  "050100"
	  "0501000303610a62",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 name with NUL",
	  "050100"
	  "05010003026100",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 name with space",
	  "050100"
	  "05010003026120",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 name with 8-bit byte",
	  "050100"
	  "050100030261c3",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 CONNECT port 0",
	  "050100"
	  "05010001010203040000",
	  "0500"
	  "05010001000000000000",
	  UM_ERR_MALFORMED },
	{ "socks5 auth version 2",
	  "050102"
	  "02",
	  "0502"
	  "0101",
	  UM_ERR_MALFORMED },
	{ "socks5 auth empty user",
	  "050102"
	  "0100",
	  "0502"
	  "0101",
	  UM_ERR_MALFORMED },
	{ "socks5 auth empty password",
	  "050102"
	  "01016100",
	  "0502"
	  "0101",
	  UM_ERR_MALFORMED },
	{ "socks4 BIND", "0402", "005b000000000000", UM_ERR_MALFORMED },
	{ "socks4 command 3", "0403", "005b000000000000", UM_ERR_MALFORMED },
	{ "socks4 CONNECT port 0", "04010000", "005b000000000000", UM_ERR_MALFORMED },
	{ "socks4a empty host",
	  "040100500000000100"
	  "00",
	  "005b000000000000", UM_ERR_MALFORMED },
	{ "socks4a host with space",
	  "040100500000000100"
	  "61206200",
	  "005b000000000000", UM_ERR_MALFORMED },
};

static void
test_socks_malformed_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint8_t in[BIG], out[64];
		size_t len = unhex(c->in, in, sizeof(in));
		size_t out_len = unhex(c->out, out, sizeof(out));

		print_message("%s\n", c->name);
		for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
			struct run res;

			/* Trailing garbage after the bad byte changes nothing. */
			in[len] = 0x41;
			run_socks(in, len + (k % 2), chunks[k], &res);
			assert_int_equal(res.ev, SOCKS_EV_FAILED);
			assert_int_equal(res.err, c->err);
			assert_int_equal(res.out_len, out_len);
			assert_memory_equal(res.out, out, out_len);
			assert_false(res.have_req);
		}
	}
}

/* The largest messages parse; one byte more in a length-limited field is refused. */
static void
test_socks_limits(void **state)
{
	uint8_t in[BIG];
	struct run res;
	size_t n = 0;

	(void)state;
	/* SOCKS4a: 255-byte USERID and 255-byte host = SOCKS_MSG_MAX. */
	memcpy(in, "\x04\x01\x00\x50\x00\x00\x00\x01", 8);
	n = 8;
	memset(in + n, 'u', 255);
	n += 255;
	in[n++] = 0;
	memset(in + n, 'h', 255);
	n += 255;
	in[n++] = 0;
	assert_int_equal(n, SOCKS_MSG_MAX);
	for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
		run_socks(in, n, chunks[k], &res);
		assert_int_equal(res.ev, SOCKS_EV_REQUEST);
		assert_int_equal(res.consumed, n);
		assert_int_equal(res.req.proto, FRONT_PROTO_SOCKS4A);
		assert_int_equal(strlen(res.req.host), 255);
		assert_int_equal(res.req.iso.user_len, 255);
	}
	/* 256 USERID bytes: refused at the 256th, before any NUL. */
	memset(in + 8, 'u', 256);
	for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
		run_socks(in, 8 + 256, chunks[k], &res);
		assert_int_equal(res.ev, SOCKS_EV_FAILED);
		assert_int_equal(res.err, UM_ERR_TOO_LARGE);
		assert_int_equal(res.out_len, SOCKS4_REPLY_LEN);
		assert_memory_equal(res.out, "\x00\x5b\x00\x00\x00\x00\x00\x00", 8);
	}
	/* 256 host bytes. */
	in[8 + 255] = 0;
	memset(in + 8 + 256, 'h', 256);
	run_socks(in, 8 + 256 + 256, 1, &res);
	assert_int_equal(res.ev, SOCKS_EV_FAILED);
	assert_int_equal(res.err, UM_ERR_TOO_LARGE);
	/* SOCKS5: 255 methods, 255-byte user and password, 255-byte name. */
	n = 0;
	in[n++] = 5;
	in[n++] = 255;
	for (int i = 0; i < 255; i++)
		in[n++] = (uint8_t)(i + 1); /* 0x02 among them, 0x00 not */
	in[n++] = 1;
	in[n++] = 255;
	memset(in + n, 'u', 255);
	n += 255;
	in[n++] = 255;
	memset(in + n, 'p', 255);
	n += 255;
	memcpy(in + n, "\x05\x01\x00\x03\xff", 5);
	n += 5;
	memset(in + n, 'h', 255);
	n += 255;
	in[n++] = 0x01;
	in[n++] = 0xbb;
	for (size_t k = 0; k < UM_ARRAY_LEN(chunks); k++) {
		run_socks(in, n, chunks[k], &res);
		assert_int_equal(res.ev, SOCKS_EV_REQUEST);
		assert_int_equal(res.consumed, n);
		assert_int_equal(res.out_len, 4);
		assert_memory_equal(res.out, "\x05\x02\x01\x00", 4);
		assert_int_equal(res.req.iso.kind, FRONT_ISO_SOCKS5_USERPASS);
		assert_int_equal(res.req.iso.user_len, 255);
		assert_int_equal(res.req.iso.pass_len, 255);
		assert_int_equal(strlen(res.req.host), 255);
	}
}

static void
test_socks_reply_vectors(void **state)
{
	static const struct {
		int reason;
		uint8_t rep5;
	} map[] = {
		{ FRONT_END_MISC, 0x01 },
		{ FRONT_END_RESOLVEFAILED, 0x04 },
		{ FRONT_END_CONNECTREFUSED, 0x05 },
		{ FRONT_END_EXITPOLICY, 0x02 },
		{ FRONT_END_DESTROY, 0x01 },
		{ FRONT_END_DONE, 0x01 },
		{ FRONT_END_TIMEOUT, 0x06 },
		{ FRONT_END_NOROUTE, 0x03 },
		{ FRONT_END_HIBERNATING, 0x01 },
		{ FRONT_END_INTERNAL, 0x01 },
		{ FRONT_END_RESOURCELIMIT, 0x01 },
		{ FRONT_END_CONNRESET, 0x01 },
		{ FRONT_END_TORPROTOCOL, 0x01 },
		{ FRONT_END_NOTDIRECTORY, 0x01 },
		{ 0, 0x01 },
		{ 200, 0x01 },
	};
	struct front_request r5 = { .proto = FRONT_PROTO_SOCKS5, .cmd = FRONT_CMD_CONNECT };
	struct front_request r4 = { .proto = FRONT_PROTO_SOCKS4A, .cmd = FRONT_CMD_RESOLVE };
	struct front_addr b4 = { .type = FRONT_HOST_IPV4,
		                 .addr = { 192, 0, 2, 7 },
		                 .port = 0x1f90 };
	struct front_addr b6 = { .type = FRONT_HOST_IPV6,
		                 .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
		                 .port = 443 };
	struct front_addr bad = { .type = FRONT_HOST_NAME };
	uint8_t buf[64];
	struct wire_wr w;

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(map); i++) {
		uint8_t want[10] = { 5, map[i].rep5, 0, 1 };

		assert_int_equal(socks5_rep_from_end_reason(map[i].reason), map[i].rep5);
		assert_int_equal(socks4_rep_from_end_reason(map[i].reason), 0x5b);
		wire_wr_init(&w, buf, sizeof(buf));
		assert_int_equal(socks_reply_failure(&r5, map[i].reason, &w), UM_OK);
		assert_int_equal(w.len, 10);
		assert_memory_equal(buf, want, 10);
		wire_wr_init(&w, buf, sizeof(buf));
		assert_int_equal(socks_reply_failure(&r4, map[i].reason, &w), UM_OK);
		assert_int_equal(w.len, 8);
		assert_memory_equal(buf, "\x00\x5b\x00\x00\x00\x00\x00\x00", 8);
	}
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(socks_reply_success(&r5, &b4, &w), UM_OK);
	assert_int_equal(w.len, 10);
	assert_memory_equal(buf, "\x05\x00\x00\x01\xc0\x00\x02\x07\x1f\x90", 10);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(socks_reply_success(&r5, &b6, &w), UM_OK);
	assert_int_equal(w.len, 22);
	assert_memory_equal(buf,
	                    "\x05\x00\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00"
	                    "\x00\x00\x00\x02\x01\xbb",
	                    22);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(socks_reply_success(&r5, NULL, &w), UM_OK);
	assert_memory_equal(buf, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(socks_reply_success(&r5, &bad, &w), UM_ERR_INVALID);
	/* SOCKS4a RESOLVE: the IPv4 answer in DSTIP; an IPv6 answer cannot be sent. */
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(socks_reply_success(&r4, &b4, &w), UM_OK);
	assert_int_equal(w.len, 8);
	assert_memory_equal(buf, "\x00\x5a\x1f\x90\xc0\x00\x02\x07", 8);
	assert_int_equal(socks_reply_success(&r4, &b6, &w), UM_ERR_INVALID);
	/* SOCKS4 CONNECT with an IPv6 bound address: zeros. */
	r4.cmd = FRONT_CMD_CONNECT;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(socks_reply_success(&r4, &b6, &w), UM_OK);
	assert_memory_equal(buf, "\x00\x5a\x00\x00\x00\x00\x00\x00", 8);
	/* A full writer: nothing written. */
	wire_wr_init(&w, buf, 9);
	assert_int_equal(socks5_reply_encode(0, &b4, &w), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	wire_wr_init(&w, buf, 7);
	assert_int_equal(socks4_reply_encode(0x5a, &b4, &w), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	assert_string_equal(front_end_reason_str(FRONT_END_EXITPOLICY), "exitpolicy");
	assert_string_equal(front_end_reason_str(15), "unknown");
}

/* Every valid case's request, encoded as a client would, parses back to itself. */
static void
test_socks_request_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(valid_cases); i++) {
		uint8_t in[BIG], enc[BIG];
		size_t len = unhex(valid_cases[i].in, in, sizeof(in));
		struct wire_wr w;
		struct run a, b;

		run_socks(in, len, 0, &a);
		assert_true(a.have_req);
		wire_wr_init(&w, enc, sizeof(enc));
		assert_int_equal(socks_request_encode(&a.req, &w), UM_OK);
		run_socks(enc, w.len, 1, &b);
		assert_int_equal(b.ev, SOCKS_EV_REQUEST);
		assert_int_equal(b.consumed, w.len);
		assert_int_equal(b.req.proto, a.req.proto);
		assert_int_equal(b.req.cmd, a.req.cmd);
		assert_int_equal(b.req.host_type, a.req.host_type);
		assert_memory_equal(b.req.addr, a.req.addr, sizeof(a.req.addr));
		assert_string_equal(b.req.host, a.req.host);
		assert_int_equal(b.req.port, a.req.port);
		assert_true(front_iso_eq(&a.req.iso, &b.req.iso));
	}
	{
		/* Things a client cannot say are refused, nothing appended. */
		struct front_request r = { .proto = FRONT_PROTO_SOCKS4,
			                   .cmd = FRONT_CMD_CONNECT,
			                   .host_type = FRONT_HOST_IPV6,
			                   .port = 80 };
		uint8_t enc[64];
		struct wire_wr w;

		wire_wr_init(&w, enc, sizeof(enc));
		assert_int_equal(socks_request_encode(&r, &w), UM_ERR_INVALID);
		r.proto = FRONT_PROTO_SOCKS5;
		r.host_type = FRONT_HOST_NAME; /* empty name */
		assert_int_equal(socks_request_encode(&r, &w), UM_ERR_INVALID);
		r.host_type = FRONT_HOST_IPV4;
		r.port = 0;
		assert_int_equal(socks_request_encode(&r, &w), UM_ERR_INVALID);
		assert_int_equal(w.len, 0);
	}
}

static void
test_front_host_and_iso(void **state)
{
	struct front_iso a = { .kind = FRONT_ISO_SOCKS5_USERPASS, .user_len = 1, .user = "u" };
	struct front_iso b = a;
	uint8_t name[256];

	(void)state;
	assert_true(front_host_is_valid((const uint8_t *)"a", 1));
	assert_true(front_host_is_valid((const uint8_t *)"xn--bcher-kva.example", 21));
	assert_false(front_host_is_valid((const uint8_t *)"", 0));
	assert_false(front_host_is_valid((const uint8_t *)"a b", 3));
	assert_false(front_host_is_valid((const uint8_t *)"a\x7f", 2));
	memset(name, 'a', sizeof(name));
	assert_true(front_host_is_valid(name, 255));
	assert_false(front_host_is_valid(name, 256));
	assert_true(front_iso_eq(&a, &b));
	b.kind = FRONT_ISO_HTTP_BASIC;
	assert_false(front_iso_eq(&a, &b));
	b = a;
	b.pass_len = 1; /* user "u" + empty password differs from user "u" + password "\0" */
	assert_false(front_iso_eq(&a, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks_valid_table),
		cmocka_unit_test(test_socks_optimistic_data_kept),
		cmocka_unit_test(test_socks_every_prefix_is_need_more),
		cmocka_unit_test(test_socks_malformed_table),
		cmocka_unit_test(test_socks_limits),
		cmocka_unit_test(test_socks_reply_vectors),
		cmocka_unit_test(test_socks_request_roundtrip),
		cmocka_unit_test(test_front_host_and_iso),
	};

	return cmocka_run_group_tests_name("socks", tests, NULL, NULL);
}
