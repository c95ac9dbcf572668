/* SPDX-License-Identifier: MIT */
/* Fixed-size link records with the deterministic rekey schedule (record.h). */
#include "link/record.h"

#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

void
link_rec_init(struct link_rec *r, struct noise_cs *send, struct noise_cs *recv)
{
	memset(r, 0, sizeof(*r));
	r->send = *send;
	r->recv = *recv;
	/* Wiped, not memset: the callers' copies are dead stores a compiler may drop. */
	um_memzero(send, sizeof(*send));
	um_memzero(recv, sizeof(*recv));
}

/* Rekey before record n when n is a positive multiple of the interval. */
static int
schedule(struct noise_cs *cs, uint64_t *rekeys)
{
	int ret;

	if (cs->n >> LINK_MAX_RECORDS_LOG2 != 0)
		return UM_ERR_STATE;
	if (cs->n != 0 && cs->n % LINK_REKEY_INTERVAL == 0 &&
	    cs->n / LINK_REKEY_INTERVAL > *rekeys) {
		if ((ret = noise_cs_rekey(cs)) != UM_OK)
			return ret;
		(*rekeys)++;
	}
	return UM_OK;
}

int
link_rec_seal(struct link_rec *r, const uint8_t cell[CELL_LEN], uint8_t out[LINK_RECORD_LEN])
{
	int ret;

	if ((ret = schedule(&r->send, &r->rekeys_tx)) != UM_OK)
		return ret;
	return noise_cs_encrypt(&r->send, NULL, 0, cell, CELL_LEN, out);
}

int
link_rec_open(struct link_rec *r, const uint8_t in[LINK_RECORD_LEN], uint8_t cell[CELL_LEN])
{
	int ret;

	if ((ret = schedule(&r->recv, &r->rekeys_rx)) != UM_OK)
		return ret;
	return noise_cs_decrypt(&r->recv, NULL, 0, in, LINK_RECORD_LEN, cell);
}

void
link_rec_clear(struct link_rec *r)
{
	noise_cs_clear(&r->send);
	noise_cs_clear(&r->recv);
	memset(r, 0, sizeof(*r));
}
