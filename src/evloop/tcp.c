/* SPDX-License-Identifier: MIT */
/*
 * TCP streams and listeners over libuv.
 *
 * Output is a queue of EV_TCP_CHUNK-byte chunks that callers fill in place
 * (ev_tcp_reserve/ev_tcp_commit). A chunk that is sealed (full, or followed by a newer
 * chunk) is handed to the kernel at once; the partly filled tail waits for the loop's flush
 * point (once per iteration), so many small commits become one write. With no write in
 * flight we try uv_try_write() first, and queue the rest with at most EV_WREQ_MAX uv_write
 * requests of EV_WREQ_BUFS buffers each (no heap copy of the buffer array in libuv).
 * libuv completes writes in order, so completion only advances a cursor from the head of
 * the queue; finished chunks go back to a small per-loop free list, so the steady-state data
 * path does not allocate.
 *
 * Input is read into one EV_TCP_CHUNK buffer per loop (libuv reads, then calls back, then
 * reads again: no two views are ever alive at once).
 *
 * User callbacks run only from loop callbacks, never from inside a call the user made:
 * on_drain and on_eof for failures found while writing are deferred to the flush point.
 * After ev_tcp_close() no callback runs; uv_close cancels pending requests (their callbacks
 * see `closed` and only return) and the memory is released from the close callback.
 */
#include "evloop/evloop.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "evloop/evloop_st.h"

struct ev_wreq {
	uv_write_t req;
	size_t len;
	bool busy;
};

struct ev_tcp {
	struct ev_hobj hobj;
	uv_tcp_t h;
	struct ev_loop *loop;
	struct ev_tcp_ops ops;
	void *arg;
	uv_connect_t creq;
	uv_shutdown_t sreq;
	struct ev_wreq wreq[EV_WREQ_MAX];
	unsigned n_inflight;
	struct list_node chunks; /* struct ev_chunk, oldest first */
	size_t queued;           /* committed, not yet taken by the kernel */
	size_t unsent;           /* committed, not yet handed to a write */
	size_t drain_low;
	struct list_node dirty_node; /* on loop->dirty while it has work for the flush point */
	int pending_errno;           /* a write failure to report through on_eof */
	bool connected;              /* writes and shutdown wait for the connect */
	bool want_read;              /* the owner asked for reads */
	bool uv_reading;             /* uv_read_start is in effect */
	bool eof_reported;           /* on_eof was delivered (or is pending): never twice */
	bool failed;                 /* the connection is dead: writes fail */
	bool shut_req;               /* ev_tcp_shutdown() was called: writes fail */
	bool shut_sent;              /* uv_shutdown was issued */
	bool above_low;              /* the queue went above drain_low since the last drain */
	bool drain_pending;          /* deliver on_drain at the flush point */
	bool closed;
};

struct ev_listener {
	struct ev_hobj hobj;
	uv_tcp_t h;
	struct ev_loop *loop;
	ev_accept_fn *cb;
	void *arg;
	struct log_ratelim accept_rl;
};

/* ---- chunks ---- */

static struct ev_chunk *
chunk_get(struct ev_loop *loop)
{
	struct ev_chunk *c;

	if (!list_is_empty(&loop->free_chunks)) {
		c = list_entry(loop->free_chunks.next, struct ev_chunk, node);
		list_remove(&c->node);
		loop->n_free_chunks--;
	} else {
		c = um_xmalloc(sizeof(*c));
		list_init(&c->node);
	}
	c->len = 0;
	c->issued = 0;
	c->done = 0;
	return c;
}

static void
chunk_put(struct ev_loop *loop, struct ev_chunk *c)
{
	list_remove(&c->node);
	if (loop->n_free_chunks < EV_CHUNK_FREE_MAX) {
		list_push_front(&loop->free_chunks, &c->node);
		loop->n_free_chunks++;
	} else {
		free(c);
	}
}

void
ev_tcp_chunks_clear(struct ev_loop *loop)
{
	struct list_node *pos, *tmp;

	list_for_each_safe (pos, tmp, &loop->free_chunks) {
		list_remove(pos);
		free(list_entry(pos, struct ev_chunk, node));
	}
	loop->n_free_chunks = 0;
}

static struct ev_chunk *
tail_chunk(const struct ev_tcp *t)
{
	if (list_is_empty(&t->chunks))
		return NULL;
	return list_entry(t->chunks.prev, struct ev_chunk, node);
}

