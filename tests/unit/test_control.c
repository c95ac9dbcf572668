/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/control. control_handle() is called directly with a real event loop and
 * link manager: GET /v1/status and /v1/links (shape and values), POST /v1/links/test (bad
 * JSON, unknown fields, bad peer ids and byte counts, no such link, and a real test over a
 * loopback link between two managers: started, finished, verified, 409 while running),
 * POST /v1/reload (hook called, 501 without one), wrong methods and unknown paths. Then the
 * real socket: control_new() in a mkdtemp directory (mode 0600) answering control_request()
 * from a thread while the loop runs. Last, control_response_parse(): good responses, every
 * strict prefix TRUNCATED, garbage MALFORMED.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "config/config.h"
#include "control/control.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "link/handshake.h"
#include "link/link.h"
#include "store/store.h"
#include "directory/dirclient.h"
#include "circuit/circuit_io.h"

enum {
	POLL_MS = 2,
	WATCHDOG_MS = 20 * 1000,
	CLIENT_TIMEOUT_MS = 10 * 1000,
	NODE_ID_B32_LEN = 52,
	CERT_LIFETIME_S = 86400,
};

/* A well-formed node id (32 zero bytes) that no test node has. */
#define ZERO_ID_B32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---- fixture: a loop, two nodes with link managers, and a control context for node a ---- */

struct node {
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	struct link_identity li;
	struct link_mgr *mgr;
	char id_b32[BASE32_LEN(32)];
};

struct fx {
	struct ev_loop *loop;
	struct node a, b;
	struct control_ctx ctx;
	const char *listen[3];
	unsigned n_reloads;
	bool reload_fails;
	void *reload_arg;
	/* run_until() */
	struct ev_timer *poll;
	struct ev_timer *watchdog;
	bool (*done)(struct fx *f);
	bool watchdog_fired;
};

static void
node_init(struct fx *f, struct node *n)
{
	struct link_mgr_config cfg = {
		.max_links = 16,
		.max_pending = 16,
		.max_pending_per_ip = 16,
		.handshake_timeout_ms = 10000,
		.keepalive_ms = 60000,
		.idle_timeout_ms = 180000,
		.reconnect_ms = 5000,
		.write_queue_max = 1 << 20,
		.accept = LINK_ACCEPT_XK | LINK_ACCEPT_NK,
	};

	keys_ed25519_generate(&n->id);
	keys_x25519_generate(&n->lk);
	link_identity_init(&n->li, &n->id, &n->lk, um_wall_s() + CERT_LIFETIME_S);
	n->mgr = link_mgr_new(f->loop, &n->li, &cfg, NULL);
	assert_non_null(n->mgr);
	assert_int_equal(enc_base32(n->id_b32, sizeof(n->id_b32), n->id.pk, 32), UM_OK);
}

static void
node_clear(struct node *n)
{
	link_mgr_free(n->mgr);
	keys_ed25519_clear(&n->id);
	keys_x25519_clear(&n->lk);
}

static int
on_reload(void *arg, char *why, size_t why_len)
{
	struct fx *f = arg;

	f->n_reloads++;
	f->reload_arg = arg;
	if (f->reload_fails) {
		snprintf(why, why_len, "x.conf:3: link.max_links: \"lots\" is not a number");
		return UM_ERR_CONFIG;
	}
	return UM_OK;
}

static void
poll_cb(void *arg)
{
	struct fx *f = arg;

	if (f->done(f))
		ev_loop_stop(f->loop);
}

static void
watchdog_cb(void *arg)
{
	struct fx *f = arg;

	f->watchdog_fired = true;
	ev_loop_stop(f->loop);
}

/* Run the loop until done(f) holds (checked every POLL_MS), failing after WATCHDOG_MS. */
static void
run_until(struct fx *f, bool (*done)(struct fx *f))
{
	f->done = done;
	ev_timer_start(f->poll, POLL_MS, POLL_MS);
	ev_timer_start(f->watchdog, WATCHDOG_MS, 0);
	assert_int_equal(ev_loop_run(f->loop), UM_OK);
	ev_timer_stop(f->poll);
	ev_timer_stop(f->watchdog);
	assert_false(f->watchdog_fired);
}

