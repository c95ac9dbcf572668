/* SPDX-License-Identifier: MIT */
/*
 * The federation's wire formats (dirfed.h, docs/PROTOCOL.md 12.1 and 12.2): the signed peer
 * feed and the descriptor bundle. Trunnel style: one field per statement, each value checked
 * as soon as it is read, so every strict prefix of a valid document is UM_ERR_TRUNCATED.
 * Encoders mirror the parsers and prove it by parsing their own output back.
 */
#include "directory/dirfed.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"

/* ---- URLs ---- */

static bool
port_is_valid(const char *s, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

bool
peer_feed_url_is_valid(const char *s, size_t len)
{
	static const char scheme[] = "http://";
	const size_t sl = sizeof(scheme) - 1;
	char host[INET6_ADDRSTRLEN + 1];
	uint8_t addr[16];
	const char *h, *colon;
	size_t hl;

	if (len <= sl || len > PEER_FEED_URL_MAX || memchr(s, '\0', len) != NULL ||
	    memcmp(s, scheme, sl) != 0)
		return false;
	h = s + sl;
	hl = len - sl;
	if (h[0] == '[') {
		const char *close = memchr(h, ']', hl);
		size_t n;

		if (close == NULL)
			return false;
		n = (size_t)(close - h - 1);
		if (n == 0 || n >= sizeof(host) || (size_t)(close - h) + 1 >= hl || close[1] != ':')
			return false;
		memcpy(host, h + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return false;
		colon = close + 1;
	} else {
		colon = memchr(h, ':', hl);
		if (colon == NULL || colon == h || (size_t)(colon - h) >= sizeof(host))
			return false;
		memcpy(host, h, (size_t)(colon - h));
		host[colon - h] = '\0';
		if (inet_pton(AF_INET, host, addr) != 1)
			return false;
	}
	return port_is_valid(colon + 1, (size_t)(s + len - (colon + 1)));
}

/* ---- peer feed ---- */

static int
get_entry(struct wire_rd *r, struct peer_feed_entry *e)
{
	const uint8_t *v;
	size_t n;
	int ret;

	memset(e, 0, sizeof(*e));
	if ((ret = wire_get_bytes(r, e->identity, 32)) != UM_OK ||
	    (ret = wire_get_bytes(r, e->operator_id, 32)) != UM_OK)
		return ret;
	if ((ret = wire_get_lv8(r, PEER_FEED_URL_MAX, &v, &n)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_MALFORMED : ret;
	if (!peer_feed_url_is_valid((const char *)v, n))
		return UM_ERR_MALFORMED;
	memcpy(e->url, v, n);
	e->url[n] = '\0';
	return UM_OK;
}

ssize_t
peer_feed_parse(const uint8_t *in, size_t len, struct peer_feed *out)
{
	struct wire_rd r, cr;
	struct peer_feed *f = um_xcalloc(1, sizeof(*f)); /* 8.5 KiB: not on the stack */
	ssize_t ret;
	int err;

	wire_rd_init(&r, in, len);
	if ((err = wire_get_u8(&r, &f->version)) != UM_OK)
		goto fail;
	if (f->version != PEER_FEED_VERSION) {
		err = UM_ERR_MALFORMED;
		goto fail;
	}
	if ((err = wire_get_sub(&r, AUTHCERT_LEN, &cr)) != UM_OK)
		goto fail;
	if (auth_cert_parse(cr.p, cr.len, &f->cert) != (ssize_t)AUTHCERT_LEN) {
		err = UM_ERR_MALFORMED;
		goto fail;
	}
	if ((err = wire_get_bytes(&r, f->operator_id, 32)) != UM_OK ||
	    (err = wire_get_u64(&r, &f->published_s)) != UM_OK ||
	    (err = wire_get_u64(&r, &f->expires_s)) != UM_OK)
		goto fail;
	if (f->expires_s <= f->published_s ||
	    f->expires_s - f->published_s > PEER_FEED_LIFETIME_MAX_S) {
		err = UM_ERR_MALFORMED;
		goto fail;
	}
	if ((err = wire_get_u8(&r, &f->n_peers)) != UM_OK)
		goto fail;
	if (f->n_peers > PEER_FEED_MAX_PEERS) {
		err = UM_ERR_MALFORMED;
		goto fail;
	}
	for (size_t i = 0; i < f->n_peers; i++) {
		struct peer_feed_entry *e = &f->peers[i];

		if ((err = get_entry(&r, e)) != UM_OK)
			goto fail;
		/* Sorted, distinct, and never the signer itself. */
		if ((i > 0 && memcmp(f->peers[i - 1].identity, e->identity, 32) >= 0) ||
		    memcmp(e->identity, f->cert.identity, 32) == 0) {
			err = UM_ERR_MALFORMED;
			goto fail;
		}
	}
	if ((err = wire_get_bytes(&r, f->sig, 64)) != UM_OK)
		goto fail;
	*out = *f;
	ret = (ssize_t)r.off;
	free(f);
	return ret;
fail:
	free(f);
	return err;
}

static int
encode_unchecked(const struct peer_feed *f, struct wire_wr *w, bool with_sig)
{
	int ret;

	if ((ret = wire_put_u8(w, f->version)) != UM_OK ||
	    (ret = auth_cert_encode(&f->cert, w)) != UM_OK ||
	    (ret = wire_put_bytes(w, f->operator_id, 32)) != UM_OK ||
	    (ret = wire_put_u64(w, f->published_s)) != UM_OK ||
	    (ret = wire_put_u64(w, f->expires_s)) != UM_OK ||
	    (ret = wire_put_u8(w, f->n_peers)) != UM_OK)
		return ret;
	for (size_t i = 0; i < f->n_peers && i < PEER_FEED_MAX_PEERS; i++) {
		const struct peer_feed_entry *e = &f->peers[i];

		if ((ret = wire_put_bytes(w, e->identity, 32)) != UM_OK ||
		    (ret = wire_put_bytes(w, e->operator_id, 32)) != UM_OK ||
		    (ret = wire_put_lv8(w, e->url, strlen(e->url))) != UM_OK)
			return ret;
	}
	if (with_sig)
		return wire_put_bytes(w, f->sig, 64);
	return UM_OK;
}

/* Write "umbra-peerfeed-v1" 0x00 | feed without sig into a new buffer. */
static int
signed_msg_new(const struct peer_feed *f, uint8_t **msg, size_t *msg_len)
{
	static const char label[PEER_FEED_LABEL_LEN] = "umbra-peerfeed-v1";
	uint8_t *buf = um_xmalloc(PEER_FEED_LABEL_LEN + PEER_FEED_BODY_MAX_LEN);
	struct wire_wr w;
	int ret;

	wire_wr_init(&w, buf, PEER_FEED_LABEL_LEN + PEER_FEED_BODY_MAX_LEN);
	if ((ret = wire_put_bytes(&w, label, PEER_FEED_LABEL_LEN)) != UM_OK ||
	    (ret = encode_unchecked(f, &w, false)) != UM_OK) {
		free(buf);
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_INVALID : ret;
	}
	*msg = buf;
	*msg_len = w.len;
	return UM_OK;
}

int
peer_feed_encode(const struct peer_feed *f, struct wire_wr *w)
{
	struct peer_feed *back;
	size_t start = w->len;
	ssize_t n;
	int ret;

	if (f->n_peers > PEER_FEED_MAX_PEERS)
		return UM_ERR_INVALID;
	for (size_t i = 0; i < f->n_peers; i++)
		if (strnlen(f->peers[i].url, sizeof(f->peers[i].url)) > PEER_FEED_URL_MAX)
			return UM_ERR_INVALID;
	if ((ret = encode_unchecked(f, w, true)) != UM_OK) {
		w->len = start;
		return ret;
	}
	back = um_xcalloc(1, sizeof(*back));
	n = peer_feed_parse(w->p + start, w->len - start, back);
	free(back);
	if (n != (ssize_t)(w->len - start)) {
		w->len = start;
		return UM_ERR_INVALID;
	}
	return UM_OK;
}

int
peer_feed_sign(struct peer_feed *f, const struct auth_cert *cert,
               const struct keys_ed25519 *signing_key)
{
	uint8_t *msg = NULL;
	size_t msg_len = 0;
	int ret;

	if (signing_key == NULL || signing_key->sk == NULL ||
	    memcmp(cert->signing_key, signing_key->pk, 32) != 0)
		return UM_ERR_INVALID;
	f->cert = *cert;
	if ((ret = signed_msg_new(f, &msg, &msg_len)) != UM_OK)
		return ret;
	sign_ed25519(signing_key, msg, msg_len, f->sig);
	free(msg);
	return UM_OK;
}

int
peer_feed_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32], uint64_t now_s,
                       struct peer_feed *out)
{
	struct peer_feed *f;
	uint8_t *msg = NULL;
	size_t msg_len = 0;
	ssize_t n;
	int ret;

	if (len > PEER_FEED_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	f = um_xcalloc(1, sizeof(*f));
	n = peer_feed_parse(in, len, f);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	if ((size_t)n != len) {
		ret = UM_ERR_TRAILING;
		goto out;
	}
	/* Cheap checks first: who signed it, and the clock. */
	if (memcmp(f->cert.identity, identity, 32) != 0) {
		ret = UM_ERR_AUTH;
		goto out;
	}
	if (f->published_s > now_s + PEER_FEED_CLOCK_SKEW_S || now_s >= f->expires_s) {
		ret = UM_ERR_EXPIRED;
		goto out;
	}
	if ((ret = auth_cert_verify(&f->cert, now_s)) != UM_OK) {
		ret = ret == UM_ERR_EXPIRED ? UM_ERR_EXPIRED : UM_ERR_AUTH;
		goto out;
	}
	if ((ret = signed_msg_new(f, &msg, &msg_len)) != UM_OK)
		goto out;
	if ((ret = sign_ed25519_verify(f->cert.signing_key, msg, msg_len, f->sig)) != UM_OK) {
		ret = UM_ERR_AUTH;
		goto out;
	}
	*out = *f;
	ret = UM_OK;
out:
	free(msg);
	free(f);
	return ret;
}

/* ---- descriptor bundle ---- */

void
desc_bundle_init(struct desc_bundle *b)
{
	memset(b, 0, sizeof(*b));
}

void
desc_bundle_clear(struct desc_bundle *b)
{
	free(b->e);
	desc_bundle_init(b);
}

/* The relay identity of an encoded descriptor already parsed: bytes 1..32. */
static const uint8_t *
desc_identity(const uint8_t *desc)
{
	return desc + 1;
}

ssize_t
desc_bundle_parse(const uint8_t *in, size_t len, struct desc_bundle *out)
{
	struct wire_rd r;
	struct desc_bundle b;
	struct relay_desc *d = NULL;
	uint32_t n;
	int err;

	desc_bundle_init(&b);
	wire_rd_init(&r, in, len);
	if ((err = wire_get_u8(&r, &b.version)) != UM_OK)
		return err;
	if (b.version != DESC_BUNDLE_VERSION)
		return UM_ERR_MALFORMED;
	if ((err = wire_get_u32(&r, &n)) != UM_OK)
		return err;
	if (n > DESC_BUNDLE_MAX_DESCS)
		return UM_ERR_MALFORMED;
	/* Allocate only what the bytes present can hold: an entry takes at least 4 bytes, so
	 * a lying count runs out of input (TRUNCATED) before it runs out of room. */
	b.e = um_xcalloc(UM_MIN((size_t)n, wire_rd_left(&r) / 4) + 1, sizeof(*b.e));
	d = um_xmalloc(sizeof(*d));
	for (size_t i = 0; i < n; i++) {
		struct desc_bundle_entry e;
		uint16_t dl;
		ssize_t pn;

		if ((err = wire_get_u8(&r, &e.hops)) != UM_OK)
			goto fail;
		if (e.hops > DESC_BUNDLE_MAX_HOPS) {
			err = UM_ERR_MALFORMED;
			goto fail;
		}
		if ((err = wire_get_u16(&r, &dl)) != UM_OK)
			goto fail;
		if (dl == 0 || dl > RELAY_DESC_MAX_LEN) {
			err = UM_ERR_MALFORMED;
			goto fail;
		}
		if ((err = wire_get_view(&r, dl, &e.desc)) != UM_OK)
			goto fail;
		e.len = dl;
		pn = relay_desc_parse(e.desc, e.len, d);
		if (pn != (ssize_t)e.len) {
			/* A descriptor cut short by its own length field can never be completed. */
			err = UM_ERR_MALFORMED;
			goto fail;
		}
		if (b.n > 0 && memcmp(desc_identity(b.e[b.n - 1].desc), desc_identity(e.desc),
		                      RELAY_DESC_ID_LEN) >= 0) {
			err = UM_ERR_MALFORMED;
			goto fail;
		}
		b.e[b.n++] = e;
	}
	free(d);
	*out = b;
	return (ssize_t)r.off;
fail:
	free(d);
	desc_bundle_clear(&b);
	return err;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct desc_bundle_entry *x = a, *y = b;

	return memcmp(desc_identity(x->desc), desc_identity(y->desc), RELAY_DESC_ID_LEN);
}

int
desc_bundle_encode_new(const struct desc_bundle *b, uint8_t **out, size_t *out_len)
{
	struct desc_bundle_entry *e = NULL;
	struct relay_desc *d = NULL;
	struct wire_wr w;
	uint8_t *buf = NULL;
	size_t cap = 1 + 4;
	int ret = UM_ERR_INVALID;

	*out = NULL;
	*out_len = 0;
	if (b->n > DESC_BUNDLE_MAX_DESCS)
		return UM_ERR_TOO_LARGE;
	d = um_xmalloc(sizeof(*d));
	e = um_xcalloc(b->n > 0 ? b->n : 1, sizeof(*e));
	for (size_t i = 0; i < b->n; i++) {
		if (b->e[i].hops > DESC_BUNDLE_MAX_HOPS || b->e[i].len > RELAY_DESC_MAX_LEN ||
		    b->e[i].desc == NULL ||
		    relay_desc_parse(b->e[i].desc, b->e[i].len, d) != (ssize_t)b->e[i].len)
			goto out;
		e[i] = b->e[i];
		cap += 3 + e[i].len;
	}
	qsort(e, b->n, sizeof(*e), cmp_entry);
	for (size_t i = 1; i < b->n; i++)
		if (cmp_entry(&e[i - 1], &e[i]) == 0)
			goto out;
	buf = um_xmalloc(cap);
	wire_wr_init(&w, buf, cap);
	if ((ret = wire_put_u8(&w, DESC_BUNDLE_VERSION)) != UM_OK ||
	    (ret = wire_put_u32(&w, (uint32_t)b->n)) != UM_OK)
		goto out;
	for (size_t i = 0; i < b->n; i++) {
		if ((ret = wire_put_u8(&w, e[i].hops)) != UM_OK ||
		    (ret = wire_put_u16(&w, (uint16_t)e[i].len)) != UM_OK ||
		    (ret = wire_put_bytes(&w, e[i].desc, e[i].len)) != UM_OK)
			goto out;
	}
	*out = buf;
	*out_len = w.len;
	buf = NULL;
	ret = UM_OK;
out:
	free(buf);
	free(e);
	free(d);
	return ret;
}

void
desc_bundle_etag(const uint8_t *bundle, size_t len, char out[65])
{
	uint8_t h[32];

	hash_blake2b(h, sizeof(h), bundle, len, NULL, 0);
	if (enc_hex(out, 65, h, sizeof(h)) != UM_OK)
		out[0] = '\0';
}
