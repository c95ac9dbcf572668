/* SPDX-License-Identifier: MIT */
/*
 * The directory client's sans-I/O core (dirclient.h): which directories to ask and when,
 * what a response means (parse, verify against the pins and the threshold, the validity
 * window, newer than the current one, enough distinct sources), the cache in the store,
 * TOFU pinning, and the status with a sentence that says why nothing is usable.
 *
 * Not here: sockets and timers (dirclient_io.c). Time is wall-clock seconds passed in by the
 * caller, so tests run on a fake clock.
 */
#include "directory/dirclient.h"

#include <jansson.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "directory/consensus_diff.h"
#include "directory/dirserv.h"

static const char schema_v1[] =
        "CREATE TABLE dirclient_cache (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " body BLOB NOT NULL, digest BLOB NOT NULL, stored_s INTEGER NOT NULL);"
        "CREATE TABLE dirclient_pin (identity BLOB PRIMARY KEY NOT NULL"
        " CHECK (length(identity) = 32), origin TEXT NOT NULL, pinned_s INTEGER NOT NULL);"
        "CREATE TABLE dirclient_cert (signing_key BLOB PRIMARY KEY NOT NULL,"
        " identity BLOB NOT NULL, cert BLOB NOT NULL);"
        "CREATE TABLE dirclient_source (url TEXT PRIMARY KEY NOT NULL, etag TEXT NOT NULL,"
        " last_err INTEGER NOT NULL, last_http INTEGER NOT NULL, last_error TEXT NOT NULL,"
        " last_attempt_s INTEGER NOT NULL, last_success_s INTEGER NOT NULL);";

static const struct store_migration migs[] = { { 1, schema_v1, NULL } };
const struct store_schema dirclient_schema = { "dirclient", migs, UM_ARRAY_LEN(migs) };

enum { URL_FULL_LEN = DIRCLIENT_URL_MAX_LEN + 32, ID_SHORT_LEN = 17 };

struct source {
	char base[DIRCLIENT_URL_MAX_LEN];
	char url_cons[URL_FULL_LEN];
	char url_auth[URL_FULL_LEN];
	char url_diff[URL_FULL_LEN + 2 * DIR_DIGEST_LEN + 32];
	bool full_next;     /* fetch the whole document next time, not a diff */
	unsigned n_not_yet; /* 404s while we hold no consensus (bootstrap retries) */
	unsigned n_thin;    /* answers while our consensus was too thin for a path */
	bool in_flight;
	enum dirclient_fetch_kind in_flight_kind;
	char sent_etag[DIRCLIENT_ETAG_MAX_LEN];
	uint64_t next_fetch_s;
	unsigned n_failures;
	bool unreachable; /* the last attempt failed at the transport level */
	int last_err, last_http;
	uint64_t last_attempt_s, last_success_s;
	char etag[DIRCLIENT_ETAG_MAX_LEN];
	char error[DIRCLIENT_ERROR_LEN];
	struct dirclient_authorities *auths; /* TOFU: what it published; owned */
};

/* A verified consensus newer than the current one, waiting for min_sources sources. */
struct cand {
	struct consensus *c; /* NULL: slot free */
	uint8_t *body;
	size_t len;
	struct consensus_verify_result res;
	uint32_t srcs; /* bit i: source i served it */
};

struct dirclient {
	struct store *st;
	enum dirclient_pin_mode mode;
	size_t cfg_threshold, min_sources;
	dirclient_rand_fn *rand;
	void *rand_arg;
	bool pinned;
	struct pinned_authorities pins; /* .certs points to certs */
	struct auth_cert certs[DIRCLIENT_MAX_CERTS];
	size_t n_certs;
	size_t n_src;
	struct source src[DIRCLIENT_MAX_SOURCES];
	struct consensus *cur;
	uint8_t *cur_body;
	size_t cur_len;
	struct consensus_verify_result cur_res;
	bool cur_from_cache;
	char cache_note[DIRCLIENT_ERROR_LEN]; /* why the cache was not used at start */
	struct cand cands[DIRCLIENT_MAX_SOURCES];
	char untrusted[DIRCLIENT_MESSAGE_LEN / 2]; /* last "signed by keys we do not trust" */
};

/* ---- small helpers ---- */

/* Copy the string src into dst (size dst_len >= 1), cut to fit. */
static void
copy_str(char *dst, size_t dst_len, const char *src)
{
	size_t n = strnlen(src, dst_len - 1);

	memmove(dst, src, n);
	dst[n] = '\0';
}

static size_t append(char *buf, size_t len, size_t off, const char *fmt, ...) UM_PRINTF(4, 5);

static size_t
append(char *buf, size_t len, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= len)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
	return n < 0 ? off : UM_MIN(len, off + (size_t)n);
}

static void
fmt_time(uint64_t s, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)s;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%llu", (unsigned long long)s);
}

static void
id_short(const uint8_t id[AUTHCERT_ID_LEN], char out[ID_SHORT_LEN])
{
	if (enc_hex(out, ID_SHORT_LEN, id, 8) != UM_OK)
		out[0] = '\0';
}

static void
etag_of(const uint8_t digest[DIR_DIGEST_LEN], char out[DIRCLIENT_ETAG_MAX_LEN])
{
	char hex[HEX_LEN(DIR_DIGEST_LEN)];

	if (enc_hex(hex, sizeof(hex), digest, DIR_DIGEST_LEN) != UM_OK)
		hex[0] = '\0';
	snprintf(out, DIRCLIENT_ETAG_MAX_LEN, "\"%s\"", hex);
}

/* The digest an ETag names ("<hex>" with or without quotes), or UM_ERR_MALFORMED. */
static int
etag_digest(const char *etag, uint8_t digest[DIR_DIGEST_LEN])
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
		etag++;
		n -= 2;
	}
	if (n != 2 * DIR_DIGEST_LEN || dec_hex(digest, DIR_DIGEST_LEN, etag, n) != DIR_DIGEST_LEN)
		return UM_ERR_MALFORMED;
	return UM_OK;
}

static uint32_t
jitter(struct dirclient *dc, uint64_t upper)
{
	if (upper == 0)
		return 0;
	if (upper > UINT32_MAX)
		upper = UINT32_MAX;
	return dc->rand != NULL ? dc->rand(dc->rand_arg, (uint32_t)upper)
	                        : rand_uniform((uint32_t)upper);
}

