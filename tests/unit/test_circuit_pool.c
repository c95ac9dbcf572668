/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/circuit_pool (the pure policy of the circuit glue): link
 * requests for one relay are merged while its connect is in flight and forgotten by handle or
 * identity; the table refuses the request past CPOOL_REQ_MAX; the candidate picked is the
 * first ranked path without a relay that failed recently, else the one with the fewest
 * failures; failures past the cool-down no longer count; the backoff doubles from 500 ms up
 * to 30 s; the pool starts at most CPOOL_LAUNCH_MAX builds at once and none when full;
 * exit choice for streams: an exit serves a stream only if it is a usable exit whose summary
 * allows the request, that has not refused the port within the TTL and that the stream did
 * not already fail on; the refusal cache is bounded (the oldest forgotten); the port
 * predictor keeps the last 8 ports for an hour, most recent first, 443 and 80 before any.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/err.h"
#include "circuit/circuit_pool.h"
#include "helpers/path_fixture.h"

static void
id_of(uint8_t id[CIRC_ID_KEY_LEN], unsigned n)
{
	memset(id, 0, CIRC_ID_KEY_LEN);
	id[0] = (uint8_t)(n >> 8);
	id[1] = (uint8_t)n;
}

static void
test_requests_merge_per_identity(void **state)
{
	static struct cpool_reqs r;
	uint8_t a[CIRC_ID_KEY_LEN], b[CIRC_ID_KEY_LEN], got[CIRC_ID_KEY_LEN];
	int ha, hb;
	bool merged;

	(void)state;
	cpool_reqs_init(&r);
	id_of(a, 1);
	id_of(b, 2);
	assert_int_equal(cpool_req_add(&r, a, &merged), UM_OK);
	assert_false(merged);
	assert_int_equal(cpool_req_add(&r, a, &merged), UM_OK);
	assert_true(merged); /* a second EXTEND2 to the same relay: no second connect */
	assert_int_equal(cpool_req_add(&r, b, &merged), UM_OK);
	assert_false(merged);
	assert_int_equal(r.n, 2);
	assert_int_equal(cpool_req_set_handle(&r, a, &ha), UM_OK);
	assert_int_equal(cpool_req_set_handle(&r, b, &hb), UM_OK);
	assert_false(cpool_req_take_handle(&r, NULL, got));
	assert_false(cpool_req_take_handle(&r, &r, got));
	assert_true(cpool_req_take_handle(&r, &hb, got));
	assert_memory_equal(got, b, CIRC_ID_KEY_LEN);
	assert_false(cpool_req_take_handle(&r, &hb, got)); /* once only */
	assert_int_equal(cpool_req_set_handle(&r, b, &hb), UM_ERR_NOT_FOUND);
	/* After the answer, a new request for b connects again. */
	assert_int_equal(cpool_req_add(&r, b, &merged), UM_OK);
	assert_false(merged);
	assert_true(cpool_req_remove(&r, b));
	assert_false(cpool_req_remove(&r, b));
	assert_true(cpool_req_take_handle(&r, &ha, got));
	assert_memory_equal(got, a, CIRC_ID_KEY_LEN);
	assert_int_equal(r.n, 0);
}

static void
test_requests_are_bounded(void **state)
{
	static struct cpool_reqs r;
	uint8_t id[CIRC_ID_KEY_LEN];
	bool merged;

	(void)state;
	cpool_reqs_init(&r);
	for (unsigned i = 0; i < CPOOL_REQ_MAX; i++) {
		id_of(id, i);
		assert_int_equal(cpool_req_add(&r, id, &merged), UM_OK);
		assert_false(merged);
	}
	id_of(id, CPOOL_REQ_MAX);
	assert_int_equal(cpool_req_add(&r, id, &merged), UM_ERR_TOO_LARGE);
	id_of(id, 7); /* merging still works when full */
	assert_int_equal(cpool_req_add(&r, id, &merged), UM_OK);
	assert_true(merged);
	assert_true(cpool_req_remove(&r, id));
	id_of(id, CPOOL_REQ_MAX);
	assert_int_equal(cpool_req_add(&r, id, &merged), UM_OK);
}

/* A consensus of 6 relays (ids 0..5) and a plan of three paths: 0-1-4, 0-2-4, 0-3-5. */
static struct relay_entry relays[6];

static void
setup_plan(struct consensus *c, struct path_plan *plan)
{
	static const size_t idx[3][3] = { { 0, 1, 4 }, { 0, 2, 4 }, { 0, 3, 5 } };

	memset(c, 0, sizeof(*c));
	memset(relays, 0, sizeof(relays));
	for (unsigned i = 0; i < 6; i++)
		id_of(relays[i].identity, i);
	c->relays = relays;
	c->n_relays = 6;
	memset(plan, 0, sizeof(*plan));
	plan->n = 3;
	for (size_t k = 0; k < 3; k++) {
		plan->p[k].n_hops = 3;
		memcpy(plan->p[k].idx, idx[k], sizeof(idx[k]));
	}
}

