/* SPDX-License-Identifier: MIT */
/*
 * Provider bindings at the authority (dirserv.h "provider bindings", dir_provider.h,
 * PROTOCOL.md 18.4). Stored in schema "dir_provider":
 *
 *   dir_provider_bindings (identity BLOB PRIMARY KEY, issuer BLOB, subject TEXT,
 *                          key_epoch INTEGER, expires INTEGER, pop_key BLOB, updated INTEGER)
 *
 * one row per relay, replaced by each successful upsert (the newest binding wins, so an
 * operator moving a relay to another provider subject upserts it again).
 */
#include "directory/dirserv_st.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "crypto/hash.h"

static const struct store_migration provider_migs[] = {
	{ 1,
	  "CREATE TABLE dir_provider_bindings ("
	  " identity BLOB PRIMARY KEY CHECK (length(identity) = 32),"
	  " issuer BLOB NOT NULL CHECK (length(issuer) = 32),"
	  " subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 64),"
	  " key_epoch INTEGER NOT NULL,"
	  " expires INTEGER NOT NULL,"
	  " pop_key BLOB NOT NULL CHECK (length(pop_key) = 32),"
	  " updated INTEGER NOT NULL);",
	  NULL },
};

const struct store_schema dirserv_provider_schema = {
	"dir_provider", provider_migs, sizeof(provider_migs) / sizeof(provider_migs[0])
};

static int
binding_put(struct dirserv *ds, const uint8_t identity[32], const struct dir_provider_binding *b,
            uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(ds->st,
	                              "INSERT OR REPLACE INTO dir_provider_bindings (identity,"
	                              " issuer, subject, key_epoch, expires, pop_key, updated)"
	                              " VALUES (?, ?, ?, ?, ?, ?, ?)",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, identity, 32)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 2, b->issuer, 32)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 3, b->subject)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 4, (int64_t)b->key_epoch)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 5, (int64_t)b->expires_s)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 6, b->pop_key, 32)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 7, (int64_t)now_s)) == UM_OK) {
		ret = store_stmt_step(s);
		ret = ret == STORE_DONE ? UM_OK : ret < 0 ? ret : UM_ERR_DB;
	}
	store_stmt_free(s);
	return ret;
}

int
dirserv_provider_get(struct dirserv *ds, const uint8_t identity[RELAY_DESC_ID_LEN],
                     struct dir_provider_binding *out)
{
	struct store_stmt *s = NULL;
	const uint8_t *iss, *pop;
	const char *sub;
	size_t il = 0, pl = 0, sl = 0;
	int64_t ep = 0, exp = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT issuer, subject, key_epoch, expires, pop_key FROM"
	                              " dir_provider_bindings WHERE identity = ?",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, identity, 32)) == UM_OK) {
		ret = store_stmt_step(s);
		if (ret == STORE_DONE) {
			ret = UM_ERR_NOT_FOUND;
		} else if (ret == STORE_ROW) {
			if ((ret = store_stmt_column_blob(s, 0, &iss, &il)) == UM_OK &&
			    (ret = store_stmt_column_text(s, 1, &sub, &sl)) == UM_OK &&
			    (ret = store_stmt_column_int64(s, 2, &ep)) == UM_OK &&
			    (ret = store_stmt_column_int64(s, 3, &exp)) == UM_OK &&
			    (ret = store_stmt_column_blob(s, 4, &pop, &pl)) == UM_OK) {
				if (il != 32 || pl != 32 || sl == 0 ||
				    sl > DIR_PROVIDER_SUBJECT_MAX || ep < 0 || ep > UINT32_MAX ||
				    exp < 0) {
					ret = UM_ERR_MALFORMED;
				} else {
					memcpy(out->issuer, iss, 32);
					memcpy(out->subject, sub, sl + 1);
					out->key_epoch = (uint32_t)ep;
					out->expires_s = (uint64_t)exp;
					memcpy(out->pop_key, pop, 32);
				}
			}
		} else if (ret >= 0) {
			ret = UM_ERR_DB;
		}
	}
	store_stmt_free(s);
	return ret;
}

