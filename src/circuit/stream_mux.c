/* SPDX-License-Identifier: MIT */
/*
 * Streams of one circuit end (stream_mux.h): the flow-control modules (cc.h Vegas window,
 * sendme.h authenticated SENDMEs, flow.h XON/XOFF) wired to a stream table. No I/O: messages
 * leave through ops->send, time comes in as an argument.
 *
 * Reentrancy: every public entry point counts itself (depth). A callback may close the mux
 * (the circuit died inside ops->send) or free it: work stops at the next check of `closed`,
 * and a free requested while depth > 0 happens when the outermost call returns.
 *
 * SENDMEs fall due as DATA arrives (prop 324: the circuit window acks receipt) but go out
 * when the outermost call returns, and only while the bytes the owners hold toward their
 * sockets (recv_q) are within SMUX_CIRC_RECV_MAX; above it they wait, so a circuit whose
 * sockets do not drain stops its sender whatever XOFF does per stream.
 */
#include "circuit/stream_mux.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "circuit/cc.h"
#include "circuit/sendme.h"

struct smux_stream {
	struct list_node node; /* m->streams while attached */
	struct smux *m;        /* NULL once detached */
	struct smux_stream_ops ops;
	void *arg;
	struct flow *flow;
	struct buf sbuf; /* application bytes waiting for DATA cells */
	uint16_t id;
	uint8_t end_reason; /* our END, pending until sbuf is empty (DONE) */
	bool end_pending;   /* END(end_reason) to send once sbuf drained */
	bool end_sent;      /* our END went out: no more writes */
	bool end_rcvd;      /* the peer's END came */
	uint8_t end_rcvd_reason;
	bool want_writable; /* the owner stopped reading: tell it when writable */
	uint64_t delivered; /* bytes handed to on_data */
	size_t recv_q;      /* bytes the owner holds toward its socket (last report) */
};

struct smux {
	struct smux_ops ops;
	enum flow_side side;
	struct cc *cc;
	struct sendme_snd *snd;
	struct sendme_rcv *rcv;
	struct list_node streams;
	size_t n_streams;
	uint16_t next_id;
	size_t recv_q;         /* sum of the attached streams' recv_q */
	uint32_t sendmes_held; /* due SENDMEs not sent yet (sendme_rcv keeps their digests) */
	int depth;
	bool closed;
	bool free_pending;
	bool pumping, repump;
};

static void
mux_release(struct smux *m)
{
	struct list_node *pos, *tmp;

	list_for_each_safe (pos, tmp, &m->streams) {
		struct smux_stream *s = list_entry(pos, struct smux_stream, node);

		list_remove(&s->node);
		list_init(&s->node);
		s->m = NULL;
	}
	cc_free(m->cc);
	sendme_snd_free(m->snd);
	sendme_rcv_free(m->rcv);
	free(m);
}

static void
enter(struct smux *m)
{
	m->depth++;
}

/*
 * Send the SENDMEs that fell due, while the owners' queues toward their sockets are within
 * the budget; over it, the sender's window stays shut until they drain (docs/PROTOCOL.md
 * 15.2). A sender that goes on regardless runs out of deliver window: a violation (14.3).
 */
static void
flush_sendmes(struct smux *m)
{
	while (m->sendmes_held > 0 && !m->closed && m->recv_q <= SMUX_CIRC_RECV_MAX) {
		uint8_t b[RELAY_DATA_MAX], dg[RELAY_DIGEST_LEN];
		struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
		struct relay_sendme sm;

		m->sendmes_held--;
		if (sendme_rcv_next(m->rcv, &sm) != UM_OK) {
			log_warn(LD_BUG, "stream: a SENDME fell due without its digest");
			m->sendmes_held = 0;
			return;
		}
		if (relay_sendme_write(&w, &sm) == UM_OK)
			(void)m->ops.send(m->ops.arg, RELAY_SENDME, 0, b, w.len, dg);
	}
}

/* Returns false when m was freed. The outermost call sends the SENDMEs due (the callbacks
 * it ran may have changed what the owners hold). */
static bool
leave(struct smux *m)
{
	if (m->depth == 1 && m->sendmes_held > 0)
		flush_sendmes(m);
	if (--m->depth == 0 && m->free_pending) {
		mux_release(m);
		return false;
	}
	return true;
}

