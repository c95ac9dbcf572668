/* SPDX-License-Identifier: MIT */
/*
 * Votes: lifetime, signing and verification (docs/PROTOCOL.md 5.3). The wire side is
 * vote_parse.c. Ed25519 signs the label and the whole body, so signing and checking copy
 * the body once behind the label (a 10,000-relay vote is about 2 MB).
 */
#include "directory/vote.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

static const char vote_label[VOTE_LABEL_LEN] = "umbra-vote-v1"; /* with its NUL */

void
vote_init(struct vote *v)
{
	memset(v, 0, sizeof(*v));
	v->version = VOTE_VERSION;
}

void
vote_clear(struct vote *v)
{
	if (v == NULL)
		return;
	free(v->relays);
	dir_issuers_clear(&v->issuers);
	memset(v, 0, sizeof(*v));
}

/* Encode v behind the label into a new buffer; *len counts the vote only. */
static int
encode_labelled(const struct vote *v, uint8_t **out, size_t *len)
{
	size_t n = vote_encoded_len(v);
	struct wire_wr w;
	uint8_t *buf;
	int ret;

	if (n == 0 || n > VOTE_MAX_LEN)
		return UM_ERR_INVALID;
	buf = um_xmalloc(VOTE_LABEL_LEN + n);
	memcpy(buf, vote_label, VOTE_LABEL_LEN);
	wire_wr_init(&w, buf + VOTE_LABEL_LEN, n);
	if ((ret = vote_encode(v, &w)) != UM_OK || w.len != n) {
		free(buf);
		return ret == UM_OK || ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
	}
	*out = buf;
	*len = n;
	return UM_OK;
}

int
vote_encode_new(const struct vote *v, uint8_t **out, size_t *len)
{
	uint8_t *buf;
	size_t n = 0;
	int ret;

	if ((ret = encode_labelled(v, &buf, &n)) != UM_OK)
		return ret;
	memmove(buf, buf + VOTE_LABEL_LEN, n);
	*out = buf;
	*len = n;
	return UM_OK;
}

static int
cmp_entry(const void *a, const void *b)
{
	return memcmp(((const struct relay_entry *)a)->identity,
	              ((const struct relay_entry *)b)->identity, RELAY_DESC_ID_LEN);
}

int
vote_sort_relays(struct vote *v)
{
	if (v->n_relays == 0)
		return UM_OK;
	qsort(v->relays, v->n_relays, sizeof(v->relays[0]), cmp_entry);
	for (size_t i = 1; i < v->n_relays; i++) {
		if (cmp_entry(&v->relays[i - 1], &v->relays[i]) == 0)
			return UM_ERR_INVALID;
	}
	return UM_OK;
}

int
vote_sign(struct vote *v, const struct keys_ed25519 *signing)
{
	uint8_t *buf;
	size_t n = 0;
	int ret;

	if (signing->sk == NULL || memcmp(signing->pk, v->cert.signing_key, AUTHCERT_ID_LEN) != 0)
		return UM_ERR_INVALID;
	if ((ret = encode_labelled(v, &buf, &n)) != UM_OK)
		return ret;
	sign_ed25519(signing, buf, VOTE_LABEL_LEN + n - VOTE_SIG_LEN, v->sig);
	free(buf);
	return UM_OK;
}

/* Clock and certificate first (cheap, then one signature), then the vote's signature. */
static int
verify_labelled(const struct vote *v, const uint8_t *labelled, size_t len, uint64_t now_s)
{
	int ret;

	if (now_s >= v->valid_until_s)
		return UM_ERR_EXPIRED;
	if ((ret = auth_cert_verify(&v->cert, now_s)) != UM_OK)
		return ret == UM_ERR_EXPIRED ? UM_ERR_EXPIRED : UM_ERR_AUTH;
	if (sign_ed25519_verify(v->cert.signing_key, labelled, VOTE_LABEL_LEN + len - VOTE_SIG_LEN,
	                        v->sig) != UM_OK)
		return UM_ERR_AUTH;
	return UM_OK;
}

int
vote_verify(const struct vote *v, uint64_t now_s)
{
	uint8_t *buf;
	size_t n = 0;
	int ret;

	if ((ret = encode_labelled(v, &buf, &n)) != UM_OK)
		return ret;
	ret = verify_labelled(v, buf, n, now_s);
	free(buf);
	return ret;
}

int
vote_parse_verify(const uint8_t *in, size_t len, uint64_t now_s, struct vote *out)
{
	struct vote v;
	uint8_t *buf;
	ssize_t n;
	int ret;

	if (len > VOTE_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	if ((n = vote_parse(in, len, &v)) < 0)
		return (int)n;
	if ((size_t)n != len) {
		vote_clear(&v);
		return UM_ERR_TRAILING;
	}
	/* The encoding is canonical: the bytes parsed are v's encoding, no need to re-encode. */
	buf = um_xmalloc(VOTE_LABEL_LEN + len);
	memcpy(buf, vote_label, VOTE_LABEL_LEN);
	memcpy(buf + VOTE_LABEL_LEN, in, len);
	ret = verify_labelled(&v, buf, len, now_s);
	free(buf);
	if (ret != UM_OK) {
		vote_clear(&v);
		return ret;
	}
	*out = v;
	return UM_OK;
}
