/* SPDX-License-Identifier: MIT */
/*
 * Private layouts of the event loop (Tor's *_st.h): included only by the .c files of src/evloop/
 * and the evloop unit tests. Holds the loop struct, the handle-owner hook that lets ev_loop_free_()
 * close whatever its owners forgot, the output chunk, and the few functions the files of the
 * module share. Nothing outside src/evloop/ may include this (it pulls in <uv.h>).
 */
#ifndef UM_EVLOOP_EVLOOP_ST_H
#define UM_EVLOOP_EVLOOP_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/list.h"
#include "evloop/evloop.h"

enum ev_st_limits {
	EV_CHUNK_FREE_MAX = 16, /* free output chunks kept per loop (1 MiB) */
	EV_WREQ_MAX = 2,        /* uv_write requests in flight per stream */
	EV_WREQ_BUFS = 4,       /* buffers per uv_write (libuv copies more than 4 to the heap) */
};

/*
 * Every uv handle we create has handle->data pointing at one of these, embedded in the
 * object that owns the handle. ev_loop_free_() walks the loop and calls force_close() on
 * each owner whose handle is still open; force_close is the owner's public _free_/_close.
 * Handles whose data is NULL are the loop's own and are closed by ev_loop_free_() itself.
 */
struct ev_hobj {
	void (*force_close)(struct ev_hobj *o);
};

/* One output chunk: bytes [0, done) reached the kernel, [done, issued) are in flight,
 * [issued, len) wait to be written, [len, EV_TCP_CHUNK) are free. stamp_ms: loop time of
 * the first commit into it (ev_tcp_queue_since_ms). */
struct ev_chunk {
	struct list_node node;
	size_t len;
	size_t issued;
	size_t done;
	uint64_t stamp_ms;
	uint8_t data[EV_TCP_CHUNK];
};

struct ev_loop {
	uv_loop_t uv;
	/* Active (and referenced) while some stream has work for the next flush point: it
	 * runs once per iteration and makes the poll phase non-blocking meanwhile. */
	uv_idle_t flush_idle;
	struct list_node dirty; /* struct ev_tcp.dirty_node */
	struct list_node free_chunks;
	size_t n_free_chunks;
	uint8_t *rbuf; /* EV_TCP_CHUNK bytes shared by every stream's read callback */
};

static inline struct ev_loop *
ev_loop_of(const uv_handle_t *h)
{
	return UM_CONTAINER_OF(h->loop, struct ev_loop, uv);
}

/* loop.c: make sure the idle handle runs the flush at the next flush point. */
void ev_loop_want_flush(struct ev_loop *loop);

/* tcp.c: flush every stream on loop->dirty (called once per iteration by the idle handle). */
void ev_tcp_flush_dirty(struct ev_loop *loop);
/* tcp.c: release the loop's cached output chunks (from ev_loop_free_()). */
void ev_tcp_chunks_clear(struct ev_loop *loop);

#endif /* UM_EVLOOP_EVLOOP_ST_H */
