/* SPDX-License-Identifier: MIT */
/*
 * The circuit core's common part (docs/PROTOCOL.md section 13): the (link, CircID) table, the
 * links the caller reported, per-end queues for blocked links with the relay-wide cap (Tor's
 * OOM rule: close the circuits holding the oldest queued cells), teardown (DESTROY both ways),
 * timeouts, and cell dispatch to the relay (circuit_relay.c) and client (circuit_client.c)
 * halves. No I/O: cells go out through ops->send_cell, news through ops->on_event.
 *
 * Lifetime: a closed circuit is unlinked at once (no lookup finds it) and freed when the
 * outermost public call returns, so callbacks may close circuits, even the one being handled.
 */
#include "circuit/circuit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "circuit/circuit_st.h"

enum {
	TABLE_MIN = 64,
	LINK_TABLE_MIN = 16,
};

static struct log_ratelim rl_oom = LOG_RATELIM_INIT(60000);

void
circ_config_default(struct circ_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_circuits = CIRC_DEFAULT_MAX_CIRCUITS;
	cfg->max_queue_per_circ = CIRC_DEFAULT_QUEUE_PER_CIRC;
	cfg->max_queue_total = CIRC_DEFAULT_QUEUE_TOTAL;
	cfg->build_timeout_ms = CIRC_DEFAULT_BUILD_TIMEOUT_MS;
	cfg->extend_timeout_ms = CIRC_DEFAULT_EXTEND_TIMEOUT_MS;
}

/* ---- tables ---- */

static size_t
end_bucket(const struct circ_core *core, uint64_t link_serial, uint32_t circ_id)
{
	uint8_t in[12], out[16];

	wire_store_u64(in, link_serial);
	wire_store_u32(in + 8, circ_id);
	hash_blake2b(out, sizeof(out), in, sizeof(in), core->hkey, sizeof(core->hkey));
	return (size_t)wire_load_u64(out) & (core->ctab_n - 1);
}

static size_t
link_bucket(const struct circ_core *core, const struct circ_link *l)
{
	/* Pointers are ours, not the peer's: a multiplicative mix is enough. */
	uint64_t x = (uint64_t)(uintptr_t)l * 0x9e3779b97f4a7c15ull;

	return (size_t)(x >> 32) & (core->ltab_n - 1);
}

static void
ctab_grow(struct circ_core *core)
{
	size_t n = core->ctab_n * 2;
	struct circ_end **t = um_xcalloc(n, sizeof(*t));
	struct circ_end **old = core->ctab;
	size_t old_n = core->ctab_n;

	core->ctab = t;
	core->ctab_n = n;
	for (size_t i = 0; i < old_n; i++) {
		struct circ_end *e = old[i], *nx;

		for (; e != NULL; e = nx) {
			size_t b = end_bucket(core, e->link->serial, e->circ_id);

			nx = e->hnext;
			e->hnext = t[b];
			t[b] = e;
		}
	}
	free(old);
}

static void
ltab_grow(struct circ_core *core)
{
	size_t n = core->ltab_n * 2;
	struct circ_lrec **t = um_xcalloc(n, sizeof(*t));
	struct circ_lrec **old = core->ltab;
	size_t old_n = core->ltab_n;

	core->ltab = t;
	core->ltab_n = n;
	for (size_t i = 0; i < old_n; i++) {
		struct circ_lrec *lr = old[i], *nx;

		for (; lr != NULL; lr = nx) {
			size_t b = link_bucket(core, lr->handle);

			nx = lr->hnext;
			lr->hnext = t[b];
			t[b] = lr;
		}
	}
	free(old);
}

struct circ_lrec *
circ_link_find(const struct circ_core *core, const struct circ_link *l)
{
	for (struct circ_lrec *lr = core->ltab[link_bucket(core, l)]; lr != NULL; lr = lr->hnext)
		if (lr->handle == l)
			return lr;
	return NULL;
}

struct circ_lrec *
circ_link_find_peer(const struct circ_core *core, const uint8_t id[CIRC_ID_KEY_LEN])
{
	/* Links number in the thousands at most (link_mgr max_links) and this runs once per
	 * EXTEND2, so a scan is fine. Identities are public: no constant time needed. */
	for (size_t i = 0; i < core->ltab_n; i++)
		for (struct circ_lrec *lr = core->ltab[i]; lr != NULL; lr = lr->hnext)
			if (lr->has_peer_id && memcmp(lr->peer_id, id, CIRC_ID_KEY_LEN) == 0)
				return lr;
	return NULL;
}

