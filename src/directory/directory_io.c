/* SPDX-License-Identifier: MIT */
/*
 * The directory's I/O (directory_io.h): the authority role's HTTP server, voting schedule
 * and reachability tests, and the relay role's descriptor uploads. The protocol logic is in
 * dirserv.c (authority state), descriptor.c (relay descriptors) and dirclient.c (clients);
 * this file only moves bytes and keeps time.
 *
 * Time: periods are in wall-clock seconds (um_wall_s()), aligned to unix time on every
 * authority; the steps are checked against the wall clock in milliseconds by a timer every
 * TICK_MS, so a clock step moves the next step rather than losing it.
 *
 * Shortcuts, admitted: a reachability probe counts as a success when an
 * open link with the relay's identity exists, whoever opened it (the link layer
 * authenticated that identity either way); probe links are left to close when idle.
 */
#include "directory/directory_io.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "evloop/http.h"
#include "evloop/http_client.h"
#include "link/link_msg.h"
#include "directory/dirserv_st.h"

enum {
	TICK_MS = 250, /* schedule steps land within a quarter second of their time */
	/* Bootstrap (no live consensus): the first period voted for starts at least this far
	 * ahead, so the votes can meet before it, and signatures go out again this often. */
	BOOT_MIN_LEAD_MS = 750,
	BOOT_RESIGN_MS = 500,
	START_HOLD_MS = 1000, /* just started: let relays starting with us upload */
	PROBE_HOLD_MS = 1000, /* probes of new relays in flight: a vote waits this long */
	ADDR_TEXT_MAX = EV_ADDR_STRLEN,
	URL_MAX = 256,
};

uint64_t
dirauth_revs_every_s(uint64_t interval_s)
{
	return UM_MAX(interval_s / 4, (uint64_t)DIRIO_REVS_EVERY_MIN_S);
}

uint64_t
dirauth_issuer_every_s(uint64_t interval_s)
{
	return UM_MAX(interval_s / 2, (uint64_t)DIRIO_ISSUER_EVERY_MIN_S);
}

uint64_t
dirauth_relaytrust_every_s(uint64_t interval_s)
{
	return UM_MAX(interval_s / 4, (uint64_t)DIRIO_RELAYTRUST_EVERY_MIN_S);
}

void
dirauth_period_next(uint64_t now_s, uint64_t interval_s, struct dirauth_period *out)
{
	uint64_t p = interval_s < 2 ? 2 : interval_s;
	uint64_t t = (now_s / p + 1) * p;

	out->valid_after_s = t;
	out->fresh_until_s = t + p;
	out->valid_until_s = t + 3 * p;
	out->vote_at_s = t - p / 2;
	out->fetch_at_s = t - p / 4;
	out->compute_at_s = t;
	out->resign1_at_s = t + (p / 8 > 1 ? p / 8 : 1);
	out->resign2_at_s = t + (p / 4 > 2 ? p / 4 : 2);
}

/* ===================================================================================== */
/* The authority role                                                                     */
/* ===================================================================================== */

enum auth_call_kind {
	CALL_POST_VOTE = 0,
	CALL_GET_VOTE = 1,
	CALL_POST_SIG = 2,
	CALL_KINDS = 3,
};

static const char *const call_names[CALL_KINDS] = { "vote upload", "vote fetch",
	                                            "signature upload" };

struct auth_call {
	struct dirauth_io *io;
	struct ev_http_call *call; /* NULL when idle */
	enum auth_call_kind kind;
	size_t peer;
};

enum auth_phase {
	PH_WAIT_VOTE = 0,
	PH_VOTED,
	PH_FETCHED,
	PH_COMPUTED,
	PH_RESIGNED1,
};

struct reach_probe {
	uint8_t id[RELAY_DESC_ID_LEN];
	uint64_t deadline_s;
};

/*
 * The documents an authority fetches from each of its issuers, each on its own schedule and
 * with its own log rate limit: the key list (5.8), the revocation feed (provider bindings,
 * 18.4; only with provider checks) and the relay-trust feed (19.2; only with its check).
 */
enum doc_kind { DOC_KEYS, DOC_REVS, DOC_RELAYTRUST, DOC_KINDS };

/* One issuer document we fetch. */
struct issuer_fetch {
	struct dirauth_io *io;
	enum doc_kind kind;
	struct ev_http_call *call; /* NULL when idle */
	uint8_t id[DIR_ISSUER_ID_LEN];
	char *url;       /* the issuer's base URL */
	uint64_t next_s; /* fetch again at (0: now) */
	uint64_t seq;    /* the sequence number we hold (for the log) */
	struct log_ratelim rl;
};

struct dirauth_io {
	struct ev_loop *loop;
	struct dirserv *ds;
	struct link_mgr *links;
	uint64_t interval_s;
	size_t n_http;
	struct ev_http *http[DIRIO_MAX_LISTEN];
	char *bound[DIRIO_MAX_LISTEN + 1];
	size_t n_peers;
	char *peer_urls[DIRIO_MAX_AUTHORITIES];
	struct auth_call calls[CALL_KINDS][DIRIO_MAX_AUTHORITIES];
	struct ev_timer *timer;
	struct dirauth_period period;
	enum auth_phase phase;
	bool have_sig;
	uint8_t sig_msg[DIRSERV_SIG_MSG_LEN];
	uint8_t *vote; /* our encoded vote for period.valid_after_s, or NULL */
	size_t vote_len;
	uint64_t next_reach_s;
	bool new_desc;                /* a descriptor arrived: probe it at the next tick */
	uint64_t hold_vote_until_ms;  /* probes of new relays in flight: vote after them */
	uint64_t start_hold_until_ms; /* just started: let relays starting with us upload */
	bool early;                   /* this period's vote was a bootstrap vote */
	uint64_t resign1_ms, resign2_ms;
	size_t n_probes;
	struct reach_probe probes[DIRIO_REACH_MAX_PROBES];
	size_t n_issuers;
	struct issuer_fetch docs[DOC_KINDS][DIR_MAX_ISSUERS];
	bool revs; /* fetch the issuers' revocation feeds too */
	struct log_ratelim rl_peer;
	void (*on_period_end)(void *arg, uint64_t now_s);
	void *arg;
};

