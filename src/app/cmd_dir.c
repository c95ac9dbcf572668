/* SPDX-License-Identifier: MIT */
/*
 * CLI commands for the directory: `umbra relays` and `umbra dir status` ask the running
 * daemon (control API: /v1/relays, /v1/dir/status); `umbra dir pin URL` fetches a
 * directory's authority list and stores its identities as pins in the node's store
 * (<state_dir>/umbra.db) itself, so it works whether or not the daemon runs.
 */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "evloop/evloop.h"
#include "store/store.h"
#include "directory/dirclient.h"
#include "app/app_ctl.h"

enum { PIN_TIMEOUT_MS = 15000 };

static json_int_t
iget(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

/* Join a JSON array of strings with sep into out. */
static void
join(const json_t *arr, const char *sep, char *out, size_t out_len)
{
	size_t i, o = 0;
	const json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		int n = snprintf(out + o, out_len - o, "%s%s", i ? sep : "", json_string_value(v));

		if (n < 0 || (size_t)n >= out_len - o)
			break;
		o += (size_t)n;
	}
}

static bool
has_string(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (json_string_value(v) != NULL && strcasecmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

static void
relays_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra relays [--exit] [--country CC] [--json] [-c FILE | -s SOCKET]\n\n"
	        "List the relays of the daemon's current consensus: id, nickname, roles, flags,\n"
	        "country/region, operator, bandwidth and scores (reputation/uptime/capacity in\n"
	        "basis points). --exit keeps relays with the Exit flag; --country keeps those in\n"
	        "country CC. Fails with the reason when the daemon holds no valid consensus.\n"
	        "Flags: Running Valid Guard Middle Exit Stable Fast BadExit, and from the "
	        "issuers'\n"
	        "relay-trust feeds Bonded (bonded per enough issuers) and Disputed (an active\n"
	        "dispute per enough issuers: never used as entry or exit).\n");
}

int
cmd_relays(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "socket", required_argument, NULL, 's' },
		                              { "exit", no_argument, NULL, 'x' },
		                              { "country", required_argument, NULL, 'C' },
		                              { "json", no_argument, NULL, 'j' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg = NULL, *sock_opt = NULL, *country = NULL;
	bool as_json = false, exit_only = false;
	char *sock = NULL;
	json_t *j = NULL, *out_arr, *r;
	size_t i;
	int o, ret;

	while ((o = getopt_long(argc, argv, "c:s:xC:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'x':
			exit_only = true;
			break;
		case 'C':
			country = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			relays_usage(stdout);
			return APP_OK;
		default:
			relays_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		relays_usage(stderr);
		return APP_USAGE;
	}
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	ret = app_ctl_call(sock, "GET", "/v1/relays", NULL, &j);
	free(sock);
	if (ret != APP_OK)
		return ret;
	out_arr = json_array();
	json_array_foreach(json_object_get(j, "relays"), i, r)
	{
		if (exit_only && !has_string(json_object_get(r, "flags"), "Exit"))
			continue;
		if (country != NULL && strcasecmp(sget(r, "country"), country) != 0)
			continue;
		json_array_append(out_arr, r);
	}
	if (as_json) {
		app_print_json(out_arr, "[]");
	} else {
		printf("%-12s %-19s %-18s %-36s %-14s %-12s %10s %s\n", "ID", "NICKNAME", "ROLES",
		       "FLAGS", "COUNTRY/REGION", "OPERATOR", "BW(B/s)", "REP/UPT/CAP");
		json_array_foreach(out_arr, i, r)
		{
			json_t *sc = json_object_get(r, "scores");
			char roles[64], flags[128], loc[48];

			join(json_object_get(r, "roles"), ",", roles, sizeof(roles));
			join(json_object_get(r, "flags"), ",", flags, sizeof(flags));
			snprintf(loc, sizeof(loc), "%s%s%s", sget(r, "country"),
			         *sget(r, "region") ? "/" : "", sget(r, "region"));
			printf("%-12.12s %-19s %-18s %-36s %-14s %-12.12s %10lld %lld/%lld/%lld\n",
			       sget(r, "id"), sget(r, "nickname"), roles, flags, loc,
			       sget(r, "operator"), (long long)iget(r, "bandwidth"),
			       (long long)iget(sc, "reputation"), (long long)iget(sc, "uptime"),
			       (long long)iget(sc, "capacity"));
		}
		printf("%zu relays\n", json_array_size(out_arr));
	}
	json_decref(out_arr);
	json_decref(j);
	return APP_OK;
}

/* ---- umbra dir ---- */

static void
dir_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra dir status [--json] [-c FILE | -s SOCKET]\n"
	        "       umbra dir pin URL [-c FILE]\n\n"
	        "status: the daemon's consensus (age, relays), the signature of each pinned\n"
	        "        authority, each directory source with its last error, and the issuer\n"
	        "        key lists the consensus carries. Exits 1 when no valid consensus is\n"
	        "        held, with the reason.\n"
	        "pin:    fetch URL/v1/authorities (URL is http://ip:port) and pin the authority\n"
	        "        identities it lists in this node's store (<state_dir>/umbra.db). Pins\n"
	        "        from the store are used in [directory] pin_mode = tofu; restart the\n"
	        "        daemon to use new pins.\n");
}

