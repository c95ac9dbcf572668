/* SPDX-License-Identifier: MIT */
/*
 * Layouts of the store's opaque types, and the helpers its files share. Included only by
 * the .c files of src/store/ and tests/unit/test_store.c.
 */
#ifndef UM_STORE_STORE_ST_H
#define UM_STORE_STORE_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>

#include "lib/compiler.h"
#include "store/store.h"

/* PRAGMA application_id of umbra databases: "UMBR". */
#define STORE_APPLICATION_ID 0x554d4252

struct store {
	sqlite3 *db;
	char *path;
	bool in_tx;       /* between store_begin() and store_commit()/store_rollback() */
	size_t n_stmts;   /* statements from store_stmt_prepare() not yet freed */
	size_t value_max; /* column read cap, STORE_VALUE_MAX_LEN (tests lower it) */
	int last_rc;      /* SQLite's code for the last failure */
	/* The kv statements, prepared on first use, finalized by store_close(). */
	struct store_stmt *kv_get;
	struct store_stmt *kv_put;
	struct store_stmt *kv_del;
	char errmsg[STORE_ERRMSG_LEN];
};

struct store_stmt {
	struct store *st;
	sqlite3_stmt *stmt;
	bool internal; /* one of the store's own (not counted in n_stmts) */
	bool on_row;   /* the last step returned a row: columns may be read */
};

/* Record SQLite's message for rc on st and return the um_err for rc (UM_OK for SQLITE_OK,
 * SQLITE_ROW and SQLITE_DONE). */
int store_err_from_rc(struct store *st, int rc);
/* Record a message of ours. */
void store_set_errmsg(struct store *st, const char *fmt, ...) UM_PRINTF(2, 3);
/* Prepare one of the store's own statements (not counted as a caller's). */
int store_stmt_prepare_internal(struct store *st, const char *sql,
                                struct store_stmt **out) UM_WARN_UNUSED;
/* Create schema_version and kv and run the store's own steps. */
int store_bootstrap(struct store *st) UM_WARN_UNUSED;

#endif /* UM_STORE_STORE_ST_H */
