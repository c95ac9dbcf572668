/* SPDX-License-Identifier: MIT */
/*
 * Leveled, domain-tagged logging (Tor's log_fn with OpenSSH's _fr error suffix).
 *
 * - Levels ERR WARN NOTICE INFO DEBUG; domains are a bitmask (LD_LINK, ...).
 * - What a remote party can trigger goes through log_ratelim() with a struct log_ratelim kept
 *   beside the code that logs, so a flood of bad peers logs a line per interval, plus a count.
 * - Privacy: log_safe_addr() returns "[scrubbed]" unless safe logging was turned off; peers
 *   are named by short internal ids; untrusted strings go through log_escape().
 * - Sinks: stderr (default), a file, syslog, and a callback for tests.
 * Logging state is process-wide (one daemon per process) and set up once at start.
 */
#ifndef UM_LIB_LOG_H
#define UM_LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum log_level {
	UM_LOG_ERR = 0,
	UM_LOG_WARN = 1,
	UM_LOG_NOTICE = 2,
	UM_LOG_INFO = 3,
	UM_LOG_DEBUG = 4,
};

enum log_domain {
	LD_GENERAL = 1u << 0,
	LD_LINK = 1u << 1,
	LD_CIRC = 1u << 2,
	LD_DHT = 1u << 3,
	LD_DIR = 1u << 4,
	LD_SOCKS = 1u << 5,
	LD_VPN = 1u << 6,
	LD_CTRL = 1u << 7,
	LD_STORE = 1u << 8,
	LD_CRYPTO = 1u << 9,
	LD_PROTO = 1u << 10,
	LD_BUG = 1u << 11,
	LD_CONFIG = 1u << 12,
	LD_NET = 1u << 13,
	LD_APP = 1u << 14,
	LD_ALL = 0xffffffffu,
};

/* A rate limit for one log site: at most one line per interval_ms; the rest are counted. */
struct log_ratelim {
	uint64_t interval_ms;
	uint64_t last_ms;
	uint64_t suppressed;
};
#define LOG_RATELIM_INIT(ms) \
	{                    \
		(ms), 0, 0   \
	}

typedef void log_sink_fn(void *ctx, enum log_level level, unsigned domain, const char *line);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_domains(unsigned mask);
/* Scrub addresses and destinations (default true). */
void log_set_safe(bool safe);
bool log_is_safe(void);
/* Send lines to a file (appended, created 0600); NULL returns to stderr. Returns UM_OK or err. */
int log_set_file(const char *path) UM_WARN_UNUSED;
void log_set_syslog(bool on);
/* Also send every line to fn (tests); NULL removes it. */
void log_set_sink(log_sink_fn *fn, void *ctx);
/* Parse "err", "warn", "notice", "info", "debug"; returns UM_OK or UM_ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *level) UM_WARN_UNUSED;
const char *log_level_name(enum log_level level);
bool log_enabled(enum log_level level, unsigned domain);

void log_impl(enum log_level level, unsigned domain, const char *func, const char *fmt, ...)
        UM_PRINTF(4, 5);
void log_ratelim_impl(struct log_ratelim *rl, enum log_level level, unsigned domain,
                      const char *func, const char *fmt, ...) UM_PRINTF(5, 6);

#define log_msg(level, domain, ...)                                         \
	do {                                                                \
		if (log_enabled((level), (domain)))                         \
			log_impl((level), (domain), __func__, __VA_ARGS__); \
	} while (0)
#define log_err(domain, ...)    log_msg(UM_LOG_ERR, (domain), __VA_ARGS__)
#define log_warn(domain, ...)   log_msg(UM_LOG_WARN, (domain), __VA_ARGS__)
#define log_notice(domain, ...) log_msg(UM_LOG_NOTICE, (domain), __VA_ARGS__)
#define log_info(domain, ...)   log_msg(UM_LOG_INFO, (domain), __VA_ARGS__)
#define log_debug(domain, ...)  log_msg(UM_LOG_DEBUG, (domain), __VA_ARGS__)
#define log_ratelim(rl, level, domain, ...)                                               \
	do {                                                                              \
		if (log_enabled((level), (domain)))                                       \
			log_ratelim_impl((rl), (level), (domain), __func__, __VA_ARGS__); \
	} while (0)

/* Return addr, or "[scrubbed]" while safe logging is on. */
const char *log_safe_addr(const char *addr);
/*
 * Copy an untrusted string into out (size out_len, NUL-terminated) with non-printable bytes
 * as \xNN and the result cut at out_len; returns out.
 */
const char *log_escape(const void *in, size_t in_len, char *out, size_t out_len);

/* UM_BUG(cond): if cond holds, log it once per site with LD_BUG and evaluate true; abort in tests.
 */
void log_bug_impl(const char *file, int line, const char *func, const char *expr);
#define UM_BUG(cond) \
	(UM_UNLIKELY(cond) ? (log_bug_impl(__FILE__, __LINE__, __func__, #cond), 1) : 0)
/* UM_ASSERT(cond): a crash is the least bad option. */
#define UM_ASSERT(cond)                                                       \
	do {                                                                  \
		if (UM_UNLIKELY(!(cond)))                                     \
			log_assert_fail(__FILE__, __LINE__, __func__, #cond); \
	} while (0)
UM_NORETURN void log_assert_fail(const char *file, int line, const char *func, const char *expr);

#endif /* UM_LIB_LOG_H */
