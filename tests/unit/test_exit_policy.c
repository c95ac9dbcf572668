/* SPDX-License-Identifier: MIT */
/*
 * Exit policies (docs/PROTOCOL.md section 10): valid texts with their canonical form (and the
 * canonical form parses back to itself), invalid texts with the exact error message, limits,
 * first-match evaluation over a table of destinations, the private-address list at its
 * edges, IPv4-mapped destinations, "may accept port", and the descriptor summary (per-family
 * ports, the reject-private flag, coarsening when more than 32 ranges are needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "directory/descriptor.h"
#include "exit/exit_policy.h"

static struct exit_policy *
parse_ok(const char *text)
{
	struct exit_policy *p = NULL;
	char err[EXIT_POLICY_ERR_LEN];

	if (exit_policy_parse(text, strlen(text), &p, err, sizeof(err)) != UM_OK)
		fail_msg("'%s': %s", text, err);
	assert_non_null(p);
	return p;
}

static void
test_policy_parse_valid(void **state)
{
	static const struct {
		const char *in, *canon;
		size_t n;
	} cases[] = {
		{ "", "", 0 },
		{ " ,\n, # nothing\n", "", 0 },
		{ EXIT_POLICY_DEFAULT, "reject private:*, reject *:25, accept *:*", 3 },
		{ "ACCEPT *4:80,Reject *6:443", "accept *4:80, reject *6:443", 2 },
		{ "  accept\t 10.0.0.0/8:1-1024  \r\n reject PRIVATE:*\n",
		  "accept 10.0.0.0/8:1-1024, reject private:*", 2 },
		{ "accept 192.0.2.1:80", "accept 192.0.2.1:80", 1 },
		{ "accept 192.0.2.1/32:80-80", "accept 192.0.2.1:80", 1 },
		{ "reject 0.0.0.0/0:1-65535", "reject 0.0.0.0/0:*", 1 },
		{ "accept [2001:DB8:0:0::]/32:22", "accept [2001:db8::]/32:22", 1 },
		{ "accept [::1]:53,accept [::]/0:*", "accept [::1]:53, accept [::]/0:*", 2 },
		{ "accept [::ffff:1.2.3.4]:1", "accept [::ffff:1.2.3.4]:1", 1 },
		{ "accept *:80 # web, reject *:*\nreject *:*", "accept *:80, reject *:*", 2 },
		{ "accept *:65535-65535", "accept *:65535", 1 },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		struct exit_policy *p = parse_ok(cases[i].in), *q;
		char out[1024];

		assert_int_equal(exit_policy_n_rules(p), cases[i].n);
		assert_int_equal(exit_policy_format(p, out, sizeof(out)), UM_OK);
		assert_string_equal(out, cases[i].canon);
		q = parse_ok(out);
		assert_int_equal(exit_policy_n_rules(q), cases[i].n);
		for (size_t j = 0; j < cases[i].n; j++)
			assert_memory_equal(exit_policy_rule(p, j), exit_policy_rule(q, j),
			                    sizeof(struct exit_rule));
		assert_null(exit_policy_rule(p, cases[i].n));
		/* Too small a buffer: an error and an empty string, never a cut rule. */
		if (cases[i].n > 0) {
			assert_int_equal(exit_policy_format(p, out, strlen(cases[i].canon)),
			                 UM_ERR_TOO_LARGE);
			assert_string_equal(out, "");
		}
		exit_policy_free(p);
		exit_policy_free(q);
	}
}

