/* SPDX-License-Identifier: MIT */
/*
 * The exit's issuer feed (trust/issuer_feed_io.h) on a real loop against a real issuer's
 * public routes (issuer_public_handle() behind ev_http on 127.0.0.1): a key list the issuer
 * fails to serve at first is fetched again after the retry period, then both documents are
 * taken; a rotation (higher seq) is picked up at the next refresh; an issuer pinned with
 * another identity (same server) never gets a document taken, and one whose port is closed
 * only logs; freeing the feed with fetches in flight is clean (ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "evloop/evloop.h"
#include "evloop/http.h"
#include "store/store.h"
#include "trust/issuer_feed_io.h"
#include "trust/issuer_public.h"
#include "trust/token_verifier.h"
#include "helpers/token_fixture.h"

enum {
	REFRESH_MS = 200,
	WATCHDOG_MS = 15000,
};

struct env {
	struct ev_loop *loop;
	struct ev_http *http;
	struct tok_issuer ti;
	struct token_verifier *tv;
	int keys_reqs, revs_reqs, fail_keys;
	uint64_t want_keys_seq; /* stop once the verifier holds a key list this new */
	struct ev_timer *poll, *watchdog;
	bool timed_out;
};

static void
handler(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct env *e = arg;

	if (strcmp(req->path, "/v1/pubkeys") == 0) {
		e->keys_reqs++;
		if (e->fail_keys > 0) {
			e->fail_keys--;
			ev_http_resp_set_text(resp, 503, "text/plain", "later");
			return;
		}
	} else if (strcmp(req->path, "/v1/revocations") == 0) {
		e->revs_reqs++;
	}
	struct issuer_public_ctx pc = {
		.keys = e->ti.kr, .limit = NULL, .is = NULL, .creds = NULL
	};

	if (!issuer_public_handle(&pc, req->method, req->path, 0, NULL, req->body, req->body_len,
	                          um_wall_s(), um_mono_ms(), resp))
		ev_http_resp_set_text(resp, 404, "text/plain", "no");
}

static void
poll_cb(void *arg)
{
	struct env *e = arg;
	struct token_issuer_info in;

	token_verifier_issuer(e->tv, 0, &in);
	if (in.has_keys && in.has_revocations && in.keys_seq >= e->want_keys_seq)
		ev_loop_stop(e->loop);
}

static void
watchdog_cb(void *arg)
{
	struct env *e = arg;

	e->timed_out = true;
	ev_loop_stop(e->loop);
}

static void
run(struct env *e)
{
	e->timed_out = false;
	ev_timer_start(e->poll, 5, 5);
	ev_timer_start(e->watchdog, WATCHDOG_MS, 0);
	assert_int_equal(ev_loop_run(e->loop), UM_OK);
	ev_timer_stop(e->poll);
	ev_timer_stop(e->watchdog);
	assert_false(e->timed_out);
}

static uint16_t
closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint16_t port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
test_feed(void **state)
{
	struct env e;
	struct store *st = NULL;
	struct issuer_feed *feed;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct token_issuer_info in;
	struct token_verifier_stats vs;
	struct keys_ed25519 other;
	uint8_t other_id[32];
	char url[64], dead[64], why[256];
	int fd, keys_before;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(um_crypto_init(), UM_OK);
	assert_int_equal(tok_issuer_open(&e.ti, 1, 0, um_wall_s()), UM_OK);
	e.loop = ev_loop_new();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(ev_tcp_listen_fd((struct sockaddr *)&sin, 16, &fd), UM_OK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", (unsigned)closed_port());
	assert_int_equal(ev_http_new(e.loop, fd, 4096, handler, &e, &e.http), UM_OK);
	e.poll = ev_timer_new(e.loop, poll_cb, &e);
	e.watchdog = ev_timer_new(e.loop, watchdog_cb, &e);
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
	assert_int_equal(token_verifier_new(st, &e.tv, why, sizeof(why)), UM_OK);

	keys_ed25519_generate(&other);
	memcpy(other_id, other.pk, sizeof(other_id));
	feed = issuer_feed_new(e.loop, e.tv, REFRESH_MS);
	assert_int_equal(issuer_feed_add(feed, e.ti.id.pk, url), UM_OK);
	assert_int_equal(issuer_feed_add(feed, other_id, url), UM_OK); /* wrong identity */
	other_id[0] ^= 1;
	assert_int_equal(issuer_feed_add(feed, other_id, dead), UM_OK); /* nobody there */
	assert_int_equal(issuer_feed_add(feed, e.ti.id.pk, url), UM_ERR_EXISTS);
	assert_int_equal(token_verifier_n_issuers(e.tv), 3);

	/* The key list fails once; it is asked for again and both documents are taken. */
	e.fail_keys = 1;
	e.want_keys_seq = 0;
	issuer_feed_start(feed);
	run(&e);
	assert_true(e.keys_reqs >= 2 * 2); /* two issuers point at this server */
	token_verifier_issuer(e.tv, 0, &in);
	assert_true(in.has_keys);
	assert_int_equal(in.key_epoch, 1);
	assert_int_equal(in.n_keys, 1);
	/* The issuer pinned with another identity: refused every time; the dead one: nothing. */
	token_verifier_issuer(e.tv, 1, &in);
	assert_false(in.has_keys);
	assert_false(in.has_revocations);
	token_verifier_issuer(e.tv, 2, &in);
	assert_false(in.has_keys);
	token_verifier_stats(e.tv, &vs);
	assert_int_equal(vs.ready, 1);
	assert_true(vs.docs_refused >= 2);

	/* A rotation: the next refresh brings the new list. */
	token_verifier_issuer(e.tv, 0, &in);
	e.want_keys_seq = in.keys_seq + 1;
	keys_before = e.keys_reqs;
	assert_int_equal(issuer_keyring_rotate(e.ti.kr, um_wall_s()), UM_OK);
	run(&e);
	assert_true(e.keys_reqs > keys_before);
	token_verifier_issuer(e.tv, 0, &in);
	assert_int_equal(in.key_epoch, 2);
	assert_int_equal(in.n_keys, 2);

	/* Freed with whatever is in flight. */
	issuer_feed_free(feed);
	assert_null(feed);
	issuer_feed_free(feed);
	ev_timer_free(e.poll);
	ev_timer_free(e.watchdog);
	ev_http_free(e.http);
	ev_loop_free(e.loop);
	token_verifier_free(e.tv);
	store_close(st);
	keys_ed25519_clear(&other);
	tok_issuer_close(&e.ti);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed),
	};

	return cmocka_run_group_tests_name("issuer_feed_io", tests, NULL, NULL);
}
