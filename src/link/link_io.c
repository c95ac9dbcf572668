/* SPDX-License-Identifier: MIT */
/*
 * One link on a TCP stream: connect or accept, run the handshake (handshake.c), then carry
 * fixed 530-byte records (record.c) both ways. Also: keepalive and timeouts (driven by the
 * manager's tick), clean close (LINK_CLOSE cell, flush, FIN), backpressure (link_is_blocked
 * over write_queue_max; a queue past the hard cap closes the link) and the diagnostic bulk
 * test.
 *
 * A link is never freed inside a callback: link_kill_() closes the stream, unlinks the link
 * from lookups and moves it to the manager's dead list, which a zero-delay timer empties.
 */
#include "link/link_st.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "crypto/crypto.h"

static const struct ev_tcp_ops link_tcp_ops;

static const char *const reason_names[] = {
	[LINK_CLOSE_LOCAL] = "closed locally",
	[LINK_CLOSE_PEER] = "closed by peer",
	[LINK_CLOSE_EOF] = "connection closed without notice",
	[LINK_CLOSE_NET] = "network error",
	[LINK_CLOSE_HANDSHAKE] = "handshake failed",
	[LINK_CLOSE_HS_TIMEOUT] = "handshake timed out",
	[LINK_CLOSE_AUTH] = "record failed authentication",
	[LINK_CLOSE_PROTOCOL] = "protocol violation",
	[LINK_CLOSE_IDLE] = "idle",
	[LINK_CLOSE_SILENT] = "peer silent",
	[LINK_CLOSE_LIMIT] = "over a connection limit",
	[LINK_CLOSE_UNKNOWN_PEER] = "unknown peer",
	[LINK_CLOSE_SHUTDOWN] = "shutting down",
	[LINK_CLOSE_NONCE] = "record counter exhausted",
	[LINK_CLOSE_PUZZLE] = "puzzle asked",
};

const char *
link_close_reason_str(int reason)
{
	if (reason < 0 || (size_t)reason >= UM_ARRAY_LEN(reason_names) ||
	    reason_names[reason] == NULL)
		return "unknown";
	return reason_names[reason];
}

static uint64_t
now_ms(const struct link *l)
{
	return ev_now_ms(l->mgr->loop);
}

uint64_t
link_id(const struct link *l)
{
	return l->id;
}

bool
link_is_inbound(const struct link *l)
{
	return l->inbound;
}

bool
link_peer_id(const struct link *l, uint8_t id[LINK_ID_LEN])
{
	if (l->state != LS_OPEN || !l->hs.peer_identified)
		return false;
	memcpy(id, l->hs.peer_id, LINK_ID_LEN);
	return true;
}

void
link_peer_addr(const struct link *l, struct sockaddr_storage *out)
{
	*out = l->addr;
}

struct link *
link_new_(struct link_mgr *m, struct ev_tcp *tcp, bool inbound, const struct sockaddr_storage *addr)
{
	struct link *l = um_xcalloc(1, sizeof(*l));

	l->mgr = m;
	l->tcp = tcp;
	l->id = ++m->next_id;
	l->inbound = inbound;
	l->state = inbound ? LS_HANDSHAKE : LS_CONNECTING;
	if (addr != NULL) {
		l->addr = *addr;
		if (ev_addr_format((const struct sockaddr *)addr, l->addr_str,
		                   sizeof(l->addr_str)) != UM_OK)
			snprintf(l->addr_str, sizeof(l->addr_str), "?");
	}
	l->start_ms = ev_now_ms(m->loop);
	l->start_ns = um_mono_ns();
	l->last_rx_ms = l->last_tx_ms = l->last_active_ms = l->start_ms;
	buf_init(&l->hs_in, LINK_HS_INBUF_MAX);
	list_push_back(&m->links, &l->node);
	m->st.links++;
	return l;
}

void
link_free_(struct link *l)
{
	if (l == NULL)
		return;
	link_hs_clear(&l->hs);
	link_rec_clear(&l->rec);
	buf_clear(&l->hs_in);
	hash_sha256_abort(&l->test_tx.sha);
	hash_sha256_abort(&l->test_rx.sha);
	um_memzero(l, sizeof(*l)); /* the puzzle's first flight too */
	free(l);
}

void
link_kill_(struct link *l, int reason)
{
	struct link_mgr *m = l->mgr;

	if (l->state == LS_DEAD)
		return;
	if (l->state == LS_CLOSING)
		reason = l->close_reason; /* the reason we started closing for */
	l->close_reason = reason;
	if (l->tcp != NULL)
		ev_tcp_close(l->tcp);
	l->tcp = NULL;
	l->state = LS_DEAD;
	list_remove(&l->node);
	list_push_back(&m->dead, &l->node);
	m->st.links--;
	mgr_link_closed_(m, l);
}

