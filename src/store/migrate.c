/* SPDX-License-Identifier: MIT */
/*
 * Schema migrations. Each component (the store itself, "directory", "issuer", ...) has a
 * version in schema_version(component, version) and a list of steps numbered 1..n. Opening runs
 * the pending steps in order, each in its own write transaction that re-reads the version
 * first, so two processes opening the same file never apply a step twice, and a failed step
 * leaves the database at the previous version. A database whose version is beyond the steps
 * this code has was written by a newer umbra and is refused (UM_ERR_STATE) rather than
 * misread. The store's own schema (the kv table) is the component "store".
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "store/store_st.h"

static const char own_name[] = "store";

static const struct store_migration own_migs[] = {
	{ 1,
	  "CREATE TABLE kv (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
	  " PRIMARY KEY (ns, key)) STRICT, WITHOUT ROWID;",
	  NULL },
};

static const struct store_schema own_schema = { own_name, own_migs, UM_ARRAY_LEN(own_migs) };

static int
validate(struct store *st, const struct store_schema *schema, bool own)
{
	size_t name_len;

	if (schema->name == NULL ||
	    (name_len = strnlen(schema->name, STORE_SCHEMA_NAME_MAX_LEN + 1)) == 0 ||
	    name_len > STORE_SCHEMA_NAME_MAX_LEN) {
		store_set_errmsg(st, "schema name missing or over %d bytes",
		                 STORE_SCHEMA_NAME_MAX_LEN);
		return UM_ERR_INVALID;
	}
	if (!own && strcmp(schema->name, own_name) == 0) {
		store_set_errmsg(st, "schema name '%s' is reserved", own_name);
		return UM_ERR_INVALID;
	}
	if (schema->n_migs > 0 && schema->migs == NULL) {
		store_set_errmsg(st, "schema '%s' has no steps array", schema->name);
		return UM_ERR_INVALID;
	}
	for (size_t i = 0; i < schema->n_migs; i++) {
		const struct store_migration *m = &schema->migs[i];

		if (m->version != i + 1) {
			store_set_errmsg(st, "schema '%s': step %zu has version %u, want %zu",
			                 schema->name, i, m->version, i + 1);
			return UM_ERR_INVALID;
		}
		if (m->sql == NULL && m->fn == NULL) {
			store_set_errmsg(st, "schema '%s': step %u has neither sql nor fn",
			                 schema->name, m->version);
			return UM_ERR_INVALID;
		}
	}
	return UM_OK;
}

/* The version of name (0 if absent) or a negative um_err. */
static int64_t
read_version(struct store *st, const char *name)
{
	struct store_stmt *s = NULL;
	int64_t v = 0;
	int ret;

	if ((ret = store_stmt_prepare_internal(
	             st, "SELECT version FROM schema_version WHERE component = ?1", &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, name)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_ROW) {
		if ((ret = store_stmt_column_int64(s, 0, &v)) == UM_OK && v < 0) {
			store_set_errmsg(st, "schema '%s' has a negative version", name);
			ret = UM_ERR_DB;
		}
	} else if (ret == STORE_DONE) {
		v = 0;
		ret = UM_OK;
	}
out:
	store_stmt_free(s);
	return ret != UM_OK ? ret : v;
}

static int
write_version(struct store *st, const char *name, unsigned version)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare_internal(
	             st,
	             "INSERT INTO schema_version (component, version) VALUES (?1, ?2)"
	             " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
	             &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, name)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, version)) == UM_OK)
		ret = store_stmt_step(s);
	store_stmt_free(s);
	return ret;
}

static int
refuse_newer(struct store *st, const struct store_schema *schema, int64_t v)
{
	store_set_errmsg(st,
	                 "schema '%s' is at version %lld, newer than this umbra knows (%zu); run "
	                 "a newer umbra, or move the database aside to start with an empty one",
	                 schema->name, (long long)v, schema->n_migs);
	return UM_ERR_STATE;
}

/* Roll back, keeping the message of the failure that led here. */
static void
rollback_keep_msg(struct store *st)
{
	char msg[STORE_ERRMSG_LEN];

	memcpy(msg, st->errmsg, sizeof(msg));
	if (store_rollback(st) != UM_OK) {
		/* Nothing was committed; SQLite rolls back at the latest when it closes. */
	}
	memcpy(st->errmsg, msg, sizeof(msg));
}

