/* SPDX-License-Identifier: MIT */
/*
 * Value grammars for the config table: strict text for each type of struct config_var (bool,
 * decimal numbers with ranges, sizes with K/M/G, durations with ms/s/m/h, choices, role sets,
 * paths, nicknames, numeric host:port, and [link] peer specs with their base32 keys), each
 * with a message that quotes the rejected text. Pure functions: no state, no I/O, no logging.
 * Where values come from (file, environment, default) is config_parse.c's business.
 */
#include "config/config_st.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"
#include "lib/err.h"

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* ---- text, paths ---- */

/*
 * Reject text that could not be written back into a config file unchanged: config_dump's
 * output must load into the same config. inih strips surrounding whitespace, ends a value
 * at " ;", and a value starting with ';' reads as empty; a newline would end the line.
 */
static const char *
text_check(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && (config_is_space(s[0]) || config_is_space(s[n - 1])))
		return "starts or ends with white space";
	if (s[0] == ';')
		return "starts with ';', which starts a comment";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			return "contains a control character";
		if (ch == ';' && i > 0 && config_is_space(s[i - 1]))
			return "contains \" ;\", which starts a comment";
	}
	return NULL;
}

const char *
config_path_check(const char *s, bool empty_ok)
{
	const char *why;

	if (s[0] == '\0')
		return empty_ok ? NULL : "is empty (a path is needed)";
	if (s[0] != '/')
		return "is not an absolute path";
	if (strlen(s) >= PATH_MAX)
		return "is too long for a path";
	if ((why = text_check(s)) != NULL)
		return why;
	return NULL;
}

const char *
config_check_nickname(const char *s)
{
	size_t n = strlen(s);

	if (n > 32)
		return "is longer than 32 characters";
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
		      ch == '-' || ch == '_'))
			return "is not a nickname (A-Z a-z 0-9 - _ only)";
	}
	return NULL;
}

/* ---- host:port ---- */

/*
 * Parse a decimal port of 1..5 digits without a leading zero (as evloop's address parser,
 * which the daemon uses at start-up: a port this accepts must be one it can bind); false if
 * not a number in [min, 65535].
 */
static bool
port_parse(const char *s, unsigned min, uint16_t *port)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < min || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

const char *
config_hostport_parse(const char *s, bool allow_port0, struct config_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_text;
	size_t host_len;
	struct config_addr a;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		/* [IPv6]:port (RFC 3986 style brackets, so the port's ':' is unambiguous). */
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return "is not host:port ([IPv6]:port needs ']:' before the port)";
		host_len = (size_t)(close - (s + 1));
		if (host_len == 0 || host_len >= sizeof(host))
			return "has a host that is not an IPv6 address";
		memcpy(host, s + 1, host_len);
		host[host_len] = '\0';
		if (inet_pton(AF_INET6, host, a.addr) != 1)
			return "has a host that is not an IPv6 address";
		a.family = AF_INET6;
		port_text = close + 2;
	} else {
		const char *colon = strchr(s, ':');

		if (colon == NULL)
			return "is not host:port (the port is missing)";
		if (strchr(colon + 1, ':') != NULL)
			return "is not host:port (write an IPv6 address in brackets: [::1]:port)";
		host_len = (size_t)(colon - s);
		if (host_len == 0 || host_len >= sizeof(host))
			return "has a host that is not a numeric IPv4 address";
		memcpy(host, s, host_len);
		host[host_len] = '\0';
		/* inet_pton takes only the dotted quad: no "1.2.3", no octal, no hex. */
		if (inet_pton(AF_INET, host, a.addr) != 1)
			return "has a host that is not a numeric IPv4 address";
		a.family = AF_INET;
		port_text = colon + 1;
	}
	if (!port_parse(port_text, allow_port0 ? 0 : 1, &a.port))
		return allow_port0 ? "has a port that is not a number in 0..65535"
		                   : "has a port that is not a number in 1..65535";
	*out = a;
	return NULL;
}

const char *
config_ip_parse(const char *s, struct config_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	size_t len = strlen(s);

	memset(out, 0, sizeof(*out));
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(host))
		return "is not a numeric IPv4 or IPv6 address";
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		return NULL;
	}
	if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		return NULL;
	}
	memset(out, 0, sizeof(*out));
	return "is not a numeric IPv4 or IPv6 address";
}

