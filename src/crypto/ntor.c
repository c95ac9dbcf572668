/* SPDX-License-Identifier: MIT */
/*
 * ntor v1 (tor-spec 5.1.4, 5.2.2) on libsodium X25519 and HMAC-SHA256. Checked against the
 * arti/Tor handshake vector and the ntor HKDF vectors in shared/vectors/ntor/ntor_v1.json.
 * Once the keys are known (NODEID and KEYID are public), both sides compute every DH and MAC
 * before looking at any failure, so the time taken does not tell which check failed.
 */
#include "crypto/ntor.h"

#include <string.h>
#include <sodium.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

#define PROTOID "ntor-curve25519-sha256-1"

static const char t_mac[] = PROTOID ":mac";
static const char t_key[] = PROTOID ":key_extract";
static const char t_verify[] = PROTOID ":verify";
static const char m_expand[] = PROTOID ":key_expand";
static const char server_str[] = "Server";

enum {
	PROTOID_LEN = sizeof(PROTOID) - 1,
	/* EXP(X,y) | EXP(X,b) | ID | B | X | Y | PROTOID */
	SECRET_INPUT_LEN = 2 * X25519_KEY_LEN + NTOR_NODE_ID_LEN + 3 * NTOR_KEY_LEN + PROTOID_LEN,
	/* verify | ID | B | Y | X | PROTOID | "Server" */
	AUTH_INPUT_LEN = SHA256_LEN + NTOR_NODE_ID_LEN + 3 * NTOR_KEY_LEN + PROTOID_LEN +
	                 sizeof(server_str) - 1,
};

