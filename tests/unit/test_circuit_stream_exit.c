/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/stream_exit (the exit's stream layer) on a real event loop with a
 * loopback TCP server, a stand-in circuit and the relay messages it would send captured:
 * a relay without the exit role refuses BEGIN (END EXITPOLICY), RESOLVE (an 0xF1 answer) and
 * BEGIN_DIR (END NOTDIRECTORY); a malformed BEGIN closes the circuit; BEGIN to a listening
 * port answers CONNECTED with its address, then 200 KB from the destination come as DATA under
 * the Vegas window (no more than cwnd cells before SENDMEs, which the test sends back with the
 * digests of the 31st cells), its EOF as END(DONE), the client's DATA reach the destination
 * and the client's END(DONE) becomes its EOF (half-close), after which the stream is freed;
 * a closed port gives END(CONNECTREFUSED), a port the policy rejects END(EXITPOLICY); the
 * 257th stream on a circuit gets END(RESOURCELIMIT); closing the circuit drops everything.
 * Tiers (docs/PROTOCOL.md 17.5, 17.6): under require_token a tier-0 circuit gets END
 * (EXITPOLICY) and RESOLVED errors; a TOKEN is answered TOKEN_ACK (unknown issuer, malformed,
 * accepted with its tier, then "has a tier"), the tier's rules judge the BEGINs after it; a
 * TOKEN on a circuit that goes on past us is dropped, one shorter than an issuer id closes
 * the circuit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "evloop/evloop.h"
#include "store/store.h"
#include "trust/token_verifier.h"
#include "exit/exit_conn.h"
#include "exit/exit_policy.h"
#include "exit/exit_tier.h"
#include "circuit/cc.h"
#include "circuit/circuit_st.h"
#include "circuit/stream_exit.h"
#include "circuit/stream_mux.h"
#include "helpers/token_fixture.h"

enum {
	WATCHDOG_MS = 20 * 1000,
	BLOB = 200 * 1000,
};

struct msg {
	uint8_t cmd;
	uint16_t sid;
	uint8_t data[RELAY_DATA_MAX];
	size_t len;
	uint8_t digest[RELAY_DIGEST_LEN];
};

struct fx {
	struct ev_loop *loop;
	struct exit_policy *policy;
	struct exit_ctx *exit;
	struct stream_exit *sx;
	struct circuit circ;
	struct msg *msgs;
	size_t n_msgs, cap;
	uint64_t ctr;
	int closes;
	/* ops->backlog reports */
	int backlog_calls;
	size_t backlog_last, backlog_max;
	uint64_t age_max;
	/* the destination */
	struct ev_listener *l;
	uint16_t port;
	struct ev_tcp *conn;
	uint8_t *blob;
	uint8_t got[256];
	size_t got_len;
	bool got_eof;
	bool dst_no_fin; /* the destination sends BLOB but no FIN */
	/* what stops the loop */
	bool (*until)(struct fx *);
	struct ev_timer *watchdog, *poll;
	bool timed_out;
};

static int
op_send(void *arg, struct circuit *circ, uint8_t cmd, uint16_t sid, const uint8_t *data, size_t len,
        uint8_t digest[RELAY_DIGEST_LEN])
{
	struct fx *f = arg;
	struct msg *m;

	assert_ptr_equal(circ, &f->circ);
	if (f->n_msgs == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->msgs = realloc(f->msgs, f->cap * sizeof(*f->msgs));
	}
	m = &f->msgs[f->n_msgs++];
	m->cmd = cmd;
	m->sid = sid;
	memcpy(m->data, data, len);
	m->len = len;
	memset(m->digest, 0, sizeof(m->digest));
	f->ctr++;
	memcpy(m->digest, &f->ctr, sizeof(f->ctr));
	memcpy(digest, m->digest, RELAY_DIGEST_LEN);
	return UM_OK;
}

static void
op_close(void *arg, struct circuit *circ)
{
	struct fx *f = arg;

	(void)circ;
	f->closes++;
}

static void
op_backlog(void *arg, struct circuit *circ, size_t bytes, uint64_t age_ms)
{
	struct fx *f = arg;

	assert_ptr_equal(circ, &f->circ);
	f->backlog_calls++;
	f->backlog_last = bytes;
	f->backlog_max = bytes > f->backlog_max ? bytes : f->backlog_max;
	f->age_max = age_ms > f->age_max ? age_ms : f->age_max;
}

static void
watchdog_cb(void *arg)
{
	struct fx *f = arg;

	f->timed_out = true;
	ev_loop_stop(f->loop);
}

static void
poll_cb(void *arg)
{
	struct fx *f = arg;

	if (f->until != NULL && f->until(f))
		ev_loop_stop(f->loop);
}

static void
run_until(struct fx *f, bool (*until)(struct fx *))
{
	f->until = until;
	f->timed_out = false;
	ev_timer_start(f->watchdog, WATCHDOG_MS, 0);
	ev_timer_start(f->poll, 1, 1);
	if (!until(f))
		assert_int_equal(ev_loop_run(f->loop), UM_OK);
	ev_timer_stop(f->watchdog);
	ev_timer_stop(f->poll);
	assert_false(f->timed_out);
}

/* ---- the destination: sends BLOB bytes then FIN, records what it gets ---- */

static void
dst_read(void *arg, const uint8_t *data, size_t len)
{
	struct fx *f = arg;
	size_t n = len < sizeof(f->got) - f->got_len ? len : sizeof(f->got) - f->got_len;

	memcpy(f->got + f->got_len, data, n);
	f->got_len += n;
}

static void
dst_eof(void *arg, int status, int sys_errno)
{
	struct fx *f = arg;

	(void)status;
	(void)sys_errno;
	f->got_eof = true;
}

static const struct ev_tcp_ops dst_ops = { .on_read = dst_read, .on_eof = dst_eof };

static void
dst_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct fx *f = arg;

	(void)peer;
	if (f->conn != NULL) {
		ev_tcp_close(conn);
		return;
	}
	f->conn = conn;
	ev_tcp_set_ops(conn, &dst_ops, f);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
	assert_int_equal(ev_tcp_write(conn, f->blob, BLOB), UM_OK);
	if (!f->dst_no_fin)
		ev_tcp_shutdown(conn);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct stream_exit_ops ops = {
		.send = op_send, .close = op_close, .backlog = op_backlog, .arg = f
	};
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	char err[128];
	const char *pol = "reject *:25, accept 127.0.0.0/8:*";

	f->loop = ev_loop_new();
	assert_int_equal(exit_policy_parse(pol, strlen(pol), &f->policy, err, sizeof(err)), UM_OK);
	assert_int_equal(exit_ctx_new(f->loop, f->policy, NULL, &f->exit), UM_OK);
	f->sx = stream_exit_new(f->loop, f->exit, &ops);
	f->circ.state = CIRC_S_OPEN;
	f->watchdog = ev_timer_new(f->loop, watchdog_cb, f);
	f->poll = ev_timer_new(f->loop, poll_cb, f);
	f->blob = malloc(BLOB);
	for (size_t i = 0; i < BLOB; i++)
		f->blob[i] = (uint8_t)(i * 7 + (i >> 8));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(ev_tcp_listen(f->loop, (struct sockaddr *)&sin, 16, dst_accept, f, &f->l),
	                 UM_OK);
	assert_int_equal(ev_listener_addr(f->l, &ss), UM_OK);
	f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	stream_exit_free(f->sx);
	exit_ctx_free(f->exit);
	exit_policy_free(f->policy);
	if (f->conn != NULL)
		ev_tcp_close(f->conn);
	ev_listener_free(f->l);
	ev_timer_free(f->watchdog);
	ev_timer_free(f->poll);
	ev_loop_free(f->loop);
	free(f->msgs);
	free(f->blob);
	free(f);
	return 0;
}

