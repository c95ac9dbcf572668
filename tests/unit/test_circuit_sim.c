/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the circuit core (src/circuit/circuit.h), as an in-process simulation: one
 * client and three relays with real ntor keys and real relay crypto, joined by in-memory
 * links (a cell queue per direction that the test pumps). Link requests from EXTEND2 are
 * answered by a fake link layer that checks the link key the "consensus" gives for the
 * identity against the key the relay at that address really has.
 *
 * Checked: a 3-hop build and a DATA round trip to the exit's test handler; the entry sees
 * only its own CircID and never the plaintext (nor does the middle); RELAY_EARLY (8 pass,
 * the 9th closes); DESTROY both ways with the reason; a flipped byte makes the exit close the
 * circuit as a protocol violation; unknown CircIDs, duplicate CircIDs and wrong CircID top
 * bits are ignored; EXTEND2 toward a relay whose link key is not the consensus one fails;
 * a link closing destroys its circuits both ways; the extend timeout; the previous onion key
 * works; a blocked link queues cells and the OOM cap closes the circuit holding the oldest
 * queue, bytes the stream layer holds for sockets counting as cells of their age; 10,000
 * circuits through one relay, then the cap refuses the next, with the memory per circuit
 * printed.
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
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "circuit/circuit.h"
#include "circuit/circuit_st.h"

enum {
	N_NODES = 4, /* 0 client, 1 entry, 2 middle, 3 exit */
	MAX_LINKS = 16,
	MAX_REQS = 16,
	T0 = 1000,
};

struct sim;
struct sim_link;

/* One side of a link: what a core gets as its struct circ_link handle. */
struct sim_end {
	struct sim_link *link;
	int side; /* 0 = initiator */
};

struct cellq {
	struct cell *c;
	size_t n, head, cap;
};

struct sim_link {
	struct sim *sim;
	int node[2];
	struct sim_end ends[2];
	struct cellq q[2]; /* q[s]: sent by side s, not yet delivered */
	bool closed;
};

struct rec_event {
	enum circ_event_type type;
	struct circuit *circ;
	uint8_t reason;
	bool remote;
	uint8_t hop, cmd;
	uint16_t stream_id;
	size_t len;
	uint8_t data[RELAY_DATA_MAX];
};

struct sim_node {
	struct sim *sim;
	int idx;
	struct circ_core *core;
	struct keys_ed25519 id;
	struct keys_x25519 onion[2];
	uint8_t link_key[32];
	struct relay_entry entry;                        /* what the consensus says about it */
	struct rec_event last[CIRC_EV_LINK_REQUEST + 1]; /* the last event of each type */
	size_t count[CIRC_EV_LINK_REQUEST + 1];
	bool echo; /* exit handler: answer DATA with "pong:" + data */
};

struct link_req {
	int from;
	uint8_t id[32];
	uint8_t ipv4[4];
};

/* One sent cell, for what-did-the-relay-see checks. */
struct sent_cell {
	int from;
	struct sim_link *link;
	struct cell cell;
};

struct sim {
	struct sim_node nodes[N_NODES];
	struct sim_link links[MAX_LINKS];
	size_t n_links;
	struct link_req reqs[MAX_REQS];
	size_t n_reqs;
	bool hold_reqs;
	struct relay_entry consensus[N_NODES];
	uint64_t now;
	/* Tamper with the next cell of this command sent by node tamper_from (-1: off). */
	int tamper_from;
	uint8_t tamper_cmd;
	void (*tamper)(struct cell *c);
	struct sent_cell *sent;
	size_t n_sent, cap_sent;
	bool record;
};

/* ---- in-memory links ---- */

static void
q_push(struct cellq *q, const struct cell *c)
{
	if (q->head + q->n == q->cap) {
		if (q->head > 0) {
			memmove(q->c, q->c + q->head, q->n * sizeof(*q->c));
			q->head = 0;
		} else {
			q->cap = q->cap ? q->cap * 2 : 64;
			q->c = realloc(q->c, q->cap * sizeof(*q->c));
			assert_non_null(q->c);
		}
	}
	q->c[q->head + q->n++] = *c;
}

static struct circ_link *
handle(struct sim_link *l, int side)
{
	return (struct circ_link *)(void *)&l->ends[side];
}

