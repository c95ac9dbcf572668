/* SPDX-License-Identifier: MIT */
/* Cell encode/parse: fixed layout, so parsing only checks the length. */
#include "link/cell.h"

#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"

ssize_t
cell_parse(const uint8_t *in, size_t len, struct cell *out)
{
	struct wire_rd r;
	struct cell c;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u32(&r, &c.circ_id)) != UM_OK ||
	    (ret = wire_get_u8(&r, &c.cmd)) != UM_OK ||
	    (ret = wire_get_bytes(&r, c.payload, CELL_PAYLOAD_LEN)) != UM_OK)
		return ret;
	*out = c;
	return (ssize_t)r.off;
}

void
cell_encode(const struct cell *c, uint8_t out[CELL_LEN])
{
	wire_store_u32(out, c->circ_id);
	out[4] = c->cmd;
	memcpy(out + CELL_HEADER_LEN, c->payload, CELL_PAYLOAD_LEN);
}