static void
send_msg(struct fx *f, uint8_t cmd, uint16_t sid, const uint8_t *data, size_t len)
{
	static const uint8_t zero[RELAY_DIGEST_LEN];

	stream_exit_on_msg(f->sx, &f->circ, cmd, sid, data, len, zero, um_mono_ns());
}

static void
send_begin(struct fx *f, uint16_t sid, uint16_t port)
{
	struct relay_begin b;
	uint8_t buf[RELAY_DATA_MAX];
	struct wire_wr w = { .p = buf, .cap = sizeof(buf), .len = 0 };

	memset(&b, 0, sizeof(b));
	b.target.type = RELAY_HOST_IPV4;
	b.target.addr[0] = 127;
	b.target.addr[3] = 1;
	b.target.port = port;
	assert_int_equal(relay_begin_write(&w, &b), UM_OK);
	send_msg(f, RELAY_BEGIN, sid, buf, w.len);
}

static const struct msg *
find_msg(const struct fx *f, uint8_t cmd, uint16_t sid)
{
	for (size_t i = 0; i < f->n_msgs; i++)
		if (f->msgs[i].cmd == cmd && f->msgs[i].sid == sid)
			return &f->msgs[i];
	return NULL;
}

static uint8_t
end_reason(const struct fx *f, uint16_t sid)
{
	const struct msg *m = find_msg(f, RELAY_END, sid);
	struct relay_end e;

	if (m == NULL || relay_end_parse(m->data, m->len, &e) != UM_OK)
		return 0;
	return e.reason;
}

