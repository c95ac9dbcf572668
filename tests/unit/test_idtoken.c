/* SPDX-License-Identifier: MIT */
/*
 * Identified tokens at the exit (trust/idtoken.h, trust/token_verifier.h; docs/PROTOCOL.md
 * 17.5, 18.5): the framing round-trips, every strict prefix is TRUNCATED, a trailing byte
 * TRAILING, another first byte MALFORMED; the largest fits a TOKEN. The exit's verifier
 * accepts an access token with its proof bound to this exit (the circuit's tier is the
 * token's) and refuses: a revoked subject (REVOKED_SUBJECT), a key_epoch below
 * min_token_epoch (REFUSED_EPOCH), a proof made for another exit, a token for another
 * audience or role, an expired token, a bad proof, a mistimed proof and a token signed by
 * another issuer (INVALID), an untrusted issuer (UNKNOWN_ISSUER), and, failing closed, no
 * feed held yet, no audience set or a broken framing (UNAVAILABLE). Counters follow.
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
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "circuit/relay_msg.h"
#include "trust/captoken.h"
#include "trust/idtoken.h"
#include "trust/issuer_doc.h"
#include "trust/token_verifier.h"

enum { NOW = 1800000000 };

static struct keys_ed25519 iss, other, holder, exit_id, exit2_id;

/* A signed access token (or as changed by the caller's fields). */
static size_t
cap_token(const char *sub, const char *aud, const char *role, uint32_t epoch, uint64_t exp,
          const struct keys_ed25519 *signer, uint8_t out[CAPTOKEN_MAX_LEN])
{
	struct captoken t;
	struct wire_wr w;

	memset(&t, 0, sizeof(t));
	snprintf(t.sub, sizeof(t.sub), "%s", sub);
	snprintf(t.aud, sizeof(t.aud), "%s", aud);
	snprintf(t.role, sizeof(t.role), "%s", role);
	t.tier = 3;
	t.key_epoch = epoch;
	t.iat_s = NOW - 100;
	t.exp_s = exp;
	memset(t.jti, 0x5a, sizeof(t.jti));
	memcpy(t.pop_key, holder.pk, 32);
	assert_int_equal(captoken_sign(&t, signer), UM_OK);
	wire_wr_init(&w, out, CAPTOKEN_MAX_LEN);
	assert_int_equal(captoken_encode(&t, &w), UM_OK);
	return w.len;
}

/* The identified token bytes for cap, its proof by pop for audience at pop_time. */
static size_t
id_token(const uint8_t *cap, size_t cap_len, const struct keys_ed25519 *pop,
         const uint8_t audience[32], uint64_t pop_time, uint8_t out[IDTOKEN_MAX_LEN])
{
	uint8_t digest[CAPTOKEN_HASH_LEN], sig[CAPTOKEN_SIG_LEN];
	struct wire_wr w;

	idtoken_digest(cap, cap_len, digest);
	captoken_pop_sign(pop, cap, cap_len, audience, pop_time, digest, sig);
	wire_wr_init(&w, out, IDTOKEN_MAX_LEN);
	assert_int_equal(idtoken_encode(cap, cap_len, pop_time, sig, &w), UM_OK);
	return w.len;
}

/* A revocation feed of iss: min_token_epoch, listing subject (NULL: none). */
static size_t
feed(uint64_t seq, uint32_t min_epoch, const char *subject, uint8_t *out, size_t cap)
{
	struct issuer_revocations *r = calloc(1, sizeof(*r));
	struct wire_wr w;

	r->version = ISSUER_DOC_VERSION;
	r->seq = seq;
	r->published_s = NOW - 10;
	r->expires_s = NOW + 3600;
	r->min_token_epoch = min_epoch;
	if (subject != NULL) {
		r->n_subjects = 1;
		snprintf(r->subjects[0], sizeof(r->subjects[0]), "%s", subject);
	}
	assert_int_equal(issuer_revocations_sign(r, &iss), UM_OK);
	wire_wr_init(&w, out, cap);
	assert_int_equal(issuer_revocations_encode(r, &w), UM_OK);
	free(r);
	return w.len;
}

