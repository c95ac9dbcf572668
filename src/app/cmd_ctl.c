/* SPDX-License-Identifier: MIT */
/* CLI commands that talk to the running daemon over its control socket: status, links, link. */
#include "app/app.h"
#include "app/app_ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/time.h"
#include "control/control.h"

enum { CTL_TIMEOUT_MS = 10000 };

void
app_print_json(const json_t *j, const char *if_fail)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	printf("%s\n", s != NULL ? s : if_fail);
	free(s);
}

int
app_ctl_call(const char *sock, const char *method, const char *url, const char *body, json_t **out)
{
	json_error_t jerr;
	char *resp = NULL;
	int status = 0, ret;
	json_t *j;

	*out = NULL;
	ret = control_request(sock, method, url, body, CTL_TIMEOUT_MS, &status, &resp);
	if (ret != UM_OK) {
		if (ret == UM_ERR_SYS)
			fprintf(stderr,
			        "umbra: cannot reach the daemon at %s: %s (is 'umbra run' "
			        "running with this configuration?)\n",
			        sock, strerror(errno));
		else
			fprintf(stderr, "umbra: control request failed: %s\n", um_err_str(ret));
		return APP_FAIL;
	}
	j = json_loads(resp, 0, &jerr);
	free(resp);
	if (j == NULL) {
		fprintf(stderr, "umbra: bad reply from the daemon: %s\n", jerr.text);
		return APP_FAIL;
	}
	if (status / 100 != 2) {
		const char *msg = json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "umbra: %s (HTTP %d)\n", msg != NULL ? msg : "request refused",
		        status);
		json_decref(j);
		return APP_FAIL;
	}
	*out = j;
	return APP_OK;
}

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

/* Entry abuse control (relays): one line, or nothing for a node without it. */
static void
print_abuse(const json_t *a)
{
	if (!json_is_object(a))
		return;
	printf("abuse control: %lld sources (%lld banned, %lld bans so far); handshakes %lld "
	       "admitted, %lld over rate, %lld banned; circuit creations %lld admitted, %lld "
	       "over rate, %lld banned; puzzle %lld bits\n",
	       (long long)iget(a, "sources"), (long long)iget(a, "banned"),
	       (long long)iget(a, "bans"), (long long)iget(a, "handshakes_admitted"),
	       (long long)iget(a, "handshakes_refused_rate"),
	       (long long)iget(a, "handshakes_refused_banned"),
	       (long long)iget(a, "creates_admitted"), (long long)iget(a, "creates_refused_rate"),
	       (long long)iget(a, "creates_refused_banned"), (long long)iget(a, "puzzle_bits"));
	printf("puzzles asked: %lld handshakes challenged without a solution, %lld with a bad "
	       "one, %lld solutions passed\n",
	       (long long)iget(a, "puzzles_asked"), (long long)iget(a, "puzzles_failed"),
	       (long long)iget(a, "puzzles_passed"));
}

/* Puzzles this node was asked as a client (or a relay dialling a relay), if any. */
static void
print_puzzles(const json_t *p)
{
	if (!json_is_object(p) || (iget(p, "solved") == 0 && iget(p, "refused") == 0))
		return;
	printf("puzzles solved: %lld (%lld ms solving), %lld refused (over the network's cap)\n",
	       (long long)iget(p, "solved"), (long long)iget(p, "solve_ms"),
	       (long long)iget(p, "refused"));
}

/* The exit's tier tokens: one line, or nothing for a node without them. */
static void
print_tokens(const json_t *t)
{
	if (!json_is_object(t))
		return;
	printf("tier tokens: %lld of %lld issuers ready; %lld accepted (%lld identified); "
	       "refused: %lld unknown issuer, %lld invalid, %lld refused epoch, %lld revoked "
	       "subject, %lld double spends, %lld circuit already tiered, %lld malformed or "
	       "unavailable\n",
	       (long long)iget(t, "issuers_ready"), (long long)iget(t, "issuers_trusted"),
	       (long long)iget(t, "accepted"), (long long)iget(t, "identified_accepted"),
	       (long long)iget(t, "refused_unknown_issuer"), (long long)iget(t, "refused_invalid"),
	       (long long)iget(t, "refused_epoch"), (long long)iget(t, "refused_revoked_subject"),
	       (long long)iget(t, "double_spends"), (long long)iget(t, "refused_has_tier"),
	       (long long)iget(t, "refused_unavailable"));
}