static void
test_no_exit_role_refuses(void **state)
{
	struct fx *f = *state;
	struct stream_exit_ops ops = { .send = op_send, .close = op_close, .arg = f };
	struct relay_resolve rq;
	struct relay_resolved rr;
	uint8_t buf[RELAY_DATA_MAX];
	struct wire_wr w = { .p = buf, .cap = sizeof(buf), .len = 0 };
	const struct msg *m;

	stream_exit_free(f->sx);
	f->sx = stream_exit_new(f->loop, NULL, &ops);
	send_begin(f, 1, f->port);
	assert_int_equal(end_reason(f, 1), RELAY_END_EXITPOLICY);
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, "example.com");
	assert_int_equal(relay_resolve_write(&w, &rq), UM_OK);
	send_msg(f, RELAY_RESOLVE, 2, buf, w.len);
	assert_non_null(m = find_msg(f, RELAY_RESOLVED, 2));
	assert_int_equal(relay_resolved_parse(m->data, m->len, &rr), UM_OK);
	assert_int_equal(rr.n_answers, 1);
	assert_int_equal(rr.answers[0].type, RELAY_ANSWER_ERR_NONTRANSIENT);
	send_msg(f, RELAY_BEGIN_DIR, 3, NULL, 0);
	assert_int_equal(end_reason(f, 3), RELAY_END_NOTDIRECTORY);
	assert_int_equal(f->closes, 0);
	/* A BEGIN that does not parse is a protocol violation. */
	send_msg(f, RELAY_BEGIN, 4, (const uint8_t *)"bad host:0", 10);
	assert_int_equal(f->closes, 1);
	stream_exit_circ_closed(f->sx, &f->circ);
}

static bool
connected(struct fx *f)
{
	return find_msg(f, RELAY_CONNECTED, 7) != NULL || find_msg(f, RELAY_END, 7) != NULL;
}

static size_t g_sendmes; /* SENDMEs the "client" sent so far */

static size_t
data_cells(const struct fx *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_msgs; i++)
		n += f->msgs[i].cmd == RELAY_DATA;
	return n;
}

/* The client side: ack every 31st DATA cell with its digest; stop at END. */
static bool
ack_until_end(struct fx *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_msgs; i++) {
		if (f->msgs[i].cmd != RELAY_DATA)
			continue;
		if (++n % CC_SENDME_INC == 0 && n / CC_SENDME_INC > g_sendmes) {
			struct relay_sendme sm;
			uint8_t b[64];
			struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };

			memcpy(sm.digest, f->msgs[i].digest, RELAY_DIGEST_LEN);
			assert_int_equal(relay_sendme_write(&w, &sm), UM_OK);
			g_sendmes++;
			/* Before any SENDME, the window stops the exit at cwnd_init cells. */
			if (g_sendmes == 1)
				assert_true(data_cells(f) <= CC_CWND_INIT);
			stream_exit_on_msg(f->sx, &f->circ, RELAY_SENDME, 0, b, w.len, b,
			                   um_mono_ns());
			return false; /* the message array may have grown: look again next time */
		}
	}
	return find_msg(f, RELAY_END, 7) != NULL;
}

