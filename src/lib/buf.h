/* SPDX-License-Identifier: MIT */
/*
 * Growable byte queue with a hard cap (sshbuf's max_size): append at the tail, consume from
 * the head. Used for stream reassembly and text protocols. Appends over max_len fail with
 * UM_ERR_TOO_LARGE and change nothing. Pointers from buf_data()/buf_reserve() live until the
 * next call that modifies the buffer.
 */
#ifndef UM_LIB_BUF_H
#define UM_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

struct buf {
	uint8_t *p;
	size_t off;     /* start of unread data */
	size_t len;     /* bytes of unread data */
	size_t alloc;   /* bytes allocated at p */
	size_t max_len; /* cap on len */
};

/* Initialise an empty buffer that may hold at most max_len bytes. */
void buf_init(struct buf *b, size_t max_len);
/* Wipe and release the storage; the buffer is empty afterwards and may be reused. */
void buf_clear(struct buf *b);
static inline size_t
buf_len(const struct buf *b)
{
	return b->len;
}
static inline const uint8_t *
buf_data(const struct buf *b)
{
	/* Before the first allocation p is NULL, and NULL + 0 is undefined in C. */
	return b->p != NULL ? b->p + b->off : NULL;
}
int buf_append(struct buf *b, const void *p, size_t n) UM_WARN_UNUSED;
/* Make room for n bytes at the tail and return a pointer to them; commit with buf_commit(). */
int buf_reserve(struct buf *b, size_t n, uint8_t **tail) UM_WARN_UNUSED;
void buf_commit(struct buf *b, size_t n);
/* Drop n bytes from the head (n is clamped to the length). */
void buf_consume(struct buf *b, size_t n);

#endif /* UM_LIB_BUF_H */
