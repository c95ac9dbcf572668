/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the HTTP CONNECT request parser: the input is fed once in one chunk and once in
 * chunks of sizes derived from the input; the event, status, response bytes, bytes consumed
 * and request must agree. A request must encode back to a head that parses to the same
 * request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "front/front.h"
#include "front/http_connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	uint8_t ev;
	int err, status;
	size_t consumed;
	size_t out_len;
	uint8_t out[HTTP_CONNECT_OUT_MAX];
	struct front_request req;
};

static void
run(const uint8_t *data, size_t size, uint32_t seed, struct outcome *o)
{
	struct http_connect *h = http_connect_new();
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	do {
		struct http_connect_step step;
		size_t n = size - off;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = UM_MIN(n, (size_t)(seed >> 16) % 64 + 1);
		}
		if (http_connect_feed(h, data + off, n, &step) != UM_OK)
			abort();
		if (step.consumed > n || (step.ev != HTTP_CONNECT_EV_FAILED && step.out_len != 0))
			abort();
		o->ev = step.ev;
		if (step.ev == HTTP_CONNECT_EV_FAILED) {
			if (step.out_len == 0)
				abort(); /* every failure has a response */
			o->err = step.err;
			o->status = step.status;
			o->out_len = step.out_len;
			memcpy(o->out, step.out, step.out_len);
		}
		if (step.ev == HTTP_CONNECT_EV_REQUEST) {
			o->consumed = off + step.consumed;
			o->req = *http_connect_request(h);
		}
		off += n;
	} while (o->ev == HTTP_CONNECT_EV_NEED_MORE && off < size);
	http_connect_free(h);
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
	if (one.ev != many.ev || one.err != many.err || one.status != many.status ||
	    one.out_len != many.out_len || memcmp(one.out, many.out, one.out_len) != 0)
		abort();
	if (one.ev == HTTP_CONNECT_EV_REQUEST) {
		uint8_t enc[2048];
		struct wire_wr w;
		struct outcome back;

		if (one.consumed != many.consumed || !req_eq(&one.req, &many.req) ||
		    one.consumed > size || one.consumed > HTTP_CONNECT_HEAD_MAX)
			abort();
		wire_wr_init(&w, enc, sizeof(enc));
		/* A user-id holding ":" cannot come out of the parser, so encoding must work. */
		if (http_connect_request_encode(&one.req, &w) != UM_OK)
			abort();
		run(enc, w.len, 0, &back);
		if (back.ev != HTTP_CONNECT_EV_REQUEST || back.consumed != w.len ||
		    !req_eq(&one.req, &back.req))
			abort();
	}
	return 0;
}