static void
test_policy_parse_errors(void **state)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "allow *:80",
		  "exit policy rule 1 (byte 0) 'allow *:80': a rule starts with accept "
		  "or reject" },
		{ "accept *:80, reject", "exit policy rule 2 (byte 13) 'reject': missing ADDR:PORT "
		                         "after the keyword" },
		{ "accept *", "exit policy rule 1 (byte 0) 'accept *': missing :PORT" },
		{ "accept [::1]", "exit policy rule 1 (byte 0) 'accept [::1]': missing :PORT" },
		{ "accept *:0", "exit policy rule 1 (byte 0) 'accept *:0': bad port (want *, "
		                "1..65535 or a range lo-hi)" },
		{ "accept *:65536",
		  "exit policy rule 1 (byte 0) 'accept *:65536': bad port (want *, "
		  "1..65535 or a range lo-hi)" },
		{ "accept *:-5", "exit policy rule 1 (byte 0) 'accept *:-5': bad port (want *, "
		                 "1..65535 or a range lo-hi)" },
		{ "accept *:80-", "exit policy rule 1 (byte 0) 'accept *:80-': bad port (want *, "
		                  "1..65535 or a range lo-hi)" },
		{ "\n\naccept *:80-22",
		  "exit policy rule 1 (byte 2) 'accept *:80-22': port range ends "
		  "before it starts" },
		{ "accept * :80",
		  "exit policy rule 1 (byte 0) 'accept * :80': unexpected blank inside "
		  "ADDR:PORT (separate rules with , or newlines)" },
		{ "accept 10.0.0.1/8:*",
		  "exit policy rule 1 (byte 0) 'accept 10.0.0.1/8:*': address "
		  "has bits set beyond its prefix length" },
		{ "accept 10.0.0.0/33:*", "exit policy rule 1 (byte 0) 'accept 10.0.0.0/33:*': bad "
		                          "prefix length (want /0../32)" },
		{ "accept [::]/129:*",
		  "exit policy rule 1 (byte 0) 'accept [::]/129:*': bad prefix "
		  "length (want /0../128)" },
		{ "accept 10.0.0.0/:*",
		  "exit policy rule 1 (byte 0) 'accept 10.0.0.0/:*': bad prefix "
		  "length (want /0../32)" },
		{ "accept 10.0.0/8:*",
		  "exit policy rule 1 (byte 0) 'accept 10.0.0/8:*': bad address "
		  "(want *, *4, *6, private, a.b.c.d or [IPv6])" },
		{ "accept 2001:db8:::80",
		  "exit policy rule 1 (byte 0) 'accept 2001:db8:::80': bad "
		  "address (an IPv6 address goes in brackets: [2001:db8::]/32)" },
		{ "accept [2001:db8::/32]:80",
		  "exit policy rule 1 (byte 0) 'accept [2001:db8::/32]:80': "
		  "bad address (an IPv6 address goes in brackets: "
		  "[2001:db8::]/32)" },
		{ "accept [2001:db8::g]:80",
		  "exit policy rule 1 (byte 0) 'accept [2001:db8::g]:80': "
		  "bad IPv6 address" },
		{ "accept [1.2.3.4]:80",
		  "exit policy rule 1 (byte 0) 'accept [1.2.3.4]:80': bad IPv6 "
		  "address" },
		{ "accept *5:80",
		  "exit policy rule 1 (byte 0) 'accept *5:80': bad address (want *, *4, "
		  "*6, private, a.b.c.d or [IPv6])" },
		{ "accept\x01*:80",
		  "exit policy rule 1 (byte 0) 'accept\\x01*:80': a rule starts with "
		  "accept or reject" },
		{ "accept *:80\nreject example.com:443",
		  "exit policy rule 2 (byte 12) 'reject example.com:443': bad address (want *, *4, "
		  "*6, "
		  "private, a.b.c.d or [IPv6])" },
		{ "reject 1.2.3.4:1234567890123456789012345678901234567890123",
		  "exit policy rule 1 (byte 0) 'reject 1.2.3.4:1234567890123456789012345...': bad "
		  "port "
		  "(want *, 1..65535 or a range lo-hi)" },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		struct exit_policy *p = (struct exit_policy *)1;
		char err[EXIT_POLICY_ERR_LEN];

		assert_int_equal(
		        exit_policy_parse(cases[i].in, strlen(cases[i].in), &p, err, sizeof(err)),
		        UM_ERR_MALFORMED);
		assert_null(p);
		assert_string_equal(err, cases[i].err);
	}
	{
		/* A NUL byte inside a rule. */
		struct exit_policy *p;
		char err[EXIT_POLICY_ERR_LEN];

		assert_int_equal(exit_policy_parse("accept\0*:80", 11, &p, err, sizeof(err)),
		                 UM_ERR_MALFORMED);
		assert_string_equal(err, "exit policy rule 1 (byte 0) 'accept\\x00*:80': NUL byte");
		/* No error buffer is fine. */
		assert_int_equal(exit_policy_parse("x", 1, &p, NULL, 0), UM_ERR_MALFORMED);
	}
}

