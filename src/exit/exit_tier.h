/* SPDX-License-Identifier: MIT */
/*
 * The exit's tier policy (docs/PROTOCOL.md 17.6): per circuit tier T (0 = no token accepted
 * on the circuit, 1..15 = the tier of the token spent on it), rules judged before the exit
 * policy, and whether a tier-0 circuit may use the exit at all.
 *
 *   [relay] tier_policy   list of items "T: rule, rule, ..." (T 0..15, rules in exit policy
 *                         syntax, docs/PROTOCOL.md 10.1); an item without "T:" continues the
 *                         tier of the item before it (so the comma-split environment form
 *                         works); each tier introduced at most once; "T:" alone gives T no
 *                         rules. A tier without an item: EXIT_TIER_DEFAULT_LOW for tiers 0
 *                         and 1, nothing for the others.
 *   [relay] require_token a tier-0 circuit may open nothing (END EXITPOLICY).
 *
 * Judging a destination address:port at tier T: the first of T's rules that matches decides
 * when it rejects (END EXITPOLICY); when it accepts, or none matches, the exit policy decides
 * as before (exit_conn.h exit_addr_allowed()). Tier rules only ever take away.
 *
 * Pure: nothing here does I/O or logs. A tier policy is immutable once parsed.
 */
#ifndef UM_EXIT_EXIT_TIER_H
#define UM_EXIT_EXIT_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "exit/exit_policy.h"

enum exit_tier_limits {
	EXIT_TIER_MAX = 15,                           /* = TOKEN_TIER_MAX */
	EXIT_TIERS = EXIT_TIER_MAX + 1,               /* tiers 0..15 */
	EXIT_TIER_ERR_LEN = EXIT_POLICY_ERR_LEN + 48, /* holds any parse error */
};

/* Rules of tiers 0 and 1 when [relay] tier_policy has no item for them: no SMTP. */
#define EXIT_TIER_DEFAULT_LOW "reject *:25"

struct exit_tier_policy;

/*
 * Parse items[0..n) ([relay] tier_policy, see above) with require_token. On success *out is a
 * new tier policy the caller owns (exit_tier_policy_free()); on failure *out is NULL, err
 * holds a message naming the item or tier ("item 2: ..." / "tier 3: exit policy rule 1 ...")
 * and the result is UM_ERR_MALFORMED (or exit_policy_parse()'s UM_ERR_TOO_LARGE).
 */
int exit_tier_policy_parse(const char *const *items, size_t n, bool require_token,
                           struct exit_tier_policy **out, char *err, size_t err_len) UM_WARN_UNUSED;
void exit_tier_policy_free_(struct exit_tier_policy *tp);
#define exit_tier_policy_free(tp) UM_FREE_AND_NULL(exit_tier_policy_free_, tp)

/* The rules of tier (never NULL for 0..EXIT_TIER_MAX; NULL above). Live as long as tp. */
const struct exit_policy *exit_tier_rules(const struct exit_tier_policy *tp, uint8_t tier);
bool exit_tier_require_token(const struct exit_tier_policy *tp);
/* May a circuit of tier open anything? False above EXIT_TIER_MAX, and for tier 0 under
 * require_token. */
bool exit_tier_admits(const struct exit_tier_policy *tp, uint8_t tier);

/*
 * Do rules (one tier's; NULL: none) refuse addr:port? True when the first matching rule
 * rejects (matching as exit_policy_match(): an IPv4-mapped address is judged as IPv4).
 */
bool exit_tier_rejects(const struct exit_policy *rules, uint8_t family, const uint8_t *addr,
                       uint16_t port);
/* Do rules refuse every address at port (a host name is refused before resolving)? May say
 * false for a port that every address turns out refused at, never the reverse. */
bool exit_tier_rejects_port(const struct exit_policy *rules, uint16_t port);
/* Do rules refuse every destination (address and port)? Same caution. */
bool exit_tier_rejects_all(const struct exit_policy *rules);

#endif /* UM_EXIT_EXIT_TIER_H */