struct circ_end *
circ_table_find(const struct circ_core *core, const struct circ_lrec *lr, uint32_t circ_id)
{
	struct circ_end *e = core->ctab[end_bucket(core, lr->serial, circ_id)];

	for (; e != NULL; e = e->hnext)
		if (e->link == lr && e->circ_id == circ_id)
			return e;
	return NULL;
}

void
circ_end_attach(struct circ_core *core, struct circ_end *e, struct circ_lrec *lr, uint32_t circ_id)
{
	size_t b;

	if (core->n_ends >= core->ctab_n)
		ctab_grow(core);
	e->link = lr;
	e->circ_id = circ_id;
	b = end_bucket(core, lr->serial, circ_id);
	e->hnext = core->ctab[b];
	core->ctab[b] = e;
	list_push_back(&lr->ends, &e->lnode);
	core->n_ends++;
}

static void
end_queue_clear(struct circ_core *core, struct circ_end *e)
{
	struct circ_qcell *q, *nx;

	for (q = e->qhead; q != NULL; q = nx) {
		nx = q->next;
		um_memzero(q, sizeof(*q));
		free(q);
	}
	core->queued -= e->qlen;
	e->qhead = e->qtail = NULL;
	e->qlen = 0;
}

static void
end_detach(struct circ_core *core, struct circ_end *e)
{
	struct circ_end **pp;

	if (e->link == NULL)
		return;
	end_queue_clear(core, e);
	pp = &core->ctab[end_bucket(core, e->link->serial, e->circ_id)];
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	list_remove(&e->lnode);
	core->n_ends--;
	e->link = NULL;
	e->hnext = NULL;
}

struct pick_ctx {
	struct circ_core *core;
	struct circ_lrec *lr;
};

static bool
pick_in_use(uint32_t circ_id, void *arg)
{
	const struct pick_ctx *p = arg;

	return circ_table_find(p->core, p->lr, circ_id) != NULL;
}

int
circ_pick_id(struct circ_core *core, struct circ_lrec *lr, uint32_t *out)
{
	struct pick_ctx p = { core, lr };

	return circ_id_pick(lr->initiator, pick_in_use, &p, out);
}

/* ---- core lifetime ---- */

struct circ_core *
circ_core_new(const struct circ_config *cfg, const struct circ_ops *ops,
              const struct circ_relay_keys *keys)
{
	struct circ_core *core = um_xcalloc(1, sizeof(*core));

	core->cfg = *cfg;
	core->ops = *ops;
	core->ctab_n = TABLE_MIN;
	core->ctab = um_xcalloc(core->ctab_n, sizeof(*core->ctab));
	core->ltab_n = LINK_TABLE_MIN;
	core->ltab = um_xcalloc(core->ltab_n, sizeof(*core->ltab));
	rand_bytes(core->hkey, sizeof(core->hkey));
	list_init(&core->circs);
	list_init(&core->timed);
	list_init(&core->dead);
	core->next_serial = 1;
	core->next_link_serial = 1;
	if (keys != NULL)
		circ_core_set_keys(core, keys);
	return core;
}

void
circ_core_set_keys(struct circ_core *core, const struct circ_relay_keys *keys)
{
	core->has_node_id = keys->node_id != NULL;
	if (keys->node_id != NULL)
		memcpy(core->node_id, keys->node_id, CIRC_ID_KEY_LEN);
	core->onion_keys = keys->onion_keys;
	core->n_onion_keys = UM_MIN(keys->n_onion_keys, (size_t)NTOR_MAX_ONION_KEYS);
}

static void
circ_free(struct circ_core *core, struct circuit *circ)
{
	end_detach(core, &circ->prev);
	end_detach(core, &circ->next);
	relay_crypto_free(circ->rc);
	circ_client_state_free(circ->cl);
	if (circ->ext != NULL) {
		um_memzero(circ->ext, sizeof(*circ->ext));
		free(circ->ext);
	}
	um_memzero(circ, sizeof(*circ));
	free(circ);
}

static void
free_dead(struct circ_core *core)
{
	while (!list_is_empty(&core->dead)) {
		struct circuit *circ = list_entry(core->dead.next, struct circuit, node);

		list_remove(&circ->node);
		circ_free(core, circ);
	}
}

