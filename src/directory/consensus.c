/* SPDX-License-Identifier: MIT */
/*
 * The consensus on an authority: lifetime, signing, merging detached signatures, and the
 * deterministic computation from votes (docs/PROTOCOL.md 5.5). Determinism is the point:
 * every authority must produce the same signed part byte for byte from the same set of
 * votes, whatever order they arrived in, or their signatures will not add up. So the
 * voters are sorted by identity first, relays are merged in identity order, every
 * statistic is a lower median or a strict majority, and every tie has a bytewise rule.
 * Client-side verification is consensus_verify.c; the wire side consensus_parse.c.
 */
#include "directory/consensus.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"

static const char cons_label[CONS_LABEL_LEN] = "umbra-consensus-v1"; /* with its NUL */

void
consensus_init(struct consensus *c)
{
	memset(c, 0, sizeof(*c));
	c->version = CONS_VERSION;
}

void
consensus_clear(struct consensus *c)
{
	if (c == NULL)
		return;
	free(c->relays);
	dir_issuers_clear(&c->issuers);
	memset(c, 0, sizeof(*c));
}

int
consensus_encode_new(const struct consensus *c, uint8_t **out, size_t *len)
{
	size_t n = consensus_encoded_len(c);
	struct wire_wr w;
	uint8_t *buf;
	int ret;

	if (n == 0 || n > CONS_MAX_LEN)
		return UM_ERR_INVALID;
	buf = um_xmalloc(n);
	wire_wr_init(&w, buf, n);
	if ((ret = consensus_encode(c, &w)) != UM_OK || w.len != n) {
		free(buf);
		return ret == UM_OK || ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
	}
	*out = buf;
	*len = n;
	return UM_OK;
}

int
consensus_update_digest(struct consensus *c)
{
	size_t n = consensus_signed_len(c);
	struct wire_wr w;
	uint8_t *buf;
	int ret;

	if (n == 0 || n > CONS_MAX_LEN)
		return UM_ERR_INVALID;
	buf = um_xmalloc(n);
	wire_wr_init(&w, buf, n);
	if ((ret = consensus_encode_signed(c, &w)) != UM_OK || w.len != n) {
		free(buf);
		return ret == UM_OK || ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
	}
	hash_blake2b(c->digest, DIR_DIGEST_LEN, buf, n, NULL, 0);
	c->signed_len = n;
	free(buf);
	return UM_OK;
}

static int
cmp_sig(const struct cons_sig *a, const struct cons_sig *b)
{
	int c = memcmp(a->identity, b->identity, AUTHCERT_ID_LEN);

	return c != 0 ? c : memcmp(a->signing_key, b->signing_key, AUTHCERT_ID_LEN);
}

int
consensus_add_sig(struct consensus *c, const struct cons_sig *s)
{
	size_t i = 0;
	int d = 1;

	if (c->n_sigs > CONS_MAX_SIGS)
		return UM_ERR_INVALID;
	while (i < c->n_sigs && (d = cmp_sig(&c->sigs[i], s)) < 0)
		i++;
	if (i < c->n_sigs && d == 0) {
		c->sigs[i] = *s; /* the same signer again: keep one */
		return UM_OK;
	}
	if (c->n_sigs == CONS_MAX_SIGS)
		return UM_ERR_TOO_LARGE;
	memmove(&c->sigs[i + 1], &c->sigs[i], (c->n_sigs - i) * sizeof(c->sigs[0]));
	c->sigs[i] = *s;
	c->n_sigs++;
	return UM_OK;
}

int
consensus_sign(struct consensus *c, const struct auth_cert *cert,
               const struct keys_ed25519 *signing)
{
	uint8_t msg[CONS_LABEL_LEN + DIR_DIGEST_LEN];
	struct cons_sig s;

	if (signing->sk == NULL || memcmp(signing->pk, cert->signing_key, AUTHCERT_ID_LEN) != 0)
		return UM_ERR_INVALID;
	memcpy(msg, cons_label, CONS_LABEL_LEN);
	memcpy(msg + CONS_LABEL_LEN, c->digest, DIR_DIGEST_LEN);
	memcpy(s.identity, cert->identity, AUTHCERT_ID_LEN);
	memcpy(s.signing_key, cert->signing_key, AUTHCERT_ID_LEN);
	sign_ed25519(signing, msg, sizeof(msg), s.sig);
	return consensus_add_sig(c, &s);
}

