/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the SOCKS server state machine: the input is fed once in one chunk and once in chunks
 * of sizes derived from the input; the event, the error, the concatenated output bytes, the
 * bytes consumed by a request and the request itself must be the same both ways. A request
 * must encode back (client side) to bytes that parse to the same request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "front/front.h"
#include "front/socks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	uint8_t ev;
	int err;
	size_t consumed;
	size_t out_len;
	uint8_t out[64];
	struct front_request req;
};

static void
run(const uint8_t *data, size_t size, uint32_t seed, struct outcome *o)
{
	struct socks_server *s = socks_server_new();
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	do {
		struct socks_step step;
		size_t n = size - off;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = UM_MIN(n, (size_t)(seed >> 16) % 17 + 1);
		}
		if (socks_server_feed(s, data + off, n, &step) != UM_OK)
			abort();
		if (step.out_len > SOCKS_OUT_MAX || o->out_len + step.out_len > sizeof(o->out) ||
		    step.consumed > n)
			abort();
		memcpy(o->out + o->out_len, step.out, step.out_len);
		o->out_len += step.out_len;
		o->ev = step.ev;
		o->err = step.err;
		if (step.ev == SOCKS_EV_REQUEST) {
			o->consumed = off + step.consumed;
			o->req = *socks_server_request(s);
		}
		off += n;
	} while (o->ev == SOCKS_EV_NEED_MORE && off < size);
	socks_server_free(s);
}

static bool
req_eq(const struct front_request *a, const struct front_request *b)
{
	return a->proto == b->proto && a->cmd == b->cmd && a->host_type == b->host_type &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 && strcmp(a->host, b->host) == 0 &&
	       a->port == b->port && front_iso_eq(&a->iso, &b->iso);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome one, many;
	uint32_t seed = 1;

	for (size_t i = 0; i < size && i < 8; i++)
		seed = seed * 31 + data[i];
	run(data, size, 0, &one);
	run(data, size, seed | 1, &many);
	if (one.ev != many.ev || one.err != many.err || one.out_len != many.out_len ||
	    memcmp(one.out, many.out, one.out_len) != 0)
		abort();
	if (one.ev == SOCKS_EV_REQUEST) {
		uint8_t enc[2 * SOCKS_MSG_MAX];
		struct wire_wr w;
		struct outcome back;

		if (one.consumed != many.consumed || !req_eq(&one.req, &many.req) ||
		    one.consumed > size)
			abort();
		wire_wr_init(&w, enc, sizeof(enc));
		if (socks_request_encode(&one.req, &w) != UM_OK)
			abort();
		run(enc, w.len, 0, &back);
		if (back.ev != SOCKS_EV_REQUEST || back.consumed != w.len ||
		    !req_eq(&one.req, &back.req))
			abort();
	}
	return 0;
}
