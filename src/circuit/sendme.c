/* SPDX-License-Identifier: MIT */
/*
 * Authenticated SENDME v1 (docs/PROTOCOL.md section 14.3): digest FIFOs at the sender,
 * DATA counting, the deliver window and the SENDME queue at the receiver. Both FIFOs are
 * rings sized once at creation from window / sendme_inc, so nothing a peer sends makes us
 * allocate.
 */
#include "circuit/sendme.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

struct digest_ring {
	uint8_t (*d)[SENDME_DIGEST_LEN];
	size_t cap, head, len;
};

struct sendme_snd {
	uint32_t inc;
	uint64_t sent;      /* DATA cells sent */
	bool window_random; /* a cell of the current sendme_inc run carried randomness */
	struct digest_ring ring;
};

struct sendme_rcv {
	uint32_t inc;
	uint64_t delivered; /* DATA cells received */
	int64_t window;     /* deliver window: window - (delivered - sendme_inc x SENDMEs sent) */
	struct digest_ring ring;
};

static void
ring_init(struct digest_ring *r, size_t cap)
{
	r->d = um_xcalloc(cap, sizeof(*r->d));
	r->cap = cap;
	r->head = 0;
	r->len = 0;
}

static void
ring_push(struct digest_ring *r, const uint8_t digest[SENDME_DIGEST_LEN])
{
	memcpy(r->d[(r->head + r->len) % r->cap], digest, SENDME_DIGEST_LEN);
	r->len++;
}

static void
ring_pop(struct digest_ring *r)
{
	um_memzero(r->d[r->head], SENDME_DIGEST_LEN);
	r->head = (r->head + 1) % r->cap;
	r->len--;
}

static void
ring_clear(struct digest_ring *r)
{
	if (r->d != NULL)
		um_memzero(r->d, r->cap * sizeof(*r->d));
	free(r->d);
	r->d = NULL;
}

static bool
args_ok(uint32_t sendme_inc, uint32_t window)
{
	return sendme_inc >= 1 && sendme_inc <= 255 && window >= sendme_inc && window <= INT32_MAX;
}

int
sendme_snd_new(uint32_t sendme_inc, uint32_t window, struct sendme_snd **out)
{
	struct sendme_snd *s;

	*out = NULL;
	if (!args_ok(sendme_inc, window))
		return UM_ERR_INVALID;
	s = um_xcalloc(1, sizeof(*s));
	s->inc = sendme_inc;
	/* inflight <= window, so at most window / sendme_inc SENDMEs are ever due. */
	ring_init(&s->ring, window / sendme_inc);
	*out = s;
	return UM_OK;
}

void
sendme_snd_free_(struct sendme_snd *s)
{
	if (s == NULL)
		return;
	ring_clear(&s->ring);
	free(s);
}

/* True if the next cell is the sendme_inc-th of its run (its digest is the one kept). */
static bool
next_is_last_of_run(const struct sendme_snd *s)
{
	return (s->sent + 1) % s->inc == 0;
}

size_t
sendme_snd_data_max(const struct sendme_snd *s)
{
	if (next_is_last_of_run(s) && !s->window_random)
		return SENDME_RANDOM_DATA_MAX;
	return RELAY_DATA_MAX;
}

int
sendme_snd_on_data_sent(struct sendme_snd *s, size_t len, const uint8_t digest[SENDME_DIGEST_LEN])
{
	if (len == 0 || len > sendme_snd_data_max(s))
		return UM_ERR_INVALID;
	if (next_is_last_of_run(s)) {
		if (s->ring.len == s->ring.cap)
			return UM_ERR_TOO_LARGE;
		ring_push(&s->ring, digest);
		s->window_random = false;
	} else if (len <= SENDME_RANDOM_DATA_MAX) {
		s->window_random = true;
	}
	s->sent++;
	return UM_OK;
}

int
sendme_snd_on_sendme(struct sendme_snd *s, const struct relay_sendme *m)
{
	/* An unexpected SENDME would let a peer ack cells it was never sent (prop 289). */
	if (s->ring.len == 0)
		return UM_ERR_PROTOCOL;
	if (!um_memeq_ct(s->ring.d[s->ring.head], m->digest, SENDME_DIGEST_LEN))
		return UM_ERR_AUTH;
	ring_pop(&s->ring);
	return UM_OK;
}

size_t
sendme_snd_pending(const struct sendme_snd *s)
{
	return s->ring.len;
}

int
sendme_rcv_new(uint32_t sendme_inc, uint32_t window, struct sendme_rcv **out)
{
	struct sendme_rcv *r;

	*out = NULL;
	if (!args_ok(sendme_inc, window))
		return UM_ERR_INVALID;
	r = um_xcalloc(1, sizeof(*r));
	r->inc = sendme_inc;
	r->window = window;
	/* Queued SENDMEs <= (delivered - acked) / sendme_inc <= window / sendme_inc. */
	ring_init(&r->ring, window / sendme_inc + 1);
	*out = r;
	return UM_OK;
}

void
sendme_rcv_free_(struct sendme_rcv *r)
{
	if (r == NULL)
		return;
	ring_clear(&r->ring);
	free(r);
}

int
sendme_rcv_on_data(struct sendme_rcv *r, const uint8_t digest[SENDME_DIGEST_LEN], bool *sendme_due)
{
	*sendme_due = false;
	/* The sender may have at most window cells unacked; one more means it ignored the
	 * SENDMEs (or forged them) and is pushing data we never allowed. */
	if (r->window <= 0)
		return UM_ERR_PROTOCOL;
	if ((r->delivered + 1) % r->inc == 0) {
		if (r->ring.len == r->ring.cap)
			return UM_ERR_INTERNAL; /* unreachable: the window bounds the queue */
		ring_push(&r->ring, digest);
		*sendme_due = true;
	}
	r->window--;
	r->delivered++;
	return UM_OK;
}

int
sendme_rcv_next(struct sendme_rcv *r, struct relay_sendme *out)
{
	if (r->ring.len == 0)
		return UM_ERR_NOT_FOUND;
	memcpy(out->digest, r->ring.d[r->ring.head], SENDME_DIGEST_LEN);
	ring_pop(&r->ring);
	r->window += r->inc;
	return UM_OK;
}

int64_t
sendme_rcv_window(const struct sendme_rcv *r)
{
	return r->window;
}
