/* SPDX-License-Identifier: MIT */
/* The pure policy of the circuit glue (circuit_pool.h). */
#include "circuit/circuit_pool.h"

#include <string.h>

#include "lib/err.h"

void
cpool_reqs_init(struct cpool_reqs *r)
{
	memset(r, 0, sizeof(*r));
}

static ssize_t
req_find(const struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN])
{
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->v[i].id, id, CIRC_ID_KEY_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

static void
req_drop(struct cpool_reqs *r, size_t i)
{
	r->v[i] = r->v[r->n - 1];
	memset(&r->v[r->n - 1], 0, sizeof(r->v[0]));
	r->n--;
}

int
cpool_req_add(struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN], bool *merged)
{
	*merged = false;
	if (req_find(r, id) >= 0) {
		*merged = true;
		return UM_OK;
	}
	if (r->n >= CPOOL_REQ_MAX)
		return UM_ERR_TOO_LARGE;
	memcpy(r->v[r->n].id, id, CIRC_ID_KEY_LEN);
	r->v[r->n].handle = NULL;
	r->n++;
	return UM_OK;
}

int
cpool_req_set_handle(struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN], void *handle)
{
	ssize_t i = req_find(r, id);

	if (i < 0)
		return UM_ERR_NOT_FOUND;
	r->v[i].handle = handle;
	return UM_OK;
}

bool
cpool_req_take_handle(struct cpool_reqs *r, const void *handle, uint8_t id[CIRC_ID_KEY_LEN])
{
	if (handle == NULL)
		return false;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].handle == handle) {
			memcpy(id, r->v[i].id, CIRC_ID_KEY_LEN);
			req_drop(r, i);
			return true;
		}
	}
	return false;
}

bool
cpool_req_remove(struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN])
{
	ssize_t i = req_find(r, id);

	if (i < 0)
		return false;
	req_drop(r, (size_t)i);
	return true;
}

size_t
cpool_pick_candidate(const struct path_plan *plan, const struct consensus *c,
                     const struct path_health *h, uint64_t now_s, uint32_t cooldown_s)
{
	size_t best = 0;
	unsigned best_f = UINT32_MAX;

	for (size_t k = 0; k < plan->n; k++) {
		const struct path *p = &plan->p[k];
		unsigned f = 0;

		for (size_t i = 0; i < p->n_hops; i++)
			f += path_health_failures(h, path_hop(c, p, i)->identity, now_s,
			                          cooldown_s);
		if (f < best_f) {
			best_f = f;
			best = k;
		}
		if (f == 0)
			break;
	}
	return best;
}

uint64_t
cpool_backoff_ms(unsigned n_failures)
{
	uint64_t ms = CPOOL_BACKOFF_BASE_MS;

	if (n_failures == 0)
		return 0;
	for (unsigned i = 1; i < n_failures && ms < CPOOL_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < CPOOL_BACKOFF_MAX_MS ? ms : CPOOL_BACKOFF_MAX_MS;
}

unsigned
cpool_to_launch(unsigned want, unsigned live)
{
	unsigned n = live >= want ? 0 : want - live;

	return n < CPOOL_LAUNCH_MAX ? n : CPOOL_LAUNCH_MAX;
}
