/* SPDX-License-Identifier: MIT */
/*
 * Prepared statements: one SQL statement per handle, typed binds that copy their values, steps
 * mapped to STORE_ROW / STORE_DONE / um_err, and column reads that accept exactly the stored
 * type and cap what they return. What comes out of the file is treated as input: a wrong type,
 * an embedded NUL in text or an over-long value is an error, never a silent conversion.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "store/store_st.h"

/* Where an empty blob points: callers may memcpy from it without a NULL check. */
static const uint8_t empty_blob[1];

static int
prepare(struct store *st, const char *sql, bool internal, struct store_stmt **out)
{
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	struct store_stmt *s;
	int rc;

	*out = NULL;
	if (sql == NULL) {
		store_set_errmsg(st, "no SQL given");
		return UM_ERR_INVALID;
	}
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
	if (rc != SQLITE_OK)
		return store_err_from_rc(st, rc);
	if (stmt == NULL) {
		store_set_errmsg(st, "no SQL statement in \"%.64s\"", sql);
		return UM_ERR_INVALID;
	}
	/* One statement per handle: a second one would be silently ignored. */
	tail += strspn(tail, " \t\r\n;");
	if (*tail != '\0') {
		sqlite3_finalize(stmt);
		store_set_errmsg(st, "more than one SQL statement (at \"%.32s\")", tail);
		return UM_ERR_INVALID;
	}
	s = um_xcalloc(1, sizeof(*s));
	s->st = st;
	s->stmt = stmt;
	s->internal = internal;
	if (!internal)
		st->n_stmts++;
	*out = s;
	return UM_OK;
}

int
store_stmt_prepare(struct store *st, const char *sql, struct store_stmt **out)
{
	return prepare(st, sql, false, out);
}

int
store_stmt_prepare_internal(struct store *st, const char *sql, struct store_stmt **out)
{
	return prepare(st, sql, true, out);
}

void
store_stmt_free_(struct store_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_finalize(s->stmt);
	if (!s->internal)
		s->st->n_stmts--;
	free(s);
}

static int
bind_result(struct store_stmt *s, int idx, int rc)
{
	if (rc == SQLITE_OK)
		return UM_OK;
	if ((rc & 0xff) == SQLITE_MISUSE) {
		/* SQLite refuses to bind while the statement is between rows. */
		store_set_errmsg(s->st,
		                 "bind of parameter %d while the statement runs; reset it first",
		                 idx);
		return UM_ERR_STATE;
	}
	return store_err_from_rc(s->st, rc);
}

int
store_stmt_bind_int64(struct store_stmt *s, int idx, int64_t v)
{
	return bind_result(s, idx, sqlite3_bind_int64(s->stmt, idx, (sqlite3_int64)v));
}

int
store_stmt_bind_double(struct store_stmt *s, int idx, double v)
{
	return bind_result(s, idx, sqlite3_bind_double(s->stmt, idx, v));
}

int
store_stmt_bind_text(struct store_stmt *s, int idx, const char *str)
{
	size_t len;

	if (str == NULL) {
		store_set_errmsg(s->st, "NULL text for parameter %d (bind NULL explicitly)", idx);
		return UM_ERR_INVALID;
	}
	len = strnlen(str, (size_t)STORE_VALUE_MAX_LEN + 1);
	if (len > STORE_VALUE_MAX_LEN) {
		store_set_errmsg(s->st, "text for parameter %d is over %d bytes", idx,
		                 STORE_VALUE_MAX_LEN);
		return UM_ERR_TOO_LARGE;
	}
	return bind_result(s, idx,
	                   sqlite3_bind_text(s->stmt, idx, str, (int)len, SQLITE_TRANSIENT));
}

int
store_stmt_bind_blob(struct store_stmt *s, int idx, const void *p, size_t len)
{
	if (len > STORE_VALUE_MAX_LEN) {
		store_set_errmsg(s->st, "blob for parameter %d is %zu bytes, over %d", idx, len,
		                 STORE_VALUE_MAX_LEN);
		return UM_ERR_TOO_LARGE;
	}
	/* sqlite3_bind_blob() with a NULL pointer binds NULL; an empty blob is a value. */
	if (len == 0)
		return bind_result(s, idx, sqlite3_bind_zeroblob(s->stmt, idx, 0));
	if (p == NULL) {
		store_set_errmsg(s->st, "NULL blob of %zu bytes for parameter %d", len, idx);
		return UM_ERR_INVALID;
	}
	return bind_result(s, idx, sqlite3_bind_blob(s->stmt, idx, p, (int)len, SQLITE_TRANSIENT));
}

int
store_stmt_bind_null(struct store_stmt *s, int idx)
{
	return bind_result(s, idx, sqlite3_bind_null(s->stmt, idx));
}

int
store_stmt_step(struct store_stmt *s)
{
	int rc = sqlite3_step(s->stmt);
	int ret;

	s->on_row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW)
		return STORE_ROW;
	if (rc == SQLITE_DONE)
		return STORE_DONE;
	ret = store_err_from_rc(s->st, rc);
	/* Rewind now (bindings stay) so the handle is usable again and holds no lock. */
	sqlite3_reset(s->stmt);
	return ret != UM_OK ? ret : UM_ERR_DB;
}