static int
fx_setup(void **state)
{
	struct fx *f = um_xcalloc(1, sizeof(*f));

	f->loop = ev_loop_new();
	f->poll = ev_timer_new(f->loop, poll_cb, f);
	f->watchdog = ev_timer_new(f->loop, watchdog_cb, f);
	node_init(f, &f->a);
	node_init(f, &f->b);
	f->listen[0] = "127.0.0.1:9001";
	f->listen[1] = "[::1]:9001";
	f->listen[2] = NULL;
	f->ctx.node_id = f->a.id.pk;
	f->ctx.nickname = "alpha";
	f->ctx.roles = ROLE_CLIENT | ROLE_DHT;
	f->ctx.version = "9.8.7";
	f->ctx.start_ms = um_mono_ms() - 5000;
	f->ctx.links = f->a.mgr;
	f->ctx.listen = f->listen;
	f->ctx.reload = on_reload;
	f->ctx.arg = f;
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	node_clear(&f->a);
	node_clear(&f->b);
	ev_timer_free(f->poll);
	ev_timer_free(f->watchdog);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

/* ---- calling control_handle() ---- */

/* Handle one request; check the reply is JSON and return it parsed (caller decrefs). */
static json_t *
call(const struct control_ctx *ctx, const char *method, const char *path, const char *body,
     int *status)
{
	struct ev_http_resp resp = { .status = 500 };
	json_error_t jerr;
	json_t *j;

	control_handle(ctx, method, path, (const uint8_t *)body, body != NULL ? strlen(body) : 0,
	               &resp);
	assert_non_null(resp.body);
	assert_null(resp.etag);
	assert_non_null(resp.content_type);
	assert_string_equal(resp.content_type, "application/json");
	j = json_loadb((const char *)resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		fail_msg("reply is not JSON (%s): %.*s", jerr.text, (int)resp.body_len,
		         (const char *)resp.body);
	assert_true(json_is_object(j));
	free(resp.body);
	*status = resp.status;
	return j;
}

/* Expect an error reply with this status; its "error" is a non-empty string, alone. */
static void
expect_error(const struct control_ctx *ctx, const char *method, const char *path, const char *body,
             int want, const char *msg_part)
{
	int status = 0;
	json_t *j = call(ctx, method, path, body, &status);
	const char *msg = json_string_value(json_object_get(j, "error"));

	if (status != want)
		fail_msg("%s %s %s: status %d, want %d", method, path, body ? body : "", status,
		         want);
	assert_non_null(msg);
	assert_true(strlen(msg) > 0);
	assert_int_equal(json_object_size(j), 1);
	if (msg_part != NULL && strstr(msg, msg_part) == NULL)
		fail_msg("%s %s %s: error \"%s\" lacks \"%s\"", method, path, body ? body : "", msg,
		         msg_part);
	json_decref(j);
}

static void
check_link_counters(const json_t *links, json_int_t total, json_int_t open)
{
	static const char *const keys[] = {
		"total",           "open",          "pending",           "accepted",
		"refused_limit",   "handshakes_ok", "handshakes_failed", "auth_failures",
		"protocol_errors", "refused_abuse"
	};

	assert_true(json_is_object(links));
	assert_int_equal(json_object_size(links), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_true(json_is_integer(json_object_get(links, keys[i])));
	assert_int_equal(json_integer_value(json_object_get(links, "total")), total);
	assert_int_equal(json_integer_value(json_object_get(links, "open")), open);
}

/* ---- tests: control_handle() ---- */

static void
test_control_status(void **state)
{
	struct fx *f = *state;
	uint8_t id[32];
	const char *s;
	int status = 0;
	json_t *j = call(&f->ctx, "GET", "/v1/status", NULL, &status);
	json_t *roles, *listen;

	assert_int_equal(status, 200);
	assert_int_equal(json_object_size(j), 11);
	/* Puzzle counters are there for any node (all zero here). */
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(j, "puzzles"), "solved")), 0);
	/* No abuse control in this fixture (not a relay), no exit tokens. */
	assert_true(json_is_null(json_object_get(j, "abuse")));
	assert_true(json_is_null(json_object_get(j, "tokens")));
	/* id: the node id in base32, 52 characters that decode to the identity key. */
	s = json_string_value(json_object_get(j, "id"));
	assert_non_null(s);
	assert_int_equal(strlen(s), NODE_ID_B32_LEN);
	assert_string_equal(s, f->a.id_b32);
	assert_int_equal(dec_base32(id, sizeof(id), s, strlen(s)), 32);
	assert_memory_equal(id, f->a.id.pk, 32);
	assert_string_equal(json_string_value(json_object_get(j, "nickname")), "alpha");
	assert_string_equal(json_string_value(json_object_get(j, "version")), "9.8.7");
	/* roles in bit order, by name. */
	roles = json_object_get(j, "roles");
	assert_true(json_is_array(roles));
	assert_int_equal(json_array_size(roles), 2);
	assert_string_equal(json_string_value(json_array_get(roles, 0)), "client");
	assert_string_equal(json_string_value(json_array_get(roles, 1)), "dht");
	listen = json_object_get(j, "listen");
	assert_int_equal(json_array_size(listen), 2);
	assert_string_equal(json_string_value(json_array_get(listen, 0)), "127.0.0.1:9001");
	assert_string_equal(json_string_value(json_array_get(listen, 1)), "[::1]:9001");
	/* Started 5 s ago. */
	assert_true(json_is_integer(json_object_get(j, "uptime_s")));
	assert_in_range(json_integer_value(json_object_get(j, "uptime_s")), 5, 6);
	check_link_counters(json_object_get(j, "links"), 0, 0);
	assert_true(json_is_array(json_object_get(j, "link_list")));
	assert_int_equal(json_array_size(json_object_get(j, "link_list")), 0);
	json_decref(j);
}

