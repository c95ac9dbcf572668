/* SPDX-License-Identifier: MIT */
/*
 * The link layer end to end over real TCP on 127.0.0.1: several link managers, each with its
 * own keys and identity, on one event loop in one process. Covered: a persistent XK peer
 * carrying 10,000 numbered cells each way; an anonymous NK link; a link paused before it
 * opens; backpressure through a forwarding node (A -> M -> B with B paused) with bounded write
 * queues and no cell lost; per-source and max_links admission limits against raw sockets;
 * handshake timeouts in both directions; keepalive padding, idle close (also after
 * link_mgr_set_config) and persistent links kept; a silent peer and protocol violations
 * from a raw peer that runs the NK handshake by hand (link_hs_*) over a plain socket; clean
 * close and graceful shutdown; the diagnostic bulk test; cells sent from on_open right
 * behind the XK handshake (one read at the responder, more than its handshake buffer).
 *
 * Every test drives the loop through run_until(): a poll timer checks a condition every
 * POLL_MS and a deadline stops the loop, so a bug fails an assertion instead of hanging. Not
 * covered here: the handshake's own failure cases (test_link_handshake.c) and rekeying.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "link/link.h"
#include "link/link_st.h"

enum {
	CERT_LIFETIME_S = 10 * 365 * 86400,
	POLL_MS = 5,
	MAX_NODES = 5,
	MAX_RAWS = 8,
	MAX_CLOSES = 16,
	WQ_MAX = 64 * 1024,
	N_CELLS = 10000,
	/* How far a write queue may go over write_queue_max: a forwarder that pauses its
	 * feeding link still forwards the records of the read it is in (one EV_TCP_CHUNK). */
	WQ_SLACK = EV_TCP_CHUNK + 4 * LINK_RECORD_LEN,
};

struct world;

struct close_ev {
	uint64_t link_id;
	int reason;
	bool inbound;
	bool was_open;
	uint64_t cells_rx;
	uint64_t life_ms;     /* loop time since the link was created */
	uint64_t open_for_ms; /* loop time since it opened (0 if it never did) */
};

struct node {
	struct world *w;
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	struct link_identity li;
	struct link_mgr *mgr;
	uint16_t port;
	char addr[EV_ADDR_STRLEN];
	unsigned n_open;
	struct link *last_open;
	struct close_ev closes[MAX_CLOSES];
	unsigned n_close;
	/* Receiver: every cell must carry the next sequence number (cell_make). */
	uint64_t rx_next;
	unsigned rx_bad;
	/* Producer: cells tx_next..tx_total-1 go to tx_link while it is not blocked. */
	struct link *tx_link;
	uint64_t tx_next, tx_total;
	bool tx_was_blocked;
	/* Forwarder: cells from fwd_in go to fwd_out (backpressure test). */
	struct link *fwd_in, *fwd_out;
	unsigned n_paused, n_resumed;
	/* on_close of any other link closes this one (closing links from inside on_close). */
	struct link *close_also;
	/* on_open of an outbound link: send cells 0..send_on_open-1 at once (a relay's CREATE2
	 * right behind the XK handshake's last message). */
	uint64_t send_on_open;
};

/* A plain socket: silent, or an NK initiator driven by hand through link_hs_*. */
struct raw {
	int fd;
	bool hs_active; /* handshaking: the poll timer pumps it */
	bool open;
	bool failed;
	bool watch_eof; /* the poll timer reads and discards, noting EOF or reset */
	bool eof;
	struct link_hs hs;
	struct link_rec rec;
	uint8_t in[LINK_HS_INBUF_MAX];
	size_t in_len;
	/* Flood: the poll timer sends flood_left records of command flood_cmd, never reading. */
	uint64_t flood_left;
	uint8_t flood_cmd;
	uint8_t flood_rec[LINK_RECORD_LEN];
	size_t flood_off; /* bytes of flood_rec already sent (LINK_RECORD_LEN: none pending) */
};

struct world {
	struct ev_loop *loop;
	struct node nodes[MAX_NODES];
	unsigned n_nodes;
	struct raw raws[MAX_RAWS];
	unsigned n_raws;
	struct ev_timer *poll;
	struct ev_timer *deadline;
	bool (*cond)(struct world *w);
	bool timed_out;
	/* wn_closed(): node wn has seen want closes. */
	struct node *wn;
	unsigned want;
	/* Backpressure test: the largest write queue seen on any link, and A's progress. */
	bool sample_queues;
	size_t wq_peak;
	uint64_t last_tx_next;
	uint64_t last_progress_ms;
};

/* ---- cells ---- */

static void
cell_make(struct cell *c, uint64_t seq)
{
	c->circ_id = (uint32_t)seq;
	c->cmd = CELL_RELAY;
	wire_store_u64(c->payload, seq);
	for (size_t i = 8; i < CELL_PAYLOAD_LEN; i++)
		c->payload[i] = (uint8_t)(seq * 31 + i);
}

static bool
cell_is(const struct cell *c, uint64_t seq)
{
	struct cell want;

	cell_make(&want, seq);
	return c->circ_id == want.circ_id && c->cmd == want.cmd &&
	       memcmp(c->payload, want.payload, CELL_PAYLOAD_LEN) == 0;
}

/* ---- write queue sampling ---- */

static void
peak_cb(void *arg, const struct link_info *info)
{
	struct world *w = arg;

	if (info->write_queue > w->wq_peak)
		w->wq_peak = info->write_queue;
}

static void
sample_queues(struct world *w)
{
	for (unsigned i = 0; i < w->n_nodes; i++)
		link_mgr_foreach(w->nodes[i].mgr, peak_cb, w);
}

/* ---- link callbacks ---- */

static void
produce(struct node *n)
{
	struct cell c;

	while (n->tx_link != NULL && n->tx_next < n->tx_total) {
		if (link_is_blocked(n->tx_link)) {
			n->tx_was_blocked = true;
			return;
		}
		cell_make(&c, n->tx_next);
		if (link_send_cell(n->tx_link, &c) != UM_OK) {
			n->rx_bad++;
			return;
		}
		n->tx_next++;
	}
}

static void
on_open(void *arg, struct link *l)
{
	struct node *n = arg;

	n->n_open++;
	n->last_open = l;
	if (n->send_on_open > 0 && !link_is_inbound(l)) {
		n->tx_link = l;
		n->tx_total = n->send_on_open;
		produce(n);
	}
}

static void
on_cell(void *arg, struct link *l, const struct cell *c)
{
	struct node *n = arg;

	if (l == n->fwd_in && n->fwd_out != NULL) {
		if (link_send_cell(n->fwd_out, c) != UM_OK)
			n->rx_bad++;
		if (n->w->sample_queues)
			link_mgr_foreach(n->mgr, peak_cb, n->w);
		/* The outgoing link is full: stop taking cells from the one that feeds it. */
		if (link_is_blocked(n->fwd_out) && !l->read_paused) {
			link_pause_reading(l);
			n->n_paused++;
		}
		return;
	}
	if (!cell_is(c, n->rx_next))
		n->rx_bad++;
	n->rx_next++;
}

