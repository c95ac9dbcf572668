/* SPDX-License-Identifier: MIT */
/*
 * The circuit layer on the event loop (circuit_io.h): one circuit core, the link manager's
 * callbacks, the relay's link requests and the client's pool of pre-built circuits.
 *
 * Core calls are counted (depth): a link callback that arrives while the core is running (a
 * link that closes while the core sends on it) must not call into the core, so its
 * circ_core_link_closed() / circ_core_link_failed() is queued and run from the ev_defer
 * (kick), which also runs the client pool's upkeep after every event that may change it.
 */
#include "circuit/circuit_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "lib/err.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/time.h"
#include "circuit/cbt.h"
#include "circuit/circuit_pool.h"
#include "circuit/path.h"
#include "circuit/path_guard.h"

enum {
	CIO_DEFER_MAX = 64,     /* link closes queued while the core runs */
	CIO_NO_GUARD_MS = 1000, /* wait before trying again when no guard is usable now */
};

enum cio_state {
	CIO_WAIT_LINK = 1, /* waiting for the NK link to the guard */
	CIO_BUILDING,
	CIO_BUILT,
};

/* A client circuit of the pool. */
struct cio_circ {
	struct list_node node;
	struct circuit *circ; /* NULL while waiting for the guard link */
	uint8_t state;        /* enum cio_state */
	bool timed_out;       /* past the build timeout: no longer counted in the pool */
	bool in_build;        /* inside circ_client_build() */
	bool dead;            /* failed inside circ_client_build(): free after it returns */
	uint8_t n_hops;
	struct circ_io_hop hops[CIRC_MAX_HOPS];
	uint64_t start_ms, build_ms;
	uint64_t serial;
};

struct circ_io {
	struct circ_io_env env;
	struct circ_core *core;
	struct ev_timer *tick;
	struct ev_defer *kick;
	int depth; /* nested core calls */
	bool stopping;
	/* Relay: link requests in flight, and answers / closes deferred out of core calls. */
	struct cpool_reqs reqs;
	size_t n_failed;
	uint8_t failed[CIO_DEFER_MAX][CIRC_ID_KEY_LEN];
	size_t n_closed;
	struct link *closed[CIO_DEFER_MAX];
	/* Client. */
	struct guard_set *guards;
	uint64_t guards_for; /* valid_after_s of the consensus the guard set last saw */
	struct path_config pcfg;
	struct path_health health;
	struct cbt cbt;
	struct list_node circs;     /* struct cio_circ, oldest first */
	struct link *guard_link;    /* open NK link to guard_id */
	struct link *guard_pending; /* connecting to guard_id */
	uint8_t guard_id[CIRC_ID_KEY_LEN];
	unsigned n_fail; /* consecutive failed builds */
	uint64_t next_build_ms;
	uint64_t n_built, n_failed_builds, n_closed_circs;
	char last_error[PATH_WHY_LEN];
};

static struct circ_link *
as_circ_link(struct link *l)
{
	return (struct circ_link *)(void *)l;
}

static struct link *
as_link(struct circ_link *l)
{
	return (struct link *)(void *)l;
}

static void
enter(struct circ_io *io)
{
	io->depth++;
}

static void
leave(struct circ_io *io)
{
	io->depth--;
}

/* Guard bookkeeping: a store error only loses persistence, the set in memory is updated. */
static void
guard_failed(struct circ_io *io, const uint8_t id[CIRC_ID_KEY_LEN], uint64_t now_s)
{
	if (io->guards != NULL && guard_note_failure(io->guards, id, now_s) != UM_OK)
		log_debug(LD_CIRC, "guard failure not recorded (not in the set)");
}

static void
guard_ok(struct circ_io *io, const uint8_t id[CIRC_ID_KEY_LEN], uint64_t now_s)
{
	if (io->guards != NULL && guard_note_success(io->guards, id, now_s) != UM_OK)
		log_debug(LD_CIRC, "guard success not recorded");
}

static void
set_error(struct circ_io *io, const char *msg)
{
	snprintf(io->last_error, sizeof(io->last_error), "%s", msg);
}