static bool
dst_got_eof(struct fx *f)
{
	struct stream_exit_stats st;

	stream_exit_stats(f->sx, &st);
	return f->got_eof && st.streams == 0;
}

static void
test_connect_data_half_close(void **state)
{
	struct fx *f = *state;
	struct relay_connected c;
	const struct msg *m;
	uint8_t *rx = malloc(BLOB);
	size_t rx_len = 0;

	send_begin(f, 7, f->port);
	run_until(f, connected);
	assert_non_null(m = find_msg(f, RELAY_CONNECTED, 7));
	assert_int_equal(relay_connected_parse(m->data, m->len, &c), UM_OK);
	assert_int_equal(c.addr_type, RELAY_HOST_IPV4);
	assert_int_equal(c.addr[0], 127);
	assert_int_equal(c.ttl, EXIT_DNS_TTL);
	/* The client's bytes reach the destination. */
	send_msg(f, RELAY_DATA, 7, (const uint8_t *)"ping", 4);
	g_sendmes = 0;
	run_until(f, ack_until_end);
	assert_int_equal(end_reason(f, 7), RELAY_END_DONE);
	for (size_t i = 0; i < f->n_msgs; i++) {
		if (f->msgs[i].cmd != RELAY_DATA)
			continue;
		assert_int_equal(f->msgs[i].sid, 7);
		assert_true(rx_len + f->msgs[i].len <= BLOB);
		memcpy(rx + rx_len, f->msgs[i].data, f->msgs[i].len);
		rx_len += f->msgs[i].len;
	}
	assert_int_equal(rx_len, BLOB);
	assert_memory_equal(rx, f->blob, BLOB);
	assert_true(g_sendmes >= 2);
	assert_int_equal(f->got_len, 4);
	assert_memory_equal(f->got, "ping", 4);
	/* The client half-closes: the destination sees EOF and the stream is gone. */
	assert_false(f->got_eof);
	send_msg(f, RELAY_END, 7, (const uint8_t[]){ RELAY_END_DONE }, 1);
	run_until(f, dst_got_eof);
	assert_int_equal(f->closes, 0);
	free(rx);
}

static bool
two_ends(struct fx *f)
{
	return find_msg(f, RELAY_END, 20) != NULL && find_msg(f, RELAY_END, 21) != NULL;
}