static void
source_key_v6_prefix(char *ip, size_t len)
{
	struct in6_addr a;
	char text[INET6_ADDRSTRLEN];

	if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, &a) != 1)
		return;
	memset(&a.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a, text, sizeof(text)) != NULL)
		snprintf(ip, len, "%s/64", text);
}

static void
auth_http(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct dirauth_io *io = arg;
	char ip[ADDR_TEXT_MAX];

	/* The uploader's address keys its token bucket in dirserv; never logged. An IPv6
	 * host usually holds a whole /64, so the /64 is one source. */
	if (ev_http_req_peer(req, ip, sizeof(ip)) != UM_OK)
		snprintf(ip, sizeof(ip), "unknown");
	source_key_v6_prefix(ip, sizeof(ip));
	dirserv_handle(io->ds, req->method, req->path, ev_http_req_header(req, "If-None-Match"),
	               req->body, req->body_len, ip, um_wall_s(), resp);
	/* A new descriptor: test its relay's reachability at the next tick rather than at the
	 * next round, so it can be Running in the very next vote. */
	if (resp->status == 200 && strcmp(req->method, "POST") == 0 &&
	    (strcmp(req->path, "/v1/desc") == 0 ||
	     strcmp(req->path, "/v1/provider/relay/upsert") == 0)) {
		io->next_reach_s = 0;
		io->new_desc = true;
	}
}

static int
listen_one(struct dirauth_io *io, const char *addr, char *why, size_t why_len)
{
	struct sockaddr_storage ss, bound;
	socklen_t len = 0, blen = sizeof(bound);
	char text[ADDR_TEXT_MAX];
	int fd = -1, ret;

	if ((ret = ev_addr_parse_listen(addr, &ss, &len)) != UM_OK) {
		snprintf(why, why_len, "directory.listen %s is not host:port", addr);
		return UM_ERR_INVALID;
	}
	if ((ret = ev_tcp_listen_fd((const struct sockaddr *)&ss, DIRIO_HTTP_BACKLOG, &fd)) !=
	    UM_OK) {
		snprintf(why, why_len, "cannot listen for directory HTTP on %s: %s", addr,
		         um_err_str(ret));
		return ret;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0 ||
	    ev_addr_format((const struct sockaddr *)&bound, text, sizeof(text)) != UM_OK)
		snprintf(text, sizeof(text), "%s", addr);
	/* ev_http_new owns fd from here, on failure too. */
	if ((ret = ev_http_new(io->loop, fd, DIRIO_HTTP_MAX_BODY, auth_http, io,
	                       &io->http[io->n_http])) != UM_OK) {
		snprintf(why, why_len, "cannot serve directory HTTP on %s: %s", addr,
		         um_err_str(ret));
		return ret;
	}
	io->bound[io->n_http] = um_xstrdup(text);
	io->n_http++;
	return UM_OK;
}

int
dirauth_io_new(struct ev_loop *loop, const struct dirauth_io_config *cfg, struct dirauth_io **out,
               char *why, size_t why_len)
{
	struct dirauth_io *io;
	int ret = UM_ERR_INVALID;

	*out = NULL;
	if (cfg->ds == NULL || cfg->n_listen == 0 || cfg->n_listen > DIRIO_MAX_LISTEN ||
	    cfg->n_peers >= DIRIO_MAX_AUTHORITIES || cfg->vote_interval_s < 2 ||
	    cfg->n_issuers > DIR_MAX_ISSUERS ||
	    (cfg->n_issuers > 0 && (cfg->issuer_ids == NULL || cfg->issuer_urls == NULL))) {
		snprintf(why, why_len, "bad directory authority configuration");
		return UM_ERR_INVALID;
	}
	io = um_xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->ds = cfg->ds;
	io->links = cfg->links;
	io->interval_s = cfg->vote_interval_s;
	io->on_period_end = cfg->on_period_end;
	io->arg = cfg->arg;
	io->rl_peer = (struct log_ratelim)LOG_RATELIM_INIT(60000);
	io->n_issuers = cfg->n_issuers;
	io->revs = cfg->fetch_revocations;
	for (size_t i = 0; i < cfg->n_issuers; i++) {
		for (size_t k = 0; k < DOC_KINDS; k++) {
			struct issuer_fetch *f = &io->docs[k][i];

			f->io = io;
			f->kind = (enum doc_kind)k;
			f->rl = (struct log_ratelim)LOG_RATELIM_INIT(60000);
			memcpy(f->id, cfg->issuer_ids[i], DIR_ISSUER_ID_LEN);
			f->url = um_xstrdup(cfg->issuer_urls[i]);
		}
	}
	io->n_peers = cfg->n_peers;
	for (size_t i = 0; i < cfg->n_peers; i++)
		io->peer_urls[i] = um_xstrdup(cfg->peer_urls[i]);
	for (size_t k = 0; k < CALL_KINDS; k++) {
		for (size_t i = 0; i < DIRIO_MAX_AUTHORITIES; i++) {
			io->calls[k][i].io = io;
			io->calls[k][i].kind = (enum auth_call_kind)k;
			io->calls[k][i].peer = i;
		}
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		if ((ret = listen_one(io, cfg->listen[i], why, why_len)) != UM_OK)
			goto out;
	}
	ret = UM_OK;
out:
	if (ret != UM_OK) {
		dirauth_io_free(io);
		return ret;
	}
	*out = io;
	return UM_OK;
}