/* ---- client pool ---- */

static void
circ_rec_free(struct circ_io *io, struct cio_circ *rec)
{
	(void)io;
	list_remove(&rec->node);
	free(rec);
}

static void
note_build_failure(struct circ_io *io, uint64_t now)
{
	io->n_fail++;
	io->n_failed_builds++;
	io->next_build_ms = now + cpool_backoff_ms(io->n_fail);
}

static void
path_text(const struct cio_circ *rec, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < rec->n_hops && o < len; i++) {
		int n = snprintf(out + o, len - o, "%s%s (%s)", i > 0 ? " -> " : "",
		                 rec->hops[i].nickname, rec->hops[i].country);

		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* Start building rec over the open guard link; false if it could not start (rec freed). */
static bool
start_build(struct circ_io *io, struct cio_circ *rec, const struct consensus *c, uint64_t now)
{
	const struct relay_entry *path[CIRC_MAX_HOPS];
	struct circuit *circ = NULL;
	int ret;

	for (size_t i = 0; i < rec->n_hops; i++) {
		ssize_t k = c != NULL ? path_find_relay(c, rec->hops[i].id) : -1;

		if (k < 0) {
			set_error(io, "a relay of the chosen path left the consensus");
			circ_rec_free(io, rec);
			return false;
		}
		path[i] = &c->relays[k];
	}
	rec->state = CIO_BUILDING;
	rec->in_build = true;
	enter(io);
	ret = circ_client_build(io->core, as_circ_link(io->guard_link), path, rec->n_hops, rec, now,
	                        &circ);
	leave(io);
	rec->in_build = false;
	if (ret != UM_OK || rec->dead) {
		if (ret != UM_OK) {
			char why[PATH_WHY_LEN];

			snprintf(why, sizeof(why), "circuit build refused: %s", um_err_str(ret));
			set_error(io, why);
			note_build_failure(io, now);
		}
		circ_rec_free(io, rec);
		return false;
	}
	rec->circ = circ;
	rec->serial = circ_serial(circ);
	return true;
}

static void
guard_link_ready(struct circ_io *io, uint64_t now)
{
	const struct consensus *c = io->env.consensus(io->env.arg, um_wall_s());
	struct list_node *pos, *tmp;

	list_for_each_safe (pos, tmp, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		if (rec->state == CIO_WAIT_LINK &&
		    memcmp(rec->hops[0].id, io->guard_id, CIRC_ID_KEY_LEN) == 0)
			(void)start_build(io, rec, c, now);
	}
}

static void
drop_waiting(struct circ_io *io)
{
	struct list_node *pos, *tmp;

	list_for_each_safe (pos, tmp, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		if (rec->state == CIO_WAIT_LINK)
			circ_rec_free(io, rec);
	}
}

static int
relay_addr_text(const struct relay_entry *e, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < e->n_addrs && i < RELAY_DESC_MAX_ADDRS; i++) {
		const struct relay_addr *a = &e->addrs[i];

		if (a->type == RELAY_ADDR_IPV4 && inet_ntop(AF_INET, a->addr, ip, sizeof(ip))) {
			snprintf(out, len, "%s:%u", ip, (unsigned)a->port);
			return UM_OK;
		}
		if (a->type == RELAY_ADDR_IPV6 && inet_ntop(AF_INET6, a->addr, ip, sizeof(ip))) {
			snprintf(out, len, "[%s]:%u", ip, (unsigned)a->port);
			return UM_OK;
		}
	}
	return UM_ERR_NOT_FOUND;
}