/* The directory role's federation peers (null on other nodes: nothing printed). */
static void
print_federation(const json_t *f)
{
	const json_t *v;
	size_t i;

	if (!json_is_object(f))
		return;
	printf("federation: max_hops %lld, fanout %lld, discovery %s (min %lld operators); "
	       "%lld imported, %lld pushed, %lld received\n",
	       (long long)iget(f, "max_hops"), (long long)iget(f, "fanout"),
	       json_is_true(json_object_get(f, "discovery")) ? "on" : "off",
	       (long long)iget(f, "min_operators"), (long long)iget(f, "imported"),
	       (long long)iget(f, "pushed"), (long long)iget(f, "received"));
	json_array_foreach(json_object_get(f, "peers"), i, v)
	{
		const char *err = sget(v, "error");
		const char *etag = sget(v, "etag");

		printf("  %-9s %s %s: %lld sightings (%lld operators), last sync %lld, "
		       "ETag %s%s%s\n",
		       sget(v, "state"), sget(v, "identity"), sget(v, "url"),
		       (long long)iget(v, "sightings"), (long long)iget(v, "operators"),
		       (long long)iget(v, "last_sync"), *etag ? etag : "-", *err ? ": " : "", err);
	}
}

/* The consensus's issuer key lists (nothing printed when it has none). */
static void
print_issuers(const json_t *arr)
{
	const json_t *v;
	size_t i;

	if (json_array_size(arr) == 0)
		return;
	printf("issuers:\n");
	json_array_foreach(arr, i, v)
	{
		if (json_is_true(json_object_get(v, "valid")))
			printf("  %.12s... seq %lld, %lld keys, key epoch %lld (min %lld), %lld "
			       "bytes\n",
			       sget(v, "identity"), (long long)iget(v, "seq"),
			       (long long)iget(v, "n_keys"), (long long)iget(v, "key_epoch"),
			       (long long)iget(v, "min_token_epoch"), (long long)iget(v, "size"));
		else
			printf("  %.12s... %lld bytes, does not verify: %s\n", sget(v, "identity"),
			       (long long)iget(v, "size"), sget(v, "error"));
	}
}

static void
print_dir_status(const json_t *j)
{
	const json_t *v;
	size_t i;
	bool valid = json_is_true(json_object_get(j, "valid"));

	if (valid) {
		printf("consensus: valid%s, age %llds, %lld relays, valid until %lld\n",
		       json_is_true(json_object_get(j, "from_cache")) ? " (from cache)" : "",
		       (long long)iget(j, "age_s"), (long long)iget(j, "n_relays"),
		       (long long)iget(j, "valid_until"));
		printf("digest: %s\n", sget(j, "digest"));
	} else {
		printf("consensus: NONE VALID: %s\n", sget(j, "message"));
	}
	printf("pins: %s mode, %lld pinned, threshold %lld, %lld signed\n", sget(j, "pin_mode"),
	       (long long)iget(j, "n_pins"), (long long)iget(j, "threshold"),
	       (long long)iget(j, "n_signed"));
	json_array_foreach(json_object_get(j, "signatures"), i, v)
	{
		printf("  authority %s: %s\n", sget(v, "identity"), sget(v, "status"));
	}
	printf("sources:\n");
	json_array_foreach(json_object_get(j, "sources"), i, v)
	{
		const char *err = sget(v, "error");

		printf("  %-28s last HTTP %lld, last success %lld%s%s\n", sget(v, "url"),
		       (long long)iget(v, "last_http"), (long long)iget(v, "last_success"),
		       *err ? ": " : "", err);
	}
	print_federation(json_object_get(j, "federation"));
	print_issuers(json_object_get(j, "issuers"));
}