int
smux_new(enum flow_side side, const struct smux_ops *ops, struct smux **out)
{
	struct cc_params p;
	struct smux *m;

	*out = NULL;
	if (ops == NULL || ops->send == NULL || ops->queued == NULL || ops->on_msg == NULL ||
	    ops->on_violation == NULL)
		return UM_ERR_INVALID;
	m = um_xcalloc(1, sizeof(*m));
	m->ops = *ops;
	m->side = side;
	list_init(&m->streams);
	m->next_id = 1;
	cc_params_default(&p, CC_PATH_EXIT);
	if (cc_new(&p, &m->cc) != UM_OK ||
	    sendme_snd_new(p.sendme_inc, p.cwnd_max, &m->snd) != UM_OK ||
	    sendme_rcv_new(p.sendme_inc, p.cwnd_max, &m->rcv) != UM_OK) {
		mux_release(m);
		return UM_ERR_INTERNAL;
	}
	*out = m;
	return UM_OK;
}

void
smux_free_(struct smux *m)
{
	if (m == NULL)
		return;
	m->closed = true;
	if (m->depth > 0) {
		m->free_pending = true;
		return;
	}
	mux_release(m);
}

static void
detach(struct smux_stream *s)
{
	if (s->m == NULL)
		return;
	list_remove(&s->node);
	list_init(&s->node);
	s->m->n_streams--;
	s->m->recv_q -= s->recv_q;
	s->m = NULL;
}

/* The owner of s now holds n bytes toward its socket. */
static void
set_recv_q(struct smux_stream *s, size_t n)
{
	if (s->m != NULL)
		s->m->recv_q = s->m->recv_q - s->recv_q + n;
	s->recv_q = n;
}

void
smux_close(struct smux *m, uint8_t reason)
{
	if (m->closed)
		return;
	m->closed = true;
	enter(m);
	while (!list_is_empty(&m->streams)) {
		struct smux_stream *s = list_entry(m->streams.next, struct smux_stream, node);
		bool notify = !(s->end_rcvd && s->end_sent);

		detach(s);
		if (notify) {
			s->end_rcvd = true;
			s->end_sent = true;
			s->ops.on_end(s->arg, reason);
		}
	}
	(void)leave(m);
}

static struct smux_stream *
find(const struct smux *m, uint16_t id)
{
	struct list_node *pos;

	list_for_each (pos, (struct list_node *)(uintptr_t)&m->streams) {
		struct smux_stream *s = list_entry(pos, struct smux_stream, node);

		if (s->id == id)
			return s;
	}
	return NULL;
}

size_t
smux_count(const struct smux *m)
{
	return m->n_streams;
}

bool
smux_has_id(const struct smux *m, uint16_t stream_id)
{
	return find(m, stream_id) != NULL;
}

uint16_t
smux_free_id(struct smux *m)
{
	if (m->n_streams >= SMUX_STREAMS_MAX)
		return 0;
	for (unsigned i = 0; i < 65535; i++) {
		uint16_t id = m->next_id;

		m->next_id = (uint16_t)(m->next_id == 65535 ? 1 : m->next_id + 1);
		if (find(m, id) == NULL)
			return id;
	}
	return 0;
}

uint32_t
smux_cwnd(const struct smux *m)
{
	return cc_cwnd(m->cc);
}

uint32_t
smux_inflight(const struct smux *m)
{
	return cc_inflight(m->cc);
}

bool
smux_link_blocked(const struct smux *m)
{
	return cc_blocked(m->cc);
}

size_t
smux_recv_queued(const struct smux *m)
{
	return m->recv_q;
}

uint32_t
smux_sendmes_held(const struct smux *m)
{
	return m->sendmes_held;
}

int
smux_send(struct smux *m, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len)
{
	uint8_t digest[RELAY_DIGEST_LEN];
	int ret;

	if (m->closed)
		return UM_ERR_CLOSED;
	enter(m);
	ret = m->ops.send(m->ops.arg, cmd, stream_id, data, len, digest);
	if (!leave(m))
		return UM_ERR_CLOSED;
	return ret;
}

static void
violation(struct smux *m, const char *why)
{
	if (m->closed)
		return;
	m->ops.on_violation(m->ops.arg, why);
}

