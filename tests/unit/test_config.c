/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/config: every value type with good and bad text, defaults, environment
 * precedence, lists, unknown and duplicate keys, error lines and formatting, cross-field
 * rules, peer specs, line caps, the dump -> load round trip, the example files in
 * tests/conf/{good,bad}, and that docs/CONFIG.md names every key of the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_st.h"
#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"

#define ID1 "a4eascqlbqgq4dyqcejbgfavcylrqgi2dmob2hq7eaqseizeeuta"
#define ID2 "byhraeiscmkbkfqxdamrugy4dupb6ibbeirsijjge4ucskrlfqwq"
#define ID3 "culbogazdinryhi6d4qccirdeqssmjzifevcwlbnfyxtamjsgm2a"

static char *const env_home[] = { "HOME=/home/test", NULL };

/* All errors formatted, one per line; the caller frees. */
static char *
errors_text(const struct config_errors *errs)
{
	size_t cap = 1, len = 0;
	char line[2048];
	char *s;

	for (size_t i = 0; i < errs->n; i++)
		cap += sizeof(line) + 1;
	s = um_xmalloc(cap);
	s[0] = '\0';
	for (size_t i = 0; i < errs->n; i++) {
		config_error_format(&errs->v[i], line, sizeof(line));
		len += (size_t)snprintf(s + len, cap - len, "%s\n", line);
	}
	return s;
}

static struct config *
load_ok_env(const char *text, char *const *envp)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c = NULL;
	int ret = config_load_string(text, "t.conf", envp, &c, &errs);

	if (ret != UM_OK) {
		char *s = errors_text(&errs);

		print_error("unexpected errors for:\n%s\n---\n%s", text, s);
		free(s);
	}
	assert_int_equal(ret, UM_OK);
	assert_non_null(c);
	assert_int_equal(errs.n, 0);
	return c;
}

static struct config *
load_ok(const char *text)
{
	return load_ok_env(text, env_home);
}

/* Load text, expect failure, and return the formatted errors (caller frees). */
static char *
load_bad_env(const char *text, char *const *envp, size_t *n_errs)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c = (struct config *)&errs; /* must be reset to NULL */
	int ret = config_load_string(text, "t.conf", envp, &c, &errs);
	char *s = errors_text(&errs);

	if (ret != UM_ERR_CONFIG)
		print_error("expected errors for:\n%s\n", text);
	assert_int_equal(ret, UM_ERR_CONFIG);
	assert_null(c);
	assert_true(errs.n > 0);
	if (n_errs != NULL)
		*n_errs = errs.n;
	config_errors_clear(&errs);
	assert_null(errs.v);
	return s;
}

static void
assert_has(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		print_error("expected \"%s\" in:\n%s\n", needle, haystack);
	assert_non_null(strstr(haystack, needle));
}

static void
expect_error_env(const char *text, char *const *envp, const char *needle)
{
	char *s = load_bad_env(text, envp, NULL);

	assert_has(s, needle);
	free(s);
}

static void
expect_error(const char *text, const char *needle)
{
	expect_error_env(text, env_home, needle);
}

/* Expect exactly one error, formatted exactly as want. */
static void
expect_only_error_env(const char *text, char *const *envp, const char *want)
{
	size_t n = 0;
	char *s = load_bad_env(text, envp, &n);
	char *w = um_xasprintf("%s\n", want);

	if (n != 1 || strcmp(s, w) != 0)
		print_error("want exactly:\n%sgot:\n%s", w, s);
	assert_int_equal(n, 1);
	assert_string_equal(s, w);
	free(w);
	free(s);
}

static void
expect_only_error(const char *text, const char *want)
{
	expect_only_error_env(text, env_home, want);
}

/* ---- defaults ---- */

static void
test_defaults_match_the_documented_values(void **state)
{
	struct config *c = load_ok("");
	const char *sd = geteuid() == 0 ? "/var/lib/umbra" : "/home/test/.local/state/umbra";
	char *p;

	(void)state;
	assert_string_equal(c->node.state_dir, sd);
	p = um_xasprintf("%s/identity.key", sd);
	assert_string_equal(c->node.identity_key, p);
	free(p);
	p = um_xasprintf("%s/link.key", sd);
	assert_string_equal(c->node.link_key, p);
	free(p);
	p = um_xasprintf("%s/control.sock", sd);
	assert_string_equal(c->control.socket, p);
	free(p);
	assert_string_equal(c->node.nickname, "");
	assert_int_equal(c->node.roles, ROLE_CLIENT);
	assert_int_equal(c->link.listen.n, 0);
	assert_int_equal(c->link.peer.n, 0);
	assert_int_equal(c->link.accept, LINK_ACCEPT_ANY);
	assert_int_equal(c->link.max_links, 1024);
	assert_int_equal(c->link.max_pending, 256);
	assert_int_equal(c->link.max_pending_per_ip, 8);
	assert_int_equal(c->link.handshake_timeout_ms, 10000);
	assert_int_equal(c->link.keepalive_ms, 60000);
	assert_int_equal(c->link.idle_timeout_ms, 180000);
	assert_int_equal(c->link.reconnect_ms, 5000);
	assert_int_equal(c->link.write_queue_max, 1024 * 1024);
	assert_int_equal(c->directory.listen.n, 0);
	assert_int_equal(c->directory.authorities.n, 0);
	assert_int_equal(c->directory.vote_interval_ms, 3600 * 1000);
	assert_int_equal(c->directory.pin_mode, CONFIG_PIN_STRICT);
	assert_int_equal(c->directory.threshold, 0);
	assert_int_equal(c->directory.min_sources, 1);
	assert_int_equal(c->directory.peers.n, 0);
	assert_int_equal(c->directory.sync_interval_ms, 10000);
	assert_int_equal(c->directory.gossip_interval_ms, 0);
	assert_int_equal(c->directory.gossip_fanout, 2);
	assert_int_equal(c->directory.max_hops, 2);
	assert_true(c->directory.discovery);
	assert_int_equal(c->directory.discovery_min_operators, 1);
	assert_int_equal(c->directory.discovery_max, 64);
	assert_int_equal(c->directory.discovery_ttl_ms, 900000);
	assert_string_equal(c->directory.operator_id, "");
	p = um_xasprintf("%s/authority_signing.key", sd);
	assert_string_equal(c->directory.signing_key, p);
	free(p);
	p = um_xasprintf("%s/onion.key", sd);
	assert_string_equal(c->relay.onion_key, p);
	free(p);
	assert_string_equal(c->relay.operator_key, "");
	assert_string_equal(c->relay.country, "ZZ");
	assert_string_equal(c->relay.region, "");
	assert_int_equal(c->relay.geo_confidence, 0);
	assert_int_equal(c->relay.bandwidth_rate, 1024 * 1024);
	assert_int_equal(c->relay.bandwidth_burst, 0);
	assert_int_equal(c->relay.exit_policy.n, 0);
	assert_int_equal(c->relay.address.n, 0);
	assert_string_equal(c->relay.contact, "");
	assert_int_equal(c->client.circuits_prebuilt, 2);
	assert_int_equal(c->client.hops, 3);
	assert_true(c->control.enabled);
	assert_string_equal(c->log.level, "notice");
	assert_string_equal(c->log.file, "");
	assert_false(c->log.syslog);
	assert_true(c->log.safe_logging);
	config_free(c);
	assert_null(c);
	config_free(c); /* NULL is a no-op */
}

static void
test_state_dir_default_depends_on_root_and_home(void **state)
{
	const char *why = NULL;
	char *d;

	(void)state;
	d = config_state_dir_default(true, NULL, &why);
	assert_string_equal(d, "/var/lib/umbra");
	free(d);
	d = config_state_dir_default(false, "/home/a", &why);
	assert_string_equal(d, "/home/a/.local/state/umbra");
	free(d);
	d = config_state_dir_default(false, "/home/a//", &why);
	assert_string_equal(d, "/home/a/.local/state/umbra");
	free(d);
	d = config_state_dir_default(false, "/", &why);
	assert_string_equal(d, "/.local/state/umbra");
	free(d);
	assert_null(config_state_dir_default(false, NULL, &why));
	assert_non_null(strstr(why, "HOME is not set"));
	assert_null(config_state_dir_default(false, "", &why));
}

static void
test_paths_default_inside_state_dir(void **state)
{
	struct config *c = load_ok("[node]\nstate_dir = /srv/u/\nlink_key = /k/link\n");

	(void)state;
	assert_string_equal(c->node.state_dir, "/srv/u/");
	assert_string_equal(c->node.identity_key, "/srv/u/identity.key");
	assert_string_equal(c->node.link_key, "/k/link");
	assert_string_equal(c->control.socket, "/srv/u/control.sock");
	config_free(c);

	c = load_ok_env("", (char *const[]){ "UMBRA_NODE_STATE_DIR=/e", "HOME=/h", NULL });
	assert_string_equal(c->node.state_dir, "/e");
	assert_string_equal(c->control.socket, "/e/control.sock");
	config_free(c);
}

