/* SPDX-License-Identifier: MIT */
/*
 * The identified form of a TOKEN (docs/PROTOCOL.md 17.5, 18.5), pure: a capability token of
 * role "access" for audience "exit" (captoken.h) with a proof of possession bound to the exit
 * it is shown to:
 *
 *   idtoken = kind [1] = 2 | captoken (18.2) | pop_time [8] | pop_sig [64]
 *   pop_sig = captoken_pop_sign(pop_key, audience = the exit's identity key, pop_time,
 *                               digest = idtoken_digest(captoken))
 *   digest  = BLAKE2b-256("umbra-idtoken-v1" 0x00 | captoken)
 *
 * The first byte tells the two forms apart: an anonymous token (16.2) starts with its version,
 * 1; the identified form with 2. An exit that knows only anonymous tokens answers an
 * identified one "malformed" (6) and nothing breaks. Nothing here checks a signature or a
 * clock: captoken_verify() does (trust/token_verifier.h calls it).
 */
#ifndef UM_TRUST_IDTOKEN_H
#define UM_TRUST_IDTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "trust/captoken.h"

enum idtoken_limits {
	IDTOKEN_KIND = 2, /* first byte; an anonymous token's is its version (1) */
	IDTOKEN_MIN_LEN = 1 + CAPTOKEN_MIN_LEN + 8 + CAPTOKEN_SIG_LEN, /* 249 */
	IDTOKEN_MAX_LEN = 1 + CAPTOKEN_MAX_LEN + 8 + CAPTOKEN_SIG_LEN, /* 354 */
};

#define IDTOKEN_ROLE    "access"
#define IDTOKEN_AUD_STR "exit"

/* One identified token; cap is a view into the parsed bytes. */
struct idtoken {
	const uint8_t *cap;
	size_t cap_len;
	uint64_t pop_time_s;
	uint8_t pop_sig[CAPTOKEN_SIG_LEN];
};

/* Whether the token bytes (a TOKEN's after the issuer) are of the identified form. */
bool idtoken_is_identified(const uint8_t *in, size_t len);

/*
 * Parse exactly len bytes: UM_OK, UM_ERR_TRUNCATED for a strict prefix of a valid one,
 * UM_ERR_MALFORMED for a broken rule (a kind other than 2, a captoken captoken_parse()
 * refuses), UM_ERR_TRAILING for bytes after pop_sig. *out is written only on success; its cap
 * view lives as long as in.
 */
int idtoken_parse(const uint8_t *in, size_t len, struct idtoken *out) UM_WARN_UNUSED;

/* Append kind | cap | pop_time | pop_sig. UM_ERR_INVALID when cap is not one whole captoken,
 * UM_ERR_TOO_LARGE when w is full; nothing is appended on failure. */
int idtoken_encode(const uint8_t *cap, size_t cap_len, uint64_t pop_time_s,
                   const uint8_t pop_sig[CAPTOKEN_SIG_LEN], struct wire_wr *w) UM_WARN_UNUSED;

/* The digest the proof of possession signs: BLAKE2b-256("umbra-idtoken-v1" 0x00 | cap). */
void idtoken_digest(const uint8_t *cap, size_t cap_len, uint8_t digest[CAPTOKEN_HASH_LEN]);

#endif /* UM_TRUST_IDTOKEN_H */
