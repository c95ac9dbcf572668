/* SPDX-License-Identifier: MIT */
/*
 * Configuration: an INI file (libinih) plus environment overrides, described by one table
 * (config_vars.c, Tor's option_vars_). Every key [section] key is also settable as the
 * environment variable UMBRA_<SECTION>_<KEY> (upper case; '-' and '.' become '_'), which
 * overrides the file. Loading is parse (syntax, types) then validate (cross-field rules);
 * nothing is applied here: the daemon diffs a new config against the running one on SIGHUP.
 * docs/CONFIG.md lists every key with its default and meaning.
 */
#ifndef UM_CONFIG_CONFIG_H
#define UM_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/compiler.h"
#include "lib/mem.h"

/* Roles a node runs ([node] roles). */
enum config_role {
	ROLE_CLIENT = 1u << 0,
	ROLE_ENTRY = 1u << 1,
	ROLE_MIDDLE = 1u << 2,
	ROLE_EXIT = 1u << 3,
	ROLE_DIRECTORY = 1u << 4,
	ROLE_ISSUER = 1u << 5,
	ROLE_DHT = 1u << 6,
	ROLE_MESH_RELAY = 1u << 7,
	ROLE_RELAY_ANY = ROLE_ENTRY | ROLE_MIDDLE | ROLE_EXIT,
};

enum config_link_accept {
	LINK_ACCEPT_ANY = 0,   /* any relay with a valid identity certificate */
	LINK_ACCEPT_KNOWN = 1, /* only initiators listed as [link] peer */
};

/* [directory] pin_mode: how a node decides which authority keys to trust. */
enum config_pin_mode {
	CONFIG_PIN_STRICT = 0, /* the authority ids of [directory] authorities (or `dir pin`) */
	CONFIG_PIN_TOFU = 1,   /* trust on first use: pin what the first verified consensus used */
};

/* A list of strings (list keys: repeated lines append; in the environment, comma-separated). */
struct config_list {
	char **v;
	size_t n;
};