/* ---- every type, good and bad ---- */

struct value_case {
	const char *key; /* section.key */
	const char *text;
	bool ok;
	const char *want; /* ok: the value as config_value_format writes it; else in the error */
};

static const struct value_case value_cases[] = {
	/* bool */
	{ "control.enabled", "true", true, "true" },
	{ "control.enabled", "yes", true, "true" },
	{ "control.enabled", "on", true, "true" },
	{ "control.enabled", "1", true, "true" },
	{ "control.enabled", "TRUE", true, "true" },
	{ "control.enabled", "false", true, "false" },
	{ "control.enabled", "no", true, "false" },
	{ "control.enabled", "Off", true, "false" },
	{ "control.enabled", "0", true, "false" },
	{ "control.enabled", "maybe", false,
	  "control.enabled: \"maybe\" is not a boolean (true|false|yes|no|on|off|1|0)" },
	{ "control.enabled", "", false, "\"\" is not a boolean" },
	{ "control.enabled", "2", false, "\"2\" is not a boolean" },
	/* uint32 with range */
	{ "link.max_links", "1", true, "1" },
	{ "link.max_links", "65536", true, "65536" },
	{ "link.max_links", "007", true, "7" },
	{ "link.max_links", "0", false, "link.max_links: \"0\" is out of range (1..65536)" },
	{ "link.max_links", "65537", false, "\"65537\" is out of range (1..65536)" },
	{ "link.max_links", "4294967297", false, "\"4294967297\" is out of range" },
	{ "link.max_links", "99999999999999999999999", false, "is out of range (1..65536)" },
	{ "link.max_links", "abc", false, "link.max_links: \"abc\" is not a number (1..65536)" },
	{ "link.max_links", "-1", false, "\"-1\" is not a number" },
	{ "link.max_links", "+1", false, "\"+1\" is not a number" },
	{ "link.max_links", "0x10", false, "\"0x10\" is not a number" },
	{ "link.max_links", "1 2", false, "\"1 2\" is not a number" },
	{ "link.max_links", "1k", false, "\"1k\" is not a number" },
	{ "link.max_links", "", false, "\"\" is not a number" },
	{ "link.max_pending_per_ip", "1024", true, "1024" },
	{ "link.max_pending_per_ip", "1025", false, "\"1025\" is out of range (1..1024)" },
	/* size */
	{ "link.write_queue_max", "64K", true, "64K" },
	{ "link.write_queue_max", "65536", true, "64K" },
	{ "link.write_queue_max", "100000", true, "100000" },
	{ "link.write_queue_max", "1M", true, "1M" },
	{ "link.write_queue_max", "1m", true, "1M" },
	{ "link.write_queue_max", "1536K", true, "1536K" },
	{ "link.write_queue_max", "1048576", true, "1M" },
	{ "link.write_queue_max", "1G", true, "1G" },
	{ "link.write_queue_max", "1024M", true, "1G" },
	{ "link.write_queue_max", "63K", false,
	  "link.write_queue_max: \"63K\" is out of range (64K..1G)" },
	{ "link.write_queue_max", "2G", false, "\"2G\" is out of range (64K..1G)" },
	{ "link.write_queue_max", "18446744073709551616", false, "is out of range" },
	{ "link.write_queue_max", "17179869184G", false, "is out of range" },
	{ "link.write_queue_max", "1T", false,
	  "\"1T\" is not a size (bytes, or a number with K, M or G; 64K..1G)" },
	{ "link.write_queue_max", "K", false, "\"K\" is not a size" },
	{ "link.write_queue_max", "1.5M", false, "\"1.5M\" is not a size" },
	{ "link.write_queue_max", "1 M", false, "\"1 M\" is not a size" },
	{ "link.write_queue_max", "1KB", false, "\"1KB\" is not a size" },
	{ "link.write_queue_max", "-1K", false, "\"-1K\" is not a size" },
	/* duration */
	{ "link.handshake_timeout", "100ms", true, "100ms" },
	{ "link.handshake_timeout", "1500ms", true, "1500ms" },
	{ "link.handshake_timeout", "10", true, "10s" },
	{ "link.handshake_timeout", "10s", true, "10s" },
	{ "link.handshake_timeout", "120s", true, "2m" },
	{ "link.handshake_timeout", "5m", true, "5m" },
	{ "link.handshake_timeout", "99ms", false,
	  "link.handshake_timeout: \"99ms\" is out of range (100ms..5m)" },
	{ "link.handshake_timeout", "301s", false, "\"301s\" is out of range (100ms..5m)" },
	{ "link.handshake_timeout", "1h", false, "\"1h\" is out of range" },
	{ "link.handshake_timeout", "18446744073709551615h", false, "is out of range" },
	{ "link.handshake_timeout", "1x", false,
	  "\"1x\" is not a duration (seconds, or a number with ms, s, m, h or d; 100ms..5m)" },
	{ "link.handshake_timeout", "ms", false, "\"ms\" is not a duration" },
	{ "link.handshake_timeout", "1.5s", false, "\"1.5s\" is not a duration" },
	{ "link.handshake_timeout", "10 s", false, "\"10 s\" is not a duration" },
	{ "link.handshake_timeout", "10S", false, "\"10S\" is not a duration" },
	{ "link.idle_timeout", "24h", true, "1d" },
	{ "link.idle_timeout", "25h", false, "\"25h\" is out of range (1s..1d)" },
	{ "link.reconnect", "100ms", true, "100ms" },
	{ "link.reconnect", "60m", true, "1h" },
	/* enum and choice */
	{ "link.accept", "any", true, "any" },
	{ "link.accept", "known", true, "known" },
	{ "link.accept", "Known", false, "link.accept: \"Known\" is not one of any|known" },
	{ "link.accept", "", false, "\"\" is not one of any|known" },
	{ "log.level", "err", true, "err" },
	{ "log.level", "debug", true, "debug" },
	{ "log.level", "warning", false,
	  "log.level: \"warning\" is not one of err|warn|notice|info|debug" },
	/* role set */
	{ "node.roles", "client", true, "client" },
	{ "node.roles", "dht, client", true, "client,dht" },
	{ "node.roles", "mesh-relay,issuer,dht,issuer", true, "issuer,dht,mesh-relay" },
	{ "node.roles", "bogus", false,
	  "node.roles: \"bogus\": \"bogus\" is not a role (client, entry, middle, exit, directory, "
	  "issuer, dht, mesh-relay)" },
	{ "node.roles", "", false, "\"\" names no role" },
	{ "node.roles", "client,,dht", false, "\"client,,dht\" has an empty role name" },
	{ "node.roles", "client,", false, "has an empty role name" },
	{ "node.roles", "Client", false, "\"Client\" is not a role" },
	/* string (nickname) */
	{ "node.nickname", "relay-01_b", true, "relay-01_b" },
	{ "node.nickname", "", true, "" },
	{ "node.nickname", "abcdefghijklmnopqrstuvwxyz012345", true,
	  "abcdefghijklmnopqrstuvwxyz012345" },
	{ "node.nickname", "abcdefghijklmnopqrstuvwxyz0123456", false,
	  "is longer than 32 characters" },
	{ "node.nickname", "my relay", false, "\"my relay\" is not a nickname" },
	{ "node.nickname", "caf\xc3\xa9", false, "\"caf\\xc3\\xa9\" is not a nickname" },
	/* path */
	{ "node.state_dir", "/tmp/x", true, "/tmp/x" },
	{ "node.state_dir", "/with space/ok", true, "/with space/ok" },
	{ "node.state_dir", "relative/x", false,
	  "node.state_dir: \"relative/x\" is not an absolute path" },
	{ "node.state_dir", "", false, "\"\" is empty (a path is needed)" },
	{ "node.state_dir", "/a\tb", false, "contains a control character" },
	{ "node.identity_key", "/keys/id", true, "/keys/id" },
	{ "node.link_key", "link.key", false, "is not an absolute path" },
	{ "control.socket", "/run/umbra.sock", true, "/run/umbra.sock" },
	{ "log.file", "", true, "" },
	{ "log.file", "/var/log/umbra.log", true, "/var/log/umbra.log" },
	{ "log.file", "umbra.log", false, "log.file: \"umbra.log\" is not an absolute path" },
	/* [directory] and [relay] */
	{ "directory.authorities", ID1 "@https://127.0.0.1:8080", false,
	  "does not start with http://" },
	{ "directory.authorities", ID1 "@http://127.0.0.1:8080/x", false, "is not a number" },
	{ "directory.authorities", ID1 "@http://localhost:80", false, "numeric IPv4" },
	{ "directory.authorities", "http://127.0.0.1:8080", false,
	  "is not <authority-id>@http://host:port" },
	{ "directory.vote_interval", "10s", true, "10s" },
	{ "directory.vote_interval", "4s", true, "4s" },
	{ "directory.vote_interval", "3s", false, "is out of range (4s..1d)" },
	{ "directory.signing_key_lifetime", "30d", true, "30d" },
	{ "directory.signing_key_lifetime", "10s", false, "is out of range (20s..180d)" },
	{ "relay.onion_key_lifetime", "672h", true, "28d" },
	{ "relay.onion_key_grace", "8d", false, "is out of range (10s..7d)" },
	{ "directory.pin_mode", "tofu", true, "tofu" },
	{ "directory.pin_mode", "loose", false, "is not one of strict|tofu" },
	{ "directory.threshold", "17", false, "is out of range (0..16)" },
	{ "directory.min_sources", "0", false, "is out of range (1..16)" },
	{ "directory.peers", ID1 "@https://127.0.0.1:8080", false, "does not start with http://" },
	{ "directory.sync_interval", "1s", true, "1s" },
	{ "directory.sync_interval", "500ms", false, "is out of range (1s..1h)" },
	{ "directory.gossip_interval", "0", true, "0ms" },
	{ "directory.gossip_fanout", "17", false, "is out of range (0..16)" },
	{ "directory.max_hops", "0", true, "0" },
	{ "directory.max_hops", "17", false, "is out of range (0..16)" },
	{ "directory.discovery", "off", true, "false" },
	{ "directory.discovery_min_operators", "0", false, "is out of range (1..16)" },
	{ "directory.discovery_min_operators", "2", true, "2" },
	{ "directory.discovery_max", "257", false, "is out of range (0..256)" },
	{ "directory.discovery_ttl", "1h", true, "1h" },
	{ "directory.operator", ID2, true, ID2 },
	{ "directory.operator", "abc", false, "not 52 base32 characters" },
	{ "relay.country", "DE", true, "DE" },
	{ "relay.country", "de", false, "is not a two-letter upper-case country code" },
	{ "relay.country", "DEU", false, "is not a two-letter upper-case country code" },
	{ "relay.region", "eu-central", true, "eu-central" },
	{ "relay.region", "EU", false, "is not a region" },
	{ "relay.geo_confidence", "101", false, "is out of range (0..100)" },
	{ "relay.bandwidth_rate", "10M", true, "10M" },
	{ "relay.bandwidth_rate", "3G", false, "is out of range" },
	{ "relay.contact", "ops@example.org", true, "ops@example.org" },
	{ "relay.contact", "caf\xc3\xa9", false, "is not printable ASCII" },
	{ "client.circuits_prebuilt", "0", true, "0" },
	{ "client.circuits_prebuilt", "17", false, "is out of range (0..16)" },
	{ "client.hops", "2", true, "2" },
	{ "client.hops", "1", false, "is out of range (2..3)" },
	{ "client.hops", "4", false, "is out of range (2..3)" },
};