/*
 * The write queue's hard cap. write_queue_max is the soft bound that producers honour
 * (link_is_blocked) and that a forwarder overshoots by at most the records of one read. A
 * queue past twice that plus a read's worth means someone does not honour it: a layer above
 * that ignores link_is_blocked(), or a peer that asks for replies (LINK_TEST_END) and never
 * reads them. Reading never stops on its own, so without this cap such a peer would grow
 * our memory by one record per record it sends, for as long as it likes.
 */
static uint64_t
write_queue_hard_max(const struct link_mgr *m)
{
	return 2 * m->cfg.write_queue_max + EV_TCP_CHUNK;
}

/* The close reason for a failed send_raw(). */
static int
send_fail_reason(int err)
{
	if (err == UM_ERR_STATE)
		return LINK_CLOSE_NONCE;
	if (err == UM_ERR_TOO_LARGE)
		return LINK_CLOSE_LIMIT;
	return LINK_CLOSE_NET;
}

/*
 * Queue one sealed record carrying the 514 cell bytes. UM_ERR_TOO_LARGE over the hard cap,
 * UM_ERR_STATE once the record counter is exhausted: either way the link must close.
 */
static int
send_raw(struct link *l, const uint8_t cell[CELL_LEN])
{
	uint8_t *p;
	int ret;

	if (l->tcp == NULL)
		return UM_ERR_CLOSED;
	if (ev_tcp_write_queue(l->tcp) > write_queue_hard_max(l->mgr))
		return UM_ERR_TOO_LARGE;
	if ((ret = ev_tcp_reserve(l->tcp, LINK_RECORD_LEN, &p)) != UM_OK)
		return ret;
	if ((ret = link_rec_seal(&l->rec, cell, p)) != UM_OK)
		return ret;
	ev_tcp_commit(l->tcp, LINK_RECORD_LEN);
	l->cells_tx++;
	l->last_tx_ms = now_ms(l);
	return UM_OK;
}

static int
send_ctl(struct link *l, uint8_t cmd, const uint8_t *payload, size_t len)
{
	uint8_t cell[CELL_LEN] = { 0 };

	cell[4] = cmd;
	if (len > 0)
		memcpy(cell + CELL_HEADER_LEN, payload, len);
	return send_raw(l, cell);
}

int
link_send_cell(struct link *l, const struct cell *c)
{
	uint8_t cell[CELL_LEN];
	int ret;

	if (l->state != LS_OPEN)
		return UM_ERR_STATE;
	cell_encode(c, cell);
	if ((ret = send_raw(l, cell)) != UM_OK) {
		link_kill_(l, send_fail_reason(ret));
		return UM_ERR_CLOSED;
	}
	if (c->cmd != CELL_PADDING)
		l->last_active_ms = l->last_tx_ms;
	return UM_OK;
}

bool
link_is_blocked(const struct link *l)
{
	return l->tcp == NULL || ev_tcp_write_queue(l->tcp) > l->mgr->cfg.write_queue_max;
}

void
link_close(struct link *l, int reason)
{
	uint8_t r = (uint8_t)reason;

	if (l->state == LS_DEAD || l->state == LS_CLOSING)
		return;
	if (l->state != LS_OPEN) {
		link_kill_(l, reason);
		return;
	}
	/* Tell the peer this is deliberate (an authenticated close, unlike a bare FIN), flush
	 * what is queued, then FIN; the peer's FIN (or the grace timeout) ends it. */
	l->close_reason = reason;
	if (send_ctl(l, CELL_LINK_CLOSE, &r, 1) != UM_OK) {
		link_kill_(l, reason);
		return;
	}
	l->state = LS_CLOSING;
	l->close_deadline_ms = now_ms(l) + LINK_CLOSE_GRACE_MS;
	ev_tcp_shutdown(l->tcp);
}

void
link_pause_reading(struct link *l)
{
	if (l->tcp == NULL || l->read_paused)
		return;
	l->read_paused = true;
	if (l->state == LS_OPEN || l->state == LS_CLOSING)
		ev_tcp_read_stop(l->tcp);
}

void
link_resume_reading(struct link *l)
{
	if (l->tcp == NULL || !l->read_paused)
		return;
	l->read_paused = false;
	/* Whatever the peer sent while we were not reading is still queued: the silence clock
	 * starts again now. */
	l->last_rx_ms = now_ms(l);
	if ((l->state == LS_OPEN || l->state == LS_CLOSING) && ev_tcp_read_start(l->tcp) != UM_OK)
		link_kill_(l, LINK_CLOSE_NET);
}

/* ---- diagnostic bulk test ------------------------------------------------------------- */

static void
test_fill(struct link_test *t, uint8_t *p, size_t len)
{
	uint64_t x = t->rng;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(x >> (8 * (i % 8)));
	t->rng = x;
}