/* A chunk is sealed when nothing more will be appended to it. */
static bool
chunk_is_sealed(const struct ev_tcp *t, const struct ev_chunk *c)
{
	return c->len == EV_TCP_CHUNK || c->node.next != &t->chunks;
}

/* ---- stream state ---- */

static void
mark_dirty(struct ev_tcp *t)
{
	if (t->dirty_node.next != &t->dirty_node)
		return;
	list_push_back(&t->loop->dirty, &t->dirty_node);
	ev_loop_want_flush(t->loop);
}

static void
read_stop_uv(struct ev_tcp *t)
{
	if (t->uv_reading) {
		(void)uv_read_stop((uv_stream_t *)&t->h);
		t->uv_reading = false;
	}
}

/* The connection is dead (uv_err < 0): stop reading, refuse writes, and report it through
 * on_eof at the flush point unless on_eof was already delivered. */
static void
tcp_fail(struct ev_tcp *t, int uv_err)
{
	if (t->failed)
		return;
	t->failed = true;
	t->want_read = false;
	read_stop_uv(t);
	log_debug(LD_NET, "stream failed: %s", uv_strerror(uv_err));
	if (t->eof_reported)
		return;
	t->eof_reported = true;
	t->pending_errno = -uv_err;
	mark_dirty(t);
}

/* n more bytes were handed to the kernel (or to a uv_write), oldest first. */
static void
mark_issued(struct ev_tcp *t, size_t n)
{
	struct list_node *pos;

	t->unsent -= n;
	list_for_each (pos, &t->chunks) {
		struct ev_chunk *c = list_entry(pos, struct ev_chunk, node);
		size_t k = UM_MIN(n, c->len - c->issued);

		c->issued += k;
		n -= k;
		if (n == 0)
			break;
	}
	UM_ASSERT(n == 0);
}

/* n more bytes were taken by the kernel, oldest first: recycle finished chunks and note a
 * drain. Runs from write callbacks and from flushes inside user calls, so it never calls
 * back the user itself. */
static void
complete(struct ev_tcp *t, size_t n)
{
	UM_ASSERT(n <= t->queued);
	t->queued -= n;
	while (n > 0) {
		struct ev_chunk *c;
		size_t k;

		UM_ASSERT(!list_is_empty(&t->chunks));
		c = list_entry(t->chunks.next, struct ev_chunk, node);
		k = UM_MIN(n, c->issued - c->done);
		UM_ASSERT(k > 0);
		c->done += k;
		n -= k;
		if (c->done < c->len)
			continue;
		if (chunk_is_sealed(t, c)) {
			chunk_put(t->loop, c);
		} else {
			/* The open tail is empty again: refill it from the start. */
			c->len = 0;
			c->issued = 0;
			c->done = 0;
		}
	}
	if (t->above_low && t->queued <= t->drain_low) {
		t->above_low = false;
		if (t->ops.on_drain != NULL) {
			t->drain_pending = true;
			mark_dirty(t);
		}
	}
}

/* Collect up to EV_WREQ_BUFS unsent slices, oldest first; the open tail only if partial. */
static size_t
gather(struct ev_tcp *t, bool partial, uv_buf_t *bufs, unsigned *nbufs)
{
	struct list_node *pos;
	size_t total = 0;

	*nbufs = 0;
	list_for_each (pos, &t->chunks) {
		struct ev_chunk *c = list_entry(pos, struct ev_chunk, node);

		if (c->issued == c->len)
			continue;
		if (!partial && !chunk_is_sealed(t, c))
			break;
		bufs[*nbufs] =
		        uv_buf_init((char *)c->data + c->issued, (unsigned)(c->len - c->issued));
		total += c->len - c->issued;
		if (++*nbufs == EV_WREQ_BUFS)
			break;
	}
	return total;
}

static void write_cb(uv_write_t *req, int status);

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
	struct ev_tcp *t = req->data;

	if (t->closed || status == 0 || status == UV_ECANCELED)
		return;
	tcp_fail(t, status);
}

/*
 * Hand unsent bytes to the kernel: sealed chunks always, the open tail too if partial.
 * Then, once everything is handed over after ev_tcp_shutdown(), queue the FIN (libuv sends
 * it after the last write completes).
 */
