/* SPDX-License-Identifier: MIT */
/*
 * Private to src/config/ and its tests: the option table (one row per key, Tor's
 * option_vars_), the load context shared by the parse, validate and dump passes, and the
 * value parsers and formatters they share. Nothing here is part of the public API.
 */
#ifndef UM_CONFIG_CONFIG_ST_H
#define UM_CONFIG_CONFIG_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "lib/compiler.h"

/* How a row's text is parsed and where the value is stored. */
enum config_type {
	CFG_STRING,   /* char *: text, checked by the row's check function */
	CFG_PATH,     /* char *: absolute path ("" only with CFG_F_EMPTY_OK) */
	CFG_BOOL,     /* bool: true/false/yes/no/on/off/1/0 */
	CFG_U32,      /* uint32_t: decimal in [min, max] */
	CFG_SIZE,     /* uint64_t bytes: number with optional K/M/G (1024-based), in [min, max] */
	CFG_DURATION, /* uint64_t ms: number with ms/s/m/h (bare = seconds), in [min, max] */
	CFG_ENUM,     /* unsigned: one of choices, stored as its value */
	CFG_CHOICE,   /* char *: one of choices, stored as its name */
	CFG_ROLES,    /* unsigned: comma-separated role names, stored as enum config_role bits */
	CFG_LIST,     /* struct config_list: each line appends one item, checked by check */
};

enum config_flags {
	CFG_F_RELOAD = 1u << 0,       /* takes effect on SIGHUP without a restart */
	CFG_F_EMPTY_OK = 1u << 1,     /* CFG_PATH: "" is allowed */
	CFG_F_IN_STATE_DIR = 1u << 2, /* default is the file def inside node.state_dir */
	CFG_F_COMPUTED = 1u << 3,     /* default computed at load time (node.state_dir) */
};

struct config_choice {
	const char *name;
	unsigned value;
};

/* Return NULL if text is acceptable, else a short constant reason. */
typedef const char *config_check_fn(const char *text);

struct config_var {
	const char *section;
	const char *key;
	enum config_type type;
	size_t offset;   /* offsetof(struct config, ...) */
	const char *def; /* default as config text; NULL with CFG_F_COMPUTED */
	unsigned flags;  /* enum config_flags */
	uint64_t min;    /* CFG_U32, CFG_SIZE, CFG_DURATION (ms) */
	uint64_t max;
	const struct config_choice *choices; /* CFG_ENUM, CFG_CHOICE, CFG_ROLES; ends with NULL */
	config_check_fn *check;              /* CFG_STRING, CFG_LIST items; NULL: none */
	const char *help;                    /* one line for docs and config_dump */
};

/* The table (config_vars.c): rows grouped by section, sections in config_sections order. */
extern const struct config_var config_vars[];
extern const size_t config_n_vars;
extern const char *const config_sections[];
extern const size_t config_n_sections;
extern const struct config_choice config_role_choices[];

/* A numeric host:port (config_hostport_parse). */
struct config_addr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint16_t port;
};

/*
 * Parse "a.b.c.d:port" or "[IPv6]:port" (numeric hosts only; port 1..65535, or 0..65535 with
 * allow_port0) into *out. Returns NULL on success, else a reason that reads after the quoted
 * text ("has a port that is not ..."); *out is zeroed first.
 */
const char *config_hostport_parse(const char *s, bool allow_port0,
                                  struct config_addr *out) UM_WARN_UNUSED;

/* Parse a numeric IPv4 or IPv6 address (brackets allowed around IPv6), port 0, into *out.
 * NULL on success, else a reason as above. */
const char *config_ip_parse(const char *s, struct config_addr *out) UM_WARN_UNUSED;

/* Free every item of l and leave it empty; append a copy of s. */
void config_list_clear(struct config_list *l);
void config_list_append(struct config_list *l, const char *s);

/* Item checks used by table rows (config_value_parse.c). */
config_check_fn config_check_nickname;
config_check_fn config_check_listen;
config_check_fn config_check_ip;
config_check_fn config_check_listen_opt; /* config_check_listen, or "" (off) */
config_check_fn config_check_peer;
config_check_fn config_check_authority;
config_check_fn config_check_subject;
config_check_fn config_check_issuer;
config_check_fn config_check_issuer_opt; /* "" or as config_check_issuer */
config_check_fn config_check_operator;
config_check_fn config_check_country;
config_check_fn config_check_region;
config_check_fn config_check_contact;

/* Write the environment variable name of v ("UMBRA_LINK_MAX_LINKS") into out. */
void config_var_env_name(const struct config_var *v, char *out, size_t out_len);
/* Return the row for section.key, or NULL. */
const struct config_var *config_var_find(const char *section, const char *key);

