/* SPDX-License-Identifier: MIT */
/*
 * The issuer's token signing keys (issuer_keys.h). Stored in the kv table, namespace
 * "issuer_keys":
 *
 *   "key_epoch", "min_token_epoch", "keys_seq", "revs_seq"   int64 counters
 *   "k" | tier [1] | epoch [4, big-endian]                   PKCS#8 DER of that key
 *   "c" | tier [1] | epoch [4, big-endian]                   int64: the key's creation time
 *
 * Every change of epochs happens in one store transaction with its keys, so a crash leaves
 * either the old state or the new one.
 */
#include "trust/issuer_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "trust/issuer_doc.h"
#include "trust/issuer_st.h"

static const char NS[] = "issuer_keys";

enum {
	KEYS_PER_RING = ISSUER_KEYS_TIERS_MAX * ISSUER_KEYS_EPOCHS_MAX,
	KV_KEY_LEN = 1 + 1 + 4,
};

struct ring_key {
	uint8_t tier;
	uint32_t epoch;
	uint64_t created_s;
	struct blindrsa_key *sk; /* private (holds the public half too) */
	uint8_t spki[BLINDRSA_SPKI_MAX];
	size_t spki_len;
};

struct issuer_keyring {
	struct store *st;
	const struct keys_ed25519 *id;
	struct issuer_keyring_config cfg;
	uint32_t epoch, min_epoch;
	int64_t keys_seq, revs_seq;
	size_t n;
	struct ring_key keys[KEYS_PER_RING]; /* sorted by (tier, epoch) */
	/* The signed documents, remade when stale. */
	uint8_t *keys_doc;
	size_t keys_len;
	bool keys_stale;
	uint8_t *revs_doc;
	size_t revs_len;
	uint64_t revs_published_s;
	bool revs_stale;
	struct issuer *audit; /* NULL: no audit rows */
	/* The revoked subjects the current feed lists, and where they come from. */
	issuer_keyring_subjects_fn *subjects_fn;
	void *subjects_arg;
	size_t n_subjects;
	char (*subjects)[ISSUER_ID_MAX_LEN + 1]; /* ISSUER_DOC_MAX_SUBJECTS, or NULL */
};

void
issuer_keyring_config_defaults(struct issuer_keyring_config *cfg)
{
	cfg->tiers = ISSUER_KEYS_DEFAULT_TIERS;
	cfg->bits = BLINDRSA_DEFAULT_BITS;
	cfg->revs_lifetime_s = ISSUER_KEYS_REVS_LIFETIME_DEFAULT_S;
	cfg->key_lifetime_s = 90 * 86400;
}

static void
kv_key(uint8_t out[KV_KEY_LEN], char kind, uint8_t tier, uint32_t epoch)
{
	out[0] = (uint8_t)kind;
	out[1] = tier;
	wire_store_u32(out + 2, epoch);
}

static int
get_counter(struct store *st, const char *name, int64_t def, int64_t *v)
{
	int ret = store_kv_get_int64(st, NS, name, strlen(name), v);

	if (ret == UM_ERR_NOT_FOUND) {
		*v = def;
		return UM_OK;
	}
	return ret;
}

static int
put_counter(struct store *st, const char *name, int64_t v)
{
	return store_kv_put_int64(st, NS, name, strlen(name), v);
}

static void
ring_key_clear(struct ring_key *k)
{
	blindrsa_key_free(k->sk);
	memset(k, 0, sizeof(*k));
}

static int
ring_add(struct issuer_keyring *kr, uint8_t tier, uint32_t epoch, uint64_t created_s,
         struct blindrsa_key *sk)
{
	struct ring_key *k;
	size_t i;
	int ret;

	if (kr->n == KEYS_PER_RING) {
		blindrsa_key_free(sk);
		return UM_ERR_TOO_LARGE;
	}
	/* Keep (tier, epoch) order: the key list wants it. */
	for (i = kr->n; i > 0; i--) {
		const struct ring_key *p = &kr->keys[i - 1];

		if (p->tier < tier || (p->tier == tier && p->epoch < epoch))
			break;
		kr->keys[i] = kr->keys[i - 1];
	}
	k = &kr->keys[i];
	memset(k, 0, sizeof(*k));
	k->tier = tier;
	k->epoch = epoch;
	k->created_s = created_s;
	k->sk = sk;
	kr->n++;
	if ((ret = blindrsa_pk_export(sk, k->spki, sizeof(k->spki), &k->spki_len)) != UM_OK)
		return ret;
	return UM_OK;
}