static int
sim_send(void *arg, struct circ_link *h, const struct cell *c)
{
	struct sim_node *n = arg;
	struct sim *sim = n->sim;
	struct sim_end *e = (struct sim_end *)(void *)h;
	struct cell copy = *c;

	assert_int_equal(e->link->node[e->side], n->idx); /* only on its own links */
	if (e->link->closed)
		return UM_ERR_CLOSED;
	if (sim->tamper != NULL && sim->tamper_from == n->idx && c->cmd == sim->tamper_cmd) {
		sim->tamper(&copy);
		sim->tamper = NULL;
	}
	if (sim->record) {
		if (sim->n_sent == sim->cap_sent) {
			sim->cap_sent = sim->cap_sent ? sim->cap_sent * 2 : 256;
			sim->sent = realloc(sim->sent, sim->cap_sent * sizeof(*sim->sent));
			assert_non_null(sim->sent);
		}
		sim->sent[sim->n_sent].from = n->idx;
		sim->sent[sim->n_sent].link = e->link;
		sim->sent[sim->n_sent].cell = copy;
		sim->n_sent++;
	}
	q_push(&e->link->q[e->side], &copy);
	return UM_OK;
}

static void
sim_event(void *arg, const struct circ_event *ev)
{
	struct sim_node *n = arg;
	struct rec_event *r;

	n->count[ev->type]++;
	if (ev->type == CIRC_EV_LINK_REQUEST) {
		struct link_req *q = &n->sim->reqs[n->sim->n_reqs++];

		assert_true(n->sim->n_reqs <= MAX_REQS);
		q->from = n->idx;
		memcpy(q->id, ev->target->ed25519_id, 32);
		assert_true(ev->target->has_ipv4);
		memcpy(q->ipv4, ev->target->ipv4, 4);
	}
	if (ev->type == CIRC_EV_EXIT_MSG && n->echo && ev->cmd == RELAY_DATA) {
		uint8_t reply[RELAY_DATA_MAX];

		memcpy(reply, "pong:", 5);
		memcpy(reply + 5, ev->data, ev->len);
		assert_int_equal(circ_relay_send(n->core, ev->circ, RELAY_DATA, ev->stream_id,
		                                 reply, ev->len + 5, n->sim->now),
		                 UM_OK);
	}
	r = &n->last[ev->type];
	memset(r, 0, sizeof(*r));
	r->type = ev->type;
	r->circ = ev->circ;
	r->reason = ev->reason;
	r->remote = ev->remote;
	r->hop = ev->hop;
	r->cmd = ev->cmd;
	r->stream_id = ev->stream_id;
	r->len = ev->len;
	if (ev->data != NULL)
		memcpy(r->data, ev->data, ev->len);
}

static struct sim_link *
sim_connect(struct sim *sim, int a, int b)
{
	struct sim_link *l = &sim->links[sim->n_links++];

	assert_true(sim->n_links <= MAX_LINKS);
	memset(l, 0, sizeof(*l));
	l->sim = sim;
	l->node[0] = a;
	l->node[1] = b;
	for (int s = 0; s < 2; s++) {
		l->ends[s].link = l;
		l->ends[s].side = s;
	}
	/* Responder first; a client (node 0) stays anonymous to its entry (NK). */
	assert_int_equal(circ_core_link_add(sim->nodes[b].core, handle(l, 1), false,
	                                    a == 0 ? NULL : sim->nodes[a].id.pk, sim->now),
	                 UM_OK);
	assert_int_equal(circ_core_link_add(sim->nodes[a].core, handle(l, 0), true,
	                                    sim->nodes[b].id.pk, sim->now),
	                 UM_OK);
	return l;
}

static void
sim_close_link(struct sim *sim, struct sim_link *l)
{
	l->closed = true;
	l->q[0].n = l->q[1].n = 0;
	circ_core_link_closed(sim->nodes[l->node[0]].core, handle(l, 0), sim->now);
	circ_core_link_closed(sim->nodes[l->node[1]].core, handle(l, 1), sim->now);
}

/* The fake link layer: reach the relay at the address, with the consensus's link key. */
static void
serve_request(struct sim *sim, const struct link_req *q)
{
	struct sim_node *from = &sim->nodes[q->from];
	const struct relay_entry *cons = NULL;
	int target = -1;

	for (int i = 1; i < N_NODES; i++) {
		if (memcmp(sim->nodes[i].entry.addrs[0].addr, q->ipv4, 4) == 0)
			target = i;
		if (memcmp(sim->consensus[i].identity, q->id, 32) == 0)
			cons = &sim->consensus[i];
	}
	/* XK with expected identity and link key: both must be the relay's real ones. */
	if (target < 0 || cons == NULL ||
	    memcmp(cons->link_key, sim->nodes[target].link_key, 32) != 0 ||
	    memcmp(sim->nodes[target].id.pk, q->id, 32) != 0) {
		circ_core_link_failed(from->core, q->id, CIRC_REASON_CONNECTFAILED, sim->now);
		return;
	}
	for (size_t i = 0; i < sim->n_links; i++) {
		struct sim_link *l = &sim->links[i];

		if (!l->closed && l->node[0] == q->from && l->node[1] == target)
			return; /* already open (and added to the core: it reused it) */
	}
	(void)sim_connect(sim, q->from, target);
}

