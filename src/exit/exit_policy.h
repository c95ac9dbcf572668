/* SPDX-License-Identifier: MIT */
/*
 * Exit policies (docs/PROTOCOL.md section 10): an ordered list of rules
 *
 *   accept|reject ADDR[/BITS]:PORT[-PORT]
 *
 * where ADDR is "*" (every address), "*4" (every IPv4 address), "*6" (every IPv6 address),
 * "private" (every non-public address, exit_addr_is_private()), an IPv4 address or a
 * bracketed IPv6 address, optionally with a prefix length; PORT is "*" or a port or an
 * inclusive range. The first rule that matches a destination decides; a destination no rule
 * matches is rejected. Parsed from configuration text (rules separated by commas or
 * newlines), evaluated per destination at the exit, and summarized into the per-family port
 * policies of the relay descriptor (directory/descriptor.h) that clients choose exits by.
 *
 * Nothing here does I/O or logs. A policy is immutable once parsed.
 */
#ifndef UM_EXIT_EXIT_POLICY_H
#define UM_EXIT_EXIT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "directory/descriptor.h"

enum exit_policy_limits {
	EXIT_POLICY_RULES_MAX = 256,      /* rules in one policy */
	EXIT_POLICY_TEXT_MAX = 64 * 1024, /* bytes of policy text */
	EXIT_POLICY_ERR_LEN = 160,        /* a buffer this large holds any parse error */
	EXIT_POLICY_RULE_TEXT_MAX = 80,   /* bytes of one formatted rule, separator included */
};

/* Address families, with the values of the descriptor's enum relay_addr_type. */
enum exit_family {
	EXIT_AF_IPV4 = 4,
	EXIT_AF_IPV6 = 6,
};

enum exit_addr_kind {
	EXIT_ADDR_ANY = 1,     /* "*" */
	EXIT_ADDR_ANY4 = 2,    /* "*4" */
	EXIT_ADDR_ANY6 = 3,    /* "*6" */
	EXIT_ADDR_PRIVATE = 4, /* "private" */
	EXIT_ADDR_IPV4 = 5,    /* a.b.c.d[/bits] */
	EXIT_ADDR_IPV6 = 6,    /* [v6][/bits] */
};

struct exit_rule {
	bool accept;
	uint8_t addr_kind; /* enum exit_addr_kind */
	uint8_t bits;      /* EXIT_ADDR_IPV4: 0..32, EXIT_ADDR_IPV6: 0..128; else 0 */
	uint8_t addr[16];  /* the network address (host bits zero); IPv4 in the first 4 bytes */
	uint16_t port_lo;  /* 1 <= port_lo <= port_hi <= 65535 */
	uint16_t port_hi;
};

struct exit_policy;

/* Tor's reduced-exit idea, cut down: no private destinations, no SMTP, everything else. */
#define EXIT_POLICY_DEFAULT "reject private:*, reject *:25, accept *:*"

/* exit_policy_parse.c */

/*
 * Parse policy text (len bytes, no NUL needed): rules separated by "," or newlines, blanks
 * (SP, HTAB, CR) around them ignored, empty items skipped, "#" starts a comment that runs to
 * the end of the line. On success *out is a new policy the caller owns (exit_policy_free());
 * on failure *out is NULL, err (if err_len > 0) holds a message naming the rule, its byte
 * offset and what is wrong, and the result is UM_ERR_MALFORMED, or UM_ERR_TOO_LARGE over
 * EXIT_POLICY_TEXT_MAX bytes or EXIT_POLICY_RULES_MAX rules.
 */
int exit_policy_parse(const char *text, size_t len, struct exit_policy **out, char *err,
                      size_t err_len) UM_WARN_UNUSED;
/*
 * Write p as canonical text ("accept 10.0.0.0/8:80-443, reject *:*"; the empty policy is "")
 * into out, NUL-terminated; it parses back to the same rules. UM_ERR_TOO_LARGE if out is too
 * small (EXIT_POLICY_RULE_TEXT_MAX bytes per rule always suffice).
 */
int exit_policy_format(const struct exit_policy *p, char *out, size_t out_len) UM_WARN_UNUSED;

/* exit_policy.c */

void exit_policy_free_(struct exit_policy *p);
#define exit_policy_free(p) UM_FREE_AND_NULL(exit_policy_free_, p)
size_t exit_policy_n_rules(const struct exit_policy *p);
/* Rule i (< exit_policy_n_rules()); lives as long as p. */
const struct exit_rule *exit_policy_rule(const struct exit_policy *p, size_t i);

/*
 * True when addr (4 bytes for EXIT_AF_IPV4, 16 for EXIT_AF_IPV6) is not a public unicast
 * address: the list in docs/PROTOCOL.md 10.2. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * judged as the IPv4 address it carries.
 */
bool exit_addr_is_private(uint8_t family, const uint8_t *addr);
/*
 * Does p let the exit connect to addr:port? The first matching rule decides, no match
 * rejects, port 0 and an unknown family are always rejected. An IPv4-mapped IPv6 address is
 * evaluated as its IPv4 address (the exit would reach that IPv4 host), so IPv6 rules never
 * see one.
 */
bool exit_policy_allows(const struct exit_policy *p, uint8_t family, const uint8_t *addr,
                        uint16_t port);
/*
 * The rule of p that decides addr:port (same evaluation as exit_policy_allows()), or NULL when
 * none matches or the destination is always rejected (port 0, unknown family). Lives as long
 * as p. The exit uses it to tell an explicit accept ("private", a prefix) from a wildcard one.
 */
const struct exit_rule *exit_policy_match(const struct exit_policy *p, uint8_t family,
                                          const uint8_t *addr, uint16_t port);
/*
 * Could p accept port for some public address (of either family)? For a destination host
 * name not yet resolved: false means the stream can be refused without a DNS lookup.
 */
bool exit_policy_may_accept_port(const struct exit_policy *p, uint16_t port);
/*
 * The descriptor's summary of p: for each family, the ports accepted for some public address
 * of that family (as exit_policy_may_accept_port(), per family), in canonical form
 * (relay_policy_normalize()); and in *exit_flags, RELAY_EXIT_F_REJECT_PRIVATE when p rejects
 * every private address on every port. When neither form of a family's port set fits in
 * RELAY_DESC_MAX_PORT_RANGES ranges, the smallest accepted ranges are dropped until one
 * does (the summary then claims less than the policy accepts, never more).
 */
int exit_policy_summarize(const struct exit_policy *p, struct relay_policy *policy4,
                          struct relay_policy *policy6, uint8_t *exit_flags) UM_WARN_UNUSED;

#endif /* UM_EXIT_EXIT_POLICY_H */