static void
on_close(void *arg, struct link *l, int reason)
{
	struct node *n = arg;

	if (n->n_close < MAX_CLOSES) {
		struct close_ev *e = &n->closes[n->n_close];
		uint64_t now = ev_now_ms(n->w->loop);

		e->link_id = link_id(l);
		e->life_ms = now - l->start_ms;
		e->open_for_ms = l->open_ms != 0 ? now - l->open_ms : 0;
		e->reason = reason;
		e->inbound = l->inbound;
		e->was_open = l->open_ms != 0;
		e->cells_rx = l->cells_rx;
	}
	n->n_close++;
	if (l == n->tx_link)
		n->tx_link = NULL;
	if (l == n->fwd_in)
		n->fwd_in = NULL;
	if (l == n->fwd_out)
		n->fwd_out = NULL;
	if (l == n->last_open)
		n->last_open = NULL;
	if (n->close_also != NULL && l != n->close_also) {
		struct link *o = n->close_also;

		n->close_also = NULL;
		link_close(o, LINK_CLOSE_LOCAL);
	} else if (l == n->close_also) {
		n->close_also = NULL;
	}
}

static void
on_drain(void *arg, struct link *l)
{
	struct node *n = arg;

	if (l == n->fwd_out && n->fwd_in != NULL && n->fwd_in->read_paused && !link_is_blocked(l)) {
		link_resume_reading(n->fwd_in);
		n->n_resumed++;
	}
	if (l == n->tx_link)
		produce(n);
}

/* ---- raw sockets ---- */

static int
raw_socket_connect(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Blocking: on loopback the kernel completes it from the listen backlog, loop or not. */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	return fd;
}

static struct raw *
raw_new(struct world *w, uint16_t port)
{
	struct raw *r;

	assert_true(w->n_raws < MAX_RAWS);
	r = &w->raws[w->n_raws++];
	memset(r, 0, sizeof(*r));
	r->fd = raw_socket_connect(port);
	r->flood_off = LINK_RECORD_LEN;
	return r;
}