int
config_ip_sockaddr(const char *s, struct sockaddr_storage *out)
{
	struct config_addr a;

	memset(out, 0, sizeof(*out));
	if (config_ip_parse(s, &a) != NULL)
		return UM_ERR_MALFORMED;
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a.addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a.addr, 16);
	}
	return UM_OK;
}

const char *
config_check_ip(const char *s)
{
	struct config_addr a;

	return config_ip_parse(s, &a);
}

const char *
config_check_listen(const char *s)
{
	struct config_addr a;

	return config_hostport_parse(s, true, &a);
}

const char *
config_check_listen_opt(const char *s)
{
	return s[0] == '\0' ? NULL : config_check_listen(s);
}

/* ---- peer specs ---- */

/* Decode one CONFIG_KEY_B32_LEN-character key; what names it in messages. */
static const char *
key_parse(const char *s, size_t len, uint8_t out[CONFIG_KEY_LEN], bool is_id)
{
	uint8_t tmp[CONFIG_KEY_LEN];

	if (len != CONFIG_KEY_B32_LEN)
		return is_id ? "has a node id that is not 52 base32 characters"
		             : "has a link key that is not 52 base32 characters";
	for (size_t i = 0; i < len; i++) {
		/* dec_base32 also takes upper case; the canonical form is lower case only. */
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
			return is_id ? "has a node id with a character outside a-z 2-7"
			             : "has a link key with a character outside a-z 2-7";
	}
	if (dec_base32(tmp, sizeof(tmp), s, len) != CONFIG_KEY_LEN)
		return is_id ? "has a node id that does not decode to 32 bytes"
		             : "has a link key that does not decode to 32 bytes";
	memcpy(out, tmp, CONFIG_KEY_LEN);
	return NULL;
}

/* config_peer_parse() with a reason for messages; hostport may be NULL. */
static int peer_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN],
                      uint8_t link_key[CONFIG_KEY_LEN], char *hostport, size_t hostport_len,
                      const char **why) UM_WARN_UNUSED;

static int
peer_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], uint8_t link_key[CONFIG_KEY_LEN],
           char *hostport, size_t hostport_len, const char **why)
{
	uint8_t id_tmp[CONFIG_KEY_LEN], key_tmp[CONFIG_KEY_LEN];
	const char *slash, *at;
	struct config_addr a;
	size_t hp_len;

	memset(id, 0, CONFIG_KEY_LEN);
	memset(link_key, 0, CONFIG_KEY_LEN);
	if (hostport != NULL && hostport_len > 0)
		hostport[0] = '\0';
	*why = NULL;
	slash = strchr(spec, '/');
	at = slash != NULL ? strchr(slash + 1, '@') : NULL;
	if (slash == NULL || at == NULL) {
		*why = "is not <node-id>/<link-key>@host:port";
		return UM_ERR_MALFORMED;
	}
	if ((*why = key_parse(spec, (size_t)(slash - spec), id_tmp, true)) != NULL ||
	    (*why = key_parse(slash + 1, (size_t)(at - (slash + 1)), key_tmp, false)) != NULL ||
	    (*why = config_hostport_parse(at + 1, false, &a)) != NULL)
		return UM_ERR_MALFORMED;
	hp_len = strlen(at + 1);
	if (hostport != NULL) {
		if (hp_len >= hostport_len) {
			*why = "has a host:port too long for the caller's buffer";
			return UM_ERR_TOO_LARGE;
		}
		memcpy(hostport, at + 1, hp_len + 1);
	}
	/* Commit only now that the whole spec checked out. */
	memcpy(id, id_tmp, CONFIG_KEY_LEN);
	memcpy(link_key, key_tmp, CONFIG_KEY_LEN);
	return UM_OK;
}

int
config_peer_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], uint8_t link_key[CONFIG_KEY_LEN],
                  char *hostport, size_t hostport_len)
{
	const char *why;

	return peer_parse(spec, id, link_key, hostport, hostport_len, &why);
}

const char *
config_check_peer(const char *s)
{
	uint8_t id[CONFIG_KEY_LEN], key[CONFIG_KEY_LEN];
	const char *why = NULL;

	if (peer_parse(s, id, key, NULL, 0, &why) != UM_OK)
		return why;
	return NULL;
}

