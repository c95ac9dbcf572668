/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the circuit cell payload parsers (CREATE2, CREATED2, DESTROY) on the same input. A
 * parser returns UM_OK, UM_ERR_TRUNCATED or UM_ERR_MALFORMED, nothing else; whatever parsed
 * re-encodes (encoders refuse nothing the parser accepts) and parses back to the same struct.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "circuit/cell_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ret(int ret)
{
	if (ret != UM_OK && ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct circ_create2 c, c2;
	struct circ_created2 d, d2;
	uint8_t out[CELL_PAYLOAD_LEN], reason, reason2;
	int ret;

	memset(&c, 0, sizeof(c));
	memset(&c2, 0, sizeof(c2));
	ret = circ_create2_parse(data, size, &c);
	check_ret(ret);
	if (ret == UM_OK) {
		if (c.htype != CIRC_HTYPE_NTOR || c.hlen != CIRC_NTOR_ONIONSKIN_LEN)
			abort();
		if (circ_create2_encode(&c, out) != UM_OK ||
		    circ_create2_parse(out, sizeof(out), &c2) != UM_OK ||
		    memcmp(&c, &c2, sizeof(c)) != 0 || memcmp(out, data, 4 + (size_t)c.hlen) != 0)
			abort();
	}

	memset(&d, 0, sizeof(d));
	memset(&d2, 0, sizeof(d2));
	ret = circ_created2_parse(data, size, &d);
	check_ret(ret);
	if (ret == UM_OK) {
		if (d.hlen > CIRC_CREATED2_HDATA_MAX)
			abort();
		if (circ_created2_encode(&d, out) != UM_OK ||
		    circ_created2_parse(out, sizeof(out), &d2) != UM_OK ||
		    memcmp(&d, &d2, sizeof(d)) != 0 || memcmp(out, data, 2 + (size_t)d.hlen) != 0)
			abort();
	}

	ret = circ_destroy_parse(data, size, &reason);
	check_ret(ret);
	if (ret == UM_OK) {
		if (circ_destroy_encode(reason, out) != UM_OK ||
		    circ_destroy_parse(out, sizeof(out), &reason2) != UM_OK || reason != reason2)
			abort();
		(void)circ_destroy_reason_str(reason);
	}
	return 0;
}
