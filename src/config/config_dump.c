/* SPDX-License-Identifier: MIT */
/*
 * Writing a configuration back out: config_dump() prints every key of the table with its
 * effective value as INI, sections in table order, each key under its help line, in a form
 * config_load() reads back into the same configuration (`umbra config show > f` then
 * `umbra config validate f`). Also the value formatters (sizes, durations, roles) shared with
 * the error messages. Nothing here parses.
 */
#include "config/config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_st.h"
#include "lib/log.h"
#include "lib/mem.h"

/* The longest value config_value_format() can produce: a path. */
enum { VALUE_MAX = PATH_MAX + 64 };

/* A growable string for the dump. */
struct strbuf {
	char *p;
	size_t len;
	size_t cap;
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...) UM_PRINTF(2, 3);

static void
sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = sb->cap - sb->len;

		va_start(ap, fmt);
		n = vsnprintf(sb->p + sb->len, room, fmt, ap);
		va_end(ap);
		UM_ASSERT(n >= 0);
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		sb->cap = UM_MAX(sb->cap * 2, sb->len + (size_t)n + 1);
		sb->p = um_xrealloc(sb->p, sb->cap);
	}
}

/* Print n with the largest unit that divides it exactly; units are largest first. */
struct unit_fmt {
	const char *suffix;
	uint64_t mult;
};

static void
unit_format(uint64_t n, const struct unit_fmt *units, char *out, size_t out_len)
{
	const struct unit_fmt *u = units;

	while (n != 0 && n % u->mult != 0)
		u++;
	if (n == 0)
		while (u[1].suffix != NULL)
			u++;
	snprintf(out, out_len, "%llu%s", (unsigned long long)(n / u->mult), u->suffix);
}

void
config_size_format(uint64_t bytes, char *out, size_t out_len)
{
	static const struct unit_fmt units[] = {
		{ "G", 1024ull * 1024 * 1024 },
		{ "M", 1024ull * 1024 },
		{ "K", 1024 },
		{ "", 1 },
		{ NULL, 0 },
	};

	unit_format(bytes, units, out, out_len);
}

void
config_duration_format(uint64_t ms, char *out, size_t out_len)
{
	static const struct unit_fmt units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 },     { "ms", 1 },      { NULL, 0 },
	};

	unit_format(ms, units, out, out_len);
}

const char *
config_role_name(enum config_role r)
{
	for (const struct config_choice *ch = config_role_choices; ch->name != NULL; ch++) {
		if (ch->value == (unsigned)r)
			return ch->name;
	}
	return NULL;
}

void
config_roles_format(unsigned roles, char *out, size_t out_len)
{
	size_t o = 0;

	if (out_len == 0)
		return;
	out[0] = '\0';
	for (const struct config_choice *ch = config_role_choices; ch->name != NULL; ch++) {
		int n;

		if ((roles & ch->value) == 0)
			continue;
		n = snprintf(out + o, out_len - o, "%s%s", o > 0 ? "," : "", ch->name);
		if (n < 0 || (size_t)n >= out_len - o) {
			out[o] = '\0'; /* cut after the last name that fit whole */
			return;
		}
		o += (size_t)n;
	}
}

static const char *
choice_name(const struct config_choice *ch, unsigned value)
{
	for (; ch->name != NULL; ch++) {
		if (ch->value == value)
			return ch->name;
	}
	return "?";
}

void
config_value_format(const struct config *c, const struct config_var *v, char *out, size_t out_len)
{
	const void *f = config_field_const(c, v);

	if (out_len == 0)
		return;
	switch (v->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_CHOICE: {
		const char *s = *(char *const *)f;

		snprintf(out, out_len, "%s", s != NULL ? s : "");
		break;
	}
	case CFG_BOOL:
		snprintf(out, out_len, "%s", *(const bool *)f ? "true" : "false");
		break;
	case CFG_U32:
		snprintf(out, out_len, "%lu", (unsigned long)*(const uint32_t *)f);
		break;
	case CFG_SIZE:
		config_size_format(*(const uint64_t *)f, out, out_len);
		break;
	case CFG_DURATION:
		config_duration_format(*(const uint64_t *)f, out, out_len);
		break;
	case CFG_ENUM:
		snprintf(out, out_len, "%s", choice_name(v->choices, *(const unsigned *)f));
		break;
	case CFG_ROLES:
		config_roles_format(*(const unsigned *)f, out, out_len);
		break;
	case CFG_LIST:
		out[0] = '\0';
		break;
	}
}

static void
dump_var(struct strbuf *sb, const struct config *c, const struct config_var *v)
{
	char env[128];

	config_var_env_name(v, env, sizeof(env));
	sb_printf(sb, "# %s\n# (%s%s)\n", v->help, env,
	          (v->flags & CFG_F_RELOAD) != 0 ? "; reloaded on SIGHUP" : "");
	if (v->type == CFG_LIST) {
		const struct config_list *l = config_field_const(c, v);

		/* An empty value clears a list, so an empty list dumps as "key =". */
		if (l->n == 0)
			sb_printf(sb, "%s =\n", v->key);
		for (size_t i = 0; i < l->n; i++)
			sb_printf(sb, "%s = %s\n", v->key, l->v[i]);
	} else {
		char *val = um_xmalloc(VALUE_MAX);

		config_value_format(c, v, val, VALUE_MAX);
		sb_printf(sb, "%s =%s%s\n", v->key, val[0] != '\0' ? " " : "", val);
		free(val);
	}
}

char *
config_dump(const struct config *c)
{
	struct strbuf sb = { NULL, 0, 0 };
	const char *section = NULL;

	sb.cap = 4096;
	sb.p = um_xmalloc(sb.cap);
	sb.p[0] = '\0';
	sb_printf(&sb, "# umbra configuration: every key with its effective value.\n"
	               "# Reads back as a config file; each key's environment variable is in "
	               "parentheses.\n");
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];

		if (section == NULL || strcmp(section, v->section) != 0) {
			section = v->section;
			sb_printf(&sb, "\n[%s]\n", section);
		}
		dump_var(&sb, c, v);
	}
	return sb.p;
}