static void
tcp_flush(struct ev_tcp *t, bool partial)
{
	uv_buf_t bufs[EV_WREQ_BUFS];
	unsigned nbufs;
	size_t total;
	bool try_first = true;
	int r;

	if (t->closed || t->failed || !t->connected)
		return;
	while (t->unsent > 0 && t->n_inflight < EV_WREQ_MAX) {
		struct ev_wreq *w = NULL;

		total = gather(t, partial, bufs, &nbufs);
		if (total == 0)
			break;
		if (t->n_inflight == 0 && try_first) {
			r = uv_try_write((uv_stream_t *)&t->h, bufs, nbufs);
			if (r > 0) {
				mark_issued(t, (size_t)r);
				complete(t, (size_t)r);
				/* A short write means the socket buffer is full: queue the rest
				 * without another try. */
				try_first = (size_t)r == total;
				continue;
			}
			if (r < 0 && r != UV_EAGAIN) {
				tcp_fail(t, r);
				return;
			}
			try_first = false;
		}
		for (unsigned i = 0; i < EV_WREQ_MAX; i++) {
			if (!t->wreq[i].busy) {
				w = &t->wreq[i];
				break;
			}
		}
		UM_ASSERT(w != NULL);
		w->req.data = t;
		if ((r = uv_write(&w->req, (uv_stream_t *)&t->h, bufs, nbufs, write_cb)) != 0) {
			tcp_fail(t, r);
			return;
		}
		w->busy = true;
		w->len = total;
		t->n_inflight++;
		mark_issued(t, total);
	}
	if (t->shut_req && !t->shut_sent && t->unsent == 0) {
		t->shut_sent = true;
		t->sreq.data = t;
		if ((r = uv_shutdown(&t->sreq, (uv_stream_t *)&t->h, shutdown_cb)) != 0)
			tcp_fail(t, r);
	}
}

static void
write_cb(uv_write_t *req, int status)
{
	struct ev_wreq *w = UM_CONTAINER_OF(req, struct ev_wreq, req);
	struct ev_tcp *t = req->data;

	w->busy = false;
	t->n_inflight--;
	if (t->closed || status == UV_ECANCELED)
		return;
	if (status < 0) {
		tcp_fail(t, status);
		return;
	}
	complete(t, w->len);
	/* Keep the pipe full: this is a loop callback, so the open tail may go too. */
	tcp_flush(t, true);
}

void
ev_tcp_flush_dirty(struct ev_loop *loop)
{
	struct list_node batch;

	/* Work on a snapshot: streams made dirty by the callbacks below wait for the next
	 * flush point, so a stream that always writes from on_drain cannot starve the loop. */
	list_init(&batch);
	while (!list_is_empty(&loop->dirty)) {
		struct list_node *n = loop->dirty.next;

		list_remove(n);
		list_push_back(&batch, n);
	}
	while (!list_is_empty(&batch)) {
		struct ev_tcp *t = list_entry(batch.next, struct ev_tcp, dirty_node);

		list_remove(&t->dirty_node);
		tcp_flush(t, true);
		if (t->pending_errno != 0 && !t->closed) {
			int e = t->pending_errno;

			t->pending_errno = 0;
			t->drain_pending = false;
			if (t->ops.on_eof != NULL)
				t->ops.on_eof(t->arg, UM_ERR_SYS, e);
		}
		if (t->drain_pending && !t->closed && !t->failed) {
			t->drain_pending = false;
			if (t->ops.on_drain != NULL)
				t->ops.on_drain(t->arg);
		}
	}
}

/* ---- lifetime ---- */

static void
tcp_close_cb(uv_handle_t *h)
{
	struct ev_tcp *t = UM_CONTAINER_OF(h, struct ev_tcp, h);
	struct list_node *pos, *tmp;

	/* libuv ran the cancelled write/connect/shutdown callbacks before this one. */
	list_for_each_safe (pos, tmp, &t->chunks) {
		chunk_put(t->loop, list_entry(pos, struct ev_chunk, node));
	}
	free(t);
}

void
ev_tcp_close(struct ev_tcp *t)
{
	if (t == NULL || t->closed)
		return;
	t->closed = true;
	list_remove(&t->dirty_node);
	uv_close((uv_handle_t *)&t->h, tcp_close_cb);
}