void
circ_core_free_(struct circ_core *core)
{
	if (core == NULL)
		return;
	free_dead(core);
	while (!list_is_empty(&core->circs)) {
		struct circuit *circ = list_entry(core->circs.next, struct circuit, node);

		list_remove(&circ->node);
		list_remove(&circ->tnode);
		circ_free(core, circ);
	}
	for (size_t i = 0; i < core->ltab_n; i++) {
		struct circ_lrec *lr = core->ltab[i], *nx;

		for (; lr != NULL; lr = nx) {
			nx = lr->hnext;
			free(lr);
		}
	}
	free(core->ltab);
	free(core->ctab);
	um_memzero(core, sizeof(*core));
	free(core);
}

void
circ_enter(struct circ_core *core)
{
	core->depth++;
}

void
circ_leave(struct circ_core *core)
{
	if (--core->depth == 0)
		free_dead(core);
}

void
circ_emit(struct circ_core *core, const struct circ_event *ev)
{
	if (core->ops.on_event != NULL)
		core->ops.on_event(core->ops.arg, ev);
}

struct circuit *
circ_new(struct circ_core *core)
{
	struct circuit *circ = um_xcalloc(1, sizeof(*circ));

	list_init(&circ->prev.lnode);
	list_init(&circ->next.lnode);
	circ->next.is_next = true;
	list_init(&circ->tnode);
	list_push_back(&core->circs, &circ->node);
	circ->serial = core->next_serial++;
	core->n_circs++;
	return circ;
}

uint64_t
circ_serial(const struct circuit *circ)
{
	return circ->serial;
}

int
circ_sent_digest(const struct circuit *circ, size_t hop, uint8_t out[RELAY_DIGEST_LEN])
{
	memset(out, 0, RELAY_DIGEST_LEN);
	if (circ->state == CIRC_S_CLOSED)
		return UM_ERR_STATE;
	if (circ->cl != NULL) {
		if (hop < 1 || hop > circ->cl->n_built || circ->cl->hops[hop - 1] == NULL)
			return UM_ERR_INVALID;
		relay_crypto_last_digest(circ->cl->hops[hop - 1], true, out);
		return UM_OK;
	}
	if (circ->rc == NULL)
		return UM_ERR_STATE;
	relay_crypto_last_digest(circ->rc, false, out);
	return UM_OK;
}

size_t
circ_queue_len(const struct circuit *circ)
{
	return circ->cl != NULL ? circ->next.qlen : circ->prev.qlen;
}

void
circ_set_stream_user(struct circuit *circ, void *p)
{
	circ->stream_user = p;
}

void *
circ_stream_user(const struct circuit *circ)
{
	return circ->stream_user;
}

bool
circ_is_last_hop(const struct circuit *circ)
{
	return circ->cl == NULL && circ->next.link == NULL && circ->ext == NULL;
}

void
circ_set_deadline(struct circ_core *core, struct circuit *circ, uint64_t deadline)
{
	circ->deadline_ms = deadline;
	list_remove(&circ->tnode);
	list_push_back(&core->timed, &circ->tnode);
}

void
circ_clear_deadline(struct circuit *circ)
{
	circ->deadline_ms = 0;
	list_remove(&circ->tnode);
}

struct circuit *
circ_of_end(struct circ_end *e)
{
	return e->is_next ? UM_CONTAINER_OF(e, struct circuit, next)
	                  : UM_CONTAINER_OF(e, struct circuit, prev);
}

/* ---- sending and queues ---- */

static void
send_now(struct circ_core *core, struct circ_end *e, const struct cell *c)
{
	/* An error means the link is going away; its circ_core_link_closed() follows. */
	(void)core->ops.send_cell(core->ops.arg, e->link->handle, c);
}

static uint64_t
circ_oldest_queued(const struct circuit *circ)
{
	uint64_t t = UINT64_MAX;

	if (circ->prev.qhead != NULL)
		t = circ->prev.qhead->enq_ms;
	if (circ->next.qhead != NULL && circ->next.qhead->enq_ms < t)
		t = circ->next.qhead->enq_ms;
	/* Bytes waiting for a stream's socket are memory the circuit holds as well (Tor's
	 * circuit_max_queued_item_age counts the edge connections' buffers too). */
	if (circ->stream_cells > 0 && circ->stream_since_ms < t)
		t = circ->stream_since_ms;
	return t;
}