/* Apply step m if the database is just before it; skip it if it is already past it. */
static int
run_step(struct store *st, const struct store_schema *schema, const struct store_migration *m)
{
	char msg[STORE_ERRMSG_LEN];
	int64_t cur;
	int ret;

	if ((ret = store_begin(st)) != UM_OK)
		return ret;
	if ((cur = read_version(st, schema->name)) < 0) {
		ret = (int)cur;
		goto fail;
	}
	if (cur > (int64_t)schema->n_migs) {
		ret = refuse_newer(st, schema, cur);
		goto fail;
	}
	if (cur >= m->version) {
		/* Another process applied it meanwhile. */
		rollback_keep_msg(st);
		return UM_OK;
	}
	if (m->sql != NULL && (ret = store_exec(st, m->sql)) != UM_OK)
		goto step_failed;
	if (m->fn != NULL && (ret = m->fn(st)) != UM_OK)
		goto step_failed;
	if ((ret = write_version(st, schema->name, m->version)) != UM_OK)
		goto step_failed;
	return store_commit(st);
step_failed:
	memcpy(msg, st->errmsg, sizeof(msg));
	store_set_errmsg(st, "schema '%s' step %u failed: %s", schema->name, m->version, msg);
fail:
	rollback_keep_msg(st);
	return ret;
}

static int
migrate(struct store *st, const struct store_schema *schema, bool own)
{
	int64_t from;
	int ret;

	if ((ret = validate(st, schema, own)) != UM_OK)
		return ret;
	if (st->in_tx) {
		store_set_errmsg(st, "migration inside a transaction");
		return UM_ERR_STATE;
	}
	/* The common case, an up-to-date database, reads and writes nothing else. */
	if ((from = read_version(st, schema->name)) < 0)
		return (int)from;
	if (from > (int64_t)schema->n_migs)
		return refuse_newer(st, schema, from);
	if (from == (int64_t)schema->n_migs)
		return UM_OK;
	for (size_t i = (size_t)from; i < schema->n_migs; i++) {
		if ((ret = run_step(st, schema, &schema->migs[i])) != UM_OK)
			return ret;
	}
	log_notice(LD_STORE, "database %s: schema '%s' migrated from version %lld to %zu", st->path,
	           schema->name, (long long)from, schema->n_migs);
	return UM_OK;
}

int
store_migrate(struct store *st, const struct store_schema *schema)
{
	if (schema == NULL) {
		store_set_errmsg(st, "no schema given");
		return UM_ERR_INVALID;
	}
	return migrate(st, schema, false);
}

int64_t
store_schema_version(struct store *st, const char *name)
{
	return read_version(st, name);
}

/* Stamp the file as umbra's (an empty one) or refuse another application's database. */
static int
check_application_id(struct store *st)
{
	struct store_stmt *s = NULL;
	char sql[64];
	int64_t id = 0;
	int ret;

	if ((ret = store_stmt_prepare_internal(st, "PRAGMA application_id", &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_step(s)) == STORE_ROW)
		ret = store_stmt_column_int64(s, 0, &id);
	else if (ret == STORE_DONE)
		ret = UM_ERR_DB;
	store_stmt_free(s);
	if (ret != UM_OK)
		return ret;
	if (id == STORE_APPLICATION_ID)
		return UM_OK;
	if (id != 0) {
		store_set_errmsg(st, "not an umbra database (application_id 0x%08llx)",
		                 (unsigned long long)(uint32_t)id);
		return UM_ERR_DB;
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APPLICATION_ID);
	return store_exec(st, sql);
}

int
store_bootstrap(struct store *st)
{
	int ret;

	if ((ret = store_begin(st)) != UM_OK)
		return ret;
	if ((ret = check_application_id(st)) != UM_OK ||
	    (ret = store_exec(st, "CREATE TABLE IF NOT EXISTS schema_version ("
	                          " component TEXT PRIMARY KEY NOT NULL,"
	                          " version INTEGER NOT NULL CHECK (version >= 0)) STRICT;")) !=
	            UM_OK) {
		rollback_keep_msg(st);
		return ret;
	}
	if ((ret = store_commit(st)) != UM_OK)
		return ret;
	return migrate(st, &own_schema, true);
}
