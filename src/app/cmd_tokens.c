/* SPDX-License-Identifier: MIT */
/*
 * `umbra tokens`: the client's tier-token wallet (GET /v1/tokens): tokens held per issuer,
 * tier and key epoch, and `umbra tokens fetch --tier N [--count K]` (POST /v1/tokens/fetch,
 * then follow it until it ends).
 */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/time.h"
#include "app/app_ctl.h"

enum {
	POLL_US = 50000,
};

static void
tokens_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra tokens [--json] [-c FILE | -s SOCKET]\n"
	        "       umbra tokens fetch --tier N [--count K] [--timeout SECONDS]\n"
	        "                          [-c FILE | -s SOCKET]\n\n"
	        "The client's tier tokens: how many it holds per issuer, tier and key epoch\n"
	        "(one is spent on each new circuit, sent to its exit), and fetch: ask the first\n"
	        "of [client] issuers for K (default 10) tokens of tier N, blind-signed so the\n"
	        "issuer cannot link them to this request. A busy issuer asks a client puzzle\n"
	        "first (429 with a seed and a difficulty); fetch solves it and retries, up to the\n"
	        "consensus puzzle_max bits (20 without a consensus).\n");
}

static void
print_wallet(const json_t *j)
{
	const json_t *r, *rows = json_object_get(j, "wallet"), *f = json_object_get(j, "fetch");
	size_t i;

	printf("%-14s %-5s %-6s %s\n", "ISSUER", "TIER", "EPOCH", "TOKENS");
	json_array_foreach(rows, i, r)
	{
		printf("%-14.12s %-5lld %-6lld %lld\n",
		       json_string_value(json_object_get(r, "issuer")),
		       (long long)json_integer_value(json_object_get(r, "tier")),
		       (long long)json_integer_value(json_object_get(r, "epoch")),
		       (long long)json_integer_value(json_object_get(r, "count")));
	}
	if (i == 0)
		printf("(no tokens)\n");
	if (json_is_string(json_object_get(j, "subject")))
		printf("subject %s, key %s (register it at the issuer: umbra issuer subject key)\n",
		       json_string_value(json_object_get(j, "subject")),
		       json_string_value(json_object_get(j, "subject_key")));
	printf("spent since start: %lld; last fetch: %s",
	       (long long)json_integer_value(json_object_get(j, "spent")),
	       json_string_value(json_object_get(f, "state")));
	if (strcmp(json_string_value(json_object_get(f, "state")), "idle") != 0)
		printf(" (%lld of %lld tier-%lld tokens%s%s)",
		       (long long)json_integer_value(json_object_get(f, "got")),
		       (long long)json_integer_value(json_object_get(f, "want")),
		       (long long)json_integer_value(json_object_get(f, "tier")),
		       *json_string_value(json_object_get(f, "error")) ? ": " : "",
		       json_string_value(json_object_get(f, "error")));
	printf("\n");
	const json_t *a = json_object_get(j, "access_token");

	if (json_is_object(a) && json_is_true(json_object_get(a, "pending")))
		printf("identified access token: not held yet (circuits get no token meanwhile)\n");
	else if (json_is_object(a))
		printf("identified access token: tier %lld, expires at %lld (every exit learns the "
		       "subject)\n",
		       (long long)json_integer_value(json_object_get(a, "tier")),
		       (long long)json_integer_value(json_object_get(a, "expires")));
	if (json_integer_value(json_object_get(j, "puzzles_solved")) > 0)
		printf("issuer puzzles solved: %lld (%lld ms solving)\n",
		       (long long)json_integer_value(json_object_get(j, "puzzles_solved")),
		       (long long)json_integer_value(json_object_get(j, "puzzle_solve_ms")));
}

static int
do_fetch(const char *sock, long tier, long count, long timeout_s)
{
	char body[64];
	json_t *j = NULL;
	uint64_t end = um_mono_ms() + (uint64_t)timeout_s * 1000;
	int ret;

	snprintf(body, sizeof(body), "{\"tier\":%ld,\"count\":%ld}", tier, count);
	if ((ret = app_ctl_call(sock, "POST", "/v1/tokens/fetch", body, &j)) != APP_OK)
		return ret;
	json_decref(j);
	for (;;) {
		const json_t *f;
		const char *st;

		if ((ret = app_ctl_call(sock, "GET", "/v1/tokens", NULL, &j)) != APP_OK)
			return ret;
		f = json_object_get(j, "fetch");
		st = json_string_value(json_object_get(f, "state"));
		if (st != NULL && strcmp(st, "running") != 0) {
			bool ok = strcmp(st, "done") == 0;

			if (ok)
				printf("fetched %lld tier-%ld tokens\n",
				       (long long)json_integer_value(json_object_get(f, "got")),
				       tier);
			else
				fprintf(stderr, "umbra: token fetch failed: %s\n",
				        json_string_value(json_object_get(f, "error")));
			json_decref(j);
			return ok ? APP_OK : APP_FAIL;
		}
		json_decref(j);
		if (um_mono_ms() > end) {
			fprintf(stderr, "umbra: token fetch still running after %ld s\n",
			        timeout_s);
			return APP_FAIL;
		}
		usleep(POLL_US);
	}
}

int
cmd_tokens(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "tier", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg = NULL, *sock_opt = NULL;
	long tier = 0, count = 10, timeout_s = 60;
	bool as_json = false, fetch = false;
	char *sock = NULL, *end;
	json_t *j = NULL;
	int c, ret;

	optind = 1;
	if (argc >= 2 && strcmp(argv[1], "fetch") == 0) {
		fetch = true;
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "c:s:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'T':
			tier = strtol(optarg, &end, 10);
			if (*end != '\0' || tier < 1 || tier > 15) {
				fprintf(stderr, "umbra: --tier 1..15\n");
				return APP_USAGE;
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 1 || count > 10000) {
				fprintf(stderr, "umbra: --count 1..10000\n");
				return APP_USAGE;
			}
			break;
		case 't':
			timeout_s = strtol(optarg, &end, 10);
			if (*end != '\0' || timeout_s < 1 || timeout_s > 3600) {
				fprintf(stderr, "umbra: --timeout 1..3600 seconds\n");
				return APP_USAGE;
			}
			break;
		case 'h':
			tokens_usage(stdout);
			return APP_OK;
		default:
			tokens_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc || (fetch && tier == 0)) {
		if (fetch && tier == 0)
			fprintf(stderr, "umbra: tokens fetch needs --tier N\n");
		tokens_usage(stderr);
		return APP_USAGE;
	}
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	if (fetch) {
		ret = do_fetch(sock, tier, count, timeout_s);
		free(sock);
		return ret;
	}
	ret = app_ctl_call(sock, "GET", "/v1/tokens", NULL, &j);
	free(sock);
	if (ret != APP_OK)
		return ret;
	if (as_json) {
		app_print_json(j, "{}");
	} else {
		print_wallet(j);
	}
	json_decref(j);
	return APP_OK;
}
