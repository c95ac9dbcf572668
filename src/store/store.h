/* SPDX-License-Identifier: MIT */
/*
 * Persistent state: the only module that includes <sqlite3.h> (DESIGN.md "store/"). A store is
 * one SQLite database file opened in WAL mode with synchronous=FULL, so a write is durable once
 * the call that made it returned UM_OK: it survives SIGKILL of the process and power loss. On top
 * of that: numbered schema migrations per component (table schema_version), transactions that
 * refuse nesting, a prepared-statement wrapper with typed binds and strictly typed, size-capped
 * column reads, and a small key/value table (kv) for subsystems that only need a few values
 * (cached consensus, pins, wallet counters).
 *
 * What it does not do: no SQL is built from strings here (callers write fixed SQL with `?`
 * parameters), no connection pool, no threads, no logging of failures (callers decide and log,
 * with store_errmsg() for the detail).
 *
 * Threading: every call runs SQLite synchronously on the calling thread. In umbra that is the
 * loop thread, so keep transactions small (a handful of rows; no bulk work inside a network
 * callback). A struct store and its statements must be used by one thread at a time; there is
 * no global state besides SQLite's own, so a store can later be handed to a libuv worker thread
 * as a whole without changing this API.
 *
 * Files: the database is created with mode 0600; an existing file (or its -wal / -shm
 * companion) that is not a regular file owned by us with no group/other bits is refused with an
 * actionable message, as key files are (crypto/keys.h). The containing directory should be the
 * 0700 state directory.
 */
#ifndef UM_STORE_STORE_H
#define UM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"

enum store_limits {
	/* Largest text or blob bound or returned (a 10,000-relay consensus is a few MB). */
	STORE_VALUE_MAX_LEN = 32 << 20,
	/* SQLite's own row/value limit (SQLITE_LIMIT_LENGTH): the value cap plus room for the
	 * other columns of a row; a corrupted length beyond it is an error, not an allocation. */
	STORE_ROW_MAX_LEN = STORE_VALUE_MAX_LEN + (1 << 20),
	STORE_BUSY_TIMEOUT_MS = 5000, /* wait this long for another process's lock */
	STORE_ERRMSG_LEN = 256,
	STORE_SCHEMA_NAME_MAX_LEN = 64,
	STORE_KV_NS_MAX_LEN = 64,
	STORE_KV_KEY_MAX_LEN = 1024,
};

/* Opens an in-memory database (tests of other modules): no file, no WAL, gone at close. */
#define STORE_PATH_MEMORY ":memory:"

struct store;
struct store_stmt;

/* ---- opening, migrations ---- */

/*
 * A data migration, run after the migration's sql inside the same transaction; return UM_OK or
 * a negative um_err (the transaction is then rolled back).
 */
typedef int store_migrate_fn(struct store *st);

/*
 * One schema step. Versions are 1, 2, 3, ... in array order, and a released step is never
 * edited: add a new one. sql (schema text, may hold several statements; NULL for none) runs
 * first, then fn (NULL for none). PRAGMAs that cannot change inside a transaction
 * (foreign_keys, journal_mode) must not appear.
 */
struct store_migration {
	unsigned version;
	const char *sql;
	store_migrate_fn *fn;
};

/* The schema of one component (e.g. "directory", "issuer"): its name in schema_version and
 * its steps. Several components may share one database file. */
struct store_schema {
	const char *name;
	const struct store_migration *migs;
	size_t n_migs;
};

/*
 * Open the database at path, creating it (mode 0600) if missing, and bring schema (may be NULL)
 * up to date. Sets WAL, synchronous=FULL, foreign_keys=ON, secure_delete=ON, the busy timeout
 * and SQLite's defensive mode, then runs the store's own schema (schema_version, kv) and
 * schema's pending steps, each step in its own transaction. On success *out is a new store the
 * caller owns and frees with store_close(). Errors (*out NULL; why, if not NULL, receives a
 * sentence for the user):
 *   UM_ERR_PERM       the file, or its -wal/-shm, is a symlink, not a regular file, not ours,
 *                     or group/other-accessible (why says what to chmod/chown);
 *   UM_ERR_SYS        the file cannot be created or opened (errno's text in why);
 *   UM_ERR_DB         not an SQLite database, damaged, not an umbra database, or a step's SQL
 *                     failed (a step's fn failing returns its own error);
 *   UM_ERR_STATE      the database holds a schema version newer than this code knows;
 *   UM_ERR_INVALID    bad arguments (versions not 1..n, empty name).
 */
int store_open(const char *path, const struct store_schema *schema, struct store **out, char *why,
               size_t why_len) UM_WARN_UNUSED;
/*
 * Run schema's pending steps on an open store (another component sharing the file). Same
 * errors as store_open() (UM_ERR_STATE: newer than known), detail in store_errmsg().
 * Refused (UM_ERR_STATE) inside a transaction.
 */
