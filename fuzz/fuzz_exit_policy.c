/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the exit policy text parser, then exercise what a parsed policy feeds: the canonical
 * text must parse back to the same text; evaluation of a few addresses must agree with
 * exit_policy_may_accept_port() (a public address accepted on a port implies the port may be
 * accepted) and with the summary (which must be canonical and claim no port for a family
 * that no public address of it is accepted on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "directory/descriptor.h"
#include "exit/exit_policy.h"
#include "exit/exit_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
exit_allowed(uint8_t family, const uint8_t *addr, uint16_t port, const struct exit_policy *p)
{
	struct exit_addr a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	memcpy(a.addr, addr, family == 4 ? 4 : 16);
	return exit_addr_allowed(p, &a, port);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t a4[][4] = { { 8, 8, 8, 8 },
		                         { 10, 1, 2, 3 },
		                         { 1, 2, 3, 4 },
		                         { 192, 168, 1, 1 },
		                         { 255, 255, 255, 255 } };
	static const uint8_t a6[][16] = {
		{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		{ 0xfe, 0x80, [15] = 1 },
		{ [10] = 0xff, 0xff, 8, 8, 8, 8 },
		{ [15] = 1 },
	};
	static const uint16_t ports[] = { 1, 22, 25, 80, 443, 65535 };
	struct exit_policy *p = NULL, *q = NULL;
	struct relay_policy p4, p6;
	char err[EXIT_POLICY_ERR_LEN];
	char *txt, *txt2;
	size_t cap;
	uint8_t flags = 0xff;
	int ret;

	/* The summary is quadratic in the rules: keep inputs short enough to stay fast. */
	if (size > 4096)
		return 0;
	ret = exit_policy_parse((const char *)data, size, &p, err, sizeof(err));
	if (ret != UM_OK) {
		if (p != NULL || (ret != UM_ERR_MALFORMED && ret != UM_ERR_TOO_LARGE) ||
		    err[0] == '\0')
			abort();
		return 0;
	}
	cap = exit_policy_n_rules(p) * EXIT_POLICY_RULE_TEXT_MAX + 1;
	txt = malloc(cap);
	txt2 = malloc(cap);
	if (txt == NULL || txt2 == NULL || exit_policy_format(p, txt, cap) != UM_OK ||
	    exit_policy_parse(txt, strlen(txt), &q, err, sizeof(err)) != UM_OK ||
	    exit_policy_n_rules(q) != exit_policy_n_rules(p) ||
	    exit_policy_format(q, txt2, cap) != UM_OK || strcmp(txt, txt2) != 0)
		abort();
	if (exit_policy_summarize(p, &p4, &p6, &flags) != UM_OK ||
	    !relay_policy_is_canonical(&p4) || !relay_policy_is_canonical(&p6) ||
	    (flags & ~RELAY_EXIT_F_ALL) != 0)
		abort();
	for (size_t j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
		bool may = exit_policy_may_accept_port(p, ports[j]);

		for (size_t i = 0; i < sizeof(a4) / sizeof(a4[0]); i++) {
			bool ok = exit_policy_allows(p, 4, a4[i], ports[j]);

			if (ok && !exit_addr_is_private(4, a4[i]) && !may)
				abort();
			/* The flag promises the exit (exit_addr_allowed) refuses private ones. */
			if (exit_allowed(4, a4[i], ports[j], p) && exit_addr_is_private(4, a4[i]) &&
			    (flags & RELAY_EXIT_F_REJECT_PRIVATE))
				abort();
		}
		for (size_t i = 0; i < sizeof(a6) / sizeof(a6[0]); i++) {
			bool ok = exit_policy_allows(p, 6, a6[i], ports[j]);

			if (ok && !exit_addr_is_private(6, a6[i]) && !may)
				abort();
			/* The flag promises the exit (exit_addr_allowed) refuses private ones. */
			if (exit_allowed(6, a6[i], ports[j], p) && exit_addr_is_private(6, a6[i]) &&
			    (flags & RELAY_EXIT_F_REJECT_PRIVATE))
				abort();
		}
		if (exit_policy_allows(p, 4, a4[0], 0) || exit_policy_allows(p, 5, a4[0], ports[j]))
			abort();
	}
	exit_policy_free(p);
	exit_policy_free(q);
	free(txt);
	free(txt2);
	return 0;
}