static void
test_refusals(void **state)
{
	struct fx *f = *state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint16_t closed;

	/* A port nobody listens on. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	closed = ntohs(sin.sin_port);
	send_begin(f, 20, closed);
	send_begin(f, 21, 25);
	run_until(f, two_ends);
	close(fd);
	assert_int_equal(end_reason(f, 20), RELAY_END_CONNECTREFUSED);
	assert_int_equal(end_reason(f, 21), RELAY_END_EXITPOLICY);
	assert_int_equal(f->closes, 0);
}

static const struct msg *
last_msg(const struct fx *f, uint8_t cmd, uint16_t sid)
{
	for (size_t i = f->n_msgs; i > 0; i--)
		if (f->msgs[i - 1].cmd == cmd && f->msgs[i - 1].sid == sid)
			return &f->msgs[i - 1];
	return NULL;
}

/* Send TOKEN(issuer, tok) and return the TOKEN_ACK it got (status << 8 | tier), or -1. */
static int
token_ack(struct fx *f, const uint8_t issuer[RELAY_TOKEN_ISSUER_LEN], const uint8_t *tok,
          size_t len)
{
	uint8_t b[RELAY_DATA_MAX];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	struct relay_token t;
	struct relay_token_ack a;
	size_t before = f->n_msgs;
	const struct msg *m;

	memcpy(t.issuer, issuer, sizeof(t.issuer));
	t.token = (struct relay_bytes){ len > 0 ? tok : NULL, len };
	assert_int_equal(relay_token_write(&w, &t), UM_OK);
	send_msg(f, RELAY_TOKEN, 0, b, w.len);
	if (f->n_msgs == before || (m = last_msg(f, RELAY_TOKEN_ACK, 0)) == NULL)
		return -1;
	assert_int_equal(relay_token_ack_parse(m->data, m->len, &a), UM_OK);
	return a.status << 8 | a.tier;
}

static bool
connected9(struct fx *f)
{
	return find_msg(f, RELAY_CONNECTED, 9) != NULL || find_msg(f, RELAY_END, 9) != NULL;
}

static void
test_token_sets_tier(void **state)
{
	struct fx *f = *state;
	static const char *const items[] = { "0: reject 127.0.0.0/8:*", "2: reject *:25" };
	struct exit_tier_policy *tp = NULL, *tp_req = NULL;
	struct tok_issuer ti;
	struct store *st = NULL;
	struct token_verifier *tv = NULL;
	struct token_verifier_stats vs;
	struct relay_resolve rq;
	struct relay_resolved rr;
	uint8_t tok[TOKEN_MAX_LEN], tok2[TOKEN_MAX_LEN], other[RELAY_TOKEN_ISSUER_LEN], b[64];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	const uint8_t *doc;
	size_t len, len2, doc_len, n;
	const struct msg *m;
	char err[EXIT_TIER_ERR_LEN], why[256];

	assert_int_equal(um_crypto_init(), UM_OK);
	assert_int_equal(exit_tier_policy_parse(items, 2, false, &tp, err, sizeof(err)), UM_OK);
	assert_int_equal(exit_tier_policy_parse(items, 2, true, &tp_req, err, sizeof(err)), UM_OK);
	assert_int_equal(tok_issuer_open(&ti, 2, 0, um_wall_s()), UM_OK);
	assert_int_equal(tok_issuer_issue(&ti, 2, um_wall_s(), tok, sizeof(tok), &len, NULL),
	                 UM_OK);
	assert_int_equal(tok_issuer_issue(&ti, 1, um_wall_s(), tok2, sizeof(tok2), &len2, NULL),
	                 UM_OK);
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
	assert_int_equal(token_verifier_new(st, &tv, why, sizeof(why)), UM_OK);
	assert_int_equal(token_verifier_add_issuer(tv, ti.id.pk), UM_OK);
	assert_int_equal(issuer_keyring_keys_doc(ti.kr, um_wall_s(), &doc, &doc_len), UM_OK);
	assert_int_equal(token_verifier_offer_keys(tv, ti.id.pk, doc, doc_len, um_wall_s()), UM_OK);

	/* Without a verifier, every issuer is unknown (a relay that trusts none). */
	memset(other, 0x77, sizeof(other));
	assert_int_equal(token_ack(f, other, tok, len), RELAY_TOKEN_UNKNOWN_ISSUER << 8);
	exit_ctx_set_tokens(f->exit, tv);

	/* require_token: a tier-0 circuit opens nothing and resolves nothing. */
	exit_ctx_set_tiers(f->exit, tp_req);
	send_begin(f, 1, f->port);
	assert_int_equal(end_reason(f, 1), RELAY_END_EXITPOLICY);
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, "example.com");
	assert_int_equal(relay_resolve_write(&w, &rq), UM_OK);
	send_msg(f, RELAY_RESOLVE, 2, b, w.len);
	assert_non_null(m = find_msg(f, RELAY_RESOLVED, 2));
	assert_int_equal(relay_resolved_parse(m->data, m->len, &rr), UM_OK);
	assert_int_equal(rr.answers[0].type, RELAY_ANSWER_ERR_NONTRANSIENT);

	/* Tier 0 by its rules: loopback refused. */
	exit_ctx_set_tiers(f->exit, tp);
	send_begin(f, 3, f->port);
	assert_int_equal(end_reason(f, 3), RELAY_END_EXITPOLICY);

	/* Refused tokens leave the circuit at tier 0. */
	assert_int_equal(token_ack(f, other, tok, len), RELAY_TOKEN_UNKNOWN_ISSUER << 8);
	assert_int_equal(token_ack(f, ti.id.pk, tok, len - 1), RELAY_TOKEN_UNAVAILABLE << 8);
	assert_int_equal(token_ack(f, ti.id.pk, NULL, 0), RELAY_TOKEN_UNAVAILABLE << 8);
	/* A TOKEN recognized by a relay the circuit goes on from is dropped: no ACK. */
	f->circ.ext = (struct circ_extend *)(uintptr_t)1;
	assert_int_equal(token_ack(f, ti.id.pk, tok, len), -1);
	f->circ.ext = NULL;
	/* The real one: tier 2, and the BEGIN after it is judged at tier 2. */
	assert_int_equal(token_ack(f, ti.id.pk, tok, len), RELAY_TOKEN_ACCEPTED << 8 | 2);
	send_begin(f, 9, f->port);
	run_until(f, connected9);
	assert_non_null(find_msg(f, RELAY_CONNECTED, 9));
	send_begin(f, 10, 25);
	assert_int_equal(end_reason(f, 10), RELAY_END_EXITPOLICY);
	/* One token per circuit, and a spent one stays spent. */
	assert_int_equal(token_ack(f, ti.id.pk, tok2, len2), RELAY_TOKEN_HAS_TIER << 8 | 2);
	assert_int_equal(token_ack(f, ti.id.pk, tok, len), RELAY_TOKEN_HAS_TIER << 8 | 2);
	token_verifier_stats(tv, &vs);
	assert_int_equal(vs.accepted, 1);
	assert_int_equal(vs.refused[TOKEN_VERDICT_UNKNOWN_ISSUER], 1);
	assert_int_equal(vs.refused[TOKEN_VERDICT_UNAVAILABLE], 2);
	assert_int_equal(vs.refused[TOKEN_VERDICT_HAS_TIER], 2);
	assert_int_equal(f->closes, 0);
	/* A TOKEN too short to name an issuer is a protocol violation. */
	n = f->n_msgs;
	send_msg(f, RELAY_TOKEN, 0, other, 31);
	assert_int_equal(f->closes, 1);
	assert_int_equal(f->n_msgs, n);

	stream_exit_circ_closed(f->sx, &f->circ);
	exit_ctx_set_tiers(f->exit, NULL);
	exit_ctx_set_tokens(f->exit, NULL);
	token_verifier_free(tv);
	store_close(st);
	tok_issuer_close(&ti);
	exit_tier_policy_free(tp);
	exit_tier_policy_free(tp_req);
}