size_t
consensus_n_issuers(const struct consensus *c)
{
	return UM_MIN((size_t)c->issuers.n, (size_t)DIR_MAX_ISSUERS);
}

int
consensus_issuer(const struct consensus *c, size_t i, const uint8_t **identity, const uint8_t **doc,
                 size_t *len)
{
	if (identity != NULL)
		*identity = NULL;
	*doc = NULL;
	*len = 0;
	if (i >= consensus_n_issuers(c))
		return UM_ERR_NOT_FOUND;
	if (identity != NULL)
		*identity = c->issuers.v[i].identity;
	*doc = c->issuers.v[i].doc;
	*len = c->issuers.v[i].len;
	return UM_OK;
}

int
consensus_issuer_find(const struct consensus *c, const uint8_t identity[DIR_ISSUER_ID_LEN],
                      const uint8_t **doc, size_t *len)
{
	const struct dir_issuer *e = dir_issuers_find(&c->issuers, identity);

	*doc = NULL;
	*len = 0;
	if (e == NULL)
		return UM_ERR_NOT_FOUND;
	*doc = e->doc;
	*len = e->len;
	return UM_OK;
}

/* --- computation ------------------------------------------------------------------------ */

/* Lower median of n (1..CONS_MAX_AUTHORITIES) values; sorts v in place (insertion sort). */
static uint32_t
median_u32(uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;

		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
	return v[(n - 1) / 2];
}

static int
cmp_vote_ptr(const void *a, const void *b)
{
	const struct vote *va = *(const struct vote *const *)a;
	const struct vote *vb = *(const struct vote *const *)b;

	return memcmp(va->cert.identity, vb->cert.identity, AUTHCERT_ID_LEN);
}

/* Parameters: in iff more than half of the n voters set them; lower median of the values. */
static int
compute_params(const struct vote *const *sel, size_t n, struct dir_params *out)
{
	size_t cur[CONS_MAX_AUTHORITIES] = { 0 };
	int ret;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const struct dir_param *min = NULL;
		uint32_t vals[CONS_MAX_AUTHORITIES];
		size_t k = 0;

		/* The smallest name not yet consumed, over every voter's sorted list. */
		for (size_t i = 0; i < n; i++) {
			const struct dir_param *p;

			if (cur[i] >= sel[i]->params.n)
				continue;
			p = &sel[i]->params.p[cur[i]];
			if (min == NULL || dir_param_name_cmp(p->name, strlen(p->name), min->name,
			                                      strlen(min->name)) < 0)
				min = p;
		}
		if (min == NULL)
			return UM_OK;
		char name[DIR_PARAM_NAME_MAX + 1];
		memcpy(name, min->name, sizeof(name));
		for (size_t i = 0; i < n; i++) {
			const struct dir_param *p;

			if (cur[i] >= sel[i]->params.n)
				continue;
			p = &sel[i]->params.p[cur[i]];
			if (strcmp(p->name, name) == 0) {
				vals[k++] = p->value;
				cur[i]++;
			}
		}
		if (2 * k > n && (ret = dir_params_set(out, name, median_u32(vals, k))) != UM_OK)
			return ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
	}
}

/* An issuer that more than half of the voters list, with the blob chosen for it. */
struct issuer_pick {
	const struct dir_issuer *e; /* the chosen blob, as a voter listed it */
	size_t k;                   /* voters listing the issuer (any blob) */
};

/* The blob most of the k voters listing one issuer list (ties: the greatest digest). */
static const struct dir_issuer *
pick_issuer_blob(const struct dir_issuer *const *ent, size_t k)
{
	const struct dir_issuer *best = NULL;
	size_t best_count = 0;

	for (size_t i = 0; i < k; i++) {
		size_t count = 0;

		for (size_t j = 0; j < k; j++)
			count += memcmp(ent[j]->digest, ent[i]->digest, DIR_ISSUER_DIGEST_LEN) == 0;
		if (best == NULL || count > best_count ||
		    (count == best_count &&
		     memcmp(ent[i]->digest, best->digest, DIR_ISSUER_DIGEST_LEN) > 0)) {
			best = ent[i];
			best_count = count;
		}
	}
	return best;
}

/* More voters first, then the lower identity (which issuers stay when too many qualify). */
static int
cmp_pick(const void *a, const void *b)
{
	const struct issuer_pick *pa = a, *pb = b;

	if (pa->k != pb->k)
		return pa->k > pb->k ? -1 : 1;
	return memcmp(pa->e->identity, pb->e->identity, DIR_ISSUER_ID_LEN);
}

