/* SPDX-License-Identifier: MIT */
/*
 * Relay crypto v1. Per hop and direction d: a ChaCha20 stream keyed with K_d (crypto/stream.h),
 * the base nonce N_d, the index c of the next cell to cross this layer, and a running keyed
 * BLAKE2b-256 chain (key D_d) over every cell this hop originated or recognized in d.
 *
 *   layer(c):  body ^= ChaCha20(K_d, nonce = N_d ^ (0^4 | LE64(c)), block counter 0)
 *   digest:    R_0 = 32 zero bytes; R_i = BLAKE2b-256_{D_d}(R_{i-1} | body_i with Digest = 0);
 *              Digest = the first 16 bytes of R_i.
 *
 * A chain rather than one streaming hash so a direction keeps 64 bytes (key and R), not a
 * 384-byte BLAKE2b state: relays hold one of these per circuit and direction.
 *
 * The nonce rule is TLS 1.3's (RFC 8446 5.3): a fresh nonce per cell without sending it, and
 * a cell index never reused, so we refuse to go past c = 2^64 - 1.
 */
#include "circuit/relay_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/hash.h"
#include "crypto/stream.h"

struct relay_dir {
	uint8_t dkey[RELAY_CRYPTO_DIGEST_KEY_LEN]; /* D_d */
	uint8_t chain[BLAKE2B_256_LEN];            /* R_i, R_0 = 0 */
	struct stream_chacha20 cipher;             /* keyed with K_d */
	uint8_t nonce[RELAY_CRYPTO_NONCE_LEN];
	bool spent;    /* cell 2^64 - 1 went through: no index left */
	uint64_t next; /* index of the next cell through this layer */
};

struct relay_crypto {
	struct relay_dir fwd, bwd;
	uint8_t kh[RELAY_CRYPTO_KH_LEN];
};

static void
dir_clear(struct relay_dir *d)
{
	stream_chacha20_clear(&d->cipher);
	um_memzero(d, sizeof(*d));
}

static int
dir_init(struct relay_dir *d, const uint8_t *dkey, const uint8_t *key, const uint8_t *nonce)
{
	int ret;

	memset(d, 0, sizeof(*d));
	if ((ret = stream_chacha20_init(&d->cipher, key)) != UM_OK)
		return ret;
	memcpy(d->dkey, dkey, RELAY_CRYPTO_DIGEST_KEY_LEN);
	memcpy(d->nonce, nonce, RELAY_CRYPTO_NONCE_LEN);
	return UM_OK;
}

int
relay_crypto_new(const uint8_t km[RELAY_CRYPTO_KM_LEN], struct relay_crypto **out)
{
	/* Df [32] | Db [32] | Kf [32] | Kb [32] | Nf [12] | Nb [12] | KH [32] */
	const uint8_t *df = km, *db = df + 32, *kf = db + 32, *kb = kf + 32, *nf = kb + 32,
	              *nb = nf + 12, *kh = nb + 12;
	struct relay_crypto *rc;
	int ret;

	*out = NULL;
	rc = um_xcalloc(1, sizeof(*rc));
	if ((ret = dir_init(&rc->fwd, df, kf, nf)) != UM_OK ||
	    (ret = dir_init(&rc->bwd, db, kb, nb)) != UM_OK) {
		relay_crypto_free_(rc);
		return ret;
	}
	memcpy(rc->kh, kh, RELAY_CRYPTO_KH_LEN);
	*out = rc;
	return UM_OK;
}

void
relay_crypto_free_(struct relay_crypto *rc)
{
	if (rc == NULL)
		return;
	dir_clear(&rc->fwd);
	dir_clear(&rc->bwd);
	um_memzero(rc, sizeof(*rc));
	free(rc);
}

void
relay_crypto_kh(const struct relay_crypto *rc, uint8_t kh[RELAY_CRYPTO_KH_LEN])
{
	memcpy(kh, rc->kh, RELAY_CRYPTO_KH_LEN);
}

#ifdef UM_UNIT_TESTS
void
relay_crypto_set_counters(struct relay_crypto *rc, uint64_t fwd, uint64_t bwd)
{
	rc->fwd.next = fwd;
	rc->fwd.spent = false;
	rc->bwd.next = bwd;
	rc->bwd.spent = false;
}

size_t
relay_crypto_state_size(void)
{
	return sizeof(struct relay_crypto);
}
#endif

/* Add or remove (the same XOR) direction d's layer for the next cell index. */
static int
layer(struct relay_dir *d, uint8_t body[RELAY_BODY_LEN])
{
	uint8_t nonce[RELAY_CRYPTO_NONCE_LEN];
	int ret;

	if (d->spent)
		return UM_ERR_TOO_LARGE;
	memcpy(nonce, d->nonce, sizeof(nonce));
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(d->next >> (8 * i));
	if ((ret = stream_chacha20_xor(&d->cipher, nonce, 0, body, body, RELAY_BODY_LEN)) != UM_OK)
		return ret;
	if (d->next == UINT64_MAX)
		d->spent = true;
	else
		d->next++;
	return UM_OK;
}

