/* SPDX-License-Identifier: MIT */
/*
 * Link handshake state machine over crypto/noise (see handshake.h for the flow). The
 * prologue binds the preamble: "umbra-link" | version | pattern, so a tampered preamble
 * breaks the very first Noise message.
 */
#include "link/handshake.h"

#include <string.h>

#include "lib/compiler.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/hash.h"

static const char prologue_label[] = "umbra-link";

void
link_identity_init(struct link_identity *li, const struct keys_ed25519 *id,
                   const struct keys_x25519 *lk, uint64_t expires)
{
	uint8_t msg[LINK_CERT_MSG_LEN];

	memcpy(li->id, id->pk, LINK_ID_LEN);
	memcpy(li->static_pub, lk->pk, X25519_KEY_LEN);
	li->static_priv = lk->sk;
	li->cert_expires = expires;
	link_cert_msg(msg, li->id, li->static_pub, expires);
	sign_ed25519(id, msg, sizeof(msg), li->cert_sig);
}

int
link_cert_verify(struct link_cert_cache *cache, const uint8_t id[LINK_ID_LEN],
                 const uint8_t link_pub[X25519_KEY_LEN], uint64_t expires,
                 const uint8_t sig[LINK_CERT_SIG_LEN], uint64_t now_s)
{
	uint8_t msg[LINK_CERT_MSG_LEN + LINK_CERT_SIG_LEN];
	uint8_t digest[32];
	size_t slot = 0;
	int ret;

	if (expires <= now_s)
		return UM_ERR_EXPIRED;
	link_cert_msg(msg, id, link_pub, expires);
	memcpy(msg + LINK_CERT_MSG_LEN, sig, LINK_CERT_SIG_LEN);
	if (cache != NULL) {
		hash_blake2b(digest, sizeof(digest), msg, sizeof(msg), NULL, 0);
		slot = (size_t)wire_load_u32(digest) % LINK_CERT_CACHE_SLOTS;
		if (memcmp(cache->slot[slot], digest, sizeof(digest)) == 0) {
			cache->hits++;
			return UM_OK;
		}
		cache->misses++;
	}
	if ((ret = sign_ed25519_verify(id, msg, LINK_CERT_MSG_LEN, sig)) != UM_OK)
		return ret;
	if (cache != NULL)
		memcpy(cache->slot[slot], digest, sizeof(digest));
	return UM_OK;
}

static void
prologue_make(uint8_t out[sizeof(prologue_label) + 1], uint8_t pattern)
{
	memcpy(out, prologue_label, sizeof(prologue_label) - 1);
	out[sizeof(prologue_label) - 1] = LINK_VERSION;
	out[sizeof(prologue_label)] = pattern;
}

static enum noise_pattern
noise_pattern_of(uint8_t pattern)
{
	return pattern == LINK_PATTERN_XK ? NOISE_XK : NOISE_NK;
}

int
link_hs_init_initiator(struct link_hs *hs, uint8_t pattern, const struct link_identity *me,
                       const uint8_t rs[X25519_KEY_LEN], const uint8_t *expected_id,
                       struct link_cert_cache *cache)
{
	uint8_t prologue[sizeof(prologue_label) + 1];
	int ret;

	memset(hs, 0, sizeof(*hs));
	hs->failed = true;
	if ((pattern != LINK_PATTERN_XK && pattern != LINK_PATTERN_NK) ||
	    (pattern == LINK_PATTERN_XK && me == NULL))
		return UM_ERR_INVALID;
	hs->initiator = true;
	hs->pattern = pattern;
	hs->me = me;
	hs->cache = cache;
	if (expected_id != NULL) {
		hs->check_id = true;
		memcpy(hs->expected_id, expected_id, LINK_ID_LEN);
	}
	prologue_make(prologue, pattern);
	ret = noise_hs_init(&hs->noise, noise_pattern_of(pattern), true, prologue, sizeof(prologue),
	                    pattern == LINK_PATTERN_XK ? me->static_priv : NULL, rs);
	if (ret != UM_OK)
		return ret;
	hs->failed = false;
	return UM_OK;
}

int
link_hs_init_responder(struct link_hs *hs, const struct link_identity *me, unsigned accept,
                       struct link_cert_cache *cache)
{
	memset(hs, 0, sizeof(*hs));
	if (me == NULL || accept == 0) {
		hs->failed = true;
		return UM_ERR_INVALID;
	}
	hs->me = me;
	hs->accept = accept;
	hs->cache = cache;
	return UM_OK;
}

