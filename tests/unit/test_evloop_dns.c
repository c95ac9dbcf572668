/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the resolver wrapper (src/evloop/dns.h): IP literals parsed without the
 * resolver (a table, and answers with the port set, family mismatch NOT_FOUND), ".invalid"
 * answered negatively without a lookup, "localhost" through getaddrinfo and /etc/hosts, bad
 * names refused at the call, the getaddrinfo error mapping, callbacks only from the loop, and
 * cancel and timeout made deterministic by holding libuv's (single) pool thread busy: cancel
 * while the lookup is queued, cancel of a literal, a timeout while the lookup cannot start
 * (the late answer is dropped), and ev_loop_free() with a request pending. Nothing here
 * leaves the machine: the only names looked up are "localhost" and literals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "lib/err.h"
#include "evloop/dns.h"
#include "evloop/evloop.h"
#include "helpers/pool_block.h"

struct answer {
	struct ev_loop *loop;
	int calls;
	int status;
	struct ev_resolve_result res;
	bool in_call; /* set around ev_resolve(): a callback from inside it is a bug */
	struct pool_block *release; /* released from the callback */
};

/*
 * "localhost" resolves without DNS only where /etc/hosts says so (Debian does; some bare
 * containers have no /etc/hosts, and glibc would then ask a DNS server, which a test must
 * never do). Tests that resolve it are skipped, and say why, elsewhere.
 */
static bool
hosts_has_localhost(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/etc/hosts", "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *tok, *save = NULL;

		if ((tok = strtok_r(line, " \t\r\n", &save)) == NULL || tok[0] == '#' ||
		    strcmp(tok, "127.0.0.1") != 0)
			continue;
		while (!found && (tok = strtok_r(NULL, " \t\r\n", &save)) != NULL)
			found = strcmp(tok, "localhost") == 0;
	}
	fclose(f);
	return found;
}

#define SKIP_WITHOUT_LOCALHOST()                                                                 \
	do {                                                                                     \
		if (!hosts_has_localhost()) {                                                    \
			print_message("skip: /etc/hosts does not map localhost to 127.0.0.1\n"); \
			skip();                                                                  \
		}                                                                                \
	} while (0)

static void
answer_cb(void *arg, int status, const struct ev_resolve_result *res)
{
	struct answer *a = arg;

	assert_false(a->in_call);
	a->calls++;
	a->status = status;
	if (status == UM_OK) {
		assert_non_null(res);
		a->res = *res;
	} else {
		assert_null(res);
	}
	if (a->release != NULL) {
		pool_block_release(a->release);
		a->release = NULL;
	}
}

/* Run the loop until every request and handle is over (a hang is caught by ctest's
 * timeout: a watchdog timer would keep the loop alive). */
static void
run(struct ev_loop *loop)
{
	assert_int_equal(ev_loop_run(loop), UM_OK);
}