const char *
dirauth_io_bound(const struct dirauth_io *io, size_t i)
{
	return i < io->n_http ? io->bound[i] : NULL;
}

static void
call_cancel(struct auth_call *c)
{
	ev_http_call_cancel(c->call);
	c->call = NULL;
}

void
dirauth_io_free_(struct dirauth_io *io)
{
	if (io == NULL)
		return;
	for (size_t k = 0; k < CALL_KINDS; k++) {
		for (size_t i = 0; i < DIRIO_MAX_AUTHORITIES; i++)
			call_cancel(&io->calls[k][i]);
	}
	for (size_t i = 0; i < io->n_issuers; i++) {
		for (size_t k = 0; k < DOC_KINDS; k++) {
			ev_http_call_cancel(io->docs[k][i].call);
			free(io->docs[k][i].url);
		}
	}
	ev_timer_free(io->timer);
	for (size_t i = 0; i < io->n_http; i++) {
		ev_http_free(io->http[i]);
		free(io->bound[i]);
	}
	for (size_t i = 0; i < io->n_peers; i++)
		free(io->peer_urls[i]);
	free(io->vote);
	free(io);
}

static void
auth_call_done(void *arg, const struct ev_http_result *res)
{
	struct auth_call *c = arg;
	struct dirauth_io *io = c->io;
	int ret;

	c->call = NULL;
	if (res->err != UM_OK) {
		log_ratelim(&io->rl_peer, UM_LOG_NOTICE, LD_DIR, "%s to authority %s failed: %s",
		            call_names[c->kind], io->peer_urls[c->peer], um_err_str(res->err));
		return;
	}
	if (c->kind == CALL_GET_VOTE) {
		if (res->status == 404)
			return; /* it has no vote for the period (yet) */
		if (res->status != 200) {
			log_ratelim(&io->rl_peer, UM_LOG_NOTICE, LD_DIR,
			            "vote fetch from authority %s: HTTP %d", io->peer_urls[c->peer],
			            res->status);
			return;
		}
		ret = dirserv_add_vote(io->ds, res->body, res->body_len, um_wall_s());
		if (ret != UM_OK && ret != UM_ERR_EXISTS)
			log_ratelim(&io->rl_peer, UM_LOG_NOTICE, LD_DIR,
			            "vote from authority %s refused: %s", io->peer_urls[c->peer],
			            um_err_str(ret));
		return;
	}
	/* Uploads: 2xx is fine; 404 for a signature means the peer has not computed yet (the
	 * schedule sends it again). */
	if (res->status / 100 != 2 && !(c->kind == CALL_POST_SIG && res->status == 404))
		log_ratelim(&io->rl_peer, UM_LOG_NOTICE, LD_DIR, "%s to authority %s: HTTP %d",
		            call_names[c->kind], io->peer_urls[c->peer], res->status);
}

static void
auth_call_start(struct dirauth_io *io, enum auth_call_kind kind, size_t peer, const char *path,
                const uint8_t *body, size_t body_len)
{
	struct auth_call *c = &io->calls[kind][peer];
	struct ev_http_request req;
	char url[URL_MAX];
	int ret;

	call_cancel(c); /* a newer exchange of the same kind replaces an older one */
	snprintf(url, sizeof(url), "%s%s", io->peer_urls[peer], path);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = body != NULL ? "POST" : "GET";
	req.body = body;
	req.body_len = body_len;
	req.max_response_body = DIRIO_HTTP_MAX_BODY;
	req.timeout_ms = DIRIO_FETCH_TIMEOUT_MS;
	if ((ret = ev_http_fetch(io->loop, &req, auth_call_done, c, &c->call)) != UM_OK)
		log_ratelim(&io->rl_peer, UM_LOG_WARN, LD_DIR, "cannot start %s to %s: %s",
		            call_names[kind], io->peer_urls[peer], um_err_str(ret));
}

static void
do_vote(struct dirauth_io *io)
{
	const struct dirauth_period *p = &io->period;
	struct vote v;
	int ret;

	free(io->vote);
	io->vote = NULL;
	io->vote_len = 0;
	vote_init(&v);
	if ((ret = dirserv_build_vote(io->ds, p->valid_after_s, p->fresh_until_s, p->valid_until_s,
	                              &v)) != UM_OK ||
	    (ret = vote_encode_new(&v, &io->vote, &io->vote_len)) != UM_OK) {
		log_warn(LD_DIR, "cannot build our vote for period %llu: %s",
		         (unsigned long long)p->valid_after_s, um_err_str(ret));
		vote_clear(&v);
		return;
	}
	log_info(LD_DIR, "voted for period %llu: %zu relays", (unsigned long long)p->valid_after_s,
	         v.n_relays);
	vote_clear(&v);
	for (size_t i = 0; i < io->n_peers; i++)
		auth_call_start(io, CALL_POST_VOTE, i, "/v1/vote", io->vote, io->vote_len);
}

static void
do_fetch_votes(struct dirauth_io *io)
{
	char path[64];

	snprintf(path, sizeof(path), "/v1/vote/%llu", (unsigned long long)io->period.valid_after_s);
	for (size_t i = 0; i < io->n_peers; i++)
		auth_call_start(io, CALL_GET_VOTE, i, path, NULL, 0);
}

