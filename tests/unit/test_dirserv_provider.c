/* SPDX-License-Identifier: MIT */
/*
 * Provider bindings at the authority (directory/dirserv.h, dir_provider.h, PROTOCOL.md 18.4)
 * with stand-in checks (the real ones are trust's, wired in app/dir_provider.c and covered by
 * test_captoken and tests/integration/test_provider.sh): without checks the route is 404;
 * with require_provider a plain upload of an unbound relay is 403; an upsert with a refused
 * token is 403, one the checks cannot judge yet 503, a malformed one 400, one whose
 * descriptor is not certified by the token's key 403; a good one binds the relay (then its
 * plain uploads pass too) and it is voted on; once the binding's subject is revoked, or its
 * token expired, the relay is left out of the vote.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/dir_provider.h"
#include "directory/dirserv.h"
#include "link/handshake.h"

enum {
	NOW = 1700000000,
	PUB = NOW - 600,
	CERT_EXP = NOW + 30 * 86400,
	TOKEN_EXP = NOW + 7200,
};

static struct keys_ed25519 A, S, R, OP, OTHER;
static struct keys_x25519 LK, ONION;
static struct auth_keyring KR;
static bool revoked;
static const uint8_t ISS[32] = { 9, 9, 9 };

static void
seed_key(struct keys_ed25519 *k, uint8_t v)
{
	uint8_t s[32];

	memset(s, v, sizeof(s));
	keys_ed25519_from_seed(k, s);
}

/* R's descriptor published at pub, certified by op (NULL: none). */
static size_t
make_desc(uint8_t *out, size_t cap, uint64_t pub, const struct keys_ed25519 *op)
{
	struct relay_desc d;
	struct link_identity li;
	struct wire_wr w = { out, cap, 0 };

	memset(&d, 0, sizeof(d));
	d.version = RELAY_DESC_VERSION;
	memcpy(d.identity, R.pk, 32);
	d.published_s = pub;
	d.expires_s = pub + RELAY_DESC_LIFETIME_MAX_S;
	snprintf(d.nickname, sizeof(d.nickname), "bound");
	d.roles = RELAY_ROLE_MIDDLE;
	link_identity_init(&li, &R, &LK, CERT_EXP);
	memcpy(d.link_key, LK.pk, 32);
	d.link_cert_expires_s = CERT_EXP;
	memcpy(d.link_cert_sig, li.cert_sig, 64);
	memcpy(d.onion_key, ONION.pk, 32);
	d.n_addrs = 1;
	d.addrs[0].type = RELAY_ADDR_IPV4;
	d.addrs[0].addr[0] = 127;
	d.addrs[0].addr[3] = 1;
	d.addrs[0].port = 9001;
	d.policy4.kind = RELAY_POLICY_ACCEPT;
	d.policy6.kind = RELAY_POLICY_ACCEPT;
	d.bw = (struct relay_bw){ 200000, 400000, 150000 };
	memcpy(d.operator_id, R.pk, 32);
	if (op != NULL)
		relay_desc_sign_operator(&d, op, d.expires_s);
	strcpy(d.country, "DE");
	assert_int_equal(relay_desc_sign(&d, &R), UM_OK);
	assert_int_equal(relay_desc_encode(&d, &w), UM_OK);
	return w.len;
}

/* Stand-in token check: "good" binds subject op1 with pop_key OP; "later" cannot be judged. */
static int
verify(void *arg, const uint8_t *token, size_t len, const uint8_t audience[32], uint64_t time_s,
       const uint8_t digest[32], const uint8_t pop_sig[64], uint64_t now_s,
       struct dir_provider_binding *out, const char **reason)
{
	(void)arg;
	(void)digest;
	(void)pop_sig;
	(void)time_s;
	(void)now_s;
	assert_memory_equal(audience, A.pk, 32); /* the pop context is our identity */
	if (len == 5 && memcmp(token, "later", 5) == 0) {
		*reason = "no feed yet";
		return UM_ERR_STATE;
	}
	if (len != 4 || memcmp(token, "good", 4) != 0) {
		*reason = "bad token";
		return UM_ERR_AUTH;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->issuer, ISS, 32);
	snprintf(out->subject, sizeof(out->subject), "op1");
	out->key_epoch = 1;
	out->expires_s = TOKEN_EXP;
	memcpy(out->pop_key, OP.pk, 32);
	*reason = "ok";
	return UM_OK;
}

static bool
check(void *arg, const struct dir_provider_binding *b, uint64_t now_s)
{
	(void)arg;
	(void)now_s;
	assert_string_equal(b->subject, "op1");
	return !revoked;
}

static struct dirserv *
make_ds(bool with_checks, bool require)
{
	struct dirserv_config cfg;
	struct dirserv *ds = NULL;
	char why[256] = "";
	static uint8_t ids[1][32];

	memcpy(ids[0], A.pk, 32);
	dirserv_config_defaults(&cfg);
	cfg.db_path = STORE_PATH_MEMORY;
	cfg.keyring = &KR;
	cfg.signing = &S;
	cfg.n_authorities = 1;
	cfg.authorities = (const uint8_t(*)[32])ids;
	cfg.stable_min_age_s = 0;
	if (with_checks) {
		cfg.require_provider = require;
		cfg.provider_verify = verify;
		cfg.provider_check = check;
	}
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_OK);
	return ds;
}