int store_migrate(struct store *st, const struct store_schema *schema) UM_WARN_UNUSED;
/* The version of component name in the database (0 if it has none), or a negative um_err. */
int64_t store_schema_version(struct store *st, const char *name) UM_WARN_UNUSED;
/*
 * Close and free st; NULL is a no-op. Every statement from store_stmt_prepare() must be freed
 * first (a leftover one is a bug: logged, and the handle is leaked rather than freed under it).
 * An open transaction is rolled back.
 */
void store_close_(struct store *st);
#define store_close(st) UM_FREE_AND_NULL(store_close_, st)

/*
 * The detail of the last failure on st (SQLite's message, or ours), "" if none yet. Valid until
 * the next call on st. Holds table and column names, never bound values.
 */
const char *store_errmsg(const struct store *st);
/* Run PRAGMA integrity_check: UM_OK, or UM_ERR_DB with the first problem in store_errmsg(). */
int store_integrity_check(struct store *st) UM_WARN_UNUSED;

/* Run sql (one or more statements, no parameters, rows ignored): schema text, fixed updates.
 * Not for BEGIN/COMMIT/ROLLBACK: use store_begin() and friends, which track the transaction. */
int store_exec(struct store *st, const char *sql) UM_WARN_UNUSED;
/* Rows changed by the last INSERT/UPDATE/DELETE, and the rowid of the last INSERT. */
int64_t store_changes(const struct store *st);
int64_t store_last_insert_rowid(const struct store *st);

/* ---- transactions ---- */

/*
 * Begin a write transaction (BEGIN IMMEDIATE: the write lock is taken now, so a later statement
 * never fails on lock upgrade). UM_ERR_STATE if one is already open: transactions do not nest.
 * UM_ERR_TIMEOUT if another process held the lock for the whole busy timeout.
 */
int store_begin(struct store *st) UM_WARN_UNUSED;
/*
 * Commit. When this returns UM_OK the transaction is on disk (fsync'd WAL). On failure it has
 * been rolled back: nothing of it was written. UM_ERR_STATE if no transaction is open.
 * Statements that read rows may still be open; statements that write must be done or reset.
 */
int store_commit(struct store *st) UM_WARN_UNUSED;
/* Roll back the open transaction (no-op if SQLite already rolled it back after an error).
 * UM_ERR_STATE if none is open. */
int store_rollback(struct store *st) UM_WARN_UNUSED;
bool store_in_tx(const struct store *st);
/*
 * End the open transaction by how its work went: ret == UM_OK commits (and returns the
 * commit's result), anything else rolls back (when one is still open; a failed rollback is
 * logged) and returns ret unchanged.
 */
int store_end(struct store *st, int ret) UM_WARN_UNUSED;

typedef int store_tx_fn(struct store *st, void *arg);
/* Run fn in a transaction: commit if it returns UM_OK, else roll back and return its error. */
int store_tx(struct store *st, store_tx_fn *fn, void *arg) UM_WARN_UNUSED;

/* ---- prepared statements ---- */

/* Values as SQLite stores them; columns are read strictly by type (no silent conversion). */
enum store_type {
	STORE_NULL = 0,
	STORE_INT = 1,
	STORE_REAL = 2,
	STORE_TEXT = 3,
	STORE_BLOB = 4,
};

/* store_stmt_step() results besides a negative um_err. */
enum store_step {
	STORE_DONE = 0, /* no (more) rows; the statement finished */
	STORE_ROW = 1,  /* a row is available through the column functions */
};

/*
 * Compile one SQL statement (trailing text other than spaces and ';' is refused, UM_ERR_INVALID)
 * into a new statement the caller owns and frees with store_stmt_free() before store_close().
 * Prepare once, then reuse: reset, bind, step, ...
 */
int store_stmt_prepare(struct store *st, const char *sql, struct store_stmt **out) UM_WARN_UNUSED;
void store_stmt_free_(struct store_stmt *s);
#define store_stmt_free(s) UM_FREE_AND_NULL(store_stmt_free_, s)

/*
 * Bind parameter idx (1-based, as `?` appear in the SQL) after prepare or reset. Values are
 * copied. Text is NUL-terminated UTF-8 (binary data goes in blobs); a zero-length blob is stored
 * as an empty blob, not NULL (p may be NULL when len is 0). UM_ERR_INVALID for a bad index,
 * UM_ERR_TOO_LARGE over STORE_VALUE_MAX_LEN, UM_ERR_STATE while the statement is mid-rows.
 */
int store_stmt_bind_int64(struct store_stmt *s, int idx, int64_t v) UM_WARN_UNUSED;
int store_stmt_bind_double(struct store_stmt *s, int idx, double v) UM_WARN_UNUSED;
int store_stmt_bind_text(struct store_stmt *s, int idx, const char *str) UM_WARN_UNUSED;
int store_stmt_bind_blob(struct store_stmt *s, int idx, const void *p, size_t len) UM_WARN_UNUSED;
int store_stmt_bind_null(struct store_stmt *s, int idx) UM_WARN_UNUSED;

