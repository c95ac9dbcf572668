/* SPDX-License-Identifier: MIT */
/*
 * Relay bindings (table issuer_relays, schema "issuer" version 3) and the signed relay-trust
 * feed made from them (issuer_relays.h). Fixed SQL with `?` parameters; the feed's signals
 * come from one statement whose dispute predicate is issuer_dispute_is_active()'s.
 */
#include "trust/issuer_relays.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "trust/issuer_st.h"

/* Version 3 of the issuer schema (issuer_store.c lists it): node id -> relay subject. */
const char issuer_schema_v3[] =
        "CREATE TABLE issuer_relays ("
        " node_id BLOB PRIMARY KEY NOT NULL"
        "  CHECK (typeof(node_id) = 'blob' AND length(node_id) = 32),"
        " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
        " added INTEGER NOT NULL);"
        "CREATE INDEX issuer_relays_subject ON issuer_relays(subject, node_id);";

static const char NS[] = "issuer_relaytrust";
static const char SEQ_KEY[] = "seq";

/* ---- bindings ---- */

static int
count_all(struct issuer *is, size_t *n)
{
	struct store_stmt *s = NULL;
	int64_t v = 0;
	int ret;

	*n = 0;
	if ((ret = store_stmt_prepare(is->st, "SELECT COUNT(*) FROM issuer_relays", &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_step(s)) == STORE_ROW &&
	    (ret = store_stmt_column_int64(s, 0, &v)) == UM_OK)
		*n = v < 0 ? 0 : (size_t)v;
	else if (ret >= 0)
		ret = UM_ERR_DB;
	store_stmt_free(s);
	return ret;
}

/* The subject node_id is bound to: UM_OK with owner filled, or UM_ERR_NOT_FOUND. */
static int
owner_get(struct issuer *is, const uint8_t node_id[RELAY_TRUST_ID_LEN], char *owner, size_t cap)
{
	struct store_stmt *s = NULL;
	const char *p;
	size_t n = 0;
	int ret;

	owner[0] = '\0';
	if ((ret = store_stmt_prepare(is->st, "SELECT subject FROM issuer_relays WHERE node_id = ?",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, node_id, RELAY_TRUST_ID_LEN)) == UM_OK) {
		ret = store_stmt_step(s);
		if (ret == STORE_DONE)
			ret = UM_ERR_NOT_FOUND;
		else if (ret == STORE_ROW &&
		         (ret = store_stmt_column_text(s, 0, &p, &n)) == UM_OK) {
			if (n >= cap)
				ret = UM_ERR_MALFORMED;
			else
				memcpy(owner, p, n + 1);
		}
	}
	store_stmt_free(s);
	return ret;
}

static int
exec_bound(struct issuer *is, const char *sql, const uint8_t node_id[RELAY_TRUST_ID_LEN],
           const char *subject, uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(is->st, sql, &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, node_id, RELAY_TRUST_ID_LEN)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 2, subject)) == UM_OK &&
	    (now_s == 0 || (ret = store_stmt_bind_int64(s, 3, (int64_t)now_s)) == UM_OK)) {
		ret = store_stmt_step(s);
		ret = ret == STORE_DONE ? UM_OK : ret < 0 ? ret : UM_ERR_INTERNAL;
	}
	store_stmt_free(s);
	return ret;
}