/* Send our XON / XOFF for s if flow asked for one. */
static void
send_signal(struct smux *m, struct smux_stream *s, const struct flow_out *fo)
{
	uint8_t b[8];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	uint8_t digest[RELAY_DIGEST_LEN];
	int ret;

	if (fo->sig == FLOW_SIG_NONE || m->closed)
		return;
	if (fo->sig == FLOW_SIG_XOFF) {
		ret = relay_xoff_write(&w);
	} else {
		struct relay_xon x = { .kbps_ewma = fo->kbps_ewma };

		ret = relay_xon_write(&w, &x);
	}
	if (ret == UM_OK)
		(void)m->ops.send(m->ops.arg, fo->sig == FLOW_SIG_XOFF ? RELAY_XOFF : RELAY_XON,
		                  s->id, b, w.len, digest);
}

/*
 * May a DATA cell go now? The Vegas window must be open and the circuit's queue toward its
 * link short. A queue at the cap means the link is blocked: Vegas is told (14.2, the next
 * SENDME then shrinks the window), and told again once the queue is down to half.
 */
static bool
can_package(struct smux *m)
{
	size_t q;

	if (m->closed)
		return false;
	q = m->ops.queued(m->ops.arg);
	if (q >= SMUX_QUEUE_MAX && !cc_blocked(m->cc))
		cc_on_blocked(m->cc);
	else if (q <= SMUX_QUEUE_MAX / 2 && cc_blocked(m->cc))
		cc_on_unblocked(m->cc);
	return cc_can_send(m->cc) && q < SMUX_QUEUE_MAX;
}

/* One DATA cell from s. Returns false if nothing could be sent (or the circuit died). */
static bool
package_one(struct smux *m, struct smux_stream *s, uint64_t now_ns)
{
	uint8_t digest[RELAY_DIGEST_LEN];
	size_t n = UM_MIN(buf_len(&s->sbuf), sendme_snd_data_max(m->snd));
	int ret;

	if (n == 0)
		return false;
	ret = m->ops.send(m->ops.arg, RELAY_DATA, s->id, buf_data(&s->sbuf), n, digest);
	if (ret != UM_OK || m->closed)
		return false;
	buf_consume(&s->sbuf, n);
	flow_on_packaged(s->flow, n);
	if (cc_on_data_sent(m->cc, now_ns) != UM_OK ||
	    sendme_snd_on_data_sent(m->snd, n, digest) != UM_OK) {
		/* Our own window broke: a bug, but the circuit cannot go on. */
		log_warn(LD_BUG, "stream: congestion window overrun");
		violation(m, "congestion window overrun");
		return false;
	}
	return true;
}

static void
send_end_now(struct smux *m, struct smux_stream *s)
{
	uint8_t b[1] = { s->end_reason };
	uint8_t digest[RELAY_DIGEST_LEN];

	s->end_pending = false;
	s->end_sent = true;
	(void)m->ops.send(m->ops.arg, RELAY_END, s->id, b, sizeof(b), digest);
	if (!m->closed && s->ops.on_end_sent != NULL)
		s->ops.on_end_sent(s->arg); /* may free s */
}

static void
pump(struct smux *m, uint64_t now_ns)
{
	struct list_node *pos, *tmp;
	bool progress;

	if (m->pumping) {
		m->repump = true;
		return;
	}
	m->pumping = true;
	do {
		m->repump = false;
		/* Round robin: each stream with data sends up to a burst per turn. */
		do {
			progress = false;
			list_for_each_safe (pos, tmp, &m->streams) {
				struct smux_stream *s = list_entry(pos, struct smux_stream, node);

				for (int i = 0; i < SMUX_PUMP_BURST && can_package(m); i++) {
					if (!package_one(m, s, now_ns))
						break;
					progress = true;
				}
				if (m->closed)
					goto out;
				if (s->end_pending && buf_len(&s->sbuf) == 0) {
					send_end_now(m, s);
					if (m->closed)
						goto out;
				}
			}
		} while (progress && can_package(m));
		/* Owners that stopped reading: resume them. */
		list_for_each_safe (pos, tmp, &m->streams) {
			struct smux_stream *s = list_entry(pos, struct smux_stream, node);

			if (s->want_writable && smux_stream_writable(s)) {
				s->want_writable = false;
				s->ops.on_writable(s->arg);
				if (m->closed)
					goto out;
			}
		}
	} while (m->repump && !m->closed);
out:
	m->pumping = false;
}

