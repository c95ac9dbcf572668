/* SPDX-License-Identifier: MIT */
/*
 * Opening and closing a store: the file checks (0600, ours, no symlink, companions -wal/-shm
 * included), the connection settings that make a returned UM_OK durable (WAL +
 * synchronous=FULL) and a hostile or damaged file harmless (defensive mode, untrusted schema,
 * a length limit, cell size checks), SQLite result codes mapped to um_err with the message
 * kept for store_errmsg(), store_exec(), transactions and the integrity check. Schema
 * migrations are in migrate.c, statements in stmt.c, the kv table in kv.c.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/store_st.h"

UM_PRINTF(3, 4) static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

void
store_set_errmsg(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
}

int
store_err_from_rc(struct store *st, int rc)
{
	int ret;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return UM_OK;
	case SQLITE_CONSTRAINT:
		/* "Already there" is what callers branch on (an upsert race, a replayed token);
		 * NOT NULL, CHECK and FOREIGN KEY failures are bad values from the caller. */
		ret = rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
		                      rc == SQLITE_CONSTRAINT_ROWID
		              ? UM_ERR_EXISTS
		              : UM_ERR_INVALID;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		ret = UM_ERR_TIMEOUT;
		break;
	case SQLITE_TOOBIG:
		ret = UM_ERR_TOO_LARGE;
		break;
	case SQLITE_NOMEM:
		ret = UM_ERR_NOMEM;
		break;
	case SQLITE_RANGE:
		ret = UM_ERR_INVALID;
		break;
	case SQLITE_MISUSE:
		ret = UM_ERR_STATE;
		break;
	default:
		ret = UM_ERR_DB;
		break;
	}
	st->last_rc = rc;
	store_set_errmsg(st, "%s (sqlite code %d)", sqlite3_errmsg(st->db), rc);
	return ret;
}

const char *
store_errmsg(const struct store *st)
{
	return st->errmsg;
}

static bool
is_memory(const char *path)
{
	return strcmp(path, STORE_PATH_MEMORY) == 0;
}

/* Refuse what keyfile_read() refuses: not a regular file, not ours, group/other bits. */
static int
check_mode(const char *what, const char *path, const struct stat *sb, char *why, size_t why_len)
{
	if (!S_ISREG(sb->st_mode)) {
		say(why, why_len, "%s %s is not a regular file", what, path);
		return UM_ERR_PERM;
	}
	if (sb->st_uid != geteuid()) {
		say(why, why_len, "%s %s is owned by uid %u, not by us (uid %u); run: chown %u %s",
		    what, path, (unsigned)sb->st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
		    path);
		return UM_ERR_PERM;
	}
	if ((sb->st_mode & 077) != 0) {
		say(why, why_len,
		    "%s %s is accessible by group or others (mode 0%o); it may hold private "
		    "state; run: chmod 600 %s",
		    what, path, (unsigned)(sb->st_mode & 0777), path);
		return UM_ERR_PERM;
	}
	return UM_OK;
}