static void
launch(struct circ_io *io, const struct consensus *c, uint64_t now, uint64_t now_s)
{
	struct path_request req = { .dest = PATH_DEST_NONE };
	struct path_guards pg;
	struct path_plan plan;
	struct cio_circ *rec;
	const struct relay_entry *entry;
	char why[PATH_WHY_LEN], addr[64];
	uint8_t gid[RELAY_DESC_ID_LEN];
	size_t k;
	int ret;

	if (guard_pick(io->guards, now_s, gid, why, sizeof(why)) != UM_OK) {
		set_error(io, why);
		io->next_build_ms = now + CIO_NO_GUARD_MS;
		return;
	}
	guard_set_primary(io->guards, now_s, &pg);
	if (path_select(&io->pcfg, c, &pg, &req, &io->health, now_s, NULL, &plan, why,
	                sizeof(why)) != UM_OK) {
		set_error(io, why);
		note_build_failure(io, now);
		return;
	}
	k = cpool_pick_candidate(&plan, c, &io->health, now_s, io->pcfg.health_cooldown_s);
	entry = path_hop(c, &plan.p[k], 0);
	if (io->guard_link == NULL || memcmp(io->guard_id, entry->identity, CIRC_ID_KEY_LEN) != 0) {
		if (io->guard_pending == NULL ||
		    memcmp(io->guard_id, entry->identity, CIRC_ID_KEY_LEN) != 0) {
			/* A new guard link; circuits open on a previous one keep it until they
			 * close, builds waiting for another guard are dropped. */
			io->guard_link = NULL;
			io->guard_pending = NULL;
			drop_waiting(io);
			if (relay_addr_text(entry, addr, sizeof(addr)) != UM_OK) {
				set_error(io, "the guard lists no address");
				note_build_failure(io, now);
				return;
			}
			memcpy(io->guard_id, entry->identity, CIRC_ID_KEY_LEN);
			ret = link_mgr_connect(io->env.links, LINK_PATTERN_NK, entry->identity,
			                       entry->link_key, addr, &io->guard_pending);
			if (ret != UM_OK || io->guard_pending == NULL) {
				snprintf(why, sizeof(why), "cannot connect to the guard: %s",
				         um_err_str(ret));
				set_error(io, why);
				io->guard_pending = NULL;
				guard_failed(io, entry->identity, now_s);
				note_build_failure(io, now);
				return;
			}
		}
	}
	rec = um_xcalloc(1, sizeof(*rec));
	rec->n_hops = plan.p[k].n_hops;
	for (size_t i = 0; i < rec->n_hops; i++) {
		const struct relay_entry *e = path_hop(c, &plan.p[k], i);

		memcpy(rec->hops[i].id, e->identity, CIRC_ID_KEY_LEN);
		snprintf(rec->hops[i].nickname, sizeof(rec->hops[i].nickname), "%s", e->nickname);
		snprintf(rec->hops[i].country, sizeof(rec->hops[i].country), "%s", e->country);
	}
	rec->state = CIO_WAIT_LINK;
	rec->start_ms = now;
	list_push_back(&io->circs, &rec->node);
	if (io->guard_link != NULL)
		(void)start_build(io, rec, c, now);
}

static unsigned
pool_live(const struct circ_io *io)
{
	const struct list_node *pos;
	unsigned n = 0;

	list_for_each (pos, &io->circs) {
		const struct cio_circ *rec = list_entry_const(pos, struct cio_circ, node);

		if (!rec->timed_out)
			n++;
	}
	return n;
}

static void
pool_timeouts(struct circ_io *io, uint64_t now)
{
	struct list_node *pos, *tmp;
	uint32_t timeout = cbt_timeout_ms(&io->cbt), give_up = cbt_give_up_ms(&io->cbt);

	list_for_each_safe (pos, tmp, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);
		uint64_t el = now - rec->start_ms;

		if (rec->state == CIO_BUILT)
			continue;
		if (!rec->timed_out && el > timeout) {
			rec->timed_out = true;
			cbt_note_timeout(&io->cbt);
			log_info(LD_CIRC,
			         "circuit build past its timeout (%u ms): starting another",
			         (unsigned)timeout);
		}
		if (el > give_up) {
			if (rec->circ != NULL) {
				enter(io);
				circ_close(io->core, rec->circ, CIRC_REASON_TIMEOUT, now);
				leave(io); /* the FAILED event freed rec */
			} else {
				circ_rec_free(io, rec);
			}
		}
	}
}