/* Deliver every queued cell and answer link requests until nothing moves. */
static void
sim_pump(struct sim *sim)
{
	bool moved = true;

	while (moved) {
		moved = false;
		if (!sim->hold_reqs && sim->n_reqs > 0) {
			struct link_req q = sim->reqs[0];

			memmove(sim->reqs, sim->reqs + 1, (sim->n_reqs - 1) * sizeof(q));
			sim->n_reqs--;
			serve_request(sim, &q);
			moved = true;
		}
		for (size_t i = 0; i < sim->n_links; i++) {
			struct sim_link *l = &sim->links[i];

			for (int s = 0; s < 2; s++) {
				struct cellq *q = &l->q[s];

				if (l->closed || q->n == 0)
					continue;
				struct cell c = q->c[q->head++];

				q->n--;
				if (q->n == 0)
					q->head = 0;
				circ_core_cell_in(sim->nodes[l->node[!s]].core, handle(l, !s), &c,
				                  sim->now);
				moved = true;
			}
		}
	}
}

static struct sim *
sim_new(const struct circ_config *relay_cfg)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	struct circ_config cfg;
	struct circ_ops ops;

	assert_non_null(sim);
	sim->now = T0;
	sim->tamper_from = -1;
	for (int i = 0; i < N_NODES; i++) {
		struct sim_node *n = &sim->nodes[i];
		struct relay_entry *e = &n->entry;
		struct circ_relay_keys keys = { n->id.pk, n->onion, 1 };

		n->sim = sim;
		n->idx = i;
		keys_ed25519_generate(&n->id);
		keys_x25519_generate(&n->onion[0]);
		keys_x25519_generate(&n->onion[1]);
		rand_bytes(n->link_key, sizeof(n->link_key));
		memset(e, 0, sizeof(*e));
		memcpy(e->identity, n->id.pk, 32);
		memcpy(e->link_key, n->link_key, 32);
		memcpy(e->onion_key, n->onion[0].pk, 32);
		e->n_addrs = 1;
		e->addrs[0].type = RELAY_ADDR_IPV4;
		e->addrs[0].addr[0] = 10;
		e->addrs[0].addr[3] = (uint8_t)(i + 1);
		e->addrs[0].port = 9001;
		sim->consensus[i] = *e;
		circ_config_default(&cfg);
		if (i > 0 && relay_cfg != NULL)
			cfg = *relay_cfg;
		ops.send_cell = sim_send;
		ops.on_event = sim_event;
		ops.arg = n;
		ops.may_create = NULL;
		n->core = circ_core_new(&cfg, &ops, i == 0 ? NULL : &keys);
	}
	sim->nodes[3].echo = true;
	return sim;
}

static void
sim_free(struct sim *sim)
{
	for (int i = 0; i < N_NODES; i++) {
		circ_core_free(sim->nodes[i].core);
		keys_ed25519_clear(&sim->nodes[i].id);
		keys_x25519_clear(&sim->nodes[i].onion[0]);
		keys_x25519_clear(&sim->nodes[i].onion[1]);
	}
	for (size_t i = 0; i < sim->n_links; i++)
		for (int s = 0; s < 2; s++)
			free(sim->links[i].q[s].c);
	free(sim->sent);
	free(sim);
}

static const struct rec_event *
last_event(const struct sim_node *n, enum circ_event_type type)
{
	return n->count[type] > 0 ? &n->last[type] : NULL;
}

/* Build client -> entry -> middle -> exit over a fresh client link; returns the circuit. */
static struct circuit *
build3(struct sim *sim, struct sim_link *cl)
{
	const struct relay_entry *path[3] = { &sim->consensus[1], &sim->consensus[2],
		                              &sim->consensus[3] };
	struct circuit *circ = NULL;
	size_t built = sim->nodes[0].count[CIRC_EV_BUILT];

	assert_int_equal(
	        circ_client_build(sim->nodes[0].core, handle(cl, 0), path, 3, sim, sim->now, &circ),
	        UM_OK);
	assert_non_null(circ);
	sim_pump(sim);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_BUILT], built + 1);
	assert_ptr_equal(last_event(&sim->nodes[0], CIRC_EV_BUILT)->circ, circ);
	assert_int_equal(circ_client_hops(circ), 3);
	return circ;
}