int
link_mgr_test_start(struct link_mgr *m, const uint8_t id[LINK_ID_LEN], uint64_t bytes, bool hash)
{
	struct link *l = link_mgr_find(m, id);
	struct link_test *t;

	if (l == NULL)
		return UM_ERR_NOT_FOUND;
	t = &l->test_tx;
	if (t->info.active)
		return UM_ERR_STATE;
	hash_sha256_abort(&t->sha);
	memset(t, 0, sizeof(*t));
	t->info.active = true;
	t->info.target = bytes;
	t->info.start_ms = um_mono_ms();
	t->hash = hash;
	t->rng = rand_u64() | 1;
	if (hash)
		hash_sha256_init(&t->sha);
	log_notice(LD_LINK, "link %llu: sending %llu test bytes", (unsigned long long)l->id,
	           (unsigned long long)bytes);
	link_test_pump_(l);
	return UM_OK;
}

static void
test_finish_tx(struct link *l)
{
	struct link_test *t = &l->test_tx;
	uint8_t payload[8 + SHA256_LEN] = { 0 };
	int ret;

	if (t->hash)
		hash_sha256_final(&t->sha, t->info.sha256);
	wire_store_u64(payload, t->info.bytes);
	memcpy(payload + 8, t->info.sha256, SHA256_LEN);
	t->info.active = false;
	t->info.done = true;
	t->info.end_ms = um_mono_ms();
	if ((ret = send_ctl(l, CELL_LINK_TEST_END, payload, sizeof(payload))) != UM_OK)
		link_kill_(l, send_fail_reason(ret));
}

/*
 * Send test cells until the target is reached, the write queue is full (on_drain resumes) or
 * the per-call budget is spent (the manager's pump defer resumes it after the loop has polled
 * for I/O, so the loop keeps serving
 * other links and our own reads).
 */
void
link_test_pump_(struct link *l)
{
	struct link_test *t = &l->test_tx;
	uint8_t cell[CELL_LEN];
	unsigned budget = 8192;
	int ret;

	if (!t->info.active || l->state != LS_OPEN)
		return;
	memset(cell, 0, CELL_HEADER_LEN);
	wire_store_u32(cell, t->hash ? 1 : 0);
	cell[4] = CELL_LINK_TEST;
	while (t->info.bytes < t->info.target) {
		if (ev_tcp_write_queue(l->tcp) > l->mgr->cfg.write_queue_max)
			return; /* on_drain will call us again */
		if (budget-- == 0) {
			ev_defer_schedule(l->mgr->pump);
			return;
		}
		test_fill(t, cell + CELL_HEADER_LEN, CELL_PAYLOAD_LEN);
		if (t->hash)
			hash_sha256_update(&t->sha, cell + CELL_HEADER_LEN, CELL_PAYLOAD_LEN);
		if ((ret = send_raw(l, cell)) != UM_OK) {
			link_kill_(l, send_fail_reason(ret));
			return;
		}
		t->info.bytes += CELL_PAYLOAD_LEN;
	}
	test_finish_tx(l);
}

static void
test_rx_cell(struct link *l, const uint8_t *cell)
{
	struct link_test *t = &l->test_rx;

	if (!t->info.active) {
		hash_sha256_abort(&t->sha);
		memset(t, 0, sizeof(*t));
		t->info.active = true;
		t->info.start_ms = um_mono_ms();
		t->hash = wire_load_u32(cell) == 1;
		if (t->hash)
			hash_sha256_init(&t->sha);
	}
	if (t->hash)
		hash_sha256_update(&t->sha, cell + CELL_HEADER_LEN, CELL_PAYLOAD_LEN);
	t->info.bytes += CELL_PAYLOAD_LEN;
}

static void
test_rx_end(struct link *l, const uint8_t *cell)
{
	struct link_test *t = &l->test_rx;
	const uint8_t *p = cell + CELL_HEADER_LEN;
	uint64_t sent = wire_load_u64(p);
	uint64_t ms;
	int ret;

	if (!t->info.active) {
		/* An empty test: nothing was sent before END. */
		memset(t, 0, sizeof(*t));
		t->info.start_ms = um_mono_ms();
	}
	if (t->hash)
		hash_sha256_final(&t->sha, t->info.sha256);
	t->info.active = false;
	t->info.done = true;
	t->info.end_ms = um_mono_ms();
	t->info.target = sent;
	t->info.verified = sent == t->info.bytes &&
	                   (!t->hash || um_memeq_ct(t->info.sha256, p + 8, SHA256_LEN));
	ms = t->info.end_ms - t->info.start_ms;
	{
		uint8_t res[1 + 8 + SHA256_LEN];

		res[0] = t->info.verified ? 1 : 0;
		wire_store_u64(res + 1, t->info.bytes);
		memcpy(res + 9, t->info.sha256, SHA256_LEN);
		if ((ret = send_ctl(l, CELL_LINK_TEST_RESULT, res, sizeof(res))) != UM_OK)
			link_kill_(l, send_fail_reason(ret));
	}
	/* Rate-limited: each LINK_TEST_END record from the peer ends a test. */
	log_ratelim(&l->mgr->rl_test, UM_LOG_NOTICE, LD_LINK,
	            "link %llu: test received %llu bytes in %llu ms (%.1f MB/s), %s",
	            (unsigned long long)l->id, (unsigned long long)t->info.bytes,
	            (unsigned long long)ms, ms ? (double)t->info.bytes / 1000.0 / (double)ms : 0.0,
	            t->info.verified ? "verified" : "MISMATCH");
}