/* Drop circ's stream backlog from the relay-wide count. */
static void
stream_backlog_clear(struct circ_core *core, struct circuit *circ)
{
	core->queued -= circ->stream_cells;
	core->stream_cells -= circ->stream_cells;
	circ->stream_cells = 0;
}

/*
 * Tor's OOM rule (relay.c circuits_handle_oom): over the relay-wide cap, close the circuits
 * whose oldest queued cell is oldest (those stalled longest, the likeliest to be a
 * "sniper"-style memory attack), until the total is back to 90% of the cap.
 */
static void
oom_kill(struct circ_core *core, uint64_t now)
{
	size_t target = (size_t)core->cfg.max_queue_total / 10 * 9;

	log_ratelim(&rl_oom, UM_LOG_NOTICE, LD_CIRC,
	            "queued cells over the cap (%zu > %u): closing the oldest queues", core->queued,
	            core->cfg.max_queue_total);
	while (core->queued > target) {
		struct circuit *victim = NULL;
		uint64_t best = UINT64_MAX;
		struct list_node *pos;

		list_for_each (pos, &core->circs) {
			struct circuit *c = list_entry(pos, struct circuit, node);
			uint64_t t = circ_oldest_queued(c);

			if (t < best) {
				best = t;
				victim = c;
			}
		}
		if (victim == NULL)
			break;
		core->st.oom_killed++;
		circ_kill(core, victim, CIRC_REASON_RESOURCELIMIT, false, NULL, now);
	}
}

void
circ_end_send(struct circ_core *core, struct circuit *circ, struct circ_end *e, struct cell *c,
              uint64_t now)
{
	struct circ_qcell *q;

	if (e->link == NULL || circ->state == CIRC_S_CLOSED)
		return;
	c->circ_id = e->circ_id;
	/* Keep order: while anything is queued on this end, queue behind it. */
	if (!e->link->blocked && e->qlen == 0) {
		send_now(core, e, c);
		return;
	}
	if (e->qlen >= core->cfg.max_queue_per_circ) {
		/* The peer feeding us ignores flow control: drop the circuit, not the cell. */
		circ_kill(core, circ, CIRC_REASON_RESOURCELIMIT, false, NULL, now);
		return;
	}
	q = um_xmalloc(sizeof(*q));
	q->next = NULL;
	q->enq_ms = now;
	q->cell = *c;
	if (e->qtail != NULL)
		e->qtail->next = q;
	else
		e->qhead = q;
	e->qtail = q;
	e->qlen++;
	core->queued++;
	if (core->queued > core->cfg.max_queue_total)
		oom_kill(core, now);
}

void
circ_set_stream_backlog(struct circ_core *core, struct circuit *circ, size_t bytes,
                        uint64_t oldest_ms, uint64_t now)
{
	/* As the DATA cells the bytes came in: what they cost us is what a cell queue of the
	 * same data would, so both count against one cap. */
	size_t cells = bytes / RELAY_DATA_MAX + (bytes % RELAY_DATA_MAX != 0);

	if (circ->state == CIRC_S_CLOSED)
		return;
	cells = UM_MIN(cells, (size_t)UINT32_MAX);
	stream_backlog_clear(core, circ);
	circ->stream_cells = (uint32_t)cells;
	circ->stream_since_ms = oldest_ms;
	core->queued += cells;
	core->stream_cells += cells;
	if (core->queued > core->cfg.max_queue_total) {
		circ_enter(core);
		oom_kill(core, now);
		circ_leave(core);
	}
}

static void
link_flush(struct circ_core *core, struct circ_lrec *lr)
{
	bool progress = true;

	if (lr->flushing)
		return;
	lr->flushing = true;
	/* Round robin, one cell per circuit per pass, so no circuit starves the others. */
	while (progress && !lr->blocked) {
		struct list_node *pos;

		progress = false;
		list_for_each (pos, &lr->ends) {
			struct circ_end *e = list_entry(pos, struct circ_end, lnode);
			struct circ_qcell *q = e->qhead;

			if (q == NULL)
				continue;
			e->qhead = q->next;
			if (e->qhead == NULL)
				e->qtail = NULL;
			e->qlen--;
			core->queued--;
			q->cell.circ_id = e->circ_id;
			send_now(core, e, &q->cell);
			um_memzero(q, sizeof(*q));
			free(q);
			progress = true;
			if (lr->blocked)
				break;
		}
	}
	lr->flushing = false;
}

