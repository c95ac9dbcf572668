/* SPDX-License-Identifier: MIT */
/* Fuzz the link hello payload and handshake frame parsers; a parsed hello must re-encode to
 * exactly the bytes it was parsed from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "link/link_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_hello h;
	const uint8_t *body;
	size_t blen;
	uint8_t out[1024];
	struct wire_wr w;
	ssize_t n = link_hello_parse(data, size, &h);

	if (n > 0) {
		wire_wr_init(&w, out, sizeof(out));
		if (link_hello_encode(&h, &w) != UM_OK || w.len != (size_t)n ||
		    memcmp(out, data, w.len) != 0)
			abort();
	}
	n = link_frame_parse(data, size, &body, &blen);
	if (n > 0 && ((size_t)n != blen + 2 || blen > LINK_HS_MAX_FRAME))
		abort();
	return 0;
}
