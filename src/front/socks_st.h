/* SPDX-License-Identifier: MIT */
/*
 * The SOCKS server state, private to socks.c and socks_parse.c.
 */
#ifndef UM_FRONT_SOCKS_ST_H
#define UM_FRONT_SOCKS_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front/front.h"
#include "front/socks.h"

enum socks_state {
	SOCKS_ST_FIRST,   /* the first message: a SOCKS5 greeting or a SOCKS4/4a request */
	SOCKS_ST_AUTH,    /* SOCKS5: the RFC 1929 user name/password message */
	SOCKS_ST_REQUEST, /* SOCKS5: the request */
	SOCKS_ST_DONE,    /* a request was returned */
	SOCKS_ST_FAILED,  /* an error reply was returned */
};

struct socks_server {
	uint8_t state; /* enum socks_state */
	/* The message being received: bytes of it that arrived in earlier feeds. */
	size_t msg_len;
	uint8_t msg[SOCKS_MSG_MAX];
	/* The RFC 1929 credentials, kept between the authentication and the request. */
	struct front_iso iso;
	bool have_req;
	struct front_request req;
};

#endif /* UM_FRONT_SOCKS_ST_H */
