/* SPDX-License-Identifier: MIT */
/*
 * Numeric socket addresses: "1.2.3.4:80" and "[2001:db8::1]:80" to sockaddr and back. No
 * DNS, no service names, no zone ids: a config value or a peer record either is an address
 * or is rejected. The port is 1-65535 in plain decimal (no sign, no leading zero, no
 * spaces); nothing may follow it.
 */
#include "evloop/evloop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"

static int
parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	*port = 0;
	/* 1 to 5 digits, no leading zero (which also rules out port 0). */
	if (s[0] < '1' || s[0] > '9')
		return UM_ERR_INVALID;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == 5 || s[i] < '0' || s[i] > '9')
			return UM_ERR_INVALID;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return UM_ERR_INVALID;
	*port = (uint16_t)v;
	return UM_OK;
}

int
ev_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *host_s, *port_s;
	size_t host_len;
	uint16_t port;
	bool v6;
	int ret;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	if (s == NULL)
		return UM_ERR_INVALID;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return UM_ERR_INVALID;
		v6 = true;
		host_s = s + 1;
		host_len = (size_t)(end - host_s);
		port_s = end + 2;
	} else {
		const char *colon = strchr(s, ':');

		/* A second colon means an IPv6 literal without brackets: its port (if any)
		 * cannot be told apart from the address, so it is refused. */
		if (colon == NULL || strchr(colon + 1, ':') != NULL)
			return UM_ERR_INVALID;
		v6 = false;
		host_s = s;
		host_len = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return UM_ERR_INVALID;
	memcpy(host, host_s, host_len);
	host[host_len] = '\0';
	if ((ret = parse_port(port_s, &port)) != UM_OK)
		return ret;

	if (v6) {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
			return UM_ERR_INVALID;
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
	} else {
		struct sockaddr_in sin;

		/* glibc's inet_pton takes exactly four decimal parts without leading zeros:
		 * no "127.1", no octal, no hex. */
		memset(&sin, 0, sizeof(sin));
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return UM_ERR_INVALID;
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
	}
	return UM_OK;
}

int
ev_addr_format(const struct sockaddr *sa, char *out, size_t out_len)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (out_len > 0)
		out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		if (inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host)) == NULL)
			return UM_ERR_INVALID;
		n = snprintf(out, out_len, "%s:%u", host, (unsigned)ntohs(sin.sin_port));
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		if (inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host)) == NULL)
			return UM_ERR_INVALID;
		n = snprintf(out, out_len, "[%s]:%u", host, (unsigned)ntohs(sin6.sin6_port));
	} else {
		return UM_ERR_INVALID;
	}
	if (n < 0 || (size_t)n >= out_len) {
		if (out_len > 0)
			out[0] = '\0';
		return UM_ERR_TOO_LARGE;
	}
	return UM_OK;
}

/* ev_addr_parse() wants a port in 1..65535 (right for peers), but a listener may ask for
 * port 0 (any free port): parse such an address with port 1, then clear the port. */
int
ev_addr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char tmp[EV_ADDR_STRLEN];
	size_t n = strlen(s);
	int ret;

	if (n < 2 || n >= sizeof(tmp) || strcmp(s + n - 2, ":0") != 0)
		return ev_addr_parse(s, ss, len);
	memcpy(tmp, s, n + 1);
	tmp[n - 1] = '1';
	if ((ret = ev_addr_parse(tmp, ss, len)) != UM_OK)
		return ret;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = 0;
	return UM_OK;
}