static void
pool_maintain(struct circ_io *io)
{
	uint64_t now = um_mono_ms(), now_s = um_wall_s();
	const struct consensus *c;
	unsigned n;

	if (!io->env.client || io->stopping)
		return;
	pool_timeouts(io, now);
	if ((c = io->env.consensus(io->env.arg, now_s)) == NULL) {
		set_error(io, "no valid consensus yet");
		return;
	}
	if (c->valid_after_s != io->guards_for) {
		if (guard_set_update(io->guards, c, now_s, NULL) != UM_OK)
			log_warn(LD_CIRC, "cannot save the guard set");
		io->guards_for = c->valid_after_s;
	}
	if (now < io->next_build_ms)
		return;
	n = cpool_to_launch(io->env.circuits_prebuilt, pool_live(io));
	for (unsigned i = 0; i < n && now >= io->next_build_ms; i++)
		launch(io, c, now, now_s);
}

/* ---- relay: link requests ---- */

static void
defer_failed(struct circ_io *io, const uint8_t id[CIRC_ID_KEY_LEN])
{
	if (io->n_failed < CIO_DEFER_MAX)
		memcpy(io->failed[io->n_failed++], id, CIRC_ID_KEY_LEN);
	/* else: the core's extend timeout destroys the waiting circuits */
	ev_defer_schedule(io->kick);
}

static void
link_request(struct circ_io *io, const struct relay_extend2 *t)
{
	const struct consensus *c;
	struct link *l = NULL;
	char addr[80], ip[INET6_ADDRSTRLEN];
	bool merged;
	ssize_t k;
	int ret;

	if (cpool_req_add(&io->reqs, t->ed25519_id, &merged) != UM_OK) {
		defer_failed(io, t->ed25519_id);
		return;
	}
	if (merged)
		return; /* one connect serves every circuit waiting for this relay */
	c = io->env.consensus(io->env.arg, um_wall_s());
	k = c != NULL ? path_find_relay(c, t->ed25519_id) : -1;
	if (k < 0) {
		log_info(LD_CIRC, "EXTEND2 to a relay not in our consensus: refused");
		(void)cpool_req_remove(&io->reqs, t->ed25519_id);
		defer_failed(io, t->ed25519_id);
		return;
	}
	if (t->has_ipv4 && inet_ntop(AF_INET, t->ipv4, ip, sizeof(ip)) != NULL)
		snprintf(addr, sizeof(addr), "%s:%u", ip, (unsigned)t->ipv4_port);
	else if (t->has_ipv6 && inet_ntop(AF_INET6, t->ipv6, ip, sizeof(ip)) != NULL)
		snprintf(addr, sizeof(addr), "[%s]:%u", ip, (unsigned)t->ipv6_port);
	else
		addr[0] = '\0';
	ret = addr[0] != '\0' ? link_mgr_connect(io->env.links, LINK_PATTERN_XK, t->ed25519_id,
	                                         c->relays[k].link_key, addr, &l)
	                      : UM_ERR_INVALID;
	if (ret != UM_OK || l == NULL) {
		log_info(LD_CIRC, "cannot open a link for EXTEND2: %s", um_err_str(ret));
		(void)cpool_req_remove(&io->reqs, t->ed25519_id);
		defer_failed(io, t->ed25519_id);
		return;
	}
	if (cpool_req_set_handle(&io->reqs, t->ed25519_id, l) != UM_OK)
		log_warn(LD_BUG, "link request vanished");
}

/* ---- the core's callbacks ---- */

static int
op_send_cell(void *arg, struct circ_link *cl, const struct cell *c)
{
	struct circ_io *io = arg;
	struct link *l = as_link(cl);
	int ret = link_send_cell(l, c);

	if (ret == UM_OK && link_is_blocked(l))
		circ_core_link_blocked(io->core, cl, true, um_mono_ms());
	return ret;
}

