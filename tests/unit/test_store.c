/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/store: files created 0600 (and their -wal/-shm), refusal of group/other
 * readable files, symlinks and directories; migrations run once, in order, each atomically,
 * and a newer database is refused; transactions commit, roll back and refuse nesting;
 * constraint violations map to UM_ERR_EXISTS / UM_ERR_INVALID; binds and strictly typed column
 * reads of every type (empty blob vs NULL, embedded NUL, caps); the kv table; statements reused
 * many times; damaged files (random bytes, overwritten pages, flipped bytes) give errors, never
 * crashes; and durability: a child committing 1,000 transactions is SIGKILLed at a random
 * moment and every commit it acknowledged is found afterwards, in a database that passes
 * PRAGMA integrity_check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_st.h"

enum {
	WHY_LEN = 512,
	N_REUSE = 10000,
	N_DURABLE_TX = 1000,
	N_DURABLE_ROUNDS = 3,
	N_CORRUPT_SEEDS = 24,
};

/* ---- a scratch directory per test, removed with everything in it ---- */

struct tmp {
	char dir[64];
	char path[128];
};

static void
tmp_init(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/um-store-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

/* t->path = dir/name */
static const char *
tmp_path(struct tmp *t, const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

static void
tmp_clear(struct tmp *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[512];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
		if (unlink(p) != 0)
			assert_int_equal(rmdir(p), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(t->dir), 0);
}

/* A small deterministic generator (xorshift64*) for reproducible damage. */
static uint64_t
rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void
rnd_fill(uint64_t *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd_next(s) >> 56);
}

static void
write_raw(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static mode_t
file_mode(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static struct store *
open_ok(const char *path, const struct store_schema *schema)
{
	struct store *st = NULL;
	char why[WHY_LEN] = "";
	int ret = store_open(path, schema, &st, why, sizeof(why));

	if (ret != UM_OK)
		fail_msg("store_open(%s): %s: %s", path, um_err_str(ret), why);
	assert_non_null(st);
	return st;
}

static void
exec_ok(struct store *st, const char *sql)
{
	int ret = store_exec(st, sql);

	if (ret != UM_OK)
		fail_msg("store_exec(%s): %s: %s", sql, um_err_str(ret), store_errmsg(st));
}

/* The single integer the query returns. */
static int64_t
query_int(struct store *st, const char *sql)
{
	struct store_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(store_stmt_prepare(st, sql, &s), UM_OK);
	assert_int_equal(store_stmt_step(s), STORE_ROW);
	assert_int_equal(store_stmt_column_int64(s, 0, &v), UM_OK);
	assert_int_equal(store_stmt_step(s), STORE_DONE);
	store_stmt_free(s);
	return v;
}

/* ---- files ---- */

static void
test_store_creates_file_0600(void **state)
{
	struct tmp t;
	struct store *st;
	char wal[160], shm[160];
	mode_t old = umask(0);

	(void)state;
	tmp_init(&t);
	st = open_ok(tmp_path(&t, "state.db"), NULL);
	umask(old);
	assert_int_equal(file_mode(t.path), 0600);
	exec_ok(st, "CREATE TABLE t (x INTEGER)");
	exec_ok(st, "INSERT INTO t VALUES (1)");
	/* While open, the WAL and shared-memory files exist and inherit the mode. */
	snprintf(wal, sizeof(wal), "%s-wal", t.path);
	snprintf(shm, sizeof(shm), "%s-shm", t.path);
	assert_int_equal(file_mode(wal), 0600);
	assert_int_equal(file_mode(shm), 0600);
	store_close(st);
	assert_null(st);
	store_close(st); /* NULL is a no-op */

	/* Re-open keeps the data and the mode. */
	st = open_ok(t.path, NULL);
	assert_int_equal(query_int(st, "SELECT count(*) FROM t"), 1);
	store_close(st);
	assert_int_equal(file_mode(t.path), 0600);
	tmp_clear(&t);
}

static void
test_store_refuses_unsafe_files(void **state)
{
	struct tmp t;
	struct store *st = NULL;
	char why[WHY_LEN];
	char db[128], wal[160];

	(void)state;
	tmp_init(&t);
	snprintf(db, sizeof(db), "%s", tmp_path(&t, "state.db"));
	st = open_ok(db, NULL);
	store_close(st);

	/* Group/other readable: refused with the command that fixes it. */
	assert_int_equal(chmod(db, 0644), 0);
	assert_int_equal(store_open(db, NULL, &st, why, sizeof(why)), UM_ERR_PERM);
	assert_null(st);
	assert_non_null(strstr(why, "chmod 600"));
	assert_non_null(strstr(why, db));
	assert_int_equal(chmod(db, 0640), 0);
	assert_int_equal(store_open(db, NULL, &st, why, sizeof(why)), UM_ERR_PERM);
	assert_int_equal(chmod(db, 0600), 0);

	/* A readable companion WAL is refused too (it holds recent writes). */
	snprintf(wal, sizeof(wal), "%s-wal", db);
	write_raw(wal, "", 0, 0644);
	assert_int_equal(store_open(db, NULL, &st, why, sizeof(why)), UM_ERR_PERM);
	assert_non_null(strstr(why, "-wal"));
	assert_int_equal(unlink(wal), 0);

	/* A symlink, even to a good database, is refused. */
	assert_int_equal(symlink(db, tmp_path(&t, "link.db")), 0);
	assert_int_equal(store_open(t.path, NULL, &st, why, sizeof(why)), UM_ERR_PERM);
	assert_non_null(strstr(why, "symbolic link"));
	/* A dangling one is not followed to create a file elsewhere. */
	assert_int_equal(symlink(tmp_path(&t, "nowhere.db"), tmp_path(&t, "dangling.db")), 0);
	assert_int_equal(store_open(t.path, NULL, &st, why, sizeof(why)), UM_ERR_PERM);
	assert_int_equal(access(tmp_path(&t, "nowhere.db"), F_OK), -1);

	/* A directory. */
	assert_int_equal(mkdir(tmp_path(&t, "dir.db"), 0700), 0);
	assert_int_equal(store_open(t.path, NULL, &st, why, sizeof(why)), UM_ERR_PERM);
	assert_non_null(strstr(why, "not a regular file"));

	/* A missing parent directory: a system error naming the path. */
	assert_int_equal(store_open(tmp_path(&t, "missing/state.db"), NULL, &st, why, sizeof(why)),
	                 UM_ERR_SYS);
	assert_non_null(strstr(why, "missing/state.db"));

	assert_int_equal(store_open("", NULL, &st, why, sizeof(why)), UM_ERR_INVALID);
	tmp_clear(&t);
}

/* ---- migrations ---- */

static unsigned calls[16];
static size_t n_calls;

static int
record(unsigned v)
{
	assert_true(n_calls < UM_ARRAY_LEN(calls));
	calls[n_calls++] = v;
	return UM_OK;
}

static int
mig_fn1(struct store *st)
{
	(void)st;
	return record(1);
}

static int
mig_fn2(struct store *st)
{
	(void)st;
	return record(2);
}

/* Step 3 sees steps 1 and 2 applied, in the same transaction as its own. */
static int
mig_fn3(struct store *st)
{
	assert_true(store_in_tx(st));
	exec_ok(st, "INSERT INTO a (x, y) VALUES (3, 'three')");
	return record(3);
}

static int
mig_fn4(struct store *st)
{
	(void)st;
	return record(4);
}

static const struct store_migration migs[] = {
	{ 1, "CREATE TABLE a (x INTEGER PRIMARY KEY);", mig_fn1 },
	{ 2, "ALTER TABLE a ADD COLUMN y TEXT;", mig_fn2 },
	{ 3, NULL, mig_fn3 },
	{ 4, "CREATE TABLE b (z BLOB); CREATE INDEX b_z ON b (z);", mig_fn4 },
};

static void
test_store_migrations_run_once_in_order(void **state)
{
	struct store_schema s3 = { "test", migs, 3 };
	struct store_schema s4 = { "test", migs, 4 };
	struct tmp t;
	struct store *st;

	(void)state;
	tmp_init(&t);
	n_calls = 0;
	st = open_ok(tmp_path(&t, "m.db"), &s3);
	assert_int_equal(n_calls, 3);
	assert_int_equal(calls[0], 1);
	assert_int_equal(calls[1], 2);
	assert_int_equal(calls[2], 3);
	assert_int_equal(store_schema_version(st, "test"), 3);
	assert_int_equal(store_schema_version(st, "store"), 1);
	assert_int_equal(store_schema_version(st, "other"), 0);
	assert_int_equal(query_int(st, "SELECT x FROM a WHERE y = 'three'"), 3);
	store_close(st);

	/* Re-open: nothing runs again. */
	n_calls = 0;
	st = open_ok(t.path, &s3);
	assert_int_equal(n_calls, 0);
	store_close(st);

	/* A new step: only it runs. */
	st = open_ok(t.path, &s4);
	assert_int_equal(n_calls, 1);
	assert_int_equal(calls[0], 4);
	assert_int_equal(store_schema_version(st, "test"), 4);
	assert_int_equal(query_int(st, "SELECT count(*) FROM a"), 1);

	/* A second component in the same file has its own version. */
	n_calls = 0;
	struct store_schema other = { "other", migs, 1 };
	exec_ok(st, "DROP TABLE b");
	exec_ok(st, "DROP TABLE a");
	assert_int_equal(store_migrate(st, &other), UM_OK);
	assert_int_equal(n_calls, 1);
	assert_int_equal(store_schema_version(st, "other"), 1);
	assert_int_equal(store_schema_version(st, "test"), 4);
	/* Not inside a transaction. */
	assert_int_equal(store_begin(st), UM_OK);
	assert_int_equal(store_migrate(st, &s4), UM_ERR_STATE);
	assert_int_equal(store_rollback(st), UM_OK);
	store_close(st);
	tmp_clear(&t);
}

static void
test_store_newer_database_refused(void **state)
{
	struct store_schema s2 = { "test", migs, 2 };
	struct store_schema s3 = { "test", migs, 3 };
	struct tmp t;
	struct store *st = NULL;
	char why[WHY_LEN];

	(void)state;
	tmp_init(&t);
	st = open_ok(tmp_path(&t, "n.db"), &s3);
	store_close(st);

	/* Written by a "newer" umbra (3 steps) and opened by an older one (2). */
	n_calls = 0;
	assert_int_equal(store_open(t.path, &s2, &st, why, sizeof(why)), UM_ERR_STATE);
	assert_null(st);
	assert_int_equal(n_calls, 0);
	assert_non_null(strstr(why, "newer"));
	assert_non_null(strstr(why, "'test'"));

	/* The store's own schema from the future is refused as well. */
	st = open_ok(t.path, &s3);
	exec_ok(st, "UPDATE schema_version SET version = 99 WHERE component = 'store'");
	store_close(st);
	assert_int_equal(store_open(t.path, NULL, &st, why, sizeof(why)), UM_ERR_STATE);
	assert_non_null(strstr(why, "'store'"));

	/* The file is left alone: a newer umbra still finds its data. */
	assert_int_equal(file_mode(t.path), 0600);
	tmp_clear(&t);
}

static const struct store_migration bad_migs[] = {
	{ 1, "CREATE TABLE a (x INTEGER);", NULL },
	{ 2, "CREATE TABLE b (x INTEGER); INSERT INTO missing VALUES (1);", NULL },
};

static int
mig_fail(struct store *st)
{
	exec_ok(st, "INSERT INTO a VALUES (42)");
	return UM_ERR_MALFORMED;
}

static const struct store_migration fail_fn_migs[] = {
	{ 1, "CREATE TABLE a (x INTEGER);", NULL },
	{ 2, "CREATE TABLE c (x INTEGER);", mig_fail },
};

static void
test_store_failed_migration_is_rolled_back(void **state)
{
	struct store_schema s1 = { "test", bad_migs, 1 };
	struct store_schema s2 = { "test", bad_migs, 2 };
	struct store_schema f2 = { "test", fail_fn_migs, 2 };
	struct tmp t;
	struct store *st = NULL;
	struct store_stmt *s = NULL;
	char why[WHY_LEN];

	(void)state;
	tmp_init(&t);
	/* Step 1 is committed, step 2 fails half-way: none of it stays. */
	assert_int_equal(store_open(tmp_path(&t, "f.db"), &s2, &st, why, sizeof(why)), UM_ERR_DB);
	assert_null(st);
	assert_non_null(strstr(why, "step 2"));
	assert_non_null(strstr(why, "missing"));
	st = open_ok(t.path, &s1);
	assert_int_equal(store_schema_version(st, "test"), 1);
	assert_int_equal(store_stmt_prepare(st, "SELECT * FROM b", &s), UM_ERR_DB);
	assert_null(s);
	assert_non_null(strstr(store_errmsg(st), "no such table"));
	store_close(st);

	/* A failing data step: its error comes back, its writes are undone. */
	assert_int_equal(store_open(t.path, &f2, &st, why, sizeof(why)), UM_ERR_MALFORMED);
	st = open_ok(t.path, &s1);
	assert_int_equal(store_schema_version(st, "test"), 1);
	assert_int_equal(query_int(st, "SELECT count(*) FROM a"), 0);
	assert_int_equal(store_stmt_prepare(st, "SELECT * FROM c", &s), UM_ERR_DB);
	store_close(st);
	tmp_clear(&t);
}

static void
test_store_bad_schemas_refused(void **state)
{
	static const struct store_migration gap[] = {
		{ 1, "CREATE TABLE a (x);", NULL },
		{ 3, "CREATE TABLE b (x);", NULL },
	};
	static const struct store_migration empty_step[] = { { 1, NULL, NULL } };
	const struct store_schema bad[] = {
		{ "test", gap, 2 },      { "store", migs, 1 }, { "", migs, 1 },
		{ NULL, migs, 1 },       { "test", NULL, 1 },  { "test", empty_step, 1 },
		{ "test", migs + 1, 1 },
	};
	struct store *st = NULL;
	char why[WHY_LEN];

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		assert_int_equal(store_open(STORE_PATH_MEMORY, &bad[i], &st, why, sizeof(why)),
		                 UM_ERR_INVALID);
		assert_null(st);
		assert_true(why[0] != '\0');
	}
	st = open_ok(STORE_PATH_MEMORY, NULL);
	assert_int_equal(store_migrate(st, NULL), UM_ERR_INVALID);
	store_close(st);
}

/* ---- transactions ---- */

static int
tx_insert(struct store *st, void *arg)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d)", *(int *)arg);
	return store_exec(st, sql);
}

