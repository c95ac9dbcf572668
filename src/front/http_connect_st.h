/* SPDX-License-Identifier: MIT */
/*
 * The HTTP CONNECT parser state, private to http_connect.c and http_connect_parse.c.
 */
#ifndef UM_FRONT_HTTP_CONNECT_ST_H
#define UM_FRONT_HTTP_CONNECT_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front/front.h"
#include "front/http_connect.h"

enum http_connect_state {
	HC_ST_REQUEST_LINE,
	HC_ST_HEADERS,
	HC_ST_DONE,
	HC_ST_FAILED,
};

struct http_connect {
	uint8_t state;   /* enum http_connect_state */
	size_t head_len; /* bytes of the head so far, CRLFs included */
	size_t n_headers;
	bool have_auth;
	bool have_req;
	struct front_request req; /* filled from the request line, then the headers */
	/* The line being read, without its CRLF; cr: its CR has been seen. */
	bool cr;
	size_t line_len;
	uint8_t line[HTTP_CONNECT_HEAD_MAX];
};

#endif /* UM_FRONT_HTTP_CONNECT_ST_H */