static void
test_every_type_accepts_good_and_rejects_bad_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(value_cases); i++) {
		const struct value_case *vc = &value_cases[i];
		const char *dot = strchr(vc->key, '.');
		char section[32], *text;
		const struct config_var *v;

		memcpy(section, vc->key, (size_t)(dot - vc->key));
		section[dot - vc->key] = '\0';
		v = config_var_find(section, dot + 1);
		assert_non_null(v);
		/* Wide limits keep the cross-field rules out of the way. */
		text = um_xasprintf("[%s]\n%s = %s\n%s%s", section, dot + 1, vc->text,
		                    strcmp(section, "link") == 0 && strcmp(dot + 1, "idle_timeout")
		                            ? "idle_timeout = 24h\n"
		                            : "",
		                    strcmp(section, "link") == 0 && strcmp(dot + 1, "max_pending")
		                            ? "max_pending = 65536\n"
		                            : "");
		if (vc->ok) {
			struct config *c = load_ok(text);
			char out[256];

			config_value_format(c, v, out, sizeof(out));
			if (strcmp(out, vc->want) != 0)
				print_error("case %zu: %s = \"%s\"\n", i, vc->key, vc->text);
			assert_string_equal(out, vc->want);
			config_free(c);
		} else {
			char *s = load_bad_env(text, env_home, NULL);

			if (strstr(s, vc->want) == NULL)
				print_error("case %zu: %s = \"%s\"\n", i, vc->key, vc->text);
			assert_has(s, vc->want);
			/* Every value error names the file, the line and the key. */
			assert_has(s, "t.conf:2: ");
			free(s);
		}
		free(text);
	}
}

static void
test_log_level_choices_match_lib_log(void **state)
{
	const struct config_var *v = config_var_find("log", "level");
	enum log_level level;

	(void)state;
	for (const struct config_choice *ch = v->choices; ch->name != NULL; ch++) {
		assert_int_equal(log_level_parse(ch->name, &level), UM_OK);
		assert_string_equal(log_level_name(level), ch->name);
	}
}

/* ---- addresses and peers ---- */

static void
test_listen_addresses(void **state)
{
	static const char *const good[] = {
		"127.0.0.1:0", "0.0.0.0:443",         "255.255.255.255:1",   "[::1]:9000",
		"[::]:1",      "[2001:db8::1]:65535", "[::ffff:1.2.3.4]:80",
	};
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "localhost:80", "has a host that is not a numeric IPv4 address" },
		{ "1.2.3.4", "is not host:port (the port is missing)" },
		{ "::1:80", "is not host:port (write an IPv6 address in brackets: [::1]:port)" },
		{ "[::1]80", "is not host:port ([IPv6]:port needs ']:' before the port)" },
		{ "[::1]", "is not host:port ([IPv6]:port needs ']:' before the port)" },
		{ "[::1:80", "is not host:port ([IPv6]:port needs ']:' before the port)" },
		{ "[]:80", "has a host that is not an IPv6 address" },
		{ "[1.2.3.4]:80", "has a host that is not an IPv6 address" },
		{ "[fe80::1%eth0]:1", "has a host that is not an IPv6 address" },
		{ "1.2.3.4:65536", "has a port that is not a number in 0..65535" },
		{ "1.2.3.4:-1", "has a port that is not a number in 0..65535" },
		{ "1.2.3.4:", "has a port that is not a number in 0..65535" },
		{ "1.2.3.4:123456", "has a port that is not a number in 0..65535" },
		{ "1.2.3.4:8o", "has a port that is not a number in 0..65535" },
		{ "1.2.3.4:080", "has a port that is not a number in 0..65535" },
		{ "1.2.3.4:00", "has a port that is not a number in 0..65535" },
		{ "1.2.3:80", "has a host that is not a numeric IPv4 address" },
		{ "256.1.1.1:80", "has a host that is not a numeric IPv4 address" },
		{ "01.2.3.4:80", "has a host that is not a numeric IPv4 address" },
		{ ":80", "has a host that is not a numeric IPv4 address" },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(good); i++) {
		char *text = um_xasprintf("[link]\nlisten = %s\n", good[i]);
		struct config *c = load_ok(text);

		assert_int_equal(c->link.listen.n, 1);
		assert_string_equal(c->link.listen.v[0], good[i]);
		config_free(c);
		free(text);
	}
	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		char *text = um_xasprintf("[link]\nlisten = %s\n", bad[i].text);
		char *want =
		        um_xasprintf("t.conf:2: link.listen: \"%s\" %s", bad[i].text, bad[i].why);

		expect_error(text, want);
		free(want);
		free(text);
	}
}