static size_t
n_circuits(const struct sim_node *n)
{
	struct circ_core_stats st;

	circ_core_stats(n->core, &st);
	return st.circuits;
}

static bool
contains(const uint8_t *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

static void
send_data(struct sim *sim, struct circuit *circ, const char *msg)
{
	assert_int_equal(circ_client_send(sim->nodes[0].core, circ, 3, RELAY_DATA, 7,
	                                  (const uint8_t *)msg, strlen(msg), sim->now),
	                 UM_OK);
}

/* ---- tests ---- */

static void
test_circuit_build_and_round_trip(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl, *em, *mx;
	struct circuit *circ;
	const struct rec_event *ev;
	const char *secret = "attack at dawn, very secret plaintext";
	uint32_t client_id = 0;

	(void)state;
	sim->record = true;
	cl = sim_connect(sim, 0, 1);
	circ = build3(sim, cl);
	assert_int_equal(sim->n_links, 3); /* entry->middle, middle->exit opened on request */
	em = &sim->links[1];
	mx = &sim->links[2];
	assert_int_equal(em->node[0], 1);
	assert_int_equal(mx->node[1], 3);
	for (int i = 1; i < N_NODES; i++)
		assert_int_equal(n_circuits(&sim->nodes[i]), 1);

	send_data(sim, circ, secret);
	sim_pump(sim);
	ev = last_event(&sim->nodes[3], CIRC_EV_EXIT_MSG);
	assert_non_null(ev);
	assert_int_equal(ev->cmd, RELAY_DATA);
	assert_int_equal(ev->stream_id, 7);
	assert_memory_equal(ev->data, secret, strlen(secret));
	ev = last_event(&sim->nodes[0], CIRC_EV_MSG);
	assert_non_null(ev);
	assert_int_equal(ev->hop, 3);
	assert_int_equal(ev->cmd, RELAY_DATA);
	assert_int_equal(ev->stream_id, 7);
	assert_int_equal(ev->len, 5 + strlen(secret));
	assert_memory_equal(ev->data, "pong:", 5);
	assert_memory_equal(ev->data + 5, secret, strlen(secret));

	/* What the entry saw on the client link: one CircID (hop 1's), its top bit set (the
	 * client opened the link); the CircIDs beyond it never reach that link. */
	for (size_t i = 0; i < sim->n_sent; i++) {
		const struct sent_cell *s = &sim->sent[i];

		if (s->link != cl)
			continue;
		if (client_id == 0)
			client_id = s->cell.circ_id;
		assert_int_equal(s->cell.circ_id, client_id);
	}
	assert_true(client_id & CIRC_ID_INITIATOR_BIT);
	for (size_t i = 0; i < sim->n_sent; i++) {
		const struct sent_cell *s = &sim->sent[i];

		if (s->link == em || s->link == mx)
			assert_int_not_equal(s->cell.circ_id, client_id);
		/* Nobody but the exit holds the plaintext: not the client link, not what the entry
		 * or the middle forward, either way. */
		assert_false(contains(s->cell.payload, CELL_PAYLOAD_LEN, secret));
	}
	sim_free(sim);
}

static void
tamper_early(struct cell *c)
{
	c->cmd = CELL_RELAY_EARLY;
}

static void
test_circuit_relay_early_limit(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	struct circuit *circ = build3(sim, cl);
	const struct rec_event *ev;

	(void)state;
	/* Two EXTEND2s used 2 of the 8: six more go as RELAY_EARLY, all accepted. */
	for (int i = 0; i < 6; i++)
		send_data(sim, circ, "early");
	sim_pump(sim);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_MSG], 6);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_CLOSED], 0);
	/* The client is out of RELAY_EARLY: make its next cell a 9th one. */
	sim->tamper_from = 0;
	sim->tamper_cmd = CELL_RELAY;
	sim->tamper = tamper_early;
	send_data(sim, circ, "ninth");
	sim_pump(sim);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_non_null(ev);
	assert_int_equal(ev->reason, CIRC_REASON_PROTOCOL);
	assert_true(ev->remote);
	assert_int_equal(sim->nodes[3].count[CIRC_EV_EXIT_MSG], 6);
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(n_circuits(&sim->nodes[i]), 0);
	sim_free(sim);
}

