/* SPDX-License-Identifier: MIT */
/*
 * Stream relay messages (docs/PROTOCOL.md 11.4): BEGIN (host text rules), CONNECTED, END,
 * RESOLVE and RESOLVED. Hand-written vectors, round trips through the writers and
 * relay_msg_encode, every prefix truncated (where the format has a shorter valid form, that
 * prefix is named and checked to parse as it), trailing bytes, and the malformed tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "crypto/crypto.h"
#include "circuit/relay_msg.h"

static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	ssize_t n = dec_hex(out, cap, hex, strlen(hex));

	assert_true(n >= 0);
	return (size_t)n;
}

/* Parse data as command cmd (stream 1), re-encode, and check the bytes come back the same. */
static void
assert_roundtrip(uint8_t cmd, const uint8_t *in, size_t n, struct relay_msg *m)
{
	uint8_t out[RELAY_DATA_MAX];
	struct relay_msg p;
	size_t n2;

	assert_int_equal(relay_msg_parse(cmd, 1, in, n, m), UM_OK);
	assert_int_equal(relay_msg_encode(m, out, sizeof(out), &n2), UM_OK);
	assert_int_equal(n2, n);
	assert_memory_equal(out, in, n);
	assert_int_equal(relay_msg_parse(cmd, 1, out, n2, &p), UM_OK);
	assert_memory_equal(&p, m, sizeof(p));
	assert_int_equal(relay_msg_parse(cmd, 0, in, n, &p), UM_ERR_MALFORMED); /* stream-level */
}

/* ---- BEGIN ---- */

static void
test_begin_known_vectors(void **state)
{
	/* "example.com:443" NUL | FLAGS 00000000 */
	static const char hex1[] = "6578616d706c652e636f6d3a343433"
	                           "00"
	                           "00000000";
	/* "[2001:db8::1]:80" NUL | FLAGS 00000005 (IPv6 ok, IPv6 preferred) */
	static const char hex2[] = "5b323030313a6462383a3a315d3a3830"
	                           "00"
	                           "00000005";
	/* "192.0.2.1:8080" NUL | FLAGS 00000003 (IPv6 ok, IPv4 not ok) */
	static const char hex3[] = "3139322e302e322e313a38303830"
	                           "00"
	                           "00000003";
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	uint8_t in[64];
	struct relay_msg m;
	size_t n;

	(void)state;
	n = unhex(in, sizeof(in), hex1);
	assert_roundtrip(RELAY_BEGIN, in, n, &m);
	assert_int_equal(m.u.begin.target.type, RELAY_HOST_NAME);
	assert_string_equal(m.u.begin.target.name, "example.com");
	assert_int_equal(m.u.begin.target.port, 443);
	assert_int_equal(m.u.begin.flags, 0);

	n = unhex(in, sizeof(in), hex2);
	assert_roundtrip(RELAY_BEGIN, in, n, &m);
	assert_int_equal(m.u.begin.target.type, RELAY_HOST_IPV6);
	assert_memory_equal(m.u.begin.target.addr, v6, 16);
	assert_string_equal(m.u.begin.target.name, "");
	assert_int_equal(m.u.begin.target.port, 80);
	assert_int_equal(m.u.begin.flags, RELAY_BEGIN_F_IPV6_OK | RELAY_BEGIN_F_IPV6_PREFERRED);

	n = unhex(in, sizeof(in), hex3);
	assert_roundtrip(RELAY_BEGIN, in, n, &m);
	assert_int_equal(m.u.begin.target.type, RELAY_HOST_IPV4);
	assert_memory_equal(m.u.begin.target.addr, v4, 4);
	assert_int_equal(m.u.begin.target.port, 8080);
}

/* Parse text (with its NUL, no flags) as BEGIN. */
static int
begin_text(const char *text, size_t n, struct relay_begin *b)
{
	return relay_begin_parse((const uint8_t *)text, n, b);
}