static int
tx_insert_then_fail(struct store *st, void *arg)
{
	int ret = tx_insert(st, arg);

	assert_int_equal(ret, UM_OK);
	/* A nested transaction is refused while one is open. */
	assert_int_equal(store_begin(st), UM_ERR_STATE);
	assert_non_null(strstr(store_errmsg(st), "nest"));
	return UM_ERR_AUTH;
}

static void
test_store_transactions(void **state)
{
	struct tmp t;
	struct store *st;
	int v;

	(void)state;
	tmp_init(&t);
	st = open_ok(tmp_path(&t, "tx.db"), NULL);
	exec_ok(st, "CREATE TABLE t (x INTEGER PRIMARY KEY)");

	assert_false(store_in_tx(st));
	assert_int_equal(store_begin(st), UM_OK);
	assert_true(store_in_tx(st));
	assert_int_equal(store_begin(st), UM_ERR_STATE);
	exec_ok(st, "INSERT INTO t VALUES (1)");
	exec_ok(st, "INSERT INTO t VALUES (2)");
	assert_int_equal(store_commit(st), UM_OK);
	assert_false(store_in_tx(st));
	assert_int_equal(query_int(st, "SELECT count(*) FROM t"), 2);

	assert_int_equal(store_begin(st), UM_OK);
	exec_ok(st, "INSERT INTO t VALUES (3)");
	exec_ok(st, "DELETE FROM t WHERE x = 1");
	assert_int_equal(query_int(st, "SELECT count(*) FROM t"), 2);
	assert_int_equal(store_rollback(st), UM_OK);
	assert_int_equal(query_int(st, "SELECT count(*) FROM t"), 2);
	assert_int_equal(query_int(st, "SELECT min(x) FROM t"), 1);

	assert_int_equal(store_commit(st), UM_ERR_STATE);
	assert_int_equal(store_rollback(st), UM_ERR_STATE);

	/* A reading statement left on a row does not stop a commit. */
	{
		struct store_stmt *sel = NULL;

		assert_int_equal(store_stmt_prepare(st, "SELECT x FROM t ORDER BY x", &sel), UM_OK);
		assert_int_equal(store_begin(st), UM_OK);
		exec_ok(st, "INSERT INTO t VALUES (5)");
		assert_int_equal(store_stmt_step(sel), STORE_ROW);
		assert_int_equal(store_commit(st), UM_OK);
		store_stmt_free(sel);
		exec_ok(st, "DELETE FROM t WHERE x = 5");
	}

	v = 10;
	assert_int_equal(store_tx(st, tx_insert, &v), UM_OK);
	v = 11;
	assert_int_equal(store_tx(st, tx_insert_then_fail, &v), UM_ERR_AUTH);
	assert_false(store_in_tx(st));
	assert_int_equal(query_int(st, "SELECT count(*) FROM t WHERE x >= 10"), 1);
	/* A failing statement inside store_tx: its error, nothing committed. */
	v = 10;
	assert_int_equal(store_tx(st, tx_insert, &v), UM_ERR_EXISTS);
	assert_false(store_in_tx(st));

	/* An open transaction is rolled back by close; committed ones persist. */
	assert_int_equal(store_begin(st), UM_OK);
	exec_ok(st, "INSERT INTO t VALUES (99)");
	store_close(st);
	st = open_ok(t.path, NULL);
	assert_int_equal(query_int(st, "SELECT count(*) FROM t"), 3);
	assert_int_equal(query_int(st, "SELECT count(*) FROM t WHERE x = 99"), 0);
	store_close(st);
	tmp_clear(&t);
}

