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

/* ---- exit choice ---- */

void
cpool_refusals_init(struct cpool_refusals *r)
{
	memset(r, 0, sizeof(*r));
}

static ssize_t
refusal_find(const struct cpool_refusals *r, const uint8_t id[CIRC_ID_KEY_LEN], uint16_t port)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].port == port && memcmp(r->v[i].id, id, CIRC_ID_KEY_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

void
cpool_refusal_note(struct cpool_refusals *r, const uint8_t id[CIRC_ID_KEY_LEN], uint16_t port,
                   uint64_t now_s)
{
	ssize_t k = refusal_find(r, id, port);
	size_t i;

	if (k >= 0) {
		i = (size_t)k;
	} else if (r->n < CPOOL_REFUSALS_MAX) {
		i = r->n++;
	} else {
		i = 0; /* full: the oldest goes */
		for (size_t j = 1; j < r->n; j++)
			if (r->v[j].at_s < r->v[i].at_s)
				i = j;
	}
	memcpy(r->v[i].id, id, CIRC_ID_KEY_LEN);
	r->v[i].port = port;
	r->v[i].at_s = now_s;
}

bool
cpool_refused(const struct cpool_refusals *r, const uint8_t id[CIRC_ID_KEY_LEN], uint16_t port,
              uint64_t now_s)
{
	ssize_t k = refusal_find(r, id, port);

	return k >= 0 && now_s - r->v[k].at_s < CPOOL_REFUSAL_TTL_S;
}

bool
cpool_exit_serves(const struct relay_entry *e, const struct path_request *req,
                  const struct cpool_refusals *r, const uint8_t (*skip)[CIRC_ID_KEY_LEN],
                  size_t n_skip, uint64_t now_s)
{
	if (!path_relay_is_exit(e) || !path_exit_allows(e, req))
		return false;
	for (size_t i = 0; i < n_skip; i++)
		if (memcmp(skip[i], e->identity, CIRC_ID_KEY_LEN) == 0)
			return false;
	return req->dest == PATH_DEST_NONE || r == NULL ||
	       !cpool_refused(r, e->identity, req->port, now_s);
}

size_t
cpool_exits_serving(const struct consensus *c, const struct path_request *req,
                    const struct cpool_refusals *r, const uint8_t (*skip)[CIRC_ID_KEY_LEN],
                    size_t n_skip, uint64_t now_s)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_relays; i++)
		if (cpool_exit_serves(&c->relays[i], req, r, skip, n_skip, now_s))
			n++;
	return n;
}

/* ---- port predictor ---- */

void
cpool_ports_init(struct cpool_ports *p)
{
	memset(p, 0, sizeof(*p));
}

void
cpool_ports_note(struct cpool_ports *p, uint16_t port, uint64_t now_s)
{
	size_t i;

	if (port == 0)
		return;
	for (i = 0; i < p->n; i++)
		if (p->port[i] == port)
			break;
	if (i == p->n) {
		if (p->n < CPOOL_PORTS_MAX)
			p->n++;
		i = p->n - 1; /* a new port replaces the least recent one when full */
	}
	/* Move to the front. */
	memmove(&p->port[1], &p->port[0], i * sizeof(p->port[0]));
	memmove(&p->at_s[1], &p->at_s[0], i * sizeof(p->at_s[0]));
	p->port[0] = port;
	p->at_s[0] = now_s;
}

size_t
cpool_ports_predict(const struct cpool_ports *p, uint64_t now_s, uint16_t out[CPOOL_PORTS_MAX])
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (now_s - p->at_s[i] < CPOOL_PORT_TTL_S)
			out[n++] = p->port[i];
	if (n == 0) {
		out[n++] = CPOOL_PORT_DEFAULT_A;
		out[n++] = CPOOL_PORT_DEFAULT_B;
	}
	return n;
}
