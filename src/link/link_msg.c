/* SPDX-License-Identifier: MIT */
/* Link handshake frames and hello payloads: parse and encode (see link_msg.h for layouts). */
#include "link/link_msg.h"

#include <string.h>

#include "lib/err.h"

static const char cert_label[19] = "umbra-link-cert-v1"; /* with its NUL: 19 bytes */

ssize_t
link_hello_parse(const uint8_t *in, size_t len, struct link_hello *out)
{
	struct wire_rd r;
	struct wire_rd ext;
	struct link_hello h;
	int ret;

	memset(&h, 0, sizeof(h));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &h.version)) != UM_OK)
		return ret;
	if (h.version != LINK_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &h.flags)) != UM_OK)
		return ret;
	if ((h.flags & ~HELLO_F_IDENTITY) != 0)
		return UM_ERR_MALFORMED;
	if ((h.flags & HELLO_F_IDENTITY) != 0) {
		if ((ret = wire_get_bytes(&r, h.identity, LINK_ID_LEN)) != UM_OK ||
		    (ret = wire_get_u64(&r, &h.cert_expires)) != UM_OK ||
		    (ret = wire_get_bytes(&r, h.cert_sig, LINK_CERT_SIG_LEN)) != UM_OK)
			return ret;
	}
	if ((ret = wire_get_lv16(&r, LINK_HELLO_MAX_EXT, &h.ext, &h.ext_len)) != UM_OK)
		return ret == UM_ERR_TOO_LARGE ? UM_ERR_MALFORMED : ret;
	/* Extensions must be well-formed TLVs even though none is defined yet. */
	wire_rd_init(&ext, h.ext, h.ext_len);
	while (wire_rd_left(&ext) > 0) {
		uint8_t type;
		const uint8_t *v;
		size_t n;

		if (wire_get_u8(&ext, &type) != UM_OK ||
		    wire_get_lv16(&ext, LINK_HELLO_MAX_EXT, &v, &n) != UM_OK)
			return UM_ERR_MALFORMED;
	}
	*out = h;
	return (ssize_t)r.off;
}

int
link_hello_encode(const struct link_hello *h, struct wire_wr *w)
{
	int ret;

	if ((ret = wire_put_u8(w, h->version)) != UM_OK ||
	    (ret = wire_put_u8(w, h->flags)) != UM_OK)
		return ret;
	if ((h->flags & HELLO_F_IDENTITY) != 0) {
		if ((ret = wire_put_bytes(w, h->identity, LINK_ID_LEN)) != UM_OK ||
		    (ret = wire_put_u64(w, h->cert_expires)) != UM_OK ||
		    (ret = wire_put_bytes(w, h->cert_sig, LINK_CERT_SIG_LEN)) != UM_OK)
			return ret;
	}
	if (h->ext_len > LINK_HELLO_MAX_EXT)
		return UM_ERR_TOO_LARGE;
	return wire_put_lv16(w, h->ext, h->ext_len);
}

void
link_cert_msg(uint8_t out[LINK_CERT_MSG_LEN], const uint8_t id[LINK_ID_LEN],
              const uint8_t link_pub[32], uint64_t expires)
{
	memcpy(out, cert_label, sizeof(cert_label));
	memcpy(out + 19, id, LINK_ID_LEN);
	memcpy(out + 19 + 32, link_pub, 32);
	wire_store_u64(out + 19 + 64, expires);
}

ssize_t
link_frame_parse(const uint8_t *in, size_t len, const uint8_t **body, size_t *body_len)
{
	struct wire_rd r;
	uint16_t n;
	int ret;

	*body = NULL;
	*body_len = 0;
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u16(&r, &n)) != UM_OK)
		return ret;
	if (n < LINK_HS_MIN_FRAME || n > LINK_HS_MAX_FRAME)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_view(&r, n, body)) != UM_OK)
		return ret;
	*body_len = n;
	return (ssize_t)r.off;
}

ssize_t
link_preamble_parse(const uint8_t *in, size_t len, struct link_preamble *out)
{
	struct wire_rd r;
	struct link_preamble p;
	uint8_t pat;
	int ret;

	memset(&p, 0, sizeof(p));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &p.version)) != UM_OK)
		return ret;
	if (p.version != LINK_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &pat)) != UM_OK)
		return ret;
	p.has_puzzle = (pat & LINK_PATTERN_F_PUZZLE) != 0;
	p.pattern = (uint8_t)(pat & ~LINK_PATTERN_F_PUZZLE);
	if (p.pattern != LINK_PATTERN_NK && p.pattern != LINK_PATTERN_XK)
		return UM_ERR_MALFORMED;
	if (p.has_puzzle && ((ret = wire_get_bytes(&r, p.seed, PUZZLE_SEED_LEN)) != UM_OK ||
	                     (ret = wire_get_bytes(&r, p.nonce, PUZZLE_NONCE_LEN)) != UM_OK))
		return ret;
	*out = p;
	return (ssize_t)r.off;
}

int
link_preamble_encode(const struct link_preamble *p, struct wire_wr *w)
{
	int ret;

	if ((p->pattern != LINK_PATTERN_NK && p->pattern != LINK_PATTERN_XK) ||
	    p->version != LINK_VERSION)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, p->version)) != UM_OK ||
	    (ret = wire_put_u8(w, (uint8_t)(p->pattern |
	                                    (p->has_puzzle ? LINK_PATTERN_F_PUZZLE : 0)))) != UM_OK)
		return ret;
	if (p->has_puzzle && ((ret = wire_put_bytes(w, p->seed, PUZZLE_SEED_LEN)) != UM_OK ||
	                      (ret = wire_put_bytes(w, p->nonce, PUZZLE_NONCE_LEN)) != UM_OK))
		return ret;
	return UM_OK;
}

ssize_t
link_challenge_parse(const uint8_t *in, size_t len, struct link_challenge *out)
{
	struct wire_rd r;
	struct link_challenge c;
	uint8_t tag, kind;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &tag)) != UM_OK)
		return ret;
	if (tag != LINK_CHALLENGE_TAG)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &kind)) != UM_OK)
		return ret;
	if (kind != LINK_CHALLENGE_PUZZLE)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &c.bits)) != UM_OK)
		return ret;
	if (c.bits < 1 || c.bits > PUZZLE_MAX_BITS)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, c.seed, PUZZLE_SEED_LEN)) != UM_OK)
		return ret;
	*out = c;
	return (ssize_t)r.off;
}

int
link_challenge_encode(const struct link_challenge *c, struct wire_wr *w)
{
	int ret;

	if (c->bits < 1 || c->bits > PUZZLE_MAX_BITS)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, LINK_CHALLENGE_TAG)) != UM_OK ||
	    (ret = wire_put_u8(w, LINK_CHALLENGE_PUZZLE)) != UM_OK ||
	    (ret = wire_put_u8(w, c->bits)) != UM_OK)
		return ret;
	return wire_put_bytes(w, c->seed, PUZZLE_SEED_LEN);
}

void
link_puzzle_bound(uint8_t out[LINK_PUZZLE_BOUND_LEN], const uint8_t responder_key[32],
                  const uint8_t ephemeral[32])
{
	memcpy(out, responder_key, 32);
	memcpy(out + 32, ephemeral, 32);
}
