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
#include <jansson.h>

#include "lib/err.h"
#include "app/app_ctl.h"

static void
circuits_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra circuits [--json] [-c FILE | -s SOCKET]\n\n"
	        "List the daemon's circuits: for the client role each circuit's id, state\n"
	        "(connecting, building, built), path (relay nickname and country per hop), build\n"
	        "time and age; for a relay, the circuits it carries as entry, middle and exit.\n");
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

int
cmd_circuits(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "socket", required_argument, NULL, 's' },
		                              { "json", no_argument, NULL, 'j' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg = NULL, *sock_opt = NULL;
	bool as_json = false;
	char *sock = NULL;
	json_t *j = NULL;
	int o, ret;

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
	ret = app_ctl_call(sock, "GET", "/v1/circuits", NULL, &j);
	free(sock);
	if (ret != APP_OK)
		return ret;
	if (as_json) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", s != NULL ? s : "{}");
		free(s);
	} else {
		print_table(j);
	}
	json_decref(j);
	return APP_OK;
}