static void
test_peer_parse_good(void **state)
{
	uint8_t id_in[32], key_in[32], id[32], key[32];
	char id_b32[CONFIG_KEY_B32_LEN + 1], key_b32[CONFIG_KEY_B32_LEN + 1];
	char hp[CONFIG_HOSTPORT_MAX], *spec;

	(void)state;
	for (int i = 0; i < 32; i++) {
		id_in[i] = (uint8_t)(i * 13 + 1);
		key_in[i] = (uint8_t)(255 - i);
	}
	assert_int_equal(enc_base32(id_b32, sizeof(id_b32), id_in, 32), UM_OK);
	assert_int_equal(enc_base32(key_b32, sizeof(key_b32), key_in, 32), UM_OK);
	assert_int_equal(strlen(id_b32), CONFIG_KEY_B32_LEN);

	spec = um_xasprintf("%s/%s@192.0.2.7:9001", id_b32, key_b32);
	assert_int_equal(config_peer_parse(spec, id, key, hp, sizeof(hp)), UM_OK);
	assert_memory_equal(id, id_in, 32);
	assert_memory_equal(key, key_in, 32);
	assert_string_equal(hp, "192.0.2.7:9001");
	free(spec);

	spec = um_xasprintf("%s/%s@[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", id_b32,
	                    key_b32);
	assert_int_equal(config_peer_parse(spec, id, key, hp, sizeof(hp)), UM_OK);
	assert_string_equal(hp, "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
	/* The longest host:port fits CONFIG_HOSTPORT_MAX; hostport may be NULL. */
	assert_int_equal(config_peer_parse(spec, id, key, NULL, 0), UM_OK);
	/* The same spec loads as a [link] peer line. */
	{
		char *text = um_xasprintf("[link]\npeer = %s\n", spec);
		struct config *c = load_ok(text);

		assert_int_equal(c->link.peer.n, 1);
		assert_string_equal(c->link.peer.v[0], spec);
		config_free(c);
		free(text);
	}
	free(spec);
}

static void
test_peer_parse_bad(void **state)
{
	static const struct {
		const char *spec, *why;
	} bad[] = {
		{ "A4EASCQLBQGQ4DYQCEJBGFAVCYLRQGI2DMOB2HQ7EAQSEIZEEUTA/" ID2 "@192.0.2.1:1",
		  "has a node id with a character outside a-z 2-7" },
		{ ID1 "/" ID2 "x@192.0.2.1:1", "has a link key that is not 52 base32 characters" },
		{ "a4eascqlbqgq4dyqcejbgfavcylrqgi2dmob2hq7eaqseizeeut/" ID2 "@192.0.2.1:1",
		  "has a node id that is not 52 base32 characters" },
		{ ID1 "/byhraeiscmkbkfqxdamrugy4dupb6ibbeirsijjge4ucskrlfqw1@192.0.2.1:1",
		  "has a link key with a character outside a-z 2-7" },
		/* 52 characters leave 4 spare bits, which must be zero: 'b' sets one. */
		{ "a4eascqlbqgq4dyqcejbgfavcylrqgi2dmob2hq7eaqseizeeutb/" ID2 "@192.0.2.1:1",
		  "has a node id that does not decode to 32 bytes" },
		{ ID1 "/@192.0.2.1:1", "has a link key that is not 52 base32 characters" },
		{ "/" ID2 "@192.0.2.1:1", "has a node id that is not 52 base32 characters" },
		{ ID1 "/" ID2, "is not <node-id>/<link-key>@host:port" },
		{ ID1 ID2 "@192.0.2.1:1", "is not <node-id>/<link-key>@host:port" },
		{ ID1 "@" ID2 "/192.0.2.1:1", "is not <node-id>/<link-key>@host:port" },
		{ ID1 "/" ID2 "@192.0.2.1:0", "has a port that is not a number in 1..65535" },
		{ ID1 "/" ID2 "@example.org:443", "has a host that is not a numeric IPv4 address" },
		{ ID1 "/" ID2 "@::1:443",
		  "is not host:port (write an IPv6 address in brackets: [::1]:port)" },
		{ ID1 "/" ID2 "@192.0.2.1:1@x", "has a port that is not a number in 1..65535" },
		{ "", "is not <node-id>/<link-key>@host:port" },
	};
	uint8_t id[32], key[32];
	char hp[CONFIG_HOSTPORT_MAX];

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		char *text = um_xasprintf("[link]\npeer = %s\n", bad[i].spec);
		char *want =
		        um_xasprintf("t.conf:2: link.peer: \"%s\" %s", bad[i].spec, bad[i].why);

		memset(id, 0xaa, sizeof(id));
		memset(key, 0xaa, sizeof(key));
		memset(hp, 'x', sizeof(hp));
		assert_int_equal(config_peer_parse(bad[i].spec, id, key, hp, sizeof(hp)),
		                 UM_ERR_MALFORMED);
		/* Nothing stale is left in the out-params. */
		assert_memory_equal(id, (uint8_t[32]){ 0 }, 32);
		assert_memory_equal(key, (uint8_t[32]){ 0 }, 32);
		assert_string_equal(hp, "");
		if (bad[i].spec[0] != '\0') /* "peer =" clears the list instead */
			expect_error(text, want);
		free(want);
		free(text);
	}
	/* hostport buffer too small. */
	assert_int_equal(config_peer_parse(ID1 "/" ID2 "@192.0.2.1:1", id, key, hp, 11),
	                 UM_ERR_TOO_LARGE);
	assert_memory_equal(id, (uint8_t[32]){ 0 }, 32);
	assert_string_equal(hp, "");
	assert_int_equal(config_peer_parse(ID1 "/" ID2 "@192.0.2.1:1", id, key, hp, 12), UM_OK);
	assert_string_equal(hp, "192.0.2.1:1");
}

/* ---- environment ---- */

static void
test_env_overrides_file_and_defaults(void **state)
{
	struct config *c;

	(void)state;
	c = load_ok_env("[link]\nmax_links = 10\nmax_pending = 20\n",
	                (char *const[]){ "UMBRA_LINK_MAX_LINKS=30", "HOME=/h",
	                                 "UMBRA_LOG_LEVEL=debug", "UMBRA_CONTROL_ENABLED=no",
	                                 "UMBRA_NODE_ROLES=client, dht", NULL });
	assert_int_equal(c->link.max_links, 30);   /* env over file */
	assert_int_equal(c->link.max_pending, 20); /* file over default */
	assert_int_equal(c->link.max_pending_per_ip, 8);
	assert_string_equal(c->log.level, "debug"); /* env over default */
	assert_false(c->control.enabled);
	assert_int_equal(c->node.roles, ROLE_CLIENT | ROLE_DHT);
	config_free(c);
}

static void
test_env_errors_name_the_variable(void **state)
{
	(void)state;
	expect_only_error_env("", (char *const[]){ "UMBRA_LINK_MAX_LINKS=abc", "HOME=/h", NULL },
	                      "environment: link.max_links: UMBRA_LINK_MAX_LINKS=\"abc\" is not a "
	                      "number (1..65536)");
	expect_only_error_env("", (char *const[]){ "UMBRA_LINK_BOGUS=1", "HOME=/h", NULL },
	                      "environment: UMBRA_LINK_BOGUS: unknown environment variable");
	expect_only_error_env("", (char *const[]){ "UMBRA_LINK_=1", "HOME=/h", NULL },
	                      "environment: UMBRA_LINK_: unknown environment variable");
	expect_only_error_env("", (char *const[]){ "UMBRA_LOG_max_links=1", "HOME=/h", NULL },
	                      "environment: UMBRA_LOG_max_links: unknown environment variable");
	expect_only_error_env(
	        "",
	        (char *const[]){ "UMBRA_LINK_MAX_LINKS=1", "UMBRA_LINK_MAX_LINKS=2", "HOME=/h",
	                         NULL },
	        "environment: link.max_links: UMBRA_LINK_MAX_LINKS is set more than once");
	/* A cross-field error about a value from the environment names the variable too. */
	expect_only_error_env("", (char *const[]){ "UMBRA_LINK_KEEPALIVE=1h", "HOME=/h", NULL },
	                      "environment: link.keepalive: UMBRA_LINK_KEEPALIVE: \"1h\" must be "
	                      "shorter than link.idle_timeout (\"3m\")");
	/* Values from the environment must survive a dump and reload. */
	expect_error_env("", (char *const[]){ "UMBRA_NODE_STATE_DIR=/a\nb", "HOME=/h", NULL },
	                 "contains a control character");
	expect_error_env("", (char *const[]){ "UMBRA_LOG_FILE=/a ;b", "HOME=/h", NULL },
	                 "contains \" ;\", which starts a comment");
	expect_error_env("", (char *const[]){ "UMBRA_LOG_FILE=/a ", "HOME=/h", NULL },
	                 "starts or ends with white space");
}

static void
test_env_other_umbra_variables_are_ignored(void **state)
{
	struct config *c;

	(void)state;
	c = load_ok_env("", (char *const[]){ "UMBRA_CONFIG=/etc/umbra.conf", "UMBRA_STATE_DIR=/x",
	                                     "UMBRA_=1", "UMBRA", "UMBRA_LINKS_X=1", "HOME=/h",
	                                     "PATH=/bin", "NOEQUALS", "HOME=/h", NULL });
	assert_int_equal(c->link.max_links, 1024);
	config_free(c);
	/* No environment at all. */
	if (geteuid() == 0) {
		c = load_ok_env("", NULL);
		config_free(c);
	}
}

static void
test_env_names_follow_the_table(void **state)
{
	char name[128];

	(void)state;
	config_var_env_name(config_var_find("link", "max_pending_per_ip"), name, sizeof(name));
	assert_string_equal(name, "UMBRA_LINK_MAX_PENDING_PER_IP");
	config_var_env_name(config_var_find("node", "state_dir"), name, sizeof(name));
	assert_string_equal(name, "UMBRA_NODE_STATE_DIR");
	config_var_env_name(config_var_find("node", "state_dir"), name, 6);
	assert_string_equal(name, "UMBRA");
}