static void
test_policy_limits(void **state)
{
	static char text[EXIT_POLICY_TEXT_MAX + 2];
	struct exit_policy *p;
	char err[EXIT_POLICY_ERR_LEN];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < EXIT_POLICY_RULES_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "accept *:%d\n", i + 1);
	assert_int_equal(exit_policy_parse(text, n, &p, err, sizeof(err)), UM_OK);
	assert_int_equal(exit_policy_n_rules(p), EXIT_POLICY_RULES_MAX);
	exit_policy_free(p);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "accept *:999\n");
	assert_int_equal(exit_policy_parse(text, n, &p, err, sizeof(err)), UM_ERR_TOO_LARGE);
	assert_null(p);
	assert_string_equal(err, "exit policy rule 257 (byte 3220) 'accept *:999': too many rules "
	                         "(at most 256)");
	memset(text, ' ', sizeof(text));
	assert_int_equal(exit_policy_parse(text, EXIT_POLICY_TEXT_MAX, &p, err, sizeof(err)),
	                 UM_OK);
	assert_int_equal(exit_policy_n_rules(p), 0);
	exit_policy_free(p);
	assert_int_equal(exit_policy_parse(text, EXIT_POLICY_TEXT_MAX + 1, &p, err, sizeof(err)),
	                 UM_ERR_TOO_LARGE);
	assert_string_equal(err, "exit policy longer than 65536 bytes");
}

/* Parse "1.2.3.4" or "2001:db8::1" into family and bytes. */
static uint8_t
addr_of(const char *s, uint8_t *out)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1)
		return EXIT_AF_IPV4;
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
	return EXIT_AF_IPV6;
}

static void
test_policy_allows(void **state)
{
	static const char pol[] = "reject private:*, reject *:25, "
	                          "accept 198.51.100.0/24:22, reject *4:22, "
	                          "accept [2001:db8::]/32:22, reject *6:22, "
	                          "reject 203.0.113.7:*, reject [2001:db8:bad::]/48:*, "
	                          "accept *:1-1024, accept *4:8080-8090, reject *:*";
	static const struct {
		const char *addr;
		uint16_t port;
		bool ok;
	} cases[] = {
		{ "8.8.8.8", 80, true },
		{ "8.8.8.8", 25, false },
		{ "8.8.8.8", 22, false },
		{ "198.51.100.9", 22, true },
		{ "198.51.101.9", 22, false },
		{ "2001:db8::5", 22, true },
		{ "2001:db9::5", 22, false },
		{ "203.0.113.7", 80, false },
		{ "203.0.113.8", 80, true },
		{ "2001:db8:bad::1", 80, false },
		{ "2001:db8:bad::1", 22, true }, /* the :22 accept comes first */
		{ "2001:db8:bae::1", 80, true },
		{ "8.8.8.8", 1024, true },
		{ "8.8.8.8", 1025, false },
		{ "8.8.8.8", 8085, true },
		{ "2606:4700::1", 8085, false },
		{ "8.8.8.8", 0, false },
		{ "10.1.2.3", 80, false },
		{ "127.0.0.1", 80, false },
		{ "::1", 80, false },
		{ "fe80::1", 80, false },
		/* IPv4-mapped: judged as the IPv4 address */
		{ "::ffff:8.8.8.8", 80, true },
		{ "::ffff:10.0.0.1", 80, false },
		{ "::ffff:203.0.113.7", 80, false },
		{ "::ffff:8.8.8.8", 8085, true },
		/* IPv4-compatible forms of private addresses are private */
		{ "::10.0.0.1", 80, false },
		{ "::8.8.8.8", 80, true },
	};
	struct exit_policy *p = parse_ok(pol);

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		uint8_t a[16];
		uint8_t fam = addr_of(cases[i].addr, a);

		if (exit_policy_allows(p, fam, a, cases[i].port) != cases[i].ok)
			fail_msg("%s:%u: want %d", cases[i].addr, cases[i].port, cases[i].ok);
	}
	{
		uint8_t a[16] = { 8, 8, 8, 8 };

		assert_false(exit_policy_allows(p, 5, a, 80)); /* unknown family */
	}
	exit_policy_free(p);
	/* The empty policy rejects everything. */
	p = parse_ok("");
	{
		uint8_t a[16] = { 8, 8, 8, 8 };

		assert_false(exit_policy_allows(p, EXIT_AF_IPV4, a, 80));
		assert_false(exit_policy_may_accept_port(p, 80));
	}
	exit_policy_free(p);
	/* IPv6 rules never see a mapped address. */
	p = parse_ok("accept [::ffff:0:0]/96:*");
	{
		uint8_t a[16];

		assert_int_equal(addr_of("::ffff:8.8.8.8", a), EXIT_AF_IPV6);
		assert_false(exit_policy_allows(p, EXIT_AF_IPV6, a, 80));
	}
	exit_policy_free(p);
}