/* Make and store the key of (tier, epoch) (inside the caller's transaction). */
static int
make_key(struct issuer_keyring *kr, uint8_t tier, uint32_t epoch, uint64_t now_s)
{
	uint8_t der[BLINDRSA_PKCS8_MAX], kk[KV_KEY_LEN];
	struct blindrsa_key *sk = NULL;
	size_t len = 0;
	int ret;

	if ((ret = blindrsa_key_generate(kr->cfg.bits, &sk)) != UM_OK)
		return ret;
	if ((ret = blindrsa_sk_export(sk, der, sizeof(der), &len)) == UM_OK) {
		kv_key(kk, 'k', tier, epoch);
		ret = store_kv_put(kr->st, NS, kk, sizeof(kk), der, len);
	}
	um_memzero(der, sizeof(der));
	kv_key(kk, 'c', tier, epoch);
	if (ret == UM_OK)
		ret = store_kv_put_int64(kr->st, NS, kk, sizeof(kk), (int64_t)now_s);
	if (ret != UM_OK) {
		blindrsa_key_free(sk);
		return ret;
	}
	return ring_add(kr, tier, epoch, now_s, sk);
}

static int
make_epoch(struct issuer_keyring *kr, uint32_t epoch, uint64_t now_s)
{
	int ret = UM_OK;

	for (unsigned t = 1; t <= kr->cfg.tiers && ret == UM_OK; t++)
		ret = make_key(kr, (uint8_t)t, epoch, now_s);
	return ret;
}

/* End a transaction: commit on success, roll back otherwise. */
static int
tx_end(struct store *st, int ret)
{
	if (ret == UM_OK)
		return store_commit(st);
	if (store_rollback(st) != UM_OK)
		log_warn(LD_APP, "issuer keys: rollback failed: %s", store_errmsg(st));
	return ret;
}

struct load_ctx {
	struct issuer_keyring *kr;
	int err;
};

static int
load_one(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
	struct load_ctx *lc = arg;
	struct issuer_keyring *kr = lc->kr;
	struct blindrsa_key *sk = NULL;
	uint8_t ck[KV_KEY_LEN];
	int64_t created = 0;
	uint32_t epoch;
	int ret;

	if (key_len != KV_KEY_LEN || key[0] != 'k')
		return UM_OK;
	epoch = wire_load_u32(key + 2);
	if (key[1] < 1 || key[1] > kr->cfg.tiers || epoch < kr->min_epoch || epoch > kr->epoch)
		return UM_OK; /* a tier no longer configured, or retired: left unpublished */
	if ((ret = blindrsa_sk_import(value, value_len, &sk)) != UM_OK) {
		lc->err = ret;
		return ret;
	}
	/* The creation time read inside the foreach: reads are allowed there. */
	memcpy(ck, key, KV_KEY_LEN);
	ck[0] = 'c';
	if (store_kv_get_int64(kr->st, NS, ck, sizeof(ck), &created) != UM_OK)
		created = 0; /* unknown: the key list then dates it to the epoch's start, 0 */
	return ring_add(kr, key[1], epoch, (uint64_t)created, sk);
}

static int
save_counters(struct issuer_keyring *kr)
{
	int ret;

	if ((ret = put_counter(kr->st, "key_epoch", kr->epoch)) != UM_OK ||
	    (ret = put_counter(kr->st, "min_token_epoch", kr->min_epoch)) != UM_OK ||
	    (ret = put_counter(kr->st, "keys_seq", kr->keys_seq)) != UM_OK ||
	    (ret = put_counter(kr->st, "revs_seq", kr->revs_seq)) != UM_OK)
		return ret;
	return UM_OK;
}

int
issuer_keyring_open(struct store *st, const struct keys_ed25519 *id,
                    const struct issuer_keyring_config *cfg, uint64_t now_s,
                    struct issuer_keyring **out, char *why, size_t why_len)
{
	struct issuer_keyring *kr;
	struct load_ctx lc;
	int64_t ep, min, ks, rs;
	int ret;