/* ---- teardown ---- */

static void
send_destroy(struct circ_core *core, struct circ_end *e, uint8_t reason)
{
	struct cell c;

	if (e->link == NULL)
		return;
	memset(&c, 0, sizeof(c));
	c.circ_id = e->circ_id;
	c.cmd = CELL_DESTROY;
	if (circ_destroy_encode(reason, c.payload) != UM_OK &&
	    circ_destroy_encode(CIRC_REASON_NONE, c.payload) != UM_OK)
		return;
	/* DESTROY skips the queue: queued cells die with the circuit. */
	send_now(core, e, &c);
}

void
circ_end_drop(struct circ_core *core, struct circ_end *e, uint8_t reason)
{
	send_destroy(core, e, reason);
	end_detach(core, e);
}

void
circ_kill(struct circ_core *core, struct circuit *circ, uint8_t reason, bool remote,
          struct circ_end *skip, uint64_t now)
{
	struct circ_event ev;
	bool building = circ->cl != NULL && circ->state == CIRC_S_BUILDING;

	(void)now;
	if (circ->state == CIRC_S_CLOSED)
		return;
	circ->state = CIRC_S_CLOSED;
	core->st.destroyed++;
	if (reason == CIRC_REASON_PROTOCOL)
		core->st.protocol++;
	end_queue_clear(core, &circ->prev);
	end_queue_clear(core, &circ->next);
	stream_backlog_clear(core, circ);
	if (skip != &circ->prev)
		send_destroy(core, &circ->prev, reason);
	if (skip != &circ->next)
		send_destroy(core, &circ->next, reason);
	/* Unlink before the event: from here no lookup or link flush finds it. */
	end_detach(core, &circ->prev);
	end_detach(core, &circ->next);
	circ_clear_deadline(circ);
	list_remove(&circ->node);
	list_push_back(&core->dead, &circ->node);
	core->n_circs--;

	memset(&ev, 0, sizeof(ev));
	ev.type = building ? CIRC_EV_FAILED : CIRC_EV_CLOSED;
	ev.circ = circ;
	ev.user = circ->cl != NULL ? circ->cl->user : NULL;
	ev.reason = reason;
	ev.remote = remote;
	circ_emit(core, &ev);
}

void
circ_close(struct circ_core *core, struct circuit *circ, uint8_t reason, uint64_t now)
{
	circ_enter(core);
	circ_kill(core, circ, reason, false, NULL, now);
	circ_leave(core);
}

/* ---- links ---- */

int
circ_core_link_add(struct circ_core *core, struct circ_link *l, bool we_initiated,
                   const uint8_t *peer_id, uint64_t now)
{
	struct circ_lrec *lr;
	size_t b;

	if (circ_link_find(core, l) != NULL)
		return UM_ERR_EXISTS;
	circ_enter(core);
	if (core->n_links >= core->ltab_n)
		ltab_grow(core);
	lr = um_xcalloc(1, sizeof(*lr));
	lr->handle = l;
	lr->serial = core->next_link_serial++;
	lr->initiator = we_initiated;
	list_init(&lr->ends);
	if (peer_id != NULL) {
		lr->has_peer_id = true;
		memcpy(lr->peer_id, peer_id, CIRC_ID_KEY_LEN);
	}
	b = link_bucket(core, l);
	lr->hnext = core->ltab[b];
	core->ltab[b] = lr;
	core->n_links++;
	if (lr->has_peer_id)
		circ_relay_link_ready(core, lr, now);
	circ_leave(core);
	return UM_OK;
}

static void
link_unlink(struct circ_core *core, struct circ_lrec *lr)
{
	struct circ_lrec **pp = &core->ltab[link_bucket(core, lr->handle)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == lr) {
			*pp = lr->hnext;
			break;
		}
	}
	core->n_links--;
}

void
circ_core_link_closed(struct circ_core *core, struct circ_link *l, uint64_t now)
{
	struct circ_lrec *lr = circ_link_find(core, l);

	if (lr == NULL)
		return;
	circ_enter(core);
	/* No more sends on it, then tear down what crossed it (DESTROY only to the far side). */
	link_unlink(core, lr);
	while (!list_is_empty(&lr->ends)) {
		struct circ_end *e = list_entry(lr->ends.next, struct circ_end, lnode);
		struct circuit *circ = circ_of_end(e);

		end_detach(core, e);
		circ_kill(core, circ, CIRC_REASON_CHANNEL_CLOSED, true, e, now);
	}
	free(lr);
	circ_leave(core);
}