static void
test_stream_cap(void **state)
{
	struct fx *f = *state;
	struct stream_exit_stats st;
	size_t n_limit = 0;

	for (uint16_t sid = 1; sid <= SMUX_STREAMS_MAX + 1; sid++)
		send_begin(f, sid, f->port);
	for (size_t i = 0; i < f->n_msgs; i++) {
		struct relay_end e;

		if (f->msgs[i].cmd != RELAY_END)
			continue;
		assert_int_equal(relay_end_parse(f->msgs[i].data, f->msgs[i].len, &e), UM_OK);
		assert_int_equal(e.reason, RELAY_END_RESOURCELIMIT);
		assert_int_equal(f->msgs[i].sid, SMUX_STREAMS_MAX + 1);
		n_limit++;
	}
	assert_int_equal(n_limit, 1);
	stream_exit_stats(f->sx, &st);
	assert_int_equal(st.streams, SMUX_STREAMS_MAX);
	/* The circuit closes: every pending open goes (ASan checks nothing leaks). */
	stream_exit_circ_closed(f->sx, &f->circ);
	stream_exit_stats(f->sx, &st);
	assert_int_equal(st.streams, 0);
	assert_int_equal(st.circuits, 0);
}

/* ---- helpers for the tests below ---- */

static uint64_t g_deadline_ms;

static bool
past_deadline(struct fx *f)
{
	(void)f;
	return um_mono_ms() >= g_deadline_ms;
}

static void
run_for(struct fx *f, uint64_t ms)
{
	g_deadline_ms = um_mono_ms() + ms;
	run_until(f, past_deadline);
}

