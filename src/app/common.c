/* SPDX-License-Identifier: MIT */
/* Helpers shared by the CLI commands: config lookup, state directory, keys, formatting. */
#include "app/app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "directory/descriptor.h"
#include "exit/exit_policy.h"
#include "exit/exit_tier.h"

extern char **environ;

const char *
app_config_path(const char *opt)
{
	const char *env = getenv("UMBRA_CONFIG");

	if (opt != NULL)
		return opt;
	if (env != NULL && env[0] != '\0')
		return env;
	if (access("/etc/umbra/umbra.conf", F_OK) == 0)
		return "/etc/umbra/umbra.conf";
	return NULL;
}

int
app_exit_policy(const struct config *c, struct exit_policy **out, char *why, size_t why_len)
{
	const struct config_list *l = &c->relay.exit_policy;
	char err[256];
	size_t len = 0, o = 0;
	char *text;
	int ret;

	*out = NULL;
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 2;
	if (l->n == 0) {
		text = um_xstrdup(EXIT_POLICY_DEFAULT);
	} else {
		text = um_xmalloc(len + 1);
		for (size_t i = 0; i < l->n; i++)
			o += (size_t)snprintf(text + o, len + 1 - o, "%s%s", i > 0 ? "\n" : "",
			                      l->v[i]);
	}
	ret = exit_policy_parse(text, strlen(text), out, err, sizeof(err));
	free(text);
	if (ret != UM_OK) {
		snprintf(why, why_len, "relay.exit_policy: %s", err);
		return UM_ERR_CONFIG;
	}
	return UM_OK;
}

static bool
relay_policy_accepts_some(const struct relay_policy *p)
{
	if (p->kind == RELAY_POLICY_ACCEPT)
		return p->n_ranges > 0;
	return !(p->n_ranges == 1 && p->r[0].lo == 1 && p->r[0].hi == 65535);
}

int
app_tier_policy(const struct config *c, struct exit_tier_policy **out, char *why, size_t why_len)
{
	char err[EXIT_TIER_ERR_LEN];

	if (exit_tier_policy_parse((const char *const *)c->relay.tier_policy.v,
	                           c->relay.tier_policy.n, c->relay.require_token, out, err,
	                           sizeof(err)) != UM_OK) {
		snprintf(why, why_len, "relay.tier_policy: %s", err);
		return UM_ERR_CONFIG;
	}
	return UM_OK;
}

int
app_config_check(const struct config *c, char *why, size_t why_len)
{
	struct exit_policy *p = NULL;
	struct exit_tier_policy *tp = NULL;
	int ret;

	if ((ret = app_tier_policy(c, &tp, why, why_len)) != UM_OK)
		return ret;
	exit_tier_policy_free(tp);
	if ((c->node.roles & ROLE_EXIT) == 0 && c->relay.exit_policy.n == 0)
		return UM_OK;
	if ((ret = app_exit_policy(c, &p, why, why_len)) != UM_OK)
		return ret;
	if ((c->node.roles & ROLE_EXIT) != 0) {
		struct relay_policy p4, p6;
		uint8_t flags;

		if ((ret = exit_policy_summarize(p, &p4, &p6, &flags)) != UM_OK) {
			snprintf(why, why_len, "relay.exit_policy cannot be summarized: %s",
			         um_err_str(ret));
			ret = UM_ERR_CONFIG;
		} else if (!relay_policy_accepts_some(&p4) && !relay_policy_accepts_some(&p6)) {
			snprintf(why, why_len,
			         "relay.exit_policy accepts no port for a public address, but the "
			         "node has the exit role");
			ret = UM_ERR_CONFIG;
		}
	}
	exit_policy_free(p);
	return ret;
}

