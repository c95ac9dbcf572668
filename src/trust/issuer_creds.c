/* SPDX-License-Identifier: MIT */
/* Subject credentials for identified token issuance (issuer_creds.h). */
#include "trust/issuer_creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "lib/encoding.h"
#include "trust/issuer.h"
#include "trust/issuer_st.h"

static const char LABEL[] = "umbra-issue-v1";

static const struct store_migration creds_migs[] = {
	{ 1,
	  "CREATE TABLE issuer_credentials ("
	  " subject TEXT PRIMARY KEY,"
	  " pubkey BLOB NOT NULL CHECK (length(pubkey) = 32),"
	  " set_at INTEGER NOT NULL);",
	  NULL },
	{ 2,
	  "CREATE TABLE issuer_quota ("
	  " subject TEXT NOT NULL,"
	  " day INTEGER NOT NULL,"
	  " used INTEGER NOT NULL CHECK (used >= 0),"
	  " PRIMARY KEY (subject, day)) WITHOUT ROWID;",
	  NULL },
};

static const struct store_schema creds_schema = { "issuer_creds", creds_migs,
	                                          sizeof(creds_migs) / sizeof(creds_migs[0]) };

struct issuer_creds {
	struct store *st;
	struct issuer *audit; /* NULL: no audit rows */
};

void
issuer_creds_set_audit(struct issuer_creds *c, struct issuer *is)
{
	c->audit = is;
}

int
issuer_creds_open(struct store *st, struct issuer_creds **out, char *why, size_t why_len)
{
	int ret;

	*out = NULL;
	if ((ret = store_migrate(st, &creds_schema)) != UM_OK) {
		snprintf(why, why_len, "cannot open the subject credentials: %s", store_errmsg(st));
		return ret;
	}
	*out = um_xcalloc(1, sizeof(**out));
	(*out)->st = st;
	return UM_OK;
}

void
issuer_creds_free_(struct issuer_creds *c)
{
	free(c);
}

int
issuer_creds_set(struct issuer_creds *c, const char *subject, const uint8_t pk[32], uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if (!issuer_id_is_valid(subject))
		return UM_ERR_INVALID;
	if ((ret = store_stmt_prepare(c->st,
	                              "INSERT OR REPLACE INTO issuer_credentials (subject, pubkey,"
	                              " set_at) VALUES (?, ?, ?)",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_begin(c->st)) != UM_OK) {
		store_stmt_free(s);
		return ret;
	}
	if ((ret = store_stmt_bind_text(s, 1, subject)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 2, pk, 32)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, (int64_t)now_s)) == UM_OK) {
		ret = store_stmt_step(s);
		ret = ret == STORE_DONE ? UM_OK : ret < 0 ? ret : UM_ERR_STATE;
	}
	store_stmt_free(s);
	if (ret == UM_OK && c->audit != NULL) {
		char key[64], detail[96];

		if (enc_base32(key, sizeof(key), pk, 32) < 0)
			ret = UM_ERR_INTERNAL;
		snprintf(detail, sizeof(detail), "{\"key\":\"%s\"}", ret == UM_OK ? key : "");
		if (ret == UM_OK)
			ret = issuer_db_audit_append(c->audit, now_s, "admin", "credential.set",
			                             subject, detail);
	}
	return store_end(c->st, ret);
}