static void
test_private_addresses(void **state)
{
	static const struct {
		const char *addr;
		bool priv;
	} cases[] = {
		{ "0.0.0.0", true },
		{ "0.255.255.255", true },
		{ "1.0.0.0", false },
		{ "9.255.255.255", false },
		{ "10.0.0.0", true },
		{ "10.255.255.255", true },
		{ "11.0.0.0", false },
		{ "100.63.255.255", false },
		{ "100.64.0.0", true },
		{ "100.127.255.255", true },
		{ "100.128.0.0", false },
		{ "126.255.255.255", false },
		{ "127.0.0.1", true },
		{ "169.253.255.255", false },
		{ "169.254.1.1", true },
		{ "172.15.255.255", false },
		{ "172.16.0.0", true },
		{ "172.31.255.255", true },
		{ "172.32.0.0", false },
		{ "192.0.0.255", true },
		{ "192.0.1.0", false },
		{ "192.0.2.1", false },
		{ "192.167.255.255", false },
		{ "192.168.0.0", true },
		{ "192.169.0.0", false },
		{ "198.17.255.255", false },
		{ "198.18.0.0", true },
		{ "198.19.255.255", true },
		{ "198.20.0.0", false },
		{ "223.255.255.255", false },
		{ "224.0.0.1", true },
		{ "239.255.255.255", true },
		{ "240.0.0.1", true },
		{ "255.255.255.255", true },
		{ "8.8.8.8", false },
		{ "::", true },
		{ "::1", true },
		{ "::2", true },
		/* ::0.0.0.2, in 0.0.0.0/8 */ { "::1:0:0", false },
		{ "fbff:ffff::", false },
		{ "fc00::", true },
		{ "fdff:ffff::1", true },
		{ "fe7f::1", false },
		{ "fe80::1", true },
		{ "febf::1", true },
		{ "fec0::1", false },
		{ "ff02::1", true },
		{ "2001:db8::1", false },
		{ "::ffff:10.0.0.1", true },
		{ "::ffff:8.8.8.8", false },
		{ "::ffff:0:0", true },
		{ "::10.0.0.1", true },
		{ "::127.0.0.1", true },
		{ "::8.8.8.8", false },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		uint8_t a[16];
		uint8_t fam = addr_of(cases[i].addr, a);

		if (exit_addr_is_private(fam, a) != cases[i].priv)
			fail_msg("%s: want %d", cases[i].addr, cases[i].priv);
	}
}

