/* SPDX-License-Identifier: MIT */
/*
 * `umbra circuits`: the running daemon's circuits (control API GET /v1/circuits): the client's
 * circuits with their paths, and how many circuits a relay carries for others.
 */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/time.h"
#include "app/app_ctl.h"

enum {
	BUILD_COUNT_MAX = 1000,
	BUILD_POLL_US = 2000,
	BUILD_IDS_MAX = 4096,
};

static void
circuits_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra circuits [--json] [-c FILE | -s SOCKET]\n"
	        "       umbra circuits build [--count N] [--timeout SECONDS] [--json]\n"
	        "                            [-c FILE | -s SOCKET]\n\n"
	        "List the daemon's circuits: for the client role each circuit's id, state\n"
	        "(connecting, building, built), path (relay nickname and country per hop), build\n"
	        "time and age; for a relay, the circuits it carries as entry, middle and exit.\n\n"
	        "build: have the client build N fresh circuits (default 1), one after the other,\n"
	        "each on a new path through its guards, and report their build times (they join\n"
	        "the client's circuits and take streams like the others).\n");
}

static const char *
str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

static long long
int_of(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void
print_table(const json_t *j)
{
	const json_t *cl = json_object_get(j, "client"), *rel = json_object_get(j, "relay"), *c, *h;
	size_t i, k;

	if (json_is_true(json_object_get(cl, "enabled"))) {
		printf("%-8s %-10s %9s %9s %7s  %s\n", "ID", "STATE", "BUILD(ms)", "AGE(s)",
		       "STREAMS", "PATH");
		json_array_foreach(json_object_get(j, "circuits"), i, c)
		{
			char path[256];
			size_t o = 0;

			path[0] = '\0';
			json_array_foreach(json_object_get(c, "hops"), k, h)
			{
				int n = snprintf(path + o, sizeof(path) - o, "%s%s (%s)",
				                 k > 0 ? " -> " : "", str_of(h, "nickname"),
				                 str_of(h, "country"));

				if (n < 0 || (size_t)n >= sizeof(path) - o)
					break;
				o += (size_t)n;
			}
			printf("%-8lld %-10s %9lld %9.1f %6lld%s  %s\n", int_of(c, "id"),
			       str_of(c, "state"), int_of(c, "build_ms"),
			       (double)int_of(c, "age_ms") / 1000.0, int_of(c, "streams"),
			       *str_of(c, "isolation") != '\0' && *str_of(c, "isolation") != '-'
			               ? "*"
			               : " ",
			       path);
		}
		printf("client: %zu circuits (target %lld), %lld built, %lld failed, %lld closed "
		       "since start; build timeout %lld ms%s\n",
		       json_array_size(json_object_get(j, "circuits")), int_of(cl, "prebuilt"),
		       int_of(cl, "built"), int_of(cl, "failed"), int_of(cl, "closed"),
		       int_of(cl, "timeout_ms"),
		       json_is_true(json_object_get(cl, "timeout_learned")) ? " (learned)" : "");
		printf("streams: %lld open, %lld waiting for a circuit; %lld opened, %lld failed "
		       "since start (* = circuit bound to an isolation key)\n",
		       int_of(cl, "streams_open"), int_of(cl, "streams_waiting"),
		       int_of(cl, "streams_opened"), int_of(cl, "streams_failed"));
		if (*str_of(cl, "last_error") != '-' && *str_of(cl, "last_error") != '\0')
			printf("last problem: %s\n", str_of(cl, "last_error"));
	}
	printf("relay: %lld circuits carried (entry %lld, middle %lld, exit %lld); %lld exit "
	       "streams\n",
	       int_of(rel, "total"), int_of(rel, "entry"), int_of(rel, "middle"),
	       int_of(rel, "exit"), int_of(rel, "exit_streams"));
}

static bool
id_seen(const long long *ids, size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Ids of the client's current circuits into ids (0 = not started yet, skipped). */
static int
snapshot_ids(const char *sock, long long *ids, size_t *n)
{
	json_t *j = NULL, *c;
	size_t i;

	if (app_ctl_call(sock, "GET", "/v1/circuits", NULL, &j) != APP_OK)
		return APP_FAIL;
	*n = 0;
	json_array_foreach(json_object_get(j, "circuits"), i, c)
	{
		long long id = int_of(c, "id");

		if (id != 0 && *n < BUILD_IDS_MAX)
			ids[(*n)++] = id;
	}
	json_decref(j);
	return APP_OK;
}

/*
 * Follow the newest circuit not in ids until it is built (*us = its build time, APP_OK), it
 * is gone (a failed build: APP_FAIL with *us = 0), or the deadline passes.
 */
static int
follow_build(const char *sock, const long long *ids, size_t n, uint64_t deadline, long long *us)
{
	const struct timespec ts = { .tv_sec = 0, .tv_nsec = BUILD_POLL_US * 1000L };
	long long mine = 0;

	*us = 0;
	while (um_mono_ms() < deadline) {
		json_t *j = NULL, *c;
		size_t i;
		bool present = false;

		if (app_ctl_call(sock, "GET", "/v1/circuits", NULL, &j) != APP_OK)
			return APP_FAIL;
		json_array_foreach(json_object_get(j, "circuits"), i, c)
		{
			long long id = int_of(c, "id");

			if (id == 0 || id_seen(ids, n, id) || (mine != 0 && id != mine))
				continue;
			mine = id;
			present = true;
			if (strcmp(str_of(c, "state"), "built") == 0) {
				*us = int_of(c, "build_us");
				json_decref(j);
				return APP_OK;
			}
		}
		json_decref(j);
		if (mine != 0 && !present)
			return APP_FAIL; /* it failed and was dropped */
		nanosleep(&ts, NULL);
	}
	return APP_FAIL;
}

static int
cmd_circuits_build(const char *sock, long count, long timeout_s, bool as_json)
{
	long long *ids = um_xcalloc(BUILD_IDS_MAX, sizeof(*ids)), *built;
	size_t n_ids = 0, n_built = 0;
	long failed = 0;
	int ret = APP_OK;

	built = um_xcalloc((size_t)count, sizeof(*built));
	for (long k = 0; k < count; k++) {
		json_t *j = NULL;
		long long us;

		if ((ret = snapshot_ids(sock, ids, &n_ids)) != APP_OK ||
		    (ret = app_ctl_call(sock, "POST", "/v1/circuits/build", NULL, &j)) != APP_OK)
			break;
		json_decref(j);
		if (follow_build(sock, ids, n_ids, um_mono_ms() + (uint64_t)timeout_s * 1000,
		                 &us) == APP_OK)
			built[n_built++] = us;
		else
			failed++;
	}
	if (ret == APP_OK) {
		if (as_json) {
			json_t *arr = json_array();

			for (size_t i = 0; i < n_built; i++)
				json_array_append_new(arr, json_real((double)built[i] / 1000.0));
			json_t *o = json_pack("{s:o, s:i}", "build_ms", arr, "failed", (int)failed);
			char *s = json_dumps(o, JSON_SORT_KEYS | JSON_REAL_PRECISION(4));

			printf("%s\n", s != NULL ? s : "{}");
			free(s);
			json_decref(o);
		} else {
			for (size_t i = 0; i < n_built; i++)
				printf("circuit %zu built in %.2f ms\n", i + 1,
				       (double)built[i] / 1000.0);
			printf("%zu built, %ld failed\n", n_built, failed);
		}
		if (n_built == 0)
			ret = APP_FAIL;
	}
	free(built);
	free(ids);
	return ret;
}

int
cmd_circuits(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "socket", required_argument, NULL, 's' },
		                              { "json", no_argument, NULL, 'j' },
		                              { "count", required_argument, NULL, 'n' },
		                              { "timeout", required_argument, NULL, 't' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg = NULL, *sock_opt = NULL;
	bool as_json = false, build = false;
	long count = 1, timeout_s = 30;
	char *sock = NULL, *end;
	json_t *j = NULL;
	int o, ret;

	if (argc > 1 && strcmp(argv[1], "build") == 0) {
		build = true;
		argc--;
		argv++;
	}
	while ((o = getopt_long(argc, argv, "c:s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (!build || *end != '\0' || count < 1 || count > BUILD_COUNT_MAX) {
				fprintf(stderr, "umbra: --count needs `build` and a number 1..%d\n",
				        BUILD_COUNT_MAX);
				return APP_USAGE;
			}
			break;
		case 't':
			timeout_s = strtol(optarg, &end, 10);
			if (!build || *end != '\0' || timeout_s < 1 || timeout_s > 3600) {
				fprintf(stderr,
				        "umbra: --timeout needs `build` and seconds 1..3600\n");
				return APP_USAGE;
			}
			break;
		case 'h':
			circuits_usage(stdout);
			return APP_OK;
		default:
			circuits_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		circuits_usage(stderr);
		return APP_USAGE;
	}
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	if (build) {
		ret = cmd_circuits_build(sock, count, timeout_s, as_json);
		free(sock);
		return ret;
	}
	ret = app_ctl_call(sock, "GET", "/v1/circuits", NULL, &j);
	free(sock);
	if (ret != APP_OK)
		return ret;
	if (as_json) {
		app_print_json(j, "{}");
	} else {
		print_table(j);
	}
	json_decref(j);
	return APP_OK;
}