/* ---- records --------------------------------------------------------------------------- */

static void
protocol_error(struct link *l, const char *what)
{
	l->mgr->st.protocol_errors++;
	log_ratelim(&l->mgr->rl_protocol, UM_LOG_WARN, LD_LINK,
	            "link %llu: protocol violation (%s); closing it", (unsigned long long)l->id,
	            what);
	link_kill_(l, LINK_CLOSE_PROTOCOL);
}

/* Handle one record; returns false once the link is no longer readable. */
static bool
handle_record(struct link *l, const uint8_t *rec)
{
	uint8_t raw[CELL_LEN];
	struct cell c;
	int ret;

	if ((ret = link_rec_open(&l->rec, rec, raw)) != UM_OK) {
		if (ret == UM_ERR_AUTH) {
			l->mgr->st.auth_failures++;
			log_ratelim(&l->mgr->rl_auth, UM_LOG_WARN, LD_LINK,
			            "link %llu: record %llu failed authentication (tampered or "
			            "corrupt); closing it",
			            (unsigned long long)l->id, (unsigned long long)l->rec.recv.n);
			link_kill_(l, LINK_CLOSE_AUTH);
		} else {
			link_kill_(l, LINK_CLOSE_NONCE);
		}
		return false;
	}
	l->cells_rx++;
	l->last_rx_ms = now_ms(l);
	if (l->state == LS_CLOSING) {
		/* We are closing: only the peer's own close matters now. */
		return true;
	}
	switch (raw[4]) {
	case CELL_PADDING:
		return true;
	case CELL_LINK_CLOSE:
		log_info(LD_LINK, "link %llu: peer closed the link (reason %u)",
		         (unsigned long long)l->id, raw[5]);
		l->close_reason = LINK_CLOSE_PEER;
		l->state = LS_CLOSING;
		l->close_deadline_ms = now_ms(l) + LINK_CLOSE_GRACE_MS;
		ev_tcp_shutdown(l->tcp);
		return true;
	case CELL_LINK_TEST:
		l->last_active_ms = l->last_rx_ms;
		test_rx_cell(l, raw);
		return true;
	case CELL_LINK_TEST_END:
		l->last_active_ms = l->last_rx_ms;
		test_rx_end(l, raw);
		return l->state == LS_OPEN;
	case CELL_LINK_TEST_RESULT:
		l->last_active_ms = l->last_rx_ms;
		l->test_tx.info.peer_reported = true;
		l->test_tx.info.peer_verified =
		        raw[5] == 1 && wire_load_u64(raw + 6) == l->test_tx.info.bytes &&
		        um_memeq_ct(raw + 14, l->test_tx.info.sha256, SHA256_LEN);
		return true;
	default:
		if (raw[4] >= CELL_LINK_CLOSE) {
			protocol_error(l, "unknown link command");
			return false;
		}
		break;
	}
	l->last_active_ms = l->last_rx_ms;
	if (cell_parse(raw, sizeof(raw), &c) != CELL_LEN) {
		protocol_error(l, "bad cell");
		return false;
	}
	if (l->mgr->cb.on_cell != NULL)
		l->mgr->cb.on_cell(l->mgr->cb.arg, l, &c);
	return l->state == LS_OPEN || l->state == LS_CLOSING;
}

static void
process_records(struct link *l, const uint8_t *data, size_t len)
{
	if (l->carry_len > 0) {
		size_t take = UM_MIN(LINK_RECORD_LEN - l->carry_len, len);

		memcpy(l->carry + l->carry_len, data, take);
		l->carry_len += take;
		data += take;
		len -= take;
		if (l->carry_len < LINK_RECORD_LEN)
			return;
		l->carry_len = 0;
		if (!handle_record(l, l->carry))
			return;
	}
	while (len >= LINK_RECORD_LEN) {
		if (!handle_record(l, data))
			return;
		data += LINK_RECORD_LEN;
		len -= LINK_RECORD_LEN;
	}
	memcpy(l->carry, data, len);
	l->carry_len = len;
}

/* ---- handshake ------------------------------------------------------------------------- */

static void
handshake_failed(struct link *l, int err)
{
	l->mgr->st.handshakes_failed++;
	log_ratelim(&l->mgr->rl_handshake, UM_LOG_WARN, LD_LINK,
	            "link %llu: %s handshake with %s failed: %s", (unsigned long long)l->id,
	            l->inbound ? "inbound" : "outbound", log_safe_addr(l->addr_str),
	            um_err_str(err));
	link_kill_(l, LINK_CLOSE_HANDSHAKE);
}