int
app_load_config(const char *path, struct config **out)
{
	struct config_errors errs = { 0 };
	char line[1024];

	if (config_load(path, environ, out, &errs) == UM_OK) {
		char why[512];

		if (app_config_check(*out, why, sizeof(why)) == UM_OK)
			return APP_OK;
		fprintf(stderr, "%s: %s\numbra: configuration %s has 1 error(s)\n",
		        path ? path : "(defaults)", why, path ? path : "(defaults)");
		config_free(*out);
		*out = NULL;
		return APP_USAGE;
	}
	for (size_t i = 0; i < errs.n; i++) {
		config_error_format(&errs.v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	fprintf(stderr, "umbra: configuration %s has %zu error(s)\n", path ? path : "(defaults)",
	        errs.n);
	config_errors_clear(&errs);
	return APP_USAGE;
}

int
app_ensure_state_dir(const char *dir, char *why, size_t why_len)
{
	char *p = um_xstrdup(dir);
	struct stat st;
	int ret = UM_OK;

	/* mkdir -p, each new component 0700. */
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			snprintf(why, why_len, "cannot create %s: %s", p, strerror(errno));
			ret = UM_ERR_SYS;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST) {
		snprintf(why, why_len, "cannot create state directory %s: %s", p, strerror(errno));
		ret = UM_ERR_SYS;
		goto out;
	}
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, why_len, "state directory %s is not a directory", p);
		ret = UM_ERR_SYS;
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(why, why_len,
		         "state directory %s is writable by others or not ours; run: chmod 700 %s",
		         p, p);
		ret = UM_ERR_PERM;
	}
out:
	free(p);
	return ret;
}

int
app_keyfile_load(const char *path, enum keyfile_type type, bool create, uint8_t secret[32],
                 bool *made, char *why, size_t why_len)
{
	int ret = keyfile_read(path, type, secret, why, why_len);

	*made = false;
	if (ret != UM_ERR_NOT_FOUND || !create)
		return ret;
	if (type == KEYFILE_ED25519) {
		struct keys_ed25519 k;

		keys_ed25519_generate(&k);
		keys_ed25519_seed(&k, secret);
		keys_ed25519_clear(&k);
	} else {
		struct keys_x25519 k;

		keys_x25519_generate(&k);
		memcpy(secret, k.sk, 32);
		keys_x25519_clear(&k);
	}
	if ((ret = keyfile_write(path, type, secret, why, why_len)) != UM_OK)
		return ret;
	*made = true;
	return UM_OK;
}

int
app_keys_load(const struct config *c, bool create, struct keys_ed25519 *id, struct keys_x25519 *lk,
              char *why, size_t why_len)
{
	uint8_t secret[32];
	bool made;
	int ret;

	id->sk = NULL;
	lk->sk = NULL;
	if ((ret = app_keyfile_load(c->node.identity_key, KEYFILE_ED25519, create, secret, &made,
	                            why, why_len)) != UM_OK) {
		/* A key may have been generated before writing it failed. */
		um_memzero(secret, sizeof(secret));
		return ret;
	}
	keys_ed25519_from_seed(id, secret);
	if (made)
		fprintf(stderr, "umbra: created identity key %s\n", c->node.identity_key);
	if ((ret = app_keyfile_load(c->node.link_key, KEYFILE_X25519, create, secret, &made, why,
	                            why_len)) != UM_OK) {
		keys_ed25519_clear(id);
		um_memzero(secret, sizeof(secret));
		return ret;
	}
	keys_x25519_from_secret(lk, secret);
	if (made)
		fprintf(stderr, "umbra: created link key %s\n", c->node.link_key);
	um_memzero(secret, sizeof(secret));
	return UM_OK;
}

void
app_key_b32(const uint8_t key[32], char out[53])
{
	if (enc_base32(out, 53, key, 32) != UM_OK)
		out[0] = '\0';
}

int
app_parse_bytes(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;
	uint64_t mul = 1;

	*out = 0;
	if (s == NULL || *s < '0' || *s > '9')
		return UM_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return UM_ERR_INVALID;
	switch (*end) {
	case '\0':
		break;
	case 'K':
	case 'k':
		mul = 1ull << 10;
		end++;
		break;
	case 'M':
	case 'm':
		mul = 1ull << 20;
		end++;
		break;
	case 'G':
	case 'g':
		mul = 1ull << 30;
		end++;
		break;
	case 'T':
	case 't':
		mul = 1ull << 40;
		end++;
		break;
	default:
		return UM_ERR_INVALID;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end != '\0' || v > UINT64_MAX / mul)
		return UM_ERR_INVALID;
	*out = v * mul;
	return UM_OK;
}

int
app_control_path(const char *sock_opt, const char *config_opt, char **out)
{
	struct config *c = NULL;
	int ret;

	*out = NULL;
	if (sock_opt != NULL) {
		*out = um_xstrdup(sock_opt);
		return APP_OK;
	}
	if ((ret = app_load_config(app_config_path(config_opt), &c)) != APP_OK)
		return ret;
	*out = um_xstrdup(c->control.socket);
	config_free(c);
	return APP_OK;
}