static uint8_t *
cat(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

/*
 * From the two DH results (server order: EXP(X,y), EXP(X,b); the client's EXP(Y,x), EXP(B,x)
 * are the same values), compute AUTH and key_len bytes of key material.
 */
static int
ntor_derive(const uint8_t dh_eph[X25519_KEY_LEN], const uint8_t dh_onion[X25519_KEY_LEN],
            const uint8_t id[NTOR_NODE_ID_LEN], const uint8_t B[NTOR_KEY_LEN],
            const uint8_t X[NTOR_KEY_LEN], const uint8_t Y[NTOR_KEY_LEN], uint8_t auth[SHA256_LEN],
            uint8_t *key_out, size_t key_len)
{
	uint8_t secret_input[SECRET_INPUT_LEN];
	uint8_t auth_input[AUTH_INPUT_LEN];
	uint8_t *p;
	int ret;

	p = cat(secret_input, dh_eph, X25519_KEY_LEN);
	p = cat(p, dh_onion, X25519_KEY_LEN);
	p = cat(p, id, NTOR_NODE_ID_LEN);
	p = cat(p, B, NTOR_KEY_LEN);
	p = cat(p, X, NTOR_KEY_LEN);
	p = cat(p, Y, NTOR_KEY_LEN);
	cat(p, PROTOID, PROTOID_LEN);

	/* verify = H(secret_input, t_verify), straight into the head of auth_input. */
	hmac_sha256(auth_input, (const uint8_t *)t_verify, sizeof(t_verify) - 1, secret_input,
	            sizeof(secret_input));
	p = cat(auth_input + SHA256_LEN, id, NTOR_NODE_ID_LEN);
	p = cat(p, B, NTOR_KEY_LEN);
	p = cat(p, Y, NTOR_KEY_LEN); /* Y before X here, unlike secret_input */
	p = cat(p, X, NTOR_KEY_LEN);
	p = cat(p, PROTOID, PROTOID_LEN);
	cat(p, server_str, sizeof(server_str) - 1);
	hmac_sha256(auth, (const uint8_t *)t_mac, sizeof(t_mac) - 1, auth_input,
	            sizeof(auth_input));

	/* KEY_SEED = H(secret_input, t_key) is HKDF-Extract(salt = t_key, secret_input). */
	ret = kdf_hkdf_sha256(key_out, key_len, (const uint8_t *)t_key, sizeof(t_key) - 1,
	                      secret_input, sizeof(secret_input), (const uint8_t *)m_expand,
	                      sizeof(m_expand) - 1);
	sodium_memzero(secret_input, sizeof(secret_input));
	sodium_memzero(auth_input, sizeof(auth_input));
	return ret;
}

void
ntor_node_id(uint8_t node_id[NTOR_NODE_ID_LEN], const uint8_t pk[ED25519_PK_LEN])
{
	memcpy(node_id, pk, NTOR_NODE_ID_LEN);
}

UM_STATIC void
ntor_client_start_with(struct ntor_client_state *st, const uint8_t node_id[NTOR_NODE_ID_LEN],
                       const uint8_t B[NTOR_KEY_LEN], const uint8_t x[NTOR_KEY_LEN],
                       uint8_t onionskin[NTOR_ONIONSKIN_LEN])
{
	uint8_t *p;

	memcpy(st->node_id, node_id, NTOR_NODE_ID_LEN);
	memcpy(st->B, B, NTOR_KEY_LEN);
	memcpy(st->x, x, NTOR_KEY_LEN);
	keys_x25519_public(st->X, st->x);
	st->active = true;

	p = cat(onionskin, st->node_id, NTOR_NODE_ID_LEN);
	p = cat(p, st->B, NTOR_KEY_LEN);
	cat(p, st->X, NTOR_KEY_LEN);
}

void
ntor_client_start(struct ntor_client_state *st, const uint8_t node_id[NTOR_NODE_ID_LEN],
                  const uint8_t B[NTOR_KEY_LEN], uint8_t onionskin[NTOR_ONIONSKIN_LEN])
{
	uint8_t x[NTOR_KEY_LEN];

	rand_bytes(x, sizeof(x));
	ntor_client_start_with(st, node_id, B, x, onionskin);
	sodium_memzero(x, sizeof(x));
}

void
ntor_client_abort(struct ntor_client_state *st)
{
	sodium_memzero(st, sizeof(*st));
}

int
ntor_client_finish(struct ntor_client_state *st, const uint8_t reply[NTOR_REPLY_LEN],
                   uint8_t *key_out, size_t key_len)
{
	struct wire_rd r;
	const uint8_t *Y, *auth_got;
	uint8_t dh_eph[X25519_KEY_LEN], dh_onion[X25519_KEY_LEN], auth[SHA256_LEN];
	int bad_point, bad_auth, ret;

	if (key_len == 0 || key_len > NTOR_KEY_MATERIAL_MAX) {
		ntor_client_abort(st);
		return UM_ERR_INVALID;
	}
	if (!st->active) {
		sodium_memzero(key_out, key_len);
		ntor_client_abort(st);
		return UM_ERR_STATE;
	}
	wire_rd_init(&r, reply, NTOR_REPLY_LEN);
	if (wire_get_view(&r, NTOR_KEY_LEN, &Y) != UM_OK ||
	    wire_get_view(&r, SHA256_LEN, &auth_got) != UM_OK) {
		ret = UM_ERR_INTERNAL; /* cannot happen: the reply is exactly 64 bytes */
		goto out;
	}
	/* Both DH are computed whatever happens, then both checks are combined. */
	bad_point = keys_x25519_dh(dh_eph, st->x, Y) != UM_OK;
	bad_point |= keys_x25519_dh(dh_onion, st->x, st->B) != UM_OK;
	ret = ntor_derive(dh_eph, dh_onion, st->node_id, st->B, st->X, Y, auth, key_out, key_len);
	if (ret != UM_OK)
		goto out;
	bad_auth = crypto_verify_32(auth, auth_got) != 0;
	if (bad_point)
		ret = UM_ERR_CRYPTO;
	else if (bad_auth)
		ret = UM_ERR_AUTH;
out:
	if (ret != UM_OK)
		sodium_memzero(key_out, key_len);
	sodium_memzero(dh_eph, sizeof(dh_eph));
	sodium_memzero(dh_onion, sizeof(dh_onion));
	sodium_memzero(auth, sizeof(auth));
	ntor_client_abort(st);
	return ret;
}

/*
 * Index of the key whose public half is B, or n_keys if none. Every key is compared in full
 * (no early exit) and the index is picked with masks, not branches.
 */
static size_t
select_key(const struct keys_x25519 *keys, size_t n_keys, const uint8_t B[NTOR_KEY_LEN])
{
	size_t found = n_keys;

	for (size_t i = 0; i < n_keys; i++) {
		/* crypto_verify_32: 0 if equal, -1 otherwise -> eq is 1 or 0. */
		size_t eq = (size_t)(1 + crypto_verify_32(keys[i].pk, B));
		size_t mask = (size_t)0 - eq;

		found = (found & ~mask) | (i & mask);
	}
	return found;
}

UM_STATIC int
ntor_server_handle_with(const struct keys_x25519 *keys, size_t n_keys,
                        const uint8_t node_id[NTOR_NODE_ID_LEN],
                        const uint8_t onionskin[NTOR_ONIONSKIN_LEN], const uint8_t y[NTOR_KEY_LEN],
                        uint8_t reply_out[NTOR_REPLY_LEN], uint8_t *key_out, size_t key_len)
{
	struct wire_rd r;
	const uint8_t *id, *B, *X;
	uint8_t Y[NTOR_KEY_LEN], auth[SHA256_LEN];
	uint8_t dh_eph[X25519_KEY_LEN], dh_onion[X25519_KEY_LEN];
	size_t k;
	int bad_point, ret = UM_ERR_INTERNAL;

	memset(dh_eph, 0, sizeof(dh_eph));
	memset(dh_onion, 0, sizeof(dh_onion));
	memset(auth, 0, sizeof(auth));
	memset(reply_out, 0, NTOR_REPLY_LEN);
	if (key_len == 0 || key_len > NTOR_KEY_MATERIAL_MAX)
		return UM_ERR_INVALID;
	sodium_memzero(key_out, key_len);
	if (keys == NULL || n_keys == 0 || n_keys > NTOR_MAX_ONION_KEYS)
		return UM_ERR_INVALID;

	wire_rd_init(&r, onionskin, NTOR_ONIONSKIN_LEN);
	if (wire_get_view(&r, NTOR_NODE_ID_LEN, &id) != UM_OK ||
	    wire_get_view(&r, NTOR_KEY_LEN, &B) != UM_OK ||
	    wire_get_view(&r, NTOR_KEY_LEN, &X) != UM_OK || wire_expect_end(&r) != UM_OK)
		return UM_ERR_INTERNAL; /* cannot happen: exactly 84 bytes */
	/* A client that names another relay was sent to the wrong place (or the previous hop
	 * swapped the EXTEND2 target): refuse rather than answer for someone else. */
	if (sodium_memcmp(id, node_id, NTOR_NODE_ID_LEN) != 0)
		return UM_ERR_PROTOCOL;
	k = select_key(keys, n_keys, B);
	if (k == n_keys)
		return UM_ERR_NOT_FOUND;
	if (keys[k].sk == NULL)
		return UM_ERR_INVALID;

	keys_x25519_public(Y, y);
	bad_point = keys_x25519_dh(dh_eph, y, X) != UM_OK;
	bad_point |= keys_x25519_dh(dh_onion, keys[k].sk, X) != UM_OK;
	ret = ntor_derive(dh_eph, dh_onion, id, B, X, Y, auth, key_out, key_len);
	if (ret == UM_OK && bad_point)
		ret = UM_ERR_CRYPTO;
	if (ret == UM_OK) {
		memcpy(reply_out, Y, NTOR_KEY_LEN);
		memcpy(reply_out + NTOR_KEY_LEN, auth, SHA256_LEN);
	} else {
		sodium_memzero(key_out, key_len);
	}
	sodium_memzero(dh_eph, sizeof(dh_eph));
	sodium_memzero(dh_onion, sizeof(dh_onion));
	sodium_memzero(auth, sizeof(auth));
	return ret;
}

int
ntor_server_handle(const struct keys_x25519 *keys, size_t n_keys,
                   const uint8_t node_id[NTOR_NODE_ID_LEN],
                   const uint8_t onionskin[NTOR_ONIONSKIN_LEN], uint8_t reply_out[NTOR_REPLY_LEN],
                   uint8_t *key_out, size_t key_len)
{
	uint8_t y[NTOR_KEY_LEN];
	int ret;

	rand_bytes(y, sizeof(y));
	ret = ntor_server_handle_with(keys, n_keys, node_id, onionskin, y, reply_out, key_out,
	                              key_len);
	sodium_memzero(y, sizeof(y));
	return ret;
}