/* ---- lists ---- */

static void
test_list_lines_append_and_env_replaces(void **state)
{
	struct config *c;

	(void)state;
	c = load_ok("[link]\nlisten = 10.0.0.1:1\nlisten = [::1]:2\n[node]\nroles = entry\n");
	assert_int_equal(c->link.listen.n, 2);
	assert_string_equal(c->link.listen.v[0], "10.0.0.1:1");
	assert_string_equal(c->link.listen.v[1], "[::1]:2");
	config_free(c);

	/* An empty value clears what came before. */
	c = load_ok("[link]\nlisten = 10.0.0.1:1\nlisten =\nlisten = 10.0.0.3:3\n");
	assert_int_equal(c->link.listen.n, 1);
	assert_string_equal(c->link.listen.v[0], "10.0.0.3:3");
	config_free(c);

	/* The environment replaces the file's list, comma-separated, spaces trimmed. */
	c = load_ok_env(
	        "[link]\nlisten = 10.0.0.1:1\nlisten = 10.0.0.2:2\n",
	        (char *const[]){ "UMBRA_LINK_LISTEN= 10.0.0.8:8 , [::1]:9", "HOME=/h", NULL });
	assert_int_equal(c->link.listen.n, 2);
	assert_string_equal(c->link.listen.v[0], "10.0.0.8:8");
	assert_string_equal(c->link.listen.v[1], "[::1]:9");
	config_free(c);

	/* An empty variable empties the list. */
	c = load_ok_env("[link]\nlisten = 10.0.0.1:1\n",
	                (char *const[]){ "UMBRA_LINK_LISTEN=", "HOME=/h", NULL });
	assert_int_equal(c->link.listen.n, 0);
	config_free(c);

	c = load_ok_env("", (char *const[]){ "UMBRA_LINK_PEER=" ID1 "/" ID2 "@192.0.2.1:1," ID2
	                                     "/" ID1 "@192.0.2.2:2",
	                                     "HOME=/h", NULL });
	assert_int_equal(c->link.peer.n, 2);
	config_free(c);

	expect_only_error_env(
	        "", (char *const[]){ "UMBRA_LINK_LISTEN=10.0.0.1:1,,10.0.0.2:2", "HOME=/h", NULL },
	        "environment: link.listen: UMBRA_LINK_LISTEN=\"10.0.0.1:1,,10.0.0.2:2\" "
	        "has an empty item");
	expect_only_error_env(
	        "", (char *const[]){ "UMBRA_LINK_LISTEN=10.0.0.1:1,nohost:2", "HOME=/h", NULL },
	        "environment: link.listen: UMBRA_LINK_LISTEN=\"nohost:2\" has a host "
	        "that is not a numeric IPv4 address");
}

static void
test_list_is_capped(void **state)
{
	size_t n = CONFIG_LIST_MAX + 1, len = 0;
	char *env = um_xmalloc(32 + n * 24);
	char *s;

	(void)state;
	len += (size_t)sprintf(env, "UMBRA_LINK_LISTEN=");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(env + len, "%s10.%zu.%zu.1:1", i ? "," : "", i / 256,
		                       i % 256);
	s = load_bad_env("", (char *const[]){ env, NULL }, NULL);
	assert_has(s, "has more than 4096 items");
	free(s);
	free(env);
}

/* ---- unknown, duplicate, syntax ---- */

static void
test_unknown_keys_and_sections_are_errors(void **state)
{
	(void)state;
	expect_only_error("[link]\nbogus = 1\n", "t.conf:2: link.bogus: unknown key");
	expect_only_error("# c\n[relays]\n", "t.conf:2: unknown section \"relays\"");
	/* Keys under an unknown section are not reported again. */
	expect_only_error("[relays]\nfoo = 1\nbar = 2\n[link]\nmax_links = 5\n",
	                  "t.conf:1: unknown section \"relays\"");
	expect_only_error("[ link ]\n", "t.conf:1: unknown section \" link \"");
	expect_only_error("[LINK]\n", "t.conf:1: unknown section \"LINK\"");
	expect_only_error("max_links = 1\n[link]\n",
	                  "t.conf:1: max_links: key outside of any section (add a [section] line "
	                  "above it)");
	expect_only_error("[link] junk\nmax_links = 1\n",
	                  "t.conf:1: unexpected text after [link]: \"junk\"");
	expect_only_error("[link\nmax_links = 1\n",
	                  "t.conf:1: section header \"[link\" has no ']'");
	expect_only_error("[link]\njust words\n",
	                  "t.conf:2: expected \"key = value\", found \"just words\"");
	expect_only_error("[link]\n= 5\n", "t.conf:2: missing key name before '='");
	expect_only_error("[link]\nMax_Links = 5\n", "t.conf:2: link.Max_Links: unknown key");
	expect_only_error("[link]\nmax\x01links = 5\n",
	                  "t.conf:2: link.max\\x01links: unknown key");
	/* Comments after a header, and ':' as the separator, are inih syntax we accept. */
	{
		struct config *c = load_ok("[link] ; comment\nmax_links: 5\n[log] # c\n");

		assert_int_equal(c->link.max_links, 5);
		config_free(c);
	}
}

static void
test_duplicate_keys_are_errors(void **state)
{
	(void)state;
	expect_only_error("[link]\nmax_links = 1\n\nmax_links = 2\n",
	                  "t.conf:4: link.max_links: duplicate key (first set on line 2)");
	expect_only_error("[link]\nmax_links = 1\n[log]\n[link]\nmax_links = 1\n",
	                  "t.conf:5: link.max_links: duplicate key (first set on line 2)");
	/* A bad first value still makes the second one a duplicate. */
	{
		size_t n = 0;
		char *s = load_bad_env("[link]\nmax_links = x\nmax_links = 2\n", env_home, &n);

		assert_int_equal(n, 2);
		assert_has(s, "t.conf:2: link.max_links: \"x\" is not a number");
		assert_has(s, "t.conf:3: link.max_links: duplicate key (first set on line 2)");
		free(s);
	}
}

static void
test_every_error_is_collected_with_its_line(void **state)
{
	size_t n = 0;
	char *s;

	(void)state;
	s = load_bad_env("# umbra\n"
	                 "[node]\n"
	                 "roles = client,guard\n"
	                 "\n"
	                 "[link]\n"
	                 "max_links = abc\n"
	                 "keepalive = 5x\n"
	                 "bogus = 1\n"
	                 "[log]\n"
	                 "level = loud\n",
	                 (char *const[]){ "UMBRA_LINK_MAX_PENDING=0", "HOME=/h", NULL }, &n);
	assert_string_equal(
	        s,
	        "t.conf:3: node.roles: \"client,guard\": \"guard\" is not a role (client, entry, "
	        "middle, exit, directory, issuer, dht, mesh-relay)\n"
	        "t.conf:6: link.max_links: \"abc\" is not a number (1..65536)\n"
	        "t.conf:7: link.keepalive: \"5x\" is not a duration (seconds, or a number with "
	        "ms, s, m, h or d; 1s..1h)\n"
	        "t.conf:8: link.bogus: unknown key\n"
	        "t.conf:10: log.level: \"loud\" is not one of err|warn|notice|info|debug\n"
	        "environment: link.max_pending: UMBRA_LINK_MAX_PENDING=\"0\" is out of range "
	        "(1..65536)\n");
	assert_int_equal(n, 6);
	free(s);
}