struct config {
	struct {
		char *state_dir;    /* directory for keys, sockets, databases */
		char *nickname;     /* "" if unset */
		unsigned roles;     /* enum config_role bits */
		char *identity_key; /* Ed25519 identity key file */
		char *link_key;     /* X25519 link static key file */
	} node;
	struct {
		struct config_list listen;           /* "host:port" */
		struct config_list peer;             /* "<node-id>/<link-key>@host:port" */
		struct config_list outbound_address; /* numeric IP: source of outgoing links */
		enum config_link_accept accept;
		uint32_t max_links;
		uint32_t max_pending;
		uint32_t max_pending_per_ip;
		uint64_t handshake_timeout_ms;
		uint64_t keepalive_ms;
		uint64_t idle_timeout_ms;
		uint64_t reconnect_ms;
		uint64_t write_queue_max; /* bytes: stop reading a peer whose queue is over this */
	} link;
	struct {
		struct config_list listen;      /* "host:port": HTTP, for the directory role */
		struct config_list authorities; /* "<authority-id>@http://ip:port" */
		uint64_t vote_interval_ms;      /* voting period (whole seconds) */
		enum config_pin_mode pin_mode;
		uint32_t threshold;   /* signatures a consensus needs; 0 = more than half */
		uint32_t min_sources; /* directories that must serve the same consensus */
		char *signing_key;    /* Ed25519 authority signing key file */
		uint64_t signing_key_lifetime_ms; /* rotation period of the signing key */
		/* Federation (directory role; src/directory/dirfed.h). */
		struct config_list peers;    /* "<authority-id>@http://ip:port" seed peers */
		uint64_t sync_interval_ms;   /* pull sync and peer-feed fetch period */
		uint64_t gossip_interval_ms; /* periodic push round; 0 = on change only */
		uint32_t gossip_fanout;      /* peers each new descriptor is pushed to */
		uint32_t max_hops;           /* imports stored above this hop count refused */
		bool discovery;              /* learn peers from signed peer feeds */
		uint32_t
		        discovery_min_operators; /* distinct operators to admit a discovered peer */
		uint32_t discovery_max;          /* discovered peers kept */
		uint64_t discovery_ttl_ms;  /* a discovered peer not listed for this long goes */
		char *operator_id;          /* base32 operator key; "" = the node's identity */
		struct config_list issuers; /* "<issuer-id>@http://ip:port": key lists to vote on */
		uint32_t puzzle_max, puzzle_min; /* consensus params voted (PROTOCOL.md 5.2) */
		bool require_provider;    /* only relays with a provider binding (PROTOCOL 18.4) */
		uint32_t trust_threshold; /* issuers agreeing for BONDED/DISPUTED; 0 = majority */
		uint32_t bond_min;        /* a bond that counts for BONDED */
	} directory;
	struct {
		struct config_list
		        listen;         /* "host:port": the admin HTTP API, for the issuer role */
		char *admin_token_file; /* bearer token of the admin API (0600; made if missing) */
		uint64_t dispute_ttl_max_ms;      /* longest dispute (tier cap) */
		uint64_t appeal_ttl_max_ms;       /* longest appeal window */
		uint32_t tiers;                   /* token keys for tiers 1..tiers */
		uint32_t issue_rate, issue_burst; /* anonymous issuance requests per source */
		uint32_t subject_quota;           /* tokens per subject per UTC day above tier 1 */
		uint32_t puzzle_bits; /* asked of a source over half its bucket; 0 = never */
	} issuer;
	struct {
		char *country;            /* ISO 3166-1 alpha-2, "ZZ" = unknown */
		char *region;             /* "" or [a-z0-9-]{1,32} */
		uint32_t geo_confidence;  /* percent */
		uint64_t bandwidth_rate;  /* bytes/s */
		uint64_t bandwidth_burst; /* bytes/s; 0 = bandwidth_rate */
		struct config_list
		        exit_policy; /* exit policy rules (exit/exit_policy.h); empty: default */
		struct config_list address;     /* advertised "host:port"; empty = link.listen */
		char *onion_key;                /* X25519 onion key file */
		uint64_t onion_key_lifetime_ms; /* rotation period of the onion key */
		uint64_t onion_key_grace_ms;    /* the previous onion key still works this long */
		char *operator_key;             /* Ed25519 operator key file; "" = none */
		char *contact;                  /* printable ASCII, up to 64 */
		uint32_t max_circuits;          /* circuits carried at once (circuit table cap) */
		/* Entry abuse control (trust/abuse.h), per source prefix. */
		uint32_t handshake_rate, handshake_burst; /* inbound link handshakes */
		uint32_t create_rate, create_burst;       /* CREATE2 on client (NK) links */
		uint32_t ban_after;                       /* refusals within ban_window_ms */
		uint64_t ban_window_ms, ban_time_ms, ban_time_max_ms;
		uint32_t source_prefix_v4, source_prefix_v6;
		uint32_t puzzle_bits_min; /* least link puzzle difficulty asked (PROTOCOL.md 2.2) */
		/* Anonymous tier tokens at the exit (docs/PROTOCOL.md 17.5, 17.6). */
		struct config_list issuers; /* "<issuer-id>@http://ip:port", at most 8 */
		uint64_t issuer_refresh_ms; /* fetch key lists and revocation feeds this often */
		struct config_list tier_policy; /* "T: rule, rule, ..." (exit/exit_tier.h) */
		bool require_token;             /* tier-0 circuits may open nothing */
		char *provider; /* "<issuer-id>@http://ip:port" of the provider issuer; "" */
		char *provider_subject; /* the operator's issuer subject id */
		char *provider_key;     /* Ed25519 key file of that subject (0600) */
	} relay;
	struct {
		uint32_t circuits_prebuilt; /* circuits kept built ahead of use, 0..16 */
		uint32_t hops;              /* relays per circuit: 3, or 2 (fast mode) */
		char *socks_listen;         /* SOCKS4/4a/5 host:port; "" = off */
		char *http_connect_listen;  /* HTTP CONNECT host:port; "" = off */
		uint32_t max_proxy_conns;   /* proxy connections open at once */
		struct config_list issuers; /* "<issuer-id>@http://ip:port": token issuers */
		uint32_t token_tier;        /* tier of the token spent per circuit; 0 = highest */
		char *subject;      /* the issuer's name for us (tiers above 1); "" = none */
		char *subject_key;  /* Ed25519 key signing our token requests */
		bool prefer_bonded; /* exits only among BONDED ones when any serves the request */
		bool identified_token; /* show an access token (subject named) to exits */
	} client;
	struct {
		bool enabled;
		char *socket; /* Unix socket path */
	} control;
	struct {
		char *level; /* err|warn|notice|info|debug */
		char *file;  /* "" = stderr */
		bool syslog;
		bool safe_logging;
	} log;
};

/* One problem found while loading: "file:line: section.key: message" (config_error_format). */
struct config_error {
	char *file; /* file name, or "environment" */
	unsigned line;
	char *key; /* "section.key" or "" */
	char *msg;
};

struct config_errors {
	struct config_error *v;
	size_t n;
};

/* Limits of the reader (STYLE.md 3.4 rule 7: text input is capped per line and per file). */
enum config_limits {
	CONFIG_LINE_MAX = 1024,       /* characters per line, line ending not counted */
	CONFIG_FILE_MAX = 1 << 20,    /* bytes per file or string */
	CONFIG_ERRORS_MAX = 100,      /* errors listed; one more line says the rest were cut */
	CONFIG_LIST_MAX = 4096,       /* items in one list key */
	CONFIG_KEY_LEN = 32,          /* bytes in a node id or a link key */
	CONFIG_KEY_B32_LEN = 52,      /* their base32 text (RFC 4648, lower case, no padding) */
	CONFIG_HOSTPORT_MAX = 64,     /* "[IPv6]:port" and its NUL fit in this many bytes */
	CONFIG_VALUE_QUOTE_MAX = 160, /* characters of a bad value quoted in a message */
	CONFIG_URL_MAX = 80,          /* "http://[IPv6]:port" and its NUL fit in this many bytes */
	CONFIG_ISSUERS_MAX = 8,       /* [relay] issuers */
};

