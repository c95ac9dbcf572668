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

#include <limits.h>
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
#include "circuit/stream_exit.h"
#include "circuit/stream_mux.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

enum {
	CIO_DEFER_MAX = 64,     /* link closes queued while the core runs */
	CIO_NO_GUARD_MS = 1000, /* wait before trying again when no guard is usable now */
	CIO_STREAM_TRIES = 3,   /* exits a stream is tried on (Tor retries on other exits too) */
	CIO_ONDEMAND_MAX = 4,   /* circuits building at once for streams no circuit serves */
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
	bool on_demand;       /* launched for a waiting stream no other circuit served */
	uint8_t n_hops;
	struct circ_io_hop hops[CIRC_MAX_HOPS];
	uint64_t start_ms, build_ms;
	uint64_t start_ns, build_us; /* the same, finer (benchmarks) */
	uint64_t serial;
	/* Streams (client): the mux once built, the streams on it, the isolation binding. */
	struct smux *mux;
	struct list_node streams; /* struct circ_io_stream */
	uint32_t n_streams;
	bool bound; /* iso holds the key of its first stream */
	bool gone;  /* closed: on io->dead_recs until the kick frees it */
	uint8_t iso[32];
	uint64_t bound_ms;
	uint64_t idle_since_ms; /* bound and without streams since */
	struct circ_io *mux_io; /* for the mux callbacks */
	size_t backlog;         /* bytes toward applications, as last told to the core */
	uint64_t backlog_since; /* ... the oldest queued at (ev_now_ms), UINT64_MAX: none */
	/* Tier token (PROTOCOL.md 17.5): sent after the build; the exit's verdict. */
	bool token_sent, token_acked;
	uint8_t token_status, tier;
};

enum cs_state {
	CS_WAITING = 1, /* no circuit yet (on io->waiting) */
	CS_OPENING,     /* BEGIN / RESOLVE sent */
	CS_OPEN,        /* CONNECTED */
	CS_DONE,        /* over (RESOLVED answered, failed, or aborted); waits for close */
};

struct circ_io_stream {
	struct list_node node; /* io->waiting or rec->streams; self-linked when neither */
	struct circ_io *io;
	struct cio_circ *rec;
	struct smux_stream *ms;
	struct circ_io_stream_ops ops;
	void *arg;
	struct circ_io_stream_req req; /* iso pointer cleared */
	struct path_request preq;      /* what its exit must allow (PATH_DEST_NONE: RESOLVE) */
	uint8_t iso[32];
	uint16_t id;
	uint8_t state; /* enum cs_state */
	bool sent_end, rcvd_end;
	uint64_t start_ms;   /* this attempt (waiting for a circuit, then opening) */
	uint64_t first_ms;   /* the first attempt: retries only within CIRC_IO_STREAM_TIMEOUT_MS */
	uint8_t last_reason; /* the last exit's refusal, given to the app if no exit is left */
	uint8_t n_tried;     /* exits that failed this stream */
	uint8_t tried[CIO_STREAM_TRIES][CIRC_ID_KEY_LEN];
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
	uint64_t tokens_accepted, tokens_refused; /* exits' verdicts on our tokens */
	char last_error[PATH_WHY_LEN];
	/* Streams. */
	struct stream_exit *sx;     /* relay: the exit's streams (refusals without the role) */
	struct list_node waiting;   /* client streams without a circuit */
	struct list_node dead_recs; /* closed client circuits, freed by the kick */
	size_t n_streams;
	uint8_t iso_key[32]; /* keys the isolation-key hash: never a password in memory */
	uint64_t streams_opened, streams_failed, streams_retried, streams_no_exit;
	struct cpool_refusals refusals; /* exits that refused a port their summary allows */
	struct cpool_ports ports;       /* ports streams asked for lately */
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

static void streams_circ_gone(struct circ_io *io, struct cio_circ *rec);

/* Forget rec: its streams end (DESTROY), the record is freed from the kick. */
static void
circ_rec_free(struct circ_io *io, struct cio_circ *rec)
{
	if (rec->gone)
		return;
	rec->gone = true;
	list_remove(&rec->node);
	list_push_back(&io->dead_recs, &rec->node);
	streams_circ_gone(io, rec);
	ev_defer_schedule(io->kick);
}

static void
dead_recs_free(struct circ_io *io)
{
	while (!list_is_empty(&io->dead_recs)) {
		struct cio_circ *rec = list_entry(io->dead_recs.next, struct cio_circ, node);

		list_remove(&rec->node);
		smux_free(rec->mux);
		free(rec);
	}
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

/* The exit of rec in c (NULL when it left the consensus). */
static const struct relay_entry *
rec_exit(const struct consensus *c, const struct cio_circ *rec)
{
	ssize_t k = c != NULL && rec->n_hops > 0 ? path_find_relay(c, rec->hops[rec->n_hops - 1].id)
	                                         : -1;

	return k >= 0 ? &c->relays[k] : NULL;
}

/* May exit e carry stream s (its port summary, refusals, exits s failed on)? */
static bool
exit_serves(const struct circ_io *io, const struct circ_io_stream *s, const struct relay_entry *e,
            uint64_t now_s)
{
	return cpool_exit_serves(e, &s->preq, &io->refusals,
	                         (const uint8_t(*)[CIRC_ID_KEY_LEN])s->tried, s->n_tried, now_s);
}

/*
 * Start a circuit whose exit serves req (PATH_DEST_NONE: any exit). for_s (NULL for the pool)
 * is the waiting stream it is built for: candidates whose exit it failed on, or that refused
 * its port, are skipped. UM_OK: a build started or waits for the guard link;
 * UM_ERR_NOT_FOUND: no path serves req (nothing counted as a failed build when req names a
 * port: the caller falls back or waits); another error: a failure, backoff applied.
 */
static int
launch(struct circ_io *io, const struct consensus *c, uint64_t now, uint64_t now_s,
       const struct path_request *req, const struct circ_io_stream *for_s)
{
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
		return UM_ERR_STATE;
	}
	guard_set_primary(io->guards, now_s, &pg);
	if ((ret = path_select(&io->pcfg, c, &pg, req, &io->health, now_s, NULL, &plan, why,
	                       sizeof(why))) != UM_OK) {
		set_error(io, why);
		if (ret == UM_ERR_NOT_FOUND && req->dest != PATH_DEST_NONE)
			return UM_ERR_NOT_FOUND;
		note_build_failure(io, now);
		return ret;
	}
	if (for_s != NULL) {
		/* Keep the ranked candidates whose exit may still carry the stream. */
		uint8_t n = 0;

		for (uint8_t i = 0; i < plan.n; i++) {
			const struct relay_entry *x =
			        path_hop(c, &plan.p[i], plan.p[i].n_hops - 1u);

			if (exit_serves(io, for_s, x, now_s))
				plan.p[n++] = plan.p[i];
		}
		if (n == 0) {
			set_error(io,
			          "every exit drawn for a stream refused its port or failed it");
			return UM_ERR_NOT_FOUND;
		}
		plan.n = n;
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
				return UM_ERR_INVALID;
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
				return ret != UM_OK ? ret : UM_ERR_INTERNAL;
			}
		}
	}
	rec = um_xcalloc(1, sizeof(*rec));
	list_init(&rec->streams);
	rec->n_hops = plan.p[k].n_hops;
	for (size_t i = 0; i < rec->n_hops; i++) {
		const struct relay_entry *e = path_hop(c, &plan.p[k], i);

		memcpy(rec->hops[i].id, e->identity, CIRC_ID_KEY_LEN);
		snprintf(rec->hops[i].nickname, sizeof(rec->hops[i].nickname), "%s", e->nickname);
		snprintf(rec->hops[i].country, sizeof(rec->hops[i].country), "%s", e->country);
	}
	rec->state = CIO_WAIT_LINK;
	rec->start_ms = now;
	rec->start_ns = um_mono_ns();
	rec->on_demand = for_s != NULL;
	list_push_back(&io->circs, &rec->node);
	if (for_s != NULL)
		log_info(LD_CIRC, "building a circuit for a stream to port %u through %s",
		         (unsigned)req->port, rec->hops[rec->n_hops - 1].nickname);
	if (io->guard_link != NULL)
		(void)start_build(io, rec, c, now);
	return UM_OK;
}

