/* SPDX-License-Identifier: MIT */
/*
 * Exit policy text: parse and format (exit_policy.h; syntax in docs/PROTOCOL.md 10.1).
 *
 *   policy = item *( ( "," / LF ) item )
 *   item   = *blank [ rule *blank ] [ "#" comment ]      (a comment runs to the end of line)
 *   rule   = ( "accept" / "reject" ) 1*blank addr ":" ports
 *   addr   = "*" / "*4" / "*6" / "private" / ipv4 [ "/" 1*2DIGIT ] / "[" ipv6 "]" [ "/" 1*3DIGIT ]
 *   ports  = "*" / port [ "-" port ]                     (port = 1..65535, lo <= hi)
 *   blank  = SP / HTAB / CR
 *
 * Keywords are case-insensitive. A prefix must have no host bits set ("10.0.0.1/8" is an
 * error: it is a typo for one of two different rules). Errors name the rule by number and
 * byte offset and quote it (escaped, cut at 40 bytes).
 */
#include "exit/exit_policy.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "exit/exit_policy_st.h"

enum { QUOTE_MAX = 40 };

static bool
is_blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Strict decimal: 1..max_digits digits, no sign, value <= max. */
static int
parse_uint(const uint8_t *s, size_t n, size_t max_digits, uint32_t max, uint32_t *out)
{
	uint32_t v = 0;

	if (n == 0 || n > max_digits)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return UM_ERR_MALFORMED;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > max)
		return UM_ERR_MALFORMED;
	*out = v;
	return UM_OK;
}

static const char *
parse_ports(const uint8_t *s, size_t n, struct exit_rule *r)
{
	uint32_t lo, hi;
	size_t dash = n;

	if (n == 1 && s[0] == '*') {
		r->port_lo = 1;
		r->port_hi = 65535;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-') {
			dash = i;
			break;
		}
	}
	if (parse_uint(s, dash, 5, 65535, &lo) != UM_OK || lo == 0)
		return "bad port (want *, 1..65535 or a range lo-hi)";
	hi = lo;
	if (dash < n && (parse_uint(s + dash + 1, n - dash - 1, 5, 65535, &hi) != UM_OK || hi == 0))
		return "bad port (want *, 1..65535 or a range lo-hi)";
	if (hi < lo)
		return "port range ends before it starts";
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return NULL;
}

static bool
host_bits_zero(const uint8_t *addr, unsigned bits, size_t width)
{
	for (size_t i = 0; i < width; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * (unsigned)i : 0;
		uint8_t mask = (uint8_t)(keep == 0 ? 0 : 0xff << (8 - keep));

		if ((addr[i] & (uint8_t)~mask) != 0)
			return false;
	}
	return true;
}

static const char *
parse_addr(const uint8_t *s, size_t n, struct exit_rule *r)
{
	char tmp[64];
	const uint8_t *a = s, *bits = NULL;
	size_t alen = n, blen = 0;
	uint32_t b;
	bool v6;

	if (n == 1 && s[0] == '*') {
		r->addr_kind = EXIT_ADDR_ANY;
		return NULL;
	}
	if (n == 2 && s[0] == '*' && (s[1] == '4' || s[1] == '6')) {
		r->addr_kind = s[1] == '4' ? EXIT_ADDR_ANY4 : EXIT_ADDR_ANY6;
		return NULL;
	}
	if (n == 7 && strncasecmp((const char *)s, "private", 7) == 0) {
		r->addr_kind = EXIT_ADDR_PRIVATE;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '/') {
			alen = i;
			bits = s + i + 1;
			blen = n - i - 1;
			break;
		}
	}
	v6 = alen > 0 && a[0] == '[';
	if (v6) {
		if (alen < 3 || a[alen - 1] != ']')
			return "bad address (an IPv6 address goes in brackets: [2001:db8::]/32)";
		a++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(tmp))
		return "bad address";
	memcpy(tmp, a, alen);
	tmp[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, r->addr) != 1)
		return v6 ? "bad IPv6 address"
		       : memchr(tmp, ':', alen) != NULL
		               ? "bad address (an IPv6 address goes in brackets: [2001:db8::]/32)"
		               : "bad address (want *, *4, *6, private, a.b.c.d or [IPv6])";
	r->addr_kind = v6 ? EXIT_ADDR_IPV6 : EXIT_ADDR_IPV4;
	r->bits = v6 ? 128 : 32;
	if (bits != NULL) {
		if (parse_uint(bits, blen, 3, v6 ? 128 : 32, &b) != UM_OK)
			return v6 ? "bad prefix length (want /0../128)"
			          : "bad prefix length (want /0../32)";
		r->bits = (uint8_t)b;
	}
	if (!host_bits_zero(r->addr, r->bits, v6 ? 16 : 4))
		return "address has bits set beyond its prefix length";
	return NULL;
}

