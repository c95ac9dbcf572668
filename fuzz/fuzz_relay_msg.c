/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the relay message parsers: the first input byte is the relay command, the rest its
 * Data, sent with the StreamID the command's rule wants (the other StreamID must always be
 * refused). Round-trip oracle: a parsed message re-encodes, the encoding parses back to the
 * same message, and re-encoding that gives the same bytes. The same bytes, zero-padded to a
 * body, also go through relay_body_parse, whose header and Data must survive
 * relay_body_encode and a second parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "circuit/relay_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
msg_equal(const struct relay_msg *a, const struct relay_msg *b)
{
	if (a->cmd != b->cmd || a->stream_id != b->stream_id)
		return false;
	if (a->cmd == RELAY_DATA || a->cmd == RELAY_DROP)
		return a->u.data.len == b->u.data.len &&
		       (a->u.data.len == 0 || memcmp(a->u.data.p, b->u.data.p, a->u.data.len) == 0);
	if (a->cmd == RELAY_TOKEN) /* issuer, then a view of the token bytes */
		return memcmp(a->u.token.issuer, b->u.token.issuer, RELAY_TOKEN_ISSUER_LEN) == 0 &&
		       a->u.token.token.len == b->u.token.token.len &&
		       (a->u.token.token.len == 0 ||
		        memcmp(a->u.token.token.p, b->u.token.token.p, a->u.token.token.len) == 0);
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void
fuzz_msg(uint8_t cmd, const uint8_t *msg, size_t n)
{
	enum relay_stream_rule rule = relay_cmd_stream_rule(cmd);
	uint16_t sid = rule == RELAY_STREAM_REQUIRED ? 1 : 0;
	static struct relay_msg m, p; /* static: a RESOLVED is 4 KB */
	uint8_t out[RELAY_DATA_MAX], again[RELAY_DATA_MAX];
	size_t len, len2;
	int ret;

	memset(&m, 0, sizeof(m));
	memset(&p, 0, sizeof(p));
	ret = relay_msg_parse(cmd, sid, msg, n, &m);
	if (ret == UM_ERR_NOT_FOUND) {
		if (rule != RELAY_STREAM_UNKNOWN)
			abort();
		return;
	}
	if (ret != UM_OK && ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED &&
	    ret != UM_ERR_TRAILING)
		abort();
	if (ret != UM_OK)
		return;
	if (relay_msg_encode(&m, out, sizeof(out), &len) != UM_OK || len > RELAY_DATA_MAX)
		abort();
	if (relay_msg_parse(cmd, sid, out, len, &p) != UM_OK || !msg_equal(&m, &p))
		abort();
	if (relay_msg_encode(&p, again, sizeof(again), &len2) != UM_OK || len2 != len ||
	    memcmp(out, again, len) != 0)
		abort();
	/* The other StreamID is always refused. */
	if (relay_msg_parse(cmd, sid == 0 ? 1 : 0, msg, n, &p) != UM_ERR_MALFORMED)
		abort();
}

static void
fuzz_body(const uint8_t *in, size_t n)
{
	uint8_t body[RELAY_BODY_LEN] = { 0 }, again[RELAY_BODY_LEN];
	struct relay_hdr h, h2;
	static const uint8_t zero[RELAY_DIGEST_LEN];

	memcpy(body, in, n < sizeof(body) ? n : sizeof(body));
	if (relay_body_parse(body, sizeof(body), &h) != UM_OK)
		return;
	if (h.length > RELAY_DATA_MAX)
		abort();
	if (relay_body_encode(h.cmd, h.stream_id, h.data, h.length, again) != UM_OK ||
	    relay_body_parse(again, sizeof(again), &h2) != UM_OK)
		abort();
	if (h2.cmd != h.cmd || h2.stream_id != h.stream_id || h2.length != h.length ||
	    memcmp(h2.digest, zero, RELAY_DIGEST_LEN) != 0 ||
	    (h.length > 0 && memcmp(h2.data, h.data, h.length) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || um_crypto_init() != UM_OK)
		return 0;
	fuzz_msg(data[0], data + 1, size - 1);
	fuzz_body(data + 1, size - 1);
	return 0;
}