static unsigned
pool_live(const struct circ_io *io)
{
	const struct list_node *pos;
	unsigned n = 0;

	list_for_each (pos, &io->circs) {
		const struct cio_circ *rec = list_entry_const(pos, struct cio_circ, node);

		if (!rec->timed_out && !rec->bound)
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

/*
 * What the next pre-built circuit is for: of the ports streams asked for lately (443 and 80
 * before any), the one the fewest unbound circuits (built or building) serve, so the pool
 * keeps circuits ready for each (Tor's predicted ports, simplified).
 */
static void
pool_request(const struct circ_io *io, const struct consensus *c, uint64_t now_s,
             struct path_request *req)
{
	uint16_t ports[CPOOL_PORTS_MAX];
	size_t n = cpool_ports_predict(&io->ports, now_s, ports), best = 0;
	unsigned best_served = UINT_MAX;

	for (size_t i = 0; i < n; i++) {
		struct path_request r = { .dest = PATH_DEST_HOSTNAME, .port = ports[i] };
		const struct list_node *pos;
		unsigned served = 0;

		list_for_each (pos, &io->circs) {
			const struct cio_circ *rec = list_entry_const(pos, struct cio_circ, node);
			const struct relay_entry *e;

			if (rec->bound || rec->timed_out || (e = rec_exit(c, rec)) == NULL)
				continue;
			if (path_exit_allows(e, &r))
				served++;
		}
		if (served < best_served) {
			best_served = served;
			best = i;
		}
	}
	memset(req, 0, sizeof(*req));
	req->dest = PATH_DEST_HOSTNAME;
	req->port = ports[best];
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
		/* A new consensus may offer the paths the last one lacked: try it now, not after
		 * the backoff earned on the old one. */
		io->n_fail = 0;
		io->next_build_ms = 0;
	}
	if (now < io->next_build_ms)
		return;
	n = cpool_to_launch(io->env.circuits_prebuilt, pool_live(io));
	for (unsigned i = 0; i < n && now >= io->next_build_ms; i++) {
		struct path_request req;

		pool_request(io, c, now_s, &req);
		/* No exit serves the predicted port: any exit then. */
		if (launch(io, c, now, now_s, &req, NULL) == UM_ERR_NOT_FOUND) {
			req.dest = PATH_DEST_NONE;
			req.port = 0;
			(void)launch(io, c, now, now_s, &req, NULL);
		}
	}
}

int
circ_io_build_now(struct circ_io *io, char *why, size_t why_len)
{
	uint64_t now = um_mono_ms(), now_s = um_wall_s();
	const struct path_request any = { .dest = PATH_DEST_NONE };
	const struct consensus *c;

	if (!io->env.client || io->stopping) {
		snprintf(why, why_len, "%s", io->stopping ? "shutting down" : "not a client");
		return UM_ERR_STATE;
	}
	if ((c = io->env.consensus(io->env.arg, now_s)) == NULL) {
		snprintf(why, why_len, "no valid consensus yet");
		return UM_ERR_STATE;
	}
	if (launch(io, c, now, now_s, &any, NULL) != UM_OK) {
		snprintf(why, why_len, "%s", io->last_error);
		return UM_ERR_NOT_FOUND;
	}
	return UM_OK;
}

/* ---- client streams ---- */

static void
cs_unlink(struct circ_io_stream *s)
{
	if (s->rec != NULL)
		s->rec->n_streams--;
	list_remove(&s->node);
	list_init(&s->node);
	if (s->rec != NULL && s->rec->n_streams == 0)
		s->rec->idle_since_ms = um_mono_ms();
	s->rec = NULL;
}

/* The open failed: tell the owner once (it still closes the stream). */
static void
cs_fail(struct circ_io_stream *s, uint8_t reason)
{
	struct circ_io_stream_result r;

	memset(&r, 0, sizeof(r));
	r.status = UM_ERR_CLOSED;
	r.reason = reason;
	s->state = CS_DONE;
	s->sent_end = s->rcvd_end = true;
	s->io->streams_failed++;
	s->ops.on_open(s->arg, &r);
}

static void
streams_circ_gone(struct circ_io *io, struct cio_circ *rec)
{
	(void)io;
	if (rec->mux != NULL)
		smux_close(rec->mux, RELAY_END_DESTROY); /* open streams: on_end(DESTROY) */
	while (!list_is_empty(&rec->streams)) {
		struct circ_io_stream *s =
		        list_entry(rec->streams.next, struct circ_io_stream, node);
		bool opening = s->state == CS_OPENING;

		cs_unlink(s);
		smux_stream_free(s->ms);
		if (opening)
			cs_fail(s, RELAY_END_DESTROY);
		else
			s->state = CS_DONE;
	}
}

static int
cmux_send(void *arg, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
          uint8_t digest[RELAY_DIGEST_LEN])
{
	struct cio_circ *rec = arg;
	struct circ_io *io = rec->mux_io;
	struct circuit *circ = rec->circ;
	int ret;

	if (rec->gone || circ == NULL)
		return UM_ERR_CLOSED;
	enter(io);
	ret = circ_client_send(io->core, circ, rec->n_hops, cmd, stream_id, data, len,
	                       um_mono_ms());
	if (ret == UM_OK && !rec->gone)
		ret = circ_sent_digest(circ, rec->n_hops, digest);
	else if (ret == UM_OK)
		ret = UM_ERR_CLOSED;
	leave(io);
	return ret;
}

static size_t
cmux_queued(void *arg)
{
	struct cio_circ *rec = arg;

	return rec->gone || rec->circ == NULL ? 0 : circ_queue_len(rec->circ);
}

static void
cmux_violation(void *arg, const char *why)
{
	struct cio_circ *rec = arg;
	struct circ_io *io = rec->mux_io;

	log_info(LD_CIRC, "circuit %llu: stream protocol violation by the exit: %s",
	         (unsigned long long)rec->serial, why);
	if (rec->gone || rec->circ == NULL)
		return;
	enter(io);
	circ_close(io->core, rec->circ, CIRC_REASON_PROTOCOL, um_mono_ms());
	leave(io);
}

static struct circ_io_stream *
cs_find(struct cio_circ *rec, uint16_t id)
{
	struct list_node *pos;

	list_for_each (pos, &rec->streams) {
		struct circ_io_stream *s = list_entry(pos, struct circ_io_stream, node);

		if (s->id == id)
			return s;
	}
	return NULL;
}

static void
cs_connected(struct cio_circ *rec, struct circ_io_stream *s, const uint8_t *data, size_t len)
{
	struct relay_connected c;
	struct circ_io_stream_result r;

	if (s->state != CS_OPENING || s->req.cmd != RELAY_BEGIN ||
	    relay_connected_parse(data, len, &c) != UM_OK) {
		cmux_violation(rec, "unexpected or malformed CONNECTED");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.status = UM_OK;
	r.addr_type = c.addr_type;
	memcpy(r.addr, c.addr, sizeof(r.addr));
	s->state = CS_OPEN;
	rec->mux_io->streams_opened++;
	/* Ports that worked are predicted for the pool (refused ones would build in vain). */
	cpool_ports_note(&rec->mux_io->ports, s->preq.port, um_wall_s());
	s->ops.on_open(s->arg, &r);
}

static void
cs_resolved(struct cio_circ *rec, struct circ_io_stream *s, const uint8_t *data, size_t len)
{
	struct relay_resolved rr;
	struct circ_io_stream_result r;

	if (s->state != CS_OPENING || s->req.cmd != RELAY_RESOLVE ||
	    relay_resolved_parse(data, len, &rr) != UM_OK) {
		cmux_violation(rec, "unexpected or malformed RESOLVED");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.status = UM_ERR_NOT_FOUND;
	r.reason = RELAY_END_RESOLVEFAILED;
	for (size_t i = 0; i < rr.n_answers; i++) {
		const struct relay_answer *a = &rr.answers[i];

		if (a->type == RELAY_ANSWER_IPV4 || a->type == RELAY_ANSWER_IPV6) {
			r.status = UM_OK;
			r.reason = 0;
			r.addr_type =
			        a->type == RELAY_ANSWER_IPV4 ? RELAY_HOST_IPV4 : RELAY_HOST_IPV6;
			memcpy(r.addr, a->addr, sizeof(r.addr));
			break;
		}
		if (a->type == RELAY_ANSWER_ERR_TRANSIENT)
			r.resolve_transient = true;
	}
	/* The exit forgot the stream with its answer: so do we. */
	s->state = CS_DONE;
	s->sent_end = s->rcvd_end = true;
	smux_stream_free(s->ms);
	cs_unlink(s);
	if (r.status == UM_OK)
		rec->mux_io->streams_opened++;
	else
		rec->mux_io->streams_failed++;
	s->ops.on_open(s->arg, &r);
}

static const char *
token_status_str(uint8_t st)
{
	static const char *const s[] = { "",
		                         " (unknown issuer)",
		                         " (invalid)",
		                         " (refused epoch)",
		                         " (double spend)",
		                         " (already has a tier)",
		                         " (malformed, or the exit cannot check tokens now)",
		                         " (revoked subject)" };

	return st < UM_ARRAY_LEN(s) ? s[st] : " (unknown status)";
}

static void
cmux_on_msg(void *arg, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len)
{
	struct cio_circ *rec = arg;
	struct circ_io_stream *s = cs_find(rec, stream_id);

	switch (cmd) {
	case RELAY_CONNECTED:
		if (s != NULL)
			cs_connected(rec, s, data, len);
		break;
	case RELAY_RESOLVED:
		if (s != NULL)
			cs_resolved(rec, s, data, len);
		break;
	case RELAY_BEGIN:
	case RELAY_BEGIN_DIR:
	case RELAY_RESOLVE:
	case RELAY_TOKEN:
		cmux_violation(rec, "client-to-exit message sent to the client");
		break;
	case RELAY_TOKEN_ACK: {
		struct relay_token_ack ack;

		if (!rec->token_sent || rec->token_acked ||
		    relay_token_ack_parse(data, len, &ack) != UM_OK) {
			cmux_violation(rec, "unexpected or malformed TOKEN_ACK");
			break;
		}
		rec->token_acked = true;
		rec->token_status = ack.status;
		rec->tier = ack.tier; /* the circuit's tier as the exit sees it (0 if refused) */
		if (ack.status == RELAY_TOKEN_ACCEPTED)
			rec->mux_io->tokens_accepted++;
		else
			rec->mux_io->tokens_refused++;
		log_info(LD_CIRC, "circuit %llu: the exit %s our token%s",
		         (unsigned long long)rec->serial,
		         ack.status == RELAY_TOKEN_ACCEPTED ? "accepted" : "refused",
		         token_status_str(ack.status));
		break;
	}
	default:
		break; /* END / data for a stream we forgot; unknown commands */
	}
}

/*
 * The exit answered END(reason) to s's BEGIN. For a refusal another exit may not share
 * (EXITPOLICY: its policy is stricter than its summary; RESOLVEFAILED, TIMEOUT: its resolver
 * or its routes), remember the exit (and an EXITPOLICY refusal of the port for every stream)
 * and put s back on the waiting list, for a circuit through another exit: at most
 * CIO_STREAM_TRIES exits, within CIRC_IO_STREAM_TIMEOUT_MS of the first attempt. True if s
 * waits again; called from the mux's on_end for s (freeing s->ms here is allowed).
 */
static bool
cs_retry(struct circ_io_stream *s, uint8_t reason)
{
	struct circ_io *io = s->io;
	struct cio_circ *rec = s->rec;
	uint64_t now = um_mono_ms(), now_s = um_wall_s();
	const struct circ_io_hop *x;
	const struct consensus *c;

	if (s->req.cmd != RELAY_BEGIN || rec == NULL || rec->n_hops == 0 ||
	    (reason != RELAY_END_EXITPOLICY && reason != RELAY_END_RESOLVEFAILED &&
	     reason != RELAY_END_TIMEOUT))
		return false;
	x = &rec->hops[rec->n_hops - 1];
	/* A refusal on a circuit that spent a token may be its tier's (PROTOCOL.md 17.6): a
	 * circuit of another tier may be let through, so only tier-0 refusals are remembered
	 * for every stream. */
	if (reason == RELAY_END_EXITPOLICY && !rec->token_sent)
		cpool_refusal_note(&io->refusals, x->id, s->preq.port, now_s);
	if (s->n_tried < CIO_STREAM_TRIES)
		memcpy(s->tried[s->n_tried++], x->id, CIRC_ID_KEY_LEN);
	s->last_reason = reason;
	if (s->n_tried >= CIO_STREAM_TRIES || io->stopping ||
	    now - s->first_ms >= CIRC_IO_STREAM_TIMEOUT_MS)
		return false;
	if ((c = io->env.consensus(io->env.arg, now_s)) != NULL &&
	    cpool_exits_serving(c, &s->preq, &io->refusals,
	                        (const uint8_t(*)[CIRC_ID_KEY_LEN])s->tried, s->n_tried,
	                        now_s) == 0) {
		log_notice(LD_CIRC,
		           "stream to port %u refused by %u exit(s) (%s), no other exit left "
		           "to try",
		           (unsigned)s->preq.port, (unsigned)s->n_tried,
		           relay_end_reason_str(reason));
		io->streams_no_exit++;
		return false;
	}
	log_info(LD_CIRC, "stream to port %u refused by exit %s (%s): trying another exit",
	         (unsigned)s->preq.port, x->nickname, relay_end_reason_str(reason));
	smux_stream_free(s->ms);
	cs_unlink(s);
	list_push_back(&io->waiting, &s->node);
	s->state = CS_WAITING;
	s->id = 0;
	s->start_ms = now;
	io->streams_retried++;
	ev_defer_schedule(io->kick);
	return true;
}

static size_t
cms_on_data(void *arg, const uint8_t *p, size_t n)
{
	struct circ_io_stream *s = arg;

	if (s->state == CS_DONE)
		return 0;
	if (s->state != CS_OPEN) {
		cmux_violation(s->rec, "DATA before CONNECTED");
		return 0;
	}
	return s->ops.on_data(s->arg, p, n);
}

static void
cms_on_end(void *arg, uint8_t reason)
{
	struct circ_io_stream *s = arg;

	if (s->state == CS_DONE)
		return;
	if (s->state == CS_OPENING) {
		/* The exit refused: the stream never opened. Another exit may serve it. */
		if (cs_retry(s, reason))
			return;
		s->rcvd_end = true;
		cs_fail(s, reason);
		return;
	}
	s->rcvd_end = true;
	if (reason != RELAY_END_DONE) {
		s->sent_end = true;
		s->state = CS_DONE;
	}
	s->ops.on_end(s->arg, reason);
}

static void
cms_on_writable(void *arg)
{
	struct circ_io_stream *s = arg;

	if (s->state == CS_OPEN)
		s->ops.on_writable(s->arg);
}

static void
cms_on_end_sent(void *arg)
{
	struct circ_io_stream *s = arg;

	if (s->state != CS_DONE && s->ops.on_end_sent != NULL)
		s->ops.on_end_sent(s->arg);
}

static const struct smux_stream_ops cms_ops = {
	.on_data = cms_on_data,
	.on_end = cms_on_end,
	.on_writable = cms_on_writable,
	.on_end_sent = cms_on_end_sent,
};

static const struct smux_ops cmux_ops_tmpl = {
	.send = cmux_send,
	.queued = cmux_queued,
	.on_msg = cmux_on_msg,
	.on_violation = cmux_violation,
};

static void
iso_hash(const struct circ_io *io, const uint8_t *iso, size_t len, uint8_t out[32])
{
	hash_blake2b(out, 32, iso, len, io->iso_key, sizeof(io->iso_key));
}

/* May rec's exit carry s (c NULL: no consensus to judge by, the exit decides)? */
static bool
circ_serves(const struct circ_io *io, const struct consensus *c, const struct cio_circ *rec,
            const struct circ_io_stream *s, uint64_t now_s)
{
	const struct relay_entry *e;

	if (c == NULL)
		return true;
	return (e = rec_exit(c, rec)) != NULL && exit_serves(io, s, e, now_s);
}

/* A built circuit for s's key whose exit serves s, binding a fresh one; NULL if none. */
static struct cio_circ *
pick_circ(struct circ_io *io, const struct consensus *c, const struct circ_io_stream *s,
          uint64_t now, uint64_t now_s)
{
	const uint8_t *key = s->iso;
	struct list_node *pos;
	struct cio_circ *fresh = NULL;
	size_t n_bound = 0;

	list_for_each (pos, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		if (rec->state != CIO_BUILT || rec->circ == NULL || rec->mux == NULL)
			continue;
		if (rec->bound) {
			n_bound++;
			if (memcmp(rec->iso, key, 32) == 0 &&
			    now - rec->bound_ms < CIRC_IO_DIRTY_MS &&
			    smux_count(rec->mux) < SMUX_STREAMS_MAX &&
			    circ_serves(io, c, rec, s, now_s))
				return rec;
		} else if (fresh == NULL && circ_serves(io, c, rec, s, now_s)) {
			fresh = rec;
		}
	}
	if (fresh == NULL || n_bound >= CIRC_IO_ISOLATED_MAX)
		return NULL;
	fresh->bound = true;
	memcpy(fresh->iso, key, 32);
	fresh->bound_ms = now;
	fresh->idle_since_ms = now;
	return fresh;
}

/* Put a waiting stream on rec and send its BEGIN / RESOLVE. */
static void
cs_attach(struct circ_io *io, struct cio_circ *rec, struct circ_io_stream *s)
{
	uint8_t b[RELAY_DATA_MAX];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	uint16_t id = smux_free_id(rec->mux);
	int ret;

	(void)io;
	list_remove(&s->node);
	list_push_back(&rec->streams, &s->node);
	s->rec = rec;
	rec->n_streams++;
	if (id == 0 || smux_stream_new(rec->mux, id, &cms_ops, s, &s->ms) != UM_OK) {
		cs_unlink(s);
		cs_fail(s, RELAY_END_RESOURCELIMIT);
		return;
	}
	s->id = id;
	s->state = CS_OPENING;
	if (s->req.cmd == RELAY_RESOLVE) {
		struct relay_resolve rq;

		memset(&rq, 0, sizeof(rq));
		memcpy(rq.name, s->req.target.name, sizeof(rq.name));
		ret = relay_resolve_write(&w, &rq);
	} else {
		struct relay_begin bg;

		memset(&bg, 0, sizeof(bg));
		bg.target = s->req.target;
		bg.flags = s->req.flags;
		ret = relay_begin_write(&w, &bg);
	}
	if (ret != UM_OK) {
		smux_stream_free(s->ms);
		cs_unlink(s);
		cs_fail(s, RELAY_END_INTERNAL);
		return;
	}
	if (smux_send(rec->mux, s->req.cmd, id, b, w.len) != UM_OK && !rec->gone) {
		/* (When the circuit died while sending, streams_circ_gone() failed s already and
		 * its owner may have freed it: s is not touched then.) */
		s->state = CS_DONE;
		smux_stream_free(s->ms);
		cs_unlink(s);
		cs_fail(s, RELAY_END_DESTROY);
	}
}

/*
 * Is there an unbound circuit whose exit will serve s: being built (within its timeout), or
 * built but not given to s because CIRC_IO_ISOLATED_MAX circuits are bound? Then s waits
 * for it rather than having yet another one built.
 */
static bool
pending_serves(const struct circ_io *io, const struct consensus *c, const struct circ_io_stream *s,
               uint64_t now_s)
{
	const struct list_node *pos;

	list_for_each (pos, &io->circs) {
		const struct cio_circ *rec = list_entry_const(pos, struct cio_circ, node);

		if ((rec->state == CIO_BUILT || !rec->timed_out) && !rec->bound && !rec->gone &&
		    circ_serves(io, c, rec, s, now_s))
			return true;
	}
	return false;
}

static unsigned
on_demand_building(const struct circ_io *io)
{
	const struct list_node *pos;
	unsigned n = 0;

	list_for_each (pos, &io->circs) {
		const struct cio_circ *rec = list_entry_const(pos, struct cio_circ, node);

		if (rec->on_demand && rec->state != CIO_BUILT && !rec->timed_out)
			n++;
	}
	return n;
}

/*
 * Give waiting streams a circuit (PROTOCOL.md 15.4): a built one whose exit serves the
 * stream; else wait for one being built that will; else build one for it (at most
 * CIO_ONDEMAND_MAX at once, after the build backoff); and when no exit of the consensus may
 * serve it at all, fail it at once (EXITPOLICY, or the last exit's refusal). Returns true
 * when a stream left the waiting list (the lists may have changed: the kick runs again).
 */
/* Does c list any relay usable as an exit at all (whatever its policy)? */
static bool
consensus_has_exit(const struct consensus *c)
{
	for (size_t i = 0; i < c->n_relays; i++)
		if (path_relay_is_exit(&c->relays[i]))
			return true;
	return false;
}

static bool
streams_attach_waiting(struct circ_io *io)
{
	struct list_node *pos, *tmp;
	uint64_t now = um_mono_ms(), now_s = um_wall_s();
	const struct consensus *c = io->env.consensus(io->env.arg, now_s);
	unsigned n_building = on_demand_building(io);

	list_for_each_safe (pos, tmp, &io->waiting) {
		struct circ_io_stream *s = list_entry(pos, struct circ_io_stream, node);
		struct cio_circ *rec = pick_circ(io, c, s, now, now_s);

		if (rec != NULL) {
			cs_attach(io, rec, s);
			return true;
		}
		/* No consensus yet, or one without a single usable exit (a network starting up:
		 * its relays not tested yet): wait for the next one, up to the open timeout,
		 * rather than blame an exit policy nobody has published. */
		if (c == NULL || !consensus_has_exit(c))
			continue;
		if (cpool_exits_serving(c, &s->preq, &io->refusals,
		                        (const uint8_t(*)[CIRC_ID_KEY_LEN])s->tried, s->n_tried,
		                        now_s) == 0) {
			uint8_t reason =
			        s->last_reason != 0 ? s->last_reason : RELAY_END_EXITPOLICY;

			if (s->n_tried == 0)
				log_notice(
				        LD_CIRC,
				        "stream refused: no exit in the consensus allows port %u",
				        (unsigned)s->preq.port);
			else
				log_notice(LD_CIRC,
				           "stream to port %u refused by %u exit(s) (%s), no other "
				           "exit left to try",
				           (unsigned)s->preq.port, (unsigned)s->n_tried,
				           relay_end_reason_str(reason));
			io->streams_no_exit++;
			cs_unlink(s);
			cs_fail(s, reason);
			return true;
		}
		if (io->stopping || pending_serves(io, c, s, now_s) ||
		    n_building >= CIO_ONDEMAND_MAX || now < io->next_build_ms)
			continue;
		if (launch(io, c, now, now_s, &s->preq, s) == UM_OK)
			n_building++;
	}
	return false;
}

/* Timeouts of opens, idle isolated circuits past their dirtiness. */
static void
streams_upkeep(struct circ_io *io, uint64_t now)
{
	struct list_node *pos, *tmp, *p2, *t2;

	list_for_each_safe (pos, tmp, &io->waiting) {
		struct circ_io_stream *s = list_entry(pos, struct circ_io_stream, node);

		if (now - s->start_ms > CIRC_IO_STREAM_TIMEOUT_MS) {
			/* After a retry: the refusal that sent it back tells the app more. */
			cs_unlink(s);
			cs_fail(s, s->last_reason != 0 ? s->last_reason : RELAY_END_TIMEOUT);
			return; /* the owner may have closed others: next tick */
		}
	}
	list_for_each_safe (pos, tmp, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		list_for_each_safe (p2, t2, &rec->streams) {
			struct circ_io_stream *s = list_entry(p2, struct circ_io_stream, node);

			if (s->state == CS_OPENING &&
			    now - s->start_ms > CIRC_IO_STREAM_TIMEOUT_MS) {
				struct smux_stream *ms = s->ms;

				/* Detach s first: the END may kill the circuit, whose teardown
				 * must not report s a second time. */
				s->state = CS_DONE;
				s->ms = NULL;
				cs_unlink(s);
				smux_stream_end(ms, RELAY_END_TIMEOUT, um_mono_ns());
				smux_stream_free(ms);
				cs_fail(s, RELAY_END_TIMEOUT);
				return;
			}
		}
		if (rec->bound && rec->n_streams == 0 && rec->circ != NULL &&
		    now - rec->bound_ms >= CIRC_IO_DIRTY_MS &&
		    now - rec->idle_since_ms >= CIRC_IO_STREAM_TIMEOUT_MS) {
			enter(io);
			circ_close(io->core, rec->circ, CIRC_REASON_FINISHED, now);
			leave(io);
			return;
		}
		/* A circuit built for a stream that no longer wanted it, unused for as long, is
		 * closed while the pool is over its target (Tor's CircuitIdleTimeout). */
		if (rec->on_demand && !rec->bound && rec->state == CIO_BUILT && rec->circ != NULL &&
		    now - rec->start_ms >= CIRC_IO_DIRTY_MS &&
		    pool_live(io) > io->env.circuits_prebuilt) {
			enter(io);
			circ_close(io->core, rec->circ, CIRC_REASON_FINISHED, now);
			leave(io);
			return;
		}
	}
}

int
circ_io_stream_open(struct circ_io *io, const struct circ_io_stream_req *req,
                    const struct circ_io_stream_ops *ops, void *arg, struct circ_io_stream **out)
{
	struct circ_io_stream *s;

	*out = NULL;
	if (!io->env.client || io->stopping)
		return UM_ERR_STATE;
	if (req == NULL || ops == NULL || ops->on_open == NULL || ops->on_data == NULL ||
	    ops->on_end == NULL || ops->on_writable == NULL || req->iso_len > CIRC_IO_ISO_MAX ||
	    (req->iso_len > 0 && req->iso == NULL) ||
	    (req->cmd != RELAY_BEGIN && req->cmd != RELAY_RESOLVE) ||
	    (req->cmd == RELAY_RESOLVE && req->target.type != RELAY_HOST_NAME) ||
	    (req->cmd == RELAY_BEGIN && req->target.port == 0))
		return UM_ERR_INVALID;
	if (io->n_streams >= CIRC_IO_STREAMS_MAX)
		return UM_ERR_TOO_LARGE;
	s = um_xcalloc(1, sizeof(*s));
	s->io = io;
	s->ops = *ops;
	s->arg = arg;
	s->req = *req;
	s->req.iso = NULL;
	s->req.iso_len = 0;
	iso_hash(io, req->iso_len > 0 ? req->iso : (const uint8_t *)"", req->iso_len, s->iso);
	if (req->cmd == RELAY_BEGIN) {
		/* What the exit must allow; RESOLVE is not restricted by policy (10.5). */
		s->preq.port = req->target.port;
		if (req->target.type == RELAY_HOST_IPV4) {
			s->preq.dest = PATH_DEST_IPV4;
			memcpy(s->preq.addr, req->target.addr, 4);
		} else if (req->target.type == RELAY_HOST_IPV6) {
			s->preq.dest = PATH_DEST_IPV6;
			memcpy(s->preq.addr, req->target.addr, 16);
		} else {
			s->preq.dest = PATH_DEST_HOSTNAME;
		}
	}
	s->state = CS_WAITING;
	s->start_ms = s->first_ms = um_mono_ms();
	list_push_back(&io->waiting, &s->node);
	io->n_streams++;
	ev_defer_schedule(io->kick);
	*out = s;
	return UM_OK;
}

int
circ_io_stream_write(struct circ_io_stream *s, const uint8_t *p, size_t n)
{
	if (s->state != CS_OPEN || s->ms == NULL || s->sent_end)
		return UM_ERR_CLOSED;
	return smux_stream_write(s->ms, p, n, um_mono_ns());
}

bool
circ_io_stream_writable(const struct circ_io_stream *s)
{
	return s->state == CS_OPEN && s->ms != NULL && smux_stream_writable(s->ms);
}

void
circ_io_stream_drained(struct circ_io_stream *s, size_t n, size_t buffered)
{
	if (s->state == CS_OPEN && s->ms != NULL)
		smux_stream_drained(s->ms, n, buffered, um_mono_ns());
}

void
circ_io_stream_shutdown(struct circ_io_stream *s)
{
	if (s->state != CS_OPEN || s->ms == NULL || s->sent_end)
		return;
	s->sent_end = true;
	smux_stream_end(s->ms, RELAY_END_DONE, um_mono_ns());
}

bool
circ_io_stream_finished(const struct circ_io_stream *s)
{
	return s->rcvd_end &&
	       (s->ms == NULL || smux_stream_end_sent(s->ms) || !smux_stream_attached(s->ms));
}

void
circ_io_stream_close(struct circ_io_stream *s, uint8_t reason)
{
	if (s == NULL)
		return;
	s->state = CS_DONE; /* no callbacks from here on */
	if (s->ms != NULL && smux_stream_attached(s->ms) &&
	    !(smux_stream_end_sent(s->ms) && s->rcvd_end))
		smux_stream_end(s->ms,
		                reason != 0 && reason != RELAY_END_DONE ? reason : RELAY_END_MISC,
		                um_mono_ns());
	smux_stream_free(s->ms);
	cs_unlink(s);
	s->io->n_streams--;
	free(s);
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

_Static_assert((int)RELAY_LS_LINK_KEY_LEN == (int)X25519_KEY_LEN,
               "EXTEND2 link key is an XK static key");

/*
 * The core found no open link proving t's identity (docs/PROTOCOL.md 13.4): open an XK link
 * to the address t gives. The link key comes from the EXTEND2 itself when the client sent one
 * (ours, 11.6), else from our consensus; a relay must not need the client's view of the
 * network, which may be newer than ours. Trusting the client's key is safe: XK only completes
 * with a responder holding that key's private half, and link_mgr_connect() with expected_id
 * fails the handshake (handshake.c accept_identity(): UM_ERR_AUTH) unless the responder's
 * hello carries a link certificate, signed by the Ed25519 identity t names, for exactly that
 * key. A wrong key or an impostor fails the link, and the core sends CONNECTFAILED.
 */
static void
link_request(struct circ_io *io, const struct relay_extend2 *t)
{
	const struct consensus *c;
	const uint8_t *link_key = NULL;
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
	if (t->has_link_key) {
		link_key = t->link_key;
	} else {
		c = io->env.consensus(io->env.arg, um_wall_s());
		k = c != NULL ? path_find_relay(c, t->ed25519_id) : -1;
		if (k >= 0)
			link_key = c->relays[k].link_key;
	}
	if (link_key == NULL) {
		log_info(LD_CIRC, "EXTEND2 without a link key to a relay not in our consensus: "
		                  "refused");
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
	                                         link_key, addr, &l)
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

/*
 * Tell the core what rec's streams hold toward their applications, for its OOM rule. exact:
 * ask the owners for their oldest queued byte (the tick); otherwise (after DATA) only a
 * change of the total is reported, aged from the last exact look (an upper bound until the
 * next tick) or from now for a backlog that was empty. May close circuits, rec's too.
 */
static void
rec_report_backlog(struct circ_io *io, struct cio_circ *rec, bool exact)
{
	uint64_t now = ev_now_ms(io->env.loop), core_now, age;
	size_t bytes;

	if (rec->gone || rec->mux == NULL || rec->circ == NULL)
		return;
	bytes = smux_recv_queued(rec->mux);
	if (exact) {
		struct list_node *pos;

		rec->backlog_since = UINT64_MAX;
		list_for_each (pos, &rec->streams) {
			struct circ_io_stream *s = list_entry(pos, struct circ_io_stream, node);

			if (s->state == CS_OPEN && s->ops.queued_since != NULL)
				rec->backlog_since =
				        UM_MIN(rec->backlog_since, s->ops.queued_since(s->arg));
		}
	} else if (bytes == rec->backlog) {
		return;
	} else if (rec->backlog == 0) {
		rec->backlog_since = now; /* fresh bytes */
	}
	if (bytes == 0 || rec->backlog_since > now)
		rec->backlog_since = bytes == 0 ? UINT64_MAX : now;
	rec->backlog = bytes;
	age = bytes == 0 ? 0 : now - rec->backlog_since;
	core_now = um_mono_ms();
	enter(io);
	circ_set_stream_backlog(io->core, rec->circ, bytes, core_now - UM_MIN(age, core_now),
	                        core_now);
	leave(io);
}

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

static bool
op_may_create(void *arg, struct circ_link *cl)
{
	struct circ_io *io = arg;

	return io->env.may_create == NULL || io->env.may_create(io->env.arg, as_link(cl));
}

/* Spend one token on a circuit just built: to its exit, before any BEGIN (17.5). */
static void
send_token(struct circ_io *io, struct cio_circ *rec, uint64_t now)
{
	uint8_t body[RELAY_DATA_MAX];
	size_t len = 0;

	if (io->env.take_token == NULL || rec->circ == NULL || rec->n_hops == 0 ||
	    io->env.take_token(io->env.arg, rec->hops[rec->n_hops - 1].id, body, sizeof(body),
	                       &len) != UM_OK)
		return;
	if (circ_client_send(io->core, rec->circ, rec->n_hops, RELAY_TOKEN, 0, body, len, now) ==
	    UM_OK)
		rec->token_sent = true;
	um_memzero(body, sizeof(body));
}

static void
on_built(struct circ_io *io, struct cio_circ *rec, uint64_t now)
{
	char path[3 * (RELAY_DESC_NICKNAME_MAX + 16)];

	rec->state = CIO_BUILT;
	rec->build_ms = now - rec->start_ms;
	rec->build_us = (um_mono_ns() - rec->start_ns) / 1000;
	if (rec->mux == NULL) {
		struct smux_ops ops = cmux_ops_tmpl;

		ops.arg = rec;
		rec->mux_io = io;
		if (smux_new(FLOW_SIDE_CLIENT, &ops, &rec->mux) != UM_OK)
			log_warn(LD_BUG, "circuit %llu: no stream state",
			         (unsigned long long)circ_serial(rec->circ));
	}
	send_token(io, rec, now);
	ev_defer_schedule(io->kick); /* streams may be waiting for it */
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
	(void)now;
	if (io->sx != NULL)
		stream_exit_on_msg(io->sx, ev->circ, ev->cmd, ev->stream_id, ev->data, ev->len,
		                   ev->digest, um_mono_ns());
}

static int
sx_send(void *arg, struct circuit *circ, uint8_t cmd, uint16_t stream_id, const uint8_t *data,
        size_t len, uint8_t digest[RELAY_DIGEST_LEN])
{
	struct circ_io *io = arg;
	int ret;

	enter(io);
	ret = circ_relay_send(io->core, circ, cmd, stream_id, data, len, um_mono_ms());
	if (ret == UM_OK)
		ret = circ_sent_digest(circ, 0, digest);
	leave(io);
	return ret;
}

static void
sx_close(void *arg, struct circuit *circ)
{
	struct circ_io *io = arg;

	enter(io);
	circ_close(io->core, circ, CIRC_REASON_PROTOCOL, um_mono_ms());
	leave(io);
}

static void
sx_backlog(void *arg, struct circuit *circ, size_t bytes, uint64_t age_ms)
{
	struct circ_io *io = arg;
	uint64_t now = um_mono_ms();

	enter(io);
	circ_set_stream_backlog(io->core, circ, bytes, now - UM_MIN(age_ms, now), now);
	leave(io);
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
		} else if (io->sx != NULL) {
			stream_exit_circ_closed(io->sx, ev->circ);
		}
		break;
	case CIRC_EV_MSG:
		if (rec != NULL && !rec->gone && rec->mux != NULL && ev->digest != NULL &&
		    ev->hop == rec->n_hops) {
			smux_on_msg(rec->mux, ev->cmd, ev->stream_id, ev->data, ev->len, ev->digest,
			            um_mono_ns());
			/* DATA grows what the streams hold toward the applications. */
			if (ev->cmd == RELAY_DATA)
				rec_report_backlog(io, rec, false);
		}
		break;
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

/* Per built circuit: send the SENDMEs its mux held back if its streams' owners drained
 * meanwhile (streams freed outside the mux's callbacks do not tell it), and report what
 * they hold. */
static void
streams_tick(struct circ_io *io)
{
	struct list_node *pos;
	struct cio_circ **v;
	size_t n = list_count(&io->circs), i = 0;

	if (n == 0)
		return;
	/* A snapshot: a send may close circuits (moved to dead_recs, freed by the kick). */
	v = um_xcalloc(n, sizeof(*v));
	list_for_each (pos, &io->circs)
		v[i++] = list_entry(pos, struct cio_circ, node);
	for (i = 0; i < n; i++) {
		if (v[i]->gone || v[i]->mux == NULL)
			continue;
		smux_pump(v[i]->mux, um_mono_ns());
		rec_report_backlog(io, v[i], true);
	}
	free(v);
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
	if (streams_attach_waiting(io))
		ev_defer_schedule(io->kick);
	dead_recs_free(io);
}

static void
on_tick(void *arg)
{
	struct circ_io *io = arg;

	enter(io);
	circ_core_tick(io->core, um_mono_ms());
	leave(io);
	pool_maintain(io);
	streams_upkeep(io, um_mono_ms());
	streams_tick(io);
	if (!list_is_empty(&io->waiting))
		ev_defer_schedule(io->kick); /* builds for waiting streams after a backoff */
}

int
circ_io_new(const struct circ_io_env *env, const struct circ_relay_keys *keys, struct circ_io **out,
            char *why, size_t why_len)
{
	struct circ_config cfg;
	struct circ_ops ops = { .send_cell = op_send_cell,
		                .on_event = op_on_event,
		                .may_create = op_may_create };
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
	list_init(&io->waiting);
	list_init(&io->dead_recs);
	rand_bytes(io->iso_key, sizeof(io->iso_key));
	cpool_reqs_init(&io->reqs);
	path_config_default(&io->pcfg);
	io->pcfg.hops = env->hops != 0 ? env->hops : 3;
	io->pcfg.prefer_bonded = env->prefer_bonded;
	path_health_init(&io->health);
	cpool_refusals_init(&io->refusals);
	cpool_ports_init(&io->ports);
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
	if (env->node_id != NULL) {
		struct stream_exit_ops so = {
			.send = sx_send, .close = sx_close, .backlog = sx_backlog, .arg = io
		};

		io->sx = stream_exit_new(env->loop, env->exit, &so);
	}
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
	/* The exit's streams first (they send nothing now: their sockets are reset). */
	stream_exit_free(io->sx);
	/* Client streams were closed by their owners (front ends are freed before this). */
	list_for_each_safe (pos, tmp, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		list_remove(&rec->node);
		while (!list_is_empty(&rec->streams)) {
			struct circ_io_stream *s =
			        list_entry(rec->streams.next, struct circ_io_stream, node);

			smux_stream_free(s->ms);
			cs_unlink(s);
		}
		smux_free(rec->mux);
		free(rec);
	}
	while (!list_is_empty(&io->waiting))
		cs_unlink(list_entry(io->waiting.next, struct circ_io_stream, node));
	dead_recs_free(io);
	circ_core_free(io->core);
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
	struct list_node *pos;

	enter(io);
	circ_core_link_blocked(io->core, as_circ_link(l), false, um_mono_ms());
	leave(io);
	/* Queues toward the link shrank: package what the windows allow. */
	if (io->sx != NULL)
		stream_exit_pump(io->sx, um_mono_ns());
	list_for_each (pos, &io->circs) {
		struct cio_circ *rec = list_entry(pos, struct cio_circ, node);

		if (rec->mux != NULL && !rec->gone)
			smux_pump(rec->mux, um_mono_ns());
	}
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
		info.build_us = rec->state == CIO_BUILT ? rec->build_us : 0;
		info.age_ms = now - rec->start_ms;
		info.streams = rec->n_streams;
		info.isolated = rec->bound;
		info.token = !rec->token_sent         ? "none"
		             : !rec->token_acked      ? "sent"
		             : rec->token_status == 0 ? "accepted"
		                                      : "refused";
		info.tier = rec->tier;
		if (rec->bound)
			memcpy(&info.iso_tag, rec->iso, sizeof(info.iso_tag));
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
	st->tokens_accepted = io->tokens_accepted;
	st->tokens_refused = io->tokens_refused;
	st->closed = io->n_closed_circs;
	st->timeout_ms = cbt_timeout_ms(&io->cbt);
	st->timeout_learned = cbt_is_learned(&io->cbt);
	circ_core_relay_counts(io->core, &st->relay);
	circ_core_stats(io->core, &st->core);
	st->streams_opened = io->streams_opened;
	st->streams_failed = io->streams_failed;
	st->streams_retried = io->streams_retried;
	st->streams_no_exit = io->streams_no_exit;
	{
		const struct list_node *pos;

		list_for_each (pos, &io->waiting)
			st->streams_waiting++;
		st->streams_open = (uint32_t)(io->n_streams - st->streams_waiting);
	}
	if (io->sx != NULL) {
		struct stream_exit_stats xs;

		stream_exit_stats(io->sx, &xs);
		st->exit_streams = (uint32_t)xs.streams;
	}
	snprintf(st->last_error, sizeof(st->last_error), "%s", io->last_error);
}
