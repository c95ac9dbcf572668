/* SPDX-License-Identifier: MIT */
/* Test helper: block libuv's thread pool (pool_block.h). Uses the evloop internals, as the
 * evloop tests may. */
#include "helpers/pool_block.h"

#include <stdlib.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "evloop/evloop_st.h"

struct pool_block {
	uv_work_t w;
	uv_sem_t sem;
};

void
pool_block_single_thread(void)
{
	UM_ASSERT(setenv("UV_THREADPOOL_SIZE", "1", 1) == 0);
}

static void
block_work(uv_work_t *w)
{
	struct pool_block *b = UM_CONTAINER_OF(w, struct pool_block, w);

	uv_sem_wait(&b->sem);
}

static void
block_after(uv_work_t *w, int status)
{
	struct pool_block *b = UM_CONTAINER_OF(w, struct pool_block, w);

	(void)status;
	uv_sem_destroy(&b->sem);
	free(b);
}

struct pool_block *
pool_block_new(struct ev_loop *loop)
{
	struct pool_block *b = um_xcalloc(1, sizeof(*b));

	UM_ASSERT(uv_sem_init(&b->sem, 0) == 0);
	UM_ASSERT(uv_queue_work(&loop->uv, &b->w, block_work, block_after) == 0);
	return b;
}

void
pool_block_release(struct pool_block *b)
{
	uv_sem_post(&b->sem);
}
