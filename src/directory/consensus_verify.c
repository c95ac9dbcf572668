/* SPDX-License-Identifier: MIT */
/*
 * Client-side acceptance of a consensus (docs/PROTOCOL.md 5.6): the clock first (no public
 * key work for a stale or future-dated document), then, per pinned authority, its
 * signatures: each must be by a signing key whose certificate (from the consensus or the
 * client's cache) is signed by that pinned identity and valid now. An authority counts once
 * however many valid signatures it made; identities that are not pinned count for nothing.
 */
#include "directory/consensus.h"

#include <string.h>

#include "lib/err.h"

static const char cons_label[CONS_LABEL_LEN] = "umbra-consensus-v1"; /* with its NUL */

const char *
cons_auth_status_str(enum cons_auth_status s)
{
	switch (s) {
	case CONS_AUTH_SIGNED:
		return "signed";
	case CONS_AUTH_NO_SIG:
		return "no signature";
	case CONS_AUTH_NO_CERT:
		return "signing key has no known certificate";
	case CONS_AUTH_CERT_INVALID:
		return "signing key certificate does not verify";
	case CONS_AUTH_CERT_EXPIRED:
		return "signing key certificate expired";
	case CONS_AUTH_BAD_SIG:
		return "bad signature";
	}
	return "unknown";
}

/* Try one certificate list for (identity, key); update *status with the worst failure. */
static bool
find_valid_cert(const struct auth_cert *certs, size_t n, const struct cons_sig *s, uint64_t now_s,
                enum cons_auth_status *why)
{
	for (size_t i = 0; i < n; i++) {
		const struct auth_cert *c = &certs[i];
		int ret;

		if (memcmp(c->identity, s->identity, AUTHCERT_ID_LEN) != 0 ||
		    memcmp(c->signing_key, s->signing_key, AUTHCERT_ID_LEN) != 0)
			continue;
		ret = auth_cert_verify(c, now_s);
		if (ret == UM_OK)
			return true;
		if (ret == UM_ERR_EXPIRED && *why < CONS_AUTH_CERT_EXPIRED)
			*why = CONS_AUTH_CERT_EXPIRED;
		else if (ret != UM_ERR_EXPIRED && *why < CONS_AUTH_CERT_INVALID)
			*why = CONS_AUTH_CERT_INVALID;
	}
	return false;
}

/* Check one signature; CONS_AUTH_SIGNED or why it does not count. */
static enum cons_auth_status
check_sig(const struct consensus *c, const uint8_t digest[DIR_DIGEST_LEN],
          const struct pinned_authorities *pins, const struct cons_sig *s, uint64_t now_s)
{
	uint8_t msg[CONS_LABEL_LEN + DIR_DIGEST_LEN];
	enum cons_auth_status why = CONS_AUTH_NO_CERT;
	size_t n_auths = UM_MIN((size_t)c->n_auths, (size_t)CONS_MAX_AUTHORITIES);

	if (!find_valid_cert(c->auths, n_auths, s, now_s, &why) &&
	    (pins->certs == NULL || !find_valid_cert(pins->certs, pins->n_certs, s, now_s, &why)))
		return why;
	memcpy(msg, cons_label, CONS_LABEL_LEN);
	memcpy(msg + CONS_LABEL_LEN, digest, DIR_DIGEST_LEN);
	if (sign_ed25519_verify(s->signing_key, msg, sizeof(msg), s->sig) != UM_OK)
		return CONS_AUTH_BAD_SIG;
	return CONS_AUTH_SIGNED;
}

static bool
is_pinned(const struct pinned_authorities *pins, const uint8_t id[AUTHCERT_ID_LEN])
{
	for (size_t i = 0; i < pins->n; i++) {
		if (memcmp(pins->ids[i], id, AUTHCERT_ID_LEN) == 0)
			return true;
	}
	return false;
}

int
consensus_verify(const struct consensus *c, const uint8_t signed_part_digest[DIR_DIGEST_LEN],
                 const struct pinned_authorities *pins, size_t threshold, uint64_t now_s,
                 struct consensus_verify_result *res)
{
	size_t n_sigs = UM_MIN((size_t)c->n_sigs, (size_t)CONS_MAX_SIGS);

	memset(res, 0, sizeof(*res));
	if (pins->n == 0 || pins->n > CONS_MAX_AUTHORITIES)
		return UM_ERR_INVALID;
	for (size_t i = 0; i < pins->n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (memcmp(pins->ids[i], pins->ids[j], AUTHCERT_ID_LEN) == 0)
				return UM_ERR_INVALID;
		}
	}
	if (threshold == 0)
		threshold = pins->n / 2 + 1;
	if (threshold > pins->n)
		return UM_ERR_INVALID;
	res->threshold = threshold;
	res->n_pins = pins->n;
	for (size_t i = 0; i < pins->n; i++) {
		memcpy(res->auth[i].identity, pins->ids[i], AUTHCERT_ID_LEN);
		res->auth[i].status = CONS_AUTH_NO_SIG;
	}

	/* Time first: stale and future-dated documents cost no signature check. */
	if (now_s >= c->valid_until_s) {
		res->time = CONS_TIME_EXPIRED;
		return UM_ERR_EXPIRED;
	}
	if (c->valid_after_s > now_s && c->valid_after_s - now_s > CONS_CLOCK_SKEW_S) {
		res->time = CONS_TIME_NOT_YET;
		return UM_ERR_EXPIRED;
	}

	for (size_t i = 0; i < n_sigs; i++) {
		if (!is_pinned(pins, c->sigs[i].identity))
			res->n_unpinned_sigs++;
	}
	for (size_t p = 0; p < pins->n; p++) {
		enum cons_auth_status worst = CONS_AUTH_NO_SIG;

		for (size_t i = 0; i < n_sigs && worst != CONS_AUTH_SIGNED; i++) {
			enum cons_auth_status st;

			if (memcmp(c->sigs[i].identity, pins->ids[p], AUTHCERT_ID_LEN) != 0)
				continue;
			st = check_sig(c, signed_part_digest, pins, &c->sigs[i], now_s);
			if (st == CONS_AUTH_SIGNED || worst == CONS_AUTH_NO_SIG || st > worst)
				worst = st;
		}
		res->auth[p].status = worst;
		if (worst == CONS_AUTH_SIGNED)
			res->n_signed++;
	}
	return res->n_signed >= threshold ? UM_OK : UM_ERR_AUTH;
}