static void
test_control_status_minimal_ctx(void **state)
{
	struct fx *f = *state;
	struct control_ctx ctx = { .node_id = f->a.id.pk, .start_ms = um_mono_ms() };
	int status = 0;
	json_t *j;

	/* No nickname, version, roles, listeners or link manager: still a full answer. */
	j = call(&ctx, "GET", "/v1/status", NULL, &status);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(j, "nickname")), "");
	assert_string_equal(json_string_value(json_object_get(j, "version")), "");
	assert_int_equal(json_array_size(json_object_get(j, "roles")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "listen")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "uptime_s")), 0);
	check_link_counters(json_object_get(j, "links"), 0, 0);
	assert_int_equal(json_array_size(json_object_get(j, "link_list")), 0);
	json_decref(j);

	/* An exit's token counters: an object with its issuers. */
	{
		struct store *st = NULL;
		struct token_verifier *tv = NULL;
		json_t *t;
		char why[256];

		assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
		assert_int_equal(token_verifier_new(st, &tv, why, sizeof(why)), UM_OK);
		assert_int_equal(token_verifier_add_issuer(tv, f->a.id.pk), UM_OK);
		token_verifier_note(tv, TOKEN_VERDICT_DOUBLE_SPEND);
		ctx.tokens = &tv;
		j = call(&ctx, "GET", "/v1/status", NULL, &status);
		assert_int_equal(status, 200);
		t = json_object_get(j, "tokens");
		assert_true(json_is_object(t));
		assert_int_equal(json_integer_value(json_object_get(t, "issuers_trusted")), 1);
		assert_int_equal(json_integer_value(json_object_get(t, "issuers_ready")), 0);
		assert_int_equal(json_integer_value(json_object_get(t, "double_spends")), 1);
		assert_int_equal(json_array_size(json_object_get(t, "issuer_list")), 1);
		assert_string_equal(
		        json_string_value(json_object_get(
		                json_array_get(json_object_get(t, "issuer_list"), 0), "id")),
		        f->a.id_b32);
		json_decref(j);
		ctx.tokens = NULL;
		token_verifier_free(tv);
		store_close(st);
	}

	j = call(&ctx, "GET", "/v1/links", NULL, &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "links")), 0);
	json_decref(j);
	/* Without a link manager a test finds no link. */
	expect_error(&ctx, "POST", "/v1/links/test", "{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1}",
	             404, "no open link");
}

static void
test_control_directory(void **state)
{
	struct fx *f = *state;
	struct control_ctx ctx = { .node_id = f->a.id.pk, .start_ms = um_mono_ms() };
	struct dirclient *none = NULL, *dc = NULL;
	struct store *st = NULL;
	struct dirclient_config cfg;
	const char *urls[] = { "http://127.0.0.1:1", "http://127.0.0.1:2" };
	uint8_t pins[2][32];
	char why[256];
	int status = 0;
	json_t *j, *v;

	/* No directory client configured: 404 with the key to set. */
	expect_error(&ctx, "GET", "/v1/dir/status", NULL, 404, "[directory] authorities");
	expect_error(&ctx, "GET", "/v1/relays", NULL, 404, "[directory] authorities");
	ctx.dir = &none;
	expect_error(&ctx, "GET", "/v1/relays", NULL, 404, "[directory] authorities");
	expect_error(&ctx, "POST", "/v1/relays", NULL, 405, "use GET");
	expect_error(&ctx, "POST", "/v1/dir/status", NULL, 405, "use GET");

	/* A client that has fetched nothing yet. */
	assert_int_equal(store_open(STORE_PATH_MEMORY, &dirclient_schema, &st, why, sizeof(why)),
	                 UM_OK);
	memset(pins, 0x11, sizeof(pins[0]));
	memset(pins[1], 0x22, sizeof(pins[1]));
	memset(&cfg, 0, sizeof(cfg));
	cfg.urls = urls;
	cfg.n_urls = 2;
	cfg.pin_mode = DIRCLIENT_PIN_STRICT;
	cfg.pins = (const uint8_t(*)[32])pins;
	cfg.n_pins = 2;
	cfg.store = st;
	assert_int_equal(dirclient_new(&cfg, um_wall_s(), &dc, why, sizeof(why)), UM_OK);
	ctx.dir = &dc;
	j = call(&ctx, "GET", "/v1/dir/status", NULL, &status);
	assert_int_equal(status, 200);
	assert_false(json_is_true(json_object_get(j, "valid")));
	assert_string_equal(json_string_value(json_object_get(j, "pin_mode")), "strict");
	assert_int_equal(json_integer_value(json_object_get(j, "n_pins")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "threshold")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "n_signed")), 0);
	v = json_object_get(j, "sources");
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "url")),
	                    urls[1]);
	assert_true(strlen(json_string_value(json_object_get(j, "message"))) > 0);
	json_decref(j);
	/* No valid consensus: 503 and the reason. */
	expect_error(&ctx, "GET", "/v1/relays", NULL, 503, "no valid consensus");
	dirclient_free(dc);
	store_close(st);
}

