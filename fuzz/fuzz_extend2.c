/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the EXTEND2 parser (link specifiers, our link key included, and the CREATE2 request).
 * Only UM_OK, TRUNCATED, MALFORMED and TRAILING may come back; a parsed message re-encodes
 * (canonical order, skipped specifiers dropped), parses back to the same struct, and
 * re-encodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "circuit/relay_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
encode(const struct relay_extend2 *e, uint8_t *out, size_t cap)
{
	struct wire_wr w;

	wire_wr_init(&w, out, cap);
	if (relay_extend2_write(&w, e) != UM_OK)
		abort();
	return w.len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_extend2 e, p;
	uint8_t out[RELAY_DATA_MAX], again[RELAY_DATA_MAX];
	size_t n;
	int ret;

	memset(&e, 0, sizeof(e));
	memset(&p, 0, sizeof(p));
	ret = relay_extend2_parse(data, size, &e);
	if (ret != UM_OK && ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED &&
	    ret != UM_ERR_TRAILING)
		abort();
	if (ret != UM_OK)
		return 0;
	if (!e.has_ipv4 && !e.has_ipv6)
		abort();
	/* Without our link-key specifier the key stays all zero (the struct is canonical). */
	for (size_t i = 0; i < sizeof(e.link_key) && !e.has_link_key; i++)
		if (e.link_key[i] != 0)
			abort();
	n = encode(&e, out, sizeof(out));
	if (n > size || relay_extend2_parse(out, n, &p) != UM_OK || memcmp(&e, &p, sizeof(e)) != 0)
		abort();
	if (encode(&p, again, sizeof(again)) != n || memcmp(out, again, n) != 0)
		abort();
	return 0;
}