/* Encode our hello (with identity if with_id) and write the next Noise message as a frame. */
static int
write_frame(struct link_hs *hs, bool with_id, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t payload[128];
	struct wire_wr w;
	struct link_hello h;
	size_t n = 0;
	int ret;

	memset(&h, 0, sizeof(h));
	h.version = LINK_VERSION;
	if (with_id) {
		h.flags = HELLO_F_IDENTITY;
		memcpy(h.identity, hs->me->id, LINK_ID_LEN);
		h.cert_expires = hs->me->cert_expires;
		memcpy(h.cert_sig, hs->me->cert_sig, LINK_CERT_SIG_LEN);
	}
	wire_wr_init(&w, payload, sizeof(payload));
	if ((ret = link_hello_encode(&h, &w)) != UM_OK)
		return ret;
	if (cap < LINK_FRAME_HDR_LEN)
		return UM_ERR_TOO_LARGE;
	if ((ret = noise_hs_write(&hs->noise, payload, w.len, out + LINK_FRAME_HDR_LEN,
	                          cap - LINK_FRAME_HDR_LEN, &n)) != UM_OK)
		return ret;
	if (n > LINK_HS_MAX_FRAME)
		return UM_ERR_INTERNAL;
	wire_store_u16(out, (uint16_t)n);
	*out_len = n + LINK_FRAME_HDR_LEN;
	hs->step++;
	return UM_OK;
}

int
link_hs_start(struct link_hs *hs, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = 0;
	int ret;

	*out_len = 0;
	if (hs->failed || !hs->initiator || hs->step != 0)
		return UM_ERR_STATE;
	if (cap < LINK_PREAMBLE_LEN)
		return UM_ERR_TOO_LARGE;
	out[0] = LINK_VERSION;
	out[1] = hs->pattern;
	if ((ret = write_frame(hs, false, out + LINK_PREAMBLE_LEN, cap - LINK_PREAMBLE_LEN, &n)) !=
	    UM_OK) {
		hs->failed = true;
		return ret;
	}
	*out_len = n + LINK_PREAMBLE_LEN;
	return UM_OK;
}

static unsigned
n_messages(const struct link_hs *hs)
{
	return hs->pattern == LINK_PATTERN_XK ? 3 : 2;
}

bool
link_hs_is_done(const struct link_hs *hs)
{
	return !hs->failed && hs->pattern != 0 && hs->step == n_messages(hs);
}

/* Check a hello that must carry the peer's identity, bound to static key rs. */
static int
accept_identity(struct link_hs *hs, const struct link_hello *h, const uint8_t *rs, uint64_t now_s)
{
	int ret;

	if ((h->flags & HELLO_F_IDENTITY) == 0 || rs == NULL)
		return UM_ERR_PROTOCOL;
	if ((ret = link_cert_verify(hs->cache, h->identity, rs, h->cert_expires, h->cert_sig,
	                            now_s)) != UM_OK)
		return ret;
	if (hs->check_id && memcmp(h->identity, hs->expected_id, LINK_ID_LEN) != 0)
		return UM_ERR_AUTH;
	memcpy(hs->peer_id, h->identity, LINK_ID_LEN);
	memcpy(hs->peer_static, rs, X25519_KEY_LEN);
	hs->peer_identified = true;
	return UM_OK;
}

/*
 * Write the challenge for a handshake whose msg1 came without a valid solution: a fresh seed
 * and the difficulty asked now. 19 bytes against at least 52 received (preamble and a minimal
 * frame), over a TCP connection whose handshake proved the source address: no amplification.
 * What it reveals (the current seed and difficulty) is what every initiator may learn anyway.
 */
static int
write_challenge(struct link_hs *hs, uint8_t *out, size_t cap, size_t *out_len)
{
	struct link_challenge c;
	struct wire_wr w;
	int ret;

	c.bits = (uint8_t)UM_MIN(hs->pz_bits, (unsigned)PUZZLE_MAX_BITS);
	puzzle_gate_seed(hs->pz_gate, hs->pz_now_ms, c.seed);
	wire_wr_init(&w, out, cap);
	if ((ret = link_challenge_encode(&c, &w)) != UM_OK)
		return ret;
	*out_len = w.len;
	return UM_OK;
}