static size_t
threshold_for(const struct dirclient *dc, size_t n_pins)
{
	return dc->cfg_threshold != 0 ? dc->cfg_threshold : n_pins / 2 + 1;
}

static void
cand_clear(struct cand *k)
{
	if (k->c != NULL)
		consensus_clear(k->c);
	free(k->c);
	free(k->body);
	memset(k, 0, sizeof(*k));
}

static size_t
popcount32(uint32_t v)
{
	size_t n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

/* ---- verification with a readable reason ---- */

static void
explain_auth(const struct dirclient *dc, const struct consensus *c,
             const struct pinned_authorities *pins, const struct consensus_verify_result *res,
             char *msg, size_t len, bool *untrusted)
{
	char id[ID_SHORT_LEN];
	size_t off = 0;

	(void)dc;
	/* "Untrusted" only when no pinned authority signed at all: a pinned signature that
	 * fails (a tampered document) is reported per pin below, as "bad signature". */
	*untrusted = res->n_signed == 0 && res->n_unpinned_sigs > 0;
	for (size_t p = 0; p < res->n_pins && *untrusted; p++)
		*untrusted = res->auth[p].status == CONS_AUTH_NO_SIG;
	if (*untrusted) {
		off += (size_t)snprintf(msg, len,
		                        "consensus signed by authorities we do not trust:");
		for (size_t i = 0; i < c->n_sigs && off < len; i++) {
			bool pinned = false;

			for (size_t p = 0; p < pins->n; p++)
				pinned |= memcmp(pins->ids[p], c->sigs[i].identity, 32) == 0;
			if (pinned || (i > 0 && memcmp(c->sigs[i - 1].identity, c->sigs[i].identity,
			                               32) == 0))
				continue;
			id_short(c->sigs[i].identity, id);
			off += (size_t)snprintf(msg + off, len - off, " %s", id);
		}
		for (size_t p = 0; p < pins->n && off < len; p++) {
			id_short(pins->ids[p], id);
			off += (size_t)snprintf(msg + off, len - off, "%s%s",
			                        p == 0 ? " (we pin " : ", ", id);
		}
		if (off < len)
			snprintf(msg + off, len - off, ")");
		return;
	}
	off += (size_t)snprintf(msg, len, "too few valid signatures: %zu of %zu needed (",
	                        res->n_signed, res->threshold);
	for (size_t p = 0; p < res->n_pins && off < len; p++) {
		id_short(res->auth[p].identity, id);
		off += (size_t)snprintf(msg + off, len - off, "%s%s: %s", p == 0 ? "" : ", ", id,
		                        cons_auth_status_str(res->auth[p].status));
	}
	if (off < len)
		snprintf(msg + off, len - off, ")");
}

/*
 * Parse and verify body at now_s under pins. On UM_OK *out is a new consensus (caller frees
 * with consensus_clear() and free()). On failure msg says why and *untrusted tells the
 * "signed by keys we do not pin" case apart.
 */
static int
verify_doc(const struct dirclient *dc, const uint8_t *body, size_t len, uint64_t now_s,
           const struct pinned_authorities *pins, struct consensus **out,
           struct consensus_verify_result *res, char *msg, size_t msg_len, bool *untrusted)
{
	int ret = UM_ERR_INTERNAL;
	struct consensus *c = um_xcalloc(1, sizeof(*c));
	char t[40];
	ssize_t n;

	*out = NULL;
	*untrusted = false;
	memset(res, 0, sizeof(*res));
	consensus_init(c);
	if (len > CONS_MAX_LEN) {
		snprintf(msg, msg_len, "consensus too large (%zu bytes)", len);
		ret = UM_ERR_TOO_LARGE;
		goto fail;
	}
	n = consensus_parse(body, len, c);
	if (n < 0 || (size_t)n != len) {
		snprintf(msg, msg_len, "malformed consensus (%s)",
		         n < 0 ? um_err_str((int)n) : "trailing bytes");
		if (n >= 0)
			consensus_clear(c);
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	ret = consensus_verify(c, c->digest, pins, threshold_for(dc, pins->n), now_s, res);
	if (ret == UM_OK) {
		*out = c;
		return UM_OK;
	}
	if (ret == UM_ERR_EXPIRED && res->time == CONS_TIME_NOT_YET) {
		fmt_time(c->valid_after_s, t, sizeof(t));
		snprintf(msg, msg_len, "consensus not yet valid: valid after %s (future-dated)", t);
	} else if (ret == UM_ERR_EXPIRED) {
		fmt_time(c->valid_until_s, t, sizeof(t));
		snprintf(msg, msg_len, "consensus expired at %s", t);
	} else if (ret == UM_ERR_AUTH) {
		explain_auth(dc, c, pins, res, msg, msg_len, untrusted);
	} else {
		snprintf(msg, msg_len, "cannot verify: %s (threshold %zu, %zu pins)",
		         um_err_str(ret), threshold_for(dc, pins->n), pins->n);
	}
	consensus_clear(c);
fail:
	free(c);
	return ret;
}

/* ---- store ---- */

static int
load_pins(struct dirclient *dc)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t len;
	int ret;

	if ((ret = store_stmt_prepare(
	             dc->st, "SELECT identity FROM dirclient_pin ORDER BY identity", &s)) != UM_OK)
		return ret;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &p, &len)) != UM_OK)
			goto out;
		if (len != AUTHCERT_ID_LEN || dc->pins.n >= CONS_MAX_AUTHORITIES) {
			ret = UM_ERR_DB;
			goto out;
		}
		memcpy(dc->pins.ids[dc->pins.n++], p, len);
	}
out:
	store_stmt_free(s);
	return ret < 0 ? ret : UM_OK;
}

static int
load_certs(struct dirclient *dc)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t len;
	int ret;

	if ((ret = store_stmt_prepare(
	             dc->st, "SELECT cert FROM dirclient_cert ORDER BY signing_key", &s)) != UM_OK)
		return ret;
	while ((ret = store_stmt_step(s)) == STORE_ROW && dc->n_certs < DIRCLIENT_MAX_CERTS) {
		if ((ret = store_stmt_column_blob(s, 0, &p, &len)) != UM_OK)
			goto out;
		if (auth_cert_parse(p, len, &dc->certs[dc->n_certs]) == (ssize_t)AUTHCERT_LEN &&
		    len == AUTHCERT_LEN)
			dc->n_certs++;
	}
out:
	store_stmt_free(s);
	return ret < 0 ? ret : UM_OK;
}