/* One rule from s[0, n) (trimmed, not empty). Returns NULL or what is wrong. */
static const char *
parse_rule(const uint8_t *s, size_t n, struct exit_rule *r)
{
	size_t kw = 0, as, colon;
	const char *why;

	memset(r, 0, sizeof(*r));
	while (kw < n && !is_blank(s[kw]))
		kw++;
	if (kw == 6 && strncasecmp((const char *)s, "accept", 6) == 0)
		r->accept = true;
	else if (kw == 6 && strncasecmp((const char *)s, "reject", 6) == 0)
		r->accept = false;
	else
		return "a rule starts with accept or reject";
	as = kw;
	while (as < n && is_blank(s[as]))
		as++;
	if (as == kw || as == n)
		return "missing ADDR:PORT after the keyword";
	for (size_t i = as; i < n; i++) {
		if (is_blank(s[i]))
			return "unexpected blank inside ADDR:PORT (separate rules with , or "
			       "newlines)";
	}
	/* The port follows the last colon (an IPv6 address is bracketed, so has none after). */
	colon = n;
	for (size_t i = n; i-- > as;) {
		if (s[i] == ':') {
			colon = i;
			break;
		}
	}
	if (colon == n || (s[as] == '[' && memchr(s + colon, ']', n - colon) != NULL))
		return "missing :PORT";
	if ((why = parse_addr(s + as, colon - as, r)) != NULL)
		return why;
	return parse_ports(s + colon + 1, n - colon - 1, r);
}

static void
set_err(char *err, size_t err_len, size_t rule_no, size_t off, const uint8_t *item, size_t n,
        const char *why)
{
	char q[QUOTE_MAX * 4 + 4];
	size_t k = 0;

	if (err == NULL || err_len == 0)
		return;
	for (size_t i = 0; i < n && i < QUOTE_MAX; i++) {
		if (item[i] >= 0x20 && item[i] < 0x7f && item[i] != '\'' && item[i] != '\\')
			q[k++] = (char)item[i];
		else
			k += (size_t)snprintf(q + k, sizeof(q) - k, "\\x%02x", item[i]);
	}
	if (n > QUOTE_MAX) {
		memcpy(q + k, "...", 3);
		k += 3;
	}
	q[k] = '\0';
	snprintf(err, err_len, "exit policy rule %zu (byte %zu) '%s': %s", rule_no, off, q, why);
}