static void
test_begin_canonical_forms(void **state)
{
	static const struct {
		const char *in, *out; /* ADDRPORT as sent, and as we re-encode it */
	} rows[] = {
		{ "EXAMPLE.Com:443", "example.com:443" },
		{ "localhost:1", "localhost:1" },
		{ "xn--bcher-kva.example:65535", "xn--bcher-kva.example:65535" },
		{ "a-b.c0:22", "a-b.c0:22" },
		{ "4.3.2.1.in-addr.arpa:53", "4.3.2.1.in-addr.arpa:53" },
		{ "0.0.0.0:80", "0.0.0.0:80" },
		{ "255.255.255.255:80", "255.255.255.255:80" },
		{ "[2001:0DB8:0000::0001]:443", "[2001:db8::1]:443" },
		{ "[::]:443", "[::]:443" },
		{ "[::ffff:192.0.2.1]:443", "[::ffff:192.0.2.1]:443" },
	};
	uint8_t in[RELAY_DATA_MAX], out[RELAY_DATA_MAX];
	struct relay_begin b;
	struct wire_wr w;

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(rows); i++) {
		size_t n = strlen(rows[i].in) + 1, want = strlen(rows[i].out) + 1;

		memcpy(in, rows[i].in, n);
		assert_int_equal(relay_begin_parse(in, n, &b), UM_OK);
		wire_wr_init(&w, out, sizeof(out));
		assert_int_equal(relay_begin_write(&w, &b), UM_OK);
		assert_int_equal(w.len, want + 4);
		assert_memory_equal(out, rows[i].out, want);
	}

	/* Lengths at their limits: a 63-byte label, a 255-byte name. */
	{
		char name[300];
		size_t n;

		memset(name, 'a', 63);
		strcpy(name + 63, ".com:443");
		assert_int_equal(begin_text(name, strlen(name) + 1, &b), UM_OK);
		for (int k = 0; k < 4; k++) {
			memset(name + 64 * k, 'b', 63);
			name[64 * k + 63] = '.';
		}
		name[255] = '\0'; /* 4 labels of 63 and 3 dots */
		assert_int_equal(strlen(name), 255);
		strcat(name, ":9");
		n = strlen(name) + 1;
		assert_int_equal(begin_text(name, n, &b), UM_OK);
		assert_int_equal(strlen(b.target.name), 255);
		/* Encoders lower-case what a local caller gives them. */
		b.target.name[0] = 'B';
		wire_wr_init(&w, out, sizeof(out));
		assert_int_equal(relay_begin_write(&w, &b), UM_OK);
		assert_int_equal(out[0], 'b');
	}
}

static void
test_begin_prefixes(void **state)
{
	static const char hex[] = "6578616d706c652e636f6d3a343433"
	                          "00"
	                          "00000001";
	uint8_t in[64];
	struct relay_begin b;
	size_t n = unhex(in, sizeof(in), hex);

	(void)state;
	for (size_t cut = 0; cut < n; cut++) {
		int ret = relay_begin_parse(in, cut, &b);

		/* Right after the NUL, FLAGS is absent: a complete BEGIN with flags 0. */
		if (cut == 16) {
			assert_int_equal(ret, UM_OK);
			assert_int_equal(b.flags, 0);
		} else {
			assert_int_equal(ret, UM_ERR_TRUNCATED);
		}
	}
	in[n] = 0;
	assert_int_equal(relay_begin_parse(in, n + 1, &b), UM_ERR_TRAILING);
}

static void
test_begin_malformed(void **state)
{
	static const struct {
		const char *name;
		const char *text; /* sent with its NUL, then FLAGS 00000000 */
	} rows[] = {
		{ "port 0", "example.com:0" },
		{ "port leading zero", "example.com:0443" },
		{ "port 65536", "example.com:65536" },
		{ "port 6 digits", "example.com:100000" },
		{ "port signed", "example.com:+443" },
		{ "port hex", "example.com:0x1bb" },
		{ "port empty", "example.com:" },
		{ "no port", "example.com" },
		{ "empty host", ":443" },
		{ "two colons", "example.com:443:80" },
		{ "space", "exa mple.com:443" },
		{ "tab", "example.com:\t443" },
		{ "control", "exa\x01mple.com:443" },
		{ "del", "exa\x7fmple.com:443" },
		{ "non-ascii", "\xc3\xa9xample.com:443" },
		{ "underscore", "ex_ample.com:443" },
		{ "slash", "example.com/x:443" },
		{ "percent", "example.com%25:443" },
		{ "empty label", "example..com:443" },
		{ "leading dot", ".example.com:443" },
		{ "trailing dot", "example.com.:443" },
		{ "only a dot", ".:443" },
		{ "leading hyphen", "-example.com:443" },
		{ "trailing hyphen", "example-.com:443" },
		{ "hyphen before dot", "a.b-.com:443" },
		{ "numeric last label", "example.123:443" },
		{ "three octets", "1.2.3:443" },
		{ "octet 256", "256.1.1.1:443" },
		{ "octet leading zero", "01.2.3.4:443" },
		{ "five octets", "1.2.3.4.5:443" },
		{ "ipv6 unbracketed", "2001:db8::1:443" },
		{ "ipv6 no closing bracket", "[2001:db8::1:443" },
		{ "ipv6 no opening bracket", "2001:db8::1]:443" },
		{ "ipv6 bad digit", "[2001:db8::g]:443" },
		{ "ipv6 too many groups", "[1:2:3:4:5:6:7:8:9]:443" },
		{ "ipv6 empty brackets", "[]:443" },
		{ "ipv4 in brackets", "[192.0.2.1]:443" },
		{ "ipv6 zone", "[fe80::1%eth0]:443" },
		{ "brackets in a name", "ex[am]ple.com:443" },
		{ "label 64",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com:443" },
	};
	uint8_t in[RELAY_DATA_MAX];
	struct relay_begin b;

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(rows); i++) {
		size_t n = strlen(rows[i].text) + 1;
		int ret;

		memcpy(in, rows[i].text, n);
		memset(in + n, 0, 4);
		ret = relay_begin_parse(in, n + 4, &b);
		if (ret != UM_ERR_MALFORMED)
			print_error("case %zu (%s): %s\n", i, rows[i].name, um_err_str(ret));
		assert_int_equal(ret, UM_ERR_MALFORMED);
	}
}

