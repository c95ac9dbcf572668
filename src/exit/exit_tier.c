/* SPDX-License-Identifier: MIT */
/* The exit's tier policy (exit_tier.h; docs/PROTOCOL.md 17.6). */
#include "exit/exit_tier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

struct exit_tier_policy {
	bool require_token;
	struct exit_policy *rules[EXIT_TIERS];
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * If item starts with "T:" (blanks allowed around T), set *tier and *rest (what follows the
 * colon) and return UM_OK; UM_ERR_NOT_FOUND when it does not start with a tier (a
 * continuation); UM_ERR_MALFORMED for a number over EXIT_TIER_MAX.
 */
static int
item_tier(const char *item, unsigned *tier, const char **rest)
{
	const char *p = item;
	unsigned v = 0;
	size_t digits = 0;

	while (is_blank(*p))
		p++;
	while (*p >= '0' && *p <= '9') {
		if (++digits > 2)
			return UM_ERR_MALFORMED;
		v = v * 10 + (unsigned)(*p - '0');
		p++;
	}
	if (digits == 0)
		return UM_ERR_NOT_FOUND;
	while (is_blank(*p))
		p++;
	if (*p != ':')
		return UM_ERR_NOT_FOUND;
	if (v > EXIT_TIER_MAX)
		return UM_ERR_MALFORMED;
	*tier = v;
	*rest = p + 1;
	return UM_OK;
}

/* Append "\n" s to the tier's text (grown as needed). */
static void
text_append(char **text, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*text = um_xrealloc(*text, *len + n + 2);
	if (*len > 0)
		(*text)[(*len)++] = '\n';
	memcpy(*text + *len, s, n + 1);
	*len += n;
}

int
exit_tier_policy_parse(const char *const *items, size_t n, bool require_token,
                       struct exit_tier_policy **out, char *err, size_t err_len)
{
	struct exit_tier_policy *tp = um_xcalloc(1, sizeof(*tp));
	char *text[EXIT_TIERS] = { 0 };
	size_t len[EXIT_TIERS] = { 0 };
	bool given[EXIT_TIERS] = { false };
	char perr[EXIT_POLICY_ERR_LEN];
	int cur = -1, ret = UM_OK;

	*out = NULL;
	if (err_len > 0)
		err[0] = '\0';
	tp->require_token = require_token;
	for (size_t i = 0; i < n && ret == UM_OK; i++) {
		const char *rest = items[i];
		unsigned t;

		ret = item_tier(items[i], &t, &rest);
		if (ret == UM_ERR_MALFORMED) {
			snprintf(err, err_len, "item %zu: a tier is 0..%d", i + 1, EXIT_TIER_MAX);
		} else if (ret == UM_ERR_NOT_FOUND && cur < 0) {
			snprintf(err, err_len,
			         "item %zu: does not start with a tier (\"T: rules\")", i + 1);
			ret = UM_ERR_MALFORMED;
		} else if (ret == UM_OK && given[t]) {
			snprintf(err, err_len, "item %zu: tier %u is given twice", i + 1, t);
			ret = UM_ERR_MALFORMED;
		} else {
			if (ret == UM_OK) {
				cur = (int)t;
				given[t] = true;
			}
			ret = UM_OK;
			text_append(&text[cur], &len[cur], rest);
		}
	}
	for (unsigned t = 0; t < EXIT_TIERS && ret == UM_OK; t++) {
		const char *s = given[t] ? text[t] : t <= 1 ? EXIT_TIER_DEFAULT_LOW : "";

		ret = exit_policy_parse(s, strlen(s), &tp->rules[t], perr, sizeof(perr));
		if (ret != UM_OK)
			snprintf(err, err_len, "tier %u: %s", t, perr);
	}
	for (unsigned t = 0; t < EXIT_TIERS; t++)
		free(text[t]);
	if (ret != UM_OK) {
		exit_tier_policy_free(tp);
		return ret;
	}
	*out = tp;
	return UM_OK;
}

void
exit_tier_policy_free_(struct exit_tier_policy *tp)
{
	if (tp == NULL)
		return;
	for (unsigned t = 0; t < EXIT_TIERS; t++)
		exit_policy_free(tp->rules[t]);
	free(tp);
}

const struct exit_policy *
exit_tier_rules(const struct exit_tier_policy *tp, uint8_t tier)
{
	return tier <= EXIT_TIER_MAX ? tp->rules[tier] : NULL;
}

bool
exit_tier_require_token(const struct exit_tier_policy *tp)
{
	return tp->require_token;
}

bool
exit_tier_admits(const struct exit_tier_policy *tp, uint8_t tier)
{
	return tier <= EXIT_TIER_MAX && !(tp->require_token && tier == 0);
}

bool
exit_tier_rejects(const struct exit_policy *rules, uint8_t family, const uint8_t *addr,
                  uint16_t port)
{
	const struct exit_rule *r;

	if (rules == NULL)
		return false;
	r = exit_policy_match(rules, family, addr, port);
	return r != NULL && !r->accept;
}

/*
 * Families a rule's addresses touch (bit 0 IPv4, bit 1 IPv6) and those it covers whole. IPv6
 * rules never see an IPv4-mapped address (it is judged as IPv4), so they touch IPv6 only.
 */
enum { FAM4 = 1, FAM6 = 2 };

static void
rule_families(const struct exit_rule *r, unsigned *touch, unsigned *whole)
{
	switch (r->addr_kind) {
	case EXIT_ADDR_ANY:
		*touch = *whole = FAM4 | FAM6;
		break;
	case EXIT_ADDR_ANY4:
		*touch = *whole = FAM4;
		break;
	case EXIT_ADDR_ANY6:
		*touch = *whole = FAM6;
		break;
	case EXIT_ADDR_IPV4:
		*touch = FAM4;
		*whole = r->bits == 0 ? FAM4 : 0;
		break;
	case EXIT_ADDR_IPV6:
		*touch = FAM6;
		*whole = r->bits == 0 ? FAM6 : 0;
		break;
	default: /* private: some addresses of both */
		*touch = FAM4 | FAM6;
		*whole = 0;
		break;
	}
}

/*
 * A family is refused whole when a reject rule covering the whole family comes before any
 * accept rule touching it (accepts pass on to the exit policy). all_ports: only rules of
 * every port count as covering, any accept counts as touching.
 */
static bool
rejects_every(const struct exit_policy *rules, bool all_ports, uint16_t port)
{
	unsigned refused = 0, open = 0;

	if (rules == NULL)
		return false;
	for (size_t i = 0; i < exit_policy_n_rules(rules); i++) {
		const struct exit_rule *r = exit_policy_rule(rules, i);
		bool every = r->port_lo == 1 && r->port_hi == 65535;
		unsigned touch, whole;

		if (!all_ports && (port < r->port_lo || port > r->port_hi))
			continue;
		rule_families(r, &touch, &whole);
		if (r->accept)
			open |= touch & ~refused;
		else if (!all_ports || every)
			refused |= whole & ~open;
	}
	return refused == (FAM4 | FAM6);
}

bool
exit_tier_rejects_port(const struct exit_policy *rules, uint16_t port)
{
	return rejects_every(rules, false, port);
}

bool
exit_tier_rejects_all(const struct exit_policy *rules)
{
	return rejects_every(rules, true, 0);
}
