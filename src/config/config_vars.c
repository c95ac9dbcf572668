/* SPDX-License-Identifier: MIT */
/*
 * The option table: one row per [section] key, with its type, storage, default, flags and a
 * line of help (Tor's option_vars_, OpenSSH's keywords[]). Parsing, environment overrides,
 * config_dump and the docs/CONFIG.md test are all driven from here, so a key added here is
 * parsed, overridable, dumped and required in the docs at once. Cross-field rules live in
 * config_validate.c, not here.
 */
#include "config/config_st.h"

#include <string.h>

#include "lib/compiler.h"

/* config_field() stores CFG_ENUM values through an unsigned *. */
_Static_assert(sizeof(enum config_link_accept) == sizeof(unsigned),
               "enum config_link_accept must be stored as unsigned");
_Static_assert(sizeof(enum config_pin_mode) == sizeof(unsigned),
               "enum config_pin_mode must be stored as unsigned");

#define OFF(member) offsetof(struct config, member)
#define MS_S        1000ull
#define MS_M        (60 * MS_S)
#define MS_H        (60 * MS_M)
#define KIB         1024ull
#define MIB         (1024 * KIB)
#define GIB         (1024 * MIB)

const char *const config_sections[] = { "node",   "link",    "directory", "relay",
	                                "client", "control", "log" };
const size_t config_n_sections = UM_ARRAY_LEN(config_sections);

const struct config_choice config_role_choices[] = {
	{ "client", ROLE_CLIENT }, { "entry", ROLE_ENTRY },           { "middle", ROLE_MIDDLE },
	{ "exit", ROLE_EXIT },     { "directory", ROLE_DIRECTORY },   { "issuer", ROLE_ISSUER },
	{ "dht", ROLE_DHT },       { "mesh-relay", ROLE_MESH_RELAY }, { NULL, 0 },
};

static const struct config_choice accept_choices[] = {
	{ "any", LINK_ACCEPT_ANY },
	{ "known", LINK_ACCEPT_KNOWN },
	{ NULL, 0 },
};

static const struct config_choice pin_choices[] = {
	{ "strict", CONFIG_PIN_STRICT },
	{ "tofu", CONFIG_PIN_TOFU },
	{ NULL, 0 },
};

/* Names match log_level_parse() in lib/log.h (a unit test checks it). */
static const struct config_choice level_choices[] = {
	{ "err", 0 }, { "warn", 0 }, { "notice", 0 }, { "info", 0 }, { "debug", 0 }, { NULL, 0 },
};

