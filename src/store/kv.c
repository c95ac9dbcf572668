/* SPDX-License-Identifier: MIT */
/*
 * The key/value table kv(ns, key, value), created by the store's own schema (migrate.c), for
 * subsystems that keep a few values and need no table of their own: the cached consensus,
 * pinned keys, wallet counters. The get/put/del statements are prepared on first use and kept
 * until store_close(). Every path leaves them reset, so none holds a read transaction open.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "store/store_st.h"

enum { KV_INT64_LEN = 8 };

static int
check_args(struct store *st, const char *ns, const void *key, size_t key_len)
{
	size_t ns_len;

	if (ns == NULL || (ns_len = strnlen(ns, STORE_KV_NS_MAX_LEN + 1)) == 0 ||
	    ns_len > STORE_KV_NS_MAX_LEN) {
		store_set_errmsg(st, "kv namespace missing or over %d bytes", STORE_KV_NS_MAX_LEN);
		return UM_ERR_INVALID;
	}
	if (key_len > STORE_KV_KEY_MAX_LEN || (key == NULL && key_len != 0)) {
		store_set_errmsg(st, "kv key of %zu bytes refused (at most %d)", key_len,
		                 STORE_KV_KEY_MAX_LEN);
		return UM_ERR_INVALID;
	}
	return UM_OK;
}

/* Prepare *slot on first use, then bind ns and key as ?1 and ?2. */
static int
kv_stmt(struct store *st, struct store_stmt **slot, const char *sql, const char *ns,
        const void *key, size_t key_len)
{
	int ret;

	if (*slot == NULL && (ret = store_stmt_prepare_internal(st, sql, slot)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(*slot, 1, ns)) != UM_OK ||
	    (ret = store_stmt_bind_blob(*slot, 2, key, key_len)) != UM_OK) {
		store_stmt_reset(*slot);
		return ret;
	}
	return UM_OK;
}

int
store_kv_put(struct store *st, const char *ns, const void *key, size_t key_len, const void *value,
             size_t value_len)
{
	int ret;

	if ((ret = check_args(st, ns, key, key_len)) != UM_OK)
		return ret;
	if ((ret = kv_stmt(st, &st->kv_put,
	                   "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)"
	                   " ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
	                   ns, key, key_len)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(st->kv_put, 3, value, value_len)) == UM_OK)
		ret = store_stmt_step(st->kv_put);
	store_stmt_reset(st->kv_put);
	return ret == STORE_DONE ? UM_OK : ret < 0 ? ret : UM_ERR_INTERNAL;
}

int
store_kv_get(struct store *st, const char *ns, const void *key, size_t key_len, size_t max_len,
             uint8_t **value, size_t *value_len)
{
	const uint8_t *v;
	size_t n;
	int ret;

	*value = NULL;
	*value_len = 0;
	if ((ret = check_args(st, ns, key, key_len)) != UM_OK)
		return ret;
	if ((ret = kv_stmt(st, &st->kv_get, "SELECT value FROM kv WHERE ns = ?1 AND key = ?2", ns,
	                   key, key_len)) != UM_OK)
		return ret;
	ret = store_stmt_step(st->kv_get);
	if (ret == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
	} else if (ret == STORE_ROW &&
	           (ret = store_stmt_column_blob(st->kv_get, 0, &v, &n)) == UM_OK) {
		if (n > max_len) {
			store_set_errmsg(st, "kv value of %zu bytes is over the caller's %zu", n,
			                 max_len);
			ret = UM_ERR_TOO_LARGE;
		} else {
			*value = um_xmalloc(n > 0 ? n : 1);
			memcpy(*value, v, n);
			*value_len = n;
		}
	}
	store_stmt_reset(st->kv_get);
	return ret;
}

int
store_kv_del(struct store *st, const char *ns, const void *key, size_t key_len)
{
	int ret;

	if ((ret = check_args(st, ns, key, key_len)) != UM_OK)
		return ret;
	if ((ret = kv_stmt(st, &st->kv_del, "DELETE FROM kv WHERE ns = ?1 AND key = ?2", ns, key,
	                   key_len)) != UM_OK)
		return ret;
	ret = store_stmt_step(st->kv_del);
	store_stmt_reset(st->kv_del);
	if (ret != STORE_DONE)
		return ret < 0 ? ret : UM_ERR_INTERNAL;
	return store_changes(st) > 0 ? UM_OK : UM_ERR_NOT_FOUND;
}

int
store_kv_put_int64(struct store *st, const char *ns, const void *key, size_t key_len, int64_t v)
{
	uint8_t b[KV_INT64_LEN];
	uint64_t u = (uint64_t)v;

	for (size_t i = 0; i < KV_INT64_LEN; i++)
		b[i] = (uint8_t)(u >> (56 - 8 * i));
	return store_kv_put(st, ns, key, key_len, b, sizeof(b));
}

int
store_kv_get_int64(struct store *st, const char *ns, const void *key, size_t key_len, int64_t *v)
{
	uint8_t *b = NULL;
	size_t n = 0;
	uint64_t u = 0;
	int ret;

	*v = 0;
	ret = store_kv_get(st, ns, key, key_len, KV_INT64_LEN, &b, &n);
	if (ret == UM_ERR_TOO_LARGE || (ret == UM_OK && n != KV_INT64_LEN)) {
		store_set_errmsg(st, "kv value in '%s' is not an 8-byte integer", ns);
		ret = UM_ERR_MALFORMED;
	}
	if (ret == UM_OK) {
		for (size_t i = 0; i < KV_INT64_LEN; i++)
			u = u << 8 | b[i];
		/* Two's complement back to signed without implementation-defined conversion. */
		*v = u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
	}
	free(b);
	return ret;
}

int
store_kv_foreach(struct store *st, const char *ns, store_kv_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	const uint8_t *k;
	const uint8_t *v;
	size_t k_len;
	size_t v_len;
	int ret;

	if ((ret = check_args(st, ns, NULL, 0)) != UM_OK)
		return ret;
	/* A statement of its own: fn may call store_kv_get() while this one is mid-rows. */
	if ((ret = store_stmt_prepare_internal(
	             st, "SELECT key, value FROM kv WHERE ns = ?1 ORDER BY key", &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, ns)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &k, &k_len)) != UM_OK ||
		    (ret = store_stmt_column_blob(s, 1, &v, &v_len)) != UM_OK)
			goto out;
		if ((ret = fn(arg, k, k_len, v, v_len)) != UM_OK)
			goto out;
	}
out:
	store_stmt_free(s);
	return ret;
}
