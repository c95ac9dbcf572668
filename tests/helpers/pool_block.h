/* SPDX-License-Identifier: MIT */
/*
 * Test helper: hold libuv's thread pool busy so that work queued after it (uv_getaddrinfo in
 * evloop/dns.c) waits, deterministically, until the test releases it. Call
 * pool_block_single_thread() first thing in main(): it sets UV_THREADPOOL_SIZE=1 before the
 * pool starts (the pool is process-wide and starts at its first use), so one blocker holds
 * the whole pool.
 */
#ifndef UM_TESTS_HELPERS_POOL_BLOCK_H
#define UM_TESTS_HELPERS_POOL_BLOCK_H

#include "evloop/evloop.h"

struct pool_block;

void pool_block_single_thread(void);
/* Queue a work item on loop's pool that blocks its thread until pool_block_release(). */
struct pool_block *pool_block_new(struct ev_loop *loop);
/* Let the blocked thread go; the blocker frees itself once its completion ran on the loop. */
void pool_block_release(struct pool_block *b);

#endif /* UM_TESTS_HELPERS_POOL_BLOCK_H */