static void
post_sig(struct dirauth_io *io)
{
	if (!io->have_sig)
		return;
	for (size_t i = 0; i < io->n_peers; i++)
		auth_call_start(io, CALL_POST_SIG, i, "/v1/consensus-sig", io->sig_msg,
		                sizeof(io->sig_msg));
}

static void
do_compute(struct dirauth_io *io, uint64_t now_s)
{
	const struct dirauth_period *p = &io->period;
	const uint8_t *bytes;
	uint8_t digest[DIR_DIGEST_LEN];
	size_t len;
	int ret;

	io->have_sig = false;
	ret = dirserv_compute_consensus(io->ds, p->valid_after_s, p->fresh_until_s,
	                                p->valid_until_s, now_s);
	if (ret == UM_ERR_STATE) {
		log_notice(LD_DIR,
		           "no consensus for period %llu: not enough votes (a split); the previous "
		           "consensus stays served until it expires",
		           (unsigned long long)p->valid_after_s);
		return;
	}
	if (ret != UM_OK) {
		log_warn(LD_DIR, "cannot compute the consensus for period %llu: %s",
		         (unsigned long long)p->valid_after_s, um_err_str(ret));
		return;
	}
	if ((ret = dirserv_latest_consensus(io->ds, &bytes, &len, digest)) != UM_OK ||
	    (ret = dirserv_consensus_sig_encode(io->ds, digest, io->sig_msg)) != UM_OK) {
		log_warn(LD_DIR, "cannot sign the consensus: %s", um_err_str(ret));
		return;
	}
	io->have_sig = true;
	log_notice(LD_DIR, "computed and signed the consensus for period %llu (%zu bytes)",
	           (unsigned long long)p->valid_after_s, len);
	post_sig(io);
}

/* ---- issuer key lists ---- */

static int
add_keys(struct dirserv *ds, const uint8_t id[DIR_ISSUER_ID_LEN], const uint8_t *doc, size_t len,
         uint64_t now_s, uint64_t *seq)
{
	return dirserv_add_issuer_keys(ds, id, doc, len, now_s, seq, NULL);
}

static int
add_revs(struct dirserv *ds, const uint8_t id[DIR_ISSUER_ID_LEN], const uint8_t *doc, size_t len,
         uint64_t now_s, uint64_t *seq)
{
	return dirserv_add_issuer_revocations(ds, id, doc, len, now_s, seq);
}

static int
add_relay_trust(struct dirserv *ds, const uint8_t id[DIR_ISSUER_ID_LEN], const uint8_t *doc,
                size_t len, uint64_t now_s, uint64_t *seq)
{
	return dirserv_add_relay_trust(ds, id, doc, len, now_s, seq, NULL);
}

static const struct doc_kind_info {
	const char *path, *what;
	size_t max_len;
	uint64_t (*every_s)(uint64_t interval_s);
	int (*add)(struct dirserv *ds, const uint8_t id[DIR_ISSUER_ID_LEN], const uint8_t *doc,
	           size_t len, uint64_t now_s, uint64_t *seq);
	enum log_level taken_level; /* the log line of a newer document taken */
} doc_kinds[DOC_KINDS] = {
	[DOC_KEYS] = { "/v1/pubkeys", "key list", DIR_ISSUER_DOC_MAX_LEN, dirauth_issuer_every_s,
	               add_keys, UM_LOG_NOTICE },
	[DOC_REVS] = { "/v1/revocations", "revocation feed", DIRIO_REVS_MAX_LEN,
	               dirauth_revs_every_s, add_revs, UM_LOG_INFO },
	[DOC_RELAYTRUST] = { "/v1/relaytrust", "relay-trust feed", DIR_RT_DOC_MAX_LEN,
	                     dirauth_relaytrust_every_s, add_relay_trust, UM_LOG_INFO },
};

/* Whether io fetches documents of kind k at all. */
static bool
doc_wanted(const struct dirauth_io *io, enum doc_kind k)
{
	switch (k) {
	case DOC_KEYS:
		return true;
	case DOC_REVS:
		return io->revs;
	case DOC_RELAYTRUST:
		return dirserv_has_relay_trust_check(io->ds);
	case DOC_KINDS:
		break;
	}
	return false;
}

/*
 * A document arrived (or did not). Unreachable or an HTTP error: again after
 * DIRIO_ISSUER_RETRY_S (a 404, an issuer that does not publish it: at the usual time). A body:
 * to dirserv (it checks it and keeps the newest), then again at the usual time.
 */
static void
issuer_fetch_done(void *arg, const struct ev_http_result *res)
{
	struct issuer_fetch *f = arg;
	const struct doc_kind_info *k = &doc_kinds[f->kind];
	struct dirauth_io *io = f->io;
	uint64_t now = um_wall_s(), seq = 0, every = k->every_s(io->interval_s);
	int ret;

	f->call = NULL;
	f->next_s = now + UM_MIN((uint64_t)DIRIO_ISSUER_RETRY_S, every);
	if (res->err != UM_OK) {
		log_ratelim(&f->rl, UM_LOG_NOTICE, LD_DIR, "%s fetch from issuer %s failed: %s",
		            k->what, f->url, um_err_str(res->err));
		return;
	}
	if (res->status != 200) {
		if (res->status == 404)
			f->next_s = now + every;
		log_ratelim(&f->rl, UM_LOG_NOTICE, LD_DIR, "%s fetch from issuer %s: HTTP %d",
		            k->what, f->url, res->status);
		return;
	}
	f->next_s = now + every;
	ret = k->add(io->ds, f->id, res->body, res->body_len, now, &seq);
	if (ret == UM_OK && seq != f->seq) {
		log_msg(k->taken_level, LD_DIR, "issuer %s: %s seq %llu (%zu bytes) taken", f->url,
		        k->what, (unsigned long long)seq, res->body_len);
		f->seq = seq;
	} else if (ret == UM_ERR_STATE) {
		log_ratelim(&f->rl, UM_LOG_NOTICE, LD_DIR,
		            "issuer %s served %s seq %llu, older than the seq %llu we hold: kept "
		            "ours",
		            f->url, k->what, (unsigned long long)seq, (unsigned long long)f->seq);
	} else if (ret != UM_OK) {
		log_ratelim(&f->rl, UM_LOG_WARN, LD_DIR, "%s from issuer %s refused: %s", k->what,
		            f->url, um_err_str(ret));
	}
}