bool
dirserv_provider_bound(struct dirserv *ds, const uint8_t identity[RELAY_DESC_ID_LEN],
                       uint64_t now_s)
{
	struct dir_provider_binding b;

	if (ds->cfg.provider_check == NULL || dirserv_provider_get(ds, identity, &b) != UM_OK)
		return false;
	if (now_s >= b.expires_s)
		return false;
	return ds->cfg.provider_check(ds->cfg.provider_arg, &b, now_s);
}

static int
result(struct dirserv_accept_result *res, int err, int status, const char *reason)
{
	res->err = err;
	res->http_status = status;
	res->reason = reason;
	return err;
}

int
dirserv_provider_upsert(struct dirserv *ds, const uint8_t *body, size_t len, const char *source_key,
                        uint64_t now_s, struct dirserv_accept_result *res)
{
	struct dirserv_accept_result dummy;
	struct dir_provider_upsert u;
	struct dir_provider_binding b;
	struct relay_desc d;
	uint8_t digest[32];
	const char *source = source_key != NULL ? source_key : "", *reason = "refused";
	int ret;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (ds->cfg.provider_verify == NULL)
		return result(res, UM_ERR_NOT_FOUND, 404,
		              "this directory takes no provider upserts");
	if (len > DIR_PROVIDER_MAX_LEN)
		return result(res, UM_ERR_TOO_LARGE, 413, "too large");
	if (strlen(source) > DIRSERV_SOURCE_KEY_MAX)
		source = "(long)";
	/* The bucket before any signature check: a flood costs the flooder, not us. */
	if (!dirserv_bucket_take(ds, source, now_s))
		return result(res, UM_ERR_RATELIMIT, 429, "rate limited");
	if (body == NULL || dir_provider_upsert_parse(body, len, &u) != (ssize_t)len)
		return result(res, UM_ERR_MALFORMED, 400, "malformed upsert");
	if (u.desc_len > ds->cfg.max_desc_len)
		return result(res, UM_ERR_TOO_LARGE, 413, "descriptor too large");
	/* The descriptor must parse and verify before its operator is trusted. */
	switch (relay_desc_parse_verify(u.desc, u.desc_len, now_s, &d)) {
	case UM_OK:
		break;
	case UM_ERR_EXPIRED:
		return result(res, UM_ERR_EXPIRED, 400, "descriptor expired or not yet valid");
	case UM_ERR_AUTH:
		return result(res, UM_ERR_AUTH, 400, "descriptor: bad signature");
	default:
		return result(res, UM_ERR_MALFORMED, 400, "descriptor: malformed");
	}
	hash_blake2b(digest, sizeof(digest), u.desc, u.desc_len, NULL, 0);
	ret = ds->cfg.provider_verify(ds->cfg.provider_arg, u.token, u.token_len,
	                              ds->keyring.identity, u.time_s, digest, u.pop_sig, now_s, &b,
	                              &reason);
	if (ret == UM_ERR_STATE)
		return result(res, ret, 503, reason);
	if (ret != UM_OK)
		return result(res, UM_ERR_AUTH, 403, reason);
	/* Binding someone else's relay takes its operator's key: the descriptor's operator
	 * certificate (verified above) must be by the token's pop_key. */
	if (!d.has_operator_cert || memcmp(d.operator_id, b.pop_key, 32) != 0)
		return result(res, UM_ERR_AUTH, 403,
		              "the descriptor's operator certificate is not by the token's key");
	if ((ret = dirserv_accept_upload(ds, u.desc, u.desc_len, source, false, now_s, res)) !=
	    UM_OK)
		return ret;
	if ((ret = binding_put(ds, d.identity, &b, now_s)) != UM_OK) {
		log_warn(LD_DIR, "cannot store a provider binding: %s", store_errmsg(ds->st));
		return result(res, UM_ERR_DB, 500, "database error");
	}
	return UM_OK;
}

int
dirserv_add_issuer_revocations(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                               const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq)
{
	bool known = false;

	for (size_t i = 0; i < ds->n_issuers; i++)
		known = known || memcmp(ds->issuers[i], identity, DIR_ISSUER_ID_LEN) == 0;
	if (!known || ds->cfg.provider_feed == NULL)
		return UM_ERR_NOT_FOUND;
	return ds->cfg.provider_feed(ds->cfg.provider_arg, identity, doc, len, now_s, seq);
}