int
exit_policy_parse(const char *text, size_t len, struct exit_policy **out, char *err, size_t err_len)
{
	struct wire_rd r;
	struct exit_rule *rules = NULL;
	struct exit_policy *p;
	const uint8_t *s;
	size_t n_rules = 0, rule_no = 0, start = 0;
	int ret = UM_ERR_MALFORMED;

	*out = NULL;
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (len > EXIT_POLICY_TEXT_MAX) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "exit policy longer than %d bytes",
			         EXIT_POLICY_TEXT_MAX);
		return UM_ERR_TOO_LARGE;
	}
	wire_rd_init(&r, text, len);
	if (wire_get_view(&r, len, &s) != UM_OK)
		return UM_ERR_INTERNAL;
	rules = um_xcalloc(EXIT_POLICY_RULES_MAX, sizeof(*rules));
	while (start <= len) {
		size_t end = start, a, b, stop;
		const char *why;

		/* The item runs to the next "," or LF; a "#" ends its content early. */
		while (end < len && s[end] != ',' && s[end] != '\n')
			end++;
		stop = start;
		while (stop < end && s[stop] != '#')
			stop++;
		if (stop < end) {
			/* A comment swallows commas: it runs to the end of the line. */
			while (end < len && s[end] != '\n')
				end++;
		}
		a = start;
		b = stop;
		while (a < b && is_blank(s[a]))
			a++;
		while (b > a && is_blank(s[b - 1]))
			b--;
		if (a < b) {
			rule_no++;
			if (memchr(s + a, '\0', b - a) != NULL) {
				set_err(err, err_len, rule_no, a, s + a, b - a, "NUL byte");
				goto out;
			}
			if (n_rules == EXIT_POLICY_RULES_MAX) {
				set_err(err, err_len, rule_no, a, s + a, b - a,
				        "too many rules (at most 256)");
				ret = UM_ERR_TOO_LARGE;
				goto out;
			}
			if ((why = parse_rule(s + a, b - a, &rules[n_rules])) != NULL) {
				set_err(err, err_len, rule_no, a, s + a, b - a, why);
				goto out;
			}
			n_rules++;
		}
		start = end + 1;
	}
	p = um_xmalloc(sizeof(*p) + n_rules * sizeof(p->rules[0]));
	p->n_rules = n_rules;
	if (n_rules > 0)
		memcpy(p->rules, rules, n_rules * sizeof(rules[0]));
	*out = p;
	ret = UM_OK;
out:
	free(rules);
	return ret;
}

static int append(char *out, size_t out_len, size_t *k, const char *fmt, ...) UM_PRINTF(4, 5);

static int
append(char *out, size_t out_len, size_t *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *k, out_len - *k, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= out_len - *k)
		return UM_ERR_TOO_LARGE;
	*k += (size_t)n;
	return UM_OK;
}

int
exit_policy_format(const struct exit_policy *p, char *out, size_t out_len)
{
	size_t k = 0;
	int ret;

	if (out_len == 0)
		return UM_ERR_TOO_LARGE;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct exit_rule *r = &p->rules[i];
		char a[INET6_ADDRSTRLEN];

		if ((ret = append(out, out_len, &k, "%s%s ", i > 0 ? ", " : "",
		                  r->accept ? "accept" : "reject")) != UM_OK)
			goto fail;
		switch (r->addr_kind) {
		case EXIT_ADDR_ANY:
			ret = append(out, out_len, &k, "*");
			break;
		case EXIT_ADDR_ANY4:
			ret = append(out, out_len, &k, "*4");
			break;
		case EXIT_ADDR_ANY6:
			ret = append(out, out_len, &k, "*6");
			break;
		case EXIT_ADDR_PRIVATE:
			ret = append(out, out_len, &k, "private");
			break;
		case EXIT_ADDR_IPV4:
			if (inet_ntop(AF_INET, r->addr, a, sizeof(a)) == NULL)
				return UM_ERR_INTERNAL;
			ret = r->bits == 32
			              ? append(out, out_len, &k, "%s", a)
			              : append(out, out_len, &k, "%s/%u", a, (unsigned)r->bits);
			break;
		case EXIT_ADDR_IPV6:
			if (inet_ntop(AF_INET6, r->addr, a, sizeof(a)) == NULL)
				return UM_ERR_INTERNAL;
			ret = r->bits == 128
			              ? append(out, out_len, &k, "[%s]", a)
			              : append(out, out_len, &k, "[%s]/%u", a, (unsigned)r->bits);
			break;
		default:
			return UM_ERR_INTERNAL;
		}
		if (ret != UM_OK)
			goto fail;
		if (r->port_lo == 1 && r->port_hi == 65535)
			ret = append(out, out_len, &k, ":*");
		else if (r->port_lo == r->port_hi)
			ret = append(out, out_len, &k, ":%u", (unsigned)r->port_lo);
		else
			ret = append(out, out_len, &k, ":%u-%u", (unsigned)r->port_lo,
			             (unsigned)r->port_hi);
		if (ret != UM_OK)
			goto fail;
	}
	return UM_OK;
fail:
	out[0] = '\0';
	return ret;
}
