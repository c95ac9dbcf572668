/* SPDX-License-Identifier: MIT */
/*
 * CREATE2 / CREATED2 / DESTROY payload parsers (layouts in cell_msg.h, docs/PROTOCOL.md 11.1).
 * Each value is checked as soon as it is read, so every strict prefix of a valid payload is
 * UM_ERR_TRUNCATED, and a length that can never fit is UM_ERR_MALFORMED before its bytes are
 * required.
 */
#include "circuit/cell_msg.h"

#include <string.h>

#include "lib/err.h"

int
circ_create2_read(struct wire_rd *r, struct circ_create2 *out)
{
	struct circ_create2 c;
	int ret;

	memset(&c, 0, sizeof(c));
	if ((ret = wire_get_u16(r, &c.htype)) != UM_OK)
		return ret;
	/* Only ntor: an unknown type would make us spend a handshake on bytes we cannot use. */
	if (circ_htype_request_len(c.htype) == 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u16(r, &c.hlen)) != UM_OK)
		return ret;
	if (c.hlen != circ_htype_request_len(c.htype))
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(r, c.hdata, c.hlen)) != UM_OK)
		return ret;
	*out = c;
	return UM_OK;
}

int
circ_created2_read(struct wire_rd *r, size_t hdata_max, struct circ_created2 *out)
{
	struct circ_created2 c;
	int ret;

	memset(&c, 0, sizeof(c));
	if ((ret = wire_get_u16(r, &c.hlen)) != UM_OK)
		return ret;
	/* An HLEN past the end of the payload is a lie, not a short read. */
	if (c.hlen > hdata_max || c.hlen > CIRC_CREATED2_HDATA_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(r, c.hdata, c.hlen)) != UM_OK)
		return ret;
	*out = c;
	return UM_OK;
}

int
circ_create2_parse(const uint8_t *payload, size_t len, struct circ_create2 *out)
{
	struct wire_rd r;

	wire_rd_init(&r, payload, UM_MIN(len, (size_t)CELL_PAYLOAD_LEN));
	return circ_create2_read(&r, out);
}

int
circ_created2_parse(const uint8_t *payload, size_t len, struct circ_created2 *out)
{
	struct wire_rd r;

	wire_rd_init(&r, payload, UM_MIN(len, (size_t)CELL_PAYLOAD_LEN));
	return circ_created2_read(&r, CIRC_CREATED2_HDATA_MAX, out);
}

int
circ_destroy_parse(const uint8_t *payload, size_t len, uint8_t *reason)
{
	struct wire_rd r;
	uint8_t v;
	int ret;

	wire_rd_init(&r, payload, len);
	if ((ret = wire_get_u8(&r, &v)) != UM_OK)
		return ret;
	if (v > CIRC_REASON_MAX)
		return UM_ERR_MALFORMED;
	*reason = v;
	return UM_OK;
}