const struct config_var config_vars[] = {
	/* [node] */
	{ .section = "node",
	  .key = "state_dir",
	  .type = CFG_PATH,
	  .offset = OFF(node.state_dir),
	  .def = NULL,
	  .flags = CFG_F_COMPUTED,
	  .help = "Directory for keys, sockets and databases "
	          "(default /var/lib/umbra as root, else $HOME/.local/state/umbra)." },
	{ .section = "node",
	  .key = "nickname",
	  .type = CFG_STRING,
	  .offset = OFF(node.nickname),
	  .def = "",
	  .flags = CFG_F_RELOAD,
	  .check = config_check_nickname,
	  .help = "Operator-chosen name, up to 32 of A-Z a-z 0-9 - _; empty for none." },
	{ .section = "node",
	  .key = "roles",
	  .type = CFG_ROLES,
	  .offset = OFF(node.roles),
	  .def = "client",
	  .choices = config_role_choices,
	  .help = "Roles to run, comma-separated: client, entry, middle, exit, directory, issuer, "
	          "dht, mesh-relay." },
	{ .section = "node",
	  .key = "identity_key",
	  .type = CFG_PATH,
	  .offset = OFF(node.identity_key),
	  .def = "identity.key",
	  .flags = CFG_F_IN_STATE_DIR,
	  .help = "Ed25519 identity key file (default <state_dir>/identity.key)." },
	{ .section = "node",
	  .key = "link_key",
	  .type = CFG_PATH,
	  .offset = OFF(node.link_key),
	  .def = "link.key",
	  .flags = CFG_F_IN_STATE_DIR,
	  .help = "X25519 link static key file (default <state_dir>/link.key)." },

	/* [link] */
	{ .section = "link",
	  .key = "listen",
	  .type = CFG_LIST,
	  .offset = OFF(link.listen),
	  .def = "",
	  .check = config_check_listen,
	  .help = "Address to accept links on, host:port (numeric IPv4 or [IPv6]; port 0 = any "
	          "free port); repeat for more." },
	{ .section = "link",
	  .key = "peer",
	  .type = CFG_LIST,
	  .offset = OFF(link.peer),
	  .def = "",
	  .flags = CFG_F_RELOAD,
	  .check = config_check_peer,
	  .help = "Relay to keep a link to, <node-id>/<link-key>@host:port; repeat for more." },
	{ .section = "link",
	  .key = "outbound_address",
	  .type = CFG_LIST,
	  .offset = OFF(link.outbound_address),
	  .def = "",
	  .check = config_check_ip,
	  .help = "Source address for outgoing links (numeric IPv4 or IPv6; at most one per "
	          "family, used for peers of its family); empty = the system's choice." },
	{ .section = "link",
	  .key = "accept",
	  .type = CFG_ENUM,
	  .offset = OFF(link.accept),
	  .def = "any",
	  .flags = CFG_F_RELOAD,
	  .choices = accept_choices,
	  .help = "Inbound links to accept: any (any valid relay) or known (listed peers only)." },
	{ .section = "link",
	  .key = "max_links",
	  .type = CFG_U32,
	  .offset = OFF(link.max_links),
	  .def = "1024",
	  .flags = CFG_F_RELOAD,
	  .min = 1,
	  .max = 65536,
	  .help = "Most open links." },
	{ .section = "link",
	  .key = "max_pending",
	  .type = CFG_U32,
	  .offset = OFF(link.max_pending),
	  .def = "256",
	  .flags = CFG_F_RELOAD,
	  .min = 1,
	  .max = 65536,
	  .help = "Most inbound handshakes in progress." },
	{ .section = "link",
	  .key = "max_pending_per_ip",
	  .type = CFG_U32,
	  .offset = OFF(link.max_pending_per_ip),
	  .def = "8",
	  .flags = CFG_F_RELOAD,
	  .min = 1,
	  .max = 1024,
	  .help = "Most inbound handshakes in progress from one IP address." },
	{ .section = "link",
	  .key = "handshake_timeout",
	  .type = CFG_DURATION,
	  .offset = OFF(link.handshake_timeout_ms),
	  .def = "10s",
	  .flags = CFG_F_RELOAD,
	  .min = 100,
	  .max = 5 * MS_M,
	  .help = "Time a handshake may take before the link is dropped." },
	{ .section = "link",
	  .key = "keepalive",
	  .type = CFG_DURATION,
	  .offset = OFF(link.keepalive_ms),
	  .def = "60s",
	  .flags = CFG_F_RELOAD,
	  .min = 1 * MS_S,
	  .max = 1 * MS_H,
	  .help = "Send a keepalive after this long without sending." },
	{ .section = "link",
	  .key = "idle_timeout",
	  .type = CFG_DURATION,
	  .offset = OFF(link.idle_timeout_ms),
	  .def = "180s",
	  .flags = CFG_F_RELOAD,
	  .min = 1 * MS_S,
	  .max = 24 * MS_H,
	  .help = "Close a link after this long without receiving." },
	{ .section = "link",
	  .key = "reconnect",
	  .type = CFG_DURATION,
	  .offset = OFF(link.reconnect_ms),
	  .def = "5s",
	  .flags = CFG_F_RELOAD,
	  .min = 100,
	  .max = 1 * MS_H,
	  .help = "First delay before redialling a lost peer." },
	{ .section = "link",
	  .key = "write_queue_max",
	  .type = CFG_SIZE,
	  .offset = OFF(link.write_queue_max),
	  .def = "1M",
	  .flags = CFG_F_RELOAD,
	  .min = 64 * KIB,
	  .max = 1 * GIB,
	  .help = "Producers hold off while a link's write queue holds more than this; twice "
	          "this plus 64K closes the link." },

	/* [directory] */
	{ .section = "directory",
	  .key = "listen",
	  .type = CFG_LIST,
	  .offset = OFF(directory.listen),
	  .def = "",
	  .check = config_check_listen,
	  .help = "HTTP address of the directory role, host:port (numeric; port 0 = any free "
	          "port); repeat for more." },
	{ .section = "directory",
	  .key = "authorities",
	  .type = CFG_LIST,
	  .offset = OFF(directory.authorities),
	  .def = "",
	  .check = config_check_authority,
	  .help = "Directory authority, <authority-id>@http://host:port; repeat for each. "
	          "Authorities vote with them; every node fetches from and uploads to them." },
	{ .section = "directory",
	  .key = "vote_interval",
	  .type = CFG_DURATION,
	  .offset = OFF(directory.vote_interval_ms),
	  .def = "1h",
	  .min = 4 * MS_S,
	  .max = 24 * MS_H,
	  .help = "Voting period of the authorities (whole seconds; short in a testnet)." },
	{ .section = "directory",
	  .key = "pin_mode",
	  .type = CFG_ENUM,
	  .offset = OFF(directory.pin_mode),
	  .def = "strict",
	  .choices = pin_choices,
	  .help = "Authority keys to trust: strict (the ids in authorities) or tofu (those pinned "
	          "by `umbra dir pin`, else those of the first verified consensus)." },
	{ .section = "directory",
	  .key = "threshold",
	  .type = CFG_U32,
	  .offset = OFF(directory.threshold),
	  .def = "0",
	  .min = 0,
	  .max = 16,
	  .help = "Valid signatures from distinct pinned authorities a consensus needs; 0 = more "
	          "than half of the pins." },
	{ .section = "directory",
	  .key = "min_sources",
	  .type = CFG_U32,
	  .offset = OFF(directory.min_sources),
	  .def = "1",
	  .min = 1,
	  .max = 16,
	  .help = "Distinct directories that must serve a consensus before it is used." },
	{ .section = "directory",
	  .key = "signing_key",
	  .type = CFG_PATH,
	  .offset = OFF(directory.signing_key),
	  .def = "authority_signing.key",
	  .flags = CFG_F_IN_STATE_DIR,
	  .help = "Ed25519 authority signing key file, certified by the identity key (default "
	          "<state_dir>/authority_signing.key)." },
	{ .section = "directory",
	  .key = "signing_key_lifetime",
	  .type = CFG_DURATION,
	  .offset = OFF(directory.signing_key_lifetime_ms),
	  .def = "30d",
	  .min = 20 * MS_S,
	  .max = 180 * 24 * MS_H,
	  .help = "Rotate the authority signing key this often; previous keys stay certified "
	          "and published for as long again." },
	{ .section = "directory",
	  .key = "peers",
	  .type = CFG_LIST,
	  .offset = OFF(directory.peers),
	  .def = "",
	  .check = config_check_authority,
	  .help = "Peer directory to federate with (seed), <authority-id>@http://host:port; "
	          "repeat for each (at most 16). Directory role only." },
	{ .section = "directory",
	  .key = "sync_interval",
	  .type = CFG_DURATION,
	  .offset = OFF(directory.sync_interval_ms),
	  .def = "10s",
	  .min = 1 * MS_S,
	  .max = 1 * MS_H,
	  .help = "How often to pull descriptors (ETag-incremental) and peer feeds from each "
	          "admitted peer (whole seconds)." },
	{ .section = "directory",
	  .key = "gossip_interval",
	  .type = CFG_DURATION,
	  .offset = OFF(directory.gossip_interval_ms),
	  .def = "0",
	  .min = 0,
	  .max = 24 * MS_H,
	  .help = "Periodic push round of held descriptors (whole seconds); 0 = push only "
	          "newly stored ones." },
	{ .section = "directory",
	  .key = "gossip_fanout",
	  .type = CFG_U32,
	  .offset = OFF(directory.gossip_fanout),
	  .def = "2",
	  .min = 0,
	  .max = 16,
	  .help = "Admitted peers, chosen at random, each new descriptor is pushed to; 0 = no "
	          "push." },
	{ .section = "directory",
	  .key = "max_hops",
	  .type = CFG_U32,
	  .offset = OFF(directory.max_hops),
	  .def = "2",
	  .min = 0,
	  .max = 16,
	  .help = "Imported descriptors are stored one hop further than the peer held them; "
	          "above this they are refused (loop resistance)." },
	{ .section = "directory",
	  .key = "discovery",
	  .type = CFG_BOOL,
	  .offset = OFF(directory.discovery),
	  .def = "true",
	  .help = "Learn more peer directories from the signed peer feeds (/v1/peers) of "
	          "trusted ones." },
	{ .section = "directory",
	  .key = "discovery_min_operators",
	  .type = CFG_U32,
	  .offset = OFF(directory.discovery_min_operators),
	  .def = "1",
	  .min = 1,
	  .max = 16,
	  .help = "Distinct operators whose trusted feeds must list a discovered peer before it "
	          "is used." },
	{ .section = "directory",
	  .key = "discovery_max",
	  .type = CFG_U32,
	  .offset = OFF(directory.discovery_max),
	  .def = "64",
	  .min = 0,
	  .max = 256,
	  .help = "Discovered peers kept (candidates and admitted); new ones wait for room." },
	{ .section = "directory",
	  .key = "discovery_ttl",
	  .type = CFG_DURATION,
	  .offset = OFF(directory.discovery_ttl_ms),
	  .def = "15m",
	  .min = 1 * MS_S,
	  .max = 7 * 24 * MS_H,
	  .help = "A discovered peer no trusted feed listed for this long is dropped." },
	{ .section = "directory",
	  .key = "operator",
	  .type = CFG_STRING,
	  .offset = OFF(directory.operator_id),
	  .def = "",
	  .check = config_check_operator,
	  .help = "Operator id this directory signs into its peer feed (52 base32 characters); "
	          "empty = the node's identity." },

	/* [relay] */
	{ .section = "relay",
	  .key = "address",
	  .type = CFG_LIST,
	  .offset = OFF(relay.address),
	  .def = "",
	  .check = config_check_listen,
	  .help = "Address to publish in the relay descriptor, host:port (at most 4); empty = the "
	          "bound link.listen addresses." },
	{ .section = "relay",
	  .key = "country",
	  .type = CFG_STRING,
	  .offset = OFF(relay.country),
	  .def = "ZZ",
	  .flags = CFG_F_RELOAD,
	  .check = config_check_country,
	  .help = "ISO 3166-1 alpha-2 country code of the relay (ZZ = unknown)." },
	{ .section = "relay",
	  .key = "region",
	  .type = CFG_STRING,
	  .offset = OFF(relay.region),
	  .def = "",
	  .flags = CFG_F_RELOAD,
	  .check = config_check_region,
	  .help = "Region of the relay, up to 32 of a-z 0-9 - (e.g. eu-central); empty for none." },
	{ .section = "relay",
	  .key = "geo_confidence",
	  .type = CFG_U32,
	  .offset = OFF(relay.geo_confidence),
	  .def = "0",
	  .flags = CFG_F_RELOAD,
	  .min = 0,
	  .max = 100,
	  .help = "Confidence in country and region, percent." },
	{ .section = "relay",
	  .key = "bandwidth_rate",
	  .type = CFG_SIZE,
	  .offset = OFF(relay.bandwidth_rate),
	  .def = "1M",
	  .flags = CFG_F_RELOAD,
	  .min = 1,
	  .max = 2 * GIB,
	  .help = "Bytes per second the relay is willing to sustain." },
	{ .section = "relay",
	  .key = "bandwidth_burst",
	  .type = CFG_SIZE,
	  .offset = OFF(relay.bandwidth_burst),
	  .def = "0",
	  .flags = CFG_F_RELOAD,
	  .min = 0,
	  .max = 2 * GIB,
	  .help = "Bytes per second in bursts; at least bandwidth_rate; 0 = bandwidth_rate." },
	{ .section = "relay",
	  .key = "exit_policy",
	  .type = CFG_LIST,
	  .offset = OFF(relay.exit_policy),
	  .def = "",
	  .flags = CFG_F_RELOAD,
	  .help = "Exit policy rules, accept|reject ADDR[/BITS]:PORT[-PORT], first match wins "
	          "(docs/PROTOCOL.md 10); repeat or separate with commas; empty: reject "
	          "private:*, reject *:25, accept *:*." },
	{ .section = "relay",
	  .key = "onion_key",
	  .type = CFG_PATH,
	  .offset = OFF(relay.onion_key),
	  .def = "onion.key",
	  .flags = CFG_F_IN_STATE_DIR,
	  .help = "X25519 onion key file, created on first start (default "
	          "<state_dir>/onion.key)." },
	{ .section = "relay",
	  .key = "onion_key_lifetime",
	  .type = CFG_DURATION,
	  .offset = OFF(relay.onion_key_lifetime_ms),
	  .def = "28d",
	  .min = 20 * MS_S,
	  .max = 365 * 24 * MS_H,
	  .help = "Rotate the onion key this often (the previous one is kept onion_key_grace)." },
	{ .section = "relay",
	  .key = "onion_key_grace",
	  .type = CFG_DURATION,
	  .offset = OFF(relay.onion_key_grace_ms),
	  .def = "7d",
	  .min = 10 * MS_S,
	  .max = 7 * 24 * MS_H,
	  .help = "How long the previous onion key still answers circuit handshakes." },
	{ .section = "relay",
	  .key = "operator_key",
	  .type = CFG_PATH,
	  .offset = OFF(relay.operator_key),
	  .def = "",
	  .flags = CFG_F_EMPTY_OK,
	  .help = "Ed25519 operator key file that certifies this relay; empty: the relay is its "
	          "own operator." },
	{ .section = "relay",
	  .key = "contact",
	  .type = CFG_STRING,
	  .offset = OFF(relay.contact),
	  .def = "",
	  .flags = CFG_F_RELOAD,
	  .check = config_check_contact,
	  .help = "Operator contact published in the descriptor, up to 64 printable ASCII." },
	{ .section = "relay",
	  .key = "max_circuits",
	  .type = CFG_U32,
	  .offset = OFF(relay.max_circuits),
	  .def = "65536",
	  .min = 16,
	  .max = 4194304,
	  .help = "Most circuits the relay carries at once; a CREATE2 over it is refused with "
	          "DESTROY(RESOURCELIMIT)." },

	/* [client] */
	{ .section = "client",
	  .key = "circuits_prebuilt",
	  .type = CFG_U32,
	  .offset = OFF(client.circuits_prebuilt),
	  .def = "2",
	  .min = 0,
	  .max = 16,
	  .help = "Circuits the client keeps built ahead of use." },
	{ .section = "client",
	  .key = "hops",
	  .type = CFG_U32,
	  .offset = OFF(client.hops),
	  .def = "3",
	  .min = 2,
	  .max = 3,
	  .help = "Relays per circuit: 3, or 2 for the fast mode (entry -> exit)." },
	{ .section = "client",
	  .key = "socks_listen",
	  .type = CFG_STRING,
	  .offset = OFF(client.socks_listen),
	  .def = "127.0.0.1:9050",
	  .check = config_check_listen_opt,
	  .help = "SOCKS4/4a/5 proxy address, host:port (numeric; port 0 = any free port); empty: "
	          "no SOCKS port. A bind failure stops the start-up." },
	{ .section = "client",
	  .key = "http_connect_listen",
	  .type = CFG_STRING,
	  .offset = OFF(client.http_connect_listen),
	  .def = "",
	  .check = config_check_listen_opt,
	  .help = "HTTP CONNECT proxy address, host:port (numeric; port 0 = any free port); "
	          "empty: off." },
	{ .section = "client",
	  .key = "max_proxy_conns",
	  .type = CFG_U32,
	  .offset = OFF(client.max_proxy_conns),
	  .def = "1024",
	  .min = 1,
	  .max = 65536,
	  .help = "Proxy connections (SOCKS and HTTP CONNECT together) open at once; more are "
	          "refused." },

	/* [control] */
	{ .section = "control",
	  .key = "enabled",
	  .type = CFG_BOOL,
	  .offset = OFF(control.enabled),
	  .def = "true",
	  .help = "Serve the control API on a Unix socket." },
	{ .section = "control",
	  .key = "socket",
	  .type = CFG_PATH,
	  .offset = OFF(control.socket),
	  .def = "control.sock",
	  .flags = CFG_F_IN_STATE_DIR,
	  .help = "Control socket path (default <state_dir>/control.sock)." },

	/* [log] */
	{ .section = "log",
	  .key = "level",
	  .type = CFG_CHOICE,
	  .offset = OFF(log.level),
	  .def = "notice",
	  .flags = CFG_F_RELOAD,
	  .choices = level_choices,
	  .help = "Least severe level logged: err, warn, notice, info or debug." },
	{ .section = "log",
	  .key = "file",
	  .type = CFG_PATH,
	  .offset = OFF(log.file),
	  .def = "",
	  .flags = CFG_F_RELOAD | CFG_F_EMPTY_OK,
	  .help = "Log file (appended, created 0600); empty for stderr." },
	{ .section = "log",
	  .key = "syslog",
	  .type = CFG_BOOL,
	  .offset = OFF(log.syslog),
	  .def = "false",
	  .flags = CFG_F_RELOAD,
	  .help = "Also log to syslog." },
	{ .section = "log",
	  .key = "safe_logging",
	  .type = CFG_BOOL,
	  .offset = OFF(log.safe_logging),
	  .def = "true",
	  .flags = CFG_F_RELOAD,
	  .help = "Replace addresses and destinations in logs with [scrubbed]." },
};

const size_t config_n_vars = UM_ARRAY_LEN(config_vars);

const struct config_var *
config_var_find(const char *section, const char *key)
{
	for (size_t i = 0; i < config_n_vars; i++) {
		if (strcmp(config_vars[i].section, section) == 0 &&
		    strcmp(config_vars[i].key, key) == 0)
			return &config_vars[i];
	}
	return NULL;
}

static char
env_char(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return (char)(ch - 'a' + 'A');
	if (ch == '-' || ch == '.')
		return '_';
	return ch;
}

void
config_var_env_name(const struct config_var *v, char *out, size_t out_len)
{
	static const char prefix[] = "UMBRA_";
	size_t o = 0;
	const char *parts[] = { prefix, v->section, "_", v->key };

	if (out_len == 0)
		return;
	for (size_t i = 0; i < UM_ARRAY_LEN(parts); i++) {
		for (const char *s = parts[i]; *s != '\0' && o + 1 < out_len; s++)
			out[o++] = env_char(*s);
	}
	out[o] = '\0';
}
