/* SPDX-License-Identifier: MIT */
/*
 * Parse pass: turn INI text (through libinih) and UMBRA_* environment variables into typed
 * values in struct config, one table row at a time, and record every problem with its file,
 * line and key; also the table defaults and the defaults computed from state_dir. The value
 * grammars themselves are in config_value_parse.c; cross-field rules are config_validate.c's
 * job. Nothing here logs, touches files, or applies anything.
 *
 * libinih does the INI syntax (sections, "key = value", " ;" comments, stripping), but it is
 * fed through our own line reader, because inih as packaged neither reports line numbers to
 * the handler nor enforces our line cap: the reader counts lines, rejects over-long lines and
 * NUL bytes, checks section headers (so an unknown section with no keys is still an error)
 * and hands inih a blank line in place of any line it rejected, so every error is listed
 * once, with its line, and parsing goes on.
 */
#include "config/config_st.h"

#include <ini.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"

/* Room for a message: a reason plus a quoted value (CONFIG_QUOTE_LEN) and an env name. */
enum { MSG_LEN = CONFIG_MSG_LEN, KEY_LABEL_LEN = 128, ENV_NAME_MAX = 128 };

static void
scalar_commit(struct config *c, const struct config_var *v, const union config_val *val)
{
	void *f = config_field(c, v);

	switch (v->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_CHOICE: {
		char **sp = f;

		free(*sp);
		*sp = um_xstrdup(val->s);
		break;
	}
	case CFG_BOOL:
		*(bool *)f = val->b;
		break;
	case CFG_U32:
		*(uint32_t *)f = val->u32;
		break;
	case CFG_SIZE:
	case CFG_DURATION:
		*(uint64_t *)f = val->u64;
		break;
	case CFG_ENUM:
	case CFG_ROLES:
		*(unsigned *)f = val->u;
		break;
	case CFG_LIST:
		(void)UM_BUG(v->type == CFG_LIST);
		break;
	}
}

void
config_list_clear(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
config_list_append(struct config_list *l, const char *s)
{
	l->v = um_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = um_xstrdup(s);
}

static void
key_label(const struct config_var *v, char out[KEY_LABEL_LEN])
{
	snprintf(out, KEY_LABEL_LEN, "%s.%s", v->section, v->key);
}

/* Report msg for row idx from src (file line, or the environment variable env). */
static void
value_error(struct config_ctx *x, size_t idx, enum config_src src, unsigned line, const char *env,
            const char *msg)
{
	char key[KEY_LABEL_LEN];

	key_label(&config_vars[idx], key);
	x->origin[idx].bad = true;
	if (src == CFG_SRC_ENV)
		config_ctx_error(x, "environment", 0, key, "%s=%s", env, msg);
	else
		config_ctx_error(x, x->name, line, key, "%s", msg);
}

/* A file line (or a default) for a list row: append one item; an empty value clears. */
static void
list_set_line(struct config_ctx *x, size_t idx, const char *text, enum config_src src,
              unsigned line)
{
	const struct config_var *v = &config_vars[idx];
	struct config_list *l = config_field(x->c, v);
	char msg[MSG_LEN];
	union config_val val;

	if (text[0] == '\0') {
		config_list_clear(l);
		return;
	}
	if (l->n >= CONFIG_LIST_MAX) {
		snprintf(msg, sizeof(msg), "more than %d items", CONFIG_LIST_MAX);
		value_error(x, idx, src, line, NULL, msg);
		return;
	}
	if (!config_value_parse(v, text, &val, msg, sizeof(msg))) {
		value_error(x, idx, src, line, NULL, msg);
		return;
	}
	config_list_append(l, text);
}

/* An environment value for a list row: comma-separated items replace the list. */
static void
list_set_env(struct config_ctx *x, size_t idx, const char *text, const char *env)
{
	const struct config_var *v = &config_vars[idx];
	struct config_list *l = config_field(x->c, v);
	struct config_list nl = { NULL, 0 };
	char q[CONFIG_QUOTE_LEN], msg[MSG_LEN];
	const char *p = text;
	bool ok = true;

	while (text[0] != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char *item;
		union config_val val;
		size_t b = 0;

		while (b < n && config_is_space(p[b]))
			b++;
		while (n > b && config_is_space(p[n - 1]))
			n--;
		item = um_xstrndup(p + b, n - b);
		if (item[0] == '\0') {
			snprintf(msg, sizeof(msg), "%s has an empty item", config_quote(text, q));
			value_error(x, idx, CFG_SRC_ENV, 0, env, msg);
			ok = false;
		} else if (nl.n >= CONFIG_LIST_MAX) {
			snprintf(msg, sizeof(msg), "%s has more than %d items",
			         config_quote(text, q), CONFIG_LIST_MAX);
			value_error(x, idx, CFG_SRC_ENV, 0, env, msg);
			ok = false;
			comma = NULL;
		} else if (!config_value_parse(v, item, &val, msg, sizeof(msg))) {
			value_error(x, idx, CFG_SRC_ENV, 0, env, msg);
			ok = false;
		} else {
			config_list_append(&nl, item);
		}
		free(item);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (!ok) {
		config_list_clear(&nl);
		return;
	}
	config_list_clear(l);
	*l = nl;
}

/* Set row idx from text found at src; errors are recorded against that source. */
static void
value_set(struct config_ctx *x, size_t idx, const char *text, enum config_src src, unsigned line,
          const char *env)
{
	const struct config_var *v = &config_vars[idx];
	char msg[MSG_LEN];
	union config_val val;

	x->origin[idx].src = src;
	x->origin[idx].line = line;
	if (v->type == CFG_LIST) {
		if (src == CFG_SRC_ENV)
			list_set_env(x, idx, text, env);
		else
			list_set_line(x, idx, text, src, line);
		return;
	}
	if (!config_value_parse(v, text, &val, msg, sizeof(msg))) {
		value_error(x, idx, src, line, env, msg);
		return;
	}
	scalar_commit(x->c, v, &val);
}

/* ---- defaults ---- */

void
config_apply_defaults(struct config_ctx *x)
{
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];

		if ((v->flags & (CFG_F_COMPUTED | CFG_F_IN_STATE_DIR)) != 0 || v->def == NULL)
			continue;
		value_set(x, i, v->def, CFG_SRC_DEFAULT, 0, NULL);
	}
}

