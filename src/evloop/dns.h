/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous name resolution for the event loop: getaddrinfo(3) run on libuv's thread pool
 * (uv_getaddrinfo), so a slow resolver never blocks the loop, behind a handle that never calls
 * back into freed memory.
 *
 *   - IP literals never reach the resolver: "192.0.2.1", "2001:db8::1" and "[2001:db8::1]"
 *     are parsed numerically (inet_pton: strict dotted quad, no "127.1" or "0x7f.1") and
 *     answered from the loop. So are names under the special-use TLD "invalid" (RFC 6761 6.4:
 *     always a negative answer, never a query).
 *   - Results are a bounded list (EV_RESOLVE_MAX_ADDRS) of distinct IPv4 / IPv6 addresses in
 *     the resolver's order (RFC 6724 sorting by glibc), each with the requested port.
 *   - A request ends in exactly one callback, from the loop (never from inside ev_resolve()),
 *     unless it is cancelled first. The status says what a caller (the exit's END and RESOLVED
 *     messages) needs to know:
 *       UM_OK             res->n >= 1 addresses
 *       UM_ERR_NOT_FOUND  permanent: the name does not exist or has no address of the asked
 *                         family (EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY, a literal of the
 *                         other family, an ".invalid" name)
 *       UM_ERR_TIMEOUT    no answer within timeout_ms
 *       UM_ERR_SYS        transient: temporary or server failure (EAI_AGAIN, EAI_FAIL),
 *                         out of memory, any other resolver error; a later retry may work
 *     res is NULL unless the status is UM_OK.
 *   - On timeout the lookup itself cannot be interrupted (getaddrinfo is blocking on its pool
 *     thread): the handle stays alive inside the loop until the thread returns, then drops the
 *     answer. Callers bound how many lookups they start; a timed-out lookup still holds a pool
 *     thread until glibc's own timeout (resolv.conf "timeout" x "attempts") ends it.
 *
 * Only the loop thread may call these functions.
 */
#ifndef UM_EVLOOP_DNS_H
#define UM_EVLOOP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/compiler.h"
#include "evloop/evloop.h"

enum ev_resolve_limits {
	EV_RESOLVE_MAX_ADDRS = 16, /* addresses kept from one answer */
	EV_RESOLVE_NAME_MAX = 255, /* bytes of a name (a trailing dot not counted) */
};

struct ev_resolve_result {
	size_t n;                                            /* 1..EV_RESOLVE_MAX_ADDRS */
	struct sockaddr_storage addrs[EV_RESOLVE_MAX_ADDRS]; /* sockaddr_in / sockaddr_in6 */
};

struct ev_resolve;

/* The answer; res (and everything in it) is valid only during the call. */
typedef void ev_resolve_fn(void *arg, int status, const struct ev_resolve_result *res);

/*
 * Resolve host (a DNS name or an IP literal, NUL-terminated) to addresses with port (host
 * order, 0 allowed) filled in. family is AF_UNSPEC (both), AF_INET or AF_INET6 (only that
 * family: a literal of the other family is UM_ERR_NOT_FOUND). timeout_ms 0 means no timeout
 * of our own. On UM_OK, *out is a handle valid until the callback has started or
 * ev_resolve_cancel() is called, whichever comes first; cb runs exactly once unless
 * cancelled. Errors (no callback, *out NULL): UM_ERR_INVALID for an empty name, one longer
 * than EV_RESOLVE_NAME_MAX, one with a byte outside printable ASCII or a bad family;
 * UM_ERR_SYS (errno set) if libuv refuses the request.
 */
int ev_resolve(struct ev_loop *loop, const char *host, uint16_t port, int family,
               uint64_t timeout_ms, ev_resolve_fn *cb, void *arg,
               struct ev_resolve **out) UM_WARN_UNUSED;
/*
 * Cancel a pending request: its callback never runs, whether or not the lookup had started
 * on the pool. NULL, and a request whose callback is running (from inside it), are no-ops.
 * ev_loop_free() cancels the requests still pending and waits for their pool threads.
 */
void ev_resolve_cancel(struct ev_resolve *r);

/*
 * Parse host as an IP literal ("192.0.2.1", "2001:db8::1" or "[2001:db8::1]"; no zone id, no
 * port) into *ss with port. UM_OK, or UM_ERR_INVALID (ss zeroed) if host is not a literal.
 */
int ev_addr_from_literal(const char *host, uint16_t port,
                         struct sockaddr_storage *ss) UM_WARN_UNUSED;

#ifdef UM_UNIT_TESTS
/* Is the last label of host (one trailing dot ignored) "invalid", in any case? */
bool ev_resolve_name_is_invalid_tld(const char *host);
/* The dns.h status for a uv_getaddrinfo status (UV_EAI_*; UV_EAI_CANCELED -> UM_ERR_CLOSED). */
int ev_resolve_map_gai_err(int uv_status);
#endif

#endif /* UM_EVLOOP_DNS_H */
