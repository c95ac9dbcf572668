/* SPDX-License-Identifier: MIT */
/*
 * CREATE2 / CREATED2 / DESTROY payload encoders, reason names and CircID selection (the wire
 * side of the parsers is in cell_msg_parse.c). Encoders are the parsers' mirror and prove it
 * by parsing their own output back.
 */
#include "circuit/cell_msg.h"

#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"

static const char *const destroy_reason_names[CIRC_REASON_MAX + 1] = {
	[CIRC_REASON_NONE] = "none",
	[CIRC_REASON_PROTOCOL] = "protocol",
	[CIRC_REASON_INTERNAL] = "internal",
	[CIRC_REASON_REQUESTED] = "requested",
	[CIRC_REASON_HIBERNATING] = "hibernating",
	[CIRC_REASON_RESOURCELIMIT] = "resourcelimit",
	[CIRC_REASON_CONNECTFAILED] = "connectfailed",
	[CIRC_REASON_OR_IDENTITY] = "or_identity",
	[CIRC_REASON_CHANNEL_CLOSED] = "channel_closed",
	[CIRC_REASON_FINISHED] = "finished",
	[CIRC_REASON_TIMEOUT] = "timeout",
	[CIRC_REASON_DESTROYED] = "destroyed",
	[CIRC_REASON_NOSUCHSERVICE] = "nosuchservice",
};

const char *
circ_destroy_reason_str(uint8_t reason)
{
	return reason <= CIRC_REASON_MAX ? destroy_reason_names[reason] : "unknown";
}

size_t
circ_htype_request_len(uint16_t htype)
{
	return htype == CIRC_HTYPE_NTOR ? CIRC_NTOR_ONIONSKIN_LEN : 0;
}

size_t
circ_htype_reply_len(uint16_t htype)
{
	return htype == CIRC_HTYPE_NTOR ? CIRC_NTOR_REPLY_LEN : 0;
}

int
circ_create2_write(struct wire_wr *w, const struct circ_create2 *c)
{
	size_t start = w->len;
	int ret;

	if (circ_htype_request_len(c->htype) == 0 || c->hlen != circ_htype_request_len(c->htype))
		return UM_ERR_INVALID;
	if ((ret = wire_put_u16(w, c->htype)) != UM_OK ||
	    (ret = wire_put_u16(w, c->hlen)) != UM_OK ||
	    (ret = wire_put_bytes(w, c->hdata, c->hlen)) != UM_OK) {
		w->len = start;
		return ret;
	}
	return UM_OK;
}

int
circ_created2_write(struct wire_wr *w, const struct circ_created2 *c)
{
	size_t start = w->len;
	int ret;

	if (c->hlen > CIRC_CREATED2_HDATA_MAX)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u16(w, c->hlen)) != UM_OK ||
	    (ret = wire_put_bytes(w, c->hdata, c->hlen)) != UM_OK) {
		w->len = start;
		return ret;
	}
	return UM_OK;
}

int
circ_create2_encode(const struct circ_create2 *c, uint8_t out[CELL_PAYLOAD_LEN])
{
	struct circ_create2 back;
	struct wire_wr w;
	int ret;

	memset(out, 0, CELL_PAYLOAD_LEN);
	wire_wr_init(&w, out, CELL_PAYLOAD_LEN);
	if ((ret = circ_create2_write(&w, c)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_INVALID : ret;
	if (circ_create2_parse(out, CELL_PAYLOAD_LEN, &back) != UM_OK)
		return UM_ERR_INVALID;
	return UM_OK;
}

int
circ_created2_encode(const struct circ_created2 *c, uint8_t out[CELL_PAYLOAD_LEN])
{
	struct circ_created2 back;
	struct wire_wr w;
	int ret;

	memset(out, 0, CELL_PAYLOAD_LEN);
	wire_wr_init(&w, out, CELL_PAYLOAD_LEN);
	if ((ret = circ_created2_write(&w, c)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_INVALID : ret;
	if (circ_created2_parse(out, CELL_PAYLOAD_LEN, &back) != UM_OK)
		return UM_ERR_INVALID;
	return UM_OK;
}

int
circ_destroy_encode(uint8_t reason, uint8_t out[CELL_PAYLOAD_LEN])
{
	memset(out, 0, CELL_PAYLOAD_LEN);
	if (reason > CIRC_REASON_MAX)
		return UM_ERR_INVALID;
	out[0] = reason;
	return UM_OK;
}

bool
circ_id_is_valid(uint32_t circ_id, bool sender_is_link_initiator)
{
	if ((circ_id & ~CIRC_ID_INITIATOR_BIT) == 0)
		return false;
	return ((circ_id & CIRC_ID_INITIATOR_BIT) != 0) == sender_is_link_initiator;
}

int
circ_id_pick(bool link_initiator, circ_id_in_use_fn *in_use, void *arg, uint32_t *out)
{
	for (int i = 0; i < CIRC_ID_MAX_TRIES; i++) {
		/* 1 .. 2^31-1 in the low bits: never 0, and never the bare initiator bit. */
		uint32_t id = rand_uniform(CIRC_ID_INITIATOR_BIT - 1) + 1;

		if (link_initiator)
			id |= CIRC_ID_INITIATOR_BIT;
		if (!in_use(id, arg)) {
			*out = id;
			return UM_OK;
		}
	}
	return UM_ERR_EXISTS;
}