char *
config_state_dir_default(bool is_root, const char *home, const char **why)
{
	size_t n;

	*why = NULL;
	if (is_root)
		return um_xstrdup("/var/lib/umbra");
	if (home == NULL || home[0] == '\0') {
		*why = "HOME is not set, so there is no default";
		return NULL;
	}
	n = strlen(home);
	while (n > 1 && home[n - 1] == '/')
		n--;
	if (n == 1 && home[0] == '/')
		n = 0;
	return um_xasprintf("%.*s/.local/state/umbra", (int)UM_MIN(n, (size_t)INT_MAX), home);
}

static size_t
var_index(const char *section, const char *key)
{
	const struct config_var *v = config_var_find(section, key);

	UM_ASSERT(v != NULL);
	return (size_t)(v - config_vars);
}

void
config_apply_computed(struct config_ctx *x, bool is_root, const char *home)
{
	size_t sd = var_index("node", "state_dir");
	char q[CONFIG_QUOTE_LEN];
	const char *why;

	if (x->origin[sd].src == CFG_SRC_DEFAULT && !x->origin[sd].bad &&
	    x->c->node.state_dir == NULL) {
		char *d = config_state_dir_default(is_root, home, &why);

		if (d == NULL) {
			x->origin[sd].bad = true;
			config_ctx_error(x, x->name, 0, "node.state_dir",
			                 "%s; set node.state_dir (or UMBRA_NODE_STATE_DIR)", why);
		} else if ((why = config_path_check(d, false)) != NULL) {
			x->origin[sd].bad = true;
			config_ctx_error(x, x->name, 0, "node.state_dir",
			                 "default %s (from HOME) %s; set node.state_dir (or "
			                 "UMBRA_NODE_STATE_DIR)",
			                 config_quote(d, q), why);
		} else {
			x->c->node.state_dir = um_xstrdup(d);
		}
		free(d);
	}
	for (size_t i = 0; i < config_n_vars; i++) {
		const struct config_var *v = &config_vars[i];
		const char *dir = x->c->node.state_dir;
		char **field = config_field(x->c, v);
		char *p;

		if ((v->flags & CFG_F_IN_STATE_DIR) == 0 || x->origin[i].src != CFG_SRC_DEFAULT ||
		    *field != NULL)
			continue;
		if (dir == NULL || x->origin[sd].bad) {
			x->origin[i].bad = true; /* state_dir's error says it all */
			continue;
		}
		p = um_xasprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", v->def);
		if ((why = config_path_check(p, false)) != NULL) {
			x->origin[i].bad = true;
			config_ctx_var_error(x, v, "default %s %s; set it explicitly",
			                     config_quote(p, q), why);
		} else {
			*field = um_xstrdup(p);
		}
		free(p);
	}
}