/*
 * Responder: read the preamble, and, when a puzzle is asked, check the solution against the
 * ephemeral key of msg1 before anything else (so the whole first frame must be there: until
 * it is, nothing is consumed). *consumed is the preamble's length once accepted.
 */
static int
read_preamble(struct link_hs *hs, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
              size_t cap, size_t *out_len)
{
	uint8_t prologue[sizeof(prologue_label) + 1];
	uint8_t bound[LINK_PUZZLE_BOUND_LEN];
	struct link_preamble p;
	const uint8_t *body;
	size_t body_len;
	unsigned mask;
	ssize_t n, fn;
	int ret;

	n = link_preamble_parse(in, len, &p);
	if (n == UM_ERR_TRUNCATED)
		return UM_OK;
	if (n < 0)
		return UM_ERR_PROTOCOL;
	mask = p.pattern == LINK_PATTERN_NK ? LINK_ACCEPT_NK : LINK_ACCEPT_XK;
	if ((hs->accept & mask) == 0)
		return UM_ERR_PROTOCOL;
	if (hs->pz_bits > 0 && hs->pz_gate != NULL) {
		fn = link_frame_parse(in + n, len - (size_t)n, &body, &body_len);
		if (fn == UM_ERR_TRUNCATED)
			return UM_OK;
		if (fn < 0)
			return (int)fn;
		/* Frames are at least LINK_HS_MIN_FRAME (48) bytes: msg1 opens with e [32]. */
		ret = UM_ERR_STATE;
		if (p.has_puzzle) {
			link_puzzle_bound(bound, hs->me->static_pub, body);
			ret = puzzle_gate_check(hs->pz_gate, hs->pz_now_ms, p.seed, bound,
			                        sizeof(bound), p.nonce, hs->pz_bits);
		}
		if (ret != UM_OK) {
			hs->pz_result = p.has_puzzle ? LINK_HS_PZ_FAILED : LINK_HS_PZ_ASKED;
			if ((ret = write_challenge(hs, out, cap, out_len)) != UM_OK)
				return ret;
			return UM_ERR_RATELIMIT;
		}
		hs->pz_result = LINK_HS_PZ_PASSED;
	}
	hs->pattern = p.pattern;
	prologue_make(prologue, hs->pattern);
	*consumed = (size_t)n;
	return noise_hs_init(&hs->noise, noise_pattern_of(hs->pattern), false, prologue,
	                     sizeof(prologue), hs->me->static_priv, NULL);
}

int
link_hs_puzzle_bound(const struct link_hs *hs, const uint8_t *msg, size_t len,
                     uint8_t bound[LINK_PUZZLE_BOUND_LEN])
{
	struct link_preamble p;
	const uint8_t *body, *rs;
	size_t body_len;
	ssize_t n;

	if (!hs->initiator || (rs = noise_hs_remote_static(&hs->noise)) == NULL)
		return UM_ERR_STATE;
	if ((n = link_preamble_parse(msg, len, &p)) < 0 || p.has_puzzle ||
	    link_frame_parse(msg + n, len - (size_t)n, &body, &body_len) < 0)
		return UM_ERR_MALFORMED;
	link_puzzle_bound(bound, rs, body);
	return UM_OK;
}

int
link_hs_add_puzzle(uint8_t *msg, size_t len, size_t cap, const uint8_t seed[PUZZLE_SEED_LEN],
                   const uint8_t nonce[PUZZLE_NONCE_LEN], size_t *new_len)
{
	struct link_preamble p;
	struct wire_wr w;
	ssize_t n;
	int ret;

	*new_len = 0;
	if ((n = link_preamble_parse(msg, len, &p)) < 0 || p.has_puzzle)
		return UM_ERR_MALFORMED;
	if (cap < len + PUZZLE_SEED_LEN + PUZZLE_NONCE_LEN)
		return UM_ERR_TOO_LARGE;
	memmove(msg + LINK_PREAMBLE_PUZZLE_LEN, msg + n, len - (size_t)n);
	p.has_puzzle = true;
	memcpy(p.seed, seed, PUZZLE_SEED_LEN);
	memcpy(p.nonce, nonce, PUZZLE_NONCE_LEN);
	wire_wr_init(&w, msg, LINK_PREAMBLE_PUZZLE_LEN);
	if ((ret = link_preamble_encode(&p, &w)) != UM_OK)
		return ret;
	*new_len = len - (size_t)n + LINK_PREAMBLE_PUZZLE_LEN;
	return UM_OK;
}

