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