static int
audit_bind(struct issuer *is, const char *actor, const char *subject,
           const uint8_t node_id[RELAY_TRUST_ID_LEN], bool add, uint64_t now_s)
{
	char b32[BASE32_LEN(RELAY_TRUST_ID_LEN)], *s = NULL;
	json_t *j = NULL;
	int ret;

	if (enc_base32(b32, sizeof(b32), node_id, RELAY_TRUST_ID_LEN) == UM_OK)
		j = add ? json_pack("{s:s, s:n, s:{s:s}}", "node_id", b32, "old", "new", "node_id",
		                    b32)
		        : json_pack("{s:s, s:{s:s}, s:n}", "node_id", b32, "old", "node_id", b32,
		                    "new");
	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (s == NULL)
		return issuer_fail(is, UM_ERR_INTERNAL, "cannot encode the audit record");
	ret = issuer_db_audit_append(is, now_s, actor, add ? "relay.bind" : "relay.unbind", subject,
	                             s);
	free(s);
	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

/* Inside the transaction: the change and its audit row. */
static int
bind_tx(struct issuer *is, const char *actor, const char *subject,
        const uint8_t node_id[RELAY_TRUST_ID_LEN], bool add, uint64_t now_s)
{
	struct issuer_subject sub;
	char owner[ISSUER_ID_MAX_LEN + 1];
	size_t n;
	int ret;

	ret = issuer_db_subject_get(is, subject, &sub);
	if (ret == UM_ERR_NOT_FOUND)
		return issuer_fail(is, ret, "no such subject");
	if (ret != UM_OK)
		return issuer_db_fail(is, ret);
	ret = owner_get(is, node_id, owner, sizeof(owner));
	if (ret != UM_OK && ret != UM_ERR_NOT_FOUND)
		return issuer_db_fail(is, ret);
	if (!add) {
		if (ret == UM_ERR_NOT_FOUND || strcmp(owner, subject) != 0)
			return issuer_fail(is, UM_ERR_NOT_FOUND,
			                   "this node id is not bound to this subject");
		if ((ret = exec_bound(is,
		                      "DELETE FROM issuer_relays WHERE node_id = ? AND subject = ?",
		                      node_id, subject, 0)) != UM_OK)
			return issuer_db_fail(is, ret);
		return audit_bind(is, actor, subject, node_id, false, now_s);
	}
	if (sub.kind != ISSUER_KIND_RELAY)
		return issuer_fail(is, UM_ERR_STATE, "the subject is not of kind relay");
	if (ret == UM_OK)
		return strcmp(owner, subject) == 0
		               ? UM_OK /* bound already: nothing changes, no audit row */
		               : issuer_fail(is, UM_ERR_EXISTS,
		                             "this node id is bound to another subject");
	if ((ret = count_all(is, &n)) != UM_OK)
		return issuer_db_fail(is, ret);
	if (n >= RELAY_TRUST_MAX_ENTRIES)
		return issuer_fail(is, UM_ERR_TOO_LARGE, "too many relays bound (at most 2048)");
	if ((ret = exec_bound(
	             is, "INSERT INTO issuer_relays (node_id, subject, added) VALUES (?, ?, ?)",
	             node_id, subject, now_s)) != UM_OK)
		return issuer_db_fail(is, ret);
	return audit_bind(is, actor, subject, node_id, true, now_s);
}

int
issuer_relay_bind(struct issuer *is, const char *actor, const char *subject,
                  const uint8_t node_id[RELAY_TRUST_ID_LEN], bool add, uint64_t now_s)
{
	int ret;

	if (!issuer_id_is_valid(actor))
		return issuer_fail(is, UM_ERR_INVALID, "invalid actor: 1..64 of [A-Za-z0-9._:@-]");
	if (!issuer_id_is_valid(subject))
		return issuer_fail(is, UM_ERR_INVALID,
		                   "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if (now_s == 0 || now_s > ISSUER_NOW_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "time out of range");
	if ((ret = issuer_tx_begin(is)) != UM_OK)
		return ret;
	ret = bind_tx(is, actor, subject, node_id, add, now_s);
	return issuer_tx_end(is, ret);
}

int
issuer_relay_foreach(struct issuer *is, const char *subject, issuer_relay_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n;
	int ret;

	if (!issuer_id_is_valid(subject))
		return issuer_fail(is, UM_ERR_INVALID,
		                   "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if ((ret = store_stmt_prepare(is->st,
	                              "SELECT node_id FROM issuer_relays WHERE subject = ?"
	                              " ORDER BY node_id",
	                              &s)) != UM_OK)
		return issuer_db_fail(is, ret);
	if ((ret = store_stmt_bind_text(s, 1, subject)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &p, &n)) != UM_OK)
			break;
		if (n != RELAY_TRUST_ID_LEN) {
			ret = UM_ERR_MALFORMED;
			break;
		}
		if ((ret = fn(arg, p)) != UM_OK) {
			store_stmt_free(s);
			return ret;
		}
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

/* ---- the feed's signals ---- */