static void
test_control_links(void **state)
{
	struct fx *f = *state;
	int status = 0;
	json_t *j = call(&f->ctx, "GET", "/v1/links", NULL, &status);

	assert_int_equal(status, 200);
	assert_int_equal(json_object_size(j), 1);
	assert_true(json_is_array(json_object_get(j, "links")));
	assert_int_equal(json_array_size(json_object_get(j, "links")), 0);
	json_decref(j);
}

static void
test_control_link_test_bad_requests(void **state)
{
	struct fx *f = *state;
	char body[256];
	const char *id = f->b.id_b32;
	static const char *const bad_json[] = {
		"",
		"{",
		"x",
		"[]",
		"null",
		"\"peer\"",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1}{}",
		/* Missing, mistyped and unknown fields. */
		"{}",
		"{\"peer\":\"" ZERO_ID_B32 "\"}",
		"{\"bytes\":1}",
		"{\"peer\":1,\"bytes\":1}",
		"{\"peer\":null,\"bytes\":1}",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":\"1\"}",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1.5}",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1,\"hash\":1}",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1,\"hash\":\"yes\"}",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1,\"x\":1}",
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1,\"Peer\":\"a\"}",
		/* Duplicate keys. */
		"{\"peer\":\"" ZERO_ID_B32 "\",\"bytes\":1,\"bytes\":2}",
		/* Escaped NUL in a string. */
		"{\"peer\":\"a\\u0000b\",\"bytes\":1}",
	};
	static const char *const bad_peer[] = {
		"",
		"a",
		ZERO_ID_B32 "a",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   /* 51 */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 53 */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",  /* not base32 */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",  /* trailing bits */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=", /* padding */
	};

	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
		expect_error(&f->ctx, "POST", "/v1/links/test", bad_json[i], 400,
		             "bad request body");
	/* A NULL body (no bytes at all) is the same as an empty one. */
	expect_error(&f->ctx, "POST", "/v1/links/test", NULL, 400, "bad request body");

	for (size_t i = 0; i < sizeof(bad_peer) / sizeof(bad_peer[0]); i++) {
		snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":1}", bad_peer[i]);
		expect_error(&f->ctx, "POST", "/v1/links/test", body, 400, "52 base32");
	}
	/* A well-formed id with a byte count out of range. */
	snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":-1}", id);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 400, "between 0 and 2^40");
	snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":1099511627777}", id);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 400, "between 0 and 2^40");

	/* Valid bodies for a peer we have no link to: 404 (the bounds are inclusive). */
	snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":1048576}", id);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 404, "no open link");
	snprintf(body, sizeof(body), "{\"bytes\":0,\"peer\":\"%s\",\"hash\":false}", id);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 404, "no open link");
	snprintf(body, sizeof(body), "{ \"peer\" : \"%s\", \"bytes\" : 1099511627776 }\n", id);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 404, "no open link");
	/* Upper case decodes too (lib/encoding is case-insensitive). */
	expect_error(
	        &f->ctx, "POST", "/v1/links/test",
	        "{\"peer\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"bytes\":1}",
	        404, "no open link");
	/* Our own id: no link to ourselves either. */
	snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":1,\"hash\":true}", f->a.id_b32);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 404, "no open link");
}

static void
test_control_methods_and_paths(void **state)
{
	static const struct {
		const char *method, *path;
		int status;
	} cases[] = {
		{ "POST", "/v1/status", 405 },
		{ "PUT", "/v1/status", 405 },
		{ "DELETE", "/v1/status", 405 },
		{ "HEAD", "/v1/status", 405 },
		{ "get", "/v1/status", 405 },
		{ "", "/v1/status", 405 },
		{ "POST", "/v1/links", 405 },
		{ "DELETE", "/v1/links", 405 },
		{ "GET", "/v1/links/test", 405 },
		{ "PUT", "/v1/links/test", 405 },
		{ "GET", "/v1/reload", 405 },
		{ "DELETE", "/v1/reload", 405 },
		{ "GET", "/", 404 },
		{ "GET", "", 404 },
		{ "GET", "/v1", 404 },
		{ "GET", "/v1/", 404 },
		{ "GET", "/v1/status/", 404 },
		{ "GET", "/V1/STATUS", 404 },
		{ "GET", "/v2/status", 404 },
		{ "GET", "//v1/status", 404 },
		{ "POST", "/v1/links/test/x", 404 },
		{ "POST", "/v1/reload/", 404 },
		{ "GET", "/v1/links/", 404 },
		{ "PUT", "/nope", 404 },
		{ "GET", "/../v1/status", 404 },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(&f->ctx, cases[i].method, cases[i].path, NULL, cases[i].status,
		             cases[i].status == 405 ? "use " : "no such endpoint");
	/* Wrong methods never run the reload hook. */
	assert_int_equal(f->n_reloads, 0);
	/* A query string is ignored; the issuer's routes need the issuer role. */
	{
		int status = 0;

		json_decref(call(&f->ctx, "GET", "/v1/status?x=1", NULL, &status));
		assert_int_equal(status, 200);
	}
	expect_error(&f->ctx, "GET", "/v1/issuer/subjects/a", NULL, 404, "not an issuer");
}

static void
test_control_reload(void **state)
{
	struct fx *f = *state;
	struct control_ctx ctx = f->ctx;
	int status = 0;
	json_t *j;

	j = call(&f->ctx, "POST", "/v1/reload", NULL, &status);
	assert_int_equal(status, 200);
	assert_true(json_is_true(json_object_get(j, "reloaded")));
	assert_int_equal(f->n_reloads, 1);
	assert_ptr_equal(f->reload_arg, f);
	json_decref(j);
	/* A body is ignored. */
	j = call(&f->ctx, "POST", "/v1/reload", "{\"x\":1}", &status);
	assert_int_equal(status, 200);
	assert_int_equal(f->n_reloads, 2);
	json_decref(j);
	/* A rejected configuration: 422 with the reason. */
	f->reload_fails = true;
	j = call(&f->ctx, "POST", "/v1/reload", NULL, &status);
	assert_int_equal(status, 422);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "link.max_links"));
	assert_int_equal(f->n_reloads, 3);
	f->reload_fails = false;
	json_decref(j);

	ctx.reload = NULL;
	expect_error(&ctx, "POST", "/v1/reload", NULL, 501, "reload not available");
	expect_error(&ctx, "GET", "/v1/reload", NULL, 405, "use POST");
	assert_int_equal(f->n_reloads, 3);
}