static void
test_errors_are_capped(void **state)
{
	size_t len = 0, n = 0;
	char *text = um_xmalloc(16 + 300 * 16);
	char *s;
	struct config_errors errs = { NULL, 0 };
	struct config *c = NULL;

	(void)state;
	len += (size_t)sprintf(text, "[link]\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(text + len, "bogus%d = 1\n", i);
	s = load_bad_env(text, env_home, &n);
	assert_int_equal(n, CONFIG_ERRORS_MAX + 1);
	assert_has(s, "t.conf: too many errors; the rest are not listed\n");
	free(s);
	/* errs may be NULL: the load still fails, and nothing leaks. */
	assert_int_equal(config_load_string(text, NULL, env_home, &c, NULL), UM_ERR_CONFIG);
	assert_null(c);
	assert_int_equal(config_load_string("[x]\n", NULL, env_home, &c, &errs), UM_ERR_CONFIG);
	assert_string_equal(errs.v[0].file, "<string>");
	config_errors_clear(&errs);
	config_errors_clear(NULL);
	free(text);
}

static void
test_error_format(void **state)
{
	struct config_error e = { "f.conf", 12, "link.max_links", "\"abc\" is not a number" };
	char out[128];

	(void)state;
	config_error_format(&e, out, sizeof(out));
	assert_string_equal(out, "f.conf:12: link.max_links: \"abc\" is not a number");
	e.line = 0;
	config_error_format(&e, out, sizeof(out));
	assert_string_equal(out, "f.conf: link.max_links: \"abc\" is not a number");
	e.key = "";
	config_error_format(&e, out, sizeof(out));
	assert_string_equal(out, "f.conf: \"abc\" is not a number");
	config_error_format(&e, out, 7);
	assert_string_equal(out, "f.conf");
	config_error_format(&e, out, 0);
}

static void
test_long_values_are_quoted_cut(void **state)
{
	char nines[CONFIG_VALUE_QUOTE_MAX + 41], cut[CONFIG_VALUE_QUOTE_MAX + 1];
	char *text, *want, *s;

	(void)state;
	memset(nines, '9', sizeof(nines) - 1);
	nines[sizeof(nines) - 1] = '\0';
	text = um_xasprintf("[link]\nmax_links = %s\n", nines);
	s = load_bad_env(text, env_home, NULL);
	/* CONFIG_VALUE_QUOTE_MAX characters of the value, then "..." */
	memcpy(cut, nines, CONFIG_VALUE_QUOTE_MAX);
	cut[CONFIG_VALUE_QUOTE_MAX] = '\0';
	want = um_xasprintf("t.conf:2: link.max_links: \"%s\"... is out of range (1..65536)\n",
	                    cut);
	assert_string_equal(s, want);
	free(want);
	free(s);
	free(text);
}

/* ---- line caps, line endings, files ---- */

static void
test_long_lines_are_errors(void **state)
{
	char *line1024 = um_xmalloc(1100), *line1025 = um_xmalloc(1100), *text;
	struct config *c;
	size_t n = 0;
	char *s;

	(void)state;
	/* A 1024-character value line is fine, also with CRLF and indentation. */
	snprintf(line1024, 1100, "state_dir = /%01011d", 0);
	assert_int_equal(strlen(line1024), CONFIG_LINE_MAX);
	text = um_xasprintf("[node]\r\n  %s\r\n[control]\nenabled = false\n", line1024);
	c = load_ok(text);
	assert_int_equal(strlen(c->node.state_dir), CONFIG_LINE_MAX - 12);
	config_free(c);
	free(text);

	/* 1025 characters is an error at its line; later lines keep their numbers. */
	snprintf(line1025, 1100, "#%01024d", 0);
	assert_int_equal(strlen(line1025), CONFIG_LINE_MAX + 1);
	text = um_xasprintf("[link]\n%s\nmax_links = x\n", line1025);
	s = load_bad_env(text, env_home, &n);
	assert_int_equal(n, 2);
	assert_string_equal(s, "t.conf:2: line is longer than 1024 characters\n"
	                       "t.conf:3: link.max_links: \"x\" is not a number (1..65536)\n");
	free(s);
	free(text);

	/* An over-long section header does not leave its keys in the previous section. */
	text = um_xasprintf("[link]\n[%s]\nmax_links = 1\n", line1025);
	expect_only_error(text, "t.conf:2: line is longer than 1024 characters");
	free(text);
	free(line1024);
	free(line1025);
}

static void
test_crlf_bom_comments_and_indentation(void **state)
{
	struct config *c;

	(void)state;
	c = load_ok("\xef\xbb\xbf[link]\r\n"
	            "max_links = 7 ; inline comment\r\n"
	            "# comment\r\n"
	            "; comment\r\n"
	            "   keepalive = 2s\r\n"
	            "\tmax_pending=9\r\n"
	            "\r\n");
	assert_int_equal(c->link.max_links, 7);
	assert_int_equal(c->link.keepalive_ms, 2000);
	assert_int_equal(c->link.max_pending, 9);
	config_free(c);
	/* '#' is not an inline comment (inih's default); ';' after a non-space is text. */
	expect_error("[link]\nmax_links = 10 # ten\n", "\"10 # ten\" is not a number");
	expect_error("[link]\nmax_links = 10;ten\n", "\"10;ten\" is not a number");
}

static char *
write_temp(const void *data, size_t len)
{
	char *path = um_xstrdup("/tmp/test_config_XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void
test_load_file(void **state)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c = NULL;
	char *path, *s;
	static const char good[] = "[link]\nmax_links = 3\n";
	static const char nul[] = "[link]\nmax_links = 1\0 0\nbogus = 1\n";

	(void)state;
	path = write_temp(good, sizeof(good) - 1);
	assert_int_equal(config_load(path, env_home, &c, &errs), UM_OK);
	assert_int_equal(c->link.max_links, 3);
	config_free(c);
	unlink(path);
	free(path);

	path = write_temp(nul, sizeof(nul) - 1);
	assert_int_equal(config_load(path, env_home, &c, &errs), UM_ERR_CONFIG);
	assert_null(c);
	s = errors_text(&errs);
	s[strlen(s) - 1] = '\0';
	assert_non_null(strstr(s, ":2: line contains a NUL byte\n"));
	assert_non_null(strstr(s, ":3: link.bogus: unknown key"));
	assert_int_equal(strncmp(s, path, strlen(path)), 0);
	free(s);
	config_errors_clear(&errs);
	unlink(path);
	free(path);

	assert_int_equal(config_load("/nonexistent/umbra.conf", env_home, &c, &errs),
	                 UM_ERR_CONFIG);
	assert_int_equal(errs.n, 1);
	s = errors_text(&errs);
	assert_string_equal(s, "/nonexistent/umbra.conf: cannot open: No such file or directory\n");
	free(s);
	config_errors_clear(&errs);

	assert_int_equal(config_load("/tmp", env_home, &c, &errs), UM_ERR_CONFIG);
	s = errors_text(&errs);
	assert_string_equal(s, "/tmp: is not a regular file\n");
	free(s);
	config_errors_clear(&errs);

	/* The file error and the environment's errors are all listed. */
	assert_int_equal(config_load("/nonexistent",
	                             (char *const[]){ "UMBRA_LINK_X=1", "HOME=/h", NULL }, &c,
	                             &errs),
	                 UM_ERR_CONFIG);
	assert_int_equal(errs.n, 2);
	config_errors_clear(&errs);

	/* No path: defaults and the environment. */
	assert_int_equal(config_load(NULL,
	                             (char *const[]){ "UMBRA_LINK_MAX_LINKS=5", "HOME=/h", NULL },
	                             &c, &errs),
	                 UM_OK);
	assert_int_equal(c->link.max_links, 5);
	config_free(c);
}

static void
test_oversized_text_is_refused(void **state)
{
	char *big = um_xmalloc((size_t)CONFIG_FILE_MAX + 2);
	char *s;

	(void)state;
	memset(big, '#', (size_t)CONFIG_FILE_MAX + 1);
	big[CONFIG_FILE_MAX + 1] = '\0';
	s = load_bad_env(big, env_home, NULL);
	assert_has(s, "t.conf: larger than 1048576 bytes");
	free(s);
	free(big);
}

/* ---- cross-field rules ---- */

static void
test_cross_field_rules(void **state)
{
	struct config *c;

	(void)state;
	expect_only_error("[node]\nroles = client,middle\n",
	                  "t.conf:2: node.roles: \"client,middle\" includes a relay role (entry, "
	                  "middle or exit), and relays must listen: set link.listen");
	c = load_ok("[node]\nroles = client,exit\n[link]\nlisten = 0.0.0.0:0\n"
	            "[relay]\nexit_policy = accept *:*\n");
	assert_int_equal(c->node.roles, ROLE_CLIENT | ROLE_EXIT);
	config_free(c);
	/* Non-relay roles need no listener. */
	c = load_ok("[node]\nroles = issuer,dht,mesh-relay\n");
	config_free(c);

	/* The directory role needs its HTTP listener and the authority set. */
	expect_error("[node]\nroles = directory\n", "set directory.listen");
	expect_error("[node]\nroles = directory\n", "set directory.authorities");
	c = load_ok("[node]\nroles = directory\n[directory]\nlisten = 127.0.0.1:0\n"
	            "authorities = " ID1 "@http://127.0.0.1:1\n");
	config_free(c);
	expect_only_error("[directory]\npeers = " ID1 "@http://127.0.0.1:1\npeers = " ID1
	                  "@http://127.0.0.1:2\n",
	                  "t.conf:3: directory.peers: peer #2 is listed twice");
	expect_only_error("[directory]\nauthorities = " ID1 "@http://127.0.0.1:1\n"
	                  "authorities = " ID1 "@http://127.0.0.1:2\n",
	                  "t.conf:3: directory.authorities: authority id " ID1 " is listed twice");
	expect_only_error("[directory]\nauthorities = " ID1 "@http://127.0.0.1:1\nthreshold = 2\n",
	                  "t.conf:3: directory.threshold: \"2\" is more than the 1 "
	                  "directory.authorities");
	expect_only_error("[directory]\nauthorities = " ID1
	                  "@http://127.0.0.1:1\nmin_sources = 2\n",
	                  "t.conf:3: directory.min_sources: \"2\" is more than the 1 "
	                  "directory.authorities");
	/* Relays: burst at least rate (exit policies are checked by the app: app_config_check). */
	expect_only_error("[relay]\nbandwidth_rate = 2M\nbandwidth_burst = 1M\n",
	                  "t.conf:3: relay.bandwidth_burst: \"1M\" is less than "
	                  "relay.bandwidth_rate (\"2M\")");
	c = load_ok("[node]\nroles = exit\n[link]\nlisten = 0.0.0.0:1\n");
	config_free(c);
	/* Outgoing links' source: numeric addresses, one per family. */
	c = load_ok("[link]\noutbound_address = 127.2.0.1\noutbound_address = [::1]\n");
	assert_int_equal(c->link.outbound_address.n, 2);
	{
		struct sockaddr_storage ss;

		assert_int_equal(config_ip_sockaddr(c->link.outbound_address.v[0], &ss), UM_OK);
		assert_int_equal(ss.ss_family, AF_INET);
		assert_int_equal(config_ip_sockaddr(c->link.outbound_address.v[1], &ss), UM_OK);
		assert_int_equal(ss.ss_family, AF_INET6);
		assert_int_equal(config_ip_sockaddr("localhost", &ss), UM_ERR_MALFORMED);
		assert_int_equal(ss.ss_family, 0);
		assert_int_equal(config_ip_sockaddr("127.0.0.1:80", &ss), UM_ERR_MALFORMED);
	}
	config_free(c);
	expect_only_error("[link]\noutbound_address = 10.0.0.1\noutbound_address = 10.0.0.2\n",
	                  "t.conf:3: link.outbound_address: lists two IPv4 addresses; give at most "
	                  "one per family");
	expect_only_error(
	        "[link]\noutbound_address = relay.example\n",
	        "t.conf:2: link.outbound_address: \"relay.example\" is not a numeric IPv4 "
	        "or IPv6 address");

	expect_only_error("[link]\nkeepalive = 3m\n",
	                  "t.conf:2: link.keepalive: \"3m\" must be shorter than link.idle_timeout "
	                  "(\"3m\")");
	expect_only_error("[link]\nidle_timeout = 30s\n",
	                  "t.conf: link.keepalive: \"1m\" must be shorter than link.idle_timeout "
	                  "(\"30s\")");
	expect_only_error("[link]\nhandshake_timeout = 5m\nidle_timeout = 1h\nkeepalive = 1s\n"
	                  "idle_timeout = 1m\n",
	                  "t.conf:5: link.idle_timeout: duplicate key (first set on line 3)");
	expect_only_error("[link]\nidle_timeout = 2s\nkeepalive = 1s\nhandshake_timeout = 2s\n",
	                  "t.conf:4: link.handshake_timeout: \"2s\" must be shorter than "
	                  "link.idle_timeout (\"2s\")");
	c = load_ok("[link]\nidle_timeout = 2s\nkeepalive = 1s\nhandshake_timeout = 1999ms\n");
	config_free(c);

	expect_only_error("[link]\nmax_pending = 4\nmax_pending_per_ip = 5\n",
	                  "t.conf:3: link.max_pending_per_ip: \"5\" must not exceed "
	                  "link.max_pending (\"4\")");
	c = load_ok("[link]\nmax_pending = 5\nmax_pending_per_ip = 5\n");
	config_free(c);

	expect_only_error("[link]\npeer = " ID1 "/" ID2 "@192.0.2.1:1\npeer = " ID3 "/" ID2
	                  "@192.0.2.2:1\npeer = " ID1 "/" ID3 "@192.0.2.3:1\n",
	                  "t.conf:4: link.peer: node id " ID1 " is listed twice");
	expect_only_error("[link]\nlisten = [::1]:5\nlisten = 10.0.0.1:5\nlisten = [0:0::1]:5\n",
	                  "t.conf:4: link.listen: \"[0:0::1]:5\" is listed twice");

	/* A rule is skipped when one of its keys was rejected. */
	expect_only_error("[link]\nkeepalive = soon\nidle_timeout = 11s\n",
	                  "t.conf:2: link.keepalive: \"soon\" is not a duration (seconds, or a "
	                  "number with ms, s, m, h or d; 1s..1h)");
	expect_only_error("[node]\nroles = middle\n[link]\nlisten = nowhere\n",
	                  "t.conf:4: link.listen: \"nowhere\" is not host:port (the port is "
	                  "missing)");
}

static void
test_control_socket_must_fit_sun_path(void **state)
{
	char dir[200], *text;
	struct config *c;

	(void)state;
	/* 107 bytes fit sun_path (108 with the NUL); 108 do not. */
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[107] = '\0';
	text = um_xasprintf("[control]\nsocket = %s\n", dir);
	c = load_ok(text);
	config_free(c);
	free(text);
	dir[107] = 'd';
	dir[108] = '\0';
	text = um_xasprintf("[control]\nsocket = %s\n", dir);
	expect_error(text, "t.conf:2: control.socket: \"/ddd");
	expect_error(text, "is too long for a Unix socket path (at most 107 bytes)");
	free(text);
	/* Only a socket that will be bound has to fit. */
	text = um_xasprintf("[control]\nsocket = %s\nenabled = false\n", dir);
	c = load_ok(text);
	config_free(c);
	free(text);
	/* The default socket inside a long state_dir is checked too. */
	dir[100] = '\0';
	text = um_xasprintf("[node]\nstate_dir = %s\n", dir);
	{
		char *want = um_xasprintf("t.conf: control.socket: \"%s/control.sock\" is too long "
		                          "for a Unix socket path (at most 107 bytes)",
		                          dir);

		expect_only_error(text, want);
		free(want);
	}
	free(text);
}

/* ---- dump ---- */

static void
assert_round_trip(const char *text, char *const *envp)
{
	struct config *c = load_ok_env(text, envp), *c2;
	char *d1 = config_dump(c), *d2;

	/* The dump loads with no environment help and gives the same dump. */
	c2 = load_ok_env(d1, NULL);
	d2 = config_dump(c2);
	if (strcmp(d1, d2) != 0)
		print_error("dump 1:\n%s\ndump 2:\n%s\n", d1, d2);
	assert_string_equal(d1, d2);
	free(d1);
	free(d2);
	config_free(c);
	config_free(c2);
}

static void
test_dump_reloads_to_the_same_dump(void **state)
{
	(void)state;
	assert_round_trip("", env_home);
	assert_round_trip(
	        "[node]\nstate_dir = /srv/x\nnickname = n1\nroles = mesh-relay,exit,client\n"
	        "[link]\nlisten = 0.0.0.0:0\nlisten = [::]:9001\n"
	        "peer = " ID1 "/" ID2 "@192.0.2.1:1\n"
	        "peer = " ID2 "/" ID3 "@[2001:db8::1]:65535\n"
	        "accept = known\nmax_links = 77\nhandshake_timeout = 1500ms\n"
	        "keepalive = 90s\nidle_timeout = 2h\nreconnect = 100ms\n"
	        "write_queue_max = 1000000\n"
	        "[directory]\nlisten = 127.0.0.1:0\nauthorities = " ID1 "@http://127.0.0.1:1\n"
	        "vote_interval = 10s\npin_mode = tofu\n"
	        "peers = " ID2 "@http://127.0.0.1:2\npeers = " ID3 "@http://[::1]:3\n"
	        "sync_interval = 3s\ngossip_interval = 5m\ngossip_fanout = 0\nmax_hops = 7\n"
	        "discovery = no\ndiscovery_min_operators = 3\ndiscovery_max = 0\n"
	        "discovery_ttl = 30s\noperator = " ID3 "\n"
	        "[relay]\nexit_policy = accept *:80\nexit_policy = accept *:1000-2000, reject *:*\n"
	        "country = DE\n"
	        "region = eu\nbandwidth_burst = 2M\ncontact = a@b\n"
	        "[control]\nenabled = off\n"
	        "[log]\nlevel = debug\nfile = /var/log/u.log\nsyslog = yes\n"
	        "safe_logging = no\n",
	        env_home);
	assert_round_trip("", (char *const[]){ "UMBRA_NODE_STATE_DIR=/with space/and#hash",
	                                       "UMBRA_NODE_NICKNAME=x", "HOME=/h", NULL });
}

static void
test_dump_lists_every_key_in_table_order(void **state)
{
	struct config *c = load_ok("[link]\nlisten = 10.0.0.1:1\nlisten = 10.0.0.2:2\n");
	char *d = config_dump(c);
	const char *prev = d;
	const char *section = NULL;

	(void)state;
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];
		char *needle;
		const char *at;

		if (section == NULL || strcmp(section, v->section) != 0) {
			section = v->section;
			needle = um_xasprintf("\n[%s]\n", section);
			at = strstr(prev, needle);
			assert_non_null(at);
			prev = at;
			free(needle);
		}
		needle = um_xasprintf("\n%s =", v->key);
		at = strstr(prev, needle);
		if (at == NULL)
			print_error("%s.%s missing or out of order in:\n%s\n", v->section, v->key,
			            d);
		assert_non_null(at);
		prev = at;
		free(needle);
	}
	assert_has(d, "\nlisten = 10.0.0.1:1\nlisten = 10.0.0.2:2\n");
	assert_has(d, "\npeer =\n");
	assert_has(d, "\nmax_links = 1024\n");
	assert_has(d, "\nwrite_queue_max = 1M\n");
	assert_has(d, "(UMBRA_LINK_MAX_LINKS; reloaded on SIGHUP)\n");
	assert_has(d, "(UMBRA_NODE_ROLES)\n");
	free(d);
	config_free(c);
}

