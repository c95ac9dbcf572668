/* SPDX-License-Identifier: MIT */
/*
 * The link manager: listeners and admission limits, persistent peers with reconnect backoff,
 * one-off connects, the once-a-second tick that drives every link's timeouts and keepalives,
 * and deferred freeing of closed links.
 */
#include "link/link_st.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"

static void
reap_cb(void *arg)
{
	struct link_mgr *m = arg;
	struct list_node *n, *tmp;

	list_for_each_safe (n, tmp, &m->dead) {
		struct link *l = list_entry(n, struct link, node);

		list_remove(&l->node);
		link_free_(l);
	}
}

/*
 * Walking m->links while calling out: a callback may close links other than the current one
 * (on_close runs inside link_kill_(), and whatever it calls may close more), and a killed
 * link moves to m->dead, so a saved next pointer can lead into the dead list, and from its
 * head round and round. Return where to go on: the saved next while that link is alive,
 * else the start of the list again. Links are freed only by reap_cb, so the saved pointer is
 * still valid to look at; the callers' steps are idempotent for links they have already
 * seen, and every restart follows a kill, so the walk ends.
 */
static struct list_node *
links_next(struct link_mgr *m, struct list_node *next)
{
	if (next != &m->links && list_entry(next, struct link, node)->state == LS_DEAD)
		return m->links.next;
	return next;
}

static void
pump_cb(void *arg)
{
	struct link_mgr *m = arg;
	struct list_node *n, *next;

	for (n = m->links.next; n != &m->links; n = links_next(m, next)) {
		next = n->next;
		link_test_pump_(list_entry(n, struct link, node));
	}
}

/*
 * Run the puzzle solvers of outbound links that were asked one, LINK_PUZZLE_STEP_TRIES hashes
 * per loop iteration in all (a few milliseconds), so the loop keeps serving every other link
 * while a client solves. A solved link redials from inside its step.
 */
static void
solve_cb(void *arg)
{
	struct link_mgr *m = arg;
	struct list_node *n, *next;
	uint64_t budget = LINK_PUZZLE_STEP_TRIES;
	bool more = false;

	for (n = m->links.next; n != &m->links; n = links_next(m, next)) {
		struct link *l = list_entry(n, struct link, node);

		next = n->next;
		if (!l->pz.solving)
			continue;
		if (budget == 0) {
			more = true;
			break;
		}
		budget -= UM_MIN(budget, link_puzzle_step_(l, budget));
		if (l->pz.solving)
			more = true;
	}
	if (more)
		ev_defer_schedule(m->solve);
}

static void
connect_peer(struct link_mgr *m, struct link_peer *p, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct link *l;

	p->next_attempt_ms = now + p->backoff_ms;
	p->backoff_ms = UM_MIN(p->backoff_ms * 2, (uint64_t)LINK_BACKOFF_MAX_MS);
	if (ev_addr_parse(p->addr, &ss, &len) != UM_OK)
		return;
	l = link_new_(m, NULL, false, &ss);
	l->peer = p;
	p->link = l;
	if (link_start_outbound_(l, LINK_PATTERN_XK, p->id, p->key, &ss) != UM_OK)
		link_kill_(l, LINK_CLOSE_NET);
}

static void
tick_cb(void *arg)
{
	struct link_mgr *m = arg;
	uint64_t now = ev_now_ms(m->loop);
	struct list_node *n, *next;

	for (n = m->links.next; n != &m->links; n = links_next(m, next)) {
		next = n->next;
		link_tick_(list_entry(n, struct link, node), now);
	}
	list_for_each (n, &m->peers) {
		struct link_peer *p = list_entry(n, struct link_peer, node);

		if (p->link == NULL && now >= p->next_attempt_ms && !m->shutting_down)
			connect_peer(m, p, now);
	}
}

/*
 * The tick drives keepalives and timeouts, so it must run several times per keepalive and
 * per handshake timeout: padding goes out up to one tick late, and a peer counts as silent
 * after LINK_SILENCE_FACTOR keepalives. A fixed 1 s tick with keepalive_ms < 500 closed every
 * quiet link as silent.
 */
static uint64_t
tick_interval_ms(const struct link_mgr_config *cfg)
{
	uint64_t t = LINK_TICK_MS;

	if (cfg->keepalive_ms > 0)
		t = UM_MIN(t, cfg->keepalive_ms / 4);
	if (cfg->handshake_timeout_ms > 0)
		t = UM_MIN(t, cfg->handshake_timeout_ms / 4);
	return UM_MAX(t, (uint64_t)LINK_TICK_MIN_MS);
}

