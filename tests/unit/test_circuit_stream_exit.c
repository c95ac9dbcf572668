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
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "evloop/evloop.h"
#include "exit/exit_conn.h"
#include "exit/exit_policy.h"
#include "circuit/cc.h"
#include "circuit/circuit_st.h"
#include "circuit/stream_exit.h"
#include "circuit/stream_mux.h"

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
	/* the destination */
	struct ev_listener *l;
	uint16_t port;
	struct ev_tcp *conn;
	uint8_t *blob;
	uint8_t got[256];
	size_t got_len;
	bool got_eof;
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
	ev_tcp_shutdown(conn);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct stream_exit_ops ops = { .send = op_send, .close = op_close, .arg = f };
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_exit_role_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_data_half_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_cap, setup, teardown),
	};

	return cmocka_run_group_tests_name("circuit_stream_exit", tests, NULL, NULL);
}