	*out = NULL;
	if (cfg->tiers < 1 || cfg->tiers > ISSUER_KEYS_TIERS_MAX || cfg->bits < BLINDRSA_MIN_BITS ||
	    cfg->bits > BLINDRSA_MAX_BITS || cfg->revs_lifetime_s < 60 ||
	    cfg->revs_lifetime_s > ISSUER_DOC_REVS_LIFETIME_MAX_S || cfg->key_lifetime_s < 60) {
		snprintf(why, why_len, "issuer keys: bad settings (tiers 1..15, 2048..4096 bits)");
		return UM_ERR_INVALID;
	}
	if ((ret = get_counter(st, "key_epoch", 0, &ep)) != UM_OK ||
	    (ret = get_counter(st, "min_token_epoch", 1, &min)) != UM_OK ||
	    (ret = get_counter(st, "keys_seq", 0, &ks)) != UM_OK ||
	    (ret = get_counter(st, "revs_seq", 0, &rs)) != UM_OK) {
		snprintf(why, why_len, "issuer keys: cannot read the key state: %s",
		         um_err_str(ret));
		return ret;
	}
	if (ep < 0 || ep > UINT32_MAX || min < 1 || min > UINT32_MAX || (ep > 0 && min > ep) ||
	    ks < 0 || rs < 0) {
		snprintf(why, why_len, "issuer keys: the stored key state is damaged");
		return UM_ERR_DB;
	}
	kr = um_xcalloc(1, sizeof(*kr));
	kr->st = st;
	kr->id = id;
	kr->cfg = *cfg;
	kr->epoch = (uint32_t)ep;
	kr->min_epoch = (uint32_t)min;
	kr->keys_seq = ks;
	kr->revs_seq = rs;
	kr->keys_stale = kr->revs_stale = true;
	if (kr->epoch == 0) {
		/* First start: epoch 1. */
		kr->epoch = 1;
		if ((ret = store_begin(st)) == UM_OK) {
			if ((ret = make_epoch(kr, 1, now_s)) == UM_OK)
				ret = save_counters(kr);
			ret = tx_end(st, ret);
		}
		if (ret == UM_OK)
			log_notice(LD_APP, "issuer: made the epoch 1 token keys for tiers 1..%u",
			           cfg->tiers);
	} else {
		lc.kr = kr;
		lc.err = UM_OK;
		ret = store_kv_foreach(st, NS, load_one, &lc);
		/* A tier configured since: give the current epoch a key for it. */
		for (unsigned t = 1; ret == UM_OK && t <= cfg->tiers; t++) {
			if (issuer_keyring_public(kr, (uint8_t)t, kr->epoch) != NULL)
				continue;
			if ((ret = store_begin(st)) == UM_OK)
				ret = tx_end(st, make_key(kr, (uint8_t)t, kr->epoch, now_s));
		}
	}
	if (ret != UM_OK) {
		snprintf(why, why_len, "issuer keys: cannot load or make the token keys: %s",
		         um_err_str(ret));
		issuer_keyring_free(kr);
		return ret;
	}
	*out = kr;
	return UM_OK;
}

void
issuer_keyring_free_(struct issuer_keyring *kr)
{
	if (kr == NULL)
		return;
	for (size_t i = 0; i < kr->n; i++)
		ring_key_clear(&kr->keys[i]);
	free(kr->keys_doc);
	free(kr->revs_doc);
	free(kr->subjects);
	free(kr);
}

void
issuer_keyring_set_subjects(struct issuer_keyring *kr, issuer_keyring_subjects_fn *fn, void *arg)
{
	kr->subjects_fn = fn;
	kr->subjects_arg = arg;
	kr->revs_stale = true;
}

/* Read the subjects source; mark the feed stale when the list changed. */
static int
subjects_refresh(struct issuer_keyring *kr)
{
	char(*cur)[ISSUER_ID_MAX_LEN + 1];
	size_t n = 0;
	int ret;

	if (kr->subjects_fn == NULL)
		return UM_OK;
	cur = um_xcalloc(ISSUER_DOC_MAX_SUBJECTS, sizeof(*cur));
	if ((ret = kr->subjects_fn(kr->subjects_arg, cur, ISSUER_DOC_MAX_SUBJECTS, &n)) != UM_OK) {
		free(cur);
		return ret;
	}
	if (kr->subjects == NULL || n != kr->n_subjects ||
	    memcmp(cur, kr->subjects, n * sizeof(*cur)) != 0)
		kr->revs_stale = true;
	free(kr->subjects);
	kr->subjects = cur;
	kr->n_subjects = n;
	return UM_OK;
}

uint32_t
issuer_keyring_epoch(const struct issuer_keyring *kr)
{
	return kr->epoch;
}

uint32_t
issuer_keyring_min_epoch(const struct issuer_keyring *kr)
{
	return kr->min_epoch;
}

static const struct ring_key *
find(const struct issuer_keyring *kr, uint8_t tier, uint32_t epoch)
{
	for (size_t i = 0; i < kr->n; i++) {
		if (kr->keys[i].tier == tier && kr->keys[i].epoch == epoch)
			return &kr->keys[i];
	}
	return NULL;
}

const struct blindrsa_key *
issuer_keyring_public(const struct issuer_keyring *kr, uint8_t tier, uint32_t epoch)
{
	const struct ring_key *k = find(kr, tier, epoch);

	return k != NULL ? k->sk : NULL;
}