static void
on_built(struct circ_io *io, struct cio_circ *rec, uint64_t now)
{
	char path[3 * (RELAY_DESC_NICKNAME_MAX + 16)];

	rec->state = CIO_BUILT;
	rec->build_ms = now - rec->start_ms;
	cbt_note_build(&io->cbt, (uint32_t)UM_MIN(rec->build_ms, UINT32_MAX));
	guard_ok(io, rec->hops[0].id, um_wall_s());
	for (size_t i = 0; i < rec->n_hops; i++)
		path_health_note_success(&io->health, rec->hops[i].id);
	io->n_fail = 0;
	io->next_build_ms = 0;
	io->n_built++;
	io->last_error[0] = '\0';
	path_text(rec, path, sizeof(path));
	log_notice(LD_CIRC, "circuit %llu built in %llu ms: %s",
	           (unsigned long long)circ_serial(rec->circ), (unsigned long long)rec->build_ms,
	           path);
}

static void
on_failed(struct circ_io *io, struct cio_circ *rec, const struct circ_event *ev, uint64_t now)
{
	size_t k = circ_client_hops(ev->circ);
	char why[PATH_WHY_LEN];

	/* Blame the hop we could not reach: the guard itself, or the relay after the last
	 * built hop (its predecessor could not extend to it, or it did not answer). */
	if (k == 0)
		guard_failed(io, rec->hops[0].id, um_wall_s());
	else if (k < rec->n_hops)
		path_health_note_failure(&io->health, rec->hops[k].id, um_wall_s());
	snprintf(why, sizeof(why), "circuit build failed at hop %zu (%s): %s", k + 1,
	         k < rec->n_hops ? rec->hops[k].nickname : "?",
	         circ_destroy_reason_str(ev->reason));
	log_info(LD_CIRC, "%s", why);
	set_error(io, why);
	note_build_failure(io, now);
	if (rec->in_build)
		rec->dead = true;
	else
		circ_rec_free(io, rec);
}

static void
exit_msg(struct circ_io *io, const struct circ_event *ev, uint64_t now)
{
	/* Streams are not served yet: the stream layer hooks in here. Refuse what would open
	 * one (END RESOURCELIMIT, so the client tries elsewhere) and ignore the rest. */
	static const uint8_t end[1] = { RELAY_END_RESOURCELIMIT };

	if (ev->cmd != RELAY_BEGIN && ev->cmd != RELAY_BEGIN_DIR && ev->cmd != RELAY_RESOLVE)
		return;
	log_debug(LD_CIRC, "circuit %llu: %s refused: no stream layer yet",
	          (unsigned long long)circ_serial(ev->circ), relay_cmd_name(ev->cmd));
	if (circ_relay_send(io->core, ev->circ, RELAY_END, ev->stream_id, end, sizeof(end), now) !=
	    UM_OK)
		log_debug(LD_CIRC, "END not sent: the circuit is closing");
}

static void
op_on_event(void *arg, const struct circ_event *ev)
{
	struct circ_io *io = arg;
	struct cio_circ *rec = ev->user;
	uint64_t now = um_mono_ms();

	switch (ev->type) {
	case CIRC_EV_BUILT:
		if (rec != NULL)
			on_built(io, rec, now);
		break;
	case CIRC_EV_FAILED:
		if (rec != NULL)
			on_failed(io, rec, ev, now);
		ev_defer_schedule(io->kick);
		break;
	case CIRC_EV_CLOSED:
		if (rec != NULL) {
			log_notice(LD_CIRC, "circuit %llu closed (%s%s)",
			           (unsigned long long)circ_serial(ev->circ),
			           circ_destroy_reason_str(ev->reason),
			           ev->remote ? ", remote" : "");
			io->n_closed_circs++;
			circ_rec_free(io, rec);
			ev_defer_schedule(io->kick);
		}
		break;
	case CIRC_EV_MSG:
		break; /* no streams on client circuits yet */
	case CIRC_EV_EXIT_MSG:
		exit_msg(io, ev, now);
		break;
	case CIRC_EV_LINK_REQUEST:
		if (ev->target != NULL)
			link_request(io, ev->target);
		break;
	default:
		break;
	}
}

/* ---- loop ---- */