static void
test_candidate_avoids_failed_relays(void **state)
{
	struct consensus c;
	struct path_plan plan;
	static struct path_health h;
	const uint64_t now = 1000000;

	(void)state;
	setup_plan(&c, &plan);
	path_health_init(&h);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 0);
	/* The middle of the first path died: the next ranked path avoids it. */
	path_health_note_failure(&h, relays[1].identity, now);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 1);
	/* The exit shared by paths 0 and 1 failed too: path 2. */
	path_health_note_failure(&h, relays[4].identity, now);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 2);
	/* Every path has a failure: the fewest (path 2 has 1 via relay 3; paths 0: 2, 1: 1). */
	path_health_note_failure(&h, relays[3].identity, now);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 1);
	/* The guard failing counts for all alike: the ranking stays. */
	path_health_note_failure(&h, relays[0].identity, now);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 1);
	/* After the cool-down nothing counts: back to the first. */
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now + 601, 600), 0);
	/* A success clears a relay. */
	path_health_note_success(&h, relays[1].identity);
	path_health_note_success(&h, relays[4].identity);
	path_health_note_success(&h, relays[0].identity);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 0);
	/* A one-path plan always gives 0. */
	plan.n = 1;
	path_health_note_failure(&h, relays[1].identity, now);
	assert_int_equal(cpool_pick_candidate(&plan, &c, &h, now, 600), 0);
}

static void
test_backoff_doubles_to_cap(void **state)
{
	(void)state;
	assert_int_equal(cpool_backoff_ms(0), 0);
	assert_int_equal(cpool_backoff_ms(1), 500);
	assert_int_equal(cpool_backoff_ms(2), 1000);
	assert_int_equal(cpool_backoff_ms(3), 2000);
	assert_int_equal(cpool_backoff_ms(6), 16000);
	assert_int_equal(cpool_backoff_ms(7), 30000);
	assert_int_equal(cpool_backoff_ms(100), 30000);
	assert_int_equal(cpool_backoff_ms(~0u), 30000);
}

static void
test_launch_counts(void **state)
{
	(void)state;
	assert_int_equal(cpool_to_launch(2, 0), 2);
	assert_int_equal(cpool_to_launch(2, 1), 1);
	assert_int_equal(cpool_to_launch(2, 2), 0);
	assert_int_equal(cpool_to_launch(2, 5), 0);
	assert_int_equal(cpool_to_launch(16, 0), CPOOL_LAUNCH_MAX);
	assert_int_equal(cpool_to_launch(0, 0), 0);
}

static void
test_refusals_ttl_and_bound(void **state)
{
	static struct cpool_refusals r;
	uint8_t a[CIRC_ID_KEY_LEN], b[CIRC_ID_KEY_LEN];

	(void)state;
	cpool_refusals_init(&r);
	id_of(a, 1);
	id_of(b, 2);
	assert_false(cpool_refused(&r, a, 2626, 1000));
	cpool_refusal_note(&r, a, 2626, 1000);
	assert_true(cpool_refused(&r, a, 2626, 1000));
	assert_true(cpool_refused(&r, a, 2626, 1000 + CPOOL_REFUSAL_TTL_S - 1));
	assert_false(cpool_refused(&r, a, 2626, 1000 + CPOOL_REFUSAL_TTL_S));
	assert_false(cpool_refused(&r, a, 80, 1000));   /* per port */
	assert_false(cpool_refused(&r, b, 2626, 1000)); /* per exit */
	cpool_refusal_note(&r, a, 2626, 5000);          /* refreshed, not duplicated */
	assert_int_equal(r.n, 1);
	assert_true(cpool_refused(&r, a, 2626, 5000 + CPOOL_REFUSAL_TTL_S - 1));
	/* Full: the oldest (a, 2626 at 5000) goes first. */
	for (unsigned i = 0; i < CPOOL_REFUSALS_MAX - 1; i++) {
		uint8_t x[CIRC_ID_KEY_LEN];

		id_of(x, 100 + i);
		cpool_refusal_note(&r, x, 443, 6000 + i);
	}
	assert_int_equal(r.n, CPOOL_REFUSALS_MAX);
	assert_true(cpool_refused(&r, a, 2626, 6000));
	cpool_refusal_note(&r, b, 25, 9000);
	assert_int_equal(r.n, CPOOL_REFUSALS_MAX);
	assert_false(cpool_refused(&r, a, 2626, 9000));
	assert_true(cpool_refused(&r, b, 25, 9000));
}