void
issuer_keyring_set_audit(struct issuer_keyring *kr, struct issuer *is)
{
	kr->audit = is;
}

/* The audit row of a key change, inside its transaction (nothing without an audit sink). */
static int
audit_row(struct issuer_keyring *kr, uint64_t now_s, const char *action, const char *detail)
{
	if (kr->audit == NULL)
		return UM_OK;
	return issuer_db_audit_append(kr->audit, now_s, "admin", action, "", detail);
}

int
issuer_keyring_rotate(struct issuer_keyring *kr, uint64_t now_s)
{
	char detail[96];
	int ret;

	if (kr->epoch - kr->min_epoch + 1 >= ISSUER_KEYS_EPOCHS_MAX)
		return UM_ERR_STATE;
	if ((ret = store_begin(kr->st)) != UM_OK)
		return ret;
	kr->epoch++;
	kr->keys_seq++;
	ret = make_epoch(kr, kr->epoch, now_s);
	if (ret == UM_OK)
		ret = save_counters(kr);
	snprintf(detail, sizeof(detail), "{\"key_epoch\":%" PRIu32 ",\"tiers\":%u}", kr->epoch,
	         (unsigned)kr->cfg.tiers);
	if (ret == UM_OK)
		ret = audit_row(kr, now_s, "keys.rotate", detail);
	if ((ret = tx_end(kr->st, ret)) != UM_OK) {
		/* Undo in memory what the rolled-back transaction undid on disk. */
		for (size_t i = 0; i < kr->n;) {
			if (kr->keys[i].epoch == kr->epoch) {
				ring_key_clear(&kr->keys[i]);
				memmove(&kr->keys[i], &kr->keys[i + 1],
				        (kr->n - i - 1) * sizeof(kr->keys[0]));
				kr->n--;
			} else {
				i++;
			}
		}
		kr->epoch--;
		kr->keys_seq--;
		return ret;
	}
	kr->keys_stale = true;
	log_notice(LD_APP, "issuer: token key epoch %u begins", kr->epoch);
	return UM_OK;
}

int
issuer_keyring_set_min_epoch(struct issuer_keyring *kr, uint32_t e, uint64_t now_s)
{
	uint8_t kk[KV_KEY_LEN];
	uint32_t old = kr->min_epoch;
	char detail[96];
	int ret;

	if (e < kr->min_epoch || e > kr->epoch)
		return UM_ERR_INVALID;
	if (e == kr->min_epoch)
		return UM_OK;
	if ((ret = store_begin(kr->st)) != UM_OK)
		return ret;
	for (size_t i = 0; i < kr->n && ret == UM_OK; i++) {
		if (kr->keys[i].epoch >= e)
			continue;
		kv_key(kk, 'k', kr->keys[i].tier, kr->keys[i].epoch);
		if ((ret = store_kv_del(kr->st, NS, kk, sizeof(kk))) == UM_ERR_NOT_FOUND)
			ret = UM_OK;
		kv_key(kk, 'c', kr->keys[i].tier, kr->keys[i].epoch);
		if (ret == UM_OK &&
		    (ret = store_kv_del(kr->st, NS, kk, sizeof(kk))) == UM_ERR_NOT_FOUND)
			ret = UM_OK;
	}
	kr->min_epoch = e;
	kr->keys_seq++;
	kr->revs_seq++;
	if (ret == UM_OK)
		ret = save_counters(kr);
	snprintf(detail, sizeof(detail), "{\"min_token_epoch\":%" PRIu32 ",\"was\":%" PRIu32 "}", e,
	         old);
	if (ret == UM_OK)
		ret = audit_row(kr, now_s, "keys.min_epoch", detail);
	if ((ret = tx_end(kr->st, ret)) != UM_OK) {
		kr->min_epoch = old;
		kr->keys_seq--;
		kr->revs_seq--;
		return ret;
	}
	for (size_t i = 0; i < kr->n;) {
		if (kr->keys[i].epoch < e) {
			ring_key_clear(&kr->keys[i]);
			memmove(&kr->keys[i], &kr->keys[i + 1],
			        (kr->n - i - 1) * sizeof(kr->keys[0]));
			kr->n--;
		} else {
			i++;
		}
	}
	kr->keys_stale = kr->revs_stale = true;
	log_notice(LD_APP, "issuer: tokens of epochs before %u are refused from now on", e);
	return UM_OK;
}

