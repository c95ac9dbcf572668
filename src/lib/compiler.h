/* SPDX-License-Identifier: MIT */
/*
 * Compiler attributes and tiny helpers shared by every module. Nothing here allocates or
 * touches global state.
 */
#ifndef UM_LIB_COMPILER_H
#define UM_LIB_COMPILER_H

#include <stddef.h>

#define UM_WARN_UNUSED  __attribute__((warn_unused_result))
#define UM_UNUSED       __attribute__((unused))
#define UM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define UM_NORETURN     __attribute__((noreturn))
#define UM_LIKELY(x)    __builtin_expect(!!(x), 1)
#define UM_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define UM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UM_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define UM_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define UM_FALLTHROUGH  __attribute__((fallthrough))

/* Recover the enclosing struct from a pointer to one of its members. */
#define UM_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define UM_CONTAINER_OF_CONST(ptr, type, member) \
	((const type *)(const void *)((const char *)(ptr)-offsetof(type, member)))

/* Internals reachable from unit tests: static in normal builds, visible with UM_UNIT_TESTS. */
#ifdef UM_UNIT_TESTS
#define UM_STATIC
#else
#define UM_STATIC static
#endif

#endif /* UM_LIB_COMPILER_H */