struct link_mgr *
link_mgr_new(struct ev_loop *loop, const struct link_identity *me,
             const struct link_mgr_config *cfg, const struct link_callbacks *cb)
{
	struct link_mgr *m = um_xcalloc(1, sizeof(*m));

	m->loop = loop;
	m->me = me;
	m->cfg = *cfg;
	if (cb != NULL)
		m->cb = *cb;
	list_init(&m->links);
	list_init(&m->dead);
	list_init(&m->peers);
	list_init(&m->listeners);
	m->rl_refused = (struct log_ratelim)LOG_RATELIM_INIT(10000);
	m->rl_handshake = (struct log_ratelim)LOG_RATELIM_INIT(10000);
	m->rl_auth = (struct log_ratelim)LOG_RATELIM_INIT(10000);
	m->rl_protocol = (struct log_ratelim)LOG_RATELIM_INIT(10000);
	m->rl_test = (struct log_ratelim)LOG_RATELIM_INIT(10000);
	m->tick = ev_timer_new(loop, tick_cb, m);
	m->reap = ev_timer_new(loop, reap_cb, m);
	m->pump = ev_defer_new(loop, pump_cb, m);
	m->solve = ev_defer_new(loop, solve_cb, m);
	m->gate = puzzle_gate_new();
	ev_timer_start(m->tick, tick_interval_ms(cfg), tick_interval_ms(cfg));
	return m;
}

void
link_mgr_free_(struct link_mgr *m)
{
	struct list_node *n, *tmp;

	if (m == NULL)
		return;
	m->shutting_down = true;
	list_for_each_safe (n, tmp, &m->listeners) {
		struct link_listener *ll = list_entry(n, struct link_listener, node);

		list_remove(&ll->node);
		ev_listener_free(ll->l);
		free(ll);
	}
	for (n = m->links.next; n != &m->links; n = links_next(m, tmp)) {
		struct link *l = list_entry(n, struct link, node);

		tmp = n->next;
		/* Best effort: a LINK_CLOSE record goes out with the final flush. */
		if (l->state == LS_OPEN) {
			uint8_t cell[CELL_LEN] = { 0 };
			uint8_t *p;

			cell[4] = CELL_LINK_CLOSE;
			cell[5] = LINK_CLOSE_SHUTDOWN;
			if (ev_tcp_reserve(l->tcp, LINK_RECORD_LEN, &p) == UM_OK &&
			    link_rec_seal(&l->rec, cell, p) == UM_OK) {
				ev_tcp_commit(l->tcp, LINK_RECORD_LEN);
				ev_tcp_shutdown(l->tcp);
			}
		}
		link_kill_(l, LINK_CLOSE_SHUTDOWN);
	}
	reap_cb(m);
	link_mgr_clear_peers(m);
	ev_timer_free(m->tick);
	ev_timer_free(m->reap);
	ev_defer_free(m->pump);
	ev_defer_free(m->solve);
	puzzle_gate_free(m->gate);
	um_memzero(m, sizeof(*m));
	free(m);
}

void
link_mgr_shutdown(struct link_mgr *m)
{
	struct list_node *n, *tmp;

	m->shutting_down = true;
	list_for_each_safe (n, tmp, &m->listeners) {
		struct link_listener *ll = list_entry(n, struct link_listener, node);

		list_remove(&ll->node);
		ev_listener_free(ll->l);
		free(ll);
	}
	for (n = m->links.next; n != &m->links; n = links_next(m, tmp)) {
		tmp = n->next;
		link_close(list_entry(n, struct link, node), LINK_CLOSE_SHUTDOWN);
	}
}

size_t
link_mgr_count(const struct link_mgr *m)
{
	return list_count(&m->links);
}

void
link_mgr_set_config(struct link_mgr *m, const struct link_mgr_config *cfg)
{
	uint64_t t = tick_interval_ms(cfg);

	if (t != tick_interval_ms(&m->cfg))
		ev_timer_start(m->tick, t, t);
	m->cfg = *cfg;
}

static size_t
addr_ip(const struct sockaddr_storage *ss, const uint8_t **ip)
{
	if (ss->ss_family == AF_INET) {
		*ip = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr;
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		*ip = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
		return 16;
	}
	*ip = NULL;
	return 0;
}

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const uint8_t *x, *y;
	size_t n = addr_ip(a, &x);

	return n > 0 && n == addr_ip(b, &y) && memcmp(x, y, n) == 0;
}