/*
 * Per bound node id of a relay subject: its base tier, reputation, bond, how many disputes
 * are active at ?1 (issuer_dispute_is_active()), the lowest cap among them, and whether the
 * subject is revoked (issuer_roles.h).
 */
static const char collect_sql[] =
        "SELECT r.node_id, s.tier, s.reputation, s.bond,"
        " (SELECT COUNT(*) FROM issuer_disputes d WHERE d.subject = s.id"
        "  AND d.cleared_at IS NULL AND d.opened <= ?1 AND ?1 < d.expires),"
        " (SELECT MIN(d.tier_cap) FROM issuer_disputes d WHERE d.subject = s.id"
        "  AND d.cleared_at IS NULL AND d.opened <= ?1 AND ?1 < d.expires),"
        " EXISTS (SELECT 1 FROM issuer_revoked_subjects v WHERE v.subject = s.id)"
        " FROM issuer_relays r JOIN issuer_subjects s ON s.id = r.subject"
        " WHERE s.kind = 'relay' ORDER BY r.node_id LIMIT ?2";

static int
collect_row(struct store_stmt *s, struct relay_trust_entry *e)
{
	int64_t tier, rep, bond, n_active, cap = 0, revoked = 0;
	const uint8_t *p;
	size_t n;
	int ret;

	memset(e, 0, sizeof(*e));
	if ((ret = store_stmt_column_blob(s, 0, &p, &n)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 1, &tier)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 2, &rep)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 3, &bond)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 4, &n_active)) != UM_OK)
		return ret;
	if (!store_stmt_column_is_null(s, 5) &&
	    (ret = store_stmt_column_int64(s, 5, &cap)) != UM_OK)
		return ret;
	if ((ret = store_stmt_column_int64(s, 6, &revoked)) != UM_OK)
		return ret;
	if (n != RELAY_TRUST_ID_LEN || tier < ISSUER_TIER_MIN || tier > ISSUER_TIER_MAX)
		return UM_ERR_MALFORMED;
	memcpy(e->node_id, p, RELAY_TRUST_ID_LEN);
	e->bond = bond > 0 ? (uint64_t)bond : 0; /* a legacy negative bond vouches for nothing */
	e->reputation = rep > INT32_MAX ? INT32_MAX : rep < INT32_MIN ? INT32_MIN : (int32_t)rep;
	e->disputed = n_active > 0;
	e->tier = (uint8_t)tier;
	if (n_active > 0 && cap >= ISSUER_TIER_MIN && cap < tier)
		e->tier = (uint8_t)cap;
	if (revoked != 0) {
		/* A revoked subject's relays: no bond vouched for, and flagged like a dispute. */
		e->bond = 0;
		e->disputed = true;
	}
	return UM_OK;
}