void
store_stmt_reset(struct store_stmt *s)
{
	/* sqlite3_reset() repeats the last step's error, which the step already reported. */
	sqlite3_reset(s->stmt);
	sqlite3_clear_bindings(s->stmt);
	s->on_row = false;
}

int
store_stmt_column_count(const struct store_stmt *s)
{
	return sqlite3_column_count(s->stmt);
}

static enum store_type
type_of(int t)
{
	switch (t) {
	case SQLITE_INTEGER:
		return STORE_INT;
	case SQLITE_FLOAT:
		return STORE_REAL;
	case SQLITE_TEXT:
		return STORE_TEXT;
	case SQLITE_BLOB:
		return STORE_BLOB;
	default:
		return STORE_NULL;
	}
}

static const char *
type_name(enum store_type t)
{
	switch (t) {
	case STORE_INT:
		return "an integer";
	case STORE_REAL:
		return "a real";
	case STORE_TEXT:
		return "text";
	case STORE_BLOB:
		return "a blob";
	default:
		return "NULL";
	}
}

static bool
col_in_range(const struct store_stmt *s, int col)
{
	return s->on_row && col >= 0 && col < sqlite3_column_count(s->stmt);
}

enum store_type
store_stmt_column_type(struct store_stmt *s, int col)
{
	if (!col_in_range(s, col))
		return STORE_NULL;
	return type_of(sqlite3_column_type(s->stmt, col));
}

bool
store_stmt_column_is_null(struct store_stmt *s, int col)
{
	return store_stmt_column_type(s, col) == STORE_NULL;
}

/* UM_OK if the current row has column col of type want. */
static int
col_check(struct store_stmt *s, int col, enum store_type want)
{
	enum store_type got;

	if (!s->on_row) {
		store_set_errmsg(s->st, "column %d read without a current row", col);
		return UM_ERR_STATE;
	}
	if (!col_in_range(s, col)) {
		store_set_errmsg(s->st, "column %d out of range (%d columns)", col,
		                 sqlite3_column_count(s->stmt));
		return UM_ERR_INVALID;
	}
	got = type_of(sqlite3_column_type(s->stmt, col));
	if (got != want) {
		store_set_errmsg(s->st, "column %d (%s) is %s, not %s", col,
		                 sqlite3_column_name(s->stmt, col), type_name(got),
		                 type_name(want));
		return UM_ERR_MALFORMED;
	}
	return UM_OK;
}

int
store_stmt_column_int64(struct store_stmt *s, int col, int64_t *v)
{
	int ret;

	*v = 0;
	if ((ret = col_check(s, col, STORE_INT)) != UM_OK)
		return ret;
	*v = (int64_t)sqlite3_column_int64(s->stmt, col);
	return UM_OK;
}

int
store_stmt_column_double(struct store_stmt *s, int col, double *v)
{
	int ret;

	*v = 0;
	if ((ret = col_check(s, col, STORE_REAL)) != UM_OK)
		return ret;
	*v = sqlite3_column_double(s->stmt, col);
	return UM_OK;
}

/* Check a text or blob length against the cap. */
static int
len_check(struct store_stmt *s, int col, int n)
{
	if (n < 0 || (size_t)n > s->st->value_max) {
		store_set_errmsg(s->st, "column %d (%s) holds %d bytes, over the limit of %zu", col,
		                 sqlite3_column_name(s->stmt, col), n, s->st->value_max);
		return UM_ERR_TOO_LARGE;
	}
	return UM_OK;
}

int
store_stmt_column_text(struct store_stmt *s, int col, const char **str, size_t *len)
{
	const unsigned char *t;
	int n;
	int ret;

	*str = NULL;
	if (len != NULL)
		*len = 0;
	if ((ret = col_check(s, col, STORE_TEXT)) != UM_OK)
		return ret;
	/* Pointer first, then length: the documented order for a value not converted. */
	t = sqlite3_column_text(s->stmt, col);
	n = sqlite3_column_bytes(s->stmt, col);
	if (t == NULL)
		return store_err_from_rc(s->st, SQLITE_NOMEM);
	if ((ret = len_check(s, col, n)) != UM_OK)
		return ret;
	/* Callers use the text as a C string: an embedded NUL would cut it short. */
	if (memchr(t, '\0', (size_t)n) != NULL) {
		store_set_errmsg(s->st, "column %d (%s) holds a NUL byte", col,
		                 sqlite3_column_name(s->stmt, col));
		return UM_ERR_MALFORMED;
	}
	*str = (const char *)t;
	if (len != NULL)
		*len = (size_t)n;
	return UM_OK;
}

int
store_stmt_column_blob(struct store_stmt *s, int col, const uint8_t **p, size_t *len)
{
	const void *b;
	int n;
	int ret;

	*p = NULL;
	*len = 0;
	if ((ret = col_check(s, col, STORE_BLOB)) != UM_OK)
		return ret;
	b = sqlite3_column_blob(s->stmt, col);
	n = sqlite3_column_bytes(s->stmt, col);
	if ((ret = len_check(s, col, n)) != UM_OK)
		return ret;
	if (n == 0) {
		*p = empty_blob;
		return UM_OK;
	}
	if (b == NULL)
		return store_err_from_rc(s->st, SQLITE_NOMEM);
	*p = b;
	*len = (size_t)n;
	return UM_OK;
}