/* ---- directory authorities, relay fields ---- */

static int authority_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], char *url, size_t url_len,
                           const char *what, const char **why) UM_WARN_UNUSED;

/* "<id>@http://host:port"; what names the id in the message for a spec without '@'. */
static int
authority_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], char *url, size_t url_len,
                const char *what, const char **why)
{
	static const char scheme[] = "http://";
	uint8_t id_tmp[CONFIG_KEY_LEN];
	const char *at = strchr(spec, '@');
	struct config_addr a;
	size_t n;

	memset(id, 0, CONFIG_KEY_LEN);
	if (url != NULL && url_len > 0)
		url[0] = '\0';
	*why = NULL;
	if (at == NULL) {
		*why = what;
		return UM_ERR_MALFORMED;
	}
	if ((*why = key_parse(spec, (size_t)(at - spec), id_tmp, true)) != NULL)
		return UM_ERR_MALFORMED;
	if (strncmp(at + 1, scheme, sizeof(scheme) - 1) != 0) {
		*why = "has a URL that does not start with http://";
		return UM_ERR_MALFORMED;
	}
	/* The host:port rules of [link] peer: numeric, no path, port 1..65535. */
	if ((*why = config_hostport_parse(at + sizeof(scheme), false, &a)) != NULL)
		return UM_ERR_MALFORMED;
	n = strlen(at + 1);
	if (n >= CONFIG_URL_MAX) {
		*why = "has a URL that is too long";
		return UM_ERR_MALFORMED;
	}
	if (url != NULL) {
		if (n >= url_len) {
			*why = "has a URL too long for the caller's buffer";
			return UM_ERR_TOO_LARGE;
		}
		memcpy(url, at + 1, n + 1);
	}
	memcpy(id, id_tmp, CONFIG_KEY_LEN);
	return UM_OK;
}

static const char NOT_AUTHORITY[] = "is not <authority-id>@http://host:port";
static const char NOT_ISSUER[] = "is not <issuer-id>@http://host:port";

int
config_authority_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], char *url, size_t url_len)
{
	const char *why;

	return authority_parse(spec, id, url, url_len, NOT_AUTHORITY, &why);
}

const char *
config_check_authority(const char *s)
{
	uint8_t id[CONFIG_KEY_LEN];
	const char *why = NULL;

	if (authority_parse(s, id, NULL, 0, NOT_AUTHORITY, &why) != UM_OK)
		return why;
	return NULL;
}

int
config_issuer_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], char *url, size_t url_len)
{
	const char *why;

	return authority_parse(spec, id, url, url_len, NOT_ISSUER, &why);
}

const char *
config_check_issuer(const char *s)
{
	uint8_t id[CONFIG_KEY_LEN];
	const char *why = NULL;

	if (authority_parse(s, id, NULL, 0, NOT_ISSUER, &why) != UM_OK)
		return why;
	return NULL;
}

const char *
config_check_issuer_opt(const char *s)
{
	return s[0] == '\0' ? NULL : config_check_issuer(s);
}

const char *
config_check_operator(const char *s)
{
	uint8_t id[CONFIG_KEY_LEN];

	if (s[0] == '\0')
		return NULL;
	return key_parse(s, strlen(s), id, true);
}

/* The rules of the relay descriptor (docs/PROTOCOL.md 4.2), restated here because config/
 * ranks below directory/. */
const char *
config_check_country(const char *s)
{
	if (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
		return "is not a two-letter upper-case country code (ZZ for unknown)";
	return NULL;
}

const char *
config_check_region(const char *s)
{
	size_t n = strlen(s);

	if (n > 32)
		return "is longer than 32 characters";
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '-'))
			return "is not a region (a-z 0-9 - only)";
	}
	return NULL;
}

const char *
config_check_contact(const char *s)
{
	size_t n = strlen(s);

	if (n > 64)
		return "is longer than 64 characters";
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return "is not printable ASCII";
	}
	return text_check(s);
}

/* An issuer subject id (trust/issuer.h issuer_id_is_valid: config may not include trust). */
const char *
config_check_subject(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return NULL;
	if (n > 64)
		return "is longer than 64 characters";
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-") != n)
		return "holds a character outside A-Z a-z 0-9 . _ : @ -";
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return "is . or ..";
	return NULL;
}

/* ---- numbers ---- */

