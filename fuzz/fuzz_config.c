/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the config loader (src/config). The input up to the first NUL byte is
 * the INI text given to config_load_string(); each NUL-terminated string after it is one
 * environment entry (at most 16), so the UMBRA_* override path is fuzzed too. Besides memory
 * errors it checks two properties and aborts if either fails: every error formats, and a
 * config that loads dumps to text that loads back to the very same dump. Every line of the
 * input is also tried as a [link] peer spec. Everything is freed, so leaks are findings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lib/err.h"
#include "lib/mem.h"

enum { FUZZ_ENV_MAX = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const struct config *c)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c2 = NULL;
	char *d1 = config_dump(c), *d2;

	/* The dump names state_dir, so it needs no HOME. */
	if (config_load_string(d1, "dump", NULL, &c2, &errs) != UM_OK) {
		fprintf(stderr, "dump does not reload:\n%s\n", d1);
		abort();
	}
	d2 = config_dump(c2);
	if (strcmp(d1, d2) != 0) {
		fprintf(stderr, "dump changed on reload:\n%s\n---\n%s\n", d1, d2);
		abort();
	}
	free(d2);
	free(d1);
	config_free(c2);
}

static void
try_peer_specs(const char *text)
{
	uint8_t id[CONFIG_KEY_LEN], key[CONFIG_KEY_LEN];
	char hp[CONFIG_HOSTPORT_MAX];
	const char *p = text;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *line = um_xstrndup(p, n);

		if (config_peer_parse(line, id, key, hp, sizeof(hp)) == UM_OK &&
		    strlen(hp) >= sizeof(hp))
			abort();
		free(line);
		p += n + (nl != NULL ? 1 : 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = um_xmalloc(size + 1);
	char *envp[FUZZ_ENV_MAX + 2];
	struct config_errors errs = { NULL, 0 };
	struct config *c = NULL;
	size_t text_len, n_env = 0;
	char line[4096];

	memcpy(buf, data, size);
	buf[size] = '\0';
	/* HOME first: the loader, like getenv, takes the first one, so a default always exists. */
	envp[n_env++] = "HOME=/home/fuzz";
	text_len = strlen(buf);
	for (size_t off = text_len + 1; off < size && n_env < FUZZ_ENV_MAX + 1;) {
		envp[n_env++] = buf + off;
		off += strlen(buf + off) + 1;
	}
	envp[n_env] = NULL;

	if (config_load_string(buf, "fuzz.conf", envp, &c, &errs) == UM_OK) {
		if (errs.n != 0)
			abort();
		check_round_trip(c);
		config_free(c);
	} else {
		if (c != NULL || errs.n == 0 || errs.n > CONFIG_ERRORS_MAX + 1)
			abort();
		for (size_t i = 0; i < errs.n; i++)
			config_error_format(&errs.v[i], line, sizeof(line));
	}
	config_errors_clear(&errs);
	try_peer_specs(buf);
	free(buf);
	return 0;
}
