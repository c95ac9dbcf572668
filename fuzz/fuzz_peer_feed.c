/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the signed peer feed parser (docs/PROTOCOL.md 12.1): a parsed feed must re-encode to
 * exactly the bytes it was parsed from (the format is canonical); parse errors are only
 * TRUNCATED or MALFORMED; whole-message verification of anything returns an error code,
 * never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "directory/dirfed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct peer_feed f, f2;
	static uint8_t out[PEER_FEED_MAX_LEN];
	static bool init;
	struct wire_wr w = { out, sizeof(out), 0 };
	ssize_t n;
	int ret;

	if (!init) {
		if (um_crypto_init() != UM_OK)
			abort();
		init = true;
	}
	n = peer_feed_parse(data, size, &f);
	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n > size || (size_t)n > PEER_FEED_MAX_LEN)
		abort();
	if (peer_feed_encode(&f, &w) != UM_OK || w.len != (size_t)n ||
	    memcmp(out, data, w.len) != 0)
		abort();
	for (size_t i = 0; i < f.n_peers; i++)
		if (!peer_feed_url_is_valid(f.peers[i].url, strlen(f.peers[i].url)))
			abort();
	/* Signatures will almost never verify; the point is that every path returns. */
	ret = peer_feed_parse_verify(data, size, f.cert.identity, f.published_s, &f2);
	if (ret > 0)
		abort();
	return 0;
}