int
issuer_relay_trust_collect(struct issuer *is, uint64_t now_s, struct relay_trust *d)
{
	struct store_stmt *s = NULL;
	int ret;

	d->n = 0;
	if (now_s > (uint64_t)INT64_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "time out of range");
	if ((ret = store_stmt_prepare(is->st, collect_sql, &s)) != UM_OK)
		return issuer_db_fail(is, ret);
	if ((ret = store_stmt_bind_int64(s, 1, (int64_t)now_s)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 2, RELAY_TRUST_MAX_ENTRIES)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if (d->n >= RELAY_TRUST_MAX_ENTRIES) {
			ret = UM_ERR_INTERNAL; /* LIMIT says otherwise */
			break;
		}
		if ((ret = collect_row(s, &d->v[d->n])) != UM_OK)
			break;
		d->n++;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	if (ret != UM_OK) {
		d->n = 0;
		return issuer_db_fail(is, ret);
	}
	return UM_OK;
}

/* ---- the signed feed ---- */

struct issuer_rtfeed {
	struct store *st;
	struct issuer *is;
	const struct keys_ed25519 *id;
	uint64_t lifetime_s;
	int64_t seq;
	struct relay_trust *cur; /* what doc says (NULL before the first) */
	struct relay_trust *next;
	uint8_t *doc;
	size_t len;
	uint64_t checked_s; /* signals last read at */
};

int
issuer_rtfeed_open(struct store *st, struct issuer *is, const struct keys_ed25519 *id,
                   uint64_t lifetime_s, struct issuer_rtfeed **out)
{
	struct issuer_rtfeed *f;
	int64_t seq = 0;
	int ret;

	*out = NULL;
	if (lifetime_s < 60 || lifetime_s > RELAY_TRUST_LIFETIME_MAX_S)
		return UM_ERR_INVALID;
	ret = store_kv_get_int64(st, NS, SEQ_KEY, strlen(SEQ_KEY), &seq);
	if (ret == UM_ERR_NOT_FOUND)
		seq = 0;
	else if (ret != UM_OK)
		return ret;
	if (seq < 0)
		return UM_ERR_MALFORMED;
	f = um_xcalloc(1, sizeof(*f));
	f->st = st;
	f->is = is;
	f->id = id;
	f->lifetime_s = lifetime_s;
	f->seq = seq;
	f->next = um_xcalloc(1, sizeof(*f->next));
	*out = f;
	return UM_OK;
}

void
issuer_rtfeed_free_(struct issuer_rtfeed *f)
{
	if (f == NULL)
		return;
	free(f->cur);
	free(f->next);
	free(f->doc);
	free(f);
}

uint64_t
issuer_rtfeed_seq(const struct issuer_rtfeed *f)
{
	return f->cur != NULL ? f->cur->seq : 0;
}

static bool
same_entries(const struct relay_trust *a, const struct relay_trust *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct relay_trust_entry *x = &a->v[i], *y = &b->v[i];

		if (memcmp(x->node_id, y->node_id, RELAY_TRUST_ID_LEN) != 0 || x->bond != y->bond ||
		    x->reputation != y->reputation || x->disputed != y->disputed ||
		    x->tier != y->tier)
			return false;
	}
	return true;
}

int
issuer_rtfeed_doc(struct issuer_rtfeed *f, uint64_t now_s, const uint8_t **doc, size_t *len)
{
	struct relay_trust *d = f->next;
	struct wire_wr w;
	uint8_t *buf;
	int ret;

	*doc = NULL;
	*len = 0;
	/* The signals are read at most once a second: a burst of requests costs one query. */
	if (f->doc != NULL && now_s == f->checked_s) {
		*doc = f->doc;
		*len = f->len;
		return UM_OK;
	}
	if ((ret = issuer_relay_trust_collect(f->is, now_s, d)) != UM_OK)
		return ret;
	f->checked_s = now_s;
	/* Re-signed on change and at half its lifetime, so a fetched feed never lapses early. */
	if (f->doc != NULL && same_entries(f->cur, d) &&
	    now_s < f->cur->published_s + f->lifetime_s / 2 && now_s >= f->cur->published_s) {
		*doc = f->doc;
		*len = f->len;
		return UM_OK;
	}
	if (f->seq == INT64_MAX)
		return UM_ERR_STATE;
	if ((ret = store_kv_put_int64(f->st, NS, SEQ_KEY, strlen(SEQ_KEY), f->seq + 1)) != UM_OK)
		return ret;
	f->seq++;
	d->version = RELAY_TRUST_VERSION;
	d->seq = (uint64_t)f->seq;
	d->published_s = now_s;
	d->expires_s = now_s + f->lifetime_s;
	buf = um_xmalloc(RELAY_TRUST_MAX_LEN);
	wire_wr_init(&w, buf, RELAY_TRUST_MAX_LEN);
	if ((ret = relay_trust_sign(d, f->id)) != UM_OK ||
	    (ret = relay_trust_encode(d, &w)) != UM_OK) {
		free(buf);
		return ret;
	}
	free(f->doc);
	f->doc = buf;
	f->len = w.len;
	/* The document now says d: keep it, and reuse the old one for the next read. */
	f->next = f->cur != NULL ? f->cur : um_xcalloc(1, sizeof(*f->next));
	f->cur = d;
	log_info(LD_APP, "issuer: relay-trust feed seq %llu signed (%u relays)",
	         (unsigned long long)d->seq, (unsigned)d->n);
	*doc = f->doc;
	*len = f->len;
	return UM_OK;
}