static void
test_store_constraint_violations(void **state)
{
	struct store *st = open_ok(STORE_PATH_MEMORY, NULL);
	struct store_stmt *ins = NULL, *child = NULL;

	(void)state;
	exec_ok(st, "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	            " n INTEGER CHECK (n >= 0))");
	exec_ok(st, "CREATE TABLE c (pid INTEGER NOT NULL REFERENCES p (id))");
	assert_int_equal(
	        store_stmt_prepare(st, "INSERT INTO p (id, name, n) VALUES (?, ?, ?)", &ins),
	        UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 1, 1), UM_OK);
	assert_int_equal(store_stmt_bind_text(ins, 2, "alice"), UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 3, 5), UM_OK);
	assert_int_equal(store_stmt_step(ins), STORE_DONE);
	assert_int_equal(store_last_insert_rowid(st), 1);
	assert_int_equal(store_changes(st), 1);

	/* Same primary key. */
	store_stmt_reset(ins);
	assert_int_equal(store_stmt_bind_int64(ins, 1, 1), UM_OK);
	assert_int_equal(store_stmt_bind_text(ins, 2, "bob"), UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 3, 5), UM_OK);
	assert_int_equal(store_stmt_step(ins), UM_ERR_EXISTS);
	assert_non_null(strstr(store_errmsg(st), "UNIQUE constraint failed: p.id"));
	/* After an error the statement runs again with its bindings. */
	assert_int_equal(store_stmt_step(ins), UM_ERR_EXISTS);
	/* Same UNIQUE name. */
	store_stmt_reset(ins);
	assert_int_equal(store_stmt_bind_int64(ins, 1, 2), UM_OK);
	assert_int_equal(store_stmt_bind_text(ins, 2, "alice"), UM_OK);
	assert_int_equal(store_stmt_step(ins), UM_ERR_EXISTS);
	assert_non_null(strstr(store_errmsg(st), "p.name"));
	/* NOT NULL (reset cleared the bindings: name is NULL). */
	store_stmt_reset(ins);
	assert_int_equal(store_stmt_bind_int64(ins, 1, 3), UM_OK);
	assert_int_equal(store_stmt_step(ins), UM_ERR_INVALID);
	assert_non_null(strstr(store_errmsg(st), "NOT NULL"));
	/* CHECK. */
	store_stmt_reset(ins);
	assert_int_equal(store_stmt_bind_int64(ins, 1, 3), UM_OK);
	assert_int_equal(store_stmt_bind_text(ins, 2, "carol"), UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 3, -1), UM_OK);
	assert_int_equal(store_stmt_step(ins), UM_ERR_INVALID);
	assert_non_null(strstr(store_errmsg(st), "CHECK"));
	/* After the error the statement is rewound: a rebind is allowed, and a good row goes in. */
	assert_int_equal(store_stmt_bind_int64(ins, 3, 0), UM_OK);
	assert_int_equal(store_stmt_step(ins), STORE_DONE);
	store_stmt_free(ins);

	/* FOREIGN KEY: foreign_keys is on. */
	assert_int_equal(store_stmt_prepare(st, "INSERT INTO c (pid) VALUES (?)", &child), UM_OK);
	assert_int_equal(store_stmt_bind_int64(child, 1, 777), UM_OK);
	assert_int_equal(store_stmt_step(child), UM_ERR_INVALID);
	assert_non_null(strstr(store_errmsg(st), "FOREIGN KEY"));
	store_stmt_reset(child);
	assert_int_equal(store_stmt_bind_int64(child, 1, 1), UM_OK);
	assert_int_equal(store_stmt_step(child), STORE_DONE);
	store_stmt_free(child);
	assert_int_equal(store_exec(st, "DELETE FROM p WHERE id = 1"), UM_ERR_INVALID);
	store_close(st);
}

