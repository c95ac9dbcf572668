/* SPDX-License-Identifier: MIT */
/*
 * The exit's tier policy (src/exit/exit_tier.h, docs/PROTOCOL.md 17.6): parsing [relay]
 * tier_policy items (defaults for tiers 0 and 1, continuation items, "T:" alone, every
 * error named by item or tier); first-match judging with accept passing on to the exit
 * policy; the conservative "every address at a port" / "everything" answers; and the exit
 * context applying it: require_token refuses tier 0, a tier's reject refuses a literal (with
 * the address) and a host name before resolving, a tier's accept never widens the exit
 * policy, resolves are refused only for a tier that may open nothing. Opens are decided
 * inside exit_conn_open(); the two it lets start go to loopback and are cancelled at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "evloop/evloop.h"
#include "exit/exit_conn.h"
#include "exit/exit_policy.h"
#include "exit/exit_tier.h"

static struct exit_tier_policy *
parse_ok(const char *const *items, size_t n, bool require_token)
{
	struct exit_tier_policy *tp = NULL;
	char err[EXIT_TIER_ERR_LEN] = "";

	if (exit_tier_policy_parse(items, n, require_token, &tp, err, sizeof(err)) != UM_OK)
		fail_msg("tier policy refused: %s", err);
	return tp;
}

static void
parse_bad(const char *const *items, size_t n, const char *want)
{
	struct exit_tier_policy *tp = (struct exit_tier_policy *)1;
	char err[EXIT_TIER_ERR_LEN] = "";

	assert_int_not_equal(exit_tier_policy_parse(items, n, false, &tp, err, sizeof(err)), UM_OK);
	assert_null(tp);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static const uint8_t V4_PUB[4] = { 192, 0, 2, 1 };
static const uint8_t V4_OTHER[4] = { 198, 51, 100, 7 };

static bool
rej(const struct exit_tier_policy *tp, uint8_t tier, const uint8_t *a4, uint16_t port)
{
	return exit_tier_rejects(exit_tier_rules(tp, tier), EXIT_AF_IPV4, a4, port);
}

static void
test_defaults(void **state)
{
	struct exit_tier_policy *tp = parse_ok(NULL, 0, false);

	(void)state;
	assert_false(exit_tier_require_token(tp));
	/* Tiers 0 and 1: no SMTP; 2..15: nothing. */
	assert_true(rej(tp, 0, V4_PUB, 25));
	assert_true(rej(tp, 1, V4_PUB, 25));
	assert_false(rej(tp, 0, V4_PUB, 443));
	for (unsigned t = 2; t <= EXIT_TIER_MAX; t++) {
		assert_int_equal(exit_policy_n_rules(exit_tier_rules(tp, (uint8_t)t)), 0);
		assert_false(rej(tp, (uint8_t)t, V4_PUB, 25));
	}
	assert_null(exit_tier_rules(tp, 16));
	assert_true(exit_tier_admits(tp, 0));
	assert_true(exit_tier_admits(tp, 15));
	assert_false(exit_tier_admits(tp, 16));
	assert_true(exit_tier_rejects_port(exit_tier_rules(tp, 0), 25));
	assert_false(exit_tier_rejects_port(exit_tier_rules(tp, 0), 26));
	assert_false(exit_tier_rejects_all(exit_tier_rules(tp, 0)));
	/* No rules: nothing rejected. */
	assert_false(exit_tier_rejects(NULL, EXIT_AF_IPV4, V4_PUB, 25));
	assert_false(exit_tier_rejects_port(NULL, 25));
	assert_false(exit_tier_rejects_all(NULL));
	exit_tier_policy_free(tp);
	assert_null(tp);

	tp = parse_ok(NULL, 0, true);
	assert_true(exit_tier_require_token(tp));
	assert_false(exit_tier_admits(tp, 0));
	assert_true(exit_tier_admits(tp, 1));
	exit_tier_policy_free(tp);
}

static void
test_items(void **state)
{
	/* Tier 1 given with no rules (drops the default); tier 0 over two items (the second a
	 * continuation, as the environment's comma split makes); tier 3 reaches everything but
	 * one network; blanks around T. */
	static const char *const items[] = {
		"1:",
		"0: reject *:25",
		" reject *:465-587",
		" 3 : reject 198.51.100.0/24:*, accept *:*",
		"15: reject *:*",
	};
	struct exit_tier_policy *tp;
	char text[256];

	(void)state;
	tp = parse_ok(items, UM_ARRAY_LEN(items), false);
	assert_int_equal(exit_policy_n_rules(exit_tier_rules(tp, 1)), 0);
	assert_false(rej(tp, 1, V4_PUB, 25));
	assert_int_equal(exit_policy_n_rules(exit_tier_rules(tp, 0)), 2);
	assert_true(rej(tp, 0, V4_PUB, 25));
	assert_true(rej(tp, 0, V4_PUB, 500));
	assert_false(rej(tp, 0, V4_PUB, 443));
	assert_true(rej(tp, 3, V4_OTHER, 443));
	assert_false(rej(tp, 3, V4_PUB, 25)); /* the tier's accept: on to the exit policy */
	/* 2 has no item: no rules (not the low tiers' default). */
	assert_int_equal(exit_policy_n_rules(exit_tier_rules(tp, 2)), 0);
	assert_int_equal(exit_policy_format(exit_tier_rules(tp, 3), text, sizeof(text)), UM_OK);
	assert_string_equal(text, "reject 198.51.100.0/24:*, accept *:*");
	assert_true(rej(tp, 15, V4_PUB, 1));
	assert_true(exit_tier_rejects_all(exit_tier_rules(tp, 15)));
	assert_false(exit_tier_rejects_all(exit_tier_rules(tp, 3)));
	exit_tier_policy_free(tp);
}