static struct circuit *
find_waiting(struct circ_core *core, const uint8_t identity[CIRC_ID_KEY_LEN])
{
	struct list_node *pos;

	list_for_each (pos, &core->timed) {
		struct circuit *circ = list_entry(pos, struct circuit, tnode);

		if (circ->state == CIRC_S_EXT_LINK && circ->ext != NULL &&
		    memcmp(circ->ext->req.ed25519_id, identity, CIRC_ID_KEY_LEN) == 0)
			return circ;
	}
	return NULL;
}

void
circ_core_link_failed(struct circ_core *core, const uint8_t identity[CIRC_ID_KEY_LEN],
                      uint8_t reason, uint64_t now)
{
	struct circuit *circ;

	circ_enter(core);
	/* Rescan after each kill: its DESTROY may re-enter and close others. */
	while ((circ = find_waiting(core, identity)) != NULL)
		circ_kill(core, circ, reason, false, NULL, now);
	circ_leave(core);
}

void
circ_core_link_blocked(struct circ_core *core, struct circ_link *l, bool blocked, uint64_t now)
{
	struct circ_lrec *lr = circ_link_find(core, l);

	(void)now;
	if (lr == NULL)
		return;
	lr->blocked = blocked;
	if (blocked)
		return;
	circ_enter(core);
	link_flush(core, lr);
	circ_leave(core);
}

/* ---- cells in ---- */

void
circ_core_cell_in(struct circ_core *core, struct circ_link *l, const struct cell *c, uint64_t now)
{
	struct circ_lrec *lr = circ_link_find(core, l);
	struct circ_end *e;
	struct circuit *circ;

	if (lr == NULL) {
		core->st.ignored++;
		return;
	}
	circ_enter(core);
	e = circ_table_find(core, lr, c->circ_id);
	if (e == NULL) {
		if (c->cmd == CELL_CREATE2)
			circ_relay_create2(core, lr, c, now);
		else
			core->st.ignored++; /* unknown CircID (or a DESTROY for one we dropped) */
		goto out;
	}
	circ = circ_of_end(e);
	if (!e->is_next) {
		circ_relay_from_prev(core, circ, c, now);
	} else {
		if (circ->cl != NULL)
			circ_client_from_next(core, circ, c, now);
		else
			circ_relay_from_next(core, circ, c, now);
	}
out:
	circ_leave(core);
}

/* ---- time ---- */

void
circ_core_tick(struct circ_core *core, uint64_t now)
{
	circ_enter(core);
	for (;;) {
		struct circuit *expired = NULL;
		struct list_node *pos;

		list_for_each (pos, &core->timed) {
			struct circuit *circ = list_entry(pos, struct circuit, tnode);

			if (circ->deadline_ms <= now) {
				expired = circ;
				break;
			}
		}
		if (expired == NULL)
			break;
		circ_kill(core, expired, CIRC_REASON_TIMEOUT, false, NULL, now);
	}
	circ_leave(core);
}

uint64_t
circ_core_next_deadline(const struct circ_core *core)
{
	uint64_t t = UINT64_MAX;
	const struct list_node *pos;

	for (pos = core->timed.next; pos != &core->timed; pos = pos->next) {
		const struct circuit *circ = list_entry_const(pos, struct circuit, tnode);

		if (circ->deadline_ms != 0 && circ->deadline_ms < t)
			t = circ->deadline_ms;
	}
	return t;
}

void
circ_core_stats(const struct circ_core *core, struct circ_core_stats *st)
{
	*st = core->st;
	st->circuits = core->n_circs;
	st->links = core->n_links;
	st->queued_cells = core->queued;
	st->stream_cells = core->stream_cells;
}

void
circ_core_relay_counts(const struct circ_core *core, struct circ_relay_counts *out)
{
	const struct list_node *pos;

	memset(out, 0, sizeof(*out));
	list_for_each (pos, &core->circs) {
		const struct circuit *circ = list_entry_const(pos, struct circuit, node);

		if (circ->cl != NULL || circ->state == CIRC_S_CLOSED)
			continue;
		if (circ->prev.link != NULL && !circ->prev.link->has_peer_id)
			out->entry++;
		else if (circ->next.link == NULL)
			out->exit++;
		else
			out->middle++;
	}
}