static int
load_source(struct dirclient *dc, struct source *src)
{
	struct store_stmt *s = NULL;
	const char *txt;
	int64_t v;
	int ret;

	if ((ret = store_stmt_prepare(
	             dc->st,
	             "SELECT etag, last_err, last_http, last_error, last_attempt_s,"
	             " last_success_s FROM dirclient_source WHERE url = ?",
	             &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, src->base)) != UM_OK)
		goto out;
	if ((ret = store_stmt_step(s)) != STORE_ROW)
		goto out;
	if ((ret = store_stmt_column_text(s, 0, &txt, NULL)) != UM_OK)
		goto out;
	copy_str(src->etag, sizeof(src->etag), txt);
	if ((ret = store_stmt_column_int64(s, 1, &v)) != UM_OK)
		goto out;
	src->last_err = (int)v;
	if ((ret = store_stmt_column_int64(s, 2, &v)) != UM_OK)
		goto out;
	src->last_http = (int)v;
	if ((ret = store_stmt_column_text(s, 3, &txt, NULL)) != UM_OK)
		goto out;
	copy_str(src->error, sizeof(src->error), txt);
	if ((ret = store_stmt_column_int64(s, 4, &v)) != UM_OK)
		goto out;
	src->last_attempt_s = (uint64_t)v;
	if ((ret = store_stmt_column_int64(s, 5, &v)) != UM_OK)
		goto out;
	src->last_success_s = (uint64_t)v;
out:
	store_stmt_free(s);
	return ret < 0 ? ret : UM_OK;
}

static void
save_source(struct dirclient *dc, const struct source *src)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(
	             dc->st,
	             "INSERT OR REPLACE INTO dirclient_source (url, etag, last_err,"
	             " last_http, last_error, last_attempt_s, last_success_s)"
	             " VALUES (?, ?, ?, ?, ?, ?, ?)",
	             &s)) != UM_OK)
		goto out;
	if ((ret = store_stmt_bind_text(s, 1, src->base)) != UM_OK ||
	    (ret = store_stmt_bind_text(s, 2, src->etag)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 3, src->last_err)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 4, src->last_http)) != UM_OK ||
	    (ret = store_stmt_bind_text(s, 5, src->error)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 6, (int64_t)src->last_attempt_s)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 7, (int64_t)src->last_success_s)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
out:
	store_stmt_free(s);
	if (ret < 0)
		log_warn(LD_DIR, "cannot save directory source state: %s (%s)", um_err_str(ret),
		         store_errmsg(dc->st));
}

static int
save_cache(struct dirclient *dc, uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(dc->st,
	                              "INSERT OR REPLACE INTO dirclient_cache (id, body, digest,"
	                              " stored_s) VALUES (1, ?, ?, ?)",
	                              &s)) != UM_OK)
		goto out;
	if ((ret = store_stmt_bind_blob(s, 1, dc->cur_body, dc->cur_len)) != UM_OK ||
	    (ret = store_stmt_bind_blob(s, 2, dc->cur->digest, DIR_DIGEST_LEN)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 3, (int64_t)now_s)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
out:
	store_stmt_free(s);
	return ret < 0 ? ret : UM_OK;
}

static int
load_cache(struct dirclient *dc, uint8_t **body, size_t *len)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	int ret;

	*body = NULL;
	*len = 0;
	if ((ret = store_stmt_prepare(dc->st, "SELECT body FROM dirclient_cache WHERE id = 1",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_step(s)) != STORE_ROW) {
		ret = ret < 0 ? ret : UM_ERR_NOT_FOUND;
		goto out;
	}
	if ((ret = store_stmt_column_blob(s, 0, &p, len)) != UM_OK)
		goto out;
	*body = um_xmalloc(*len > 0 ? *len : 1);
	memcpy(*body, p, *len);
out:
	store_stmt_free(s);
	return ret < 0 ? ret : UM_OK;
}

struct pins_tx {
	const struct dirclient_authorities *a;
	const char *origin;
	uint64_t now_s;
	size_t n_new;
};

static int
pins_tx_fn(struct store *st, void *arg)
{
	struct pins_tx *t = arg;
	struct store_stmt *s = NULL;
	uint8_t buf[AUTHCERT_LEN];
	struct wire_wr w;
	int ret;

	if ((ret = store_stmt_prepare(st,
	                              "INSERT OR IGNORE INTO dirclient_pin (identity, origin,"
	                              " pinned_s) VALUES (?, ?, ?)",
	                              &s)) != UM_OK)
		return ret;
	for (size_t i = 0; i < t->a->n; i++) {
		store_stmt_reset(s);
		if ((ret = store_stmt_bind_blob(s, 1, t->a->ids[i], AUTHCERT_ID_LEN)) != UM_OK ||
		    (ret = store_stmt_bind_text(s, 2, t->origin)) != UM_OK ||
		    (ret = store_stmt_bind_int64(s, 3, (int64_t)t->now_s)) != UM_OK ||
		    (ret = store_stmt_step(s)) < 0)
			goto out;
		t->n_new += store_changes(st) > 0;
	}
	store_stmt_free(s);
	if ((ret = store_stmt_prepare(
	             st,
	             "INSERT OR REPLACE INTO dirclient_cert (signing_key, identity,"
	             " cert) VALUES (?, ?, ?)",
	             &s)) != UM_OK)
		return ret;
	for (size_t i = 0; i < t->a->n_certs; i++) {
		w = (struct wire_wr){ buf, sizeof(buf), 0 };
		store_stmt_reset(s);
		if ((ret = auth_cert_encode(&t->a->certs[i], &w)) != UM_OK ||
		    (ret = store_stmt_bind_blob(s, 1, t->a->certs[i].signing_key, 32)) != UM_OK ||
		    (ret = store_stmt_bind_blob(s, 2, t->a->certs[i].identity, 32)) != UM_OK ||
		    (ret = store_stmt_bind_blob(s, 3, buf, w.len)) != UM_OK ||
		    (ret = store_stmt_step(s)) < 0)
			goto out;
	}
	ret = UM_OK;
out:
	store_stmt_free(s);
	return ret < 0 ? ret : UM_OK;
}

int
dirclient_pins_save(struct store *st, const struct dirclient_authorities *a, const char *origin,
                    uint64_t now_s, size_t *n_new)
{
	struct pins_tx t = { a, origin, now_s, 0 };
	int ret;

	*n_new = 0;
	if (a->n == 0 || a->n > CONS_MAX_AUTHORITIES)
		return UM_ERR_INVALID;
	if ((ret = store_migrate(st, &dirclient_schema)) != UM_OK)
		return ret;
	if ((ret = store_tx(st, pins_tx_fn, &t)) != UM_OK)
		return ret;
	*n_new = t.n_new;
	return UM_OK;
}