int
link_hs_input(struct link_hs *hs, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
              size_t cap, size_t *out_len, uint64_t now_s)
{
	uint8_t payload[LINK_HS_MAX_FRAME];
	const uint8_t *body;
	size_t body_len, plen = 0, pre = 0;
	struct link_hello h;
	ssize_t n, hn;
	int ret = UM_ERR_INTERNAL;

	*consumed = 0;
	*out_len = 0;
	if (hs->failed || link_hs_is_done(hs))
		return UM_ERR_STATE;
	if (!hs->initiator && hs->pattern == 0) {
		if ((ret = read_preamble(hs, in, len, &pre, out, cap, out_len)) != UM_OK) {
			hs->failed = true;
			if (ret != UM_ERR_RATELIMIT)
				*out_len = 0;
			return ret; /* the challenge (RATELIMIT) stays in out */
		}
		if (pre == 0)
			return UM_OK;
	}
	if (hs->initiator && hs->step == 1 && len > 0 && in[0] == LINK_CHALLENGE_TAG) {
		/* The responder asks a puzzle instead of msg2 (a frame never starts with 0xff). */
		n = link_challenge_parse(in, len, &hs->challenge);
		if (n == UM_ERR_TRUNCATED)
			return UM_OK;
		if (n < 0) {
			ret = UM_ERR_PROTOCOL;
			goto fail;
		}
		hs->challenged = true;
		*consumed = (size_t)n;
		ret = UM_ERR_RATELIMIT;
		goto fail;
	}
	n = link_frame_parse(in + pre, len - pre, &body, &body_len);
	if (n == UM_ERR_TRUNCATED) {
		*consumed = pre;
		return UM_OK;
	}
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	if ((ret = noise_hs_read(&hs->noise, body, body_len, payload, sizeof(payload), &plen)) !=
	    UM_OK)
		goto fail;
	hs->step++;
	if ((hn = link_hello_parse(payload, plen, &h)) < 0 || (size_t)hn != plen) {
		ret = UM_ERR_PROTOCOL;
		goto fail;
	}
	if (hs->initiator) {
		/* msg2: the responder proves its identity for the key we dialled. */
		if ((ret = accept_identity(hs, &h, noise_hs_remote_static(&hs->noise), now_s)) !=
		    UM_OK)
			goto fail;
		if (hs->pattern == LINK_PATTERN_XK &&
		    (ret = write_frame(hs, true, out, cap, out_len)) != UM_OK)
			goto fail;
	} else if (hs->step == 1) {
		/* msg1 must not name the initiator: identities travel only in msg3. */
		if ((h.flags & HELLO_F_IDENTITY) != 0) {
			ret = UM_ERR_PROTOCOL;
			goto fail;
		}
		if ((ret = write_frame(hs, true, out, cap, out_len)) != UM_OK)
			goto fail;
	} else {
		/* XK msg3: the initiator's identity, bound to the static key Noise revealed. */
		if ((ret = accept_identity(hs, &h, noise_hs_remote_static(&hs->noise), now_s)) !=
		    UM_OK)
			goto fail;
	}
	*consumed = pre + (size_t)n;
	return UM_OK;
fail:
	hs->failed = true;
	*out_len = 0;
	return ret;
}

int
link_hs_split(struct link_hs *hs, struct noise_cs *send, struct noise_cs *recv)
{
	int ret;

	if (!link_hs_is_done(hs))
		return UM_ERR_STATE;
	ret = noise_hs_split(&hs->noise, send, recv);
	/* The handshake state holds our ephemeral private key, the chaining key and a copy of
	 * our static key. A link lives for days: keeping them until it is freed would let a
	 * later memory disclosure recover its traffic keys (forward secrecy). Only the results
	 * (peer id and key, pattern) stay. */
	noise_hs_clear(&hs->noise);
	return ret;
}

void
link_hs_clear(struct link_hs *hs)
{
	noise_hs_clear(&hs->noise);
	memset(hs, 0, sizeof(*hs));
}