static void
raw_send(struct raw *r, const void *p, size_t len)
{
	assert_int_equal(send(r->fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Start an anonymous NK handshake with node n (the poll timer pumps the rest). */
static struct raw *
raw_new_nk(struct world *w, const struct node *n)
{
	struct raw *r = raw_new(w, n->port);
	uint8_t out[LINK_HS_OUT_MAX];
	size_t out_len = 0;

	assert_int_equal(
	        link_hs_init_initiator(&r->hs, LINK_PATTERN_NK, NULL, n->lk.pk, n->id.pk, NULL),
	        UM_OK);
	assert_int_equal(link_hs_start(&r->hs, out, sizeof(out), &out_len), UM_OK);
	raw_send(r, out, out_len);
	r->hs_active = true;
	return r;
}

static void
raw_hs_pump(struct raw *r)
{
	uint8_t out[LINK_HS_OUT_MAX];
	size_t consumed = 0, out_len = 0;
	struct noise_cs send_cs, recv_cs;
	ssize_t got;

	got = recv(r->fd, r->in + r->in_len, sizeof(r->in) - r->in_len, MSG_DONTWAIT);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (got <= 0) {
		r->failed = true;
		r->hs_active = false;
		return;
	}
	r->in_len += (size_t)got;
	if (link_hs_input(&r->hs, r->in, r->in_len, &consumed, out, sizeof(out), &out_len,
	                  um_wall_s()) != UM_OK) {
		r->failed = true;
		r->hs_active = false;
		return;
	}
	memmove(r->in, r->in + consumed, r->in_len - consumed);
	r->in_len -= consumed;
	if (out_len > 0)
		raw_send(r, out, out_len);
	if (!link_hs_is_done(&r->hs))
		return;
	if (link_hs_split(&r->hs, &send_cs, &recv_cs) != UM_OK) {
		r->failed = true;
		r->hs_active = false;
		return;
	}
	link_rec_init(&r->rec, &send_cs, &recv_cs);
	r->hs_active = false;
	r->open = true;
}

/* Read and discard what is there; note an EOF or a reset. */
static void
raw_check_eof(struct raw *r)
{
	uint8_t buf[4096];
	ssize_t got;

	while (!r->eof) {
		got = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got > 0)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (got < 0 && errno == EINTR)
			continue;
		r->eof = true; /* 0: FIN; ECONNRESET: reset */
	}
}

/* Seal one cell as a record with the raw peer's transport keys and send it. */
static void
raw_send_cell(struct raw *r, uint8_t cmd, uint64_t seq, size_t flip_byte)
{
	struct cell c;
	uint8_t raw_cell[CELL_LEN], rec[LINK_RECORD_LEN];

	assert_true(r->open);
	cell_make(&c, seq);
	c.cmd = cmd;
	cell_encode(&c, raw_cell);
	assert_int_equal(link_rec_seal(&r->rec, raw_cell, rec), UM_OK);
	if (flip_byte < sizeof(rec))
		rec[flip_byte] ^= 0x04;
	raw_send(r, rec, sizeof(rec));
}

/* Send flood records as fast as the socket takes them (nonblocking); stop at a reset. */
static void
raw_flood_pump(struct raw *r)
{
	struct cell c;
	uint8_t raw_cell[CELL_LEN];
	ssize_t n;

	while (r->flood_left > 0 || r->flood_off < LINK_RECORD_LEN) {
		if (r->flood_off == LINK_RECORD_LEN) {
			cell_make(&c, r->flood_left);
			c.cmd = r->flood_cmd;
			cell_encode(&c, raw_cell);
			assert_int_equal(link_rec_seal(&r->rec, raw_cell, r->flood_rec), UM_OK);
			r->flood_off = 0;
			r->flood_left--;
		}
		n = send(r->fd, r->flood_rec + r->flood_off, LINK_RECORD_LEN - r->flood_off,
		         MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			r->eof = true;
			r->flood_left = 0;
			r->flood_off = LINK_RECORD_LEN;
			return;
		}
		r->flood_off += (size_t)n;
	}
}

/* ---- the loop ---- */

static void
poll_cb(void *arg)
{
	struct world *w = arg;
	struct node *a = &w->nodes[0];

	for (unsigned i = 0; i < w->n_raws; i++) {
		struct raw *r = &w->raws[i];

		if (r->hs_active)
			raw_hs_pump(r);
		else if (r->open && r->flood_left > 0 && !r->eof)
			raw_flood_pump(r);
		else if (r->watch_eof)
			raw_check_eof(r);
	}
	if (w->sample_queues) {
		sample_queues(w);
		if (a->tx_next != w->last_tx_next) {
			w->last_tx_next = a->tx_next;
			w->last_progress_ms = um_mono_ms();
		}
	}
	if (w->cond(w))
		ev_loop_stop(w->loop);
}

static void
deadline_cb(void *arg)
{
	struct world *w = arg;

	w->timed_out = true;
	ev_loop_stop(w->loop);
}

/* Run the loop until cond holds (checked every POLL_MS) or timeout_ms pass. */
static bool
run_until(struct world *w, bool (*cond)(struct world *w), uint64_t timeout_ms)
{
	w->cond = cond;
	w->timed_out = false;
	ev_update_time(w->loop);
	ev_timer_start(w->poll, POLL_MS, POLL_MS);
	ev_timer_start(w->deadline, timeout_ms, 0);
	assert_int_equal(ev_loop_run(w->loop), UM_OK);
	ev_timer_stop(w->poll);
	ev_timer_stop(w->deadline);
	return cond(w);
}

static bool
never(struct world *w)
{
	(void)w;
	return false;
}

static void
run_for(struct world *w, uint64_t ms)
{
	(void)run_until(w, never, ms);
}

/* ---- nodes and fixtures ---- */

static struct link_mgr_config
cfg_default(void)
{
	struct link_mgr_config c = {
		.max_links = 64,
		.max_pending = 64,
		.max_pending_per_ip = 16,
		.handshake_timeout_ms = 2000,
		.keepalive_ms = 10000,
		.idle_timeout_ms = 60000,
		.reconnect_ms = 100,
		.write_queue_max = WQ_MAX,
		.accept_known_only = false,
		.accept = LINK_ACCEPT_XK | LINK_ACCEPT_NK,
	};

	return c;
}

static struct node *
node_add(struct world *w, const struct link_mgr_config *cfg, bool listen)
{
	struct node *n;
	struct link_callbacks cb = {
		.on_open = on_open,
		.on_cell = on_cell,
		.on_close = on_close,
		.on_drain = on_drain,
	};

	assert_true(w->n_nodes < MAX_NODES);
	n = &w->nodes[w->n_nodes++];
	n->w = w;
	keys_ed25519_generate(&n->id);
	keys_x25519_generate(&n->lk);
	link_identity_init(&n->li, &n->id, &n->lk, um_wall_s() + CERT_LIFETIME_S);
	cb.arg = n;
	n->mgr = link_mgr_new(w->loop, &n->li, cfg, &cb);
	if (listen) {
		assert_int_equal(link_mgr_listen(n->mgr, "127.0.0.1:0", &n->port), UM_OK);
		assert_true(n->port != 0);
		snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%u", (unsigned)n->port);
	}
	return n;
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	w->loop = ev_loop_new();
	w->poll = ev_timer_new(w->loop, poll_cb, w);
	w->deadline = ev_timer_new(w->loop, deadline_cb, w);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	for (unsigned i = 0; i < w->n_nodes; i++)
		link_mgr_free(w->nodes[i].mgr);
	for (unsigned i = 0; i < w->n_nodes; i++) {
		keys_ed25519_clear(&w->nodes[i].id);
		keys_x25519_clear(&w->nodes[i].lk);
	}
	for (unsigned i = 0; i < w->n_raws; i++) {
		link_hs_clear(&w->raws[i].hs);
		link_rec_clear(&w->raws[i].rec);
		close(w->raws[i].fd);
	}
	ev_timer_free(w->poll);
	ev_timer_free(w->deadline);
	ev_loop_free(w->loop);
	free(w);
	return 0;
}

/* ---- info helpers ---- */

struct info_list {
	unsigned n;
	struct link_info v[8];
};

static void
info_collect_cb(void *arg, const struct link_info *info)
{
	struct info_list *il = arg;

	if (il->n < UM_ARRAY_LEN(il->v))
		il->v[il->n] = *info;
	il->n++;
}

static unsigned
infos(struct node *n, struct info_list *il)
{
	memset(il, 0, sizeof(*il));
	link_mgr_foreach(n->mgr, info_collect_cb, il);
	return il->n;
}

static struct link_mgr_stats
stats(const struct node *n)
{
	struct link_mgr_stats st;

	link_mgr_stats(n->mgr, &st);
	return st;
}

/* ---- conditions (node 0 is A, 1 is B, 2 is M or C, ...) ---- */

static bool
ab_open(struct world *w)
{
	return w->nodes[0].n_open >= 1 && w->nodes[1].n_open >= 1;
}

static bool
ab_closed(struct world *w)
{
	return w->nodes[0].n_close >= 1 && w->nodes[1].n_close >= 1;
}

static bool
wn_closed(struct world *w)
{
	return w->wn->n_close >= w->want;
}

static bool
ab_received_all(struct world *w)
{
	return w->nodes[0].rx_next >= w->nodes[1].tx_total &&
	       w->nodes[1].rx_next >= w->nodes[0].tx_total;
}

/* ---- 1. persistent XK peer ---- */

static void
test_link_xk_peer_carries_cells_in_order_both_ways(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a = node_add(w, &cfg, false);
	struct node *b = node_add(w, &cfg, true);
	struct info_list il;
	struct link *la, *lb;

	assert_int_equal(link_mgr_add_peer(a->mgr, b->id.pk, b->lk.pk, b->addr), UM_OK);
	assert_true(run_until(w, ab_open, 3000));
	assert_int_equal(a->n_open, 1);
	assert_int_equal(b->n_open, 1);

	la = link_mgr_find(a->mgr, b->id.pk);
	lb = link_mgr_find(b->mgr, a->id.pk);
	assert_non_null(la);
	assert_non_null(lb);
	assert_ptr_equal(la, a->last_open);
	assert_ptr_equal(lb, b->last_open);
	assert_null(link_mgr_find(a->mgr, a->id.pk));

	assert_int_equal(infos(a, &il), 1);
	assert_false(il.v[0].inbound);
	assert_true(il.v[0].persistent);
	assert_int_equal(il.v[0].pattern, LINK_PATTERN_XK);
	assert_string_equal(il.v[0].state, "open");
	assert_true(il.v[0].peer_identified);
	assert_memory_equal(il.v[0].peer_id, b->id.pk, LINK_ID_LEN);
	assert_true(il.v[0].reading);
	assert_int_equal(infos(b, &il), 1);
	assert_true(il.v[0].inbound);
	assert_false(il.v[0].persistent);
	assert_int_equal(il.v[0].pattern, LINK_PATTERN_XK);
	assert_true(il.v[0].peer_identified);
	assert_memory_equal(il.v[0].peer_id, a->id.pk, LINK_ID_LEN);
	assert_int_equal(stats(a).handshakes_ok, 1);
	assert_int_equal(stats(b).handshakes_ok, 1);
	assert_int_equal(stats(b).accepted, 1);

	a->tx_link = la;
	a->tx_total = N_CELLS;
	b->tx_link = lb;
	b->tx_total = N_CELLS;
	produce(a);
	produce(b);
	assert_true(run_until(w, ab_received_all, 10000));
	assert_int_equal(a->tx_next, N_CELLS);
	assert_int_equal(b->tx_next, N_CELLS);
	assert_int_equal(a->rx_next, N_CELLS);
	assert_int_equal(b->rx_next, N_CELLS);
	assert_int_equal(a->rx_bad, 0);
	assert_int_equal(b->rx_bad, 0);
	assert_int_equal(a->n_close, 0);
	assert_int_equal(b->n_close, 0);
	assert_int_equal(infos(a, &il), 1);
	assert_true(il.v[0].cells_tx >= N_CELLS);
	assert_true(il.v[0].cells_rx >= N_CELLS);
}

/* ---- 2. anonymous NK link ---- */

static bool
ab_open_c_closed(struct world *w)
{
	return ab_open(w) && w->nodes[0].n_close >= 1;
}

static void
test_link_nk_responder_does_not_identify_initiator(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct link_mgr_config xk_only = cfg_default();
	struct node *a = node_add(w, &cfg, false);
	struct node *b = node_add(w, &cfg, true);
	struct node *c;
	struct info_list il;
	struct link *l = NULL;

	xk_only.accept = LINK_ACCEPT_XK;
	c = node_add(w, &xk_only, true);
	assert_int_equal(link_mgr_connect(a->mgr, LINK_PATTERN_NK, b->id.pk, b->lk.pk, b->addr, &l),
	                 UM_OK);
	assert_non_null(l);
	/* A responder that takes only XK refuses the same NK dial. */
	assert_int_equal(link_mgr_connect(a->mgr, LINK_PATTERN_NK, NULL, c->lk.pk, c->addr, NULL),
	                 UM_OK);
	assert_true(run_until(w, ab_open_c_closed, 3000));
	assert_ptr_equal(a->last_open, l);

	assert_int_equal(infos(b, &il), 1);
	assert_true(il.v[0].inbound);
	assert_int_equal(il.v[0].pattern, LINK_PATTERN_NK);
	assert_string_equal(il.v[0].state, "open");
	assert_false(il.v[0].peer_identified);
	assert_null(link_mgr_find(b->mgr, a->id.pk));
	/* The initiator did authenticate the responder. */
	assert_int_equal(infos(a, &il), 1);
	assert_int_equal(il.v[0].pattern, LINK_PATTERN_NK);
	assert_true(il.v[0].peer_identified);
	assert_memory_equal(il.v[0].peer_id, b->id.pk, LINK_ID_LEN);
	assert_ptr_equal(link_mgr_find(a->mgr, b->id.pk), l);

	assert_int_equal(a->n_close, 1);
	assert_false(a->closes[0].was_open);
	assert_int_equal(c->n_open, 0);
	assert_int_equal(stats(c).handshakes_failed, 1);
	assert_int_equal(stats(c).links, 0);

	/* Cells flow both ways on an anonymous link. */
	a->tx_link = l;
	a->tx_total = 500;
	b->tx_link = b->last_open;
	b->tx_total = 500;
	produce(a);
	produce(b);
	assert_true(run_until(w, ab_received_all, 5000));
	assert_int_equal(a->rx_bad, 0);
	assert_int_equal(b->rx_bad, 0);
}

/* Cells sent from on_open on an outbound XK link travel with the handshake's last message
 * (one TCP read at the responder); none may be lost or break record authentication. */
static bool
b_received_100(struct world *w)
{
	return w->nodes[1].rx_next >= 100 || w->nodes[1].n_close > 0;
}

static void
test_link_cells_sent_from_on_open_arrive(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a = node_add(w, &cfg, false);
	struct node *b = node_add(w, &cfg, true);
	uint8_t id[LINK_ID_LEN];
	struct link *l = NULL;

	a->send_on_open = 100;
	assert_int_equal(link_mgr_connect(a->mgr, LINK_PATTERN_XK, b->id.pk, b->lk.pk, b->addr, &l),
	                 UM_OK);
	assert_true(run_until(w, b_received_100, 3000));
	assert_int_equal(b->n_close, 0);
	assert_int_equal(b->rx_next, 100);
	assert_int_equal(b->rx_bad, 0);
	/* The accessors the circuit glue uses. */
	assert_false(link_is_inbound(l));
	assert_true(link_peer_id(l, id));
	assert_memory_equal(id, b->id.pk, LINK_ID_LEN);
	assert_non_null(b->last_open);
	assert_true(link_is_inbound(b->last_open));
	assert_true(link_peer_id(b->last_open, id));
	assert_memory_equal(id, a->id.pk, LINK_ID_LEN);
}

/* A link paused before it opens (the handshake still reads) opens paused. */
static void
test_link_pause_before_open_holds_cells_until_resume(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a = node_add(w, &cfg, false);
	struct node *b = node_add(w, &cfg, true);
	struct info_list il;
	struct link *l = NULL;

	assert_int_equal(link_mgr_connect(a->mgr, LINK_PATTERN_XK, b->id.pk, b->lk.pk, b->addr, &l),
	                 UM_OK);
	link_pause_reading(l);
	assert_true(run_until(w, ab_open, 3000));
	assert_int_equal(infos(a, &il), 1);
	assert_false(il.v[0].reading);
	b->tx_link = b->last_open;
	b->tx_total = 100;
	produce(b);
	run_for(w, 200);
	assert_int_equal(a->rx_next, 0);
	link_resume_reading(l);
	assert_true(run_until(w, ab_received_all, 3000));
	assert_int_equal(a->rx_next, 100);
	assert_int_equal(a->rx_bad, 0);
}

/* ---- 3. backpressure through a forwarding node ---- */

static bool
three_open(struct world *w)
{
	/* A: 1 link (to M); M: 2 (from A, to B); B: 1 (from M). */
	return w->nodes[0].n_open >= 1 && w->nodes[1].n_open >= 1 && w->nodes[2].n_open >= 2;
}

/* A is blocked, M has stopped reading A, and A has made no progress for 300 ms. */
static bool
a_stalled(struct world *w)
{
	struct node *a = &w->nodes[0], *m = &w->nodes[2];

	return a->tx_link != NULL && link_is_blocked(a->tx_link) && m->fwd_in != NULL &&
	       m->fwd_in->read_paused && um_mono_ms() - w->last_progress_ms >= 300;
}

static bool
b_got_everything(struct world *w)
{
	struct node *a = &w->nodes[0], *b = &w->nodes[1];

	return a->tx_next == a->tx_total && b->rx_next >= a->tx_total;
}

static void
test_link_backpressure_through_forwarder_loses_nothing(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a, *b, *m;
	struct link *b_link;
	struct info_list il;

	/* Short keepalives: the paused links stay up through several silence periods. */
	cfg.keepalive_ms = 200;
	a = node_add(w, &cfg, false);
	b = node_add(w, &cfg, true);
	m = node_add(w, &cfg, true);
	assert_int_equal(
	        link_mgr_connect(a->mgr, LINK_PATTERN_XK, m->id.pk, m->lk.pk, m->addr, &a->tx_link),
	        UM_OK);
	assert_int_equal(
	        link_mgr_connect(m->mgr, LINK_PATTERN_XK, b->id.pk, b->lk.pk, b->addr, &m->fwd_out),
	        UM_OK);
	assert_true(run_until(w, three_open, 3000));
	m->fwd_in = link_mgr_find(m->mgr, a->id.pk);
	assert_non_null(m->fwd_in);
	b_link = link_mgr_find(b->mgr, m->id.pk);
	assert_ptr_equal(b_link, b->last_open);

	/* B is a slow consumer: it stops reading. A produces as fast as it is allowed. */
	link_pause_reading(b_link);
	w->sample_queues = true;
	w->last_progress_ms = um_mono_ms();
	a->tx_total = UINT64_MAX;
	produce(a);
	assert_true(run_until(w, a_stalled, 15000));
	assert_true(a->tx_was_blocked);
	assert_true(m->n_paused >= 1);
	assert_int_equal(b->rx_next, 0);
	assert_int_equal(infos(a, &il), 1);
	assert_true(il.v[0].write_queue > WQ_MAX);
	assert_true(link_is_blocked(m->fwd_out));
	assert_int_equal(infos(b, &il), 1);
	assert_false(il.v[0].reading);
	/* Let the stall last a few silence periods (3 x keepalive): nobody gives up. */
	run_for(w, 1000);
	assert_int_equal(b->rx_next, 0);
	assert_int_equal(a->n_close + b->n_close + m->n_close, 0);
	print_message("backpressure: %llu cells in flight when A stalled, peak write queue %zu\n",
	              (unsigned long long)a->tx_next, w->wq_peak);

	/* B catches up; A finishes 2000 more cells from on_drain. */
	a->tx_total = a->tx_next + 2000;
	link_resume_reading(b_link);
	assert_true(run_until(w, b_got_everything, 20000));
	assert_int_equal(b->rx_next, a->tx_total);
	assert_int_equal(b->rx_bad, 0);
	assert_int_equal(m->rx_bad, 0);
	assert_true(m->n_resumed >= 1);
	assert_int_equal(a->n_close + b->n_close + m->n_close, 0);
	/* Memory stayed bounded the whole time. */
	assert_true(w->wq_peak > WQ_MAX);
	assert_true(w->wq_peak <= WQ_MAX + WQ_SLACK);
}

/* ---- 4. admission limits ---- */

static bool
accepted_5(struct world *w)
{
	return stats(&w->nodes[0]).accepted >= 5;
}

static unsigned
raws_at_eof(struct world *w)
{
	unsigned k = 0;

	for (unsigned i = 0; i < w->n_raws; i++)
		k += w->raws[i].eof;
	return k;
}

static bool
two_raws_eof(struct world *w)
{
	return raws_at_eof(w) >= 2;
}

static bool
all_raws_eof(struct world *w)
{
	return raws_at_eof(w) == w->n_raws;
}

static bool
lp_open(struct world *w)
{
	return w->nodes[0].n_open >= 1 && w->nodes[1].n_open >= 1;
}

static void
test_link_pending_per_ip_limit_then_timeout(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct link_mgr_stats st;
	struct node *l, *p;
	uint64_t t0;

	cfg.max_pending_per_ip = 3;
	cfg.handshake_timeout_ms = 300;
	l = node_add(w, &cfg, true);
	cfg = cfg_default();
	p = node_add(w, &cfg, false);
	for (int i = 0; i < 5; i++)
		raw_new(w, l->port)->watch_eof = true;
	t0 = um_mono_ms();
	assert_true(run_until(w, accepted_5, 2000));
	st = stats(l);
	assert_int_equal(st.refused_limit, 2);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.links, 3);
	/* The refused sockets are closed at once; the others wait for a handshake. */
	assert_true(run_until(w, two_raws_eof, 2000));
	run_for(w, 20);
	assert_int_equal(raws_at_eof(w), 2);

	/* Nothing arrives: the three pending handshakes time out and are closed. */
	assert_true(run_until(w, all_raws_eof, 3000));
	assert_true(um_mono_ms() - t0 >= 300);
	st = stats(l);
	assert_int_equal(st.handshakes_failed, 3);
	assert_int_equal(st.links, 0);
	assert_int_equal(l->n_close, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(l->closes[i].reason, LINK_CLOSE_HS_TIMEOUT);

	/* The same address may try again now, and a real peer gets through. */
	assert_int_equal(
	        link_mgr_connect(p->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, l->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, lp_open, 3000));
	st = stats(l);
	assert_int_equal(st.open, 1);
	assert_int_equal(st.refused_limit, 2);
	assert_int_equal(st.handshakes_ok, 1);
}

static bool
max_links_two_open(struct world *w)
{
	return w->nodes[0].n_open >= 2 && w->nodes[1].n_open >= 1 && w->nodes[2].n_open >= 1;
}

static bool
third_closed(struct world *w)
{
	return w->nodes[3].n_close >= 1;
}

static bool
third_open(struct world *w)
{
	return w->nodes[3].n_open >= 1 && w->nodes[0].n_open >= 3;
}

static void
test_link_max_links_refuses_extra(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *l, *p1, *p2, *p3;
	struct link_mgr_stats st;
	struct link *out = NULL;

	cfg.max_links = 2;
	l = node_add(w, &cfg, true);
	cfg = cfg_default();
	p1 = node_add(w, &cfg, true);
	p2 = node_add(w, &cfg, false);
	p3 = node_add(w, &cfg, false);
	assert_int_equal(
	        link_mgr_connect(p1->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, l->addr, NULL),
	        UM_OK);
	assert_int_equal(
	        link_mgr_connect(p2->mgr, LINK_PATTERN_NK, l->id.pk, l->lk.pk, l->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, max_links_two_open, 3000));
	/* Full: our own dial is refused, and so is the next inbound link. */
	assert_int_equal(
	        link_mgr_connect(l->mgr, LINK_PATTERN_XK, p1->id.pk, p1->lk.pk, p1->addr, &out),
	        UM_ERR_RATELIMIT);
	assert_null(out);
	assert_int_equal(
	        link_mgr_connect(p3->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, l->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, third_closed, 3000));
	assert_true(p3->closes[0].reason == LINK_CLOSE_EOF ||
	            p3->closes[0].reason == LINK_CLOSE_NET);
	assert_false(p3->closes[0].was_open);
	st = stats(l);
	assert_int_equal(st.refused_limit, 1);
	assert_int_equal(st.open, 2);
	assert_int_equal(l->n_close, 0);

	/* A slot frees up: the next attempt gets in. */
	link_close(link_mgr_find(l->mgr, p1->id.pk), LINK_CLOSE_LOCAL);
	assert_int_equal(link_mgr_count(l->mgr), 2); /* closing: still counts */
	w->wn = l;
	w->want = 1;
	assert_true(run_until(w, wn_closed, 3000));
	assert_int_equal(l->closes[0].reason, LINK_CLOSE_LOCAL);
	assert_int_equal(link_mgr_count(l->mgr), 1);
	assert_int_equal(
	        link_mgr_connect(p3->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, l->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, third_open, 3000));
	assert_int_equal(stats(l).refused_limit, 1);
}

/* ---- 5. handshake timeout ---- */

static bool
node0_closed(struct world *w)
{
	return w->nodes[0].n_close >= 1;
}

static bool
node0_closed_raw_eof(struct world *w)
{
	return node0_closed(w) && all_raws_eof(w);
}

static void
test_link_handshake_timeout_closes_silent_connection(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct sockaddr_in sa;
	socklen_t sa_len = sizeof(sa);
	char addr[EV_ADDR_STRLEN];
	struct node *l, *a;
	int lfd;

	cfg.handshake_timeout_ms = 300;
	l = node_add(w, &cfg, true);
	a = node_add(w, &cfg, false);

	/* Inbound: a TCP connection that never says a word. */
	raw_new(w, l->port)->watch_eof = true;
	assert_true(run_until(w, node0_closed_raw_eof, 3000));
	assert_true(l->closes[0].life_ms >= 300 && l->closes[0].life_ms < 1000);
	assert_int_equal(l->closes[0].reason, LINK_CLOSE_HS_TIMEOUT);
	assert_true(l->closes[0].inbound);
	assert_int_equal(stats(l).handshakes_failed, 1);
	assert_int_equal(stats(l).links, 0);
	assert_int_equal(l->n_open, 0);

	/* Outbound: a listener that accepts TCP (backlog) and never answers msg1. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sa_len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	w->wn = a;
	w->want = 1;
	assert_int_equal(link_mgr_connect(a->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, addr, NULL),
	                 UM_OK);
	assert_true(run_until(w, wn_closed, 3000));
	assert_true(a->closes[0].life_ms >= 300 && a->closes[0].life_ms < 1000);
	assert_int_equal(a->closes[0].reason, LINK_CLOSE_HS_TIMEOUT);
	assert_false(a->closes[0].inbound);
	assert_int_equal(stats(a).handshakes_failed, 1);
	assert_int_equal(link_mgr_count(a->mgr), 0);
	close(lfd);
}

/* ---- 6. keepalive and idle ---- */

static void
test_link_idle_close_after_padding_only(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a, *b;
	cfg.keepalive_ms = 200;
	cfg.idle_timeout_ms = 1000;
	a = node_add(w, &cfg, false);
	/* B waits longer, so which side closes for idleness is deterministic. */
	cfg.idle_timeout_ms = 3000;
	b = node_add(w, &cfg, true);
	assert_int_equal(
	        link_mgr_connect(a->mgr, LINK_PATTERN_XK, b->id.pk, b->lk.pk, b->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, ab_open, 3000));
	assert_true(run_until(w, ab_closed, 4000));
	assert_int_equal(a->n_close, 1);
	assert_int_equal(b->n_close, 1);
	assert_int_equal(a->closes[0].reason, LINK_CLOSE_IDLE);
	assert_int_equal(b->closes[0].reason, LINK_CLOSE_PEER);
	assert_true(a->closes[0].open_for_ms >= 1000 && a->closes[0].open_for_ms < 1500);
	/* Nothing but padding flowed, and it flowed both ways (about every 200 ms). */
	assert_true(a->closes[0].cells_rx >= 3);
	assert_true(b->closes[0].cells_rx >= 3);
	assert_int_equal(a->rx_next + b->rx_next, 0);
	assert_int_equal(link_mgr_count(a->mgr), 0);
	assert_int_equal(link_mgr_count(b->mgr), 0);
}

/* New limits apply to running links, and the tick follows the new keepalive. */
static void
test_link_set_config_applies_to_open_links(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a, *b;

	/* Long timeouts at first: the manager ticks once a second. */
	cfg.handshake_timeout_ms = 5000;
	a = node_add(w, &cfg, false);
	b = node_add(w, &cfg, true);
	assert_int_equal(
	        link_mgr_connect(a->mgr, LINK_PATTERN_XK, b->id.pk, b->lk.pk, b->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, ab_open, 3000));
	cfg.keepalive_ms = 200;
	cfg.idle_timeout_ms = 3000;
	link_mgr_set_config(b->mgr, &cfg);
	cfg.idle_timeout_ms = 1000;
	link_mgr_set_config(a->mgr, &cfg);
	assert_true(run_until(w, ab_closed, 4000));
	assert_int_equal(a->closes[0].reason, LINK_CLOSE_IDLE);
	assert_int_equal(b->closes[0].reason, LINK_CLOSE_PEER);
	assert_true(a->closes[0].open_for_ms >= 1000 && a->closes[0].open_for_ms < 1500);
	assert_true(a->closes[0].cells_rx >= 3);
}

struct min_rx {
	unsigned n_open;
	uint64_t min_rx;
};

static void
min_rx_cb(void *arg, const struct link_info *info)
{
	struct min_rx *m = arg;

	if (strcmp(info->state, "open") == 0)
		m->n_open++;
	if (info->cells_rx < m->min_rx)
		m->min_rx = info->cells_rx;
}

static bool
cd_two_links_each(struct world *w)
{
	return w->nodes[0].n_open >= 2 && w->nodes[1].n_open >= 2;
}

static void
test_link_persistent_peer_never_idle(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *c, *d;
	struct min_rx mr;

	cfg.keepalive_ms = 200;
	cfg.idle_timeout_ms = 1000;
	c = node_add(w, &cfg, true);
	d = node_add(w, &cfg, true);
	/* Each configures the other: C's link to D and D's to C, both persistent at the dialer
	 * and from a known peer at the listener. */
	assert_int_equal(link_mgr_add_peer(c->mgr, d->id.pk, d->lk.pk, d->addr), UM_OK);
	assert_int_equal(link_mgr_add_peer(d->mgr, c->id.pk, c->lk.pk, c->addr), UM_OK);
	assert_true(run_until(w, cd_two_links_each, 3000));
	run_for(w, 2500);
	assert_int_equal(c->n_close, 0);
	assert_int_equal(d->n_close, 0);
	for (unsigned i = 0; i < 2; i++) {
		mr.n_open = 0;
		mr.min_rx = UINT64_MAX;
		link_mgr_foreach(w->nodes[i].mgr, min_rx_cb, &mr);
		assert_int_equal(mr.n_open, 2);
		assert_true(mr.min_rx >= 8); /* padding, ~2.5 s at one per 200-250 ms */
	}
}

/* ---- 7. silent peer ---- */

static bool
raw0_open_lp_open(struct world *w)
{
	return w->raws[0].open && lp_open(w);
}

static void
test_link_silent_peer_closed_after_three_keepalives(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *l, *p;
	struct raw *r;

	cfg.keepalive_ms = 200;
	l = node_add(w, &cfg, true);
	p = node_add(w, &cfg, false);
	/* A real link over the same period stays up: its peer sends padding. */
	assert_int_equal(
	        link_mgr_connect(p->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, l->addr, NULL),
	        UM_OK);
	r = raw_new_nk(w, l);
	assert_true(run_until(w, raw0_open_lp_open, 3000));
	assert_false(r->failed);
	assert_int_equal(l->n_open, 2);
	/* From here the raw peer neither reads nor writes. */
	assert_true(run_until(w, node0_closed, 3000));
	assert_int_equal(l->n_close, 1);
	assert_int_equal(l->closes[0].reason, LINK_CLOSE_SILENT);
	assert_true(l->closes[0].inbound);
	assert_true(l->closes[0].was_open);
	assert_true(l->closes[0].open_for_ms >= 3 * 200 && l->closes[0].open_for_ms < 1000);
	/* The raw peer finds padding, then EOF. */
	r->watch_eof = true;
	assert_true(run_until(w, all_raws_eof, 2000));
	run_for(w, 500);
	assert_int_equal(l->n_close, 1);
	assert_int_equal(p->n_close, 0);
	assert_int_equal(stats(l).open, 1);
}

/* ---- 8. protocol violations close only the offending link ---- */

static bool
l_got_one_cell(struct world *w)
{
	return w->nodes[0].rx_next >= 1;
}

static bool
raw_ok_pl_open(struct world *w)
{
	for (unsigned i = 0; i < w->n_raws; i++)
		if (!w->raws[i].open)
			return false;
	return lp_open(w);
}

static bool
l_closed_2(struct world *w)
{
	return w->nodes[0].n_close >= 2 && all_raws_eof(w);
}

static void
test_link_protocol_violation_closes_only_that_link(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct link_mgr_stats st;
	struct node *l, *p;
	struct raw *r1, *r2;
	int reasons = 0;

	l = node_add(w, &cfg, true);
	p = node_add(w, &cfg, false);
	assert_int_equal(
	        link_mgr_connect(p->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, l->addr, &p->tx_link),
	        UM_OK);
	r1 = raw_new_nk(w, l);
	r2 = raw_new_nk(w, l);
	assert_true(run_until(w, raw_ok_pl_open, 3000));
	assert_int_equal(l->n_open, 3);

	/* The hand-made records are good: a valid cell is delivered. */
	raw_send_cell(r1, CELL_RELAY, 0, SIZE_MAX);
	assert_true(run_until(w, l_got_one_cell, 2000));
	assert_int_equal(l->rx_bad, 0);
	/* r1: an authentic record with an unknown link command; r2: a flipped bit. */
	raw_send_cell(r1, 250, 1, SIZE_MAX);
	raw_send_cell(r2, CELL_RELAY, 1, 100);
	r1->watch_eof = true;
	r2->watch_eof = true;
	assert_true(run_until(w, l_closed_2, 2000));
	for (unsigned i = 0; i < 2; i++)
		reasons |= 1 << l->closes[i].reason;
	assert_int_equal(reasons, 1 << LINK_CLOSE_PROTOCOL | 1 << LINK_CLOSE_AUTH);
	st = stats(l);
	assert_int_equal(st.protocol_errors, 1);
	assert_int_equal(st.auth_failures, 1);
	assert_int_equal(st.open, 1);
	assert_int_equal(l->rx_next, 1);

	/* The other link is unaffected: cells 1..999 go through, then the other way. */
	p->tx_next = 1;
	p->tx_total = 1000;
	produce(p);
	l->tx_link = link_mgr_find(l->mgr, p->id.pk);
	assert_non_null(l->tx_link);
	l->tx_total = 1000;
	produce(l);
	assert_true(run_until(w, ab_received_all, 5000));
	assert_int_equal(l->rx_bad, 0);
	assert_int_equal(p->rx_bad, 0);
	assert_int_equal(p->n_close, 0);
	assert_int_equal(l->n_close, 2);
}

/* ---- 9. clean close and shutdown ---- */

static bool
m_empty_peers_closed(struct world *w)
{
	for (unsigned i = 1; i < w->n_nodes; i++)
		if (w->nodes[i].n_close < 1)
			return false;
	return link_mgr_count(w->nodes[0].mgr) == 0;
}

static bool
m_three_open(struct world *w)
{
	return w->nodes[0].n_open >= 3;
}

static bool
node1_closed_twice(struct world *w)
{
	return w->nodes[1].n_close >= 2;
}

static void
test_link_close_and_shutdown_are_clean(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *m, *p1, *p2, *p3;
	struct link *l = NULL;

	m = node_add(w, &cfg, true);
	p1 = node_add(w, &cfg, true);
	p2 = node_add(w, &cfg, false);
	p3 = node_add(w, &cfg, false);

	/* link_close: LOCAL here, PEER there. */
	assert_int_equal(
	        link_mgr_connect(p1->mgr, LINK_PATTERN_XK, m->id.pk, m->lk.pk, m->addr, &l), UM_OK);
	assert_true(run_until(w, ab_open, 3000));
	assert_int_equal(p1->n_open, 1);
	link_close(p1->last_open, LINK_CLOSE_LOCAL);
	assert_true(run_until(w, ab_closed, 3000));
	assert_int_equal(p1->closes[0].reason, LINK_CLOSE_LOCAL);
	assert_true(p1->closes[0].was_open);
	assert_int_equal(m->closes[0].reason, LINK_CLOSE_PEER);
	assert_int_equal(link_mgr_count(m->mgr), 0);
	assert_int_equal(link_mgr_count(p1->mgr), 0);
	m->n_open = 0;
	m->n_close = 0;
	p1->n_close = 0;

	/* Shutdown with three open links (XK, XK, NK): all close cleanly. */
	assert_int_equal(
	        link_mgr_connect(p1->mgr, LINK_PATTERN_XK, m->id.pk, m->lk.pk, m->addr, NULL),
	        UM_OK);
	assert_int_equal(
	        link_mgr_connect(p2->mgr, LINK_PATTERN_XK, m->id.pk, m->lk.pk, m->addr, NULL),
	        UM_OK);
	assert_int_equal(
	        link_mgr_connect(p3->mgr, LINK_PATTERN_NK, m->id.pk, m->lk.pk, m->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, m_three_open, 3000));
	link_mgr_shutdown(m->mgr);
	assert_true(run_until(w, m_empty_peers_closed, 3000));
	assert_int_equal(m->n_close, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(m->closes[i].reason, LINK_CLOSE_SHUTDOWN);
		assert_int_equal(w->nodes[i + 1].n_close, 1);
		assert_int_equal(w->nodes[i + 1].closes[0].reason, LINK_CLOSE_PEER);
	}
	assert_int_equal(stats(m).links, 0);
	/* Not listening any more. */
	assert_int_equal(
	        link_mgr_connect(p1->mgr, LINK_PATTERN_XK, m->id.pk, m->lk.pk, m->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, node1_closed_twice, 3000));
	assert_int_equal(p1->closes[1].reason, LINK_CLOSE_NET);
	assert_false(p1->closes[1].was_open);
	assert_int_equal(m->n_open, 3);
}

/* ---- 9b. hard limits and closing from callbacks ---- */

static bool
l_and_raws_open(struct world *w)
{
	for (unsigned i = 0; i < w->n_raws; i++)
		if (!w->raws[i].open)
			return false;
	return w->nodes[0].n_open >= w->n_raws;
}

static bool
l_closed_1(struct world *w)
{
	return w->nodes[0].n_close >= 1;
}

static bool
l_closed_twice(struct world *w)
{
	return w->nodes[0].n_close >= 2;
}

static void
count_test_lines(void *ctx, enum log_level level, unsigned domain, const char *line)
{
	unsigned *n = ctx;

	(void)level;
	(void)domain;
	if (strstr(line, "test received") != NULL)
		(*n)++;
}

/*
 * A peer that asks for replies (LINK_TEST_END, answered by LINK_TEST_RESULT) and never reads
 * them. Reading never stops on its own, so before the hard cap our write queue to it grew by
 * one record per record it sent, without bound, and logged a NOTICE line per record. Now the
 * queue stops at 2 x write_queue_max plus one read, the link closes for LINK_CLOSE_LIMIT, and
 * the log line is rate-limited.
 */
static void
test_link_write_queue_capped_for_peer_that_never_reads(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *l;
	struct raw *r;
	int small = 4096;
	unsigned n_logged = 0;

	l = node_add(w, &cfg, true);
	r = raw_new_nk(w, l);
	/* A small receive window, so the kernel buffers take little of what we send. */
	assert_int_equal(setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_true(run_until(w, l_and_raws_open, 3000));
	r->flood_cmd = CELL_LINK_TEST_END;
	r->flood_left = 200000; /* 100 MiB of requests: far past any buffer */
	w->sample_queues = true;
	log_set_sink(count_test_lines, &n_logged);
	assert_true(run_until(w, l_closed_1, 20000));
	log_set_sink(NULL, NULL);
	assert_int_equal(l->closes[0].reason, LINK_CLOSE_LIMIT);
	/* Each of those requests ends a test; the log line for it is rate-limited (one per
	 * 10 s: it used to be one per record). */
	assert_true(n_logged >= 1 && n_logged <= 3);
	assert_true(w->wq_peak <= 2 * WQ_MAX + EV_TCP_CHUNK + LINK_RECORD_LEN);
	assert_int_equal(stats(l).links, 0);
}

static uint16_t
silent_listener(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*fd, 8), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/*
 * on_close may close other links. Here both handshakes time out in the same tick, and on_close
 * for the first closes the second, which moves it to the dead list while the tick's walk
 * holds it as its next link: the walk used to follow it into the dead list (and on through
 * the manager itself). Now it starts over, and each link closes exactly once.
 */
static void
test_link_on_close_may_close_another_link(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *l;
	struct link *x = NULL, *y = NULL;
	char addr[2][EV_ADDR_STRLEN];
	int fd[2];

	cfg.handshake_timeout_ms = 200;
	l = node_add(w, &cfg, false);
	for (unsigned i = 0; i < 2; i++)
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%u",
		         (unsigned)silent_listener(&fd[i]));
	assert_int_equal(link_mgr_connect(l->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, addr[0], &x),
	                 UM_OK);
	assert_int_equal(link_mgr_connect(l->mgr, LINK_PATTERN_XK, l->id.pk, l->lk.pk, addr[1], &y),
	                 UM_OK);
	l->close_also = y;
	assert_true(run_until(w, l_closed_twice, 3000));
	run_for(w, 300);
	assert_int_equal(l->n_close, 2);
	assert_int_equal(l->closes[0].reason, LINK_CLOSE_HS_TIMEOUT);
	assert_int_equal(l->closes[1].reason, LINK_CLOSE_LOCAL);
	assert_null(l->close_also);
	assert_int_equal(link_mgr_count(l->mgr), 0);
	close(fd[0]);
	close(fd[1]);
}

static bool
ab_open_and_a_persistent(struct world *w)
{
	struct info_list il;

	return ab_open(w) && infos(&w->nodes[0], &il) == 1 && il.v[0].persistent &&
	       il.v[0].peer_identified;
}

/*
 * A reload forgets every configured peer and adds them again. Re-adding a peer whose link is
 * open takes that link over: it used to dial a second link on every reload (and the old one,
 * to a peer still configured, never went idle).
 */
static void
test_link_readding_peer_keeps_its_open_link(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a, *b;
	struct info_list il;

	a = node_add(w, &cfg, false);
	b = node_add(w, &cfg, true);
	assert_int_equal(link_mgr_add_peer(a->mgr, b->id.pk, b->lk.pk, b->addr), UM_OK);
	assert_true(run_until(w, ab_open_and_a_persistent, 3000));
	for (unsigned i = 0; i < 3; i++) {
		link_mgr_clear_peers(a->mgr);
		assert_int_equal(link_mgr_add_peer(a->mgr, b->id.pk, b->lk.pk, b->addr), UM_OK);
	}
	run_for(w, 300);
	assert_int_equal(link_mgr_count(a->mgr), 1);
	assert_int_equal(infos(a, &il), 1);
	assert_true(il.v[0].persistent);
	assert_int_equal(a->n_open, 1);
	assert_int_equal(b->n_open, 1);
	assert_int_equal(a->n_close + b->n_close, 0);
	/* A new key for the same id is another peer: its link is not taken over. */
	link_mgr_clear_peers(a->mgr);
	assert_int_equal(link_mgr_add_peer(a->mgr, b->id.pk, a->lk.pk, b->addr), UM_OK);
	assert_int_equal(link_mgr_count(a->mgr), 2);
}

/* ---- 10. diagnostic bulk test ---- */

struct test_infos {
	struct link_test_info tx, rx;
};

static void
test_info_cb(void *arg, const struct link_info *info)
{
	struct test_infos *t = arg;

	if (info->test_tx.active || info->test_tx.done)
		t->tx = info->test_tx;
	if (info->test_rx.active || info->test_rx.done)
		t->rx = info->test_rx;
}

static bool
test_reported(struct world *w)
{
	struct test_infos t;

	memset(&t, 0, sizeof(t));
	link_mgr_foreach(w->nodes[0].mgr, test_info_cb, &t);
	return t.tx.peer_reported;
}

static void
test_link_bulk_test_8mib_verified(void **state)
{
	struct world *w = *state;
	struct link_mgr_config cfg = cfg_default();
	struct node *a = node_add(w, &cfg, false);
	struct node *b = node_add(w, &cfg, true);
	struct test_infos ta, tb;
	const uint64_t target = 8u << 20;

	assert_int_equal(
	        link_mgr_connect(a->mgr, LINK_PATTERN_XK, b->id.pk, b->lk.pk, b->addr, NULL),
	        UM_OK);
	assert_true(run_until(w, ab_open, 3000));
	assert_int_equal(link_mgr_test_start(a->mgr, a->id.pk, target, true), UM_ERR_NOT_FOUND);
	assert_int_equal(link_mgr_test_start(a->mgr, b->id.pk, target, true), UM_OK);
	assert_int_equal(link_mgr_test_start(a->mgr, b->id.pk, target, true), UM_ERR_STATE);
	assert_true(run_until(w, test_reported, 20000));

	memset(&ta, 0, sizeof(ta));
	memset(&tb, 0, sizeof(tb));
	link_mgr_foreach(a->mgr, test_info_cb, &ta);
	link_mgr_foreach(b->mgr, test_info_cb, &tb);
	assert_true(ta.tx.done);
	assert_true(ta.tx.peer_reported);
	assert_true(ta.tx.peer_verified);
	assert_true(ta.tx.bytes >= target);
	assert_true(ta.tx.bytes < target + CELL_PAYLOAD_LEN);
	assert_true(tb.rx.done);
	assert_true(tb.rx.verified);
	assert_int_equal(tb.rx.bytes, ta.tx.bytes);
	assert_int_equal(tb.rx.target, ta.tx.bytes);
	assert_memory_equal(tb.rx.sha256, ta.tx.sha256, 32);
	/* Test cells are link-local: nothing reached on_cell, and the link stays open. */
	assert_int_equal(b->rx_next, 0);
	assert_int_equal(a->n_close + b->n_close, 0);
}

static int
group_setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_link_xk_peer_carries_cells_in_order_both_ways),
		T(test_link_nk_responder_does_not_identify_initiator),
		T(test_link_cells_sent_from_on_open_arrive),
		T(test_link_pause_before_open_holds_cells_until_resume),
		T(test_link_backpressure_through_forwarder_loses_nothing),
		T(test_link_pending_per_ip_limit_then_timeout),
		T(test_link_max_links_refuses_extra),
		T(test_link_handshake_timeout_closes_silent_connection),
		T(test_link_idle_close_after_padding_only),
		T(test_link_set_config_applies_to_open_links),
		T(test_link_persistent_peer_never_idle),
		T(test_link_silent_peer_closed_after_three_keepalives),
		T(test_link_protocol_violation_closes_only_that_link),
		T(test_link_close_and_shutdown_are_clean),
		T(test_link_write_queue_capped_for_peer_that_never_reads),
		T(test_link_on_close_may_close_another_link),
		T(test_link_readding_peer_keeps_its_open_link),
		T(test_link_bulk_test_8mib_verified),
#undef T
	};

	return cmocka_run_group_tests_name("link_io", tests, group_setup, NULL);
}