static void
test_policy_may_accept_port(void **state)
{
	struct exit_policy *p;

	(void)state;
	p = parse_ok("accept private:22, reject *:*");
	assert_false(exit_policy_may_accept_port(p, 22)); /* only private addresses */
	exit_policy_free(p);
	p = parse_ok("reject 0.0.0.0/1:*, reject 128.0.0.0/1:80, accept *4:*, "
	             "reject [::]/0:443, accept *:443");
	assert_true(exit_policy_may_accept_port(p, 22));
	assert_false(exit_policy_may_accept_port(p, 80)); /* both halves of IPv4 rejected */
	assert_true(exit_policy_may_accept_port(p, 443)); /* 128/1 on IPv4 */
	assert_false(exit_policy_may_accept_port(p, 0));
	exit_policy_free(p);
	/* Covered piecewise: every public IPv4 address is rejected on 80, save one. */
	p = parse_ok("reject private:*, reject 0.0.0.0/2:80, reject 64.0.0.0/2:80, "
	             "reject 128.0.0.0/2:80, reject 192.0.0.0/3:80, reject 224.0.0.0/3:80, "
	             "accept *4:80");
	assert_false(exit_policy_may_accept_port(p, 80));
	exit_policy_free(p);
	p = parse_ok("reject 0.0.0.0/2:80, reject 64.0.0.0/2:80, reject 128.0.0.0/2:80, "
	             "reject 192.0.0.0/3:80, reject 224.0.0.0/4:80, reject 240.0.0.0/5:80, "
	             "accept *4:80");
	/* 248.0.0.0/5 is left, and it is inside 240/4 (private): still nothing public. */
	assert_false(exit_policy_may_accept_port(p, 80));
	exit_policy_free(p);
	p = parse_ok("reject 0.0.0.0/2:80, reject 64.0.0.0/3:80, reject 128.0.0.0/1:80, "
	             "accept *4:80");
	assert_true(exit_policy_may_accept_port(p, 80)); /* 96.0.0.0/3 is public */
	exit_policy_free(p);
}

struct want_pol {
	uint8_t kind, n;
	uint16_t r[8][2];
};

static void
check_pol(const struct relay_policy *got, const struct want_pol *w)
{
	assert_int_equal(got->kind, w->kind);
	assert_int_equal(got->n_ranges, w->n);
	for (size_t i = 0; i < w->n; i++) {
		assert_int_equal(got->r[i].lo, w->r[i][0]);
		assert_int_equal(got->r[i].hi, w->r[i][1]);
	}
	assert_true(relay_policy_is_canonical(got));
}