static void
on_kick(void *arg)
{
	struct circ_io *io = arg;
	uint64_t now = um_mono_ms();

	while (io->n_closed > 0) {
		struct link *l = io->closed[--io->n_closed];

		enter(io);
		circ_core_link_closed(io->core, as_circ_link(l), now);
		leave(io);
	}
	while (io->n_failed > 0) {
		enter(io);
		circ_core_link_failed(io->core, io->failed[--io->n_failed],
		                      CIRC_REASON_CONNECTFAILED, now);
		leave(io);
	}
	pool_maintain(io);
}

static void
on_tick(void *arg)
{
	struct circ_io *io = arg;

	enter(io);
	circ_core_tick(io->core, um_mono_ms());
	leave(io);
	pool_maintain(io);
}

int
circ_io_new(const struct circ_io_env *env, const struct circ_relay_keys *keys, struct circ_io **out,
            char *why, size_t why_len)
{
	struct circ_config cfg;
	struct circ_ops ops = { .send_cell = op_send_cell, .on_event = op_on_event };
	struct circ_io *io;
	int ret;

	*out = NULL;
	if (env->loop == NULL || env->links == NULL || env->consensus == NULL ||
	    (env->client &&
	     (env->hops < 2 || env->hops > 3 || env->circuits_prebuilt > CIRC_IO_PREBUILT_MAX))) {
		snprintf(why, why_len, "bad circuit layer settings");
		return UM_ERR_INVALID;
	}
	io = um_xcalloc(1, sizeof(*io));
	io->env = *env;
	list_init(&io->circs);
	cpool_reqs_init(&io->reqs);
	path_config_default(&io->pcfg);
	io->pcfg.hops = env->hops != 0 ? env->hops : 3;
	path_health_init(&io->health);
	cbt_init(&io->cbt);
	if (env->client &&
	    (ret = guard_set_open(env->store, GUARD_PRIMARY_DEFAULT, &io->guards)) != UM_OK) {
		snprintf(why, why_len, "cannot load the guard set: %s", um_err_str(ret));
		free(io);
		return ret;
	}
	circ_config_default(&cfg);
	/* The glue times builds out itself (cbt); the core's limit only backs it up. */
	cfg.build_timeout_ms = 2ull * CBT_MAX_TIMEOUT_MS + 1000;
	if (env->max_circuits != 0)
		cfg.max_circuits = env->max_circuits;
	ops.arg = io;
	io->core = circ_core_new(&cfg, &ops, keys);
	io->tick = ev_timer_new(env->loop, on_tick, io);
	io->kick = ev_defer_new(env->loop, on_kick, io);
	ev_timer_start(io->tick, CIRC_IO_TICK_MS, CIRC_IO_TICK_MS);
	if (env->client)
		ev_defer_schedule(io->kick);
	*out = io;
	return UM_OK;
}

void
circ_io_free_(struct circ_io *io)
{
	struct list_node *pos, *tmp;

	if (io == NULL)
		return;
	ev_timer_free(io->tick);
	ev_defer_free(io->kick);
	circ_core_free(io->core);
	list_for_each_safe (pos, tmp, &io->circs)
		circ_rec_free(io, list_entry(pos, struct cio_circ, node));
	guard_set_free(io->guards);
	free(io);
}

void
circ_io_set_keys(struct circ_io *io, const struct circ_relay_keys *keys)
{
	circ_core_set_keys(io->core, keys);
}

void
circ_io_shutdown(struct circ_io *io)
{
	struct list_node *pos, *tmp;
	uint64_t now = um_mono_ms();

	io->stopping = true;
	list_for_each_safe (pos, tmp, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		if (rec->circ == NULL) {
			circ_rec_free(io, rec);
			continue;
		}
		enter(io);
		circ_close(io->core, rec->circ, CIRC_REASON_FINISHED, now); /* frees rec */
		leave(io);
	}
	ev_timer_stop(io->tick);
}

/* ---- link callbacks ---- */