/* ---- /v1/authorities ---- */

static int
hex_field(json_t *j, void *out, size_t len)
{
	const char *s = json_string_value(j);

	if (s == NULL || strlen(s) != 2 * len || dec_hex(out, len, s, 2 * len) != (ssize_t)len)
		return UM_ERR_MALFORMED;
	return UM_OK;
}

/* A node or authority id: 52 base32 characters for 32 bytes (the project's text form). */
static int
b32_field(json_t *j, void *out, size_t len)
{
	const char *s = json_string_value(j);

	if (s == NULL || dec_base32(out, len, s, strlen(s)) != (ssize_t)len)
		return UM_ERR_MALFORMED;
	return UM_OK;
}

int
dirclient_authorities_parse(const uint8_t *body, size_t len, struct dirclient_authorities *out)
{
	int ret = UM_ERR_MALFORMED;
	struct dirclient_authorities *a = um_xcalloc(1, sizeof(*a));
	json_error_t jerr;
	json_t *root, *arr, *e, *certs, *ce;
	size_t i, k;
	uint8_t buf[AUTHCERT_LEN];

	root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root))
		goto out;
	arr = json_object_get(root, "authorities");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		goto out;
	if (json_array_size(arr) > CONS_MAX_AUTHORITIES) {
		ret = UM_ERR_TOO_LARGE;
		goto out;
	}
	json_array_foreach(arr, i, e)
	{
		if (!json_is_object(e) || b32_field(json_object_get(e, "identity"), a->ids[a->n],
		                                    AUTHCERT_ID_LEN) != UM_OK)
			goto out;
		for (size_t j = 0; j < a->n; j++)
			if (memcmp(a->ids[j], a->ids[a->n], AUTHCERT_ID_LEN) == 0)
				goto out;
		certs = json_object_get(e, "certs");
		if (certs != NULL) {
			if (!json_is_array(certs))
				goto out;
			if (json_array_size(certs) > AUTH_KEYRING_MAX) {
				ret = UM_ERR_TOO_LARGE;
				goto out;
			}
			json_array_foreach(certs, k, ce)
			{
				struct auth_cert *c = &a->certs[a->n_certs];

				if (!json_is_object(ce) ||
				    hex_field(json_object_get(ce, "cert"), buf, sizeof(buf)) !=
				            UM_OK ||
				    auth_cert_parse(buf, sizeof(buf), c) != (ssize_t)AUTHCERT_LEN ||
				    memcmp(c->identity, a->ids[a->n], AUTHCERT_ID_LEN) != 0)
					goto out;
				a->n_certs++;
			}
		}
		a->n++;
	}
	*out = *a;
	ret = UM_OK;
out:
	json_decref(root);
	free(a);
	return ret;
}

/* ---- lifecycle ---- */

static void
merge_certs(struct dirclient *dc, const struct dirclient_authorities *a)
{
	for (size_t i = 0; i < a->n_certs; i++) {
		bool have = false;

		for (size_t j = 0; j < dc->n_certs && !have; j++)
			have = memcmp(dc->certs[j].signing_key, a->certs[i].signing_key, 32) == 0 &&
			       memcmp(dc->certs[j].identity, a->certs[i].identity, 32) == 0;
		if (!have && dc->n_certs < DIRCLIENT_MAX_CERTS)
			dc->certs[dc->n_certs++] = a->certs[i];
	}
}

static void
use_cache(struct dirclient *dc, uint64_t now_s)
{
	struct consensus_verify_result res;
	struct consensus *c = NULL;
	uint8_t *body = NULL;
	size_t len = 0;
	char msg[DIRCLIENT_ERROR_LEN];
	char t[40];
	bool untrusted;
	int ret;

	if ((ret = load_cache(dc, &body, &len)) != UM_OK) {
		snprintf(dc->cache_note, sizeof(dc->cache_note), "%s",
		         ret == UM_ERR_NOT_FOUND ? "no cached consensus"
		                                 : "cached consensus unreadable");
		return;
	}
	ret = verify_doc(dc, body, len, now_s, &dc->pins, &c, &res, msg, sizeof(msg), &untrusted);
	if (ret == UM_OK) {
		dc->cur = c;
		dc->cur_body = body;
		dc->cur_len = len;
		dc->cur_res = res;
		dc->cur_from_cache = true;
		return;
	}
	if (ret == UM_ERR_EXPIRED && res.time == CONS_TIME_EXPIRED) {
		struct consensus p;

		consensus_init(&p);
		if (consensus_parse(body, len, &p) > 0) {
			fmt_time(p.valid_until_s, t, sizeof(t));
			snprintf(dc->cache_note, sizeof(dc->cache_note), "cached one expired at %s",
			         t);
			consensus_clear(&p);
		}
	} else {
		append(dc->cache_note, sizeof(dc->cache_note), 0, "cached one rejected: %s", msg);
	}
	free(body);
}