static void
test_errors(void **state)
{
	static const char *const no_tier[] = { "reject *:25" };
	static const char *const twice[] = { "2: reject *:25", "2: reject *:26" };
	static const char *const big[] = { "16: reject *:25" };
	static const char *const huge[] = { "100: reject *:25" };
	static const char *const bad_rule[] = { "0: reject *:25", "4: alow *:80" };
	static const char *const bad_cont[] = { "0: reject *:25", "reject *:0" };

	(void)state;
	parse_bad(no_tier, 1, "item 1: does not start with a tier");
	parse_bad(twice, 2, "item 2: tier 2 is given twice");
	parse_bad(big, 1, "item 1: a tier is 0..15");
	parse_bad(huge, 1, "item 1: a tier is 0..15");
	parse_bad(bad_rule, 2, "tier 4: exit policy rule 1");
	parse_bad(bad_cont, 2, "tier 0: exit policy rule 2");
}

/* The conservative answers: never "every address refused" when some address may pass. */
static void
test_rejects_every(void **state)
{
	static const struct {
		const char *rules;
		uint16_t port;
		bool port_all; /* exit_tier_rejects_port(port) */
		bool all;      /* exit_tier_rejects_all() */
	} t[] = {
		{ "reject *:25", 25, true, false },
		{ "reject *:25", 80, false, false },
		{ "reject *4:25, reject *6:25", 25, true, false },
		{ "reject *4:25", 25, false, false },
		{ "accept 192.0.2.0/24:25, reject *:25", 25, false, false },
		{ "accept [2001:db8::]/32:*, reject *:*", 25, false, false },
		{ "reject 192.0.2.0/24:*, reject *:*", 25, true, true },
		{ "reject 0.0.0.0/0:*, reject [::]/0:*", 80, true, true },
		{ "accept *:80, reject *:*", 80, false, false },
		{ "accept *:80, reject *:*", 81, true, false },
		{ "reject private:*", 25, false, false },
		{ "reject *:1-1000, reject *:1001-65535", 5000, true, false },
		{ "", 25, false, false },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(t); i++) {
		struct exit_policy *p = NULL;
		char err[EXIT_POLICY_ERR_LEN];

		assert_int_equal(
		        exit_policy_parse(t[i].rules, strlen(t[i].rules), &p, err, sizeof(err)),
		        UM_OK);
		if (exit_tier_rejects_port(p, t[i].port) != t[i].port_all ||
		    exit_tier_rejects_all(p) != t[i].all)
			fail_msg("case %zu \"%s\" port %u", i, t[i].rules, t[i].port);
		exit_policy_free(p);
	}
}

/* exit_candidates() and exit_dest_allowed() with tier rules in front of the policy. */
static void
test_candidates(void **state)
{
	static const char *const items[] = { "2: reject 192.0.2.0/24:*, accept 127.0.0.1:*" };
	struct exit_tier_policy *tp = parse_ok(items, 1, false);
	struct exit_policy *p = NULL;
	struct sockaddr_storage in[2], out[EXIT_ADDRS_MAX];
	struct exit_addr a, refused;
	size_t n_family;
	char err[EXIT_POLICY_ERR_LEN];
	const char *pol = "reject private:*, accept *:*";

	(void)state;
	assert_int_equal(exit_policy_parse(pol, strlen(pol), &p, err, sizeof(err)), UM_OK);
	memset(in, 0, sizeof(in));
	for (size_t i = 0; i < 2; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&in[i];

		sin->sin_family = AF_INET;
		sin->sin_port = htons(443);
		memcpy(&sin->sin_addr, i == 0 ? V4_PUB : V4_OTHER, 4);
	}
	/* Tier 2 refuses 192.0.2.1 (first, so it is the refused address named). */
	assert_int_equal(
	        exit_candidates(p, exit_tier_rules(tp, 2), 0, 443, in, 2, out, &n_family, &refused),
	        1);
	assert_int_equal(n_family, 2);
	assert_int_equal(refused.family, EXIT_AF_IPV4);
	assert_memory_equal(refused.addr, V4_PUB, 4);
	assert_memory_equal(&((struct sockaddr_in *)&out[0])->sin_addr, V4_OTHER, 4);
	/* Tier 3 (no rules) and no tier rules at all: both. */
	assert_int_equal(
	        exit_candidates(p, exit_tier_rules(tp, 3), 0, 443, in, 2, out, &n_family, &refused),
	        2);
	assert_int_equal(exit_candidates(p, NULL, 0, 443, in, 2, out, &n_family, &refused), 2);
	/* A tier's accept never widens the policy: loopback stays refused. */
	memset(&a, 0, sizeof(a));
	a.family = EXIT_AF_IPV4;
	a.addr[0] = 127;
	a.addr[3] = 1;
	assert_false(exit_dest_allowed(p, exit_tier_rules(tp, 2), &a, 443));
	memcpy(a.addr, V4_OTHER, 4);
	assert_true(exit_dest_allowed(p, exit_tier_rules(tp, 2), &a, 443));
	assert_false(exit_dest_allowed(p, exit_tier_rules(tp, 0), &a, 25));
	assert_true(exit_dest_allowed(p, exit_tier_rules(tp, 2), &a, 25));
	exit_policy_free(p);
	exit_tier_policy_free(tp);
}