static void
issuer_fetch_start(struct dirauth_io *io, struct issuer_fetch *f, uint64_t now_s)
{
	const struct doc_kind_info *k = &doc_kinds[f->kind];
	struct ev_http_request req;
	char url[URL_MAX];
	int ret;

	snprintf(url, sizeof(url), "%s%s", f->url, k->path);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = "GET";
	req.max_response_body = k->max_len;
	req.timeout_ms = DIRIO_FETCH_TIMEOUT_MS;
	f->next_s = now_s + k->every_s(io->interval_s);
	if ((ret = ev_http_fetch(io->loop, &req, issuer_fetch_done, f, &f->call)) != UM_OK)
		log_ratelim(&f->rl, UM_LOG_WARN, LD_DIR, "cannot fetch the %s of issuer %s: %s",
		            k->what, f->url, um_err_str(ret));
}

static void
issuers_tick(struct dirauth_io *io, uint64_t now_s)
{
	for (size_t k = 0; k < DOC_KINDS; k++) {
		if (!doc_wanted(io, (enum doc_kind)k))
			continue;
		for (size_t i = 0; i < io->n_issuers; i++) {
			struct issuer_fetch *f = &io->docs[k][i];

			if (f->call == NULL && now_s >= f->next_s)
				issuer_fetch_start(io, f, now_s);
		}
	}
}

/* ---- reachability ---- */

static bool
probe_pending(const struct dirauth_io *io, const uint8_t id[RELAY_DESC_ID_LEN])
{
	for (size_t i = 0; i < io->n_probes; i++) {
		if (memcmp(io->probes[i].id, id, RELAY_DESC_ID_LEN) == 0)
			return true;
	}
	return false;
}

static int
addr_text(const struct relay_addr *a, char *out, size_t out_len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(a->type == RELAY_ADDR_IPV4 ? AF_INET : AF_INET6, a->addr, ip, sizeof(ip)) ==
	    NULL)
		return UM_ERR_INVALID;
	snprintf(out, out_len, a->type == RELAY_ADDR_IPV4 ? "%s:%u" : "[%s]:%u", ip,
	         (unsigned)a->port);
	return UM_OK;
}

static int
reach_one(void *arg, const uint8_t *blob, size_t len, uint64_t first_seen_s, uint64_t reach_ok_s)
{
	struct dirauth_io *io = arg;
	struct relay_desc d;
	char addr[ADDR_TEXT_MAX];
	uint64_t now = um_wall_s();
	int ret;

	(void)first_seen_s;
	(void)reach_ok_s;
	if (relay_desc_parse(blob, len, &d) < 0)
		return UM_OK; /* stored descriptors were verified; skip rather than stop */
	if (link_mgr_find(io->links, d.identity) != NULL) {
		if (dirserv_reachability_set(io->ds, d.identity, now) != UM_OK)
			log_warn(LD_DIR, "cannot record a reachability result");
		return UM_OK;
	}
	if (probe_pending(io, d.identity) || io->n_probes >= DIRIO_REACH_MAX_PROBES)
		return UM_OK;
	/* The first address: a relay lists its preferred one first (they are sorted, so IPv4
	 * before IPv6). */
	if (addr_text(&d.addrs[0], addr, sizeof(addr)) != UM_OK)
		return UM_OK;
	ret = link_mgr_connect(io->links, LINK_PATTERN_XK, d.identity, d.link_key, addr, NULL);
	if (ret != UM_OK) {
		log_info(LD_DIR, "cannot start a reachability test: %s", um_err_str(ret));
		return UM_OK;
	}
	memcpy(io->probes[io->n_probes].id, d.identity, RELAY_DESC_ID_LEN);
	io->probes[io->n_probes].deadline_s = now + DIRIO_REACH_TIMEOUT_S;
	io->n_probes++;
	return UM_OK;
}

/* Probes whose link opened succeeded; expired ones failed (the relay stays not RUNNING). */
static void
reach_check(struct dirauth_io *io, uint64_t now_s)
{
	size_t i = 0;

	while (i < io->n_probes) {
		struct reach_probe *p = &io->probes[i];
		bool open = link_mgr_find(io->links, p->id) != NULL;

		if (open && dirserv_reachability_set(io->ds, p->id, now_s) != UM_OK)
			log_warn(LD_DIR, "cannot record a reachability result");
		if (open || now_s >= p->deadline_s) {
			*p = io->probes[--io->n_probes];
			continue;
		}
		i++;
	}
}