/* R_next = BLAKE2b-256_{D_d}(R | body with its Digest field read as zeros). */
static void
digest_next(const struct relay_dir *d, const uint8_t body[RELAY_BODY_LEN],
            uint8_t next[BLAKE2B_256_LEN])
{
	uint8_t in[BLAKE2B_256_LEN + RELAY_BODY_LEN];

	memcpy(in, d->chain, BLAKE2B_256_LEN);
	memcpy(in + BLAKE2B_256_LEN, body, RELAY_BODY_LEN);
	memset(in + BLAKE2B_256_LEN + RELAY_BODY_DIGEST_OFF, 0, RELAY_BODY_DIGEST_LEN);
	hash_blake2b(next, BLAKE2B_256_LEN, in, sizeof(in), d->dkey, RELAY_CRYPTO_DIGEST_KEY_LEN);
	um_memzero(in, sizeof(in));
}

/* Originating end: advance the chain and write the cell's Digest field. */
static void
digest_set(struct relay_dir *d, uint8_t body[RELAY_BODY_LEN])
{
	digest_next(d, body, d->chain);
	memcpy(body + RELAY_BODY_DIGEST_OFF, d->chain, RELAY_BODY_DIGEST_LEN);
}

/*
 * Receiving end: the cell is ours iff Recognized is 0 and Digest matches the chain with this
 * cell absorbed (compared in constant time). Only then does the chain move on; a cell for a
 * later hop leaves it untouched.
 */
static bool
digest_check(struct relay_dir *d, const uint8_t body[RELAY_BODY_LEN])
{
	uint8_t next[BLAKE2B_256_LEN];
	bool ok;

	/* Cheap filter first (Tor's): after a layer meant for someone else, Recognized is
	 * random, so the digest is computed for only 1 in 65536 passing cells. */
	if (body[RELAY_BODY_RECOGNIZED_OFF] != 0 || body[RELAY_BODY_RECOGNIZED_OFF + 1] != 0)
		return false;
	digest_next(d, body, next);
	ok = um_memeq_ct(next, body + RELAY_BODY_DIGEST_OFF, RELAY_BODY_DIGEST_LEN);
	if (ok)
		memcpy(d->chain, next, sizeof(next));
	um_memzero(next, sizeof(next));
	return ok;
}

void
relay_crypto_last_digest(const struct relay_crypto *rc, bool forward,
                         uint8_t out[RELAY_BODY_DIGEST_LEN])
{
	memcpy(out, (forward ? &rc->fwd : &rc->bwd)->chain, RELAY_BODY_DIGEST_LEN);
}

int
relay_crypto_client_originate(struct relay_crypto *const *hops, size_t target,
                              uint8_t body[RELAY_BODY_LEN])
{
	int ret;

	if (target == 0 || target > RELAY_CRYPTO_MAX_HOPS)
		return UM_ERR_INVALID;
	/* Check every layer can take one more cell before changing anything. */
	for (size_t i = 0; i < target; i++) {
		if (hops[i]->fwd.spent)
			return UM_ERR_TOO_LARGE;
	}
	digest_set(&hops[target - 1]->fwd, body);
	for (size_t i = target; i-- > 0;) {
		if ((ret = layer(&hops[i]->fwd, body)) != UM_OK)
			return ret;
	}
	return UM_OK;
}

int
relay_crypto_client_receive(struct relay_crypto *const *hops, size_t n_hops,
                            uint8_t body[RELAY_BODY_LEN], size_t *hop)
{
	int ret;

	*hop = 0;
	if (n_hops == 0 || n_hops > RELAY_CRYPTO_MAX_HOPS)
		return UM_ERR_INVALID;
	for (size_t i = 0; i < n_hops; i++) {
		if ((ret = layer(&hops[i]->bwd, body)) != UM_OK)
			return ret;
		if (digest_check(&hops[i]->bwd, body)) {
			*hop = i + 1;
			return UM_OK;
		}
	}
	/* Nobody on the circuit sent this: a tagged or corrupted cell. */
	return UM_ERR_AUTH;
}

int
relay_crypto_relay_forward(struct relay_crypto *rc, uint8_t body[RELAY_BODY_LEN], bool *recognized)
{
	int ret;

	*recognized = false;
	if ((ret = layer(&rc->fwd, body)) != UM_OK)
		return ret;
	*recognized = digest_check(&rc->fwd, body);
	return UM_OK;
}

int
relay_crypto_relay_originate(struct relay_crypto *rc, uint8_t body[RELAY_BODY_LEN])
{
	if (rc->bwd.spent)
		return UM_ERR_TOO_LARGE;
	digest_set(&rc->bwd, body);
	return layer(&rc->bwd, body);
}

int
relay_crypto_relay_backward(struct relay_crypto *rc, uint8_t body[RELAY_BODY_LEN])
{
	return layer(&rc->bwd, body);
}