static void
print_links(const json_t *links)
{
	size_t i;
	const json_t *l;

	printf("  %-5s %-4s %-3s %-10s %-14s %-22s %10s %10s %8s\n", "LINK", "DIR", "PAT", "STATE",
	       "PEER", "ADDRESS", "CELLS-TX", "CELLS-RX", "AGE-S");
	json_array_foreach(links, i, l)
	{
		const char *peer = json_string_value(json_object_get(l, "peer"));
		char short_peer[16];

		snprintf(short_peer, sizeof(short_peer), "%.12s",
		         peer != NULL ? peer : "anonymous");
		printf("  %-5lld %-4s %-3s %-10s %-14s %-22s %10lld %10lld %8lld\n",
		       (long long)iget(l, "id"), sget(l, "direction"), sget(l, "pattern"),
		       sget(l, "state"), short_peer, sget(l, "addr"),
		       (long long)iget(l, "cells_tx"), (long long)iget(l, "cells_rx"),
		       (long long)iget(l, "age_ms") / 1000);
	}
}

static void
ctl_usage(FILE *f, const char *cmd)
{
	fprintf(f,
	        "Usage: umbra %s [-c FILE | -s SOCKET] [--json]\n\n"
	        "Ask the running daemon (through its control socket, [control] socket) for %s.\n",
	        cmd, strcmp(cmd, "status") == 0 ? "its status" : "its links");
}

static int
status_or_links(int argc, char **argv, bool links_only)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "socket", required_argument, NULL, 's' },
		                              { "json", no_argument, NULL, 'j' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg = NULL, *sock_opt = NULL;
	bool as_json = false;
	char *sock = NULL;
	json_t *j = NULL, *links;
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
			ctl_usage(stdout, argv[0]);
			return APP_OK;
		default:
			ctl_usage(stderr, argv[0]);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		ctl_usage(stderr, argv[0]);
		return APP_USAGE;
	}
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	ret = app_ctl_call(sock, "GET", "/v1/status", NULL, &j);
	free(sock);
	if (ret != APP_OK)
		return ret;
	links = json_object_get(j, "link_list");
	if (as_json) {
		app_print_json(links_only ? links : j, "null");
	} else if (links_only) {
		print_links(links);
	} else {
		const json_t *lk = json_object_get(j, "links");
		const json_t *roles = json_object_get(j, "roles");
		const json_t *listen = json_object_get(j, "listen");
		const json_t *v;
		size_t i;

		printf("umbra %s  node %s%s%s\n", sget(j, "version"), sget(j, "id"),
		       *sget(j, "nickname") ? "  nickname " : "", sget(j, "nickname"));
		printf("roles:");
		json_array_foreach(roles, i, v)
		{
			printf("%s%s", i ? "," : " ", json_string_value(v));
		}
		printf("   uptime: %llds\n", (long long)iget(j, "uptime_s"));
		printf("listening:");
		json_array_foreach(listen, i, v)
		{
			printf(" %s", json_string_value(v));
		}
		printf("%s\n", json_array_size(listen) ? "" : " (not listening)");
		printf("links: %lld open, %lld pending; handshakes %lld ok, %lld failed; "
		       "%lld auth failures, %lld protocol errors, %lld refused by limits, "
		       "%lld by abuse control\n",
		       (long long)iget(lk, "open"), (long long)iget(lk, "pending"),
		       (long long)iget(lk, "handshakes_ok"),
		       (long long)iget(lk, "handshakes_failed"),
		       (long long)iget(lk, "auth_failures"), (long long)iget(lk, "protocol_errors"),
		       (long long)iget(lk, "refused_limit"), (long long)iget(lk, "refused_abuse"));
		print_abuse(json_object_get(j, "abuse"));
		print_puzzles(json_object_get(j, "puzzles"));
		print_tokens(json_object_get(j, "tokens"));
		if (json_array_size(links) > 0)
			print_links(links);
	}
	json_decref(j);
	return APP_OK;
}

int
cmd_status(int argc, char **argv)
{
	return status_or_links(argc, argv, false);
}

int
cmd_links(int argc, char **argv)
{
	return status_or_links(argc, argv, true);
}

static void
link_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra link test PEER-ID [--bytes N] [--no-hash] [--timeout S]\n"
	        "                      [-c FILE | -s SOCKET] [--json]\n\n"
	        "Send N bytes (default 64M; suffixes K, M, G) of test data over the open link\n"
	        "to PEER-ID, wait for it to finish, and print the throughput and the SHA-256 of\n"
	        "what was sent. The receiver hashes what it received, compares, and reports\n"
	        "back: 'verified by peer' means both digests and byte counts matched.\n");
}

static const json_t *
find_link(const json_t *links, const char *peer)
{
	size_t i;
	const json_t *l;

	json_array_foreach(links, i, l)
	{
		const char *p = json_string_value(json_object_get(l, "peer"));

		if (p != NULL && strcmp(p, peer) == 0 && json_object_get(l, "test_tx") != NULL &&
		    !json_is_null(json_object_get(l, "test_tx")))
			return l;
	}
	return NULL;
}