static void
test_roles_format_and_names(void **state)
{
	char out[128];

	(void)state;
	assert_string_equal(config_role_name(ROLE_CLIENT), "client");
	assert_string_equal(config_role_name(ROLE_MESH_RELAY), "mesh-relay");
	assert_null(config_role_name(ROLE_RELAY_ANY));
	assert_null(config_role_name(0));
	config_roles_format(0, out, sizeof(out));
	assert_string_equal(out, "");
	config_roles_format(ROLE_RELAY_ANY | ROLE_DHT | (1u << 30), out, sizeof(out));
	assert_string_equal(out, "entry,middle,exit,dht");
	config_roles_format(ROLE_RELAY_ANY, out, 9);
	assert_string_equal(out, "entry");
	config_roles_format(ROLE_CLIENT, out, 0);
}

static void
test_size_and_duration_format(void **state)
{
	char out[32];

	(void)state;
	config_size_format(0, out, sizeof(out));
	assert_string_equal(out, "0");
	config_size_format(1023, out, sizeof(out));
	assert_string_equal(out, "1023");
	config_size_format(3ull << 30, out, sizeof(out));
	assert_string_equal(out, "3G");
	config_duration_format(0, out, sizeof(out));
	assert_string_equal(out, "0ms");
	config_duration_format(90000, out, sizeof(out));
	assert_string_equal(out, "90s");
	config_duration_format(7200000, out, sizeof(out));
	assert_string_equal(out, "2h");
}

