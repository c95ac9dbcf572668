/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the HTTP client's incremental response parser (src/evloop/http_response_parse.c).
 *
 * Input: byte 0 holds flags (bit 0: the request was HEAD; bits 1-2: the body cap, one of
 * 0, 16, 1024, 1 MiB; bit 3: signal EOF after the last byte), byte 1 the number k (mod 8) of
 * piece lengths that follow, then k bytes of piece lengths (each plus one), then the response.
 * The response is parsed in one piece and again in pieces of those lengths, in turn (byte by
 * byte if k is 0). Both runs must agree on the error, the bytes consumed, completion, the
 * status, every header and the body. A complete response must hold the invariants (final
 * status 200-599, body within the cap, no body after HEAD or for 204/304), and its prefix one
 * byte short must be "need more". No crash, no leak (ASan/LSan), no undefined behaviour.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "evloop/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t caps[] = { 0, 16, 1024, 1024 * 1024 };

struct run {
	int err;
	size_t consumed;
	bool done;
	bool done_before_eof;
	struct http_response_parser *p;
};

/* Parse in[0, len) in pieces (lens[0..k) in turn; k == 0: whole if !bytewise, else 1). */
static void
run_parse(struct run *o, const uint8_t *in, size_t len, size_t cap, bool head, bool eof,
          const uint8_t *lens, size_t k, bool bytewise)
{
	size_t off = 0, i = 0;

	memset(o, 0, sizeof(*o));
	o->p = http_response_parser_new(cap, head);
	while (off < len) {
		size_t n = len - off;
		ssize_t r;

		if (k > 0)
			n = (size_t)lens[i++ % k] + 1;
		else if (bytewise)
			n = 1;
		if (n > len - off)
			n = len - off;
		r = http_response_parse(o->p, in + off, n);
		if (r < 0) {
			o->err = (int)r;
			if (r != UM_ERR_MALFORMED && r != UM_ERR_TOO_LARGE)
				abort();
			return;
		}
		if ((size_t)r > n)
			abort();
		o->consumed += (size_t)r;
		off += n;
		if (http_response_is_done(o->p)) {
			o->done = o->done_before_eof = true;
			return;
		}
		if ((size_t)r != n)
			abort(); /* an incomplete response takes every byte */
	}
	if (eof) {
		o->err = http_response_parse_eof(o->p);
		if (o->err != UM_OK && o->err != UM_ERR_TRUNCATED)
			abort();
		o->done = http_response_is_done(o->p);
	}
}

static void
compare(const struct run *a, const struct run *b)
{
	size_t na, nb, la, lb;
	const uint8_t *ba, *bb;

	if (a->err != b->err || a->done != b->done ||
	    http_response_status(a->p) != http_response_status(b->p))
		abort();
	if (a->err == UM_ERR_MALFORMED || a->err == UM_ERR_TOO_LARGE)
		return; /* what was taken before the error depends on the split */
	if (a->consumed != b->consumed)
		abort();
	na = http_response_n_headers(a->p);
	nb = http_response_n_headers(b->p);
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++) {
		const char *n1, *v1, *n2, *v2;

		if (http_response_header_at(a->p, i, &n1, &v1) != UM_OK ||
		    http_response_header_at(b->p, i, &n2, &v2) != UM_OK || strcmp(n1, n2) != 0 ||
		    strcmp(v1, v2) != 0 || http_response_header(a->p, n1) == NULL)
			abort();
	}
	ba = http_response_body(a->p, &la);
	bb = http_response_body(b->p, &lb);
	if (ba == NULL || bb == NULL || la != lb || memcmp(ba, bb, la) != 0)
		abort();
}

static void
check_complete(const struct run *a, const uint8_t *in, size_t cap, bool head)
{
	int status = http_response_status(a->p);
	struct http_response_parser *p;
	size_t blen;

	(void)http_response_body(a->p, &blen);
	if (status < 200 || status > 599 || blen > cap)
		abort();
	if ((head || status == 204 || status == 304) && blen != 0)
		abort();
	if (!a->done_before_eof || a->consumed == 0)
		return;
	/* One byte short of a complete response is "need more". */
	p = http_response_parser_new(cap, head);
	if (http_response_parse(p, in, a->consumed - 1) != (ssize_t)(a->consumed - 1) ||
	    http_response_is_done(p))
		abort();
	http_response_parser_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, pieces;
	const uint8_t *lens, *in;
	size_t k, len, cap;
	bool head, eof;

	if (size < 2)
		return 0;
	head = (data[0] & 1) != 0;
	cap = caps[(data[0] >> 1) & 3];
	eof = (data[0] & 8) != 0;
	k = data[1] % 8;
	if (size - 2 < k)
		return 0;
	lens = data + 2;
	in = data + 2 + k;
	len = size - 2 - k;

	run_parse(&whole, in, len, cap, head, eof, NULL, 0, false);
	run_parse(&pieces, in, len, cap, head, eof, lens, k, true);
	compare(&whole, &pieces);
	if (whole.done && whole.err == UM_OK)
		check_complete(&whole, in, cap, head);
	http_response_parser_free(whole.p);
	http_response_parser_free(pieces.p);
	return 0;
}