static void
on_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct link_mgr *m = arg;
	uint32_t pending = 0, from_ip = 0;
	struct list_node *n;
	struct link *l;

	m->st.accepted++;
	list_for_each (n, &m->links) {
		struct link *o = list_entry(n, struct link, node);

		if (o->inbound && o->state == LS_HANDSHAKE) {
			pending++;
			if (same_ip(&o->addr, peer))
				from_ip++;
		}
	}
	/* Refuse before any public-key work: the cheap checks come first. */
	if (m->shutting_down || m->st.links >= m->cfg.max_links || pending >= m->cfg.max_pending ||
	    from_ip >= m->cfg.max_pending_per_ip) {
		m->st.refused_limit++;
		log_ratelim(&m->rl_refused, UM_LOG_NOTICE, LD_LINK,
		            "refusing inbound connection: %s",
		            m->st.links >= m->cfg.max_links ? "max_links reached"
		            : pending >= m->cfg.max_pending ? "too many pending handshakes"
		                                            : "too many pending handshakes from "
		                                              "one address");
		ev_tcp_close(conn);
		return;
	}
	if (m->cb.admit != NULL && !m->cb.admit(m->cb.arg, peer)) {
		m->st.refused_abuse++;
		ev_tcp_abort(conn);
		return;
	}
	l = link_new_(m, conn, true, peer);
	l->admitted = m->cb.admit != NULL;
	link_start_inbound_(l);
}

void
mgr_admit_done_(struct link_mgr *m, struct link *l)
{
	if (!l->admitted)
		return;
	l->admitted = false;
	if (m->cb.admit_done != NULL)
		m->cb.admit_done(m->cb.arg, &l->addr);
}

int
link_mgr_listen(struct link_mgr *m, const char *addr, uint16_t *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct link_listener *ll;
	int ret;

	if ((ret = ev_addr_parse_listen(addr, &ss, &len)) != UM_OK)
		return ret;
	ll = um_xcalloc(1, sizeof(*ll));
	if ((ret = ev_tcp_listen(m->loop, (const struct sockaddr *)&ss, 511, on_accept, m,
	                         &ll->l)) != UM_OK) {
		free(ll);
		return ret;
	}
	if (bound_port != NULL) {
		*bound_port = 0;
		if (ev_listener_addr(ll->l, &ss) == UM_OK) {
			if (ss.ss_family == AF_INET)
				*bound_port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
			else
				*bound_port =
				        ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
		}
	}
	list_push_back(&m->listeners, &ll->node);
	return UM_OK;
}

/*
 * An outbound XK link we dialled to this very peer (id and key) that serves no configured
 * peer: the link of an earlier entry for it, orphaned by link_mgr_clear_peers() on reload.
 * Re-adding the peer takes it over instead of dialling a second link on every reload (the
 * old one would stay forever: links to configured peers never go idle).
 */
static struct link *
adopt_link(struct link_mgr *m, struct link_peer *p)
{
	struct list_node *n;

	list_for_each (n, &m->links) {
		struct link *l = list_entry(n, struct link, node);
		const uint8_t *rs;

		if (l->peer != NULL || l->inbound || l->hs.pattern != LINK_PATTERN_XK)
			continue;
		if (l->state == LS_OPEN) {
			if (!l->hs.peer_identified ||
			    memcmp(l->hs.peer_id, p->id, LINK_ID_LEN) != 0 ||
			    memcmp(l->hs.peer_static, p->key, X25519_KEY_LEN) != 0)
				continue;
		} else if (l->state == LS_CONNECTING || l->state == LS_HANDSHAKE) {
			rs = noise_hs_remote_static(&l->hs.noise);
			if (!l->hs.check_id || memcmp(l->hs.expected_id, p->id, LINK_ID_LEN) != 0 ||
			    rs == NULL || memcmp(rs, p->key, X25519_KEY_LEN) != 0)
				continue;
		} else {
			continue;
		}
		l->peer = p;
		return l;
	}
	return NULL;
}

int
link_mgr_add_peer(struct link_mgr *m, const uint8_t id[LINK_ID_LEN],
                  const uint8_t link_key[X25519_KEY_LEN], const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct link_peer *p = NULL;
	struct list_node *n;
	int ret;

	if ((ret = ev_addr_parse(addr, &ss, &len)) != UM_OK)
		return ret;
	list_for_each (n, &m->peers) {
		struct link_peer *q = list_entry(n, struct link_peer, node);

		if (memcmp(q->id, id, LINK_ID_LEN) == 0)
			p = q;
	}
	if (p == NULL) {
		p = um_xcalloc(1, sizeof(*p));
		list_push_back(&m->peers, &p->node);
	}
	memcpy(p->id, id, LINK_ID_LEN);
	memcpy(p->key, link_key, X25519_KEY_LEN);
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->backoff_ms = m->cfg.reconnect_ms;
	p->next_attempt_ms = 0;
	if (p->link == NULL)
		p->link = adopt_link(m, p);
	if (p->link == NULL && !m->shutting_down)
		connect_peer(m, p, ev_now_ms(m->loop));
	return UM_OK;
}