/* ---- the table, the docs, the example files ---- */

static void
test_table_is_well_formed(void **state)
{
	size_t sec = 0;
	char a[128], b[128];

	(void)state;
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];

		/* Rows are grouped by section, in config_sections order. */
		while (sec < config_n_sections && strcmp(config_sections[sec], v->section) != 0)
			sec++;
		assert_true(sec < config_n_sections);
		assert_non_null(v->help);
		assert_true(strlen(v->help) > 10);
		assert_true(v->def != NULL || (v->flags & CFG_F_COMPUTED) != 0);
		if (v->type == CFG_U32 || v->type == CFG_SIZE || v->type == CFG_DURATION)
			assert_true(v->min <= v->max && v->max > 0);
		if (v->type == CFG_ENUM || v->type == CFG_CHOICE || v->type == CFG_ROLES)
			assert_non_null(v->choices);
		assert_ptr_equal(config_var_find(v->section, v->key), v);
		config_var_env_name(v, a, sizeof(a));
		for (size_t j = 0; j < i; j++) {
			config_var_env_name(&config_vars[j], b, sizeof(b));
			assert_string_not_equal(a, b);
		}
	}
	assert_null(config_var_find("link", "nope"));
}

static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		print_error("cannot open %s\n", path);
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = um_xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_docs_name_every_key(void **state)
{
	char *doc = read_all(UM_SRC_DIR "/docs/CONFIG.md");
	char env[128], *needle;
	size_t missing = 0;

	(void)state;
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];

		/* Each key has a table row: | `section` | `key` | `UMBRA_...` | */
		config_var_env_name(v, env, sizeof(env));
		needle = um_xasprintf("| `%s` | `%s` | `%s` |", v->section, v->key, env);
		if (strstr(doc, needle) == NULL) {
			print_error("docs/CONFIG.md lacks a row starting %s\n", needle);
			missing++;
		}
		free(needle);
	}
	assert_int_equal(missing, 0);
	free(doc);
}

static void
check_conf_dir(const char *sub, bool good)
{
	char *dirpath = um_xasprintf("%s/tests/conf/%s", UM_SRC_DIR, sub);
	DIR *d = opendir(dirpath);
	struct dirent *de;
	size_t n_files = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct config_errors errs = { NULL, 0 };
		struct config *c = NULL;
		char *path, *text, *s;
		size_t len = strlen(de->d_name);
		int ret;

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		n_files++;
		path = um_xasprintf("%s/%s", dirpath, de->d_name);
		ret = config_load(path, env_home, &c, &errs);
		s = errors_text(&errs);
		if (good) {
			if (ret != UM_OK)
				print_error("%s should load:\n%s", path, s);
			assert_int_equal(ret, UM_OK);
			/* And its dump loads back to the same dump. */
			text = config_dump(c);
			{
				struct config *c2 = load_ok_env(text, NULL);
				char *d2 = config_dump(c2);

				assert_string_equal(text, d2);
				free(d2);
				config_free(c2);
			}
			free(text);
			config_free(c);
		} else {
			const char *prefix = "# expect: ";
			char *nl;

			text = read_all(path);
			if (strncmp(text, prefix, strlen(prefix)) != 0)
				print_error("%s must start with \"%s\"\n", path, prefix);
			assert_int_equal(strncmp(text, prefix, strlen(prefix)), 0);
			nl = strchr(text, '\n');
			assert_non_null(nl);
			*nl = '\0';
			if (ret != UM_ERR_CONFIG)
				print_error("%s should fail\n", path);
			assert_int_equal(ret, UM_ERR_CONFIG);
			assert_null(c);
			if (strstr(s, text + strlen(prefix)) == NULL)
				print_error("%s: expected \"%s\" in:\n%s", path,
				            text + strlen(prefix), s);
			assert_non_null(strstr(s, text + strlen(prefix)));
			free(text);
		}
		free(s);
		config_errors_clear(&errs);
		free(path);
	}
	closedir(d);
	assert_true(n_files >= 5);
	free(dirpath);
}

static void
test_conf_examples_good_load(void **state)
{
	(void)state;
	check_conf_dir("good", true);
}

static void
test_conf_examples_bad_fail_as_expected(void **state)
{
	(void)state;
	check_conf_dir("bad", false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_the_documented_values),
		cmocka_unit_test(test_state_dir_default_depends_on_root_and_home),
		cmocka_unit_test(test_paths_default_inside_state_dir),
		cmocka_unit_test(test_every_type_accepts_good_and_rejects_bad_values),
		cmocka_unit_test(test_log_level_choices_match_lib_log),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_peer_parse_good),
		cmocka_unit_test(test_peer_parse_bad),
		cmocka_unit_test(test_env_overrides_file_and_defaults),
		cmocka_unit_test(test_env_errors_name_the_variable),
		cmocka_unit_test(test_env_other_umbra_variables_are_ignored),
		cmocka_unit_test(test_env_names_follow_the_table),
		cmocka_unit_test(test_list_lines_append_and_env_replaces),
		cmocka_unit_test(test_list_is_capped),
		cmocka_unit_test(test_unknown_keys_and_sections_are_errors),
		cmocka_unit_test(test_duplicate_keys_are_errors),
		cmocka_unit_test(test_every_error_is_collected_with_its_line),
		cmocka_unit_test(test_errors_are_capped),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_long_values_are_quoted_cut),
		cmocka_unit_test(test_long_lines_are_errors),
		cmocka_unit_test(test_crlf_bom_comments_and_indentation),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_oversized_text_is_refused),
		cmocka_unit_test(test_cross_field_rules),
		cmocka_unit_test(test_control_socket_must_fit_sun_path),
		cmocka_unit_test(test_dump_reloads_to_the_same_dump),
		cmocka_unit_test(test_dump_lists_every_key_in_table_order),
		cmocka_unit_test(test_roles_format_and_names),
		cmocka_unit_test(test_size_and_duration_format),
		cmocka_unit_test(test_table_is_well_formed),
		cmocka_unit_test(test_docs_name_every_key),
		cmocka_unit_test(test_conf_examples_good_load),
		cmocka_unit_test(test_conf_examples_bad_fail_as_expected),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