static void
handshake_done(struct link *l)
{
	struct noise_cs send, recv;
	int ret;

	if ((ret = link_hs_split(&l->hs, &send, &recv)) != UM_OK) {
		handshake_failed(l, ret);
		return;
	}
	link_rec_init(&l->rec, &send, &recv);
	if (l->inbound && l->hs.pattern == LINK_PATTERN_XK && l->mgr->cfg.accept_known_only &&
	    !mgr_is_known_peer_(l->mgr, l->hs.peer_id, l->hs.peer_static)) {
		l->mgr->st.handshakes_failed++;
		log_ratelim(&l->mgr->rl_handshake, UM_LOG_WARN, LD_LINK,
		            "link %llu: refusing inbound link from an unknown peer or key "
		            "(accept = known)",
		            (unsigned long long)l->id);
		link_kill_(l, LINK_CLOSE_UNKNOWN_PEER);
		return;
	}
	l->state = LS_OPEN;
	l->open_ms = now_ms(l);
	l->handshake_us = (um_mono_ns() - l->start_ns) / 1000;
	l->last_rx_ms = l->last_tx_ms = l->last_active_ms = l->open_ms;
	/* hs_in may hold records that came in the same read as the last handshake frame (an XK
	 * initiator sends its first cell right behind message 3): handshake_input() runs them. */
	/* A pause asked for during the handshake (which has to read) takes effect now. */
	if (l->read_paused)
		ev_tcp_read_stop(l->tcp);
	mgr_link_opened_(l->mgr, l);
}

/* ---- puzzles (PROTOCOL.md 2.2) ------------------------------------------------------- */

static int dial(struct link *l);

/* Responder: msg1 came without a valid solution. Send the challenge and close: no DH done. */
static void
responder_challenge(struct link *l, const uint8_t *out, size_t out_len)
{
	struct link_mgr *m = l->mgr;

	if (l->hs.pz_result == LINK_HS_PZ_FAILED)
		m->st.puzzles_failed++;
	else
		m->st.puzzles_asked++;
	log_ratelim(&m->rl_handshake, UM_LOG_INFO, LD_LINK,
	            "link %llu: asking a %u-bit puzzle (%s)", (unsigned long long)l->id,
	            l->hs.pz_bits,
	            l->hs.pz_result == LINK_HS_PZ_FAILED ? "bad solution" : "no solution");
	if (out_len > 0 && ev_tcp_write(l->tcp, out, out_len) == UM_OK) {
		/* FIN after the challenge is flushed; the link goes when the peer closes or
		 * within LINK_CHALLENGE_LINGER_MS (a peer that never solves holds a link slot
		 * for a second at most). Reading stays on to see the peer's FIN. */
		l->state = LS_CLOSING;
		l->close_reason = LINK_CLOSE_PUZZLE;
		l->close_deadline_ms = now_ms(l) + UM_MIN((uint64_t)LINK_CHALLENGE_LINGER_MS,
		                                          m->cfg.handshake_timeout_ms);
		ev_tcp_shutdown(l->tcp);
		/* The handshake is over for admission purposes. */
		mgr_admit_done_(m, l);
		return;
	}
	link_kill_(l, LINK_CLOSE_PUZZLE);
}

/* Initiator: the responder asked a puzzle. Solve it (bounded) and redial with the solution. */
static void
initiator_challenged(struct link *l)
{
	struct link_mgr *m = l->mgr;
	unsigned cap = m->cb.puzzle_cap != NULL ? m->cb.puzzle_cap(m->cb.arg)
	                                        : (unsigned)LINK_PUZZLE_CAP_DEFAULT;
	uint8_t bound[PUZZLE_SEED_LEN + LINK_PUZZLE_BOUND_LEN];
	uint8_t rs[X25519_KEY_LEN], expected[LINK_ID_LEN];
	const uint8_t *k = noise_hs_remote_static(&l->hs.noise);
	uint8_t pattern = l->hs.pattern;
	bool check_id = l->hs.check_id;
	unsigned bits = l->hs.challenge.bits;
	int ret;

	if (bits > UM_MIN(cap, (unsigned)PUZZLE_MAX_BITS) || l->pz.tries >= LINK_PUZZLE_MAX_TRIES ||
	    k == NULL) {
		m->st.puzzles_refused++;
		m->st.handshakes_failed++;
		log_ratelim(&m->rl_handshake, UM_LOG_NOTICE, LD_LINK,
		            "link %llu: %s asks a %u-bit puzzle; refusing (%s)",
		            (unsigned long long)l->id, log_safe_addr(l->addr_str), bits,
		            l->pz.tries >= LINK_PUZZLE_MAX_TRIES ? "asked again after a solution"
		                                                 : "over the network's cap");
		link_kill_(l, LINK_CLOSE_PUZZLE);
		return;
	}
	memcpy(rs, k, sizeof(rs));
	memcpy(expected, l->hs.expected_id, sizeof(expected));
	memcpy(l->pz.seed, l->hs.challenge.seed, PUZZLE_SEED_LEN);
	l->pz.tries++;
	/* The challenge ended this connection: a new one carries a fresh msg1 and the solution
	 * bound to its ephemeral key. */
	ev_tcp_close(l->tcp);
	l->tcp = NULL;
	l->state = LS_CONNECTING;
	buf_clear(&l->hs_in);
	link_hs_clear(&l->hs);
	memcpy(bound, l->pz.seed, PUZZLE_SEED_LEN);
	if ((ret = link_hs_init_initiator(&l->hs, pattern,
	                                  pattern == LINK_PATTERN_XK ? m->me : NULL, rs,
	                                  check_id ? expected : NULL, &m->cert_cache)) != UM_OK ||
	    (ret = link_hs_start(&l->hs, l->pz.first, sizeof(l->pz.first), &l->pz.first_len)) !=
	            UM_OK ||
	    (ret = link_hs_puzzle_bound(&l->hs, l->pz.first, l->pz.first_len,
	                                bound + PUZZLE_SEED_LEN)) != UM_OK ||
	    (ret = puzzle_solver_init(&l->pz.solver, bound, sizeof(bound), bits)) != UM_OK) {
		handshake_failed(l, ret);
		return;
	}
	log_info(LD_LINK, "link %llu: solving a %u-bit puzzle for %s", (unsigned long long)l->id,
	         bits, log_safe_addr(l->addr_str));
	l->pz.solving = true;
	l->pz.start_ns = um_mono_ns();
	ev_defer_schedule(m->solve);
}