static void
test_circuit_destroy_propagates_both_ways(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	struct circuit *circ = build3(sim, cl);
	const struct rec_event *ev;

	(void)state;
	/* Forward: the client closes. */
	circ_close(sim->nodes[0].core, circ, CIRC_REASON_FINISHED, sim->now);
	sim_pump(sim);
	for (int i = 1; i < N_NODES; i++) {
		ev = last_event(&sim->nodes[i], CIRC_EV_CLOSED);
		assert_non_null(ev);
		assert_int_equal(ev->reason, CIRC_REASON_FINISHED);
		assert_true(ev->remote);
		assert_int_equal(n_circuits(&sim->nodes[i]), 0);
	}
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_non_null(ev);
	assert_false(ev->remote);

	/* Backward: the exit closes (links are reused). */
	circ = build3(sim, cl);
	assert_int_equal(sim->n_links, 3);
	send_data(sim, circ, "hello");
	sim_pump(sim);
	ev = last_event(&sim->nodes[3], CIRC_EV_EXIT_MSG);
	assert_non_null(ev);
	circ_close(sim->nodes[3].core, ev->circ, CIRC_REASON_RESOURCELIMIT, sim->now);
	sim_pump(sim);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_ptr_equal(ev->circ, circ);
	assert_int_equal(ev->reason, CIRC_REASON_RESOURCELIMIT);
	assert_true(ev->remote);
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(n_circuits(&sim->nodes[i]), 0);
	sim_free(sim);
}

static void
flip_byte(struct cell *c)
{
	c->payload[100] ^= 0x01;
}

static void
test_circuit_flipped_byte_closes_at_exit(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	struct circuit *circ = build3(sim, cl);
	const struct rec_event *ev;
	struct circ_core_stats st;

	(void)state;
	sim->tamper_from = 0;
	sim->tamper_cmd = CELL_RELAY_EARLY;
	sim->tamper = flip_byte;
	send_data(sim, circ, "tampered");
	sim_pump(sim);
	assert_int_equal(sim->nodes[3].count[CIRC_EV_EXIT_MSG], 0);
	circ_core_stats(sim->nodes[3].core, &st);
	assert_int_equal(st.protocol, 1);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_non_null(ev);
	assert_int_equal(ev->reason, CIRC_REASON_PROTOCOL);
	assert_true(ev->remote);
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(n_circuits(&sim->nodes[i]), 0);
	sim_free(sim);
}

static void
test_circuit_unknown_and_bad_circ_ids_ignored(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	struct circuit *circ = build3(sim, cl);
	struct circ_core_stats before, after;
	struct cell c;
	size_t sent;

	(void)state;
	sim->record = true;
	circ_core_stats(sim->nodes[1].core, &before);
	sent = sim->n_sent;
	/* A RELAY and a DESTROY for a CircID nobody uses. */
	memset(&c, 0, sizeof(c));
	c.circ_id = 0x80001234u;
	c.cmd = CELL_RELAY;
	rand_bytes(c.payload, sizeof(c.payload));
	circ_core_cell_in(sim->nodes[1].core, handle(cl, 1), &c, sim->now);
	c.cmd = CELL_DESTROY;
	circ_core_cell_in(sim->nodes[1].core, handle(cl, 1), &c, sim->now);
	/* CREATE2 with the responder's top bit (clear) from the initiator: dropped unanswered. */
	c.circ_id = 0x00001234u;
	c.cmd = CELL_CREATE2;
	circ_core_cell_in(sim->nodes[1].core, handle(cl, 1), &c, sim->now);
	/* CREATE2 reusing the live circuit's CircID: dropped, the circuit untouched. */
	c.circ_id = circ->next.circ_id;
	circ_core_cell_in(sim->nodes[1].core, handle(cl, 1), &c, sim->now);
	/* A cell from a link the core never heard of. */
	circ_core_cell_in(sim->nodes[1].core, handle(&sim->links[2], 1), &c, sim->now);
	circ_core_stats(sim->nodes[1].core, &after);
	assert_int_equal(after.ignored, before.ignored + 5);
	assert_int_equal(after.circuits, 1);
	assert_int_equal(sim->n_sent, sent); /* nothing answered */
	send_data(sim, circ, "still works");
	sim_pump(sim);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_MSG], 1);
	sim_free(sim);
}