int
dirclient_new(const struct dirclient_config *cfg, uint64_t now_s, struct dirclient **out, char *why,
              size_t why_len)
{
	int ret = UM_ERR_CONFIG;
	struct dirclient *dc = um_xcalloc(1, sizeof(*dc));
	char tmp[1];

	*out = NULL;
	if (why == NULL) {
		why = tmp;
		why_len = sizeof(tmp);
	}
	why[0] = '\0';
	dc->st = cfg->store;
	dc->mode = cfg->pin_mode;
	dc->cfg_threshold = cfg->threshold;
	dc->min_sources = cfg->min_sources > 0 ? cfg->min_sources : 1;
	dc->rand = cfg->rand;
	dc->rand_arg = cfg->rand_arg;
	dc->pins.certs = dc->certs;
	if (cfg->store == NULL || cfg->n_urls == 0 || cfg->n_urls > DIRCLIENT_MAX_SOURCES) {
		snprintf(why, why_len, "need a store and 1..%d directory URLs (got %zu)",
		         DIRCLIENT_MAX_SOURCES, cfg->n_urls);
		goto out;
	}
	if (dc->min_sources > cfg->n_urls) {
		snprintf(why, why_len, "minimum sources %zu is more than the %zu directories",
		         dc->min_sources, cfg->n_urls);
		goto out;
	}
	dc->n_src = cfg->n_urls;
	for (size_t i = 0; i < cfg->n_urls; i++) {
		struct source *s = &dc->src[i];
		size_t n = strlen(cfg->urls[i]);

		while (n > 0 && cfg->urls[i][n - 1] == '/')
			n--;
		if (strncmp(cfg->urls[i], "http://", 7) != 0 || n <= 7 || n >= sizeof(s->base)) {
			snprintf(why, why_len, "directory URL %zu is not http://ip:port", i + 1);
			goto out;
		}
		memcpy(s->base, cfg->urls[i], n);
		memcpy(s->url_cons, s->base, n);
		memcpy(s->url_cons + n, "/v1/consensus", sizeof("/v1/consensus"));
		memcpy(s->url_auth, s->base, n);
		memcpy(s->url_auth + n, "/v1/authorities", sizeof("/v1/authorities"));
		for (size_t j = 0; j < i; j++)
			if (strcmp(dc->src[j].base, s->base) == 0) {
				snprintf(why, why_len, "directory URL %s is listed twice", s->base);
				goto out;
			}
	}
	if ((ret = store_migrate(dc->st, &dirclient_schema)) != UM_OK) {
		snprintf(why, why_len, "directory client store: %s", store_errmsg(dc->st));
		goto out;
	}
	if (cfg->n_pins > CONS_MAX_AUTHORITIES) {
		ret = UM_ERR_CONFIG;
		snprintf(why, why_len, "too many pinned authorities (%zu, at most %d)", cfg->n_pins,
		         CONS_MAX_AUTHORITIES);
		goto out;
	}
	if (cfg->n_pins > 0) {
		dc->pins.n = cfg->n_pins;
		memcpy(dc->pins.ids, cfg->pins, cfg->n_pins * AUTHCERT_ID_LEN);
	} else if ((ret = load_pins(dc)) != UM_OK) {
		snprintf(why, why_len, "cannot read pins: %s", store_errmsg(dc->st));
		goto out;
	}
	for (size_t i = 0; i < dc->pins.n; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(dc->pins.ids[i], dc->pins.ids[j], AUTHCERT_ID_LEN) == 0) {
				ret = UM_ERR_CONFIG;
				snprintf(why, why_len, "authority pinned twice");
				goto out;
			}
	dc->pinned = dc->pins.n > 0;
	if (!dc->pinned && dc->mode == DIRCLIENT_PIN_STRICT) {
		ret = UM_ERR_CONFIG;
		snprintf(why, why_len,
		         "no pinned directory authorities: configure trusted keys, run `umbra dir "
		         "pin "
		         "URL`, or use TOFU");
		goto out;
	}
	if (dc->pinned && threshold_for(dc, dc->pins.n) > dc->pins.n) {
		ret = UM_ERR_CONFIG;
		snprintf(why, why_len,
		         "signature threshold %zu is more than the %zu pinned authorities",
		         dc->cfg_threshold, dc->pins.n);
		goto out;
	}
	if ((ret = load_certs(dc)) != UM_OK) {
		snprintf(why, why_len, "cannot read cached certificates: %s", store_errmsg(dc->st));
		goto out;
	}
	dc->pins.n_certs = dc->n_certs;
	for (size_t i = 0; i < dc->n_src; i++)
		if ((ret = load_source(dc, &dc->src[i])) != UM_OK) {
			snprintf(why, why_len, "cannot read source state: %s",
			         store_errmsg(dc->st));
			goto out;
		}
	if (dc->pinned)
		use_cache(dc, now_s);
	else
		snprintf(dc->cache_note, sizeof(dc->cache_note),
		         "no authorities pinned yet (TOFU)");
	*out = dc;
	return UM_OK;
out:
	dirclient_free(dc);
	return ret;
}

void
dirclient_free_(struct dirclient *dc)
{
	if (dc == NULL)
		return;
	for (size_t i = 0; i < DIRCLIENT_MAX_SOURCES; i++) {
		free(dc->src[i].auths);
		cand_clear(&dc->cands[i]);
	}
	if (dc->cur != NULL)
		consensus_clear(dc->cur);
	free(dc->cur);
	free(dc->cur_body);
	free(dc);
}

/* ---- scheduling ---- */

size_t
dirclient_due(struct dirclient *dc, uint64_t now_s, struct dirclient_fetch *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < dc->n_src && n < max; i++) {
		struct source *s = &dc->src[i];
		struct dirclient_fetch *f = &out[n];

		if (s->in_flight || s->next_fetch_s > now_s)
			continue;
		memset(f, 0, sizeof(*f));
		f->src = i;
		f->kind = !dc->pinned && s->auths == NULL ? DIRCLIENT_FETCH_AUTHORITIES
		                                          : DIRCLIENT_FETCH_CONSENSUS;
		s->sent_etag[0] = '\0';
		if (f->kind == DIRCLIENT_FETCH_CONSENSUS) {
			f->url = s->url_cons;
			if (dc->cur != NULL) {
				char hex[HEX_LEN(DIR_DIGEST_LEN)];

				etag_of(dc->cur->digest, s->sent_etag);
				/* Holding a consensus: ask for a diff from it (docs/PROTOCOL.md
				 * 5.7); the answer may still be 304 or the whole document. */
				if (!s->full_next && enc_hex(hex, sizeof(hex), dc->cur->digest,
				                             DIR_DIGEST_LEN) == UM_OK) {
					static const char route[] = "/v1/consensus/diff/";
					size_t bl = strlen(s->base);

					/* base < DIRCLIENT_URL_MAX_LEN: it fits */
					memcpy(s->url_diff, s->base, bl);
					memcpy(s->url_diff + bl, route, sizeof(route) - 1);
					memcpy(s->url_diff + bl + sizeof(route) - 1, hex,
					       sizeof(hex));
					f->url = s->url_diff;
				}
				s->full_next = false;
			} else {
				copy_str(s->sent_etag, sizeof(s->sent_etag), s->etag);
			}
			f->if_none_match = s->sent_etag[0] != '\0' ? s->sent_etag : NULL;
		} else {
			f->url = s->url_auth;
		}
		s->in_flight = true;
		s->in_flight_kind = f->kind;
		s->last_attempt_s = now_s;
		n++;
	}
	return n;
}