/* ---- INI text ---- */

static pthread_once_t ini_once = PTHREAD_ONCE_INIT;

static void
ini_setup(void)
{
	/*
	 * Debian's libinih exposes its compile-time options as process-wide variables. Its line
	 * buffer defaults to 200 bytes; room for our cap plus "\r\n" and NUL. config is the only
	 * user of inih in umbra, so this is set once and never changed.
	 */
	ini_max_line = CONFIG_LINE_MAX + 3;
}

/* inih's find_chars_or_comment(): the first of chars, or of a ';' after white space. */
static const char *
find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s != '\0' && (chars == NULL || strchr(chars, *s) == NULL) &&
	       !(was_space && *s == ';')) {
		was_space = config_is_space(*s);
		s++;
	}
	return s;
}

/*
 * Check one line (leading white space already removed) the way inih will read it; report
 * what inih would only give as "some error on line N". Returns false to blank the line.
 */
static bool
line_check(struct config_ctx *x, const char *s)
{
	char q[CONFIG_QUOTE_LEN], name[CONFIG_LINE_MAX + 1];
	const char *end, *rest;
	size_t n;

	if (s[0] == '\0' || s[0] == ';' || s[0] == '#')
		return true;
	if (s[0] != '[') {
		end = find_chars_or_comment(s, "=:");
		if (*end == '=' || *end == ':')
			return true;
		config_ctx_error(x, x->name, x->lineno, "", "expected \"key = value\", found %s",
		                 config_quote(s, q));
		return false;
	}
	/* A section header; its keys are ignored if it is bad, so errors do not cascade. */
	x->section = CFG_SECTION_BAD;
	end = find_chars_or_comment(s + 1, "]");
	if (*end != ']') {
		config_ctx_error(x, x->name, x->lineno, "", "section header %s has no ']'",
		                 config_quote(s, q));
		return false;
	}
	n = (size_t)(end - (s + 1));
	memcpy(name, s + 1, n);
	name[n] = '\0';
	rest = end + 1;
	while (config_is_space(*rest))
		rest++;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		config_ctx_error(x, x->name, x->lineno, "", "unexpected text after [%s]: %s", name,
		                 config_quote(rest, q));
		return false;
	}
	for (size_t i = 0; i < config_n_sections; i++) {
		if (strcmp(config_sections[i], name) == 0) {
			x->section = (int)i;
			return true;
		}
	}
	config_ctx_error(x, x->name, x->lineno, "", "unknown section %s", config_quote(name, q));
	return false;
}

/* An ini_reader: hand inih one line at a time, counting lines and applying our caps. */
static char *
ini_read_line(char *str, int num, void *stream)
{
	struct config_ctx *x = stream;
	const char *line = x->p, *nl;
	size_t len;

	if (x->p >= x->end)
		return NULL;
	if (num < 2) {
		/* Fail closed: stopping early would silently drop the rest of the file. */
		config_ctx_error(x, x->name, x->lineno + 1, "", "INI reader has no line buffer");
		x->p = x->end;
		return NULL;
	}
	nl = memchr(line, '\n', (size_t)(x->end - line));
	len = (size_t)((nl != NULL ? nl : x->end) - line);
	x->p = nl != NULL ? nl + 1 : x->end;
	x->lineno++;
	str[0] = '\0'; /* a blank line, unless the line is accepted below */
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (x->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3; /* UTF-8 byte order mark */
		len -= 3;
	}
	while (len > 0 && config_is_space(*line)) {
		/* No leading white space reaches inih: it would read it as a continuation. */
		line++;
		len--;
	}
	if (len > CONFIG_LINE_MAX || len >= (size_t)num) {
		if (len > CONFIG_LINE_MAX)
			config_ctx_error(x, x->name, x->lineno, "",
			                 "line is longer than %d characters", CONFIG_LINE_MAX);
		else
			config_ctx_error(x, x->name, x->lineno, "",
			                 "line is longer than the INI reader's %d-byte buffer",
			                 num);
		if (line[0] == '[')
			x->section = CFG_SECTION_BAD;
		return str;
	}
	if (memchr(line, '\0', len) != NULL) {
		config_ctx_error(x, x->name, x->lineno, "", "line contains a NUL byte");
		if (line[0] == '[')
			x->section = CFG_SECTION_BAD;
		return str;
	}
	memcpy(str, line, len);
	str[len] = '\0';
	if (!line_check(x, str))
		str[0] = '\0';
	return str;
}