/* The client acks the next 31st DATA cell it has not acked yet; false if there is none. */
static bool
ack_next(struct fx *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_msgs; i++) {
		if (f->msgs[i].cmd != RELAY_DATA)
			continue;
		if (++n % CC_SENDME_INC == 0 && n / CC_SENDME_INC > g_sendmes) {
			struct relay_sendme sm;
			uint8_t b[64];
			struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };

			memcpy(sm.digest, f->msgs[i].digest, RELAY_DIGEST_LEN);
			assert_int_equal(relay_sendme_write(&w, &sm), UM_OK);
			g_sendmes++;
			stream_exit_on_msg(f->sx, &f->circ, RELAY_SENDME, 0, b, w.len, b,
			                   um_mono_ns());
			return true;
		}
	}
	return false;
}

static size_t
n_streams(const struct fx *f)
{
	struct stream_exit_stats st;

	stream_exit_stats(f->sx, &st);
	return st.streams;
}

/* The client sends n bytes of DATA on sid, in full cells. */
static void
send_bytes(struct fx *f, uint16_t sid, size_t n)
{
	uint8_t cell[RELAY_DATA_MAX];

	memset(cell, 'c', sizeof(cell));
	while (n > 0) {
		size_t k = n < sizeof(cell) ? n : sizeof(cell);

		send_msg(f, RELAY_DATA, sid, cell, k);
		n -= k;
	}
}

static void
test_dead_socket_found_later_sends_end(void **state)
{
	struct fx *f = *state;

	f->dst_no_fin = true;
	send_begin(f, 7, f->port);
	run_until(f, connected);
	/* No SENDME comes: the exit sends a window of DATA, fills its send buffer from the
	 * destination and stops reading it. */
	run_for(f, 300);
	assert_int_equal(data_cells(f), CC_CWND_INIT);
	/* The destination resets; the exit, not reading, does not notice yet. */
	ev_tcp_abort(f->conn);
	f->conn = NULL;
	run_for(f, 50);
	/* The client's bytes fill exactly one output chunk, whose write meets the reset (the
	 * socket is dead; its report waits for the loop's flush point). */
	send_bytes(f, 7, EV_TCP_CHUNK);
	assert_int_equal(n_streams(f), 1);
	assert_null(find_msg(f, RELAY_END, 7));
	/* SENDMEs let the exit drain its send buffer; below the mark it wants to read the
	 * destination again, finds the socket dead, and must tell the client. */
	g_sendmes = 0;
	while (n_streams(f) > 0 && ack_next(f))
		;
	assert_int_equal(n_streams(f), 0);
	assert_int_equal(end_reason(f, 7), RELAY_END_CONNRESET);
	assert_int_equal(f->closes, 0);
}

/* ---- closing streams: drain with progress, reset without ---- */

enum {
	DRAIN_BYTES = 9000 * RELAY_DATA_MAX, /* 4374000: below the XOFF hard cap (14.4) */
};

struct slow_dst {
	int lfd, fd;
	uint16_t port;
	size_t got;
	bool eof;
	int err;
	uint64_t next_read_ms; /* 0: not reading */
};

static struct slow_dst g_dst;

/* A destination with a 4 KB receive buffer (accepted sockets inherit it): most of what the
 * exit queues toward it stays in the exit's own queue instead of kernel buffers. */