/* ---- a real link between a and b ---- */

static bool
both_open(struct fx *f)
{
	struct link_mgr_stats sa, sb;

	link_mgr_stats(f->a.mgr, &sa);
	link_mgr_stats(f->b.mgr, &sb);
	return sa.open == 1 && sb.open == 1;
}

static json_t *
first_link(struct fx *f, const struct control_ctx *ctx)
{
	int status = 0;
	json_t *j = call(ctx, "GET", "/v1/links", NULL, &status);
	json_t *l;

	(void)f;
	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "links")), 1);
	l = json_array_get(json_object_get(j, "links"), 0);
	json_incref(l);
	json_decref(j);
	return l;
}

static bool
tx_reported(struct fx *f)
{
	json_t *l = first_link(f, &f->ctx);
	const json_t *tx = json_object_get(l, "test_tx");
	bool done = json_is_true(json_object_get(tx, "done")) &&
	            json_is_true(json_object_get(tx, "peer_reported"));

	json_decref(l);
	return done;
}

static void
check_link_json(const json_t *l, const char *dir, const char *peer, bool persistent)
{
	static const char *const keys[] = {
		"id",       "direction",  "pattern",   "state",     "addr",         "age_ms",
		"cells_tx", "cells_rx",   "rekeys_tx", "rekeys_rx", "handshake_us", "write_queue",
		"reading",  "persistent", "peer",      "test_tx",   "test_rx",
	};

	assert_int_equal(json_object_size(l), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(l, keys[i]));
	assert_true(json_integer_value(json_object_get(l, "id")) > 0);
	assert_string_equal(json_string_value(json_object_get(l, "direction")), dir);
	assert_string_equal(json_string_value(json_object_get(l, "pattern")), "XK");
	assert_string_equal(json_string_value(json_object_get(l, "state")), "open");
	assert_string_equal(json_string_value(json_object_get(l, "peer")), peer);
	assert_true(json_is_true(json_object_get(l, "reading")));
	assert_int_equal(json_is_true(json_object_get(l, "persistent")), persistent);
	assert_true(json_integer_value(json_object_get(l, "handshake_us")) > 0);
}