void
ev_tcp_abort(struct ev_tcp *t)
{
	if (t == NULL || t->closed)
		return;
	t->closed = true;
	list_remove(&t->dirty_node);
	/* SO_LINGER 0 then close: the peer sees a reset (RST), not a clean end of stream, so a
	 * proxied transfer that broke is never taken for a complete one. uv_tcp_close_reset()
	 * refuses a handle with a shutdown in progress (a half-closed stream whose peer was
	 * slow to read): set SO_LINGER 0 on its socket ourselves, so the close still resets
	 * instead of sending the FIN that would pass a truncated stream off as complete. */
	if (uv_tcp_close_reset(&t->h, tcp_close_cb) != 0) {
		uv_os_fd_t fd;
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (uv_fileno((const uv_handle_t *)&t->h, &fd) == 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		uv_close((uv_handle_t *)&t->h, tcp_close_cb);
	}
}

static void
tcp_force_close(struct ev_hobj *o)
{
	ev_tcp_close(UM_CONTAINER_OF(o, struct ev_tcp, hobj));
}

static struct ev_tcp *
tcp_alloc(struct ev_loop *loop)
{
	struct ev_tcp *t = um_xcalloc(1, sizeof(*t));

	t->hobj.force_close = tcp_force_close;
	t->loop = loop;
	list_init(&t->chunks);
	list_init(&t->dirty_node);
	uv_tcp_init(&loop->uv, &t->h); /* no socket yet: cannot fail */
	t->h.data = &t->hobj;
	return t;
}

static void
connect_cb(uv_connect_t *req, int status)
{
	struct ev_tcp *t = req->data;
	int r;

	if (t->closed || status == UV_ECANCELED)
		return;
	if (status < 0) {
		t->failed = true;
		t->eof_reported = true;
		if (t->ops.on_connect != NULL) {
			errno = -status;
			t->ops.on_connect(t->arg, UM_ERR_SYS);
		}
		return;
	}
	t->connected = true;
	if ((r = uv_tcp_nodelay(&t->h, 1)) != 0)
		log_debug(LD_NET, "TCP_NODELAY: %s", uv_strerror(r));
	if (t->want_read && (r = ev_tcp_read_start(t)) != UM_OK)
		log_debug(LD_NET, "read start after connect: %s", um_err_str(r));
	if (t->unsent > 0 || t->shut_req)
		mark_dirty(t);
	if (t->ops.on_connect != NULL)
		t->ops.on_connect(t->arg, UM_OK);
}

int
ev_tcp_connect(struct ev_loop *loop, const struct sockaddr *sa, const struct ev_tcp_ops *ops,
               void *arg, struct ev_tcp **out)
{
	return ev_tcp_connect_from(loop, sa, NULL, ops, arg, out);
}

int
ev_tcp_connect_from(struct ev_loop *loop, const struct sockaddr *sa, const struct sockaddr *src,
                    const struct ev_tcp_ops *ops, void *arg, struct ev_tcp **out)
{
	struct ev_tcp *t;
	int r;

	*out = NULL;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return UM_ERR_INVALID;
	if (src != NULL && src->sa_family != sa->sa_family)
		return UM_ERR_INVALID;
	t = tcp_alloc(loop);
	ev_tcp_set_ops(t, ops, arg);
	t->creq.data = t;
	if ((src != NULL && (r = uv_tcp_bind(&t->h, src, 0)) != 0) ||
	    (r = uv_tcp_connect(&t->creq, &t->h, sa, connect_cb)) != 0) {
		ev_tcp_close(t);
		errno = -r;
		return UM_ERR_SYS;
	}
	*out = t;
	return UM_OK;
}

void
ev_tcp_set_ops(struct ev_tcp *t, const struct ev_tcp_ops *ops, void *arg)
{
	t->ops = *ops;
	t->arg = arg;
}

/* ---- reading ---- */

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	*buf = uv_buf_init((char *)ev_loop_of(h)->rbuf, EV_TCP_CHUNK);
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ev_tcp *t = UM_CONTAINER_OF(s, struct ev_tcp, h);

	if (t->closed)
		return;
	if (nread > 0) {
		t->ops.on_read(t->arg, (const uint8_t *)buf->base, (size_t)nread);
		return;
	}
	if (nread == 0) /* EAGAIN */
		return;
	t->want_read = false;
	read_stop_uv(t);
	if (nread != UV_EOF)
		t->failed = true;
	if (t->eof_reported)
		return;
	t->eof_reported = true;
	if (t->ops.on_eof == NULL)
		return;
	if (nread == UV_EOF)
		t->ops.on_eof(t->arg, UM_OK, 0);
	else
		t->ops.on_eof(t->arg, UM_ERR_SYS, (int)-nread);
}