void
smux_pump(struct smux *m, uint64_t now_ns)
{
	if (m->closed)
		return;
	enter(m);
	pump(m, now_ns);
	(void)leave(m);
}

static void
on_data(struct smux *m, uint16_t id, const uint8_t *data, size_t len,
        const uint8_t digest[RELAY_DIGEST_LEN], uint64_t now_ns)
{
	struct smux_stream *s;
	struct flow_out fo = { 0 };
	bool due = false;
	size_t buffered;

	/* Every DATA cell counts for the circuit's window, whichever stream it names. The
	 * SENDME it makes due goes when the outermost call returns (leave), after the owner
	 * said how much it now holds. */
	if (sendme_rcv_on_data(m->rcv, digest, &due) != UM_OK) {
		violation(m, "DATA beyond the deliver window");
		return;
	}
	if (due)
		m->sendmes_held++;
	s = find(m, id);
	if (s == NULL || s->end_rcvd)
		return; /* a stream we closed: the data is dropped (it still counted above) */
	s->delivered += len;
	buffered = s->ops.on_data(s->arg, data, len);
	if (m->closed || find(m, id) != s)
		return; /* the owner freed the stream or the circuit died */
	set_recv_q(s, buffered);
	if (flow_on_delivered(s->flow, buffered, now_ns, &fo) != UM_OK) {
		violation(m, "stream peer ignored XOFF");
		return;
	}
	send_signal(m, s, &fo);
}

static void
on_end(struct smux *m, uint16_t id, const uint8_t *data, size_t len, uint64_t now_ns)
{
	struct smux_stream *s = find(m, id);
	struct relay_end e;

	(void)now_ns;
	if (relay_end_parse(data, len, &e) != UM_OK) {
		violation(m, "malformed END");
		return;
	}
	if (s == NULL) {
		m->ops.on_msg(m->ops.arg, RELAY_END, id, data, len);
		return;
	}
	/* A second END counts only as an abort after a DONE (the peer gave up waiting). */
	if (s->end_rcvd && (e.reason == RELAY_END_DONE || s->end_rcvd_reason != RELAY_END_DONE))
		return;
	s->end_rcvd = true;
	s->end_rcvd_reason = e.reason;
	if (e.reason != RELAY_END_DONE) {
		/* An abort: drop what we still had to send; nothing more goes out. */
		buf_clear(&s->sbuf);
		s->end_pending = false;
		s->end_sent = true;
	}
	s->ops.on_end(s->arg, e.reason);
}

void
smux_on_msg(struct smux *m, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
            const uint8_t digest[RELAY_DIGEST_LEN], uint64_t now_ns)
{
	struct smux_stream *s;

	if (m->closed)
		return;
	enter(m);
	switch (cmd) {
	case RELAY_DATA:
		on_data(m, stream_id, data, len, digest, now_ns);
		break;
	case RELAY_END:
		on_end(m, stream_id, data, len, now_ns);
		break;
	case RELAY_SENDME: {
		struct relay_sendme sm;

		if (relay_sendme_parse(data, len, &sm) != UM_OK ||
		    sendme_snd_on_sendme(m->snd, &sm) != UM_OK ||
		    cc_on_sendme(m->cc, now_ns) != UM_OK) {
			violation(m, "bad or unexpected SENDME");
			break;
		}
		pump(m, now_ns);
		break;
	}
	case RELAY_XOFF:
		if ((s = find(m, stream_id)) == NULL)
			break;
		if (relay_xoff_parse(data, len) != UM_OK || flow_on_xoff(s->flow) != UM_OK)
			violation(m, "bad or unexpected XOFF");
		break;
	case RELAY_XON: {
		struct relay_xon x;

		if ((s = find(m, stream_id)) == NULL)
			break;
		if (relay_xon_parse(data, len, &x) != UM_OK || flow_on_xon(s->flow, &x) != UM_OK) {
			violation(m, "bad or unexpected XON");
			break;
		}
		if (!s->want_writable)
			s->want_writable = true; /* resume the owner through pump() */
		pump(m, now_ns);
		break;
	}
	default:
		m->ops.on_msg(m->ops.arg, cmd, stream_id, data, len);
		break;
	}
	(void)leave(m);
}