int
issuer_keyring_keys_doc(struct issuer_keyring *kr, uint64_t now_s, const uint8_t **doc, size_t *len)
{
	struct issuer_keys *d;
	struct wire_wr w;
	int ret;

	if (!kr->keys_stale && kr->keys_doc != NULL) {
		*doc = kr->keys_doc;
		*len = kr->keys_len;
		return UM_OK;
	}
	d = um_xcalloc(1, sizeof(*d));
	d->version = ISSUER_DOC_VERSION;
	d->seq = (uint64_t)kr->keys_seq;
	d->published_s = now_s;
	d->key_epoch = kr->epoch;
	d->min_token_epoch = kr->min_epoch;
	for (size_t i = 0; i < kr->n && d->n < ISSUER_DOC_MAX_KEYS; i++) {
		struct issuer_key_entry *e = &d->keys[d->n++];

		e->tier = kr->keys[i].tier;
		e->epoch = kr->keys[i].epoch;
		e->not_after_s = kr->keys[i].created_s + kr->cfg.key_lifetime_s;
		e->spki = kr->keys[i].spki;
		e->spki_len = (uint16_t)kr->keys[i].spki_len;
	}
	free(kr->keys_doc);
	kr->keys_doc = um_xmalloc(ISSUER_KEYS_MAX_LEN);
	wire_wr_init(&w, kr->keys_doc, ISSUER_KEYS_MAX_LEN);
	if ((ret = issuer_keys_sign(d, kr->id)) == UM_OK)
		ret = issuer_keys_encode(d, &w);
	free(d);
	if (ret != UM_OK) {
		free(kr->keys_doc);
		kr->keys_doc = NULL;
		return ret;
	}
	kr->keys_len = w.len;
	kr->keys_stale = false;
	*doc = kr->keys_doc;
	*len = kr->keys_len;
	return UM_OK;
}

int
issuer_keyring_revocations_doc(struct issuer_keyring *kr, uint64_t now_s, const uint8_t **doc,
                               size_t *len)
{
	struct issuer_revocations *d;
	struct wire_wr w;
	int ret;

	if ((ret = subjects_refresh(kr)) != UM_OK)
		return ret;
	/* Re-signed on change and at half its lifetime, so a fetched feed never lapses early. */
	if (!kr->revs_stale && kr->revs_doc != NULL &&
	    now_s < kr->revs_published_s + kr->cfg.revs_lifetime_s / 2) {
		*doc = kr->revs_doc;
		*len = kr->revs_len;
		return UM_OK;
	}
	if ((ret = put_counter(kr->st, "revs_seq", kr->revs_seq + 1)) != UM_OK)
		return ret;
	kr->revs_seq++;
	d = um_xcalloc(1, sizeof(*d));
	d->version = ISSUER_DOC_VERSION;
	d->seq = (uint64_t)kr->revs_seq;
	d->published_s = now_s;
	d->expires_s = now_s + kr->cfg.revs_lifetime_s;
	d->min_token_epoch = kr->min_epoch;
	for (size_t i = 0; i < kr->n_subjects; i++)
		memcpy(d->subjects[i], kr->subjects[i], sizeof(d->subjects[i]));
	d->n_subjects = (uint8_t)kr->n_subjects;
	free(kr->revs_doc);
	kr->revs_doc = um_xmalloc(ISSUER_REVS_MAX_LEN);
	wire_wr_init(&w, kr->revs_doc, ISSUER_REVS_MAX_LEN);
	if ((ret = issuer_revocations_sign(d, kr->id)) == UM_OK)
		ret = issuer_revocations_encode(d, &w);
	free(d);
	if (ret != UM_OK) {
		free(kr->revs_doc);
		kr->revs_doc = NULL;
		return ret;
	}
	kr->revs_len = w.len;
	kr->revs_published_s = now_s;
	kr->revs_stale = false;
	*doc = kr->revs_doc;
	*len = kr->revs_len;
	return UM_OK;
}

int
issuer_keyring_blind_sign(struct issuer_keyring *kr, uint8_t tier, const uint8_t *blinded,
                          size_t len, uint8_t *out, size_t cap, size_t *out_len, uint32_t *epoch)
{
	uint32_t e = *epoch != 0 ? *epoch : kr->epoch;
	const struct ring_key *k = find(kr, tier, e);
	size_t klen;
	int ret;

	*out_len = 0;
	if (k == NULL)
		return UM_ERR_NOT_FOUND;
	klen = blindrsa_key_len(k->sk);
	if (len != klen || cap < klen)
		return UM_ERR_INVALID;
	if ((ret = blindrsa_blind_sign(k->sk, blinded, len, out, klen)) != UM_OK)
		return ret;
	*out_len = klen;
	*epoch = e;
	return UM_OK;
}
