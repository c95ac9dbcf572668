/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the consensus parser: a parsed consensus must re-encode to exactly the bytes it was
 * parsed from (the format is canonical), its digest must be the hash of the signed part it
 * reports, its issuer key lists must be what the accessors return, and client verification
 * against its own voters as pins must return an error code or UM_OK, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "directory/consensus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct consensus c;
	struct pinned_authorities pins;
	struct consensus_verify_result res;
	uint8_t *out;
	size_t len = 0;
	ssize_t n = consensus_parse(data, size, &c);

	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n > size || consensus_encoded_len(&c) != (size_t)n ||
	    consensus_signed_len(&c) != c.signed_len)
		abort();
	if (consensus_encode_new(&c, &out, &len) != UM_OK || len != (size_t)n ||
	    memcmp(out, data, len) != 0)
		abort();
	free(out);
	/* Issuer key lists: what the accessors hand consumers is what was parsed. */
	for (size_t i = 0; i < consensus_n_issuers(&c); i++) {
		const uint8_t *id, *doc, *doc2;
		size_t dlen, dlen2;

		if (consensus_issuer(&c, i, &id, &doc, &dlen) != UM_OK || dlen == 0 ||
		    dlen > DIR_ISSUER_DOC_MAX_LEN ||
		    consensus_issuer_find(&c, id, &doc2, &dlen2) != UM_OK || doc2 != doc ||
		    dlen2 != dlen)
			abort();
	}
	memset(&pins, 0, sizeof(pins));
	pins.n = c.n_auths;
	for (size_t i = 0; i < c.n_auths; i++)
		memcpy(pins.ids[i], c.auths[i].identity, AUTHCERT_ID_LEN);
	if (consensus_verify(&c, c.digest, &pins, 0, c.valid_after_s, &res) > 0)
		abort();
	consensus_clear(&c);
	return 0;
}