void
link_mgr_clear_peers(struct link_mgr *m)
{
	struct list_node *n, *tmp;

	list_for_each_safe (n, tmp, &m->peers) {
		struct link_peer *p = list_entry(n, struct link_peer, node);

		if (p->link != NULL)
			p->link->peer = NULL;
		list_remove(&p->node);
		free(p);
	}
}

bool
mgr_is_known_peer_(const struct link_mgr *m, const uint8_t id[LINK_ID_LEN],
                   const uint8_t key[X25519_KEY_LEN])
{
	const struct list_node *n;

	list_for_each (n, &m->peers) {
		const struct link_peer *p = list_entry_const(n, struct link_peer, node);

		if (memcmp(p->id, id, LINK_ID_LEN) == 0 &&
		    (key == NULL || memcmp(p->key, key, X25519_KEY_LEN) == 0))
			return true;
	}
	return false;
}

int
link_mgr_connect(struct link_mgr *m, uint8_t pattern, const uint8_t *expected_id,
                 const uint8_t link_key[X25519_KEY_LEN], const char *addr, struct link **out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct link *l;
	int ret;

	if (out != NULL)
		*out = NULL;
	if ((ret = ev_addr_parse(addr, &ss, &len)) != UM_OK)
		return ret;
	if (m->st.links >= m->cfg.max_links)
		return UM_ERR_RATELIMIT;
	l = link_new_(m, NULL, false, &ss);
	if ((ret = link_start_outbound_(l, pattern, expected_id, link_key, &ss)) != UM_OK) {
		link_kill_(l, LINK_CLOSE_NET);
		return ret;
	}
	if (out != NULL)
		*out = l;
	return UM_OK;
}

struct link *
link_mgr_find(struct link_mgr *m, const uint8_t id[LINK_ID_LEN])
{
	struct list_node *n;

	list_for_each (n, &m->links) {
		struct link *l = list_entry(n, struct link, node);

		if (l->state == LS_OPEN && l->hs.peer_identified &&
		    memcmp(l->hs.peer_id, id, LINK_ID_LEN) == 0)
			return l;
	}
	return NULL;
}

void
mgr_link_opened_(struct link_mgr *m, struct link *l)
{
	m->st.handshakes_ok++;
	mgr_admit_done_(m, l);
	if (l->peer != NULL)
		l->peer->backoff_ms = m->cfg.reconnect_ms;
	log_info(LD_LINK, "link %llu: open (%s %s, handshake %llu us)", (unsigned long long)l->id,
	         l->inbound ? "inbound" : "outbound",
	         l->hs.pattern == LINK_PATTERN_XK ? "XK" : "NK",
	         (unsigned long long)l->handshake_us);
	if (m->cb.on_open != NULL)
		m->cb.on_open(m->cb.arg, l);
}

void
mgr_link_closed_(struct link_mgr *m, struct link *l)
{
	bool was_open = l->open_ms != 0;

	mgr_admit_done_(m, l);
	if (l->peer != NULL) {
		l->peer->link = NULL;
		if (was_open)
			l->peer->next_attempt_ms = ev_now_ms(m->loop) + l->peer->backoff_ms;
		l->peer = NULL;
	}
	if (m->cb.on_close != NULL && !l->closed_notified) {
		l->closed_notified = true;
		m->cb.on_close(m->cb.arg, l, l->close_reason);
	}
	ev_timer_start(m->reap, 0, 0);
}

void
link_mgr_foreach(struct link_mgr *m, link_info_fn *fn, void *arg)
{
	struct list_node *n;
	struct link_info info;
	uint64_t now = ev_now_ms(m->loop);

	list_for_each (n, &m->links) {
		link_fill_info_(list_entry(n, struct link, node), now, &info);
		fn(arg, &info);
	}
}

void
link_mgr_stats(const struct link_mgr *m, struct link_mgr_stats *st)
{
	const struct list_node *n;

	*st = m->st;
	st->open = 0;
	st->pending = 0;
	list_for_each (n, &m->links) {
		const struct link *l = list_entry_const(n, struct link, node);

		if (l->state == LS_OPEN)
			st->open++;
		else if (l->state == LS_HANDSHAKE || l->state == LS_CONNECTING)
			st->pending++;
	}
	st->cert_cache_hits = m->cert_cache.hits;
}