int
issuer_creds_quota_take(struct issuer_creds *c, const char *subject, uint64_t now_s, uint32_t n,
                        uint32_t quota, uint64_t *used)
{
	struct store_stmt *s = NULL;
	int64_t day = (int64_t)(now_s / 86400), have = 0;
	int ret;

	*used = 0;
	if (!issuer_id_is_valid(subject) || now_s > INT64_MAX)
		return UM_ERR_INVALID;
	if ((ret = store_begin(c->st)) != UM_OK)
		return ret;
	/* Yesterday's row stays (a request near midnight), older ones go. */
	ret = store_stmt_prepare(c->st, "DELETE FROM issuer_quota WHERE day < ?", &s);
	if (ret == UM_OK && (ret = store_stmt_bind_int64(s, 1, day - 1)) == UM_OK)
		ret = store_stmt_step(s) == STORE_DONE ? UM_OK : UM_ERR_DB;
	store_stmt_free(s);
	if (ret == UM_OK)
		ret = store_stmt_prepare(
		        c->st, "SELECT used FROM issuer_quota WHERE subject = ? AND day = ?", &s);
	if (ret == UM_OK && (ret = store_stmt_bind_text(s, 1, subject)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, day)) == UM_OK) {
		ret = store_stmt_step(s);
		if (ret == STORE_ROW)
			ret = store_stmt_column_int64(s, 0, &have);
		else
			ret = ret == STORE_DONE ? UM_OK : UM_ERR_DB;
	}
	store_stmt_free(s);
	if (ret == UM_OK && have >= 0 && quota > 0 && (uint64_t)have + n > quota) {
		*used = (uint64_t)have;
		ret = UM_ERR_RATELIMIT;
	}
	if (ret == UM_OK)
		ret = store_stmt_prepare(
		        c->st,
		        "INSERT INTO issuer_quota (subject, day, used) VALUES (?, ?, ?)"
		        " ON CONFLICT (subject, day) DO UPDATE SET used = used + ?",
		        &s);
	if (ret == UM_OK && (ret = store_stmt_bind_text(s, 1, subject)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, day)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, n)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 4, n)) == UM_OK) {
		ret = store_stmt_step(s) == STORE_DONE ? UM_OK : UM_ERR_DB;
		*used = (uint64_t)have + n;
	}
	store_stmt_free(s);
	return store_end(c->st, ret);
}

int
issuer_creds_get(struct issuer_creds *c, const char *subject, uint8_t pk[32])
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n = 0;
	int ret;

	if (!issuer_id_is_valid(subject))
		return UM_ERR_NOT_FOUND;
	if ((ret = store_stmt_prepare(c->st,
	                              "SELECT pubkey FROM issuer_credentials WHERE subject = ?",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) == UM_OK) {
		ret = store_stmt_step(s);
		if (ret == STORE_DONE)
			ret = UM_ERR_NOT_FOUND;
		else if (ret == STORE_ROW &&
		         (ret = store_stmt_column_blob(s, 0, &p, &n)) == UM_OK && n == 32)
			memcpy(pk, p, 32);
		else if (ret == UM_OK)
			ret = UM_ERR_DB;
	}
	store_stmt_free(s);
	return ret;
}

size_t
issuer_creds_msg(uint8_t msg[ISSUER_CREDS_MSG_MAX], const char *subject, uint8_t tier,
                 uint64_t time_s, const uint8_t blinded_hash[ISSUER_CREDS_HASH_LEN])
{
	size_t sl = strnlen(subject, 64), o = 0;

	memcpy(msg, LABEL, sizeof(LABEL)); /* with its NUL: the 0x00 separator */
	o += sizeof(LABEL);
	memcpy(msg + o, subject, sl);
	o += sl;
	msg[o++] = 0;
	msg[o++] = tier;
	wire_store_u64(msg + o, time_s);
	o += 8;
	memcpy(msg + o, blinded_hash, ISSUER_CREDS_HASH_LEN);
	return o + ISSUER_CREDS_HASH_LEN;
}

void
issuer_creds_sign(const struct keys_ed25519 *key, const char *subject, uint8_t tier,
                  uint64_t time_s, const uint8_t blinded_hash[ISSUER_CREDS_HASH_LEN],
                  uint8_t sig[ISSUER_CREDS_SIG_LEN])
{
	uint8_t msg[ISSUER_CREDS_MSG_MAX];
	size_t len = issuer_creds_msg(msg, subject, tier, time_s, blinded_hash);

	sign_ed25519(key, msg, len, sig);
}

int
issuer_creds_verify(struct issuer_creds *c, const char *subject, uint8_t tier, uint64_t time_s,
                    const uint8_t blinded_hash[ISSUER_CREDS_HASH_LEN],
                    const uint8_t sig[ISSUER_CREDS_SIG_LEN], uint64_t now_s)
{
	uint8_t pk[32], msg[ISSUER_CREDS_MSG_MAX];
	size_t len;
	int ret;

	if ((ret = issuer_creds_get(c, subject, pk)) != UM_OK)
		return ret;
	if (time_s + ISSUER_CREDS_SKEW_S < now_s || time_s > now_s + ISSUER_CREDS_SKEW_S)
		return UM_ERR_EXPIRED;
	len = issuer_creds_msg(msg, subject, tier, time_s, blinded_hash);
	return sign_ed25519_verify(pk, msg, len, sig) == UM_OK ? UM_OK : UM_ERR_AUTH;
}