static void
test_idtoken_framing(void **state)
{
	uint8_t cap[CAPTOKEN_MAX_LEN], tok[IDTOKEN_MAX_LEN + 1];
	size_t cap_len, len;
	struct idtoken it;
	char sub[ISSUER_ID_MAX_LEN + 1];

	(void)state;
	cap_len = cap_token("alice@org", "exit", "access", 1, NOW + 3600, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(len, 1 + cap_len + 8 + 64);
	assert_true(idtoken_is_identified(tok, len));
	assert_int_equal(idtoken_parse(tok, len, &it), UM_OK);
	assert_int_equal(it.cap_len, cap_len);
	assert_memory_equal(it.cap, cap, cap_len);
	assert_int_equal(it.pop_time_s, NOW);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(idtoken_parse(tok, i, &it), UM_ERR_TRUNCATED);
	tok[len] = 0;
	assert_int_equal(idtoken_parse(tok, len + 1, &it), UM_ERR_TRAILING);
	tok[0] = 1; /* an anonymous token's version */
	assert_false(idtoken_is_identified(tok, len));
	assert_int_equal(idtoken_parse(tok, len, &it), UM_ERR_MALFORMED);
	tok[0] = IDTOKEN_KIND;
	tok[1] = 9; /* the captoken's version */
	assert_int_equal(idtoken_parse(tok, len, &it), UM_ERR_MALFORMED);
	/* encode refuses what is not one whole captoken */
	{
		struct wire_wr w;
		uint8_t sig[64] = { 0 };

		wire_wr_init(&w, tok, sizeof(tok));
		assert_int_equal(idtoken_encode(cap, cap_len - 1, NOW, sig, &w), UM_ERR_INVALID);
		assert_int_equal(w.len, 0);
	}
	/* the largest one (64-byte subject) still fits a TOKEN */
	memset(sub, 'a', 64);
	sub[64] = '\0';
	cap_len = cap_token(sub, "abcdefghijklmnopqrstuvwxyz012345", "provider", 1, NOW + 3600,
	                    &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_true(len <= IDTOKEN_MAX_LEN);
	assert_true((size_t)IDTOKEN_MAX_LEN <= (size_t)RELAY_TOKEN_MAX);
}

struct fix {
	struct store *st;
	struct token_verifier *tv;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char why[200];

	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &f->st, NULL, 0), UM_OK);
	assert_int_equal(token_verifier_new(f->st, &f->tv, why, sizeof(why)), UM_OK);
	assert_int_equal(token_verifier_add_issuer(f->tv, iss.pk), UM_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	token_verifier_free(f->tv);
	store_close(f->st);
	free(f);
	return 0;
}

static enum token_verdict
present(struct fix *f, const uint8_t *tok, size_t len, uint8_t *tier)
{
	uint8_t t = 0xee;
	enum token_verdict v = token_verifier_spend(f->tv, iss.pk, tok, len, NOW, &t);

	if (v != TOKEN_VERDICT_ACCEPTED)
		assert_int_equal(t, 0);
	if (tier != NULL)
		*tier = t;
	return v;
}

static void
test_exit_verdicts(void **state)
{
	struct fix *f = *state;
	uint8_t cap[CAPTOKEN_MAX_LEN], tok[IDTOKEN_MAX_LEN], doc[2048], tier = 0;
	struct token_verifier_stats s;
	size_t cap_len, len, dlen;

	cap_len = cap_token("alice", "exit", "access", 2, NOW + 3600, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW - 30, tok);
	/* Fail closed: no audience set, then no feed held. */
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_UNAVAILABLE);
	token_verifier_set_audience(f->tv, exit_id.pk);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_UNAVAILABLE);
	dlen = feed(1, 1, NULL, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(f->tv, iss.pk, doc, dlen, NOW), UM_OK);

	/* Accepted, with the token's tier; shown again on another circuit, accepted again. */
	assert_int_equal(present(f, tok, len, &tier), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(tier, 3);
	assert_int_equal(present(f, tok, len, &tier), TOKEN_VERDICT_ACCEPTED);

	/* Not an issuer this exit trusts. */
	assert_int_equal(token_verifier_spend(f->tv, other.pk, tok, len, NOW, &tier),
	                 TOKEN_VERDICT_UNKNOWN_ISSUER);
	/* The proof made for another exit (a replay there), a bad proof, a mistimed proof. */
	len = id_token(cap, cap_len, &holder, exit2_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	len = id_token(cap, cap_len, &other, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW - 301, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	/* A good proof over a token for directories, or of another role. */
	cap_len = cap_token("alice", "directory", "access", 2, NOW + 3600, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	cap_len = cap_token("alice", "exit", "provider", 2, NOW + 3600, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	/* Expired; signed by another issuer than the TOKEN names. */
	cap_len = cap_token("alice", "exit", "access", 2, NOW, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	cap_len = cap_token("alice", "exit", "access", 2, NOW + 3600, &other, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_INVALID);
	/* A broken framing: the exit's answer, not a crash. */
	cap_len = cap_token("alice", "exit", "access", 2, NOW + 3600, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len - 1, NULL), TOKEN_VERDICT_UNAVAILABLE);

	/* The feed lists alice: her token is refused; bob's is still accepted. */
	dlen = feed(2, 1, "alice", doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(f->tv, iss.pk, doc, dlen, NOW), UM_OK);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_REVOKED_SUBJECT);
	cap_len = cap_token("bob", "exit", "access", 2, NOW + 3600, &iss, cap);
	len = id_token(cap, cap_len, &holder, exit_id.pk, NOW, tok);
	assert_int_equal(present(f, tok, len, &tier), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(tier, 3);

	/* Past the feed's expiry (NOW + 3600) it vouches for nobody: bob's fresh token is
	 * unavailable (6), not accepted, until a newer feed arrives. */
	{
		uint8_t cap2[CAPTOKEN_MAX_LEN], tok2[IDTOKEN_MAX_LEN], t2 = 0xee;
		size_t cap2_len = cap_token("bob", "exit", "access", 2, NOW + 7200, &iss, cap2);
		size_t len2 = id_token(cap2, cap2_len, &holder, exit_id.pk, NOW + 3601, tok2);

		assert_int_equal(token_verifier_spend(f->tv, iss.pk, tok2, len2, NOW + 3601, &t2),
		                 TOKEN_VERDICT_UNAVAILABLE);
		assert_int_equal(t2, 0);
	}

	/* min_token_epoch 3: bob's epoch-2 token is retired. */
	dlen = feed(3, 3, "alice", doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(f->tv, iss.pk, doc, dlen, NOW), UM_OK);
	assert_int_equal(present(f, tok, len, NULL), TOKEN_VERDICT_REFUSED_EPOCH);

	token_verifier_stats(f->tv, &s);
	assert_int_equal(s.accepted, 3);
	assert_int_equal(s.identified_accepted, 3);
	assert_int_equal(s.refused[TOKEN_VERDICT_REVOKED_SUBJECT], 1);
	assert_int_equal(s.refused[TOKEN_VERDICT_REFUSED_EPOCH], 1);
	assert_int_equal(s.refused[TOKEN_VERDICT_INVALID], 7);
	assert_int_equal(s.refused[TOKEN_VERDICT_UNAVAILABLE], 4);
	assert_int_equal(s.refused[TOKEN_VERDICT_UNKNOWN_ISSUER], 1);
	assert_string_equal(token_verdict_str(TOKEN_VERDICT_REVOKED_SUBJECT), "revoked-subject");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idtoken_framing),
		cmocka_unit_test_setup_teardown(test_exit_verdicts, setup, teardown),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	keys_ed25519_generate(&iss);
	keys_ed25519_generate(&other);
	keys_ed25519_generate(&holder);
	keys_ed25519_generate(&exit_id);
	keys_ed25519_generate(&exit2_id);
	return cmocka_run_group_tests_name("idtoken", tests, NULL, NULL);
}