static void
test_control_with_open_link(void **state)
{
	struct fx *f = *state;
	struct control_ctx ctx_b = f->ctx;
	char addr[64], body[256], hex[HEX_LEN(32)];
	const json_t *tx, *rx;
	uint16_t port = 0;
	int status = 0;
	json_t *j, *l;

	/* b listens, a dials b. */
	assert_int_equal(link_mgr_listen(f->b.mgr, "127.0.0.1:0", &port), UM_OK);
	assert_int_not_equal(port, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	assert_int_equal(
	        link_mgr_connect(f->a.mgr, LINK_PATTERN_XK, f->b.id.pk, f->b.lk.pk, addr, NULL),
	        UM_OK);
	run_until(f, both_open);

	j = call(&f->ctx, "GET", "/v1/status", NULL, &status);
	assert_int_equal(status, 200);
	check_link_counters(json_object_get(j, "links"), 1, 1);
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(j, "links"), "handshakes_ok")),
	        1);
	assert_int_equal(json_array_size(json_object_get(j, "link_list")), 1);
	l = json_array_get(json_object_get(j, "link_list"), 0);
	check_link_json(l, "out", f->b.id_b32, false);
	/* Relays we dial are public: a's outbound address is shown. */
	assert_string_equal(json_string_value(json_object_get(l, "addr")), addr);
	assert_true(json_is_null(json_object_get(l, "test_tx")));
	assert_true(json_is_null(json_object_get(l, "test_rx")));
	json_decref(j);

	/* b's side: inbound, and who connects to us is not shown while safe logging is on. */
	ctx_b.node_id = f->b.id.pk;
	ctx_b.links = f->b.mgr;
	log_set_safe(true);
	l = first_link(f, &ctx_b);
	check_link_json(l, "in", f->a.id_b32, false);
	assert_string_equal(json_string_value(json_object_get(l, "addr")), "[scrubbed]");
	json_decref(l);

	/* A test of 100000 bytes from a to b: 202, then done, counted and verified both ends. */
	snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":100000}", f->b.id_b32);
	j = call(&f->ctx, "POST", "/v1/links/test", body, &status);
	assert_int_equal(status, 202);
	assert_true(json_is_true(json_object_get(j, "started")));
	assert_int_equal(json_object_size(j), 1);
	json_decref(j);
	run_until(f, tx_reported);

	l = first_link(f, &f->ctx);
	tx = json_object_get(l, "test_tx");
	assert_true(json_is_false(json_object_get(tx, "active")));
	assert_true(json_is_true(json_object_get(tx, "done")));
	assert_true(json_is_true(json_object_get(tx, "peer_verified")));
	assert_int_equal(json_integer_value(json_object_get(tx, "target")), 100000);
	/* Whole cells: at least the target. */
	assert_true(json_integer_value(json_object_get(tx, "bytes")) >= 100000);
	assert_true(json_integer_value(json_object_get(tx, "ms")) >= 0);
	assert_int_equal(strlen(json_string_value(json_object_get(tx, "sha256"))), 64);
	snprintf(hex, sizeof(hex), "%s", json_string_value(json_object_get(tx, "sha256")));
	json_decref(l);

	l = first_link(f, &ctx_b);
	rx = json_object_get(l, "test_rx");
	assert_true(json_is_true(json_object_get(rx, "done")));
	assert_true(json_is_true(json_object_get(rx, "verified")));
	assert_string_equal(json_string_value(json_object_get(rx, "sha256")), hex);
	json_decref(l);

	/* A long test is still running when a second one is asked for: 409. */
	snprintf(body, sizeof(body), "{\"peer\":\"%s\",\"bytes\":1099511627776,\"hash\":false}",
	         f->b.id_b32);
	j = call(&f->ctx, "POST", "/v1/links/test", body, &status);
	assert_int_equal(status, 202);
	json_decref(j);
	expect_error(&f->ctx, "POST", "/v1/links/test", body, 409, "already running");
	l = first_link(f, &f->ctx);
	assert_true(json_is_true(json_object_get(json_object_get(l, "test_tx"), "active")));
	json_decref(l);
	/* The teardown frees both managers with the test still running. */
}

/* ---- the real socket ---- */

struct client {
	pthread_t th;
	char path[128];
	const char *method, *url, *body;
	int ret;
	int status;
	char *resp;
	atomic_bool done;
};

static void *
client_main(void *arg)
{
	struct client *c = arg;

	c->ret = control_request(c->path, c->method, c->url, c->body, CLIENT_TIMEOUT_MS, &c->status,
	                         &c->resp);
	atomic_store(&c->done, true);
	return NULL;
}

static struct client *g_client;

static bool
client_done(struct fx *f)
{
	(void)f;
	return atomic_load(&g_client->done);
}

/* Run one control_request() in a thread while the loop serves it. */
static void
exchange(struct fx *f, struct client *c, const char *method, const char *url, const char *body)
{
	c->method = method;
	c->url = url;
	c->body = body;
	c->ret = UM_ERR_INTERNAL;
	c->status = 0;
	c->resp = NULL;
	atomic_store(&c->done, false);
	g_client = c;
	assert_int_equal(pthread_create(&c->th, NULL, client_main, c), 0);
	run_until(f, client_done);
	assert_int_equal(pthread_join(c->th, NULL), 0);
}