uint64_t
dirclient_next_wakeup_s(const struct dirclient *dc)
{
	uint64_t t = UINT64_MAX;

	for (size_t i = 0; i < dc->n_src; i++)
		if (!dc->src[i].in_flight && dc->src[i].next_fetch_s < t)
			t = dc->src[i].next_fetch_s;
	return t;
}

/* Too thin to build a path from: fewer than DIRCLIENT_THIN_RELAYS Running relays (a network
 * whose authorities have not tested its relays yet). */
static bool
consensus_is_thin(const struct consensus *c)
{
	size_t running = 0;

	for (size_t i = 0; i < c->n_relays; i++)
		running += (c->relays[i].flags & RELAY_FLAG_RUNNING) != 0;
	return running < DIRCLIENT_THIN_RELAYS;
}

/* The source answered usefully: ask again after fresh_until (spread), or soon if stale. */
static void
schedule_ok(struct dirclient *dc, struct source *s, uint64_t now_s)
{
	const struct consensus *c = dc->cur;

	s->n_failures = 0;
	s->n_not_yet = 0;
	s->unreachable = false;
	s->last_err = UM_OK;
	s->error[0] = '\0';
	s->last_success_s = now_s;
	if (c != NULL && s->n_thin < DIRCLIENT_THIN_TRIES && consensus_is_thin(c)) {
		/* A network starting up: its first consensus lists too few usable relays for a
		 * path (the authorities had not tested the others yet). The next one, due at a
		 * period boundary, is what the client waits for: ask every second (a 304 costs
		 * little) rather than at fresh_until plus jitter, for a bounded number of answers.
		 */
		s->n_thin++;
		s->next_fetch_s = now_s + 1;
	} else if (c != NULL && now_s < c->fresh_until_s) {
		uint64_t span = (c->valid_until_s - c->fresh_until_s) / 2;

		s->next_fetch_s =
		        c->fresh_until_s +
		        jitter(dc, UM_MIN(span, (uint64_t)DIRCLIENT_FRESH_JITTER_MAX_S) + 1);
	} else {
		/* Past fresh_until and nothing newer yet: ask again within REFETCH_S, or within
		 * half a period when periods are shorter (a testnet's 10 s periods would
		 * otherwise let the consensus expire between two asks). */
		uint64_t r = DIRCLIENT_REFETCH_S;

		if (c != NULL && c->fresh_until_s > c->valid_after_s &&
		    (c->fresh_until_s - c->valid_after_s) / 2 < r)
			r = UM_MAX((c->fresh_until_s - c->valid_after_s) / 2, (uint64_t)2);
		s->next_fetch_s = now_s + r / 2 + jitter(dc, r / 2 + 1);
	}
}

/*
 * A network starting up: while we hold no consensus, a source that cannot serve one yet is
 * asked again in a second rather than backed off, for DIRCLIENT_BOOTSTRAP_TRIES answers.
 * Returns false (nothing changed) once that no longer applies. why (NULL: keep s->error)
 * is the source's error text.
 */
static bool
bootstrap_retry(struct dirclient *dc, struct source *s, uint64_t now_s, int err, const char *why)
{
	if (dc->cur != NULL || s->n_not_yet >= DIRCLIENT_BOOTSTRAP_TRIES)
		return false;
	if (why != NULL)
		snprintf(s->error, sizeof(s->error), "%s", why);
	s->n_not_yet++;
	s->last_err = err;
	s->next_fetch_s = now_s + 1;
	save_source(dc, s);
	return true;
}

/* The source failed: exponential backoff with jitter in [b/2, b]. */
static void
schedule_fail(struct dirclient *dc, struct source *s, uint64_t now_s, int err)
{
	uint64_t b = DIRCLIENT_BACKOFF_MIN_S;

	for (unsigned i = 0; i < s->n_failures && b < DIRCLIENT_BACKOFF_MAX_S; i++)
		b *= 2;
	b = UM_MIN(b, (uint64_t)DIRCLIENT_BACKOFF_MAX_S);
	s->n_failures++;
	s->last_err = err;
	s->next_fetch_s = now_s + b / 2 + jitter(dc, b / 2 + 1);
}

/* ---- responses ---- */

static void
accept_cand(struct dirclient *dc, struct cand *k, uint64_t now_s)
{
	int ret;

	if (dc->cur != NULL)
		consensus_clear(dc->cur);
	free(dc->cur);
	free(dc->cur_body);
	dc->cur = k->c;
	dc->cur_body = k->body;
	dc->cur_len = k->len;
	dc->cur_res = k->res;
	dc->cur_from_cache = false;
	dc->untrusted[0] = '\0';
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < DIRCLIENT_MAX_SOURCES; i++)
		if (dc->cands[i].c != NULL &&
		    dc->cands[i].c->valid_after_s <= dc->cur->valid_after_s)
			cand_clear(&dc->cands[i]);
	if ((ret = save_cache(dc, now_s)) != UM_OK)
		log_warn(LD_DIR, "cannot cache the consensus: %s (%s)", um_err_str(ret),
		         store_errmsg(dc->st));
	log_notice(LD_DIR, "accepted a consensus with %zu relays (%zu of %zu signatures)",
	           dc->cur->n_relays, dc->cur_res.n_signed, dc->cur_res.n_pins);
}

/* Source srcno serves the candidate k: accept it once enough distinct sources do. */
static bool
cand_vote(struct dirclient *dc, struct cand *k, size_t srcno, uint64_t now_s)
{
	k->srcs |= 1u << srcno;
	if (popcount32(k->srcs) < dc->min_sources || now_s >= k->c->valid_until_s)
		return false;
	accept_cand(dc, k, now_s);
	return true;
}

static struct cand *
cand_find(struct dirclient *dc, const uint8_t digest[DIR_DIGEST_LEN])
{
	for (size_t i = 0; i < DIRCLIENT_MAX_SOURCES; i++)
		if (dc->cands[i].c != NULL && memcmp(dc->cands[i].c->digest, digest, 32) == 0)
			return &dc->cands[i];
	return NULL;
}

/* A free slot, or the one with the oldest valid_after (dropped). */
static struct cand *
cand_slot(struct dirclient *dc)
{
	struct cand *old = &dc->cands[0];

	for (size_t i = 0; i < DIRCLIENT_MAX_SOURCES; i++) {
		if (dc->cands[i].c == NULL)
			return &dc->cands[i];
		if (dc->cands[i].c->valid_after_s < old->c->valid_after_s)
			old = &dc->cands[i];
	}
	cand_clear(old);
	return old;
}