static int
start(struct ev_loop *loop, const char *host, uint16_t port, int family, uint64_t timeout_ms,
      struct answer *a, struct ev_resolve **r)
{
	int ret;

	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->in_call = true;
	ret = ev_resolve(loop, host, port, family, timeout_ms, answer_cb, a, r);
	a->in_call = false;
	return ret;
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void
test_literal_table(void **state)
{
	static const struct {
		const char *in;
		int family; /* 0: not a literal */
		const char *canon;
	} t[] = {
		{ "192.0.2.1", AF_INET, "192.0.2.1" },
		{ "0.0.0.0", AF_INET, "0.0.0.0" },
		{ "255.255.255.255", AF_INET, "255.255.255.255" },
		{ "::1", AF_INET6, "::1" },
		{ "[::1]", AF_INET6, "::1" },
		{ "2001:DB8::1", AF_INET6, "2001:db8::1" },
		{ "[::ffff:127.0.0.1]", AF_INET6, "::ffff:127.0.0.1" },
		{ "127.1", 0, NULL },      /* inet_aton forms are names, not literals */
		{ "0x7f.0.0.1", 0, NULL }, /* ditto */
		{ "01.2.3.4", 0, NULL },   /* no leading zeros */
		{ "1.2.3.4.5", 0, NULL },
		{ "256.0.0.1", 0, NULL },
		{ "[1.2.3.4]", 0, NULL }, /* brackets are for IPv6 only */
		{ "[::1", 0, NULL },
		{ "::1]", 0, NULL },
		{ "[]", 0, NULL },
		{ "fe80::1%lo", 0, NULL }, /* no zone ids */
		{ "example.com", 0, NULL },
		{ "", 0, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sockaddr_storage ss;
		char buf[INET6_ADDRSTRLEN];
		int r = ev_addr_from_literal(t[i].in, 4242, &ss);

		if (t[i].family == 0) {
			if (r != UM_ERR_INVALID)
				fail_msg("'%s' parsed as a literal", t[i].in);
			assert_int_equal(ss.ss_family, 0);
			continue;
		}
		if (r != UM_OK)
			fail_msg("'%s' not parsed", t[i].in);
		assert_int_equal(ss.ss_family, t[i].family);
		assert_int_equal(port_of(&ss), 4242);
		if (t[i].family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
			          sizeof(buf));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf,
			          sizeof(buf));
		assert_string_equal(buf, t[i].canon);
	}
	assert_int_equal(ev_addr_from_literal(NULL, 1, &(struct sockaddr_storage){ 0 }),
	                 UM_ERR_INVALID);
}

static void
test_literal_answers(void **state)
{
	struct ev_loop *loop = *state;
	struct answer a4, a6, mis, mis6;
	struct ev_resolve *r;

	assert_int_equal(start(loop, "192.0.2.7", 80, AF_UNSPEC, 0, &a4, &r), UM_OK);
	assert_non_null(r);
	assert_int_equal(start(loop, "[2001:db8::7]", 443, AF_INET6, 0, &a6, &r), UM_OK);
	assert_int_equal(start(loop, "192.0.2.7", 80, AF_INET6, 0, &mis, &r), UM_OK);
	assert_int_equal(start(loop, "2001:db8::7", 80, AF_INET, 0, &mis6, &r), UM_OK);
	/* Nothing is answered from inside the call. */
	assert_int_equal(a4.calls + a6.calls + mis.calls + mis6.calls, 0);
	run(loop);

	assert_int_equal(a4.calls, 1);
	assert_int_equal(a4.status, UM_OK);
	assert_int_equal(a4.res.n, 1);
	assert_int_equal(a4.res.addrs[0].ss_family, AF_INET);
	assert_int_equal(port_of(&a4.res.addrs[0]), 80);
	assert_int_equal(ntohl(((struct sockaddr_in *)&a4.res.addrs[0])->sin_addr.s_addr),
	                 0xc0000207);

	assert_int_equal(a6.calls, 1);
	assert_int_equal(a6.status, UM_OK);
	assert_int_equal(a6.res.n, 1);
	assert_int_equal(a6.res.addrs[0].ss_family, AF_INET6);
	assert_int_equal(port_of(&a6.res.addrs[0]), 443);

	assert_int_equal(mis.calls, 1);
	assert_int_equal(mis.status, UM_ERR_NOT_FOUND);
	assert_int_equal(mis6.calls, 1);
	assert_int_equal(mis6.status, UM_ERR_NOT_FOUND);
}

static void
test_special_invalid(void **state)
{
	struct ev_loop *loop = *state;
	struct answer a, b, c;
	struct ev_resolve *r;

	/* RFC 6761: answered negatively without a query (and so without the network). */
	assert_int_equal(start(loop, "nothing.invalid", 80, AF_UNSPEC, 0, &a, &r), UM_OK);
	assert_int_equal(start(loop, "a.b.INVALID.", 80, AF_INET, 0, &b, &r), UM_OK);
	assert_int_equal(start(loop, "invalid", 80, AF_INET, 0, &c, &r), UM_OK);
	run(loop);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, UM_ERR_NOT_FOUND);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.status, UM_ERR_NOT_FOUND);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.status, UM_ERR_NOT_FOUND);

	assert_true(ev_resolve_name_is_invalid_tld("x.invalid"));
	assert_true(ev_resolve_name_is_invalid_tld("x.Invalid."));
	assert_false(ev_resolve_name_is_invalid_tld("x.invalid.com"));
	assert_false(ev_resolve_name_is_invalid_tld("xinvalid"));
	assert_false(ev_resolve_name_is_invalid_tld("invalid.x"));
}

static void
test_localhost(void **state)
{
	struct ev_loop *loop = *state;
	struct answer a;
	struct ev_resolve *r;
	bool found = false;

	SKIP_WITHOUT_LOCALHOST();

	/* /etc/hosts on Debian maps localhost to 127.0.0.1: no DNS traffic. */
	assert_int_equal(start(loop, "localhost", 8080, AF_INET, 5000, &a, &r), UM_OK);
	assert_int_equal(a.calls, 0);
	run(loop);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, UM_OK);
	assert_true(a.res.n >= 1 && a.res.n <= EV_RESOLVE_MAX_ADDRS);
	for (size_t i = 0; i < a.res.n; i++) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.res.addrs[i];

		assert_int_equal(sin->sin_family, AF_INET);
		assert_int_equal(ntohs(sin->sin_port), 8080);
		found = found || ntohl(sin->sin_addr.s_addr) == INADDR_LOOPBACK;
		/* distinct */
		for (size_t j = 0; j < i; j++)
			assert_memory_not_equal(&a.res.addrs[j], sin, sizeof(*sin));
	}
	assert_true(found);
}