static void
puzzle_asked(struct link *l, const uint8_t *out, size_t out_len)
{
	if (l->inbound)
		responder_challenge(l, out, out_len);
	else if (l->hs.challenged)
		initiator_challenged(l);
	else
		handshake_failed(l, UM_ERR_RATELIMIT);
}

uint64_t
link_puzzle_step_(struct link *l, uint64_t budget)
{
	struct link_mgr *m = l->mgr;
	uint64_t before = l->pz.solver.tries;
	size_t n = 0;
	int ret;

	if (!l->pz.solving || l->state != LS_CONNECTING)
		return 0;
	if (!puzzle_solver_run(&l->pz.solver, budget))
		return l->pz.solver.tries - before;
	l->pz.solving = false;
	m->st.puzzles_solved++;
	m->st.puzzle_solve_ms += (um_mono_ns() - l->pz.start_ns) / 1000000;
	if ((ret = link_hs_add_puzzle(l->pz.first, l->pz.first_len, sizeof(l->pz.first), l->pz.seed,
	                              l->pz.solver.nonce, &n)) != UM_OK) {
		handshake_failed(l, ret);
		return l->pz.solver.tries - before;
	}
	l->pz.first_len = n;
	log_info(LD_LINK, "link %llu: puzzle solved (%llu hashes); redialling",
	         (unsigned long long)l->id, (unsigned long long)l->pz.solver.tries);
	if (dial(l) != UM_OK)
		link_kill_(l, LINK_CLOSE_NET);
	return l->pz.solver.tries - before;
}

static void
handshake_input(struct link *l, const uint8_t *data, size_t len)
{
	uint8_t out[LINK_HS_OUT_MAX];
	size_t consumed = 0, out_len = 0;
	int ret;

	/* hs_in takes at most LINK_HS_INBUF_MAX bytes: feed it piecewise. A peer may send
	 * records right behind its last handshake frame (an XK initiator's first cells follow
	 * message 3 at once), possibly more than hs_in holds: what is left of this read after the
	 * handshake goes to the record layer below. */
	while (l->state == LS_HANDSHAKE && !link_hs_is_done(&l->hs)) {
		size_t take = UM_MIN(LINK_HS_INBUF_MAX - buf_len(&l->hs_in), len);

		if (take > 0 && buf_append(&l->hs_in, data, take) != UM_OK) {
			handshake_failed(l, UM_ERR_TOO_LARGE);
			return;
		}
		data += take;
		len -= take;
		if (l->inbound && l->hs.pattern == 0) {
			struct link_mgr *m = l->mgr;

			l->hs.pz_gate = m->gate;
			l->hs.pz_bits =
			        m->cb.puzzle_bits != NULL ? m->cb.puzzle_bits(m->cb.arg) : 0;
			l->hs.pz_now_ms = now_ms(l);
		}
		ret = link_hs_input(&l->hs, buf_data(&l->hs_in), buf_len(&l->hs_in), &consumed, out,
		                    sizeof(out), &out_len, um_wall_s());
		if (ret == UM_ERR_RATELIMIT) {
			puzzle_asked(l, out, out_len);
			return;
		}
		if (l->hs.pz_result == LINK_HS_PZ_PASSED) {
			l->mgr->st.puzzles_passed++;
			l->hs.pz_result = LINK_HS_PZ_NONE; /* counted once */
		}
		if (ret != UM_OK) {
			handshake_failed(l, ret);
			return;
		}
		buf_consume(&l->hs_in, consumed);
		if (out_len > 0 && ev_tcp_write(l->tcp, out, out_len) != UM_OK) {
			link_kill_(l, LINK_CLOSE_NET);
			return;
		}
		if (consumed == 0) {
			if (len == 0)
				return; /* wait for the rest of the frame */
			if (buf_len(&l->hs_in) >= LINK_HS_INBUF_MAX) {
				handshake_failed(l, UM_ERR_TOO_LARGE);
				return;
			}
		}
	}
	if (l->state != LS_HANDSHAKE)
		return;
	handshake_done(l);
	if (l->state == LS_OPEN && buf_len(&l->hs_in) > 0) {
		/* Records that arrived in the same read as the last handshake frame. */
		uint8_t rest[LINK_HS_INBUF_MAX];
		size_t n = buf_len(&l->hs_in);

		memcpy(rest, buf_data(&l->hs_in), n);
		buf_clear(&l->hs_in);
		process_records(l, rest, n);
	}
	if ((l->state == LS_OPEN || l->state == LS_CLOSING) && len > 0)
		process_records(l, data, len);
}