int
ev_tcp_read_start(struct ev_tcp *t)
{
	int r;

	if (t->closed || t->failed || t->eof_reported)
		return UM_ERR_CLOSED;
	if (t->ops.on_read == NULL)
		return UM_ERR_INVALID;
	t->want_read = true;
	if (!t->connected || t->uv_reading)
		return UM_OK; /* connect_cb starts it */
	if ((r = uv_read_start((uv_stream_t *)&t->h, alloc_cb, read_cb)) != 0) {
		t->want_read = false;
		errno = -r;
		return UM_ERR_SYS;
	}
	t->uv_reading = true;
	return UM_OK;
}

void
ev_tcp_read_stop(struct ev_tcp *t)
{
	t->want_read = false;
	read_stop_uv(t);
}

bool
ev_tcp_is_reading(const struct ev_tcp *t)
{
	return t->want_read;
}

/* ---- writing ---- */

int
ev_tcp_reserve(struct ev_tcp *t, size_t n, uint8_t **p)
{
	struct ev_chunk *c;

	*p = NULL;
	if (t->closed || t->failed || t->shut_req)
		return UM_ERR_CLOSED;
	if (n > EV_TCP_CHUNK)
		return UM_ERR_TOO_LARGE;
	c = tail_chunk(t);
	if (c == NULL || EV_TCP_CHUNK - c->len < n) {
		c = chunk_get(t->loop);
		list_push_back(&t->chunks, &c->node);
	}
	*p = c->data + c->len;
	return UM_OK;
}

void
ev_tcp_commit(struct ev_tcp *t, size_t n)
{
	struct ev_chunk *c = tail_chunk(t);

	if (n == 0)
		return;
	if (UM_BUG(c == NULL || n > EV_TCP_CHUNK - c->len || t->closed || t->shut_req))
		return;
	if (t->failed)
		return; /* the bytes have nowhere to go; the owner learns it from on_eof */
	if (c->len == 0)
		c->stamp_ms = uv_now(&t->loop->uv);
	c->len += n;
	t->unsent += n;
	t->queued += n;
	if (t->queued > t->drain_low)
		t->above_low = true;
	/* Sealed chunks go now; a partial tail waits for the flush point. */
	if (t->unsent > c->len - c->issued || c->len == EV_TCP_CHUNK)
		tcp_flush(t, false);
	if (t->unsent > 0)
		mark_dirty(t);
}

int
ev_tcp_write(struct ev_tcp *t, const void *data, size_t len)
{
	const uint8_t *src = data;
	int ret;

	while (len > 0) {
		struct ev_chunk *c = tail_chunk(t);
		size_t room = c != NULL ? EV_TCP_CHUNK - c->len : 0;
		size_t n = UM_MIN(len, room > 0 ? room : (size_t)EV_TCP_CHUNK);
		uint8_t *p;

		if ((ret = ev_tcp_reserve(t, n, &p)) != UM_OK)
			return ret;
		memcpy(p, src, n);
		ev_tcp_commit(t, n);
		src += n;
		len -= n;
	}
	return UM_OK;
}

size_t
ev_tcp_write_queue(const struct ev_tcp *t)
{
	return t->queued;
}

uint64_t
ev_tcp_queue_since_ms(const struct ev_tcp *t)
{
	const struct list_node *pos;

	if (t->queued == 0)
		return UINT64_MAX;
	/* Chunks are taken oldest first: the first one not done holds the oldest byte. */
	list_for_each (pos, &t->chunks) {
		const struct ev_chunk *c = list_entry_const(pos, struct ev_chunk, node);

		if (c->done < c->len)
			return c->stamp_ms;
	}
	return UINT64_MAX;
}

void
ev_tcp_set_drain_threshold(struct ev_tcp *t, size_t low)
{
	t->drain_low = low;
	if (t->queued > low) {
		t->above_low = true;
	} else if (t->above_low) {
		t->above_low = false;
		if (t->ops.on_drain != NULL && !t->closed) {
			t->drain_pending = true;
			mark_dirty(t);
		}
	}
}

void
ev_tcp_shutdown(struct ev_tcp *t)
{
	if (t->closed || t->failed || t->shut_req)
		return;
	t->shut_req = true;
	mark_dirty(t);
}

/* ---- socket options and addresses ---- */