enum num_result {
	NUM_OK,
	NUM_BAD,      /* not digits */
	NUM_OVERFLOW, /* digits, but over UINT64_MAX */
};

/* Strict decimal: one or more digits, nothing else (no sign, space, or 0x). */
static enum num_result
u64_parse(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return NUM_BAD;
	for (size_t i = 0; i < n; i++) {
		uint64_t d;

		if (!is_digit(s[i]))
			return NUM_BAD;
		d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NUM_OVERFLOW;
		v = v * 10 + d;
	}
	*out = v;
	return NUM_OK;
}

static size_t
digits_len(const char *s)
{
	size_t n = 0;

	while (is_digit(s[n]))
		n++;
	return n;
}

static void
range_format(const struct config_var *v, char *out, size_t out_len)
{
	char lo[32], hi[32];

	switch (v->type) {
	case CFG_SIZE:
		config_size_format(v->min, lo, sizeof(lo));
		config_size_format(v->max, hi, sizeof(hi));
		break;
	case CFG_DURATION:
		config_duration_format(v->min, lo, sizeof(lo));
		config_duration_format(v->max, hi, sizeof(hi));
		break;
	default:
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)v->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)v->max);
		break;
	}
	/* A cut range in an error message is harmless; say so to the compiler. */
	if (snprintf(out, out_len, "%s..%s", lo, hi) >= (int)out_len && out_len > 0)
		out[out_len - 1] = '\0';
}

/* Parse a number with a unit suffix from units (name, multiplier; "" = bare). */
struct unit {
	const char *suffix;
	uint64_t mult;
};

static enum num_result
unit_parse(const char *s, const struct unit *units, uint64_t *out)
{
	size_t nd = digits_len(s);
	uint64_t n;
	enum num_result r;

	if (nd == 0)
		return NUM_BAD;
	for (const struct unit *u = units; u->suffix != NULL; u++) {
		if (strcmp(s + nd, u->suffix) != 0)
			continue;
		if ((r = u64_parse(s, nd, &n)) != NUM_OK)
			return r;
		if (n > UINT64_MAX / u->mult)
			return NUM_OVERFLOW;
		*out = n * u->mult;
		return NUM_OK;
	}
	return NUM_BAD;
}

static const struct unit size_units[] = {
	{ "", 1 },
	{ "K", 1024ull },
	{ "k", 1024ull },
	{ "M", 1024ull * 1024 },
	{ "m", 1024ull * 1024 },
	{ "G", 1024ull * 1024 * 1024 },
	{ "g", 1024ull * 1024 * 1024 },
	{ NULL, 0 },
};

static const struct unit duration_units[] = {
	{ "", 1000 },     { "ms", 1 },       { "s", 1000 }, { "m", 60000 },
	{ "h", 3600000 }, { "d", 86400000 }, { NULL, 0 },
};

/* ---- choices, roles, bools ---- */

static void
choices_format(const struct config_choice *ch, const char *sep, char *out, size_t out_len)
{
	size_t o = 0;

	out[0] = '\0';
	for (; ch->name != NULL; ch++) {
		int n = snprintf(out + o, out_len - o, "%s%s", o > 0 ? sep : "", ch->name);

		if (n < 0 || (size_t)n >= out_len - o)
			return;
		o += (size_t)n;
	}
}

static const struct config_choice *
choice_find(const struct config_choice *ch, const char *s, size_t n)
{
	for (; ch->name != NULL; ch++) {
		if (strlen(ch->name) == n && memcmp(ch->name, s, n) == 0)
			return ch;
	}
	return NULL;
}