/* fsync the directory holding path, so a newly created file's name survives power loss. */
static int
sync_parent_dir(const char *path)
{
	char *dir = um_xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd;
	int ret = UM_OK;

	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		ret = UM_ERR_SYS;
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

/*
 * Create path 0600 if missing (*created set), else check the existing file and its WAL and
 * shared-memory companions. SQLite creates -wal and -shm with the database's mode, so a 0600
 * database keeps them 0600.
 */
static int
prepare_file(const char *path, bool *created, char *why, size_t why_len)
{
	static const char *const companions[] = { "-wal", "-shm" };
	struct stat sb;
	off_t db_size;
	off_t wal_size = 0;
	int fd;
	int ret;

	*created = false;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		*created = true;
		/* The umask may clear bits but never adds any; be explicit anyway. */
		if (fchmod(fd, 0600) != 0) {
			say(why, why_len, "cannot set mode 0600 on database %s: %s", path,
			    strerror(errno));
			close(fd);
			return UM_ERR_SYS;
		}
		close(fd);
		if (sync_parent_dir(path) != UM_OK) {
			say(why, why_len, "cannot sync the directory of database %s: %s", path,
			    strerror(errno));
			return UM_ERR_SYS;
		}
		return UM_OK;
	}
	if (errno != EEXIST) {
		say(why, why_len, "cannot create database %s: %s", path, strerror(errno));
		return UM_ERR_SYS;
	}
	/* O_NONBLOCK: a FIFO must not block the open; it is refused below. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP) {
			say(why, why_len,
			    "database %s is a symbolic link; configure the path of the file itself",
			    path);
			return UM_ERR_PERM;
		}
		say(why, why_len, "cannot open database %s: %s", path, strerror(errno));
		return UM_ERR_SYS;
	}
	if (fstat(fd, &sb) != 0) {
		say(why, why_len, "cannot stat database %s: %s", path, strerror(errno));
		close(fd);
		return UM_ERR_SYS;
	}
	close(fd);
	if ((ret = check_mode("database", path, &sb, why, why_len)) != UM_OK)
		return ret;
	db_size = sb.st_size;
	for (size_t i = 0; i < UM_ARRAY_LEN(companions); i++) {
		char *p = um_xasprintf("%s%s", path, companions[i]);

		if (lstat(p, &sb) != 0) {
			ret = errno == ENOENT ? UM_OK : UM_ERR_SYS;
			if (ret != UM_OK)
				say(why, why_len, "cannot stat %s: %s", p, strerror(errno));
		} else if (S_ISLNK(sb.st_mode)) {
			say(why, why_len, "database file %s is a symbolic link; remove it", p);
			ret = UM_ERR_PERM;
		} else {
			ret = check_mode("database file", p, &sb, why, why_len);
			if (i == 0)
				wal_size = sb.st_size;
		}
		free(p);
		if (ret != UM_OK)
			return ret;
	}
	/* SQLite writes whole pages (512 bytes at least) and treats a file too short to hold a
	 * header as empty, overwriting it: a truncated state file would silently become an empty
	 * database. Only a WAL holding the content (never checkpointed yet) explains one. */
	if (db_size > 0 && db_size < 512 && wal_size == 0) {
		say(why, why_len,
		    "database %s is not an SQLite database or is damaged (%lld bytes, shorter "
		    "than a page); restore it from a backup, or move it aside to start with an "
		    "empty one",
		    path, (long long)db_size);
		return UM_ERR_DB;
	}
	return UM_OK;
}

/* Run a PRAGMA that answers one row and copy its first column as text into out. */
static int
pragma_text(struct store *st, const char *sql, char *out, size_t out_len)
{
	sqlite3_stmt *stmt = NULL;
	const unsigned char *t;
	int rc;
	int ret;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_err_from_rc(st, rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(stmt, 0);
		snprintf(out, out_len, "%s", t != NULL ? (const char *)t : "");
		ret = UM_OK;
	} else if (rc == SQLITE_DONE) {
		store_set_errmsg(st, "%s returned no row", sql);
		ret = UM_ERR_DB;
	} else {
		ret = store_err_from_rc(st, rc);
	}
	sqlite3_finalize(stmt);
	return ret;
}

/* Apply a setting and read it back: a PRAGMA SQLite does not know is silently ignored. */
static int
pragma_set(struct store *st, const char *set, const char *get, const char *want)
{
	char got[32];
	int ret;

	if ((ret = store_exec(st, set)) != UM_OK)
		return ret;
	if ((ret = pragma_text(st, get, got, sizeof(got))) != UM_OK)
		return ret;
	if (strcmp(got, want) != 0) {
		store_set_errmsg(st, "%s did not take effect (%s is %s)", set, get, got);
		return UM_ERR_DB;
	}
	return UM_OK;
}