int
cmd_link(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "socket", required_argument, NULL, 's' },
		                              { "bytes", required_argument, NULL, 'b' },
		                              { "no-hash", no_argument, NULL, 'n' },
		                              { "timeout", required_argument, NULL, 't' },
		                              { "json", no_argument, NULL, 'j' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg = NULL, *sock_opt = NULL, *peer;
	uint64_t bytes = 64ull << 20, deadline;
	long timeout_s = 600;
	bool hash = true, as_json = false;
	char *sock = NULL, *body;
	json_t *j = NULL;
	int o, ret;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		link_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? APP_USAGE : APP_OK;
	}
	if (strcmp(argv[1], "test") != 0) {
		link_usage(stderr);
		return APP_USAGE;
	}
	argc--;
	argv++;
	while ((o = getopt_long(argc, argv, "c:s:b:nt:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'b':
			if (app_parse_bytes(optarg, &bytes) != UM_OK) {
				fprintf(stderr, "umbra: bad --bytes '%s'\n", optarg);
				return APP_USAGE;
			}
			break;
		case 'n':
			hash = false;
			break;
		case 't':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			link_usage(stdout);
			return APP_OK;
		default:
			link_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind + 1 != argc || timeout_s <= 0) {
		link_usage(stderr);
		return APP_USAGE;
	}
	peer = argv[optind];
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	body = um_xasprintf("{\"peer\":\"%s\",\"bytes\":%llu,\"hash\":%s}", peer,
	                    (unsigned long long)bytes, hash ? "true" : "false");
	ret = app_ctl_call(sock, "POST", "/v1/links/test", body, &j);
	free(body);
	json_decref(j);
	j = NULL;
	if (ret != APP_OK) {
		free(sock);
		return ret;
	}
	deadline = um_mono_ms() + (uint64_t)timeout_s * 1000;
	for (;;) {
		const json_t *l, *tx;
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if ((ret = app_ctl_call(sock, "GET", "/v1/links", NULL, &j)) != APP_OK)
			break;
		l = find_link(json_object_get(j, "links"), peer);
		tx = l != NULL ? json_object_get(l, "test_tx") : NULL;
		if (l == NULL) {
			fprintf(stderr, "umbra: the link to %s closed during the test\n", peer);
			ret = APP_FAIL;
			break;
		}
		if (json_is_true(json_object_get(tx, "done")) &&
		    json_is_true(json_object_get(tx, "peer_reported"))) {
			double ms = (double)iget(tx, "ms");
			double b = (double)iget(tx, "bytes");
			bool ok = json_is_true(json_object_get(tx, "peer_verified"));

			if (as_json) {
				char *s = json_dumps(tx, JSON_SORT_KEYS);

				printf("%s\n", s != NULL ? s : "null");
				free(s);
			} else {
				printf("sent %.0f bytes in %.3f s: %.1f MB/s\n", b, ms / 1000.0,
				       ms > 0 ? b / ms / 1000.0 : 0.0);
				printf("sha256 %s\n", sget(tx, "sha256"));
				printf("%s\n",
				       ok ? "verified by peer: byte count and SHA-256 match"
				          : "NOT VERIFIED: the peer received different data");
			}
			ret = ok ? APP_OK : APP_FAIL;
			break;
		}
		json_decref(j);
		j = NULL;
		if (um_mono_ms() > deadline) {
			fprintf(stderr, "umbra: link test timed out\n");
			ret = APP_FAIL;
			break;
		}
		nanosleep(&ts, NULL);
	}
	json_decref(j);
	free(sock);
	return ret;
}

static void
reload_usage(FILE *f)
{
	fprintf(f, "Usage: umbra reload [-c FILE | -s SOCKET]\n\n"
	           "Make the running daemon re-read its configuration file, as SIGHUP does, and\n"
	           "report the outcome: an invalid file is refused (with the first error) and the\n"
	           "daemon keeps running its current configuration.\n");
}

int
cmd_reload(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "socket", required_argument, NULL, 's' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg = NULL, *sock_opt = NULL;
	char *sock = NULL;
	json_t *j = NULL;
	int o, ret;

	while ((o = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'h':
			reload_usage(stdout);
			return APP_OK;
		default:
			reload_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		reload_usage(stderr);
		return APP_USAGE;
	}
	if ((ret = app_control_path(sock_opt, cfg, &sock)) != APP_OK)
		return ret;
	ret = app_ctl_call(sock, "POST", "/v1/reload", NULL, &j);
	free(sock);
	if (ret == APP_OK)
		printf("configuration reloaded\n");
	json_decref(j);
	return ret;
}
