/* SPDX-License-Identifier: MIT */
/* The identified form of a TOKEN (idtoken.h, docs/PROTOCOL.md 18.5). */
#include "trust/idtoken.h"

#include <string.h>

#include "lib/err.h"
#include "crypto/hash.h"

static const char DIGEST_LABEL[] = "umbra-idtoken-v1";

bool
idtoken_is_identified(const uint8_t *in, size_t len)
{
	return len > 0 && in[0] == IDTOKEN_KIND;
}

int
idtoken_parse(const uint8_t *in, size_t len, struct idtoken *out)
{
	struct captoken cap;
	struct idtoken t;
	struct wire_rd r;
	uint8_t kind;
	ssize_t n;
	int ret;

	memset(&t, 0, sizeof(t));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &kind)) != UM_OK)
		return UM_ERR_TRUNCATED;
	if (kind != IDTOKEN_KIND)
		return UM_ERR_MALFORMED;
	/* The captoken delimits itself (its strings are length-prefixed, the rest fixed). */
	n = captoken_parse(in + 1, len - 1, &cap);
	if (n < 0)
		return n == UM_ERR_TRUNCATED ? UM_ERR_TRUNCATED : UM_ERR_MALFORMED;
	if ((ret = wire_get_view(&r, (size_t)n, &t.cap)) != UM_OK)
		return UM_ERR_INTERNAL; /* captoken_parse() consumed no more than it had */
	t.cap_len = (size_t)n;
	if ((ret = wire_get_u64(&r, &t.pop_time_s)) != UM_OK ||
	    (ret = wire_get_bytes(&r, t.pop_sig, sizeof(t.pop_sig))) != UM_OK)
		return ret == UM_ERR_TRUNCATED ? UM_ERR_TRUNCATED : UM_ERR_MALFORMED;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = t;
	return UM_OK;
}

int
idtoken_encode(const uint8_t *cap, size_t cap_len, uint64_t pop_time_s,
               const uint8_t pop_sig[CAPTOKEN_SIG_LEN], struct wire_wr *w)
{
	struct captoken t;
	size_t mark = w->len;
	ssize_t n;
	int ret;

	if (cap == NULL || cap_len > CAPTOKEN_MAX_LEN)
		return UM_ERR_INVALID;
	n = captoken_parse(cap, cap_len, &t);
	if (n < 0 || (size_t)n != cap_len)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, IDTOKEN_KIND)) != UM_OK ||
	    (ret = wire_put_bytes(w, cap, cap_len)) != UM_OK ||
	    (ret = wire_put_u64(w, pop_time_s)) != UM_OK ||
	    (ret = wire_put_bytes(w, pop_sig, CAPTOKEN_SIG_LEN)) != UM_OK) {
		w->len = mark;
		return ret;
	}
	return UM_OK;
}

void
idtoken_digest(const uint8_t *cap, size_t cap_len, uint8_t digest[CAPTOKEN_HASH_LEN])
{
	struct hash_blake2b_state st;

	hash_blake2b_init(&st, NULL, 0, CAPTOKEN_HASH_LEN);
	hash_blake2b_update(&st, DIGEST_LABEL, sizeof(DIGEST_LABEL)); /* its NUL: the 0x00 */
	hash_blake2b_update(&st, cap, cap_len);
	hash_blake2b_final(&st, digest, CAPTOKEN_HASH_LEN);
}