static int
dir_status(int argc, char **argv)
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
			dir_usage(stdout);
			return APP_OK;
		default:
			dir_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		dir_usage(stderr);
		return APP_USAGE;
	}
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	ret = app_ctl_call(sock, "GET", "/v1/dir/status", NULL, &j);
	free(sock);
	if (ret != APP_OK)
		return ret;
	if (as_json) {
		app_print_json(j, "null");
	} else {
		print_dir_status(j);
	}
	ret = json_is_true(json_object_get(j, "valid")) ? APP_OK : APP_FAIL;
	json_decref(j);
	return ret;
}

struct pin_wait {
	struct ev_loop *loop;
	bool done;
	struct dirclient_pin_report rep;
};

static void
pin_done(void *arg, const struct dirclient_pin_report *rep)
{
	struct pin_wait *w = arg;

	w->rep = *rep;
	w->done = true;
	ev_loop_stop(w->loop);
}

static int
dir_pin(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg_opt = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct pin_wait *w = NULL;
	char why[512], *path = NULL;
	int o, ret = APP_FAIL;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg_opt = optarg;
			break;
		case 'h':
			dir_usage(stdout);
			return APP_OK;
		default:
			dir_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind + 1 != argc) {
		dir_usage(stderr);
		return APP_USAGE;
	}
	if ((ret = app_load_config(app_config_path(cfg_opt), &cfg)) != APP_OK)
		return ret;
	ret = APP_FAIL;
	if (um_crypto_init() != UM_OK) {
		fprintf(stderr, "umbra: cannot initialise libsodium\n");
		goto out;
	}
	if (app_ensure_state_dir(cfg->node.state_dir, why, sizeof(why)) != UM_OK) {
		fprintf(stderr, "umbra: %s\n", why);
		goto out;
	}
	path = um_xasprintf("%s/umbra.db", cfg->node.state_dir);
	if (store_open(path, &dirclient_schema, &st, why, sizeof(why)) != UM_OK) {
		fprintf(stderr, "umbra: %s\n", why);
		goto out;
	}
	w = um_xcalloc(1, sizeof(*w)); /* the report is about 3 KiB */
	w->loop = ev_loop_new();
	if (dirclient_pin_url(w->loop, st, argv[optind], PIN_TIMEOUT_MS, pin_done, w) != UM_OK) {
		fprintf(stderr, "umbra: %s is not a URL this client can fetch (http://ip:port)\n",
		        argv[optind]);
		ret = APP_USAGE;
		goto out;
	}
	if (ev_loop_run(w->loop) != UM_OK || !w->done) {
		fprintf(stderr, "umbra: the pin request did not finish\n");
		goto out;
	}
	if (w->rep.err != UM_OK) {
		fprintf(stderr, "umbra: nothing pinned: %s\n", w->rep.message);
		goto out;
	}
	printf("%s\n", w->rep.message);
	for (size_t i = 0; i < w->rep.n; i++) {
		char b32[53];

		app_key_b32(w->rep.ids[i], b32);
		printf("  pinned authority %s\n", b32);
	}
	ret = APP_OK;
out:
	if (w != NULL)
		ev_loop_free(w->loop);
	free(w);
	store_close(st);
	free(path);
	config_free(cfg);
	return ret;
}

int
cmd_dir(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		dir_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? APP_USAGE : APP_OK;
	}
	if (strcmp(argv[1], "status") == 0)
		return dir_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "pin") == 0)
		return dir_pin(argc - 1, argv + 1);
	dir_usage(stderr);
	return APP_USAGE;
}