static void
reach_round(struct dirauth_io *io, uint64_t now_s)
{
	uint64_t every = io->interval_s / 2;

	if (every > DIRIO_REACH_EVERY_MAX_S)
		every = DIRIO_REACH_EVERY_MAX_S;
	if (every < 1)
		every = 1;
	io->next_reach_s = now_s + every;
	if (dirserv_db_foreach_latest(io->ds, now_s, reach_one, io) != UM_OK)
		log_warn(LD_DIR, "cannot list descriptors for reachability tests");
	/* Probes of relays that just uploaded: a vote due now waits for them (a loopback
	 * handshake takes milliseconds) for at most a second, so a network starting up
	 * lists its relays Running one period earlier. */
	if (io->new_desc && io->n_probes > 0)
		io->hold_vote_until_ms = um_wall_ms() + PROBE_HOLD_MS;
	io->new_desc = false;
}

static void
auth_tick(void *arg)
{
	struct dirauth_io *io = arg;
	uint64_t now_ms = um_wall_ms(), now = now_ms / 1000;
	struct dirauth_period *p = &io->period;
	bool held, boot;

	issuers_tick(io, now);
	if (io->links != NULL) {
		reach_check(io, now);
		if (now >= io->next_reach_s)
			reach_round(io, now);
	}
	held = now_ms < io->start_hold_until_ms ||
	       (io->n_probes > 0 && now_ms < io->hold_vote_until_ms);
	/* Bootstrap: nothing to serve yet. Vote now for the first period that leaves time for
	 * the votes to meet, and compute as soon as every authority's vote is in rather than at
	 * its start (clients accept a consensus up to 300 s ahead): a network starting up has
	 * its first consensus about a second after its relays uploaded, whatever the phase. */
	boot = !dirserv_has_live_consensus(io->ds, now);
	if (io->phase == PH_WAIT_VOTE && boot && !held) {
		while (p->valid_after_s * 1000 < now_ms + BOOT_MIN_LEAD_MS)
			dirauth_period_next(p->valid_after_s, io->interval_s, p);
		io->early = true;
		do_vote(io);
		io->phase = PH_VOTED;
	}
	/* Each step once per period, in order; a late start or a stalled loop runs the steps
	 * that are due one after the other. */
	if (io->phase == PH_WAIT_VOTE && !boot && now >= p->vote_at_s &&
	    (now >= p->fetch_at_s || !held)) {
		io->early = false;
		do_vote(io);
		io->phase = PH_VOTED;
	}
	if (io->phase == PH_VOTED && now >= p->fetch_at_s) {
		do_fetch_votes(io);
		io->phase = PH_FETCHED;
	}
	if ((io->phase == PH_VOTED || io->phase == PH_FETCHED) &&
	    (now >= p->compute_at_s ||
	     (io->early && dirserv_all_votes_held(io->ds, p->valid_after_s)))) {
		do_compute(io, now);
		io->phase = PH_COMPUTED;
		io->resign1_ms = io->early ? now_ms + BOOT_RESIGN_MS : p->resign1_at_s * 1000;
		io->resign2_ms = io->early ? now_ms + 2 * BOOT_RESIGN_MS : p->resign2_at_s * 1000;
	}
	if (io->phase == PH_COMPUTED && now_ms >= io->resign1_ms) {
		post_sig(io);
		io->phase = PH_RESIGNED1;
	}
	if (io->phase == PH_RESIGNED1 && now_ms >= io->resign2_ms) {
		post_sig(io);
		/* An early consensus ends its round before its period starts: go on from there. */
		dirauth_period_next(UM_MAX(now, p->valid_after_s), io->interval_s, p);
		io->phase = PH_WAIT_VOTE;
		if (io->on_period_end != NULL)
			io->on_period_end(io->arg, now);
	}
}

void
dirauth_io_start(struct dirauth_io *io)
{
	uint64_t now = um_wall_s();

	dirauth_period_next(now, io->interval_s, &io->period);
	io->phase = PH_WAIT_VOTE;
	io->next_reach_s = now;
	/* A vote due at once (we started inside its window, or hold no consensus) waits a
	 * second for the relays of a network starting with us to upload and be tested. */
	io->start_hold_until_ms = um_wall_ms() + START_HOLD_MS;
	ev_timer_free(io->timer);
	io->timer = ev_timer_new(io->loop, auth_tick, io);
	ev_timer_start(io->timer, 0, TICK_MS);
	for (size_t i = 0; i < io->n_issuers; i++) {
		uint8_t *doc = NULL;
		size_t len = 0;

		for (size_t k = 0; k < DOC_KINDS; k++)
			io->docs[k][i].next_s = 0; /* fetch at the first tick */
		if (dirserv_issuer_keys_get(io->ds, io->docs[DOC_KEYS][i].id, &doc, &len,
		                            &io->docs[DOC_KEYS][i].seq) != UM_OK)
			io->docs[DOC_KEYS][i].seq = 0;
		free(doc);
	}
	log_notice(LD_DIR,
	           "directory authority: voting every %llu s with %zu other authorities, "
	           "%zu issuers",
	           (unsigned long long)io->interval_s, io->n_peers, io->n_issuers);
}

/* ===================================================================================== */
/* The relay role                                                                         */
/* ===================================================================================== */

struct upload {
	struct dirrelay_io *io;
	struct ev_http_call *call;
	size_t idx;
	bool done;           /* the current descriptor is stored there */
	unsigned n_failures; /* for the backoff */
	uint64_t next_s;     /* retry at (0: now) */
};

struct dirrelay_io {
	struct ev_loop *loop;
	struct relay_desc tmpl;
	const struct keys_ed25519 *identity, *op;
	const struct link_identity *li;
	size_t n_urls;
	char *urls[DIRIO_MAX_AUTHORITIES];
	struct upload up[DIRIO_MAX_AUTHORITIES];
	struct ev_timer *timer;
	uint8_t desc[RELAY_DESC_MAX_LEN];
	size_t desc_len;
	uint64_t published_s;
	struct log_ratelim rl;
	int (*upsert)(void *arg, const uint8_t authority[32], const uint8_t *desc, size_t len,
	              uint64_t now_s, uint8_t **body, size_t *body_len);
	void *upsert_arg;
	uint8_t ids[DIRIO_MAX_AUTHORITIES][32];
};