/* Where a row's value came from, for duplicate detection and messages. */
enum config_src {
	CFG_SRC_DEFAULT = 0,
	CFG_SRC_FILE,
	CFG_SRC_ENV,
};

struct config_origin {
	enum config_src src;
	unsigned line; /* CFG_SRC_FILE: the line that last set it */
	bool bad;      /* a value for this row was rejected: skip cross-field rules on it */
};

/* The state of one load: the config being built and the errors found so far. */
struct config_ctx {
	struct config *c;
	struct config_errors *errs;   /* may be NULL: errors are only counted */
	size_t n_errs;                /* every error, listed or not */
	const char *name;             /* file name for messages */
	struct config_origin *origin; /* one per table row */

	/* INI reader state (config_parse.c). */
	const char *p;   /* next unread byte */
	const char *end; /* end of the text */
	unsigned lineno; /* line last handed to inih */
	int section;     /* index into config_sections, or one of enum config_section_state */
};

enum config_section_state {
	CFG_SECTION_NONE = -1, /* no header seen yet */
	CFG_SECTION_BAD = -2,  /* under a bad or unknown header: its keys were already reported */
};

/*
 * Record an error "file:line: key: msg"; line 0 and key "" are left out when formatted. Only
 * the first CONFIG_ERRORS_MAX are kept, then one "too many errors" entry.
 */
void config_ctx_error(struct config_ctx *x, const char *file, unsigned line, const char *key,
                      const char *fmt, ...) UM_PRINTF(5, 6);
/* Record an error about row v at its origin (file and line, or the environment). */
void config_ctx_var_error(struct config_ctx *x, const struct config_var *v, const char *fmt, ...)
        UM_PRINTF(3, 4);

/* Quote untrusted text for a message: "text" with non-printables as \xNN, cut with "...". */
enum { CONFIG_QUOTE_LEN = 4 * CONFIG_VALUE_QUOTE_MAX + 8 };
const char *config_quote(const char *text, char out[CONFIG_QUOTE_LEN]);
/* Room for one value message: a reason, two quoted texts and an environment name. */
enum { CONFIG_MSG_LEN = 2 * CONFIG_QUOTE_LEN + 256 };

/* isspace() in the C locale, which is what inih strips. */
static inline bool
config_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

/* A parsed scalar, before it is committed to struct config. */
union config_val {
	const char *s; /* borrowed from the input text: CFG_STRING, CFG_PATH, CFG_CHOICE, items */
	bool b;
	uint32_t u32;
	uint64_t u64;
	unsigned u;
};

/*
 * Value grammars (config_value_parse.c). Parse text as a value of row v into *out (for
 * CFG_LIST: one item, checked). On failure write a message that starts with the quoted text
 * into msg (CONFIG_MSG_LEN is enough) and return false.
 */
bool config_value_parse(const struct config_var *v, const char *text, union config_val *out,
                        char *msg, size_t msg_len) UM_WARN_UNUSED;
/* NULL if s is an acceptable path ("" only if empty_ok), else a reason. */
const char *config_path_check(const char *s, bool empty_ok) UM_WARN_UNUSED;

/* Parse passes (config_parse.c); each records its errors in x. */
void config_apply_defaults(struct config_ctx *x);
void config_parse_text(struct config_ctx *x, const char *text, size_t len);
void config_parse_env(struct config_ctx *x, char *const *envp);
void config_apply_computed(struct config_ctx *x, bool is_root, const char *home);
/* Cross-field rules (config_validate.c). */
void config_validate(struct config_ctx *x);

/*
 * Pick the default state_dir: /var/lib/umbra for root, else <home>/.local/state/umbra.
 * Returns a new string, or NULL (with *why set) if there is no HOME to build it from.
 */
char *config_state_dir_default(bool is_root, const char *home, const char **why) UM_WARN_UNUSED;

/* Format the value of scalar row v (not CFG_LIST) as config text into out (cut if small). */
void config_value_format(const struct config *c, const struct config_var *v, char *out,
                         size_t out_len);
/* Format a size in bytes with the largest exact K/M/G suffix, a duration in ms likewise. */
void config_size_format(uint64_t bytes, char *out, size_t out_len);
void config_duration_format(uint64_t ms, char *out, size_t out_len);

/* Access a row's storage inside c. */
static inline void *
config_field(struct config *c, const struct config_var *v)
{
	return (char *)c + v->offset;
}
static inline const void *
config_field_const(const struct config *c, const struct config_var *v)
{
	return (const char *)c + v->offset;
}

#endif /* UM_CONFIG_CONFIG_ST_H */