/* The inih handler: one "key = value" under the current section. */
static int
ini_on_value(void *user, const char *section, const char *name, const char *value)
{
	struct config_ctx *x = user;
	char key[KEY_LABEL_LEN], esc[64];
	const struct config_var *v;
	size_t idx;

	(void)section; /* inih cuts long names; x->section is what line_check() decided */
	if (x->section == CFG_SECTION_BAD)
		return 1;
	if (name[0] == '\0') {
		config_ctx_error(x, x->name, x->lineno, "", "missing key name before '='");
		return 1;
	}
	log_escape(name, strlen(name), esc, sizeof(esc));
	if (x->section == CFG_SECTION_NONE) {
		config_ctx_error(x, x->name, x->lineno, esc,
		                 "key outside of any section (add a [section] line above it)");
		return 1;
	}
	snprintf(key, sizeof(key), "%s.%s", config_sections[x->section], esc);
	if ((v = config_var_find(config_sections[x->section], name)) == NULL) {
		config_ctx_error(x, x->name, x->lineno, key, "unknown key");
		return 1;
	}
	idx = (size_t)(v - config_vars);
	if (v->type != CFG_LIST && x->origin[idx].src == CFG_SRC_FILE) {
		x->origin[idx].bad = true;
		config_ctx_error(x, x->name, x->lineno, key, "duplicate key (first set on line %u)",
		                 x->origin[idx].line);
		return 1;
	}
	value_set(x, idx, value, CFG_SRC_FILE, x->lineno, NULL);
	return 1;
}

void
config_parse_text(struct config_ctx *x, const char *text, size_t len)
{
	int r;

	(void)pthread_once(&ini_once, ini_setup);
	x->p = text;
	x->end = text + len;
	x->lineno = 0;
	x->section = CFG_SECTION_NONE;
	/* Every syntax error was reported and blanked by the reader, so inih finds none. */
	r = ini_parse_stream(ini_read_line, x, ini_on_value, x);
	if (r != 0)
		config_ctx_error(x, x->name, r > 0 ? (unsigned)r : 0, "", "INI syntax error");
}

/* ---- environment ---- */

void
config_parse_env(struct config_ctx *x, char *const *envp)
{
	static const char prefix[] = "UMBRA_";
	char want[ENV_NAME_MAX], esc[ENV_NAME_MAX];

	if (envp == NULL)
		return;
	for (size_t e = 0; envp[e] != NULL; e++) {
		const char *var = envp[e], *eq = strchr(var, '=');
		size_t name_len, sec_len = 0;
		const struct config_var *v = NULL;

		if (eq == NULL || strncmp(var, prefix, sizeof(prefix) - 1) != 0)
			continue;
		name_len = (size_t)(eq - var);
		/* Only UMBRA_<SECTION>_ names are ours to judge; UMBRA_CONFIG and such pass. */
		for (size_t s = 0; s < config_n_sections && sec_len == 0; s++) {
			struct config_var probe = { .section = config_sections[s], .key = "" };

			config_var_env_name(&probe, want, sizeof(want));
			if (name_len >= strlen(want) && strncmp(var, want, strlen(want)) == 0)
				sec_len = strlen(want);
		}
		if (sec_len == 0)
			continue;
		for (size_t i = 0; i < config_n_vars && v == NULL; i++) {
			config_var_env_name(&config_vars[i], want, sizeof(want));
			if (strlen(want) == name_len && memcmp(var, want, name_len) == 0)
				v = &config_vars[i];
		}
		if (v == NULL) {
			/* Cut so that even an all-\xNN name fits esc. */
			log_escape(var, UM_MIN(name_len, sizeof(esc) / 4 - 1), esc, sizeof(esc));
			config_ctx_error(x, "environment", 0, esc, "unknown environment variable");
			continue;
		}
		if (x->origin[v - config_vars].src == CFG_SRC_ENV) {
			char key[KEY_LABEL_LEN];

			key_label(v, key);
			x->origin[v - config_vars].bad = true;
			config_ctx_error(x, "environment", 0, key, "%s is set more than once",
			                 want);
			continue;
		}
		value_set(x, (size_t)(v - config_vars), eq + 1, CFG_SRC_ENV, 0, want);
	}
}