int
smux_stream_new(struct smux *m, uint16_t stream_id, const struct smux_stream_ops *ops, void *arg,
                struct smux_stream **out)
{
	struct flow_params fp;
	struct smux_stream *s;

	*out = NULL;
	if (ops == NULL || ops->on_data == NULL || ops->on_end == NULL ||
	    ops->on_writable == NULL || stream_id == 0)
		return UM_ERR_INVALID;
	if (m->closed)
		return UM_ERR_CLOSED;
	if (m->n_streams >= SMUX_STREAMS_MAX)
		return UM_ERR_TOO_LARGE;
	if (find(m, stream_id) != NULL)
		return UM_ERR_EXISTS;
	s = um_xcalloc(1, sizeof(*s));
	flow_params_default(&fp, m->side);
	if (flow_new(&fp, &s->flow) != UM_OK) {
		free(s);
		return UM_ERR_INTERNAL;
	}
	s->ops = *ops;
	s->arg = arg;
	s->id = stream_id;
	s->m = m;
	buf_init(&s->sbuf, 2 * SMUX_SEND_BUF_MAX + 65536);
	list_push_back(&m->streams, &s->node);
	m->n_streams++;
	*out = s;
	return UM_OK;
}

void
smux_stream_free_(struct smux_stream *s)
{
	if (s == NULL)
		return;
	detach(s);
	flow_free(s->flow);
	buf_clear(&s->sbuf);
	free(s);
}

uint16_t
smux_stream_id(const struct smux_stream *s)
{
	return s->id;
}

bool
smux_stream_end_sent(const struct smux_stream *s)
{
	return s->end_sent;
}

bool
smux_stream_attached(const struct smux_stream *s)
{
	return s->m != NULL && !s->m->closed;
}

int
smux_stream_write(struct smux_stream *s, const uint8_t *p, size_t n, uint64_t now_ns)
{
	struct smux *m = s->m;

	if (m == NULL || m->closed || s->end_sent || s->end_pending)
		return UM_ERR_CLOSED;
	if (n == 0)
		return UM_OK;
	if (buf_append(&s->sbuf, p, n) != UM_OK)
		return UM_ERR_TOO_LARGE; /* the owner read past SMUX_SEND_BUF_MAX twice over */
	if (!smux_stream_writable(s))
		s->want_writable = true;
	enter(m);
	pump(m, now_ns);
	(void)leave(m);
	return UM_OK;
}

bool
smux_stream_writable(const struct smux_stream *s)
{
	return s->m != NULL && buf_len(&s->sbuf) < SMUX_SEND_BUF_MAX && flow_may_read(s->flow);
}

size_t
smux_stream_buffered(const struct smux_stream *s)
{
	return buf_len(&s->sbuf);
}

void
smux_stream_drained(struct smux_stream *s, size_t n_written, size_t buffered, uint64_t now_ns)
{
	struct smux *m = s->m;
	struct flow_out fo = { 0 };

	if (m == NULL || m->closed)
		return;
	enter(m);
	set_recv_q(s, buffered);
	if (!s->end_rcvd) {
		flow_on_drained(s->flow, n_written, buffered, now_ns, &fo);
		send_signal(m, s, &fo);
	}
	(void)leave(m); /* may send SENDMEs held back */
}

void
smux_stream_end(struct smux_stream *s, uint8_t reason, uint64_t now_ns)
{
	struct smux *m = s->m;

	if (m == NULL || m->closed)
		return;
	/* After our DONE only an abort may follow (the application reset meanwhile). */
	if ((s->end_sent || s->end_pending) &&
	    (reason == RELAY_END_DONE || s->end_reason != RELAY_END_DONE))
		return;
	s->end_reason = reason;
	if (reason != RELAY_END_DONE) {
		buf_clear(&s->sbuf);
		s->end_rcvd = true; /* an abort ends both directions: ignore what still comes */
		s->end_rcvd_reason = reason;
	}
	s->end_pending = true;
	enter(m);
	if (buf_len(&s->sbuf) == 0)
		send_end_now(m, s);
	else
		pump(m, now_ns);
	(void)leave(m);
}