static void
slow_dst_listen(struct slow_dst *d)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int small = 4096;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(d->lfd >= 0);
	assert_int_equal(setsockopt(d->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(d->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(d->lfd, 1), 0);
	assert_int_equal(getsockname(d->lfd, (struct sockaddr *)&sin, &len), 0);
	d->port = ntohs(sin.sin_port);
}

/* Read up to max bytes without blocking; note EOF or an error. */
static void
slow_dst_read(struct slow_dst *d, size_t max)
{
	uint8_t b[16384];

	while (max > 0 && !d->eof && d->err == 0) {
		ssize_t n = recv(d->fd, b, max < sizeof(b) ? max : sizeof(b), MSG_DONTWAIT);

		if (n > 0) {
			d->got += (size_t)n;
			max -= (size_t)n;
		} else if (n == 0) {
			d->eof = true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno != EINTR) {
			d->err = errno;
		}
	}
}

static bool
end_from_exit(struct fx *f)
{
	return find_msg(f, RELAY_END, 7) != NULL;
}

/*
 * BEGIN to the slow destination, which half-closes at once (the exit answers END(DONE));
 * then DRAIN_BYTES from the client and its END(DONE): the stream is closing, with most of
 * the bytes still queued toward a destination that has read nothing.
 */
static void
closing_with_backlog(struct fx *f)
{
	slow_dst_listen(&g_dst);
	send_begin(f, 7, g_dst.port);
	run_until(f, connected);
	assert_non_null(find_msg(f, RELAY_CONNECTED, 7));
	g_dst.fd = accept(g_dst.lfd, NULL, NULL);
	assert_true(g_dst.fd >= 0);
	assert_int_equal(shutdown(g_dst.fd, SHUT_WR), 0);
	run_until(f, end_from_exit);
	assert_int_equal(end_reason(f, 7), RELAY_END_DONE);
	for (size_t sent = 0; sent < DRAIN_BYTES; sent += 1000 * RELAY_DATA_MAX) {
		send_bytes(f, 7, 1000 * RELAY_DATA_MAX);
		run_for(f, 20);
	}
	send_msg(f, RELAY_END, 7, (const uint8_t[]){ RELAY_END_DONE }, 1);
	assert_int_equal(f->closes, 0);
	assert_int_equal(n_streams(f), 1); /* closing: bytes are still queued */
}

static bool
stream_gone_or_late(struct fx *f)
{
	return n_streams(f) == 0 || um_mono_ms() >= g_deadline_ms;
}

static void
test_closing_stream_without_progress_is_reset(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	stream_exit_set_drain_timeout(f->sx, 1500);
	closing_with_backlog(f);
	t0 = um_mono_ms();
	/* The destination reads nothing: after the drain timeout (checked each second) the
	 * stream is freed and its socket reset. */
	g_deadline_ms = t0 + 8000;
	run_until(f, stream_gone_or_late);
	assert_int_equal(n_streams(f), 0);
	assert_true(um_mono_ms() - t0 >= 1500);
	/* What was queued counted for the circuit core's OOM rule, aged: the tick before the
	 * one that reset the stream came at least 500 ms after the last byte was queued. */
	assert_true(f->backlog_max > 1000 * 1000);
	assert_true(f->age_max >= 400);
	run_for(f, 1100); /* a tick reports the backlog gone */
	assert_int_equal(f->backlog_last, 0);
	/* The destination sees a reset after what reached it, never a clean end. */
	slow_dst_read(&g_dst, SIZE_MAX);
	while (!g_dst.eof && g_dst.err == 0) {
		run_for(f, 10);
		slow_dst_read(&g_dst, SIZE_MAX);
	}
	assert_false(g_dst.eof);
	assert_int_equal(g_dst.err, ECONNRESET);
	assert_true(g_dst.got < DRAIN_BYTES);
	close(g_dst.fd);
	close(g_dst.lfd);
}

/* The destination reads 16 KB every 10 ms (~1.6 MB/s: several drain timeouts in all). */
static bool
slow_reader_done(struct fx *f)
{
	uint64_t now = um_mono_ms();

	if (now >= g_dst.next_read_ms) {
		slow_dst_read(&g_dst, 16384);
		g_dst.next_read_ms = now + 10;
	}
	return (g_dst.eof || g_dst.err != 0) && n_streams(f) == 0;
}

static void
test_closing_stream_with_progress_drains(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	stream_exit_set_drain_timeout(f->sx, 1000);
	closing_with_backlog(f);
	t0 = um_mono_ms();
	run_until(f, slow_reader_done);
	/* Progress kept restarting the timeout: every byte arrived, then a clean EOF. */
	assert_true(um_mono_ms() - t0 > 1000);
	assert_int_equal(g_dst.err, 0);
	assert_true(g_dst.eof);
	assert_int_equal(g_dst.got, DRAIN_BYTES);
	close(g_dst.fd);
	close(g_dst.lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_exit_role_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_data_half_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_sets_tier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_socket_found_later_sends_end, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_closing_stream_without_progress_is_reset,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_closing_stream_with_progress_drains, setup,
		                                teardown),
	};

	return cmocka_run_group_tests_name("circuit_stream_exit", tests, NULL, NULL);
}