/* ---- stream callbacks ------------------------------------------------------------------ */

static void
on_read(void *arg, const uint8_t *data, size_t len)
{
	struct link *l = arg;

	switch (l->state) {
	case LS_HANDSHAKE:
		handshake_input(l, data, len);
		break;
	case LS_OPEN:
	case LS_CLOSING:
		/* A link that never opened (we sent a puzzle challenge) has no records: what the
		 * peer sends until it closes is dropped. */
		if (l->open_ms != 0)
			process_records(l, data, len);
		break;
	default:
		break;
	}
	if (l->state != LS_DEAD)
		link_test_pump_(l);
}

static void
on_eof(void *arg, int status, int sys_errno)
{
	struct link *l = arg;

	if (l->state == LS_CLOSING) {
		log_info(LD_LINK, "link %llu: closed (%s)", (unsigned long long)l->id,
		         link_close_reason_str(l->close_reason));
		link_kill_(l, l->close_reason);
		return;
	}
	if (status != UM_OK)
		log_info(LD_LINK, "link %llu: connection error: %s", (unsigned long long)l->id,
		         strerror(sys_errno));
	link_kill_(l, status == UM_OK ? LINK_CLOSE_EOF : LINK_CLOSE_NET);
}

static void
on_drain(void *arg)
{
	struct link *l = arg;

	if (l->state == LS_DEAD)
		return;
	link_test_pump_(l);
	if (l->state != LS_DEAD && l->mgr->cb.on_drain != NULL)
		l->mgr->cb.on_drain(l->mgr->cb.arg, l);
}

static void
on_connect(void *arg, int status)
{
	struct link *l = arg;
	uint8_t out[LINK_HS_OUT_MAX];
	size_t out_len = 0;
	int ret;

	if (status != UM_OK) {
		log_info(LD_LINK, "link %llu: connect to %s failed", (unsigned long long)l->id,
		         log_safe_addr(l->addr_str));
		link_kill_(l, LINK_CLOSE_NET);
		return;
	}
	l->state = LS_HANDSHAKE;
	/* The link coalesces its own writes (one flush per loop turn); Nagle would only hold a
	 * lone record (a SENDME, a CREATED2) back until the peer's delayed ACK. */
	if (ev_tcp_set_nodelay(l->tcp, true) != UM_OK)
		log_debug(LD_LINK, "link %llu: no TCP_NODELAY", (unsigned long long)l->id);
	if (l->pz.first_len > 0) {
		/* A redial with a puzzle solution: msg1 was made before solving. */
		ret = ev_tcp_write(l->tcp, l->pz.first, l->pz.first_len);
		um_memzero(l->pz.first, sizeof(l->pz.first));
		l->pz.first_len = 0;
		if (ret != UM_OK || ev_tcp_read_start(l->tcp) != UM_OK)
			link_kill_(l, LINK_CLOSE_NET);
		return;
	}
	if ((ret = link_hs_start(&l->hs, out, sizeof(out), &out_len)) != UM_OK) {
		handshake_failed(l, ret);
		return;
	}
	if (ev_tcp_write(l->tcp, out, out_len) != UM_OK || ev_tcp_read_start(l->tcp) != UM_OK)
		link_kill_(l, LINK_CLOSE_NET);
}

static const struct ev_tcp_ops link_tcp_ops = {
	.on_connect = on_connect,
	.on_read = on_read,
	.on_eof = on_eof,
	.on_drain = on_drain,
};

void
link_start_inbound_(struct link *l)
{
	struct link_mgr *m = l->mgr;
	int ret;

	ev_tcp_set_ops(l->tcp, &link_tcp_ops, l);
	ev_tcp_set_drain_threshold(l->tcp, m->cfg.write_queue_max / 2);
	if (ev_tcp_set_nodelay(l->tcp, true) != UM_OK) /* as on_connect() says */
		log_debug(LD_LINK, "link %llu: no TCP_NODELAY", (unsigned long long)l->id);
	if ((ret = link_hs_init_responder(&l->hs, m->me, m->cfg.accept, &m->cert_cache)) != UM_OK ||
	    (ret = ev_tcp_read_start(l->tcp)) != UM_OK) {
		link_kill_(l, LINK_CLOSE_NET);
		return;
	}
}

