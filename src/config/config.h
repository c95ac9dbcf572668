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

/* A list of strings (list keys: repeated lines append; in the environment, comma-separated). */
struct config_list {
	char **v;
	size_t n;
};

struct config {
	struct {
		char *state_dir;     /* directory for keys, sockets, databases */
		char *nickname;	     /* "" if unset */
		unsigned roles;	     /* enum config_role bits */
		char *identity_key;  /* Ed25519 identity key file */
		char *link_key;	     /* X25519 link static key file */
	} node;
	struct {
		struct config_list listen; /* "host:port" */
		struct config_list peer;   /* "<node-id>/<link-key>@host:port" */
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

/* One problem found while loading: "file:line: [section] key: message". */
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

/*
 * Load path (NULL: defaults only) and then the environment envp (NULL-terminated "K=V"
 * strings, may be NULL), validate, and return a new config in *out (caller frees with
 * config_free()). On any error returns UM_ERR_CONFIG, *out is NULL and errs lists every
 * problem (the caller frees it with config_errors_clear()). Paths that depend on state_dir
 * default to files inside it. No file other than path is read or created.
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
/* Role names: "client", "entry", "middle", "exit", "directory", "issuer", "dht", "mesh-relay". */
const char *config_role_name(enum config_role r);
/* Write "client,exit" style text for a role mask into out. */
void config_roles_format(unsigned roles, char *out, size_t out_len);

#endif /* UM_CONFIG_CONFIG_H */