static int
cmp_pick_id(const void *a, const void *b)
{
	const struct issuer_pick *pa = a, *pb = b;

	return memcmp(pa->e->identity, pb->e->identity, DIR_ISSUER_ID_LEN);
}

/*
 * Issuers: in iff more than half of the n voters list one; the blob most of them list.
 * Each voter lists at most DIR_MAX_ISSUERS, so fewer than 2 * DIR_MAX_ISSUERS identities
 * can have more than n/2 voters each; if more than DIR_MAX_ISSUERS do, those with the
 * most voters stay (ties: the lower identity).
 */
static int
compute_issuers(const struct vote *const *sel, size_t n, struct dir_issuers *out)
{
	struct issuer_pick picks[2 * DIR_MAX_ISSUERS];
	size_t cur[CONS_MAX_AUTHORITIES] = { 0 };
	size_t n_picks = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const struct dir_issuer *ent[CONS_MAX_AUTHORITIES];
		const uint8_t *min = NULL;
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			const struct dir_issuers *s = &sel[i]->issuers;

			if (cur[i] < s->n && (min == NULL || memcmp(s->v[cur[i]].identity, min,
			                                            DIR_ISSUER_ID_LEN) < 0))
				min = s->v[cur[i]].identity;
		}
		if (min == NULL)
			break;
		/* Each list is strictly ascending: every voter listing min has it at its cursor. */
		for (size_t i = 0; i < n; i++) {
			const struct dir_issuers *s = &sel[i]->issuers;

			if (cur[i] < s->n &&
			    memcmp(s->v[cur[i]].identity, min, DIR_ISSUER_ID_LEN) == 0)
				ent[k++] = &s->v[cur[i]++];
		}
		if (2 * k <= n)
			continue;
		if (n_picks == UM_ARRAY_LEN(picks))
			return UM_ERR_INTERNAL; /* impossible: see above */
		picks[n_picks].e = pick_issuer_blob(ent, k);
		picks[n_picks].k = k;
		n_picks++;
	}
	if (n_picks > DIR_MAX_ISSUERS) {
		qsort(picks, n_picks, sizeof(picks[0]), cmp_pick);
		n_picks = DIR_MAX_ISSUERS;
		qsort(picks, n_picks, sizeof(picks[0]), cmp_pick_id);
	}
	for (size_t i = 0; i < n_picks; i++) {
		const struct dir_issuer *e = picks[i].e;

		if ((ret = dir_issuers_set(out, e->identity, e->doc, e->len)) != UM_OK) {
			dir_issuers_clear(out);
			return ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
		}
	}
	return UM_OK;
}

/* Build the consensus entry for one relay from the k (> n/2) voters' entries listing it. */
static void
compute_entry(const struct relay_entry *const *ent, size_t k, struct relay_entry *out)
{
	uint32_t v[CONS_MAX_AUTHORITIES];
	const struct relay_entry *base = NULL;
	size_t best_count = 0;
	uint16_t flags = 0;

	/* The descriptor digest most voters list; ties go to the greatest digest. ent[] is in
	 * voter-identity order, so the first entry with the winning digest is from the
	 * lowest-identity voter listing it. */
	for (size_t i = 0; i < k; i++) {
		size_t count = 0;
		bool seen = false;

		for (size_t j = 0; j < k; j++) {
			if (memcmp(ent[j]->desc_digest, ent[i]->desc_digest, DIR_DIGEST_LEN) == 0) {
				if (j < i)
					seen = true;
				count++;
			}
		}
		if (seen)
			continue;
		if (base == NULL || count > best_count ||
		    (count == best_count &&
		     memcmp(ent[i]->desc_digest, base->desc_digest, DIR_DIGEST_LEN) > 0)) {
			base = ent[i];
			best_count = count;
		}
	}
	*out = *base;

	/* Flags by majority of the voters listing the relay. */
	for (unsigned bit = 0; bit < RELAY_FLAG_N; bit++) {
		uint16_t f = (uint16_t)(1u << bit);
		size_t c = 0;

		for (size_t i = 0; i < k; i++)
			c += (ent[i]->flags & f) != 0;
		if (2 * c > k)
			flags |= f;
	}
	out->flags = relay_entry_mask_flags(flags, out->roles);

#define MEDIAN_OF(field, type)                       \
	do {                                         \
		for (size_t i_ = 0; i_ < k; i_++)    \
			v[i_] = ent[i_]->field;      \
		out->field = (type)median_u32(v, k); \
	} while (0)
	MEDIAN_OF(measured_bw, uint32_t);
	MEDIAN_OF(geo_confidence, uint8_t);
	MEDIAN_OF(scores.reputation, uint16_t);
	MEDIAN_OF(scores.uptime, uint16_t);
	MEDIAN_OF(scores.capacity, uint16_t);
	MEDIAN_OF(scores.abuse_penalty, uint16_t);
	MEDIAN_OF(scores.bond, uint16_t);
	MEDIAN_OF(scores.stake, uint16_t);
#undef MEDIAN_OF
}