static void
test_circuit_extend_wrong_link_key_fails(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	const struct relay_entry *path[3] = { &sim->consensus[1], &sim->consensus[2],
		                              &sim->consensus[3] };
	struct circuit *circ;
	const struct rec_event *ev;

	(void)state;
	/* The consensus's link key for the exit is not the one the exit holds. */
	sim->consensus[3].link_key[0] ^= 0xff;
	assert_int_equal(circ_client_build(sim->nodes[0].core, handle(cl, 0), path, 3, NULL,
	                                   sim->now, &circ),
	                 UM_OK);
	sim_pump(sim);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_BUILT], 0);
	ev = last_event(&sim->nodes[0], CIRC_EV_FAILED);
	assert_non_null(ev);
	assert_ptr_equal(ev->circ, circ);
	assert_int_equal(ev->reason, CIRC_REASON_CONNECTFAILED);
	assert_true(ev->remote);
	assert_int_equal(sim->nodes[3].count[CIRC_EV_CLOSED], 0);
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(n_circuits(&sim->nodes[i]), 0);
	sim_free(sim);
}

static void
test_circuit_link_close_destroys(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	const struct rec_event *ev;

	(void)state;
	(void)build3(sim, cl);
	(void)build3(sim, cl);
	sim_close_link(sim, &sim->links[1]); /* entry <-> middle */
	sim_pump(sim);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_CLOSED], 2);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_int_equal(ev->reason, CIRC_REASON_CHANNEL_CLOSED);
	assert_true(ev->remote);
	assert_int_equal(sim->nodes[3].count[CIRC_EV_CLOSED], 2);
	ev = last_event(&sim->nodes[3], CIRC_EV_CLOSED);
	assert_int_equal(ev->reason, CIRC_REASON_CHANNEL_CLOSED);
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(n_circuits(&sim->nodes[i]), 0);
	sim_free(sim);
}

static void
test_circuit_extend_timeout(void **state)
{
	struct circ_config cfg;
	struct sim *sim;
	struct sim_link *cl;
	const struct relay_entry *path[2];
	struct circuit *circ;
	const struct rec_event *ev;
	uint64_t dl;

	(void)state;
	circ_config_default(&cfg);
	cfg.extend_timeout_ms = 5000;
	sim = sim_new(&cfg);
	cl = sim_connect(sim, 0, 1);
	path[0] = &sim->consensus[1];
	path[1] = &sim->consensus[2];
	sim->hold_reqs = true; /* the link to the middle never comes */
	assert_int_equal(circ_client_build(sim->nodes[0].core, handle(cl, 0), path, 2, NULL,
	                                   sim->now, &circ),
	                 UM_OK);
	sim_pump(sim);
	assert_int_equal(sim->n_reqs, 1);
	dl = circ_core_next_deadline(sim->nodes[1].core);
	assert_int_equal(dl, T0 + 5000);
	circ_core_tick(sim->nodes[1].core, dl - 1);
	assert_int_equal(n_circuits(&sim->nodes[1]), 1);
	sim->now = dl;
	circ_core_tick(sim->nodes[1].core, dl);
	sim_pump(sim);
	ev = last_event(&sim->nodes[0], CIRC_EV_FAILED);
	assert_non_null(ev);
	assert_int_equal(ev->reason, CIRC_REASON_TIMEOUT);
	assert_int_equal(n_circuits(&sim->nodes[1]), 0);
	assert_int_equal(circ_core_next_deadline(sim->nodes[1].core), UINT64_MAX);
	assert_int_equal(circ_core_next_deadline(sim->nodes[0].core), UINT64_MAX);
	sim_free(sim);
}

static void
test_circuit_previous_onion_key(void **state)
{
	struct sim *sim = sim_new(NULL);
	struct sim_link *cl = sim_connect(sim, 0, 1);
	struct sim_node *mid = &sim->nodes[2];
	struct keys_x25519 both[2];
	struct circ_relay_keys keys = { mid->id.pk, both, 2 };

	(void)state;
	/* The middle rotated: onion[1] is current, onion[0] (in the consensus) previous. */
	both[0] = mid->onion[1];
	both[1] = mid->onion[0];
	circ_core_set_keys(mid->core, &keys);
	(void)build3(sim, cl);
	/* Without the previous key, the same consensus fails. */
	keys.n_onion_keys = 1;
	circ_core_set_keys(mid->core, &keys);
	{
		const struct relay_entry *path[3] = { &sim->consensus[1], &sim->consensus[2],
			                              &sim->consensus[3] };
		struct circuit *circ;

		assert_int_equal(circ_client_build(sim->nodes[0].core, handle(cl, 0), path, 3, NULL,
		                                   sim->now, &circ),
		                 UM_OK);
		sim_pump(sim);
		assert_int_equal(last_event(&sim->nodes[0], CIRC_EV_FAILED)->reason,
		                 CIRC_REASON_PROTOCOL);
	}
	sim_free(sim);
}

