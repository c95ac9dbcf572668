/* SPDX-License-Identifier: MIT */
/*
 * The federation's I/O (dirfed.h): a timer asks the sans-I/O core what is due
 * (dirfed_next_action()) and runs each exchange with the HTTP client (evloop/http_client.h),
 * non-blocking, reporting every outcome back (dirfed_*_done()). Per-peer backoff, caps on
 * response sizes and on exchanges in flight are the core's. Runs on the loop thread.
 */
#ifndef UM_DIRECTORY_DIRFED_IO_H
#define UM_DIRECTORY_DIRFED_IO_H

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "directory/dirfed.h"

enum dirfed_io_limits {
	DIRFED_IO_TICK_MS = 500,
	DIRFED_IO_TIMEOUT_MS = 20000, /* one exchange, connect included */
};

struct dirfed_io;

/* A new driver for fed (borrowed: must outlive it); the caller frees it with
 * dirfed_io_free(), which cancels every exchange in flight. Nothing runs before start. */
struct dirfed_io *dirfed_io_new(struct ev_loop *loop, struct dirfed *fed);
void dirfed_io_start(struct dirfed_io *io);
void dirfed_io_free_(struct dirfed_io *io);
#define dirfed_io_free(io) UM_FREE_AND_NULL(dirfed_io_free_, io)

#endif /* UM_DIRECTORY_DIRFED_IO_H */
