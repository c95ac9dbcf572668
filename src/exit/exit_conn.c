/* SPDX-License-Identifier: MIT */
/*
 * The exit's outbound decisions without I/O (exit_conn.h; docs/PROTOCOL.md 10.5): which
 * addresses a stream may reach and in which order, which END reason a failure gives.
 * exit_io.c applies them on the event loop.
 */
#include "exit/exit_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/err.h"

void
exit_conn_config_init(struct exit_conn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_ms = EXIT_CONNECT_TIMEOUT_MS_DEFAULT;
	cfg->open_timeout_ms = EXIT_OPEN_TIMEOUT_MS_DEFAULT;
	cfg->resolve_timeout_ms = EXIT_RESOLVE_TIMEOUT_MS_DEFAULT;
	cfg->pending_max = EXIT_PENDING_MAX_DEFAULT;
	cfg->tries_max = EXIT_TRIES_MAX_DEFAULT;
}

/* A rule that names addresses rather than matching every address of a family. */
static bool
rule_is_explicit(const struct exit_rule *r)
{
	return r->addr_kind == EXIT_ADDR_PRIVATE || r->addr_kind == EXIT_ADDR_IPV4 ||
	       r->addr_kind == EXIT_ADDR_IPV6;
}

bool
exit_addr_allowed(const struct exit_policy *p, const struct exit_addr *a, uint16_t port)
{
	const struct exit_rule *r = exit_policy_match(p, a->family, a->addr, port);

	if (r == NULL || !r->accept)
		return false;
	return rule_is_explicit(r) || !exit_addr_is_private(a->family, a->addr);
}

bool
exit_dest_allowed(const struct exit_policy *p, const struct exit_policy *tier_rules,
                  const struct exit_addr *a, uint16_t port)
{
	if (exit_tier_rejects(tier_rules, a->family, a->addr, port))
		return false;
	return exit_addr_allowed(p, a, port);
}

bool
exit_port_may_accept(const struct exit_policy *p, uint16_t port)
{
	bool shadowed4 = false, shadowed6 = false;

	if (port == 0)
		return false;
	if (exit_policy_may_accept_port(p, port))
		return true;
	/*
	 * A private address can only be accepted by an explicit accept rule at this port that
	 * no earlier wildcard rule at this port hides (a wildcard decides every address of its
	 * families, and never accepts a private one). Earlier explicit rules are not tracked:
	 * this may say yes for a port that turns out refused once resolved, never the reverse.
	 */
	for (size_t i = 0; i < exit_policy_n_rules(p); i++) {
		const struct exit_rule *r = exit_policy_rule(p, i);

		if (port < r->port_lo || port > r->port_hi)
			continue;
		switch (r->addr_kind) {
		case EXIT_ADDR_ANY:
			shadowed4 = shadowed6 = true;
			break;
		case EXIT_ADDR_ANY4:
			shadowed4 = true;
			break;
		case EXIT_ADDR_ANY6:
			shadowed6 = true;
			break;
		case EXIT_ADDR_PRIVATE:
			if (r->accept && (!shadowed4 || !shadowed6))
				return true;
			break;
		case EXIT_ADDR_IPV4:
			if (r->accept && !shadowed4)
				return true;
			break;
		case EXIT_ADDR_IPV6:
			/* An IPv4-mapped prefix is judged as IPv4 addresses. */
			if (r->accept && (!shadowed6 || !shadowed4))
				return true;
			break;
		default:
			break;
		}
		if (shadowed4 && shadowed6)
			return false;
	}
	return false;
}

/*
 * For a fixed address, which rule decides can change only where some rule's port range
 * starts or ends, so trying each explicit accept rule's first port and every rule boundary
 * inside its range decides "allowed on some port".
 */
bool
exit_answer_visible(const struct exit_policy *p, const struct exit_addr *a)
{
	size_t n = exit_policy_n_rules(p);

	if (a->family != EXIT_AF_IPV4 && a->family != EXIT_AF_IPV6)
		return false;
	if (!exit_addr_is_private(a->family, a->addr))
		return true;
	for (size_t i = 0; i < n; i++) {
		const struct exit_rule *r = exit_policy_rule(p, i);

		if (!r->accept || !rule_is_explicit(r))
			continue;
		if (exit_addr_allowed(p, a, r->port_lo))
			return true;
		for (size_t j = 0; j < n; j++) {
			const struct exit_rule *q = exit_policy_rule(p, j);
			uint32_t b[2] = { q->port_lo, (uint32_t)q->port_hi + 1 };

			for (size_t k = 0; k < 2; k++) {
				if (b[k] > r->port_lo && b[k] <= r->port_hi &&
				    exit_addr_allowed(p, a, (uint16_t)b[k]))
					return true;
			}
		}
	}
	return false;
}

void
exit_addr_from_sockaddr(const struct sockaddr *sa, struct exit_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		out->family = EXIT_AF_IPV4;
		memcpy(out->addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		out->family = EXIT_AF_IPV6;
		memcpy(out->addr, &sin6->sin6_addr, 16);
	}
}

size_t
exit_candidates(const struct exit_policy *p, const struct exit_policy *tier_rules, uint32_t flags,
                uint16_t port, const struct sockaddr_storage *in, size_t n_in,
                struct sockaddr_storage *out, size_t *n_family, struct exit_addr *refused)
{
	bool v6_ok = (flags & EXIT_F_IPV6_OK) != 0;
	bool v4_ok = !v6_ok || (flags & EXIT_F_IPV4_NOT_OK) == 0;
	int first = (flags & EXIT_F_IPV6_PREFERRED) != 0 && v6_ok ? AF_INET6 : AF_INET;
	size_t n = 0;

	*n_family = 0;
	memset(refused, 0, sizeof(*refused));
	/* Two passes: the preferred family, then the other one. */
	for (int pass = 0; pass < 2; pass++) {
		int fam = pass == 0 ? first : (first == AF_INET ? AF_INET6 : AF_INET);

		if ((fam == AF_INET && !v4_ok) || (fam == AF_INET6 && !v6_ok))
			continue;
		for (size_t i = 0; i < n_in; i++) {
			struct exit_addr a;

			if (in[i].ss_family != fam)
				continue;
			(*n_family)++;
			exit_addr_from_sockaddr((const struct sockaddr *)&in[i], &a);
			if (!exit_dest_allowed(p, tier_rules, &a, port)) {
				if (refused->family == 0)
					*refused = a;
				continue;
			}
			if (n < EXIT_ADDRS_MAX)
				out[n++] = in[i];
		}
	}
	return n;
}

uint8_t
exit_end_reason_from_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return EXIT_END_CONNECTREFUSED;
	case ETIMEDOUT:
		return EXIT_END_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case EACCES: /* a local firewall said no */
	case EPERM:
		return EXIT_END_NOROUTE;
	case ECONNRESET:
		return EXIT_END_CONNRESET;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return EXIT_END_RESOURCELIMIT;
	default:
		return EXIT_END_MISC;
	}
}

int
exit_end_reason_status(uint8_t reason)
{
	switch (reason) {
	case EXIT_END_EXITPOLICY:
		return UM_ERR_PERM;
	case EXIT_END_RESOLVEFAILED:
		return UM_ERR_NOT_FOUND;
	case EXIT_END_TIMEOUT:
		return UM_ERR_TIMEOUT;
	case EXIT_END_RESOURCELIMIT:
		return UM_ERR_RATELIMIT;
	case EXIT_END_INTERNAL:
		return UM_ERR_INTERNAL;
	default: /* refused, no route, reset, misc: what connect(2) said */
		return UM_ERR_SYS;
	}
}