/* ---- statements: binds and columns ---- */

static void
test_store_binds_and_columns_of_every_type(void **state)
{
	static const uint8_t zeros[3] = { 0, 0, 0 };
	static const char utf8[] = "h\xc3\xa9llo \xe2\x9c\x93";
	struct store *st = open_ok(STORE_PATH_MEMORY, NULL);
	struct store_stmt *ins = NULL, *sel = NULL;
	const uint8_t *b;
	const char *str;
	size_t len;
	int64_t i;
	double d;

	(void)state;
	exec_ok(st, "CREATE TABLE t (k INTEGER PRIMARY KEY, i, r, s, b, n)");
	assert_int_equal(
	        store_stmt_prepare(st, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6);", &ins),
	        UM_OK);
	/* Row 1: extremes and an empty blob. */
	assert_int_equal(store_stmt_bind_int64(ins, 1, 1), UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 2, INT64_MIN), UM_OK);
	assert_int_equal(store_stmt_bind_double(ins, 3, -0.5), UM_OK);
	assert_int_equal(store_stmt_bind_text(ins, 4, ""), UM_OK);
	assert_int_equal(store_stmt_bind_blob(ins, 5, NULL, 0), UM_OK);
	assert_int_equal(store_stmt_bind_null(ins, 6), UM_OK);
	assert_int_equal(store_stmt_step(ins), STORE_DONE);
	/* Row 2: the other extreme, UTF-8 text, a blob of zeros. */
	store_stmt_reset(ins);
	assert_int_equal(store_stmt_bind_int64(ins, 1, 2), UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 2, INT64_MAX), UM_OK);
	assert_int_equal(store_stmt_bind_double(ins, 3, 1e300), UM_OK);
	assert_int_equal(store_stmt_bind_text(ins, 4, utf8), UM_OK);
	assert_int_equal(store_stmt_bind_blob(ins, 5, zeros, sizeof(zeros)), UM_OK);
	assert_int_equal(store_stmt_bind_int64(ins, 6, 0), UM_OK);
	assert_int_equal(store_stmt_step(ins), STORE_DONE);

	/* Bad binds. */
	store_stmt_reset(ins);
	assert_int_equal(store_stmt_bind_int64(ins, 0, 1), UM_ERR_INVALID);
	assert_int_equal(store_stmt_bind_int64(ins, 7, 1), UM_ERR_INVALID);
	assert_int_equal(store_stmt_bind_text(ins, 4, NULL), UM_ERR_INVALID);
	assert_int_equal(store_stmt_bind_blob(ins, 5, NULL, 3), UM_ERR_INVALID);
	{
		size_t big = (size_t)STORE_VALUE_MAX_LEN + 1;
		uint8_t *p = calloc(1, big);

		assert_non_null(p);
		assert_int_equal(store_stmt_bind_blob(ins, 5, p, big), UM_ERR_TOO_LARGE);
		memset(p, 'a', big - 1);
		p[big - 1] = '\0';
		assert_int_equal(store_stmt_bind_text(ins, 4, (const char *)p), UM_OK);
		/* No NUL within the limit: refused without reading past it. */
		memset(p, 'a', big);
		assert_int_equal(store_stmt_bind_text(ins, 4, (const char *)p), UM_ERR_TOO_LARGE);
		free(p);
	}
	store_stmt_free(ins);

	assert_int_equal(store_stmt_prepare(st, "SELECT i, r, s, b, n FROM t ORDER BY k", &sel),
	                 UM_OK);
	assert_int_equal(store_stmt_column_count(sel), 5);
	/* No row yet. */
	assert_int_equal(store_stmt_column_int64(sel, 0, &i), UM_ERR_STATE);
	assert_int_equal(store_stmt_step(sel), STORE_ROW);
	assert_int_equal(store_stmt_column_type(sel, 0), STORE_INT);
	assert_int_equal(store_stmt_column_type(sel, 1), STORE_REAL);
	assert_int_equal(store_stmt_column_type(sel, 2), STORE_TEXT);
	assert_int_equal(store_stmt_column_type(sel, 3), STORE_BLOB);
	assert_int_equal(store_stmt_column_type(sel, 4), STORE_NULL);
	assert_int_equal(store_stmt_column_type(sel, 9), STORE_NULL);
	assert_int_equal(store_stmt_column_int64(sel, 0, &i), UM_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(store_stmt_column_double(sel, 1, &d), UM_OK);
	assert_true(d == -0.5);
	assert_int_equal(store_stmt_column_text(sel, 2, &str, &len), UM_OK);
	assert_string_equal(str, "");
	assert_int_equal(len, 0);
	/* The empty blob is a blob, not NULL, and its pointer is usable. */
	assert_int_equal(store_stmt_column_blob(sel, 3, &b, &len), UM_OK);
	assert_non_null(b);
	assert_int_equal(len, 0);
	assert_false(store_stmt_column_is_null(sel, 3));
	assert_true(store_stmt_column_is_null(sel, 4));
	/* Strict types: NULL is not 0, a blob is not text, and so on. */
	assert_int_equal(store_stmt_column_int64(sel, 4, &i), UM_ERR_MALFORMED);
	assert_int_equal(i, 0);
	assert_int_equal(store_stmt_column_text(sel, 3, &str, &len), UM_ERR_MALFORMED);
	assert_null(str);
	assert_int_equal(store_stmt_column_blob(sel, 2, &b, &len), UM_ERR_MALFORMED);
	assert_null(b);
	assert_int_equal(store_stmt_column_double(sel, 0, &d), UM_ERR_MALFORMED);
	assert_int_equal(store_stmt_column_int64(sel, 1, &i), UM_ERR_MALFORMED);
	assert_int_equal(store_stmt_column_blob(sel, 4, &b, &len), UM_ERR_MALFORMED);
	assert_non_null(strstr(store_errmsg(st), "NULL"));
	/* Out of range. */
	assert_int_equal(store_stmt_column_int64(sel, 5, &i), UM_ERR_INVALID);
	assert_int_equal(store_stmt_column_int64(sel, -1, &i), UM_ERR_INVALID);
	/* No binding mid-rows. */
	assert_int_equal(store_stmt_step(sel), STORE_ROW);
	assert_int_equal(store_stmt_column_int64(sel, 0, &i), UM_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(store_stmt_column_double(sel, 1, &d), UM_OK);
	assert_true(d == 1e300);
	assert_int_equal(store_stmt_column_text(sel, 2, &str, NULL), UM_OK);
	assert_string_equal(str, utf8);
	assert_int_equal(store_stmt_column_blob(sel, 3, &b, &len), UM_OK);
	assert_int_equal(len, sizeof(zeros));
	assert_memory_equal(b, zeros, sizeof(zeros));
	assert_int_equal(store_stmt_column_int64(sel, 4, &i), UM_OK);
	assert_int_equal(i, 0);
	assert_int_equal(store_stmt_step(sel), STORE_DONE);
	assert_int_equal(store_stmt_column_int64(sel, 0, &i), UM_ERR_STATE);
	store_stmt_free(sel);

	/* A parameterised statement cannot be bound while it is between rows. */
	assert_int_equal(store_stmt_prepare(st, "SELECT k FROM t WHERE k >= ?", &sel), UM_OK);
	assert_int_equal(store_stmt_bind_int64(sel, 1, 0), UM_OK);
	assert_int_equal(store_stmt_step(sel), STORE_ROW);
	assert_int_equal(store_stmt_bind_int64(sel, 1, 2), UM_ERR_STATE);
	store_stmt_reset(sel);
	assert_int_equal(store_stmt_bind_int64(sel, 1, 2), UM_OK);
	assert_int_equal(store_stmt_step(sel), STORE_ROW);
	assert_int_equal(store_stmt_column_int64(sel, 0, &i), UM_OK);
	assert_int_equal(i, 2);
	store_stmt_free(sel);

	/* Text with an embedded NUL (written by hand) is refused, not cut short. */
	assert_int_equal(store_stmt_prepare(st, "SELECT CAST(x'610062' AS TEXT)", &sel), UM_OK);
	assert_int_equal(store_stmt_step(sel), STORE_ROW);
	assert_int_equal(store_stmt_column_text(sel, 0, &str, &len), UM_ERR_MALFORMED);
	store_stmt_free(sel);

	/* Values over the read cap are refused (the cap lowered to reach it cheaply). */
	assert_int_equal(
	        store_stmt_prepare(st, "SELECT zeroblob(1000), printf('%.*c', 1000, 'x')", &sel),
	        UM_OK);
	st->value_max = 999;
	assert_int_equal(store_stmt_step(sel), STORE_ROW);
	assert_int_equal(store_stmt_column_blob(sel, 0, &b, &len), UM_ERR_TOO_LARGE);
	assert_int_equal(store_stmt_column_text(sel, 1, &str, &len), UM_ERR_TOO_LARGE);
	st->value_max = 1000;
	assert_int_equal(store_stmt_column_blob(sel, 0, &b, &len), UM_OK);
	assert_int_equal(len, 1000);
	assert_int_equal(store_stmt_column_text(sel, 1, &str, &len), UM_OK);
	assert_int_equal(len, 1000);
	st->value_max = STORE_VALUE_MAX_LEN;
	store_stmt_free(sel);
	/* SQLite itself refuses to build a value past the row limit. */
	assert_int_equal(store_stmt_prepare(st, "SELECT zeroblob(?)", &sel), UM_OK);
	assert_int_equal(store_stmt_bind_int64(sel, 1, (int64_t)STORE_ROW_MAX_LEN + 1), UM_OK);
	assert_int_equal(store_stmt_step(sel), UM_ERR_TOO_LARGE);
	store_stmt_free(sel);

	/* One statement per handle; empty and wrong SQL. */
	assert_int_equal(store_stmt_prepare(st, "SELECT 1; SELECT 2", &sel), UM_ERR_INVALID);
	assert_null(sel);
	assert_int_equal(store_stmt_prepare(st, "  ;  ", &sel), UM_ERR_INVALID);
	assert_int_equal(store_stmt_prepare(st, "SELEKT 1", &sel), UM_ERR_DB);
	assert_non_null(strstr(store_errmsg(st), "syntax error"));
	/* Double-quoted strings are identifiers only: a typo is an error. */
	assert_int_equal(store_stmt_prepare(st, "SELECT \"nosuchcolumn\" FROM t", &sel), UM_ERR_DB);
	assert_int_equal(store_exec(st, "INSERT INTO nowhere VALUES (1)"), UM_ERR_DB);
	assert_non_null(strstr(store_errmsg(st), "no such table"));
	store_close(st);
}

static void
test_store_statements_survive_many_reuses(void **state)
{
	struct store *st = open_ok(STORE_PATH_MEMORY, NULL);
	struct store_stmt *ins = NULL, *sel = NULL;
	char text[32];
	const char *str;
	int64_t v;

	(void)state;
	exec_ok(st, "CREATE TABLE t (k INTEGER PRIMARY KEY, s TEXT NOT NULL)");
	assert_int_equal(store_stmt_prepare(st, "INSERT INTO t (k, s) VALUES (?, ?)", &ins), UM_OK);
	assert_int_equal(store_stmt_prepare(st, "SELECT s FROM t WHERE k = ?", &sel), UM_OK);
	assert_int_equal(store_begin(st), UM_OK);
	for (int i = 0; i < N_REUSE; i++) {
		snprintf(text, sizeof(text), "row %d", i);
		store_stmt_reset(ins);
		assert_int_equal(store_stmt_bind_int64(ins, 1, i), UM_OK);
		assert_int_equal(store_stmt_bind_text(ins, 2, text), UM_OK);
		assert_int_equal(store_stmt_step(ins), STORE_DONE);
	}
	assert_int_equal(store_commit(st), UM_OK);
	for (int i = 0; i < N_REUSE; i++) {
		int k = (i * 7919) % N_REUSE;

		snprintf(text, sizeof(text), "row %d", k);
		store_stmt_reset(sel);
		assert_int_equal(store_stmt_bind_int64(sel, 1, k), UM_OK);
		assert_int_equal(store_stmt_step(sel), STORE_ROW);
		assert_int_equal(store_stmt_column_text(sel, 0, &str, NULL), UM_OK);
		assert_string_equal(str, text);
	}
	/* And the kv statements, kept by the store, as many times. */
	for (int i = 0; i < N_REUSE; i++) {
		assert_int_equal(store_kv_put_int64(st, "counter", "n", 1, i), UM_OK);
		assert_int_equal(store_kv_get_int64(st, "counter", "n", 1, &v), UM_OK);
		assert_int_equal(v, i);
	}
	store_stmt_free(ins);
	store_stmt_free(sel);
	store_close(st);
}

/* ---- kv ---- */

struct kv_seen {
	size_t n;
	size_t stop_after;
	uint8_t first_key[8];
};

static int
kv_count(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
	struct kv_seen *seen = arg;

	(void)value;
	(void)value_len;
	if (seen->n == 0 && key_len <= sizeof(seen->first_key))
		memcpy(seen->first_key, key, key_len);
	if (++seen->n == seen->stop_after)
		return UM_ERR_NOT_FOUND;
	return UM_OK;
}

static void
test_store_kv(void **state)
{
	static const uint8_t bin_key[] = { 0x00, 0xff, 0x00, 0x01 };
	char big_ns[STORE_KV_NS_MAX_LEN + 2];
	uint8_t big_key[STORE_KV_KEY_MAX_LEN + 1] = { 0 };
	struct kv_seen seen = { 0 };
	struct tmp t;
	struct store *st;
	uint8_t *v = NULL;
	size_t n = 0;
	int64_t i;

	(void)state;
	tmp_init(&t);
	st = open_ok(tmp_path(&t, "kv.db"), NULL);
	assert_int_equal(store_kv_get(st, "dir.cache", "consensus", 9, 1024, &v, &n),
	                 UM_ERR_NOT_FOUND);
	assert_null(v);
	assert_int_equal(store_kv_put(st, "dir.cache", "consensus", 9, "first", 5), UM_OK);
	assert_int_equal(store_kv_get(st, "dir.cache", "consensus", 9, 1024, &v, &n), UM_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(v, "first", 5);
	free(v);
	/* Overwrite. */
	assert_int_equal(store_kv_put(st, "dir.cache", "consensus", 9, "second!", 7), UM_OK);
	assert_int_equal(store_kv_get(st, "dir.cache", "consensus", 9, 1024, &v, &n), UM_OK);
	assert_int_equal(n, 7);
	assert_memory_equal(v, "second!", 7);
	free(v);
	/* The caller's cap: nothing allocated past it. */
	assert_int_equal(store_kv_get(st, "dir.cache", "consensus", 9, 6, &v, &n),
	                 UM_ERR_TOO_LARGE);
	assert_null(v);
	assert_int_equal(n, 0);
	/* Namespaces are separate. */
	assert_int_equal(store_kv_get(st, "dir.pins", "consensus", 9, 1024, &v, &n),
	                 UM_ERR_NOT_FOUND);
	/* Binary keys, an empty key and an empty value. */
	assert_int_equal(store_kv_put(st, "dir.pins", bin_key, sizeof(bin_key), "", 0), UM_OK);
	assert_int_equal(store_kv_get(st, "dir.pins", bin_key, sizeof(bin_key), 0, &v, &n), UM_OK);
	assert_non_null(v);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_kv_get(st, "dir.pins", bin_key, 3, 16, &v, &n), UM_ERR_NOT_FOUND);
	assert_int_equal(store_kv_put(st, "dir.pins", NULL, 0, "empty key", 9), UM_OK);
	assert_int_equal(store_kv_get(st, "dir.pins", "", 0, 16, &v, &n), UM_OK);
	assert_memory_equal(v, "empty key", 9);
	free(v);
	/* Counters, negative ones included. */
	assert_int_equal(store_kv_put_int64(st, "wallet", "spent", 5, -2), UM_OK);
	assert_int_equal(store_kv_get_int64(st, "wallet", "spent", 5, &i), UM_OK);
	assert_int_equal(i, -2);
	assert_int_equal(store_kv_put_int64(st, "wallet", "max", 3, INT64_MAX), UM_OK);
	assert_int_equal(store_kv_get_int64(st, "wallet", "max", 3, &i), UM_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(store_kv_put_int64(st, "wallet", "min", 3, INT64_MIN), UM_OK);
	assert_int_equal(store_kv_get_int64(st, "wallet", "min", 3, &i), UM_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(store_kv_get_int64(st, "dir.cache", "consensus", 9, &i), UM_ERR_MALFORMED);
	assert_int_equal(store_kv_put(st, "wallet", "short", 5, "abc", 3), UM_OK);
	assert_int_equal(store_kv_get_int64(st, "wallet", "short", 5, &i), UM_ERR_MALFORMED);
	assert_int_equal(store_kv_get_int64(st, "wallet", "none", 4, &i), UM_ERR_NOT_FOUND);
	/* Foreach: every key of one namespace, in key order; early stop. */
	assert_int_equal(store_kv_foreach(st, "wallet", kv_count, &seen), UM_OK);
	assert_int_equal(seen.n, 4);
	assert_memory_equal(seen.first_key, "max", 3);
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	assert_int_equal(store_kv_foreach(st, "wallet", kv_count, &seen), UM_ERR_NOT_FOUND);
	assert_int_equal(seen.n, 2);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_kv_foreach(st, "nobody", kv_count, &seen), UM_OK);
	assert_int_equal(seen.n, 0);
	/* Delete. */
	assert_int_equal(store_kv_del(st, "wallet", "short", 5), UM_OK);
	assert_int_equal(store_kv_del(st, "wallet", "short", 5), UM_ERR_NOT_FOUND);
	assert_int_equal(store_kv_get(st, "wallet", "short", 5, 16, &v, &n), UM_ERR_NOT_FOUND);
	/* Bad arguments. */
	memset(big_ns, 'n', sizeof(big_ns) - 1);
	big_ns[sizeof(big_ns) - 1] = '\0';
	assert_int_equal(store_kv_put(st, big_ns, "k", 1, "v", 1), UM_ERR_INVALID);
	assert_int_equal(store_kv_put(st, "", "k", 1, "v", 1), UM_ERR_INVALID);
	assert_int_equal(store_kv_put(st, NULL, "k", 1, "v", 1), UM_ERR_INVALID);
	assert_int_equal(store_kv_put(st, "ns", big_key, sizeof(big_key), "v", 1), UM_ERR_INVALID);
	assert_int_equal(store_kv_put(st, "ns", big_key, sizeof(big_key) - 1, "v", 1), UM_OK);
	assert_int_equal(store_kv_put(st, "ns", NULL, 1, "v", 1), UM_ERR_INVALID);
	assert_int_equal(store_kv_del(st, "", "k", 1), UM_ERR_INVALID);
	/* Inside a transaction, kv writes are part of it. */
	assert_int_equal(store_begin(st), UM_OK);
	assert_int_equal(store_kv_put(st, "tx", "a", 1, "1", 1), UM_OK);
	assert_int_equal(store_rollback(st), UM_OK);
	assert_int_equal(store_kv_get(st, "tx", "a", 1, 16, &v, &n), UM_ERR_NOT_FOUND);
	store_close(st);

	/* Everything outside that transaction persisted. */
	st = open_ok(t.path, NULL);
	assert_int_equal(store_kv_get(st, "dir.cache", "consensus", 9, 1024, &v, &n), UM_OK);
	assert_memory_equal(v, "second!", 7);
	free(v);
	assert_int_equal(store_kv_get_int64(st, "wallet", "spent", 5, &i), UM_OK);
	assert_int_equal(i, -2);
	store_close(st);
	tmp_clear(&t);
}

/* ---- damaged files ---- */

/* Open path: an error with a sentence, or a store on which reads may fail but never crash. */
static void
open_damaged(const char *path, bool must_fail_check)
{
	struct store *st = NULL;
	struct store_stmt *s = NULL;
	const uint8_t *b;
	size_t len;
	char why[WHY_LEN] = "";
	int ret;

	ret = store_open(path, NULL, &st, why, sizeof(why));
	if (ret != UM_OK) {
		assert_int_equal(ret, UM_ERR_DB);
		assert_null(st);
		assert_non_null(strstr(why, path));
		return;
	}
	if (store_stmt_prepare(st, "SELECT k, b FROM t", &s) == UM_OK) {
		while ((ret = store_stmt_step(s)) == STORE_ROW)
			if (store_stmt_column_blob(s, 1, &b, &len) == UM_OK)
				assert_true(len <= STORE_VALUE_MAX_LEN);
		assert_true(ret == STORE_DONE || ret == UM_ERR_DB);
		store_stmt_free(s);
	}
	ret = store_integrity_check(st);
	if (must_fail_check)
		assert_int_equal(ret, UM_ERR_DB);
	if (ret != UM_OK)
		assert_true(store_errmsg(st)[0] != '\0');
	store_close(st);
}

static void
make_db_with_rows(const char *path, uint64_t *seed)
{
	struct store *st = open_ok(path, NULL);
	struct store_stmt *ins = NULL;
	uint8_t blob[200];

	exec_ok(st, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB NOT NULL)");
	assert_int_equal(store_stmt_prepare(st, "INSERT INTO t (k, b) VALUES (?, ?)", &ins), UM_OK);
	assert_int_equal(store_begin(st), UM_OK);
	for (int i = 0; i < 300; i++) {
		rnd_fill(seed, blob, sizeof(blob));
		store_stmt_reset(ins);
		assert_int_equal(store_stmt_bind_int64(ins, 1, i), UM_OK);
		assert_int_equal(store_stmt_bind_blob(ins, 2, blob, sizeof(blob)), UM_OK);
		assert_int_equal(store_stmt_step(ins), STORE_DONE);
	}
	assert_int_equal(store_commit(st), UM_OK);
	store_stmt_free(ins);
	store_close(st); /* checkpoints the WAL into the file and removes it */
}

static void
test_store_damaged_files_give_errors(void **state)
{
	static const uint8_t header[16] = "SQLite format 3";
	static const size_t sizes[] = { 1, 100, 512, 4096, 65536 };
	struct tmp t;
	struct store *st = NULL;
	char why[WHY_LEN];
	uint8_t *buf;
	size_t file_len;
	struct stat sb;
	int fd;

	(void)state;
	tmp_init(&t);
	buf = malloc(65536);
	assert_non_null(buf);

	/* Random bytes: not a database, said so. */
	for (size_t i = 0; i < UM_ARRAY_LEN(sizes); i++) {
		uint64_t seed = 0x9e3779b97f4a7c15ULL + i;

		rnd_fill(&seed, buf, sizes[i]);
		write_raw(tmp_path(&t, "random.db"), buf, sizes[i], 0600);
		assert_int_equal(store_open(t.path, NULL, &st, why, sizeof(why)), UM_ERR_DB);
		assert_null(st);
		assert_non_null(strstr(why, "not an SQLite database or is damaged"));
		/* The file is not removed: it may be someone's only copy. */
		assert_int_equal(access(t.path, F_OK), 0);
		/* The same bytes behind a valid magic string. */
		if (sizes[i] >= sizeof(header)) {
			memcpy(buf, header, sizeof(header));
			write_raw(t.path, buf, sizes[i], 0600);
			open_damaged(t.path, false);
		}
	}

	/* Another application's database is refused. */
	st = open_ok(tmp_path(&t, "other.db"), NULL);
	exec_ok(st, "PRAGMA application_id = 42");
	store_close(st);
	assert_int_equal(store_open(t.path, NULL, &st, why, sizeof(why)), UM_ERR_DB);
	assert_non_null(strstr(why, "not an umbra database"));

	/* A good database with pages overwritten or bytes flipped. */
	for (uint64_t k = 1; k <= N_CORRUPT_SEEDS; k++) {
		uint64_t seed = k * 0x100000001b3ULL;

		make_db_with_rows(tmp_path(&t, "damaged.db"), &seed);
		assert_int_equal(stat(t.path, &sb), 0);
		file_len = (size_t)sb.st_size;
		assert_true(file_len > 4 * 4096);
		fd = open(t.path, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		if (k % 2 == 0) {
			/* Whole pages of noise from page 2 (or 3) on: the check must fail. */
			off_t from = (off_t)(k % 4 == 0 ? 4096 : 8192);

			for (off_t off = from; off < (off_t)file_len; off += 4096) {
				rnd_fill(&seed, buf, 4096);
				assert_int_equal(pwrite(fd, buf, 4096, off), 4096);
			}
		} else {
			/* A few flipped bytes anywhere past the magic string: may or may not be
			 * detected (free space), never a crash. */
			for (int j = 0; j < 40; j++) {
				uint8_t byte;
				off_t off = (off_t)(16 + rnd_next(&seed) % (file_len - 16));

				assert_int_equal(pread(fd, &byte, 1, off), 1);
				byte ^= (uint8_t)(1u << (rnd_next(&seed) % 8));
				assert_int_equal(pwrite(fd, &byte, 1, off), 1);
			}
		}
		assert_int_equal(close(fd), 0);
		open_damaged(t.path, k % 2 == 0);
		assert_int_equal(unlink(t.path), 0);
	}
	free(buf);
	tmp_clear(&t);
}

/* ---- durability: SIGKILL in the middle of a burst of commits ---- */

/*
 * The child commits N_DURABLE_TX transactions and reports each index on the pipe after the
 * commit returned: even indices through store_begin/commit with a row and a kv entry in one
 * transaction, odd ones as a single autocommitted statement. It never returns into cmocka.
 */
static void
durable_child(const char *path, int round, int wfd)
{
	struct store *st = NULL;
	struct store_stmt *ins = NULL;
	char why[WHY_LEN];
	int ok = 0;

	if (store_open(path, NULL, &st, why, sizeof(why)) != UM_OK ||
	    store_stmt_prepare(st, "INSERT INTO d (i, payload) VALUES (?, ?)", &ins) != UM_OK)
		_exit(2);
	for (int32_t n = 0; n < N_DURABLE_TX; n++) {
		int32_t i = round * N_DURABLE_TX + n;
		uint8_t payload[64];
		bool tx = i % 2 == 0;

		memset(payload, (int)(i & 0xff), sizeof(payload));
		store_stmt_reset(ins);
		if ((tx && store_begin(st) != UM_OK) || store_stmt_bind_int64(ins, 1, i) != UM_OK ||
		    store_stmt_bind_blob(ins, 2, payload, sizeof(payload)) != UM_OK ||
		    store_stmt_step(ins) != STORE_DONE)
			_exit(3);
		if (tx && (store_kv_put_int64(st, "durable", &i, sizeof(i), i) != UM_OK ||
		           store_commit(st) != UM_OK))
			_exit(4);
		/* Acknowledged: the commit returned. */
		if (write(wfd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(5);
		ok++;
	}
	store_stmt_free(ins);
	store_close(st);
	_exit(ok == N_DURABLE_TX ? 0 : 6);
}

static int
cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static void
test_store_sigkill_loses_no_acknowledged_write(void **state)
{
	struct tmp t;
	struct store *st;
	struct store_stmt *sel = NULL;
	int32_t *acked = calloc(N_DURABLE_TX * N_DURABLE_ROUNDS, sizeof(int32_t));
	size_t n_acked = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	(void)state;
	assert_non_null(acked);
	print_message("durability seed %u\n", seed);
	srand(seed);
	tmp_init(&t);
	st = open_ok(tmp_path(&t, "durable.db"), NULL);
	exec_ok(st, "CREATE TABLE d (i INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
	store_close(st);

	for (int round = 0; round < N_DURABLE_ROUNDS; round++) {
		int32_t i;
		ssize_t r;
		size_t kill_after = 1 + (size_t)rand() % (N_DURABLE_TX * 9 / 10);
		size_t got = 0;
		int pfd[2];
		int status;
		pid_t pid;

		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			durable_child(t.path, round, pfd[1]);
		}
		close(pfd[1]);
		/* Let it get going, then kill it at a random point of a later commit. */
		while (got < kill_after && read(pfd[0], &i, sizeof(i)) == (ssize_t)sizeof(i)) {
			acked[n_acked++] = i;
			got++;
		}
		usleep((useconds_t)(rand() % 500));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* On very fast storage the child may have finished first: still a valid run. */
		if (!WIFSIGNALED(status) && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fail_msg("child failed with status %d", WEXITSTATUS(status));
		/* Whatever it acknowledged before dying is still in the pipe. */
		while ((r = read(pfd[0], &i, sizeof(i))) == (ssize_t)sizeof(i)) {
			acked[n_acked++] = i;
			got++;
		}
		assert_int_equal(r, 0);
		close(pfd[0]);
		print_message("round %d: killed after %zu acknowledged commits\n", round, got);
		assert_true(got >= kill_after);
	}

	st = open_ok(t.path, NULL);
	assert_int_equal(store_integrity_check(st), UM_OK);
	assert_int_equal(store_stmt_prepare(st, "SELECT count(*) FROM d WHERE i = ?", &sel), UM_OK);
	qsort(acked, n_acked, sizeof(acked[0]), cmp_i32);
	for (size_t k = 0; k < n_acked; k++) {
		int64_t c = 0, v = 0;
		int32_t i = acked[k];

		store_stmt_reset(sel);
		assert_int_equal(store_stmt_bind_int64(sel, 1, i), UM_OK);
		assert_int_equal(store_stmt_step(sel), STORE_ROW);
		assert_int_equal(store_stmt_column_int64(sel, 0, &c), UM_OK);
		if (c != 1)
			fail_msg("acknowledged commit %d lost", i);
		if (i % 2 == 0) {
			assert_int_equal(store_kv_get_int64(st, "durable", &i, sizeof(i), &v),
			                 UM_OK);
			assert_int_equal(v, i);
		}
	}
	/* Atomicity: every committed transaction has both its row and its kv entry, acknowledged
	 * or not (the kill may fall between the commit and the report). */
	assert_int_equal(query_int(st, "SELECT count(*) FROM d WHERE i % 2 = 0"),
	                 query_int(st, "SELECT count(*) FROM kv WHERE ns = 'durable'"));
	assert_true(query_int(st, "SELECT count(*) FROM d") >= (int64_t)n_acked);
	store_stmt_free(sel);
	store_close(st);
	free(acked);
	tmp_clear(&t);
}

/* ---- in memory ---- */

static void
test_store_in_memory(void **state)
{
	struct store_schema s3 = { "test", migs, 3 };
	struct store *st;
	uint8_t *v = NULL;
	size_t n = 0;

	(void)state;
	n_calls = 0;
	st = open_ok(STORE_PATH_MEMORY, &s3);
	assert_int_equal(n_calls, 3);
	assert_int_equal(store_kv_put(st, "x", "k", 1, "v", 1), UM_OK);
	assert_int_equal(store_kv_get(st, "x", "k", 1, 1, &v, &n), UM_OK);
	free(v);
	assert_int_equal(store_integrity_check(st), UM_OK);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_creates_file_0600),
		cmocka_unit_test(test_store_refuses_unsafe_files),
		cmocka_unit_test(test_store_migrations_run_once_in_order),
		cmocka_unit_test(test_store_newer_database_refused),
		cmocka_unit_test(test_store_failed_migration_is_rolled_back),
		cmocka_unit_test(test_store_bad_schemas_refused),
		cmocka_unit_test(test_store_transactions),
		cmocka_unit_test(test_store_constraint_violations),
		cmocka_unit_test(test_store_binds_and_columns_of_every_type),
		cmocka_unit_test(test_store_statements_survive_many_reuses),
		cmocka_unit_test(test_store_kv),
		cmocka_unit_test(test_store_damaged_files_give_errors),
		cmocka_unit_test(test_store_sigkill_loses_no_acknowledged_write),
		cmocka_unit_test(test_store_in_memory),
	};

	log_set_level(UM_LOG_WARN);
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