static int
configure(struct store *st, bool memory)
{
	char mode[32];
	int ret;

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	/* A damaged or hostile file can claim any value length; SQLite refuses (SQLITE_TOOBIG)
	 * instead of allocating past this limit. */
	sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH, STORE_ROW_MAX_LEN);
	/* Defensive: no writable_schema tricks, no direct shadow-table writes. Untrusted schema:
	 * views and triggers in the file cannot call functions with side effects. No
	 * double-quoted string literals: a misspelled column name is an error, not a string. */
	if (sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) != SQLITE_OK ||
	    sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) != SQLITE_OK ||
	    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DQS_DML, 0, NULL) != SQLITE_OK ||
	    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL) != SQLITE_OK) {
		store_set_errmsg(st, "cannot configure the SQLite connection");
		return UM_ERR_DB;
	}
	/* The first statement that reads the file: a non-database fails here (SQLITE_NOTADB). */
	if ((ret = pragma_text(st, "PRAGMA journal_mode=WAL", mode, sizeof(mode))) != UM_OK)
		return ret;
	if (strcmp(mode, memory ? "memory" : "wal") != 0) {
		store_set_errmsg(st, "cannot switch to WAL mode (journal_mode is %s)", mode);
		return UM_ERR_DB;
	}
	/* FULL: in WAL mode each commit fsyncs the WAL, so an acknowledged write survives power
	 * loss, not only a crash of the process (NORMAL would lose the last commits). */
	if ((ret = pragma_set(st, "PRAGMA synchronous=FULL", "PRAGMA synchronous", "2")) != UM_OK ||
	    (ret = pragma_set(st, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1")) != UM_OK ||
	    /* Deleted rows (spent tokens, old pins) are overwritten, not left in free pages. */
	    (ret = pragma_set(st, "PRAGMA secure_delete=ON", "PRAGMA secure_delete", "1")) !=
	            UM_OK ||
	    (ret = store_exec(st, "PRAGMA cell_size_check=ON")) != UM_OK)
		return ret;
	return UM_OK;
}

int
store_open(const char *path, const struct store_schema *schema, struct store **out, char *why,
           size_t why_len)
{
	struct store *st = NULL;
	bool created = false;
	bool memory;
	int flags;
	int rc;
	int ret = UM_ERR_INTERNAL;

	*out = NULL;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (path == NULL || path[0] == '\0') {
		say(why, why_len, "no database path given");
		return UM_ERR_INVALID;
	}
	memory = is_memory(path);
	if (!memory && (ret = prepare_file(path, &created, why, why_len)) != UM_OK)
		return ret;

	st = um_xcalloc(1, sizeof(*st));
	st->path = um_xstrdup(path);
	st->value_max = STORE_VALUE_MAX_LEN;
	/* The file exists by now: no SQLITE_OPEN_CREATE, so a path swapped in between is not
	 * silently created; NOFOLLOW refuses a symlink put in its place. NOMUTEX: one thread at
	 * a time uses a store (store.h). */
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	flags |= memory ? SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY : SQLITE_OPEN_NOFOLLOW;
	rc = sqlite3_open_v2(path, &st->db, flags, NULL);
	if (rc != SQLITE_OK) {
		say(why, why_len, "cannot open database %s: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		ret = UM_ERR_DB;
		goto out;
	}
	if ((ret = configure(st, memory)) != UM_OK) {
		if ((st->last_rc & 0xff) == SQLITE_NOTADB || (st->last_rc & 0xff) == SQLITE_CORRUPT)
			say(why, why_len,
			    "database %s is not an SQLite database or is damaged (%s); restore it "
			    "from a backup, or move it aside to start with an empty one",
			    path, st->errmsg);
		else
			say(why, why_len, "cannot set up database %s: %s", path, st->errmsg);
		ret = UM_ERR_DB;
		goto out;
	}
	if ((ret = store_bootstrap(st)) != UM_OK ||
	    (schema != NULL && (ret = store_migrate(st, schema)) != UM_OK)) {
		say(why, why_len, "database %s: %s", path, st->errmsg);
		goto out;
	}
	*out = st;
	st = NULL;
	ret = UM_OK;
out:
	if (st != NULL) {
		store_close_(st);
		/* Leave no empty file behind from a failed first start. */
		if (created)
			unlink(path);
	}
	return ret;
}

void
store_close_(struct store *st)
{
	if (st == NULL)
		return;
	if (st->in_tx && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = false;
	store_stmt_free(st->kv_get);
	store_stmt_free(st->kv_put);
	store_stmt_free(st->kv_del);
	if (UM_BUG(st->n_stmts != 0)) {
		/* A caller still holds statements: close lazily (SQLite closes when the last one
		 * is finalized) and leak st, which those statements point to. */
		sqlite3_close_v2(st->db);
		return;
	}
	/* The last connection checkpoints the WAL into the database and removes it. */
	sqlite3_close_v2(st->db);
	free(st->path);
	free(st);
}

int
store_exec(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? UM_OK : store_err_from_rc(st, rc);
}

int64_t
store_changes(const struct store *st)
{
	return (int64_t)sqlite3_changes64(st->db);
}

int64_t
store_last_insert_rowid(const struct store *st)
{
	return (int64_t)sqlite3_last_insert_rowid(st->db);
}

int
store_begin(struct store *st)
{
	int ret;

	if (st->in_tx || !sqlite3_get_autocommit(st->db)) {
		store_set_errmsg(st, "a transaction is already open (transactions do not nest)");
		return UM_ERR_STATE;
	}
	if ((ret = store_exec(st, "BEGIN IMMEDIATE")) != UM_OK)
		return ret;
	st->in_tx = true;
	return UM_OK;
}

int
store_commit(struct store *st)
{
	int ret;

	if (!st->in_tx) {
		store_set_errmsg(st, "commit without an open transaction");
		return UM_ERR_STATE;
	}
	ret = store_exec(st, "COMMIT");
	/* A failed COMMIT may leave the transaction open (SQLITE_BUSY): roll it back, so the
	 * caller's view ("nothing of it was written") and the file agree. */
	if (ret != UM_OK && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = false;
	return ret;
}

int
store_rollback(struct store *st)
{
	int ret = UM_OK;

	if (!st->in_tx) {
		store_set_errmsg(st, "rollback without an open transaction");
		return UM_ERR_STATE;
	}
	/* Some errors (disk full, I/O error) make SQLite roll back by itself. */
	if (!sqlite3_get_autocommit(st->db))
		ret = store_exec(st, "ROLLBACK");
	st->in_tx = false;
	return ret;
}

bool
store_in_tx(const struct store *st)
{
	return st->in_tx;
}

int
store_end(struct store *st, int ret)
{
	if (ret == UM_OK)
		return store_commit(st);
	if (st->in_tx && store_rollback(st) != UM_OK)
		log_warn(LD_STORE, "rollback failed: %s", store_errmsg(st));
	return ret;
}

int
store_tx(struct store *st, store_tx_fn *fn, void *arg)
{
	char msg[STORE_ERRMSG_LEN];
	int ret;

	if ((ret = store_begin(st)) != UM_OK)
		return ret;
	if ((ret = fn(st, arg)) == UM_OK)
		return store_commit(st);
	/* Keep fn's error and its message: they say why; a failed rollback adds nothing (SQLite
	 * then rolls back when the connection closes, and nothing was committed). */
	memcpy(msg, st->errmsg, sizeof(msg));
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = false;
	memcpy(st->errmsg, msg, sizeof(msg));
	return ret;
}

int
store_integrity_check(struct store *st)
{
	char res[STORE_ERRMSG_LEN];
	int ret;

	if ((ret = pragma_text(st, "PRAGMA integrity_check(1)", res, sizeof(res))) != UM_OK)
		return UM_ERR_DB;
	if (strcmp(res, "ok") != 0) {
		store_set_errmsg(st, "integrity check failed: %s", res);
		return UM_ERR_DB;
	}
	return UM_OK;
}