static size_t
upsert(uint8_t *out, const char *token, const uint8_t *desc, size_t dlen)
{
	struct dir_provider_upsert u;
	struct wire_wr w;

	memset(&u, 0, sizeof(u));
	u.version = DIR_PROVIDER_VERSION;
	u.token = (const uint8_t *)token;
	u.token_len = strlen(token);
	u.time_s = NOW;
	u.desc = desc;
	u.desc_len = dlen;
	wire_wr_init(&w, out, DIR_PROVIDER_MAX_LEN);
	assert_int_equal(dir_provider_upsert_encode(&u, &w), UM_OK);
	return w.len;
}

static int
status(struct dirserv *ds, const char *path, const uint8_t *body, size_t len, uint64_t now)
{
	struct ev_http_resp resp;
	int st;

	memset(&resp, 0, sizeof(resp));
	dirserv_handle(ds, "POST", path, NULL, body, len, "10.0.0.1", now, &resp);
	st = resp.status;
	free(resp.body);
	free(resp.etag);
	return st;
}

static size_t
voted(struct dirserv *ds, uint64_t va)
{
	struct vote v;
	size_t n;

	assert_int_equal(dirserv_build_vote(ds, va, va + 3600, va + 3 * 3600, &v), UM_OK);
	n = v.n_relays;
	vote_clear(&v);
	return n;
}

static void
test_provider_upsert(void **state)
{
	uint8_t desc[RELAY_DESC_MAX_LEN], plain[RELAY_DESC_MAX_LEN], body[DIR_PROVIDER_MAX_LEN];
	struct dir_provider_binding b;
	struct dirserv *ds;
	size_t dlen, plen, blen;

	(void)state;
	/* No checks configured: the route does not exist, plain uploads work as before. */
	ds = make_ds(false, false);
	dlen = make_desc(desc, sizeof(desc), PUB, &OP);
	blen = upsert(body, "good", desc, dlen);
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen, NOW), 404);
	assert_int_equal(status(ds, "/v1/desc", desc, dlen, NOW), 200);
	dirserv_free(ds);

	ds = make_ds(true, true);
	plen = make_desc(plain, sizeof(plain), PUB, NULL);
	assert_int_equal(status(ds, "/v1/desc", plain, plen, NOW), 403);
	assert_int_equal(voted(ds, NOW), 0);
	/* malformed framing, refused token, token not judged yet */
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen - 1, NOW), 400);
	blen = upsert(body, "evil", desc, dlen);
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen, NOW), 403);
	blen = upsert(body, "later", desc, dlen);
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen, NOW), 503);
	/* a good token for a descriptor certified by someone else, or by nobody */
	dlen = make_desc(desc, sizeof(desc), PUB, &OTHER);
	blen = upsert(body, "good", desc, dlen);
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen, NOW), 403);
	blen = upsert(body, "good", plain, plen);
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen, NOW), 403);
	assert_int_equal(dirserv_provider_get(ds, R.pk, &b), UM_ERR_NOT_FOUND);
	/* the good one binds and is voted on */
	dlen = make_desc(desc, sizeof(desc), PUB, &OP);
	blen = upsert(body, "good", desc, dlen);
	assert_int_equal(status(ds, "/v1/provider/relay/upsert", body, blen, NOW), 200);
	assert_int_equal(dirserv_provider_get(ds, R.pk, &b), UM_OK);
	assert_string_equal(b.subject, "op1");
	assert_int_equal(b.expires_s, TOKEN_EXP);
	assert_true(dirserv_provider_bound(ds, R.pk, NOW));
	assert_int_equal(voted(ds, NOW), 1);
	/* bound now: a later plain upload passes */
	plen = make_desc(plain, sizeof(plain), PUB + 10, &OP);
	assert_int_equal(status(ds, "/v1/desc", plain, plen, NOW), 200);
	/* revoked: out of the vote, and plain uploads refused again */
	revoked = true;
	assert_int_equal(voted(ds, NOW), 0);
	plen = make_desc(plain, sizeof(plain), PUB + 20, &OP);
	assert_int_equal(status(ds, "/v1/desc", plain, plen, NOW), 403);
	revoked = false;
	assert_int_equal(voted(ds, NOW), 1);
	/* the token expired before valid_after: out */
	assert_int_equal(voted(ds, TOKEN_EXP), 0);
	dirserv_free(ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_upsert),
	};
	uint8_t s[32];
	struct auth_cert c;

	if (um_crypto_init() != UM_OK)
		return 1;
	log_set_level(UM_LOG_ERR);
	seed_key(&A, 0xa0);
	seed_key(&S, 0xb0);
	seed_key(&R, 0x30);
	seed_key(&OP, 0x40);
	seed_key(&OTHER, 0x41);
	if (auth_cert_make(&c, &A, S.pk, NOW - 86400, CERT_EXP) != UM_OK ||
	    auth_keyring_init(&KR, &c) != UM_OK)
		return 1;
	memset(s, 0x02, sizeof(s));
	keys_x25519_from_secret(&LK, s);
	memset(s, 0x03, sizeof(s));
	keys_x25519_from_secret(&ONION, s);
	return cmocka_run_group_tests_name("dirserv_provider", tests, NULL, NULL);
}