static void
test_control_over_unix_socket(void **state)
{
	struct fx *f = *state;
	struct control *ctl = NULL, *ctl2 = NULL;
	struct client c;
	char dir[64], file[128];
	struct stat st;
	json_error_t jerr;
	json_t *j;
	int status = 0, fd;
	char *resp = NULL;

	snprintf(dir, sizeof(dir), "/tmp/um-control-XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&c, 0, sizeof(c));
	snprintf(c.path, sizeof(c.path), "%s/control.sock", dir);

	/* Nobody there yet: the client says so (errno kept). */
	errno = 0;
	assert_int_equal(control_request(c.path, "GET", "/v1/status", NULL, 1000, &status, &resp),
	                 UM_ERR_SYS);
	assert_int_equal(errno, ENOENT);
	assert_null(resp);

	assert_int_equal(control_new(f->loop, c.path, &f->ctx, &ctl), UM_OK);
	assert_non_null(ctl);
	assert_int_equal(lstat(c.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());

	exchange(f, &c, "GET", "/v1/status", NULL);
	assert_int_equal(c.ret, UM_OK);
	assert_int_equal(c.status, 200);
	assert_non_null(c.resp);
	j = json_loads(c.resp, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), f->a.id_b32);
	assert_string_equal(json_string_value(json_object_get(j, "nickname")), "alpha");
	json_decref(j);
	free(c.resp);

	/* A body goes through, and errors come back as JSON with their status. */
	exchange(f, &c, "POST", "/v1/links/test", "{\"peer\":\"x\",\"bytes\":1}");
	assert_int_equal(c.ret, UM_OK);
	assert_int_equal(c.status, 400);
	assert_non_null(strstr(c.resp, "\"error\""));
	free(c.resp);
	exchange(f, &c, "POST", "/v1/reload", NULL);
	assert_int_equal(c.ret, UM_OK);
	assert_int_equal(c.status, 200);
	assert_int_equal(f->n_reloads, 1);
	free(c.resp);
	exchange(f, &c, "GET", "/v1/nope", NULL);
	assert_int_equal(c.ret, UM_OK);
	assert_int_equal(c.status, 404);
	assert_string_equal(c.resp, "{\"error\":\"no such endpoint\"}");
	free(c.resp);

	/* A second server on a live socket is refused; so is a path that is not a socket. */
	assert_int_equal(control_new(f->loop, c.path, &f->ctx, &ctl2), UM_ERR_EXISTS);
	assert_null(ctl2);
	snprintf(file, sizeof(file), "%s/file", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(control_new(f->loop, file, &f->ctx, &ctl2), UM_ERR_EXISTS);
	assert_null(ctl2);
	assert_int_equal(unlink(file), 0);

	control_free(ctl);
	assert_null(ctl);
	control_free(ctl); /* NULL is a no-op */
	/* The server is gone: nothing answers. */
	assert_int_equal(control_request(c.path, "GET", "/v1/status", NULL, 1000, &status, &resp),
	                 UM_ERR_SYS);
	assert_null(resp);
	(void)unlink(c.path);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_control_request_bad_path(void **state)
{
	char path[200];
	char *resp = NULL;
	int status = -1;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(control_request(path, "GET", "/v1/status", NULL, 1000, &status, &resp),
	                 UM_ERR_INVALID);
	assert_int_equal(status, 0);
	assert_null(resp);
}

/* ---- control_response_parse() ---- */

struct good_resp {
	const char *text;
	int status;
	const char *body;
};

static const struct good_resp good_resps[] = {
	/* What the server sends (libmicrohttpd). */
	{ "HTTP/1.1 200 OK\r\nDate: Sun, 22 Nov 2026 03:11:42 GMT\r\nConnection: close\r\n"
	  "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"started\":true}",
	  200, "{\"started\":true}" },
	{ "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n"
	  "{\"error\":\"no such endpoint\"}",
	  404, "{\"error\":\"no such endpoint\"}" },
	{ "HTTP/1.0 202 Accepted\r\ncontent-length:2\r\n\r\n{}", 202, "{}" },
	{ "HTTP/1.1 500 Internal Server Error\r\nCONTENT-LENGTH: \t3 \r\n\r\nabc", 500, "abc" },
	{ "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 204, "" },
	{ "HTTP/1.1 599\r\nContent-Length: 1\r\n\r\nx", 599, "x" },
	{ "HTTP/1.1 100 \r\nContent-Length: 1\r\n\r\n\r", 100, "\r" },
	/* A body that holds an empty line itself. */
	{ "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\na\r\n\r\nb", 200, "a\r\n\r\nb" },
	/* Headers that only look like Content-Length. */
	{ "HTTP/1.1 200 OK\r\nX-Content-Length: 99\r\nContent-Length: 1\r\n\r\nz", 200, "z" },
};

/* Without a Content-Length the body runs to the end of the input. */
static const struct good_resp good_resps_eof[] = {
	{ "HTTP/1.0 200 OK\r\n\r\n{\"a\":1}", 200, "{\"a\":1}" },
	{ "HTTP/1.1 404\r\n\r\n", 404, "" },
	{ "HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", 301, "" },
};

static void
check_good(const struct good_resp *g, size_t n, bool prefixes_truncated)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *in = (const uint8_t *)g[i].text;
		size_t len = strlen(g[i].text), body_off = 99;
		int status = -1;

		assert_int_equal(control_response_parse(in, len, &status, &body_off), UM_OK);
		assert_int_equal(status, g[i].status);
		assert_int_equal(len - body_off, strlen(g[i].body));
		assert_memory_equal(in + body_off, g[i].body, len - body_off);
		/* Every strict prefix is only waiting for bytes (up to the end of the headers,
		 * when the length is unknown). */
		for (size_t k = 0; k < (prefixes_truncated ? len : body_off); k++) {
			status = -1;
			body_off = 99;
			if (control_response_parse(in, k, &status, &body_off) != UM_ERR_TRUNCATED)
				fail_msg("response %zu: prefix of %zu bytes not TRUNCATED", i, k);
			assert_int_equal(status, 0);
			assert_int_equal(body_off, 0);
		}
	}
}

static void
test_control_response_parse_good_and_prefixes(void **state)
{
	(void)state;
	check_good(good_resps, sizeof(good_resps) / sizeof(good_resps[0]), true);
	check_good(good_resps_eof, sizeof(good_resps_eof) / sizeof(good_resps_eof[0]), false);
}

static void
test_control_response_parse_garbage(void **state)
{
	static const struct {
		const char *text;
		int err;
	} bad[] = {
		{ "SSH-2.0-OpenSSH_9.2\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/2 200 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.2 200 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "http/1.1 200 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1  200 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 2x0 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 -20 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 099 Low\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 600 High\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 2000 OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200OK\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200\n\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\nx", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0x1\r\n\r\nx", UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		  UM_ERR_MALFORMED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		  UM_ERR_TOO_LARGE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n", UM_ERR_TOO_LARGE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy", UM_ERR_TRAILING },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\n", UM_ERR_TRAILING },
	};
	uint8_t junk[4096];
	size_t body_off;
	int status;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		status = -1;
		body_off = 99;
		if (control_response_parse((const uint8_t *)bad[i].text, strlen(bad[i].text),
		                           &status, &body_off) != bad[i].err)
			fail_msg("bad response %zu not refused as %s: %s", i,
			         um_err_str(bad[i].err), bad[i].text);
		assert_int_equal(status, 0);
		assert_int_equal(body_off, 0);
	}
	/* Random bytes are never a response. */
	for (int round = 0; round < 100; round++) {
		rand_bytes(junk, sizeof(junk));
		assert_int_equal(control_response_parse(junk, sizeof(junk), &status, &body_off),
		                 UM_ERR_MALFORMED);
	}
}

static int
group_setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

/* GET /v1/circuits: 404 without a circuit layer; with a client-only one (no consensus yet),
 * an empty list, the pool settings and zero relay counts. */
static const struct consensus *
no_consensus(void *arg, uint64_t now_s)
{
	(void)arg;
	(void)now_s;
	return NULL;
}

static bool
circ_has_error(struct fx *f)
{
	int status = 0;
	json_t *j = call(&f->ctx, "GET", "/v1/circuits", NULL, &status);
	const char *e =
	        json_string_value(json_object_get(json_object_get(j, "client"), "last_error"));
	bool done = e != NULL && *e != '\0';

	json_decref(j);
	return done;
}

static void
test_control_circuits(void **state)
{
	struct fx *f = *state;
	struct circ_io *none = NULL, *io = NULL;
	struct circ_io_env env = { .loop = f->loop,
		                   .links = f->a.mgr,
		                   .client = true,
		                   .circuits_prebuilt = 3,
		                   .hops = 3,
		                   .consensus = no_consensus };
	char why[256];
	int status = 0;
	json_t *j, *cl, *rel;

	expect_error(&f->ctx, "GET", "/v1/circuits", NULL, 404, "no circuit layer");
	f->ctx.circ = &none;
	expect_error(&f->ctx, "GET", "/v1/circuits", NULL, 404, "no circuit layer");
	expect_error(&f->ctx, "POST", "/v1/circuits", NULL, 405, "use GET");
	assert_int_equal(circ_io_new(&env, NULL, &io, why, sizeof(why)), UM_OK);
	f->ctx.circ = &io;
	run_until(f, circ_has_error); /* the pool ran once and found no consensus */
	j = call(&f->ctx, "GET", "/v1/circuits", NULL, &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "circuits")), 0);
	cl = json_object_get(j, "client");
	assert_true(json_is_true(json_object_get(cl, "enabled")));
	assert_int_equal(json_integer_value(json_object_get(cl, "prebuilt")), 3);
	assert_int_equal(json_integer_value(json_object_get(cl, "built")), 0);
	assert_int_equal(json_integer_value(json_object_get(cl, "timeout_ms")), 10000);
	assert_string_equal(json_string_value(json_object_get(cl, "last_error")),
	                    "no valid consensus yet");
	rel = json_object_get(j, "relay");
	assert_int_equal(json_integer_value(json_object_get(rel, "total")), 0);
	json_decref(j);
	circ_io_free(io);
	f->ctx.circ = NULL;
	/* Bad settings are refused. */
	env.hops = 4;
	assert_int_equal(circ_io_new(&env, NULL, &io, why, sizeof(why)), UM_ERR_INVALID);
	assert_null(io);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_control_status, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_status_minimal_ctx, fx_setup,
		                                fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_links, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_directory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_link_test_bad_requests, fx_setup,
		                                fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_methods_and_paths, fx_setup,
		                                fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_reload, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_circuits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_with_open_link, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_control_over_unix_socket, fx_setup,
		                                fx_teardown),
		cmocka_unit_test(test_control_request_bad_path),
		cmocka_unit_test(test_control_response_parse_good_and_prefixes),
		cmocka_unit_test(test_control_response_parse_garbage),
	};

	return cmocka_run_group_tests_name("control", tests, group_setup, NULL);
}