static void
tofu_pin(struct dirclient *dc, struct source *s, uint64_t now_s)
{
	size_t n_new = 0;
	int ret;

	dc->pins.n = s->auths->n;
	memcpy(dc->pins.ids, s->auths->ids, sizeof(dc->pins.ids));
	merge_certs(dc, s->auths);
	dc->pins.n_certs = dc->n_certs;
	dc->pinned = true;
	if ((ret = dirclient_pins_save(dc->st, s->auths, s->base, now_s, &n_new)) != UM_OK)
		log_warn(LD_DIR, "cannot save the pinned authorities: %s (%s)", um_err_str(ret),
		         store_errmsg(dc->st));
	log_notice(LD_DIR, "TOFU: pinned %zu directory authorities from %s", dc->pins.n, s->base);
}

static int
handle_body(struct dirclient *dc, size_t srcno, uint64_t now_s, const uint8_t *body, size_t len,
            bool *accepted)
{
	struct source *s = &dc->src[srcno];
	struct pinned_authorities learned;
	const struct pinned_authorities *pins = &dc->pins;
	struct consensus_verify_result res;
	struct consensus *c = NULL;
	struct cand *k;
	bool untrusted = false;
	int ret;

	if (!dc->pinned) {
		if (s->auths == NULL)
			return UM_ERR_STATE;
		memset(&learned, 0, sizeof(learned));
		learned.n = s->auths->n;
		memcpy(learned.ids, s->auths->ids, sizeof(learned.ids));
		learned.certs = s->auths->certs;
		learned.n_certs = s->auths->n_certs;
		pins = &learned;
	}
	ret = verify_doc(dc, body, len, now_s, pins, &c, &res, s->error, sizeof(s->error),
	                 &untrusted);
	if (ret != UM_OK) {
		if (untrusted)
			append(dc->untrusted, sizeof(dc->untrusted),
			       append(dc->untrusted, sizeof(dc->untrusted), 0, "%s", s->error),
			       " (from %s)", s->base);
		return ret;
	}
	etag_of(c->digest, s->etag);
	if (!dc->pinned)
		tofu_pin(dc, s, now_s);
	if (dc->cur != NULL && c->valid_after_s <= dc->cur->valid_after_s) {
		/* Ours or older: the source is consistent or behind; nothing to accept. */
		consensus_clear(c);
		free(c);
		return UM_OK;
	}
	k = cand_find(dc, c->digest);
	if (k == NULL) {
		k = cand_slot(dc);
		k->c = c;
		k->body = um_xmalloc(len);
		memcpy(k->body, body, len);
		k->len = len;
		k->res = res;
	} else {
		consensus_clear(c);
		free(c);
	}
	*accepted = cand_vote(dc, k, srcno, now_s);
	return UM_OK;
}

static int
handle_304(struct dirclient *dc, size_t srcno, uint64_t now_s, const char *etag, bool *accepted)
{
	struct source *s = &dc->src[srcno];
	uint8_t sent[DIR_DIGEST_LEN], got[DIR_DIGEST_LEN];
	struct cand *k;

	if (s->sent_etag[0] == '\0' || etag_digest(s->sent_etag, sent) != UM_OK) {
		snprintf(s->error, sizeof(s->error), "304 Not Modified without If-None-Match");
		return UM_ERR_PROTOCOL;
	}
	if (etag != NULL && (etag_digest(etag, got) != UM_OK || memcmp(got, sent, 32) != 0)) {
		snprintf(s->error, sizeof(s->error), "304 Not Modified with another ETag");
		return UM_ERR_PROTOCOL;
	}
	copy_str(s->etag, sizeof(s->etag), s->sent_etag);
	if ((k = cand_find(dc, sent)) != NULL)
		*accepted = cand_vote(dc, k, srcno, now_s);
	return UM_OK;
}

/*
 * A diff from the consensus we asked with: rebuild the new document from our copy and
 * handle it as a whole one (verified the same way). A diff from a base we no longer hold
 * (another source gave us a newer one meanwhile) is not the source's fault: fetch the
 * whole document next, now.
 */
static int
handle_diff(struct dirclient *dc, size_t srcno, uint64_t now_s, const uint8_t *diff, size_t len,
            bool *accepted)
{
	struct source *s = &dc->src[srcno];
	uint8_t from[DIR_DIGEST_LEN], to[DIR_DIGEST_LEN];
	struct consensus c;
	uint8_t *bytes;
	size_t n;
	int ret;

	if ((ret = consensus_diff_peek(diff, len, from, to)) != UM_OK) {
		snprintf(s->error, sizeof(s->error), "consensus diff: %s", um_err_str(ret));
		return UM_ERR_MALFORMED;
	}
	if (dc->cur == NULL || memcmp(from, dc->cur->digest, DIR_DIGEST_LEN) != 0) {
		if (dc->cur != NULL && memcmp(to, dc->cur->digest, DIR_DIGEST_LEN) == 0)
			return handle_304(dc, srcno, now_s, NULL, accepted);
		s->full_next = true;
		return UM_OK;
	}
	if ((ret = consensus_diff_apply(dc->cur, diff, len, &c, &bytes, &n)) != UM_OK) {
		snprintf(s->error, sizeof(s->error), "consensus diff does not apply: %s",
		         um_err_str(ret));
		s->full_next = true;
		return ret;
	}
	consensus_clear(&c);
	log_info(LD_DIR, "directory %s: consensus diff of %zu bytes for a %zu-byte document",
	         s->base, len, n);
	ret = handle_body(dc, srcno, now_s, bytes, n, accepted);
	free(bytes);
	return ret;
}