/* Fill, sign and encode a descriptor from t at now_s into out. */
static int
desc_build(const struct dirrelay_io *io, const struct relay_desc *t, uint64_t now_s, uint8_t *out,
           size_t *out_len)
{
	struct relay_desc d = *t;
	struct wire_wr w = { out, RELAY_DESC_MAX_LEN, 0 };
	int ret;

	d.version = RELAY_DESC_VERSION;
	memcpy(d.identity, io->identity->pk, RELAY_DESC_ID_LEN);
	d.published_s = now_s;
	d.expires_s = now_s + RELAY_DESC_LIFETIME_MAX_S;
	/* A previous onion key past its grace is no longer published (the owner deletes it). */
	if (d.has_prev_onion_key && (d.prev_onion_expires_s <= now_s ||
	                             d.prev_onion_expires_s > now_s + RELAY_DESC_ONION_GRACE_MAX_S))
		d.has_prev_onion_key = false;
	memcpy(d.link_key, io->li->static_pub, RELAY_DESC_KEY_LEN);
	d.link_cert_expires_s = io->li->cert_expires;
	memcpy(d.link_cert_sig, io->li->cert_sig, RELAY_DESC_SIG_LEN);
	if (io->op != NULL) {
		relay_desc_sign_operator(&d, io->op, d.expires_s);
	} else {
		d.has_operator_cert = false;
		memcpy(d.operator_id, io->identity->pk, RELAY_DESC_ID_LEN);
	}
	if ((ret = relay_desc_sign(&d, io->identity)) != UM_OK ||
	    (ret = relay_desc_encode(&d, &w)) != UM_OK)
		return ret;
	*out_len = w.len;
	return UM_OK;
}

static void relay_kick(struct dirrelay_io *io);

static void
upload_done(void *arg, const struct ev_http_result *res)
{
	struct upload *u = arg;
	struct dirrelay_io *io = u->io;
	uint64_t b = DIRIO_UPLOAD_RETRY_MIN_S;

	u->call = NULL;
	/* 200: stored; 409: it holds this descriptor's successor or twin (a restart within the
	 * same second), nothing to retry. */
	if (res->err == UM_OK && (res->status == 200 || res->status == 409)) {
		if (u->n_failures > 0)
			log_notice(LD_DIR, "descriptor uploaded to %s after %u failed attempts",
			           io->urls[u->idx], u->n_failures);
		else
			log_info(LD_DIR, "descriptor uploaded to %s", io->urls[u->idx]);
		u->done = true;
		u->n_failures = 0;
		return;
	}
	for (unsigned i = 0; i < u->n_failures && b < DIRIO_UPLOAD_RETRY_MAX_S; i++)
		b *= 2;
	if (b > DIRIO_UPLOAD_RETRY_MAX_S)
		b = DIRIO_UPLOAD_RETRY_MAX_S;
	/* An authority not reachable at the first try is most often one starting beside us
	 * (a network coming up): try once more soon before backing off. */
	if (u->n_failures == 0 && res->err != UM_OK)
		b = DIRIO_UPLOAD_RETRY_FIRST_S;
	u->n_failures++;
	u->next_s = um_wall_s() + b;
	if (res->err != UM_OK)
		log_ratelim(&io->rl, UM_LOG_WARN, LD_DIR,
		            "cannot upload our descriptor to %s: %s; retrying in %llu s",
		            io->urls[u->idx], um_err_str(res->err), (unsigned long long)b);
	else {
		char esc[4 * 120 + 1];

		log_ratelim(
		        &io->rl, UM_LOG_WARN, LD_DIR,
		        "authority %s refused our descriptor: HTTP %d %s; retrying in %llu s",
		        io->urls[u->idx], res->status,
		        log_escape(res->body, UM_MIN(res->body_len, (size_t)120), esc, sizeof(esc)),
		        (unsigned long long)b);
	}
}

static void
upload_start(struct dirrelay_io *io, struct upload *u)
{
	struct ev_http_request req;
	char url[URL_MAX];
	uint8_t *body = NULL;
	size_t body_len = 0;
	int ret;

	memset(&req, 0, sizeof(req));
	if (io->upsert != NULL) {
		ret = io->upsert(io->upsert_arg, io->ids[u->idx], io->desc, io->desc_len,
		                 um_wall_s(), &body, &body_len);
		if (ret == UM_ERR_STATE) {
			u->next_s = um_wall_s() + 1; /* no capability token yet */
			return;
		}
		if (ret != UM_OK) {
			u->n_failures++;
			u->next_s = um_wall_s() + DIRIO_UPLOAD_RETRY_FIRST_S;
			log_ratelim(&io->rl, UM_LOG_WARN, LD_DIR,
			            "cannot make the provider upsert for %s: %s", io->urls[u->idx],
			            um_err_str(ret));
			return;
		}
		snprintf(url, sizeof(url), "%s/v1/provider/relay/upsert", io->urls[u->idx]);
		req.body = body;
		req.body_len = body_len;
	} else {
		snprintf(url, sizeof(url), "%s/v1/desc", io->urls[u->idx]);
		req.body = io->desc;
		req.body_len = io->desc_len;
	}
	req.url = url;
	req.method = "POST";
	req.max_response_body = 64 * 1024;
	req.timeout_ms = DIRIO_FETCH_TIMEOUT_MS;
	ret = ev_http_fetch(io->loop, &req, upload_done, u, &u->call);
	free(body); /* ev_http_fetch() copied it */
	if (ret != UM_OK) {
		u->n_failures++;
		u->next_s = um_wall_s() + DIRIO_UPLOAD_RETRY_MAX_S;
		log_ratelim(&io->rl, UM_LOG_WARN, LD_DIR, "cannot upload our descriptor to %s: %s",
		            io->urls[u->idx], um_err_str(ret));
	}
}