/*
 * Run the statement to its next row: STORE_ROW, STORE_DONE, or a negative um_err:
 *   UM_ERR_EXISTS    a UNIQUE or PRIMARY KEY constraint failed (row already there);
 *   UM_ERR_INVALID   another constraint failed (NOT NULL, CHECK, FOREIGN KEY);
 *   UM_ERR_TIMEOUT   another process held the lock for the whole busy timeout;
 *   UM_ERR_TOO_LARGE a value over SQLite's length limit;
 *   UM_ERR_DB        anything else (I/O error, disk full, damaged file), see store_errmsg().
 * After an error the statement is reset (bindings kept) and can be used again. Outside a
 * transaction a write is its own transaction, durable when STORE_DONE is returned.
 */
int store_stmt_step(struct store_stmt *s) UM_WARN_UNUSED;
/*
 * Rewind the statement and clear its bindings (so a stale value is never reused). Reset (or
 * free) a statement as soon as its rows are no longer needed: one left on a row keeps a read
 * transaction open, which stops WAL checkpoints.
 */
void store_stmt_reset(struct store_stmt *s);

/* Number of columns in the result; type of column col of the current row (STORE_NULL if col is
 * out of range). */
int store_stmt_column_count(const struct store_stmt *s);
enum store_type store_stmt_column_type(struct store_stmt *s, int col);
bool store_stmt_column_is_null(struct store_stmt *s, int col);
/*
 * Read column col (0-based) of the current row. Each accepts exactly its type: any other,
 * NULL included, is UM_ERR_MALFORMED (check store_stmt_column_is_null() for nullable columns);
 * UM_ERR_INVALID for a column out of range. Out-params are zeroed on entry.
 * Text and blob views are valid until the next step, reset or free of s; text is
 * NUL-terminated, holds no NUL before the end (else UM_ERR_MALFORMED), and len may be NULL. An
 * empty blob gives a non-NULL pointer and length 0. Values over STORE_VALUE_MAX_LEN are
 * UM_ERR_TOO_LARGE (a damaged file never makes us allocate without bound).
 */
int store_stmt_column_int64(struct store_stmt *s, int col, int64_t *v) UM_WARN_UNUSED;
int store_stmt_column_double(struct store_stmt *s, int col, double *v) UM_WARN_UNUSED;
int store_stmt_column_text(struct store_stmt *s, int col, const char **str,
                           size_t *len) UM_WARN_UNUSED;
int store_stmt_column_blob(struct store_stmt *s, int col, const uint8_t **p,
                           size_t *len) UM_WARN_UNUSED;

/* ---- key/value table: kv(ns TEXT, key BLOB, value BLOB, PRIMARY KEY(ns, key)) ---- */

/*
 * ns names the owner ("dir.cache", "dir.pins", "wallet"), at most STORE_KV_NS_MAX_LEN bytes;
 * keys are at most STORE_KV_KEY_MAX_LEN bytes (may be empty; may hold any bytes). Each call
 * outside a transaction is its own durable transaction; inside one it is part of it.
 * UM_ERR_INVALID for an empty or over-long ns or an over-long key.
 */
/* Insert or overwrite. */
int store_kv_put(struct store *st, const char *ns, const void *key, size_t key_len,
                 const void *value, size_t value_len) UM_WARN_UNUSED;
/*
 * Copy the value into a new buffer *value (the caller frees it; never NULL on success, even for
 * an empty value) of *value_len bytes. UM_ERR_NOT_FOUND if absent, UM_ERR_TOO_LARGE if the
 * stored value is longer than max_len (nothing is allocated then).
 */
int store_kv_get(struct store *st, const char *ns, const void *key, size_t key_len, size_t max_len,
                 uint8_t **value, size_t *value_len) UM_WARN_UNUSED;
/* UM_OK if the key was deleted, UM_ERR_NOT_FOUND if it was not there. */
int store_kv_del(struct store *st, const char *ns, const void *key, size_t key_len) UM_WARN_UNUSED;
/* Counters: the value is 8 bytes, big-endian two's complement; another length is MALFORMED. */
int store_kv_put_int64(struct store *st, const char *ns, const void *key, size_t key_len,
                       int64_t v) UM_WARN_UNUSED;
int store_kv_get_int64(struct store *st, const char *ns, const void *key, size_t key_len,
                       int64_t *v) UM_WARN_UNUSED;
/*
 * Call fn for every key of ns in key order (memcmp order), with views valid during the call.
 * fn returns UM_OK to go on, anything else to stop; that value is returned. fn may read the
 * kv table but must not write it.
 */
typedef int store_kv_fn(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                        size_t value_len);
int store_kv_foreach(struct store *st, const char *ns, store_kv_fn *fn, void *arg) UM_WARN_UNUSED;

#endif /* UM_STORE_STORE_H */
