/* SPDX-License-Identifier: MIT */
/*
 * Name resolution over uv_getaddrinfo (dns.h).
 *
 * A request owns two libuv objects: the getaddrinfo request (on the thread pool until its
 * callback runs, even after uv_cancel() if the lookup had already started) and a timer
 * handle (the timeout, and the 0 ms answer for literals and ".invalid" names). The user's
 * callback runs once, from whichever finishes first; `done` then silences the other. The
 * memory is released when both are over: the getaddrinfo callback has run and the timer's
 * close callback has run. Cancel only sets `done` and asks both to end, so nothing ever
 * calls back into freed memory.
 */
#include "evloop/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/err.h"
#include "lib/log.h"
#include "evloop/evloop_st.h"

struct ev_resolve {
	struct ev_hobj hobj; /* for the timer: ev_loop_free_() cancels through it */
	uv_timer_t timer;
	uv_getaddrinfo_t req;
	ev_resolve_fn *cb;
	void *arg;
	uint16_t port;
	int family;
	int immediate_status; /* literal / special name: answered by the timer at 0 ms */
	struct ev_resolve_result res;
	bool gai_busy;   /* the getaddrinfo callback has not run yet */
	bool timer_open; /* the timer's close callback has not run yet */
	bool immediate;
	bool done; /* the user callback ran or the request was cancelled */
};

int
ev_addr_from_literal(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];
	size_t len;

	memset(ss, 0, sizeof(*ss));
	if (host == NULL)
		return UM_ERR_INVALID;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if (len - 2 >= sizeof(buf))
			return UM_ERR_INVALID;
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			return UM_OK;
		}
	}
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			return UM_OK;
		}
	}
	memset(ss, 0, sizeof(*ss));
	return UM_ERR_INVALID;
}

/* Is the last label of host (one trailing dot ignored) "invalid" (RFC 6761 6.4)? */
UM_STATIC bool
ev_resolve_name_is_invalid_tld(const char *host)
{
	size_t len = strlen(host);
	const char *label;

	if (len > 0 && host[len - 1] == '.')
		len--;
	label = host + len;
	while (label > host && label[-1] != '.')
		label--;
	return (size_t)(host + len - label) == 7 && strncasecmp(label, "invalid", 7) == 0;
}

/* The status a caller sees for a getaddrinfo error (libuv's UV_EAI_* values). */
UM_STATIC int
ev_resolve_map_gai_err(int uv_status)
{
	switch (uv_status) {
	case 0:
		return UM_OK;
	case UV_EAI_NONAME:
	case UV_EAI_NODATA:
	case UV_EAI_ADDRFAMILY:
		return UM_ERR_NOT_FOUND;
	case UV_EAI_CANCELED:
		return UM_ERR_CLOSED;
	default: /* EAI_AGAIN, EAI_FAIL (server failure), EAI_MEMORY, EAI_SYSTEM, ... */
		return UM_ERR_SYS;
	}
}

/* Append sa (AF_INET / AF_INET6 of the wanted family) with the port, unless already there. */
static void
result_add(struct ev_resolve_result *res, const struct sockaddr *sa, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	size_t len;

	if (res->n >= EV_RESOLVE_MAX_ADDRS)
		return;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	if (family != AF_UNSPEC && sa->sa_family != family)
		return;
	memset(&ss, 0, sizeof(ss));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		sin.sin_port = htons(port);
		memcpy(&ss, &sin, sizeof(sin));
		len = sizeof(sin);
	} else {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		sin6.sin6_scope_id = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_scope_id;
		sin6.sin6_port = htons(port);
		memcpy(&ss, &sin6, sizeof(sin6));
		len = sizeof(sin6);
	}
	for (size_t i = 0; i < res->n; i++) {
		if (memcmp(&res->addrs[i], &ss, len) == 0)
			return;
	}
	res->addrs[res->n++] = ss;
}

static void
resolve_maybe_free(struct ev_resolve *r)
{
	if (!r->gai_busy && !r->timer_open)
		free(r);
}

static void
timer_close_cb(uv_handle_t *h)
{
	struct ev_resolve *r = UM_CONTAINER_OF(h, struct ev_resolve, timer);

	r->timer_open = false;
	resolve_maybe_free(r);
}