void
circ_io_link_open(struct circ_io *io, struct link *l)
{
	uint8_t id[CIRC_ID_KEY_LEN], rid[CIRC_ID_KEY_LEN];
	bool has_id = link_peer_id(l, id);
	uint64_t now = um_mono_ms();
	int ret;

	enter(io);
	ret = circ_core_link_add(io->core, as_circ_link(l), !link_is_inbound(l), has_id ? id : NULL,
	                         now);
	leave(io);
	if (ret != UM_OK)
		log_warn(LD_BUG, "link %llu: circuit core refused it: %s",
		         (unsigned long long)link_id(l), um_err_str(ret));
	/* A relay's link request: the core continued the EXTEND2s waiting for this identity. */
	(void)cpool_req_take_handle(&io->reqs, l, rid);
	if (l == io->guard_pending) {
		io->guard_pending = NULL;
		io->guard_link = l;
		guard_link_ready(io, now);
	}
}

void
circ_io_link_cell(struct circ_io *io, struct link *l, const struct cell *c)
{
	enter(io);
	circ_core_cell_in(io->core, as_circ_link(l), c, um_mono_ms());
	leave(io);
}

void
circ_io_link_close(struct circ_io *io, struct link *l, int reason)
{
	uint8_t id[CIRC_ID_KEY_LEN];
	uint64_t now = um_mono_ms();

	if (cpool_req_take_handle(&io->reqs, l, id)) {
		log_info(LD_CIRC, "link for EXTEND2 failed: %s", link_close_reason_str(reason));
		if (io->depth > 0) {
			defer_failed(io, id);
		} else {
			enter(io);
			circ_core_link_failed(io->core, id, CIRC_REASON_CONNECTFAILED, now);
			leave(io);
		}
	}
	if (l == io->guard_pending) {
		char why[PATH_WHY_LEN];

		io->guard_pending = NULL;
		snprintf(why, sizeof(why), "cannot reach the guard: %s",
		         link_close_reason_str(reason));
		set_error(io, why);
		guard_failed(io, io->guard_id, um_wall_s());
		drop_waiting(io);
		note_build_failure(io, now);
	}
	if (l == io->guard_link)
		io->guard_link = NULL;
	if (io->depth > 0) {
		/* Inside a core call (send_cell): only "blocked" may be reported now. */
		circ_core_link_blocked(io->core, as_circ_link(l), true, now);
		if (io->n_closed < CIO_DEFER_MAX)
			io->closed[io->n_closed++] = l;
	} else {
		enter(io);
		circ_core_link_closed(io->core, as_circ_link(l), now);
		leave(io);
	}
	ev_defer_schedule(io->kick);
}

void
circ_io_link_drain(struct circ_io *io, struct link *l)
{
	enter(io);
	circ_core_link_blocked(io->core, as_circ_link(l), false, um_mono_ms());
	leave(io);
}

/* ---- status ---- */

void
circ_io_foreach(const struct circ_io *io, circ_io_circ_fn *fn, void *arg)
{
	const struct list_node *pos;
	uint64_t now = um_mono_ms();

	list_for_each (pos, &io->circs) {
		const struct cio_circ *rec = list_entry_const(pos, struct cio_circ, node);
		struct circ_io_circ info;

		memset(&info, 0, sizeof(info));
		info.id = rec->serial;
		info.state = rec->state == CIO_BUILT      ? "built"
		             : rec->state == CIO_BUILDING ? "building"
		                                          : "connecting";
		info.n_hops = rec->n_hops;
		memcpy(info.hops, rec->hops, sizeof(info.hops));
		info.build_ms = rec->state == CIO_BUILT ? rec->build_ms : 0;
		info.age_ms = now - rec->start_ms;
		fn(arg, &info);
	}
}

void
circ_io_stats(const struct circ_io *io, struct circ_io_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->client = io->env.client;
	st->prebuilt_target = io->env.circuits_prebuilt;
	st->built = io->n_built;
	st->failed = io->n_failed_builds;
	st->closed = io->n_closed_circs;
	st->timeout_ms = cbt_timeout_ms(&io->cbt);
	st->timeout_learned = cbt_is_learned(&io->cbt);
	circ_core_relay_counts(io->core, &st->relay);
	circ_core_stats(io->core, &st->core);
	snprintf(st->last_error, sizeof(st->last_error), "%s", io->last_error);
}