int
link_start_outbound_(struct link *l, uint8_t pattern, const uint8_t *expected_id,
                     const uint8_t rs[X25519_KEY_LEN], const struct sockaddr_storage *sa)
{
	struct link_mgr *m = l->mgr;
	int ret;

	if ((ret = link_hs_init_initiator(&l->hs, pattern,
	                                  pattern == LINK_PATTERN_XK ? m->me : NULL, rs,
	                                  expected_id, &m->cert_cache)) != UM_OK)
		return ret;
	l->addr = *sa;
	return dial(l);
}

/* Connect l to its address (first dial, or a redial with a puzzle solution). */
static int
dial(struct link *l)
{
	struct link_mgr *m = l->mgr;
	const struct sockaddr_storage *src;
	int ret;

	src = l->addr.ss_family == AF_INET ? &m->cfg.outbound4 : &m->cfg.outbound6;
	if ((ret = ev_tcp_connect_from(m->loop, (const struct sockaddr *)&l->addr,
	                               src->ss_family != 0 ? (const struct sockaddr *)src : NULL,
	                               &link_tcp_ops, l, &l->tcp)) != UM_OK)
		return ret;
	ev_tcp_set_drain_threshold(l->tcp, m->cfg.write_queue_max / 2);
	return UM_OK;
}

void
link_tick_(struct link *l, uint64_t now)
{
	const struct link_mgr_config *cfg = &l->mgr->cfg;
	int ret;

	switch (l->state) {
	case LS_CONNECTING:
	case LS_HANDSHAKE:
		if (now - l->start_ms >= cfg->handshake_timeout_ms) {
			l->mgr->st.handshakes_failed++;
			log_ratelim(&l->mgr->rl_handshake, UM_LOG_INFO, LD_LINK,
			            "link %llu: handshake timed out", (unsigned long long)l->id);
			link_kill_(l, LINK_CLOSE_HS_TIMEOUT);
		}
		break;
	case LS_OPEN:
		/* A link we stopped reading (backpressure) cannot tell a silent peer from one
		 * whose padding waits in the socket buffer behind the data we hold off. */
		if (!l->read_paused &&
		    now - l->last_rx_ms >= LINK_SILENCE_FACTOR * cfg->keepalive_ms) {
			log_info(LD_LINK, "link %llu: peer silent; closing",
			         (unsigned long long)l->id);
			link_kill_(l, LINK_CLOSE_SILENT);
			break;
		}
		if (!l->test_tx.info.active && !l->test_rx.info.active && l->peer == NULL &&
		    !(l->hs.peer_identified && mgr_is_known_peer_(l->mgr, l->hs.peer_id, NULL)) &&
		    now - l->last_active_ms >= cfg->idle_timeout_ms) {
			log_info(LD_LINK, "link %llu: idle; closing", (unsigned long long)l->id);
			link_close(l, LINK_CLOSE_IDLE);
			break;
		}
		if (now - l->last_tx_ms >= cfg->keepalive_ms &&
		    (ret = send_ctl(l, CELL_PADDING, NULL, 0)) != UM_OK)
			link_kill_(l, send_fail_reason(ret));
		break;
	case LS_CLOSING:
		if (now >= l->close_deadline_ms)
			link_kill_(l, l->close_reason);
		break;
	default:
		break;
	}
}

void
link_fill_info_(const struct link *l, uint64_t now, struct link_info *info)
{
	static const char *const states[] = { "connecting", "handshake", "open", "closing",
		                              "dead" };

	memset(info, 0, sizeof(*info));
	info->id = l->id;
	info->inbound = l->inbound;
	info->persistent = l->peer != NULL;
	info->pattern = l->hs.pattern;
	info->state = states[l->state];
	info->peer_identified = l->state >= LS_OPEN && l->hs.peer_identified;
	if (info->peer_identified)
		memcpy(info->peer_id, l->hs.peer_id, LINK_ID_LEN);
	memcpy(info->peer_addr, l->addr_str, sizeof(info->peer_addr));
	info->age_ms = now - l->start_ms;
	info->cells_tx = l->cells_tx;
	info->cells_rx = l->cells_rx;
	info->rekeys_tx = l->rec.rekeys_tx;
	info->rekeys_rx = l->rec.rekeys_rx;
	info->handshake_us = l->handshake_us;
	info->write_queue = l->tcp != NULL ? ev_tcp_write_queue(l->tcp) : 0;
	info->reading = l->tcp != NULL && ev_tcp_is_reading(l->tcp);
	info->test_tx = l->test_tx.info;
	info->test_rx = l->test_rx.info;
}
