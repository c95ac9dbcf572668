/* SPDX-License-Identifier: MIT */
/*
 * Relay crypto v1. Per hop and direction d: a ChaCha20 context keyed with K_d (created once),
 * the base nonce N_d, the index c of the next cell to cross this layer, and the running keyed
 * BLAKE2b-256 (key D_d) over every cell this hop originated or recognized in direction d.
 *
 *   layer(c):  body ^= ChaCha20(K_d, nonce = N_d ^ (0^4 | LE64(c)), block counter 0)
 *   digest:    running = BLAKE2b-256_{D_d}(all earlier cells | body with Digest = 0);
 *              Digest = first 16 bytes of the running hash, read from a copy (the running
 *              state goes on).
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
	struct hash_blake2b_state digest; /* running; keyed with D_d */
	struct stream_chacha20 cipher;    /* keyed with K_d */
	uint8_t nonce[RELAY_CRYPTO_NONCE_LEN];
	uint64_t next; /* index of the next cell through this layer */
	bool spent;    /* cell 2^64 - 1 went through: no index left */
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
	hash_blake2b_init(&d->digest, dkey, RELAY_CRYPTO_DIGEST_KEY_LEN, BLAKE2B_256_LEN);
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
	/* The BLAKE2b state wants 64-byte alignment, more than malloc promises. */
	rc = aligned_alloc(_Alignof(struct relay_crypto), sizeof(struct relay_crypto));
	if (rc == NULL) {
		fprintf(stderr, "umbra: out of memory\n");
		abort();
	}
	memset(rc, 0, sizeof(*rc));
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

/* Absorb body with its Digest field read as zeros into st. */
static void
digest_absorb(struct hash_blake2b_state *st, const uint8_t body[RELAY_BODY_LEN])
{
	static const uint8_t zeros[RELAY_BODY_DIGEST_LEN];

	hash_blake2b_update(st, body, RELAY_BODY_DIGEST_OFF);
	hash_blake2b_update(st, zeros, sizeof(zeros));
	hash_blake2b_update(st, body + RELAY_BODY_DIGEST_OFF + RELAY_BODY_DIGEST_LEN,
	                    RELAY_BODY_LEN - RELAY_BODY_DIGEST_OFF - RELAY_BODY_DIGEST_LEN);
}

/* The digest of the running state st, without ending it. */
static void
digest_peek(const struct hash_blake2b_state *st, uint8_t out[BLAKE2B_256_LEN])
{
	struct hash_blake2b_state copy = *st;

	hash_blake2b_final(&copy, out, BLAKE2B_256_LEN); /* wipes copy */
}

/* Originating end: absorb the cell and write its Digest field. */
static void
digest_set(struct relay_dir *d, uint8_t body[RELAY_BODY_LEN])
{
	uint8_t dig[BLAKE2B_256_LEN];

	digest_absorb(&d->digest, body);
	digest_peek(&d->digest, dig);
	memcpy(body + RELAY_BODY_DIGEST_OFF, dig, RELAY_BODY_DIGEST_LEN);
	um_memzero(dig, sizeof(dig));
}

/*
 * Receiving end: the cell is ours iff Recognized is 0 and Digest matches the running digest
 * with this cell absorbed (compared in constant time). Only then does the running state move
 * on; a cell for a later hop leaves it untouched.
 */
static bool
digest_check(struct relay_dir *d, const uint8_t body[RELAY_BODY_LEN])
{
	struct hash_blake2b_state run;
	uint8_t dig[BLAKE2B_256_LEN];
	bool ok;

	/* Cheap filter first (Tor's): after a layer meant for someone else, Recognized is
	 * random, so the digest is computed for only 1 in 65536 passing cells. */
	if (body[RELAY_BODY_RECOGNIZED_OFF] != 0 || body[RELAY_BODY_RECOGNIZED_OFF + 1] != 0)
		return false;
	run = d->digest;
	digest_absorb(&run, body);
	digest_peek(&run, dig);
	ok = um_memeq_ct(dig, body + RELAY_BODY_DIGEST_OFF, RELAY_BODY_DIGEST_LEN);
	if (ok)
		d->digest = run;
	hash_blake2b_wipe(&run);
	um_memzero(dig, sizeof(dig));
	return ok;
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