static void
test_bad_names(void **state)
{
	struct ev_loop *loop = *state;
	char longname[EV_RESOLVE_NAME_MAX + 2];
	struct answer a;
	struct ev_resolve *r = (struct ev_resolve *)&a;
	static const char *bad[] = { "", ".", "a b", "a\tb", "caf\xc3\xa9", "a\x7f" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(start(loop, bad[i], 80, AF_UNSPEC, 0, &a, &r), UM_ERR_INVALID);
		assert_null(r);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0'; /* 256 bytes */
	assert_int_equal(start(loop, longname, 80, AF_UNSPEC, 0, &a, &r), UM_ERR_INVALID);
	assert_int_equal(start(loop, "example.com", 80, AF_UNIX, 0, &a, &r), UM_ERR_INVALID);
	assert_int_equal(start(loop, NULL, 80, AF_UNSPEC, 0, &a, &r), UM_ERR_INVALID);
	run(loop);
	assert_int_equal(a.calls, 0);
}

static void
test_gai_err_map(void **state)
{
	(void)state;
	assert_int_equal(ev_resolve_map_gai_err(0), UM_OK);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_NONAME), UM_ERR_NOT_FOUND);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_NODATA), UM_ERR_NOT_FOUND);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_ADDRFAMILY), UM_ERR_NOT_FOUND);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_AGAIN), UM_ERR_SYS);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_FAIL), UM_ERR_SYS);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_MEMORY), UM_ERR_SYS);
	assert_int_equal(ev_resolve_map_gai_err(UV_EAI_CANCELED), UM_ERR_CLOSED);
}

/* Cancel while the lookup waits for the pool: uv_cancel takes it back, no callback. */
static void
test_cancel_queued(void **state)
{
	struct ev_loop *loop = *state;
	struct pool_block *b;
	struct answer a, lit;
	struct ev_resolve *r, *rl;

	SKIP_WITHOUT_LOCALHOST();
	b = pool_block_new(loop);

	assert_int_equal(start(loop, "localhost", 80, AF_INET, 0, &a, &r), UM_OK);
	assert_int_equal(start(loop, "127.0.0.1", 80, AF_INET, 0, &lit, &rl), UM_OK);
	ev_resolve_cancel(r);
	ev_resolve_cancel(rl);
	ev_resolve_cancel(NULL);
	pool_block_release(b);
	run(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(lit.calls, 0);
}

/* The pool is held until the timeout callback: the timeout must win, and the late answer
 * must be dropped without touching the (reused) answer struct. */
static void
test_timeout(void **state)
{
	struct ev_loop *loop = *state;
	struct answer a;
	struct ev_resolve *r;
	struct pool_block *b;

	SKIP_WITHOUT_LOCALHOST();
	b = pool_block_new(loop);

	assert_int_equal(start(loop, "localhost", 80, AF_INET, 20, &a, &r), UM_OK);
	a.release = b; /* start() cleared a */
	run(loop);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, UM_ERR_TIMEOUT);
}

/* Free the loop with a lookup queued behind a blocked pool thread and a literal pending:
 * the loop cancels them (no callback) and waits for the pool. */
static void
test_loop_free_pending(void **state)
{
	struct ev_loop *loop;
	struct pool_block *b;
	struct answer a, lit;
	struct ev_resolve *r;

	SKIP_WITHOUT_LOCALHOST();
	loop = ev_loop_new();
	b = pool_block_new(loop);

	(void)state;
	assert_int_equal(start(loop, "localhost", 80, AF_INET, 1000, &a, &r), UM_OK);
	assert_int_equal(start(loop, "::1", 80, AF_UNSPEC, 0, &lit, &r), UM_OK);
	pool_block_release(b);
	ev_loop_free(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(lit.calls, 0);
}

static int
setup_loop(void **state)
{
	*state = ev_loop_new();
	return 0;
}

static int
teardown_loop(void **state)
{
	struct ev_loop *loop = *state;

	ev_loop_free(loop);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_table),
		cmocka_unit_test_setup_teardown(test_literal_answers, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_special_invalid, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_localhost, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_bad_names, setup_loop, teardown_loop),
		cmocka_unit_test(test_gai_err_map),
		cmocka_unit_test_setup_teardown(test_cancel_queued, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_timeout, setup_loop, teardown_loop),
		cmocka_unit_test(test_loop_free_pending),
	};

	pool_block_single_thread();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