static void
test_begin_malformed_binary(void **state)
{
	static const struct {
		const char *name, *hex;
	} rows[] = {
		/* "a.com:443" NUL "x.com:443" NUL: the second string is a FLAGS that is too long
		 * or wrong; an embedded NUL can never pass for part of the host. */
		{ "embedded NUL", "612e636f6d"
		                  "00"
		                  "3a343433"
		                  "00" },
		{ "flags reserved bit 3", "612e636f6d3a343433"
		                          "00"
		                          "00000008" },
		{ "flags high bit", "612e636f6d3a343433"
		                    "00"
		                    "80000000" },
		{ "flags ipv4-not-ok alone", "612e636f6d3a343433"
		                             "00"
		                             "00000002" },
		{ "flags 6 (ipv4-not-ok, preferred)", "612e636f6d3a343433"
		                                      "00"
		                                      "00000006" },
	};
	uint8_t in[RELAY_DATA_MAX];
	struct relay_begin b;
	char big[RELAY_DATA_MAX];

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(rows); i++) {
		size_t n = unhex(in, sizeof(in), rows[i].hex);
		int ret = relay_begin_parse(in, n, &b);

		if (ret != UM_ERR_MALFORMED)
			print_error("case %zu (%s): %s\n", i, rows[i].name, um_err_str(ret));
		assert_int_equal(ret, UM_ERR_MALFORMED);
	}
	/* A 256-byte name, and an ADDRPORT that never ends: refused, never "wait for more". */
	memset(big, 'a', sizeof(big));
	big[63] = big[127] = big[191] = big[254] = '.'; /* labels of 63, 63, 63, 62 and 1 */
	memcpy(big + 256, ":443", 5);
	assert_int_equal(begin_text(big, 261, &b), UM_ERR_MALFORMED);
	memset(big, 'a', sizeof(big));
	assert_int_equal(begin_text(big, sizeof(big), &b), UM_ERR_MALFORMED);
	assert_int_equal(begin_text(big, RELAY_ADDRPORT_MAX + 1, &b), UM_ERR_MALFORMED);
	assert_int_equal(begin_text(big, RELAY_ADDRPORT_MAX, &b), UM_ERR_TRUNCATED);
}