static bool
bool_parse(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < UM_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool
roles_parse(const struct config_var *v, const char *s, unsigned *out, char *msg, size_t msg_len)
{
	char q[CONFIG_QUOTE_LEN], q2[CONFIG_QUOTE_LEN], names[256];
	unsigned roles = 0;
	const char *p = s;

	choices_format(v->choices, ", ", names, sizeof(names));
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma != NULL ? comma : p + strlen(p);
		const char *b = p, *e = end;
		const struct config_choice *ch;
		char item[64];

		while (b < e && config_is_space(*b))
			b++;
		while (e > b && config_is_space(e[-1]))
			e--;
		if (b == e) {
			if (comma == NULL && roles == 0 && p == s) {
				snprintf(msg, msg_len, "%s names no role (at least one of %s)",
				         config_quote(s, q), names);
				return false;
			}
			snprintf(msg, msg_len, "%s has an empty role name", config_quote(s, q));
			return false;
		}
		if ((ch = choice_find(v->choices, b, (size_t)(e - b))) == NULL) {
			size_t n = UM_MIN((size_t)(e - b), sizeof(item) - 1);

			memcpy(item, b, n);
			item[n] = '\0';
			snprintf(msg, msg_len, "%s: %s is not a role (%s)", config_quote(s, q),
			         config_quote(item, q2), names);
			return false;
		}
		roles |= ch->value;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*out = roles;
	return true;
}

/* ---- one value ---- */

bool
config_value_parse(const struct config_var *v, const char *text, union config_val *out, char *msg,
                   size_t msg_len)
{
	char q[CONFIG_QUOTE_LEN], range[64], names[256];
	const char *why = NULL;
	enum num_result r;
	uint64_t n = 0;

	memset(out, 0, sizeof(*out));
	config_quote(text, q);
	switch (v->type) {
	case CFG_STRING:
		if ((why = text_check(text)) == NULL && v->check != NULL)
			why = v->check(text);
		if (why != NULL)
			goto bad_why;
		out->s = text;
		return true;
	case CFG_PATH:
		if ((why = config_path_check(text, (v->flags & CFG_F_EMPTY_OK) != 0)) != NULL)
			goto bad_why;
		out->s = text;
		return true;
	case CFG_BOOL:
		if (!bool_parse(text, &out->b)) {
			snprintf(msg, msg_len, "%s is not a boolean (true|false|yes|no|on|off|1|0)",
			         q);
			return false;
		}
		return true;
	case CFG_U32:
		range_format(v, range, sizeof(range));
		if ((r = u64_parse(text, strlen(text), &n)) == NUM_BAD) {
			snprintf(msg, msg_len, "%s is not a number (%s)", q, range);
			return false;
		}
		if (r != NUM_OK || n < v->min || n > v->max || n > UINT32_MAX)
			goto bad_range;
		out->u32 = (uint32_t)n;
		return true;
	case CFG_SIZE:
		range_format(v, range, sizeof(range));
		if ((r = unit_parse(text, size_units, &n)) == NUM_BAD) {
			snprintf(msg, msg_len,
			         "%s is not a size (bytes, or a number with K, M or G; %s)", q,
			         range);
			return false;
		}
		if (r != NUM_OK || n < v->min || n > v->max)
			goto bad_range;
		out->u64 = n;
		return true;
	case CFG_DURATION:
		range_format(v, range, sizeof(range));
		if ((r = unit_parse(text, duration_units, &n)) == NUM_BAD) {
			snprintf(
			        msg, msg_len,
			        "%s is not a duration (seconds, or a number with ms, s, m, h or d; "
			        "%s)",
			        q, range);
			return false;
		}
		if (r != NUM_OK || n < v->min || n > v->max)
			goto bad_range;
		out->u64 = n;
		return true;
	case CFG_ENUM:
	case CFG_CHOICE: {
		const struct config_choice *ch = choice_find(v->choices, text, strlen(text));

		if (ch == NULL) {
			choices_format(v->choices, "|", names, sizeof(names));
			snprintf(msg, msg_len, "%s is not one of %s", q, names);
			return false;
		}
		if (v->type == CFG_ENUM)
			out->u = ch->value;
		else
			out->s = ch->name;
		return true;
	}
	case CFG_ROLES:
		return roles_parse(v, text, &out->u, msg, msg_len);
	case CFG_LIST:
		if ((why = text_check(text)) == NULL && v->check != NULL)
			why = v->check(text);
		if (why != NULL)
			goto bad_why;
		out->s = text;
		return true;
	}
	snprintf(msg, msg_len, "%s: no parser for this type", q);
	return false;
bad_why:
	snprintf(msg, msg_len, "%s %s", q, why);
	return false;
bad_range:
	snprintf(msg, msg_len, "%s is out of range (%s)", q, range);
	return false;
}

int
config_duration_parse(const char *text, uint64_t *ms)
{
	uint64_t n;

	if (unit_parse(text, duration_units, &n) != NUM_OK)
		return UM_ERR_INVALID;
	*ms = n;
	return UM_OK;
}