static void
test_circuit_oom_kills_oldest_queue(void **state)
{
	struct circ_config cfg;
	struct sim *sim;
	struct sim_link *cl, *em;
	struct circuit *c[3];
	struct circ_core_stats st;
	const struct rec_event *ev;

	(void)state;
	circ_config_default(&cfg);
	cfg.max_queue_total = 20;
	cfg.max_queue_per_circ = 16;
	sim = sim_new(&cfg);
	cl = sim_connect(sim, 0, 1);
	for (int i = 0; i < 3; i++)
		c[i] = build3(sim, cl);
	em = &sim->links[1];
	circ_core_link_blocked(sim->nodes[1].core, handle(em, 0), true, sim->now);
	/* 5 cells for circuit 0 at t=100, 5 for circuit 1 at t=200, 12 for circuit 2 at t=300:
	 * 22 queued > 20, so circuit 0 (oldest queue) goes, leaving 17 (<= 90% of the cap). */
	for (int k = 0; k < 3; k++) {
		sim->now = T0 + 100 * (uint64_t)(k + 1);
		for (int i = 0; i < (k == 2 ? 12 : 5); i++)
			send_data(sim, c[k], "queued");
		sim_pump(sim);
	}
	circ_core_stats(sim->nodes[1].core, &st);
	assert_int_equal(st.oom_killed, 1);
	assert_int_equal(st.queued_cells, 17);
	assert_int_equal(st.circuits, 2);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_non_null(ev);
	assert_ptr_equal(ev->circ, c[0]);
	assert_int_equal(ev->reason, CIRC_REASON_RESOURCELIMIT);
	/* The middle and exit heard of it too (DESTROY skips the blocked queue). */
	assert_int_equal(sim->nodes[3].count[CIRC_EV_CLOSED], 1);
	/* Unblocking delivers the rest, in order, and the echoes come back. */
	circ_core_link_blocked(sim->nodes[1].core, handle(em, 0), false, sim->now);
	sim_pump(sim);
	circ_core_stats(sim->nodes[1].core, &st);
	assert_int_equal(st.queued_cells, 0);
	assert_int_equal(sim->nodes[3].count[CIRC_EV_EXIT_MSG], 17);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_MSG], 17);

	/* Over the per-circuit cap: that circuit alone closes. */
	circ_core_link_blocked(sim->nodes[1].core, handle(em, 0), true, sim->now);
	for (int i = 0; i < 17; i++)
		send_data(sim, c[1], "flood");
	sim_pump(sim);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_ptr_equal(ev->circ, c[1]);
	assert_int_equal(ev->reason, CIRC_REASON_RESOURCELIMIT);
	assert_int_equal(n_circuits(&sim->nodes[1]), 1);
	sim_free(sim);
}

static void
test_circuit_oom_counts_stream_backlog(void **state)
{
	struct circ_config cfg;
	struct sim *sim;
	struct sim_link *cl;
	struct circuit *c[3], *x[3];
	struct circ_core *exit_core;
	struct circ_core_stats st;
	const struct rec_event *ev;

	(void)state;
	circ_config_default(&cfg);
	cfg.max_queue_total = 20;
	sim = sim_new(&cfg);
	cl = sim_connect(sim, 0, 1);
	exit_core = sim->nodes[3].core;
	for (int i = 0; i < 3; i++) {
		c[i] = build3(sim, cl);
		send_data(sim, c[i], "begin");
		sim_pump(sim);
		x[i] = last_event(&sim->nodes[3], CIRC_EV_EXIT_MSG)->circ; /* the exit's side */
	}
	/* No cell is queued anywhere: only bytes held for the exit's sockets, counted as the
	 * DATA cells they came in (rounded up). Circuit 1's are the oldest. */
	circ_set_stream_backlog(exit_core, x[0], 5 * RELAY_DATA_MAX, T0 + 100, sim->now);
	circ_set_stream_backlog(exit_core, x[1], 10 * RELAY_DATA_MAX - 1, T0 + 50, sim->now);
	circ_core_stats(exit_core, &st);
	assert_int_equal(st.queued_cells, 15);
	assert_int_equal(st.stream_cells, 15);
	assert_int_equal(st.oom_killed, 0);
	/* 21 > 20: the OOM rule closes the circuit whose backlog is oldest, leaving 11. */
	circ_set_stream_backlog(exit_core, x[2], 6 * RELAY_DATA_MAX, T0 + 300, sim->now);
	circ_core_stats(exit_core, &st);
	assert_int_equal(st.oom_killed, 1);
	assert_int_equal(st.queued_cells, 11);
	assert_int_equal(st.stream_cells, 11);
	assert_int_equal(st.circuits, 2);
	ev = last_event(&sim->nodes[3], CIRC_EV_CLOSED);
	assert_non_null(ev);
	assert_ptr_equal(ev->circ, x[1]);
	assert_int_equal(ev->reason, CIRC_REASON_RESOURCELIMIT);
	sim_pump(sim);
	ev = last_event(&sim->nodes[0], CIRC_EV_CLOSED);
	assert_non_null(ev);
	assert_ptr_equal(ev->circ, c[1]);
	/* A report replaces the previous one; a drained backlog counts for nothing. */
	circ_set_stream_backlog(exit_core, x[0], 0, 0, sim->now);
	circ_set_stream_backlog(exit_core, x[2], 1, T0 + 300, sim->now);
	circ_core_stats(exit_core, &st);
	assert_int_equal(st.queued_cells, 1);
	assert_int_equal(st.stream_cells, 1);
	/* A circuit closed for another reason takes its backlog along. */
	circ_close(exit_core, x[2], CIRC_REASON_FINISHED, sim->now);
	circ_core_stats(exit_core, &st);
	assert_int_equal(st.queued_cells, 0);
	assert_int_equal(st.stream_cells, 0);
	sim_free(sim);
}