/*
 * Load path (NULL: defaults only) and then the environment envp (NULL-terminated "K=V"
 * strings, may be NULL), validate, and return a new config in *out (caller frees with
 * config_free()). On any error returns UM_ERR_CONFIG, *out is NULL and errs lists every
 * problem (the caller frees it with config_errors_clear()). Paths that depend on state_dir
 * default to files inside it. No file other than path is read or created.
 * errs is overwritten on entry (pass a zeroed or cleared one) and may be NULL. HOME for the
 * default state_dir is taken from envp, not from the process. Nothing is logged or applied;
 * call from one thread at a time per errs/out (distinct calls may run in parallel).
 */
int config_load(const char *path, char *const *envp, struct config **out,
                struct config_errors *errs) UM_WARN_UNUSED;
/* Parse from a string (fuzzing, tests); name is used in error messages. */
int config_load_string(const char *text, const char *name, char *const *envp, struct config **out,
                       struct config_errors *errs) UM_WARN_UNUSED;
void config_free_(struct config *c);
#define config_free(c) UM_FREE_AND_NULL(config_free_, c)
void config_errors_clear(struct config_errors *errs);
/* Format one error as "file:line: section.key: msg" into out. */
void config_error_format(const struct config_error *e, char *out, size_t out_len);

/* Write the effective configuration as INI text (every key, defaults included); caller frees. */
char *config_dump(const struct config *c);
/*
 * Role names: "client", "entry", "middle", "exit", "directory", "issuer", "dht", "mesh-relay".
 * Returns NULL if r is not exactly one known role.
 */
const char *config_role_name(enum config_role r);
/*
 * Write "client,exit" style text for a role mask into out (unknown bits are skipped; "" for
 * none). Text that does not fit is cut after the last whole name; out is always
 * NUL-terminated when out_len > 0.
 */
void config_roles_format(unsigned roles, char *out, size_t out_len);

/*
 * Parse a [link] peer spec "<node-id>/<link-key>@<host>:<port>": node-id and link-key are
 * CONFIG_KEY_B32_LEN lower-case base32 characters (RFC 4648, no padding) that decode to
 * exactly CONFIG_KEY_LEN bytes; host is a numeric IPv4 address or a bracketed IPv6 address;
 * port is 1..65535. On success fills id, link_key and (if hostport is not NULL) the
 * NUL-terminated "host:port" text, and returns UM_OK. Returns UM_ERR_MALFORMED for a bad spec
 * and UM_ERR_TOO_LARGE if hostport_len is too small (CONFIG_HOSTPORT_MAX always suffices).
 * Out-params are zeroed first, so nothing stale is left on failure. Pure: no I/O, no logging.
 */
int config_peer_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN],
                      uint8_t link_key[CONFIG_KEY_LEN], char *hostport,
                      size_t hostport_len) UM_WARN_UNUSED;

/*
 * A numeric IPv4 or IPv6 address (a link.outbound_address item; brackets allowed around
 * IPv6) as a sockaddr with port 0. UM_OK, or UM_ERR_MALFORMED (out zeroed). Pure.
 */
int config_ip_sockaddr(const char *s, struct sockaddr_storage *out) UM_WARN_UNUSED;
/* A duration as the config file writes one ("90", "1500ms", "30s", "5m", "2h", "7d") into
 * milliseconds: UM_ERR_INVALID if it is not one or overflows. */
int config_duration_parse(const char *text, uint64_t *ms) UM_WARN_UNUSED;

/*
 * Parse a [directory] authorities item "<authority-id>@http://<host>:<port>": the id is
 * CONFIG_KEY_B32_LEN lower-case base32 characters decoding to CONFIG_KEY_LEN bytes (the
 * authority's Ed25519 identity), host and port as in config_peer_parse() (no path after the
 * port). Fills id and the NUL-terminated base URL "http://<host>:<port>" (url may be NULL).
 * UM_ERR_MALFORMED for a bad spec, UM_ERR_TOO_LARGE if url_len is too small
 * (CONFIG_URL_MAX always suffices). Out-params are zeroed first. Pure.
 */
int config_authority_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], char *url,
                           size_t url_len) UM_WARN_UNUSED;
/* A [relay] issuers item "<issuer-id>@http://<host>:<port>": the rules of
 * config_authority_parse() (id = the issuer's Ed25519 identity). */
int config_issuer_parse(const char *spec, uint8_t id[CONFIG_KEY_LEN], char *url,
                        size_t url_len) UM_WARN_UNUSED;

#endif /* UM_CONFIG_CONFIG_H */