static void
test_begin_encode_refuses(void **state)
{
	struct relay_begin b;
	uint8_t out[RELAY_DATA_MAX];
	struct wire_wr w;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.target.type = RELAY_HOST_NAME;
	strcpy(b.target.name, "example.com");
	b.target.port = 443;
	wire_wr_init(&w, out, sizeof(out));
	assert_int_equal(relay_begin_write(&w, &b), UM_OK);
	w.len = 0;
	b.target.port = 0;
	assert_int_equal(relay_begin_write(&w, &b), UM_ERR_INVALID);
	b.target.port = 443;
	strcpy(b.target.name, "bad name");
	assert_int_equal(relay_begin_write(&w, &b), UM_ERR_INVALID);
	strcpy(b.target.name, "example.com");
	b.flags = 0x8;
	assert_int_equal(relay_begin_write(&w, &b), UM_ERR_INVALID);
	b.flags = 0;
	b.target.type = 5;
	assert_int_equal(relay_begin_write(&w, &b), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
}

/* ---- CONNECTED, END ---- */

static void
test_connected(void **state)
{
	static const char v4_hex[] = "c0000201"
	                             "00000e10"; /* 192.0.2.1, TTL 3600 */
	static const char v6_hex[] = "00000000"
	                             "06"
	                             "20010db8000000000000000000000001"
	                             "00000e10";
	uint8_t in[64];
	struct relay_msg m;
	struct relay_connected c;
	size_t n;

	(void)state;
	memset(in, 0, sizeof(in));
	assert_roundtrip(RELAY_CONNECTED, in, 0, &m);
	assert_int_equal(m.u.connected.addr_type, 0);

	n = unhex(in, sizeof(in), v4_hex);
	assert_roundtrip(RELAY_CONNECTED, in, n, &m);
	assert_int_equal(m.u.connected.addr_type, RELAY_HOST_IPV4);
	assert_int_equal(m.u.connected.addr[0], 192);
	assert_int_equal(m.u.connected.ttl, 3600);
	for (size_t cut = 1; cut < n; cut++) /* the empty prefix is the empty CONNECTED */
		assert_int_equal(relay_connected_parse(in, cut, &c), UM_ERR_TRUNCATED);
	in[n] = 0;
	assert_int_equal(relay_connected_parse(in, n + 1, &c), UM_ERR_TRAILING);

	n = unhex(in, sizeof(in), v6_hex);
	assert_roundtrip(RELAY_CONNECTED, in, n, &m);
	assert_int_equal(m.u.connected.addr_type, RELAY_HOST_IPV6);
	assert_int_equal(m.u.connected.addr[0], 0x20);
	assert_int_equal(m.u.connected.addr[15], 0x01);
	for (size_t cut = 1; cut < n; cut++)
		assert_int_equal(relay_connected_parse(in, cut, &c), UM_ERR_TRUNCATED);
	in[n] = 0;
	assert_int_equal(relay_connected_parse(in, n + 1, &c), UM_ERR_TRAILING);

	/* 0.0.0.0 followed by anything but type 6. */
	n = unhex(in, sizeof(in),
	          "00000000"
	          "04"
	          "20010db8000000000000000000000001"
	          "00000e10");
	assert_int_equal(relay_connected_parse(in, n, &c), UM_ERR_MALFORMED);
	n = unhex(in, sizeof(in),
	          "00000000"
	          "00000e10");
	assert_int_equal(relay_connected_parse(in, n, &c), UM_ERR_MALFORMED);
	/* The encoder cannot write an IPv4 0.0.0.0 (it would read back as the IPv6 marker). */
	{
		struct wire_wr w;
		uint8_t out[64];

		memset(&c, 0, sizeof(c));
		c.addr_type = RELAY_HOST_IPV4;
		wire_wr_init(&w, out, sizeof(out));
		assert_int_equal(relay_connected_write(&w, &c), UM_ERR_INVALID);
		assert_int_equal(w.len, 0);
	}
}

static void
test_end(void **state)
{
	static const char v4_hex[] = "04"
	                             "c0000201"
	                             "00000e10";
	static const char v6_hex[] = "04"
	                             "20010db8000000000000000000000001"
	                             "0000003c";
	static const struct {
		const char *name, *hex;
	} bad[] = {
		{ "reason 0", "00" },
		{ "reason 15", "0f" },
		{ "reason ff", "ff" },
		{ "reason 0 with address", "00c000020100000e10" },
	};
	uint8_t in[64];
	struct relay_msg m;
	struct relay_end e;
	struct wire_wr w;
	size_t n;

	(void)state;
	for (uint8_t r = 1; r <= RELAY_END_REASON_MAX; r++) {
		in[0] = r;
		assert_roundtrip(RELAY_END, in, 1, &m);
		assert_int_equal(m.u.end.reason, r);
		assert_int_equal(m.u.end.addr_type, 0);
	}
	/* Only EXITPOLICY carries an address: one more byte after DONE is trailing. */
	in[0] = RELAY_END_DONE;
	in[1] = 0;
	assert_int_equal(relay_end_parse(in, 2, &e), UM_ERR_TRAILING);
	n = unhex(in, sizeof(in), "06c000020100000e10");
	assert_int_equal(relay_end_parse(in, n, &e), UM_ERR_TRAILING);

	n = unhex(in, sizeof(in), v4_hex);
	assert_roundtrip(RELAY_END, in, n, &m);
	assert_int_equal(m.u.end.addr_type, RELAY_HOST_IPV4);
	assert_int_equal(m.u.end.ttl, 3600);
	for (size_t cut = 0; cut < n; cut++) /* cut 1: the address-less EXITPOLICY END */
		assert_int_equal(relay_end_parse(in, cut, &e), cut == 1 ? UM_OK : UM_ERR_TRUNCATED);

	n = unhex(in, sizeof(in), v6_hex);
	assert_roundtrip(RELAY_END, in, n, &m);
	assert_int_equal(m.u.end.addr_type, RELAY_HOST_IPV6);
	assert_int_equal(m.u.end.addr[1], 0x01);
	assert_int_equal(m.u.end.ttl, 60);
	/* The form is told by length (as Tor): a 9-byte prefix reads as the IPv4 form. */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(relay_end_parse(in, cut, &e),
		                 cut == 1 || cut == 9 ? UM_OK : UM_ERR_TRUNCATED);
	in[n] = 0;
	assert_int_equal(relay_end_parse(in, n + 1, &e), UM_ERR_TRAILING);

	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		n = unhex(in, sizeof(in), bad[i].hex);
		assert_int_equal(relay_end_parse(in, n, &e), UM_ERR_MALFORMED);
	}
	/* The writer refuses an address on another reason. */
	memset(&e, 0, sizeof(e));
	e.reason = RELAY_END_DONE;
	e.addr_type = RELAY_HOST_IPV4;
	wire_wr_init(&w, in, sizeof(in));
	assert_int_equal(relay_end_write(&w, &e), UM_ERR_INVALID);
	e.reason = 0;
	e.addr_type = 0;
	assert_int_equal(relay_end_write(&w, &e), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
}

/* ---- RESOLVE, RESOLVED ---- */

static void
test_resolve(void **state)
{
	static const char *const bad[] = {
		"192.0.2.1", "example.com:80", "exa mple.com", "", "a..b", "[::1]", "-a.com",
	};
	uint8_t in[RELAY_DATA_MAX];
	struct relay_msg m;
	struct relay_resolve r;
	size_t n;

	(void)state;
	n = unhex(in, sizeof(in), "6578616d706c652e636f6d00"); /* "example.com" NUL */
	assert_roundtrip(RELAY_RESOLVE, in, n, &m);
	assert_string_equal(m.u.resolve.name, "example.com");
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(relay_resolve_parse(in, cut, &r), UM_ERR_TRUNCATED);
	in[n] = 0;
	assert_int_equal(relay_resolve_parse(in, n + 1, &r), UM_ERR_TRAILING);

	memcpy(in, "4.3.2.1.IN-ADDR.ARPA", 21);
	assert_int_equal(relay_resolve_parse(in, 21, &r), UM_OK);
	assert_string_equal(r.name, "4.3.2.1.in-addr.arpa");

	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		n = strlen(bad[i]) + 1;
		memcpy(in, bad[i], n);
		assert_int_equal(relay_resolve_parse(in, n, &r), UM_ERR_MALFORMED);
	}
	memset(in, 'a', sizeof(in));
	assert_int_equal(relay_resolve_parse(in, sizeof(in), &r), UM_ERR_MALFORMED);
}