static void
test_circuit_ten_thousand_through_one_relay(void **state)
{
	enum { N = 10000 };
	struct circ_config cfg;
	struct sim *sim;
	struct sim_link *cl;
	const struct relay_entry *path[1];
	struct circ_core_stats st;
	size_t per_circ, table;

	(void)state;
	circ_config_default(&cfg);
	cfg.max_circuits = N;
	sim = sim_new(&cfg);
	cl = sim_connect(sim, 0, 1);
	path[0] = &sim->consensus[1];
	for (int i = 0; i < N + 1; i++) {
		struct circuit *circ;

		assert_int_equal(circ_client_build(sim->nodes[0].core, handle(cl, 0), path, 1, NULL,
		                                   sim->now, &circ),
		                 UM_OK);
		sim_pump(sim);
	}
	assert_int_equal(sim->nodes[0].count[CIRC_EV_BUILT], N);
	assert_int_equal(sim->nodes[0].count[CIRC_EV_FAILED], 1);
	assert_int_equal(last_event(&sim->nodes[0], CIRC_EV_FAILED)->reason,
	                 CIRC_REASON_RESOURCELIMIT);
	circ_core_stats(sim->nodes[1].core, &st);
	assert_int_equal(st.circuits, N);
	assert_int_equal(st.created, N);

	/* State per idle relay circuit, sizeof-based: the circuit, its relay crypto (keys
	 * included: no cipher context per circuit), and its share of the (link, CircID) table.
	 * Malloc headers come on top; bench/relay_mem.sh measures a real relay's RSS. */
	table = sim->nodes[1].core->ctab_n * sizeof(struct circ_end *) / N;
	per_circ = sizeof(struct circuit) + relay_crypto_state_size();
	printf("[ INFO     ] relay circuit state: struct circuit %zu B + relay_crypto %zu B + "
	       "table %zu B = %zu B per circuit (10000 circuits: %zu KiB)\n",
	       sizeof(struct circuit), relay_crypto_state_size(), table, per_circ + table,
	       (per_circ + table) * N / 1024);
	assert_true(sizeof(struct circuit) <= 256);
	sim_close_link(sim, cl);
	circ_core_stats(sim->nodes[1].core, &st);
	assert_int_equal(st.circuits, 0);
	sim_free(sim);
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
		cmocka_unit_test(test_circuit_build_and_round_trip),
		cmocka_unit_test(test_circuit_relay_early_limit),
		cmocka_unit_test(test_circuit_destroy_propagates_both_ways),
		cmocka_unit_test(test_circuit_flipped_byte_closes_at_exit),
		cmocka_unit_test(test_circuit_unknown_and_bad_circ_ids_ignored),
		cmocka_unit_test(test_circuit_extend_wrong_link_key_fails),
		cmocka_unit_test(test_circuit_link_close_destroys),
		cmocka_unit_test(test_circuit_extend_timeout),
		cmocka_unit_test(test_circuit_previous_onion_key),
		cmocka_unit_test(test_circuit_oom_kills_oldest_queue),
		cmocka_unit_test(test_circuit_oom_counts_stream_backlog),
		cmocka_unit_test(test_circuit_ten_thousand_through_one_relay),
	};

	return cmocka_run_group_tests_name("circuit_sim", tests, setup, NULL);
}