static void
test_policy_summary(void **state)
{
	static const struct {
		const char *pol;
		struct want_pol p4, p6;
		uint8_t flags;
	} cases[] = {
		{ EXIT_POLICY_DEFAULT,
		  { RELAY_POLICY_REJECT, 1, { { 25, 25 } } },
		  { RELAY_POLICY_REJECT, 1, { { 25, 25 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "",
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "accept *:*",
		  { RELAY_POLICY_REJECT, 0, { { 0 } } },
		  { RELAY_POLICY_REJECT, 0, { { 0 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "accept *:80, accept *:443, accept *:81",
		  { RELAY_POLICY_ACCEPT, 2, { { 80, 81 }, { 443, 443 } } },
		  { RELAY_POLICY_ACCEPT, 2, { { 80, 81 }, { 443, 443 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "reject private:*, accept 1.2.3.4:22, reject *:*",
		  { RELAY_POLICY_ACCEPT, 1, { { 22, 22 } } },
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "reject private:*, accept *4:*",
		  { RELAY_POLICY_REJECT, 0, { { 0 } } },
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "reject 0.0.0.0/0:*, accept *:1-1000",
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  { RELAY_POLICY_ACCEPT, 1, { { 1, 1000 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		/* A private rule that accepts only inside IPv6 private space clears the flag. */
		{ "accept [fd00::]/8:9000, reject private:*, accept *:443",
		  { RELAY_POLICY_ACCEPT, 1, { { 443, 443 } } },
		  { RELAY_POLICY_ACCEPT, 1, { { 443, 443 } } },
		  0 },
		/* ...and one that reaches private space only through a mapped IPv6 prefix cannot.
		 */
		{ "accept [::ffff:10.0.0.0]/104:*, reject private:*, accept *:443",
		  { RELAY_POLICY_ACCEPT, 1, { { 443, 443 } } },
		  { RELAY_POLICY_ACCEPT, 1, { { 443, 443 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		/* 10.0.0.0/8 only: no public address, but private ones accepted. */
		{ "accept 10.0.0.0/8:*",
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  { RELAY_POLICY_ACCEPT, 0, { { 0 } } },
		  0 },
		{ "reject *:1-21, reject *:23-79, accept *:*, reject *:22",
		  { RELAY_POLICY_ACCEPT, 2, { { 22, 22 }, { 80, 65535 } } },
		  { RELAY_POLICY_ACCEPT, 2, { { 22, 22 }, { 80, 65535 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		/* One range either way: the accept form on a tie. */
		{ "reject *:65535, accept *:1-65535",
		  { RELAY_POLICY_ACCEPT, 1, { { 1, 65534 } } },
		  { RELAY_POLICY_ACCEPT, 1, { { 1, 65534 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
		{ "reject *:1000-2000, accept *:*",
		  { RELAY_POLICY_REJECT, 1, { { 1000, 2000 } } },
		  { RELAY_POLICY_REJECT, 1, { { 1000, 2000 } } },
		  RELAY_EXIT_F_REJECT_PRIVATE },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		struct exit_policy *p = parse_ok(cases[i].pol);
		struct relay_policy p4, p6;
		uint8_t flags = 0xee;

		print_message("%s\n", cases[i].pol);
		assert_int_equal(exit_policy_summarize(p, &p4, &p6, &flags), UM_OK);
		check_pol(&p4, &cases[i].p4);
		check_pol(&p6, &cases[i].p6);
		assert_int_equal(flags, cases[i].flags);
		exit_policy_free(p);
	}
}

/* 40 single ports accepted: neither form fits 32 ranges, the last 8 (ties) are dropped. */
static void
test_policy_summary_coarsened(void **state)
{
	char text[1024];
	size_t n = 0;
	struct exit_policy *p;
	struct relay_policy p4, p6;
	uint8_t flags;

	(void)state;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "accept *4:%d, ", 1000 + 2 * i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "accept *4:5000-6000");
	p = parse_ok(text);
	assert_int_equal(exit_policy_summarize(p, &p4, &p6, &flags), UM_OK);
	assert_int_equal(p4.kind, RELAY_POLICY_ACCEPT);
	assert_int_equal(p4.n_ranges, 32);
	/* The wide range survives; of the single ports, the first 31 do. */
	for (int i = 0; i < 31; i++) {
		assert_int_equal(p4.r[i].lo, 1000 + 2 * i);
		assert_int_equal(p4.r[i].hi, 1000 + 2 * i);
	}
	assert_int_equal(p4.r[31].lo, 5000);
	assert_int_equal(p4.r[31].hi, 6000);
	assert_int_equal(p6.kind, RELAY_POLICY_ACCEPT);
	assert_int_equal(p6.n_ranges, 0);
	assert_int_equal(flags, RELAY_EXIT_F_REJECT_PRIVATE); /* wildcards never reach them */
	exit_policy_free(p);
	/* 40 rejected single ports: the reject form has 40 ranges, the accept form 41. */
	n = (size_t)snprintf(text, sizeof(text), "reject private:*, ");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "reject *:%d, ", 1000 + 2 * i);
	snprintf(text + n, sizeof(text) - n, "accept *:*");
	p = parse_ok(text);
	assert_int_equal(exit_policy_summarize(p, &p4, &p6, &flags), UM_OK);
	/* Dropping accepted gaps between rejected ports merges them: never claims more. */
	assert_true(p4.n_ranges <= 32);
	assert_true(relay_policy_is_canonical(&p4));
	for (int i = 0; i < 40; i++)
		assert_false(relay_policy_allows_port(&p4, (uint16_t)(1000 + 2 * i)));
	assert_true(relay_policy_allows_port(&p4, 80));
	assert_true(relay_policy_allows_port(&p4, 1001)); /* the first gaps survive */
	assert_int_equal(flags, RELAY_EXIT_F_REJECT_PRIVATE);
	exit_policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_parse_valid),
		cmocka_unit_test(test_policy_parse_errors),
		cmocka_unit_test(test_policy_limits),
		cmocka_unit_test(test_policy_allows),
		cmocka_unit_test(test_private_addresses),
		cmocka_unit_test(test_policy_may_accept_port),
		cmocka_unit_test(test_policy_summary),
		cmocka_unit_test(test_policy_summary_coarsened),
	};

	return cmocka_run_group_tests_name("exit_policy", tests, NULL, NULL);
}