/* Stop delivering: no user callback from here on; both libuv objects are asked to end. */
static void
resolve_finish(struct ev_resolve *r)
{
	r->done = true;
	if (!uv_is_closing((const uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, timer_close_cb);
	if (r->gai_busy)
		(void)uv_cancel((uv_req_t *)&r->req); /* fails once the lookup runs: harmless */
}

static void
gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct ev_resolve *r = UM_CONTAINER_OF(req, struct ev_resolve, req);
	int st;

	r->gai_busy = false;
	if (!r->done) {
		st = ev_resolve_map_gai_err(status);
		if (st == UM_OK) {
			for (const struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
				if (p->ai_addr != NULL)
					result_add(&r->res, p->ai_addr, r->family, r->port);
			}
			if (r->res.n == 0)
				st = UM_ERR_NOT_FOUND;
		}
		resolve_finish(r);
		r->cb(r->arg, st, st == UM_OK ? &r->res : NULL);
	}
	uv_freeaddrinfo(ai);
	resolve_maybe_free(r);
}

static void
timer_cb(uv_timer_t *h)
{
	struct ev_resolve *r = UM_CONTAINER_OF(h, struct ev_resolve, timer);
	int st = r->immediate ? r->immediate_status : UM_ERR_TIMEOUT;

	if (UM_BUG(r->done))
		return;
	resolve_finish(r);
	r->cb(r->arg, st, st == UM_OK ? &r->res : NULL);
}

void
ev_resolve_cancel(struct ev_resolve *r)
{
	if (r == NULL || r->done)
		return;
	resolve_finish(r);
}

static void
resolve_force_close(struct ev_hobj *o)
{
	ev_resolve_cancel(UM_CONTAINER_OF(o, struct ev_resolve, hobj));
}

static bool
name_ok(const char *host)
{
	size_t len = strnlen(host, EV_RESOLVE_NAME_MAX + 2);

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > EV_RESOLVE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)host[i];

		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return true;
}

int
ev_resolve(struct ev_loop *loop, const char *host, uint16_t port, int family, uint64_t timeout_ms,
           ev_resolve_fn *cb, void *arg, struct ev_resolve **out)
{
	struct sockaddr_storage lit;
	struct addrinfo hints;
	struct ev_resolve *r;
	int rc;

	*out = NULL;
	if (host == NULL || cb == NULL || !name_ok(host) ||
	    (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
		return UM_ERR_INVALID;
	r = um_xcalloc(1, sizeof(*r));
	r->hobj.force_close = resolve_force_close;
	r->cb = cb;
	r->arg = arg;
	r->port = port;
	r->family = family;
	uv_timer_init(&loop->uv, &r->timer); /* cannot fail on Unix */
	r->timer.data = &r->hobj;
	r->timer_open = true;

	if (ev_addr_from_literal(host, port, &lit) == UM_OK) {
		r->immediate = true;
		r->immediate_status = UM_ERR_NOT_FOUND;
		if (family == AF_UNSPEC || lit.ss_family == family) {
			r->res.addrs[0] = lit;
			r->res.n = 1;
			r->immediate_status = UM_OK;
		}
	} else if (ev_resolve_name_is_invalid_tld(host)) {
		r->immediate = true;
		r->immediate_status = UM_ERR_NOT_FOUND;
	}
	if (r->immediate) {
		(void)uv_timer_start(&r->timer, timer_cb, 0, 0);
		*out = r;
		return UM_OK;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM; /* one entry per address, not one per socket type */
	hints.ai_protocol = IPPROTO_TCP;
	/* No service: the port is ours to set, never looked up in /etc/services. */
	if ((rc = uv_getaddrinfo(&loop->uv, &r->req, gai_cb, host, NULL, &hints)) != 0) {
		log_debug(LD_NET, "getaddrinfo request refused: %s", uv_strerror(rc));
		r->done = true;
		uv_close((uv_handle_t *)&r->timer, timer_close_cb); /* frees r */
		errno = rc == UV_EAI_MEMORY ? ENOMEM : rc < 0 && rc > -4096 ? -rc : EINVAL;
		return UM_ERR_SYS;
	}
	r->gai_busy = true;
	if (timeout_ms > 0)
		(void)uv_timer_start(&r->timer, timer_cb, timeout_ms, 0);
	*out = r;
	return UM_OK;
}
