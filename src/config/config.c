/* SPDX-License-Identifier: MIT */
/*
 * Loading a configuration end to end: read the file (capped, regular files only), run the
 * passes in order (table defaults, INI text, environment, computed paths, cross-field
 * validation), and hand back either a config or the full list of errors. Also the error list
 * itself and config_free(). The passes live in config_parse.c and config_validate.c; this
 * file never logs and never writes anything.
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_st.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"

enum { ERR_MSG_MAX = 1024 };

static void
error_push(struct config_errors *errs, const char *file, unsigned line, const char *key,
           const char *msg)
{
	struct config_error *e;

	errs->v = um_xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
	e = &errs->v[errs->n++];
	e->file = um_xstrdup(file);
	e->line = line;
	e->key = um_xstrdup(key);
	e->msg = um_xstrdup(msg);
}

void
config_ctx_error(struct config_ctx *x, const char *file, unsigned line, const char *key,
                 const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	x->n_errs++;
	if (x->errs == NULL || x->errs->n > CONFIG_ERRORS_MAX)
		return;
	if (x->errs->n == CONFIG_ERRORS_MAX) {
		/* A file of garbage must not make us keep a message per line. */
		error_push(x->errs, file, 0, "", "too many errors; the rest are not listed");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_push(x->errs, file, line, key, msg);
}

void
config_ctx_var_error(struct config_ctx *x, const struct config_var *v, const char *fmt, ...)
{
	const struct config_origin *o = &x->origin[v - config_vars];
	char msg[ERR_MSG_MAX], key[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(key, sizeof(key), "%s.%s", v->section, v->key);
	if (o->src == CFG_SRC_ENV) {
		char env[128];

		config_var_env_name(v, env, sizeof(env));
		config_ctx_error(x, "environment", 0, key, "%s: %s", env, msg);
	} else {
		config_ctx_error(x, x->name, o->src == CFG_SRC_FILE ? o->line : 0, key, "%s", msg);
	}
}

const char *
config_quote(const char *text, char out[CONFIG_QUOTE_LEN])
{
	size_t n = strlen(text);
	bool cut = n > CONFIG_VALUE_QUOTE_MAX;

	out[0] = '"';
	/* Each byte takes at most 4 characters (\xNN), so the escape is never cut itself. */
	log_escape(text, cut ? CONFIG_VALUE_QUOTE_MAX : n, out + 1, CONFIG_QUOTE_LEN - 6);
	strcat(out, cut ? "\"..." : "\"");
	return out;
}

void
config_free_(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];

		switch (v->type) {
		case CFG_STRING:
		case CFG_PATH:
		case CFG_CHOICE:
			um_free(*(char **)config_field(c, v));
			break;
		case CFG_LIST:
			config_list_clear(config_field(c, v));
			break;
		default:
			break;
		}
	}
	free(c);
}

void
config_errors_clear(struct config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].key);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

void
config_error_format(const struct config_error *e, char *out, size_t out_len)
{
	char line[16] = "";

	if (out_len == 0)
		return;
	if (e->line > 0)
		snprintf(line, sizeof(line), ":%u", e->line);
	snprintf(out, out_len, "%s%s: %s%s%s", e->file, line, e->key, e->key[0] != '\0' ? ": " : "",
	         e->msg);
}

static const char *
env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	}
	return NULL;
}

static void
ctx_init(struct config_ctx *x, const char *name, struct config_errors *errs)
{
	memset(x, 0, sizeof(*x));
	x->c = um_xcalloc(1, sizeof(*x->c));
	x->errs = errs;
	x->name = name;
	x->origin = um_xcalloc(config_n_vars, sizeof(*x->origin));
	x->section = CFG_SECTION_NONE;
	if (errs != NULL) {
		errs->v = NULL;
		errs->n = 0;
	}
}

/* Run the passes after the text (if any) was read, and hand out the result. */
static int
ctx_finish(struct config_ctx *x, const char *text, size_t len, char *const *envp,
           struct config **out)
{
	config_apply_defaults(x);
	if (text != NULL)
		config_parse_text(x, text, len);
	config_parse_env(x, envp);
	config_apply_computed(x, geteuid() == 0, env_get(envp, "HOME"));
	config_validate(x);
	um_free(x->origin);
	if (x->n_errs > 0) {
		config_free(x->c);
		return UM_ERR_CONFIG;
	}
	*out = x->c;
	x->c = NULL;
	return UM_OK;
}

int
config_load_string(const char *text, const char *name, char *const *envp, struct config **out,
                   struct config_errors *errs)
{
	struct config_ctx x;
	size_t len;

	*out = NULL;
	ctx_init(&x, name != NULL ? name : "<string>", errs);
	len = strnlen(text, (size_t)CONFIG_FILE_MAX + 1);
	if (len > CONFIG_FILE_MAX) {
		config_ctx_error(&x, x.name, 0, "", "larger than %d bytes", CONFIG_FILE_MAX);
		text = NULL;
	}
	return ctx_finish(&x, text, len, envp, out);
}

/*
 * Read all of path into a new NUL-terminated buffer. Returns NULL and sets *why (static
 * text) or *err (errno) on failure.
 */
static char *
file_read(const char *path, size_t *len, const char **why, int *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd;

	*why = NULL;
	*err = 0;
	/* O_NONBLOCK: a FIFO named as the config must not hang the daemon in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*err = errno;
		*why = "cannot open";
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		*why = "cannot stat";
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "is not a regular file";
		goto fail;
	}
	buf = um_xmalloc((size_t)CONFIG_FILE_MAX + 2);
	for (;;) {
		ssize_t r = read(fd, buf + n, (size_t)CONFIG_FILE_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			*why = "cannot read";
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CONFIG_FILE_MAX) {
			*why = "is larger than 1 MiB";
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int
config_load(const char *path, char *const *envp, struct config **out, struct config_errors *errs)
{
	struct config_ctx x;
	const char *why = NULL;
	char *text = NULL;
	size_t len = 0;
	int ret, err = 0;

	*out = NULL;
	ctx_init(&x, path != NULL ? path : "(defaults)", errs);
	if (path != NULL && (text = file_read(path, &len, &why, &err)) == NULL) {
		char ebuf[128] = "";

		if (err != 0 && strerror_r(err, ebuf, sizeof(ebuf)) != 0)
			snprintf(ebuf, sizeof(ebuf), "errno %d", err);
		config_ctx_error(&x, x.name, 0, "", "%s%s%s", why, err != 0 ? ": " : "", ebuf);
	}
	ret = ctx_finish(&x, text, len, envp, out);
	free(text);
	return ret;
}
