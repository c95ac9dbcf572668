/* SPDX-License-Identifier: MIT */
/*
 * Allocation helpers (Tor's convention): um_xmalloc() and friends never return NULL; they abort
 * the process on exhaustion, so everything a peer can make us allocate must have a named quota.
 * um_memzero() wipes secrets in a way the compiler cannot elide.
 */
#ifndef UM_LIB_MEM_H
#define UM_LIB_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/compiler.h"

void *um_xmalloc(size_t n);
void *um_xcalloc(size_t nmemb, size_t size);
void *um_xrealloc(void *p, size_t n);
char *um_xstrdup(const char *s);
char *um_xstrndup(const char *s, size_t n);
/* Return a new string formatted like printf; the caller frees it. */
char *um_xasprintf(const char *fmt, ...) UM_PRINTF(1, 2);

/* Overwrite n bytes at p with zeros; never optimised away. */
void um_memzero(void *p, size_t n);
/* Compare in constant time; true when equal. */
bool um_memeq_ct(const void *a, const void *b, size_t n);

/* Free *pp with free_fn and set it to NULL: `UM_FREE_AND_NULL(link_free_, l)`. */
#define UM_FREE_AND_NULL(free_fn, p) \
	do {                         \
		free_fn(p);          \
		(p) = NULL;          \
	} while (0)
#define um_free(p) UM_FREE_AND_NULL(free, p)

#endif /* UM_LIB_MEM_H */
