/* SPDX-License-Identifier: MIT */
/*
 * One error space for all of umbra (OpenSSH ssherr.h style). Fallible functions return
 * UM_OK (0) or one of these negative values; um_err_str() names them for logs and users.
 */
#ifndef UM_LIB_ERR_H
#define UM_LIB_ERR_H

enum um_err {
	UM_OK = 0,
	UM_ERR_INTERNAL = -1,   /* a bug: an invariant did not hold */
	UM_ERR_NOMEM = -2,      /* allocation refused (only where a quota applies) */
	UM_ERR_TRUNCATED = -3,  /* input ends early: wait for more bytes */
	UM_ERR_MALFORMED = -4,  /* input can never be valid: reject it */
	UM_ERR_TRAILING = -5,   /* valid message followed by unexpected bytes */
	UM_ERR_TOO_LARGE = -6,  /* a length or count over its named limit, or output full */
	UM_ERR_AUTH = -7,       /* MAC, AEAD tag or signature did not verify */
	UM_ERR_REPLAY = -8,     /* seen before */
	UM_ERR_RATELIMIT = -9,  /* over a rate or concurrency limit */
	UM_ERR_STATE = -10,     /* not valid in the current protocol state */
	UM_ERR_NOT_FOUND = -11, /* lookup found nothing */
	UM_ERR_EXISTS = -12,    /* already there */
	UM_ERR_SYS = -13,       /* a system call failed; errno kept by the caller */
	UM_ERR_DB = -14,        /* database error */
	UM_ERR_CONFIG = -15,    /* configuration invalid */
	UM_ERR_PERM = -16,      /* file permissions or ownership refused */
	UM_ERR_CRYPTO = -17,    /* a crypto primitive failed (e.g. low-order DH result) */
	UM_ERR_CLOSED = -18,    /* the peer or object is closed */
	UM_ERR_TIMEOUT = -19,   /* a deadline passed */
	UM_ERR_EXPIRED = -20,   /* a certificate or document is out of its validity window */
	UM_ERR_PROTOCOL = -21,  /* the peer violated the protocol */
	UM_ERR_INVALID = -22,   /* a bad argument from a local caller or user */
};

/* Return a short constant English description of err (never NULL). */
const char *um_err_str(int err);

#endif /* UM_LIB_ERR_H */