static int
publish(struct dirrelay_io *io, uint64_t now_s)
{
	size_t len = 0;
	int ret;

	if ((ret = desc_build(io, &io->tmpl, now_s, io->desc, &len)) != UM_OK) {
		log_warn(LD_DIR, "cannot build our descriptor: %s", um_err_str(ret));
		return ret;
	}
	io->desc_len = len;
	io->published_s = now_s;
	for (size_t i = 0; i < io->n_urls; i++) {
		ev_http_call_cancel(io->up[i].call);
		io->up[i].call = NULL;
		io->up[i].done = false;
		io->up[i].n_failures = 0;
		io->up[i].next_s = 0;
	}
	log_info(LD_DIR, "published a new descriptor (%zu bytes)", len);
	return UM_OK;
}

static void
relay_kick(struct dirrelay_io *io)
{
	uint64_t now = um_wall_s();

	/* Republish well before expiry (and before the link certificate it carries ends). */
	if (io->desc_len == 0 || now >= io->published_s + DIRIO_DESC_REPUBLISH_S ||
	    io->li->cert_expires < now + RELAY_DESC_LIFETIME_MAX_S) {
		if (publish(io, now) != UM_OK)
			return;
	}
	for (size_t i = 0; i < io->n_urls; i++) {
		struct upload *u = &io->up[i];

		if (!u->done && u->call == NULL && now >= u->next_s)
			upload_start(io, u);
	}
}

static void
relay_tick(void *arg)
{
	relay_kick(arg);
}

int
dirrelay_io_new(struct ev_loop *loop, const struct dirrelay_io_config *cfg,
                struct dirrelay_io **out, char *why, size_t why_len)
{
	struct dirrelay_io *io;
	uint8_t buf[RELAY_DESC_MAX_LEN];
	size_t len;
	int ret;

	*out = NULL;
	if (cfg->n_urls == 0 || cfg->n_urls > DIRIO_MAX_AUTHORITIES || cfg->tmpl == NULL ||
	    cfg->identity == NULL || cfg->li == NULL || (cfg->upsert != NULL && cfg->ids == NULL)) {
		snprintf(why, why_len, "bad relay descriptor uploader configuration");
		return UM_ERR_INVALID;
	}
	io = um_xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->tmpl = *cfg->tmpl;
	io->identity = cfg->identity;
	io->op = cfg->op;
	io->li = cfg->li;
	io->rl = (struct log_ratelim)LOG_RATELIM_INIT(60000);
	io->n_urls = cfg->n_urls;
	io->upsert = cfg->upsert;
	io->upsert_arg = cfg->upsert_arg;
	for (size_t i = 0; i < cfg->n_urls; i++) {
		if (cfg->upsert != NULL)
			memcpy(io->ids[i], cfg->ids[i], 32);
		io->urls[i] = um_xstrdup(cfg->urls[i]);
		io->up[i].io = io;
		io->up[i].idx = i;
	}
	/* Check the template now, so a bad [relay] section fails at start, not later. */
	if ((ret = desc_build(io, &io->tmpl, um_wall_s(), buf, &len)) != UM_OK) {
		snprintf(why, why_len,
		         "cannot build a valid relay descriptor from the configuration: %s",
		         um_err_str(ret));
		dirrelay_io_free(io);
		return ret;
	}
	*out = io;
	return UM_OK;
}

void
dirrelay_io_start(struct dirrelay_io *io)
{
	ev_timer_free(io->timer);
	io->timer = ev_timer_new(io->loop, relay_tick, io);
	ev_timer_start(io->timer, 0, TICK_MS);
}

int
dirrelay_io_update(struct dirrelay_io *io, const struct relay_desc *tmpl, char *why, size_t why_len)
{
	uint8_t buf[RELAY_DESC_MAX_LEN];
	size_t len;
	uint64_t now = um_wall_s();
	int ret;

	if ((ret = desc_build(io, tmpl, now, buf, &len)) != UM_OK) {
		snprintf(why, why_len, "cannot build a valid relay descriptor: %s",
		         um_err_str(ret));
		return ret;
	}
	if (memcmp(&io->tmpl, tmpl, sizeof(*tmpl)) == 0)
		return UM_OK;
	io->tmpl = *tmpl;
	/* published must grow: an authority keeps only a relay's newest descriptor. */
	if ((ret = publish(io, now > io->published_s ? now : io->published_s + 1)) != UM_OK) {
		snprintf(why, why_len, "cannot publish: %s", um_err_str(ret));
		return ret;
	}
	relay_kick(io);
	return UM_OK;
}

size_t
dirrelay_io_n_uploaded(const struct dirrelay_io *io)
{
	size_t n = 0;

	for (size_t i = 0; i < io->n_urls; i++)
		n += io->up[i].done;
	return n;
}

void
dirrelay_io_free_(struct dirrelay_io *io)
{
	if (io == NULL)
		return;
	for (size_t i = 0; i < io->n_urls; i++) {
		ev_http_call_cancel(io->up[i].call);
		free(io->urls[i]);
	}
	ev_timer_free(io->timer);
	free(io);
}