static void
test_exit_serves_policy_refusal_and_skip(void **state)
{
	static struct cpool_refusals r;
	struct consensus c;
	const uint16_t p2525[] = { 2525 }, p25[] = { 25 };
	struct path_request web = { .dest = PATH_DEST_HOSTNAME, .port = 2525 };
	struct path_request smtp = { .dest = PATH_DEST_IPV4, .port = 25, .addr = { 192, 0, 2, 1 } };
	struct path_request lo = { .dest = PATH_DEST_IPV4, .port = 80, .addr = { 127, 0, 0, 1 } };
	struct path_request any = { .dest = PATH_DEST_NONE };
	uint8_t skip[1][CIRC_ID_KEY_LEN];

	(void)state;
	cpool_refusals_init(&r);
	fx_consensus(&c, 4);
	fx_relay(&c.relays[0], 0, FX_GUARD); /* not an exit */
	fx_relay(&c.relays[1], 1, FX_EXIT);  /* accepts 2525 only */
	fx_policy_accept(&c.relays[1].policy4, p2525, 1);
	fx_policy_accept(&c.relays[1].policy6, NULL, 0);
	fx_relay(&c.relays[2], 2, FX_EXIT); /* rejects 25 and 2525 */
	fx_policy_reject(&c.relays[2].policy4, p25, 1);
	fx_policy_reject(&c.relays[2].policy6, p25, 1);
	c.relays[2].policy4.r[c.relays[2].policy4.n_ranges++] =
	        (struct relay_port_range){ .lo = 2525, .hi = 2525 };
	c.relays[2].policy6 = c.relays[2].policy4;
	fx_relay(&c.relays[3], 3, FX_EXIT | RELAY_FLAG_BADEXIT); /* never */

	assert_int_equal(cpool_exits_serving(&c, &web, &r, NULL, 0, 100), 1);
	assert_true(cpool_exit_serves(&c.relays[1], &web, &r, NULL, 0, 100));
	assert_false(cpool_exit_serves(&c.relays[2], &web, &r, NULL, 0, 100));
	assert_int_equal(cpool_exits_serving(&c, &smtp, &r, NULL, 0, 100), 0);
	assert_int_equal(cpool_exits_serving(&c, &any, &r, NULL, 0, 100), 2);
	/* A private literal: an exit with the reject-private flag does not serve it. */
	assert_true(cpool_exit_serves(&c.relays[2], &lo, &r, NULL, 0, 100));
	c.relays[2].exit_flags |= RELAY_EXIT_F_REJECT_PRIVATE;
	assert_false(cpool_exit_serves(&c.relays[2], &lo, &r, NULL, 0, 100));
	/* The one exit for 2525 refused it: nothing serves the port for the TTL. */
	cpool_refusal_note(&r, c.relays[1].identity, 2525, 100);
	assert_int_equal(cpool_exits_serving(&c, &web, &r, NULL, 0, 101), 0);
	assert_int_equal(cpool_exits_serving(&c, &web, &r, NULL, 0, 100 + CPOOL_REFUSAL_TTL_S), 1);
	assert_int_equal(cpool_exits_serving(&c, &web, NULL, NULL, 0, 101), 1);
	/* An exit the stream failed on is skipped. */
	memcpy(skip[0], c.relays[1].identity, CIRC_ID_KEY_LEN);
	assert_int_equal(
	        cpool_exits_serving(&c, &any, &r, (const uint8_t(*)[CIRC_ID_KEY_LEN])skip, 1, 101),
	        1);
	consensus_clear(&c);
}

static void
test_ports_predict_recent_bounded(void **state)
{
	struct cpool_ports p;
	uint16_t out[CPOOL_PORTS_MAX];
	size_t n;

	(void)state;
	cpool_ports_init(&p);
	n = cpool_ports_predict(&p, 0, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 443);
	assert_int_equal(out[1], 80);
	cpool_ports_note(&p, 0, 10); /* ignored */
	cpool_ports_note(&p, 22, 10);
	cpool_ports_note(&p, 80, 20);
	cpool_ports_note(&p, 22, 30); /* back to the front, not twice */
	n = cpool_ports_predict(&p, 30, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 22);
	assert_int_equal(out[1], 80);
	/* 80 expires first. */
	n = cpool_ports_predict(&p, 20 + CPOOL_PORT_TTL_S, out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 22);
	/* Both expired: the defaults again. */
	n = cpool_ports_predict(&p, 30 + CPOOL_PORT_TTL_S, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 443);
	/* Bounded: the least recent port goes. */
	for (uint16_t i = 0; i < CPOOL_PORTS_MAX; i++)
		cpool_ports_note(&p, (uint16_t)(1000 + i), 100 + i);
	n = cpool_ports_predict(&p, 200, out);
	assert_int_equal(n, CPOOL_PORTS_MAX);
	assert_int_equal(out[0], 1000 + CPOOL_PORTS_MAX - 1);
	assert_int_equal(out[CPOOL_PORTS_MAX - 1], 1000);
	for (size_t i = 0; i < n; i++)
		assert_true(out[i] != 22 && out[i] != 80);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_merge_per_identity),
		cmocka_unit_test(test_requests_are_bounded),
		cmocka_unit_test(test_candidate_avoids_failed_relays),
		cmocka_unit_test(test_backoff_doubles_to_cap),
		cmocka_unit_test(test_launch_counts),
		cmocka_unit_test(test_refusals_ttl_and_bound),
		cmocka_unit_test(test_exit_serves_policy_refusal_and_skip),
		cmocka_unit_test(test_ports_predict_recent_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
