/* SPDX-License-Identifier: MIT */
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"

static struct {
	enum log_level level;
	unsigned domains;
	bool safe;
	bool use_syslog;
	FILE *file;
	log_sink_fn *sink;
	void *sink_ctx;
} g_log = { UM_LOG_NOTICE, LD_ALL, true, false, NULL, NULL, NULL };

static const char *const level_names[] = { "err", "warn", "notice", "info", "debug" };

void
log_set_level(enum log_level level)
{
	g_log.level = level;
}

enum log_level
log_get_level(void)
{
	return g_log.level;
}

void
log_set_domains(unsigned mask)
{
	g_log.domains = mask;
}

void
log_set_safe(bool safe)
{
	g_log.safe = safe;
}

bool
log_is_safe(void)
{
	return g_log.safe;
}

int
log_set_file(const char *path)
{
	FILE *f = NULL;
	int fd;

	if (path != NULL) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0)
			return UM_ERR_SYS;
		f = fdopen(fd, "a");
		if (f == NULL) {
			close(fd);
			return UM_ERR_SYS;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	if (g_log.file != NULL)
		fclose(g_log.file);
	g_log.file = f;
	return UM_OK;
}

void
log_set_syslog(bool on)
{
	if (on && !g_log.use_syslog)
		openlog("umbra", LOG_PID, LOG_DAEMON);
	else if (!on && g_log.use_syslog)
		closelog();
	g_log.use_syslog = on;
}

void
log_set_sink(log_sink_fn *fn, void *ctx)
{
	g_log.sink = fn;
	g_log.sink_ctx = ctx;
}

int
log_level_parse(const char *s, enum log_level *level)
{
	for (size_t i = 0; i < UM_ARRAY_LEN(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return UM_OK;
		}
	}
	if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "error") == 0) {
		*level = s[0] == 'w' || s[0] == 'W' ? UM_LOG_WARN : UM_LOG_ERR;
		return UM_OK;
	}
	return UM_ERR_INVALID;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level < UM_ARRAY_LEN(level_names))
		return level_names[level];
	return "?";
}

bool
log_enabled(enum log_level level, unsigned domain)
{
	if (level > g_log.level)
		return false;
	/* Errors and warnings always show; finer levels obey the domain mask. */
	return level <= UM_LOG_WARN || (domain & g_log.domains) != 0;
}

static void
emit(enum log_level level, unsigned domain, const char *func, const char *msg)
{
	char ts[32];
	char line[2048];
	struct timespec now;
	struct tm tm;
	static const int sys_prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (g_log.level >= UM_LOG_DEBUG)
		snprintf(line, sizeof(line), "%s.%03ldZ [%s] %s: %s", ts, now.tv_nsec / 1000000,
		         level_names[level], func, msg);
	else
		snprintf(line, sizeof(line), "%s.%03ldZ [%s] %s", ts, now.tv_nsec / 1000000,
		         level_names[level], msg);
	if (g_log.sink != NULL)
		g_log.sink(g_log.sink_ctx, level, domain, line);
	if (g_log.use_syslog)
		syslog(sys_prio[level], "[%s] %s", level_names[level], msg);
	fprintf(g_log.file != NULL ? g_log.file : stderr, "%s\n", line);
}

void
log_impl(enum log_level level, unsigned domain, const char *func, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, domain, func, msg);
	errno = saved;
}

void
log_ratelim_impl(struct log_ratelim *rl, enum log_level level, unsigned domain, const char *func,
                 const char *fmt, ...)
{
	char msg[1536];
	size_t n;
	va_list ap;
	uint64_t now = um_mono_ms();
	int saved = errno;

	if (rl->last_ms != 0 && now - rl->last_ms < rl->interval_ms) {
		rl->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->suppressed > 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, " [%llu similar message(s) suppressed]",
		         (unsigned long long)rl->suppressed);
	}
	rl->last_ms = now != 0 ? now : 1;
	rl->suppressed = 0;
	emit(level, domain, func, msg);
	errno = saved;
}

const char *
log_safe_addr(const char *addr)
{
	return g_log.safe ? "[scrubbed]" : addr;
}

const char *
log_escape(const void *in, size_t in_len, char *out, size_t out_len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0;

	if (out_len == 0)
		return out;
	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= out_len)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= out_len)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

void
log_bug_impl(const char *file, int line, const char *func, const char *expr)
{
	log_impl(UM_LOG_WARN, LD_BUG, func, "BUG: %s:%d: %s", file, line, expr);
#ifdef UM_UNIT_TESTS
	abort();
#endif
}

void
log_assert_fail(const char *file, int line, const char *func, const char *expr)
{
	log_impl(UM_LOG_ERR, LD_BUG, func, "assertion failed: %s:%d: %s", file, line, expr);
	abort();
}