static void
never_cb(void *arg, const struct exit_conn_result *res)
{
	(void)arg;
	(void)res;
	fail_msg("an open decided at once called back");
}

/* Opens decided inside exit_conn_open() (no loop run, no connect). */
static void
test_ctx_applies_tiers(void **state)
{
	static const char *const items[] = { "2: reject 192.0.2.0/24:*", "3: reject *:*" };
	struct ev_loop *loop = ev_loop_new();
	struct exit_policy *p = NULL;
	struct exit_tier_policy *tp = parse_ok(items, 2, true);
	struct exit_ctx *ctx = NULL;
	struct exit_request rq;
	struct exit_conn_result res;
	struct exit_conn *c = NULL;
	struct exit_stats st;
	char err[EXIT_POLICY_ERR_LEN];
	const char *pol = "accept 127.0.0.1:*, reject private:*, accept *:*";
	static const uint8_t loopback[4] = { 127, 0, 0, 1 };

	(void)state;
	assert_int_equal(exit_policy_parse(pol, strlen(pol), &p, err, sizeof(err)), UM_OK);
	assert_int_equal(exit_ctx_new(loop, p, NULL, &ctx), UM_OK);
	memset(&rq, 0, sizeof(rq));
	rq.type = EXIT_HOST_IPV4;
	memcpy(rq.addr, loopback, 4);
	rq.port = 25;

	/* Without a tier policy, the tier is not looked at: the exit policy accepts port 25
	 * (the open then starts, to loopback only: cancelled before the loop ever runs). */
	assert_true(exit_ctx_tier_may_resolve(ctx, 0));
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_OK);
	exit_conn_cancel(c);
	memcpy(rq.addr, V4_PUB, 4);

	exit_ctx_set_tiers(ctx, tp);
	/* require_token: tier 0 opens nothing, resolves nothing. */
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_ERR_PERM);
	assert_null(c);
	assert_int_equal(res.reason, EXIT_END_EXITPOLICY);
	assert_int_equal(res.addr.family, 0);
	assert_false(exit_ctx_tier_may_resolve(ctx, 0));
	/* Tier 1 keeps its default: port 25 refused, the address named for a literal... */
	rq.tier = 1;
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_ERR_PERM);
	assert_int_equal(res.reason, EXIT_END_EXITPOLICY);
	assert_int_equal(res.addr.family, EXIT_AF_IPV4);
	assert_memory_equal(res.addr.addr, V4_PUB, 4);
	/* ... and a host name refused before any lookup. */
	rq.type = EXIT_HOST_NAME;
	rq.name = "mail.example.com";
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_ERR_PERM);
	assert_int_equal(res.addr.family, 0);
	assert_true(exit_ctx_tier_may_resolve(ctx, 1));
	/* Tier 2: port 25 is fine, its network is not. */
	rq.type = EXIT_HOST_IPV4;
	rq.tier = 2;
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_ERR_PERM);
	assert_memory_equal(res.addr.addr, V4_PUB, 4);
	memcpy(rq.addr, loopback, 4);
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_OK);
	exit_conn_cancel(c);
	/* Tier 3 may open nothing: refused at once, and no name service. */
	rq.tier = 3;
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_ERR_PERM);
	assert_false(exit_ctx_tier_may_resolve(ctx, 3));
	/* Out of range. */
	rq.tier = 16;
	assert_int_equal(exit_conn_open(ctx, &rq, never_cb, NULL, &c, &res), UM_ERR_PERM);
	exit_ctx_stats(ctx, &st);
	assert_int_equal(st.connects_failed[EXIT_END_EXITPOLICY], 6);
	assert_null(exit_ctx_tokens(ctx));

	exit_ctx_free(ctx);
	exit_tier_policy_free(tp);
	exit_policy_free(p);
	ev_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),   cmocka_unit_test(test_items),
		cmocka_unit_test(test_errors),     cmocka_unit_test(test_rejects_every),
		cmocka_unit_test(test_candidates), cmocka_unit_test(test_ctx_applies_tiers),
	};

	return cmocka_run_group_tests_name("exit_tier", tests, NULL, NULL);
}