int
ev_tcp_peer_addr(const struct ev_tcp *t, struct sockaddr_storage *ss)
{
	int len = (int)sizeof(*ss);
	int r;

	memset(ss, 0, sizeof(*ss));
	if (t->closed)
		return UM_ERR_CLOSED;
	if ((r = uv_tcp_getpeername(&t->h, (struct sockaddr *)ss, &len)) != 0) {
		errno = -r;
		return UM_ERR_SYS;
	}
	return UM_OK;
}

int
ev_tcp_set_nodelay(struct ev_tcp *t, bool on)
{
	int r;

	if (t->closed)
		return UM_ERR_CLOSED;
	if ((r = uv_tcp_nodelay(&t->h, on ? 1 : 0)) != 0) {
		errno = -r;
		return UM_ERR_SYS;
	}
	return UM_OK;
}

/* ---- listeners ---- */

static void
listener_close_cb(uv_handle_t *h)
{
	free(UM_CONTAINER_OF(h, struct ev_listener, h));
}

void
ev_listener_free_(struct ev_listener *l)
{
	if (l == NULL)
		return;
	uv_close((uv_handle_t *)&l->h, listener_close_cb);
}

static void
listener_force_close(struct ev_hobj *o)
{
	ev_listener_free_(UM_CONTAINER_OF(o, struct ev_listener, hobj));
}

static void
listen_cb(uv_stream_t *server, int status)
{
	struct ev_listener *l = UM_CONTAINER_OF(server, struct ev_listener, h);
	struct sockaddr_storage peer;
	int len = (int)sizeof(peer);
	struct ev_tcp *t;
	int r;

	if (status < 0) {
		/* EMFILE and friends: libuv keeps a spare fd to shed the connection. */
		log_ratelim(&l->accept_rl, UM_LOG_WARN, LD_NET, "accept failed: %s",
		            uv_strerror(status));
		return;
	}
	t = tcp_alloc(l->loop);
	if ((r = uv_accept(server, (uv_stream_t *)&t->h)) != 0) {
		log_ratelim(&l->accept_rl, UM_LOG_WARN, LD_NET, "accept failed: %s",
		            uv_strerror(r));
		ev_tcp_close(t);
		return;
	}
	t->connected = true;
	if ((r = uv_tcp_nodelay(&t->h, 1)) != 0)
		log_debug(LD_NET, "TCP_NODELAY: %s", uv_strerror(r));
	memset(&peer, 0, sizeof(peer));
	if (uv_tcp_getpeername(&t->h, (struct sockaddr *)&peer, &len) != 0) {
		/* Already reset by the peer: nothing to serve. */
		ev_tcp_close(t);
		return;
	}
	l->cb(l->arg, t, &peer);
}

int
ev_tcp_listen(struct ev_loop *loop, const struct sockaddr *sa, int backlog, ev_accept_fn *cb,
              void *arg, struct ev_listener **out)
{
	struct ev_listener *l;
	uv_os_fd_t fd;
	int on = 1;
	int r;

	*out = NULL;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return UM_ERR_INVALID;
	l = um_xcalloc(1, sizeof(*l));
	l->hobj.force_close = listener_force_close;
	l->loop = loop;
	l->cb = cb;
	l->arg = arg;
	l->accept_rl = (struct log_ratelim)LOG_RATELIM_INIT(60 * 1000);
	if ((r = uv_tcp_init_ex(&loop->uv, &l->h, sa->sa_family)) != 0) {
		/* The handle was never registered with the loop. */
		free(l);
		errno = -r;
		return UM_ERR_SYS;
	}
	l->h.data = &l->hobj;
	/* Rebind at once after a restart despite connections in TIME_WAIT (libuv's bind does
	 * this too; we do not rely on it). */
	if ((r = uv_fileno((const uv_handle_t *)&l->h, &fd)) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
		r = -errno;
	if (r == 0)
		r = uv_tcp_bind(&l->h, sa, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->h, backlog, listen_cb);
	if (r != 0) {
		log_warn(LD_NET, "cannot listen: %s", uv_strerror(r));
		ev_listener_free_(l);
		errno = -r;
		return UM_ERR_SYS;
	}
	*out = l;
	return UM_OK;
}

int
ev_listener_addr(const struct ev_listener *l, struct sockaddr_storage *ss)
{
	int len = (int)sizeof(*ss);
	int r;

	memset(ss, 0, sizeof(*ss));
	if ((r = uv_tcp_getsockname(&l->h, (struct sockaddr *)ss, &len)) != 0) {
		errno = -r;
		return UM_ERR_SYS;
	}
	return UM_OK;
}
