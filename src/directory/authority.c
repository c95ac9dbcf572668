/* SPDX-License-Identifier: MIT */
/*
 * Authority key certificates: signing, verification, and the keyring that keeps previous
 * signing keys' certificates through a rotation (docs/PROTOCOL.md 5.1). The wire side is
 * authority_parse.c.
 */
#include "directory/authority.h"

#include <string.h>

#include "lib/err.h"

static const char authcert_label[AUTHCERT_LABEL_LEN] = "umbra-authcert-v1"; /* with its NUL */

/* label | body: the bytes the identity signs. */
static int
authcert_msg(const struct auth_cert *c, uint8_t out[AUTHCERT_LABEL_LEN + AUTHCERT_LEN])
{
	struct wire_wr w;
	int ret;

	memcpy(out, authcert_label, AUTHCERT_LABEL_LEN);
	wire_wr_init(&w, out + AUTHCERT_LABEL_LEN, AUTHCERT_LEN);
	if ((ret = auth_cert_encode(c, &w)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
	return UM_OK;
}

int
auth_cert_make(struct auth_cert *c, const struct keys_ed25519 *identity,
               const uint8_t signing_pk[AUTHCERT_ID_LEN], uint64_t published_s, uint64_t expires_s)
{
	uint8_t msg[AUTHCERT_LABEL_LEN + AUTHCERT_LEN];
	struct auth_cert t;
	int ret;

	if (identity->sk == NULL)
		return UM_ERR_INVALID;
	memset(&t, 0, sizeof(t));
	t.version = AUTHCERT_VERSION;
	memcpy(t.identity, identity->pk, AUTHCERT_ID_LEN);
	memcpy(t.signing_key, signing_pk, AUTHCERT_ID_LEN);
	t.published_s = published_s;
	t.expires_s = expires_s;
	if ((ret = authcert_msg(&t, msg)) != UM_OK)
		return ret;
	sign_ed25519(identity, msg, AUTHCERT_LABEL_LEN + AUTHCERT_BODY_LEN, t.sig);
	*c = t;
	return UM_OK;
}

int
auth_cert_verify(const struct auth_cert *c, uint64_t now_s)
{
	uint8_t msg[AUTHCERT_LABEL_LEN + AUTHCERT_LEN];

	if (!auth_cert_is_wellformed(c))
		return UM_ERR_MALFORMED;
	if (now_s >= c->expires_s)
		return UM_ERR_EXPIRED;
	if (c->published_s > now_s && c->published_s - now_s > AUTHCERT_CLOCK_SKEW_S)
		return UM_ERR_EXPIRED;
	if (authcert_msg(c, msg) != UM_OK)
		return UM_ERR_MALFORMED;
	if (sign_ed25519_verify(c->identity, msg, AUTHCERT_LABEL_LEN + AUTHCERT_BODY_LEN, c->sig) !=
	    UM_OK)
		return UM_ERR_AUTH;
	return UM_OK;
}

int
auth_keyring_init(struct auth_keyring *kr, const struct auth_cert *first)
{
	if (!auth_cert_is_wellformed(first))
		return UM_ERR_INVALID;
	memset(kr, 0, sizeof(*kr));
	memcpy(kr->identity, first->identity, AUTHCERT_ID_LEN);
	kr->certs[0] = *first;
	kr->n_certs = 1;
	return UM_OK;
}

int
auth_keyring_rotate(struct auth_keyring *kr, const struct auth_cert *next, uint64_t now_s)
{
	struct auth_cert keep[AUTH_KEYRING_MAX];
	size_t n = 0;

	if (!auth_cert_is_wellformed(next) ||
	    memcmp(next->identity, kr->identity, AUTHCERT_ID_LEN) != 0 ||
	    (kr->n_certs > 0 && next->published_s <= kr->certs[0].published_s) ||
	    auth_keyring_find(kr, next->signing_key) != NULL)
		return UM_ERR_INVALID;
	keep[n++] = *next;
	/* Previous certificates, newest first, until the ring is full; expired ones go. */
	for (size_t i = 0; i < kr->n_certs && n < AUTH_KEYRING_MAX; i++) {
		if (kr->certs[i].expires_s > now_s)
			keep[n++] = kr->certs[i];
	}
	memcpy(kr->certs, keep, n * sizeof(keep[0]));
	kr->n_certs = n;
	return UM_OK;
}

const struct auth_cert *
auth_keyring_find(const struct auth_keyring *kr, const uint8_t signing_key[AUTHCERT_ID_LEN])
{
	for (size_t i = 0; i < kr->n_certs && i < AUTH_KEYRING_MAX; i++) {
		if (memcmp(kr->certs[i].signing_key, signing_key, AUTHCERT_ID_LEN) == 0)
			return &kr->certs[i];
	}
	return NULL;
}