#define ANS_V4     \
	"04"       \
	"04"       \
	"c0000201" \
	"00000e10"
#define ANS_V6                             \
	"06"                               \
	"10"                               \
	"20010db8000000000000000000000001" \
	"00000e10"
#define ANS_NAME                 \
	"00"                     \
	"0b"                     \
	"6578616d706c652e636f6d" \
	"0000003c"
#define ANS_ERR \
	"f0"    \
	"00"    \
	"00000000"

static void
test_resolved(void **state)
{
	static const struct {
		const char *name, *hex;
	} bad[] = {
		{ "unknown type 5", "05"
		                    "04"
		                    "c0000201"
		                    "00000e10" },
		{ "ipv4 len 5", "04"
		                "05"
		                "c000020100"
		                "00000e10" },
		{ "ipv4 len 16", "04"
		                 "10" },
		{ "ipv6 len 4", "06"
		                "04"
		                "c0000201"
		                "00000e10" },
		{ "hostname len 0", "00"
		                    "00"
		                    "00000e10" },
		{ "hostname with a space", "00"
		                           "03"
		                           "612062"
		                           "00000e10" },
		{ "hostname with a NUL", "00"
		                         "03"
		                         "610062"
		                         "00000e10" },
		{ "hostname trailing dot", "00"
		                           "02"
		                           "612e"
		                           "00000e10" },
		{ "error with a value", "f0"
		                        "01"
		                        "00"
		                        "00000000" },
		{ "nontransient error with a value", "f1"
		                                     "04"
		                                     "c0000201"
		                                     "00000000" },
		{ "error after an answer", ANS_V4 ANS_ERR },
		{ "answer after an error", ANS_ERR ANS_V4 },
		{ "two errors", ANS_ERR "f1"
		                        "00"
		                        "00000000" },
	};
	uint8_t in[RELAY_DATA_MAX];
	struct relay_msg m;
	struct relay_resolved r;
	size_t n;

	(void)state;
	n = unhex(in, sizeof(in), ANS_V4 ANS_V6 ANS_NAME);
	assert_roundtrip(RELAY_RESOLVED, in, n, &m);
	assert_int_equal(m.u.resolved.n_answers, 3);
	assert_int_equal(m.u.resolved.answers[0].type, RELAY_ANSWER_IPV4);
	assert_int_equal(m.u.resolved.answers[1].addr[15], 0x01);
	assert_string_equal(m.u.resolved.answers[2].name, "example.com");
	assert_int_equal(m.u.resolved.answers[2].ttl, 60);
	/* Prefixes: short everywhere except at the end of an answer, where fewer answers parse. */
	for (size_t cut = 0; cut < n; cut++) {
		int want = cut == 10 || cut == 32 ? UM_OK : UM_ERR_TRUNCATED;

		assert_int_equal(relay_resolved_parse(in, cut, &r), want);
	}

	n = unhex(in, sizeof(in), ANS_ERR);
	assert_roundtrip(RELAY_RESOLVED, in, n, &m);
	assert_int_equal(m.u.resolved.answers[0].type, RELAY_ANSWER_ERR_TRANSIENT);
	n = unhex(in, sizeof(in),
	          "f1"
	          "00"
	          "0000012c");
	assert_roundtrip(RELAY_RESOLVED, in, n, &m);

	/* A name answer is canonicalised like BEGIN's host. */
	n = unhex(in, sizeof(in),
	          "00"
	          "0b"
	          "4558414d504c452e434f4d"
	          "0000003c");
	assert_int_equal(relay_resolved_parse(in, n, &r), UM_OK);
	assert_string_equal(r.answers[0].name, "example.com");

	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		int ret;

		n = unhex(in, sizeof(in), bad[i].hex);
		ret = relay_resolved_parse(in, n, &r);
		if (ret != UM_ERR_MALFORMED)
			print_error("case %zu (%s): %s\n", i, bad[i].name, um_err_str(ret));
		assert_int_equal(ret, UM_ERR_MALFORMED);
	}

	/* At most 16 answers. */
	n = 0;
	for (int i = 0; i < RELAY_RESOLVED_MAX_ANSWERS; i++)
		n += unhex(in + n, sizeof(in) - n, ANS_V4);
	assert_int_equal(relay_resolved_parse(in, n, &r), UM_OK);
	assert_int_equal(r.n_answers, RELAY_RESOLVED_MAX_ANSWERS);
	n += unhex(in + n, sizeof(in) - n, ANS_V4);
	assert_int_equal(relay_resolved_parse(in, n, &r), UM_ERR_MALFORMED);

	/* The writer refuses an empty list. */
	{
		struct wire_wr w;

		memset(&r, 0, sizeof(r));
		wire_wr_init(&w, in, sizeof(in));
		assert_int_equal(relay_resolved_write(&w, &r), UM_ERR_INVALID);
	}
}

static int
setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_begin_known_vectors),
		cmocka_unit_test(test_begin_canonical_forms),
		cmocka_unit_test(test_begin_prefixes),
		cmocka_unit_test(test_begin_malformed),
		cmocka_unit_test(test_begin_malformed_binary),
		cmocka_unit_test(test_begin_encode_refuses),
		cmocka_unit_test(test_connected),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_resolved),
	};

	return cmocka_run_group_tests_name("circuit_stream_msg", tests, setup, NULL);
}