int
dirclient_handle(struct dirclient *dc, size_t srcno, enum dirclient_fetch_kind kind, uint64_t now_s,
                 const struct dirclient_response *r, bool *accepted)
{
	struct source *s;
	int ret = UM_ERR_INTERNAL;

	*accepted = false;
	if (srcno >= dc->n_src || !dc->src[srcno].in_flight ||
	    dc->src[srcno].in_flight_kind != kind)
		return UM_ERR_STATE;
	s = &dc->src[srcno];
	s->in_flight = false;
	s->error[0] = '\0';
	s->last_http = r->err == UM_OK ? r->status : 0;
	if (r->err != UM_OK) {
		s->unreachable = true;
		if (r->err == UM_ERR_SYS && r->sys_errno != 0)
			copy_str(s->error, sizeof(s->error), strerror(r->sys_errno));
		else
			copy_str(s->error, sizeof(s->error), um_err_str(r->err));
		ret = r->err;
		/* Refused while we hold no consensus: most often a directory starting beside us
		 * (a network coming up). Ask again in a second, for the bootstrap tries, before
		 * backing off. */
		if (r->err == UM_ERR_SYS && r->sys_errno == ECONNREFUSED &&
		    bootstrap_retry(dc, s, now_s, ret, NULL)) {
			log_info(LD_DIR, "directory %s: %s", s->base, s->error);
			return ret;
		}
		goto fail;
	}
	s->unreachable = false;
	if (kind == DIRCLIENT_FETCH_AUTHORITIES) {
		struct dirclient_authorities *a = um_xcalloc(1, sizeof(*a));

		if (r->status != 200) {
			snprintf(s->error, sizeof(s->error), "/v1/authorities: HTTP %d", r->status);
			ret = UM_ERR_PROTOCOL;
		} else if ((ret = dirclient_authorities_parse(r->body, r->body_len, a)) != UM_OK) {
			snprintf(s->error, sizeof(s->error), "/v1/authorities: %s",
			         um_err_str(ret));
		}
		if (ret != UM_OK) {
			free(a);
			goto fail;
		}
		free(s->auths);
		s->auths = a;
		s->n_failures = 0;
		s->next_fetch_s = now_s; /* the consensus right away */
		save_source(dc, s);
		return UM_OK;
	}
	if (r->status == 304)
		ret = handle_304(dc, srcno, now_s, r->etag, accepted);
	else if (r->status == 200 && r->content_type != NULL &&
	         strcmp(r->content_type, DIRSERV_CDIFF_CONTENT_TYPE) == 0)
		ret = handle_diff(dc, srcno, now_s, r->body, r->body_len, accepted);
	else if (r->status == 200)
		ret = handle_body(dc, srcno, now_s, r->body, r->body_len, accepted);
	else if (r->status == 404 &&
	         bootstrap_retry(dc, s, now_s, UM_ERR_NOT_FOUND, "no consensus yet"))
		/* A live directory without a consensus yet (a network starting up). */
		return UM_ERR_NOT_FOUND;
	else {
		snprintf(s->error, sizeof(s->error), "HTTP %d", r->status);
		ret = UM_ERR_PROTOCOL;
	}
	if (ret != UM_OK)
		goto fail;
	schedule_ok(dc, s, now_s);
	save_source(dc, s);
	return UM_OK;
fail:
	schedule_fail(dc, s, now_s, ret);
	save_source(dc, s);
	log_info(LD_DIR, "directory %s: %s", s->base, s->error);
	return ret;
}

const struct consensus *
dirclient_consensus(const struct dirclient *dc, uint64_t now_s, const uint8_t **body, size_t *len)
{
	if (body != NULL)
		*body = NULL;
	if (len != NULL)
		*len = 0;
	if (dc->cur == NULL || now_s >= dc->cur->valid_until_s)
		return NULL;
	if (body != NULL)
		*body = dc->cur_body;
	if (len != NULL)
		*len = dc->cur_len;
	return dc->cur;
}

/* ---- status ---- */

static void
status_message(const struct dirclient *dc, uint64_t now_s, char *m, size_t len)
{
	char t[40];
	size_t off = 0;
	bool any = false;

	(void)now_s;
	if (dc->untrusted[0] != '\0')
		off = append(m, len, off, "%s; ", dc->untrusted);
	off = append(m, len, off, "no valid consensus: ");
	if (dc->cur != NULL) {
		fmt_time(dc->cur->valid_until_s, t, sizeof(t));
		off = append(m, len, off, "cached one expired at %s", t);
	} else {
		off = append(m, len, off, "%s",
		             dc->cache_note[0] != '\0' ? dc->cache_note : "none yet");
	}
	for (size_t i = 0; i < dc->n_src; i++) {
		const struct source *s = &dc->src[i];

		if (!s->unreachable)
			continue;
		off = append(m, len, off, "%s%s (%s)",
		             any ? ", " : "; directories unreachable: ", s->base, s->error);
		any = true;
	}
	for (size_t i = 0; i < dc->n_src; i++) {
		const struct source *s = &dc->src[i];

		if (!s->unreachable && s->error[0] != '\0')
			off = append(m, len, off, "; %s: %s", s->base, s->error);
		else if (s->last_attempt_s == 0)
			off = append(m, len, off, "; %s: not contacted yet", s->base);
	}
}

void
dirclient_status(const struct dirclient *dc, uint64_t now_s, struct dirclient_status *st)
{
	const struct consensus *c = dirclient_consensus(dc, now_s, NULL, NULL);

	memset(st, 0, sizeof(*st));
	st->pin_mode = dc->mode;
	st->pinned = dc->pinned;
	st->n_pins = dc->pins.n;
	st->threshold = dc->pinned ? threshold_for(dc, dc->pins.n) : dc->cfg_threshold;
	if (dc->cur != NULL) {
		st->valid_after_s = dc->cur->valid_after_s;
		st->fresh_until_s = dc->cur->fresh_until_s;
		st->valid_until_s = dc->cur->valid_until_s;
		st->age_s = now_s > dc->cur->valid_after_s ? now_s - dc->cur->valid_after_s : 0;
		memcpy(st->digest, dc->cur->digest, DIR_DIGEST_LEN);
		st->n_relays = dc->cur->n_relays;
		st->from_cache = dc->cur_from_cache;
		for (size_t i = 0; i < dc->cur_res.n_pins && i < CONS_MAX_AUTHORITIES; i++) {
			memcpy(st->sigs[i].identity, dc->cur_res.auth[i].identity, AUTHCERT_ID_LEN);
			st->sigs[i].status = dc->cur_res.auth[i].status;
		}
	}
	st->valid = c != NULL;
	st->n_sources = dc->n_src;
	for (size_t i = 0; i < dc->n_src; i++) {
		const struct source *s = &dc->src[i];
		struct dirclient_source_status *o = &st->sources[i];

		copy_str(o->url, sizeof(o->url), s->base);
		o->last_err = s->last_err;
		o->last_http = s->last_http;
		o->last_attempt_s = s->last_attempt_s;
		o->last_success_s = s->last_success_s;
		o->next_fetch_s = s->next_fetch_s;
		copy_str(o->etag, sizeof(o->etag), s->etag);
		copy_str(o->error, sizeof(o->error), s->error);
	}
	if (!st->valid)
		status_message(dc, now_s, st->message, sizeof(st->message));
}