int
consensus_compute(const struct vote *const *votes, size_t n_votes, size_t n_authorities_total,
                  uint64_t valid_after_s, uint64_t fresh_until_s, uint64_t valid_until_s,
                  struct consensus *out)
{
	const struct vote *sel[CONS_MAX_AUTHORITIES];
	size_t cur[CONS_MAX_AUTHORITIES] = { 0 };
	struct consensus c;
	size_t n = 0, cap = 0;
	int ret;

	if (n_authorities_total == 0 || n_authorities_total > CONS_MAX_AUTHORITIES ||
	    (n_votes > 0 && votes == NULL) ||
	    !dir_period_is_valid(valid_after_s, fresh_until_s, valid_until_s))
		return UM_ERR_INVALID;
	/* The votes for this period, in identity order (so input order cannot matter). */
	for (size_t i = 0; i < n_votes; i++) {
		const struct vote *v = votes[i];

		if (v == NULL || v->valid_after_s != valid_after_s ||
		    v->fresh_until_s != fresh_until_s || v->valid_until_s != valid_until_s)
			continue;
		if (n == n_authorities_total || (v->n_relays > 0 && v->relays == NULL) ||
		    !dir_issuers_are_valid(&v->issuers))
			return UM_ERR_INVALID;
		sel[n++] = v;
	}
	qsort(sel, n, sizeof(sel[0]), cmp_vote_ptr);
	for (size_t i = 1; i < n; i++) {
		if (cmp_vote_ptr(&sel[i - 1], &sel[i]) == 0)
			return UM_ERR_INVALID; /* two votes from one authority */
	}
	if (2 * n <= n_authorities_total)
		return UM_ERR_STATE; /* no quorum: no new consensus */

	consensus_init(&c);
	c.valid_after_s = valid_after_s;
	c.fresh_until_s = fresh_until_s;
	c.valid_until_s = valid_until_s;
	c.n_auths = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		c.auths[i] = sel[i]->cert;
	if ((ret = compute_params(sel, n, &c.params)) != UM_OK)
		return ret;
	if ((ret = compute_issuers(sel, n, &c.issuers)) != UM_OK)
		return ret;

	/* k-way merge of the voters' sorted relay lists. */
	for (;;) {
		const struct relay_entry *ent[CONS_MAX_AUTHORITIES];
		const uint8_t *min = NULL;
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			if (cur[i] < sel[i]->n_relays &&
			    (min == NULL ||
			     memcmp(sel[i]->relays[cur[i]].identity, min, RELAY_DESC_ID_LEN) < 0))
				min = sel[i]->relays[cur[i]].identity;
		}
		if (min == NULL)
			break;
		/* Each list is strictly ascending: a voter lists the relay at most once, and
		 * every voter listing it has it at its cursor. */
		for (size_t i = 0; i < n; i++) {
			if (cur[i] < sel[i]->n_relays &&
			    memcmp(sel[i]->relays[cur[i]].identity, min, RELAY_DESC_ID_LEN) == 0)
				ent[k++] = &sel[i]->relays[cur[i]++];
		}
		if (2 * k > n) {
			if (c.n_relays == CONS_MAX_RELAYS) {
				consensus_clear(&c);
				return UM_ERR_TOO_LARGE;
			}
			if (c.n_relays == cap) {
				cap = cap == 0 ? 256 : 2 * cap;
				c.relays = um_xrealloc(c.relays, cap * sizeof(c.relays[0]));
			}
			compute_entry(ent, k, &c.relays[c.n_relays++]);
		}
	}
	if ((ret = consensus_update_digest(&c)) != UM_OK) {
		consensus_clear(&c);
		return ret == UM_ERR_INVALID ? UM_ERR_INTERNAL : ret;
	}
	*out = c;
	return UM_OK;
}
