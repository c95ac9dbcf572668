/* SPDX-License-Identifier: MIT */
/*
 * `umbra issuer ...`: the issuer role's admin API (docs/ISSUER.md) through the daemon's
 * control socket (/v1/issuer/...): subjects, promotions, adjustments, disputes, appeals and
 * the audit trail. The socket (mode 0600) is the credential; remote operators use the
 * [issuer] listen address with the bearer token or an admin capability token instead.
 */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/err.h"
#include "config/config.h"
#include "trust/captoken.h"
#include "app/app_ctl.h"

static void
issuer_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra issuer subject set ID --tier N [--kind client|relay] [--role ROLE]\n"
	        "       umbra issuer subject show ID\n"
	        "       umbra issuer subject promote ID --tier N [--reason TEXT]\n"
	        "       umbra issuer subject key ID PUBLIC-KEY   (its key for identified tokens)\n"
	        "       umbra issuer subject role ID provider|access|admin [--withdraw]\n"
	        "       umbra issuer subject revoke ID [--reason TEXT]\n"
	        "       umbra issuer subject unrevoke ID [--reason TEXT]\n"
	        "       umbra issuer subject adjust ID [--reputation DELTA] [--bond DELTA]\n"
	        "                                      [--reason TEXT]\n"
	        "       umbra issuer subject relay ID [add|remove NODE-ID]\n"
	        "       umbra issuer dispute open ID --cap N --ttl DURATION [--case TEXT]\n"
	        "                                    [--evidence TEXT]\n"
	        "       umbra issuer dispute clear ID DISPUTE [--reason TEXT]\n"
	        "       umbra issuer appeal open ID --dispute DISPUTE --ttl DURATION\n"
	        "                                   [--case TEXT] [--evidence TEXT]\n"
	        "       umbra issuer appeal resolve ID APPEAL granted|denied [--reason TEXT]\n"
	        "       umbra issuer audit [--after SEQ] [--limit N]\n"
	        "       umbra issuer keys [show | rotate | min-epoch EPOCH]\n"
	        "Options for all: [--actor NAME] [--json] [-c FILE | -s SOCKET]\n\n"
	        "Manage the subjects of this node's issuer role (docs/ISSUER.md): a subject's\n"
	        "effective tier is its base tier (1..15; relays are pinned to 1) capped by its\n"
	        "active disputes; a granted appeal clears its dispute. Every change is recorded\n"
	        "in the audit trail with the actor (default: cli). DURATION: seconds, or a number\n"
	        "with ms, s, m, h or d.\n\n"
	        "keys: the token signing keys (one per tier and key epoch) the issuer publishes "
	        "at\n"
	        "GET /v1/pubkeys; rotate starts a new epoch (tokens already issued stay valid);\n"
	        "min-epoch refuses tokens of older epochs from now on (their keys are deleted).\n\n"
	        "role: a subject with the provider role gets provider capability tokens\n"
	        "(POST /v1/captokens) to advertise relays to directories (PROTOCOL.md 18); one\n"
	        "with the access role gets access tokens for audience exit, which a client with\n"
	        "[client] identified_token = yes shows to exits instead of anonymous tokens; one\n"
	        "with the admin role can get admin tokens (aud issuer-admin) for the remote\n"
	        "admin API (Authorization: UmbraCap, docs/ISSUER.md), audited under its name.\n"
	        "revoke: the subject is listed in the revocation feed, so exits and directories\n"
	        "refuse its tokens within one refresh, and it gets no new capability token.\n"
	        "subject relay: the relay node ids (as `umbra whoami` prints them) a relay "
	        "subject\n"
	        "vouches for; without add/remove, lists them. The issuer publishes their bond\n"
	        "(also the stake signal), reputation, disputes and tier in its signed relay-trust\n"
	        "feed (GET /v1/relaytrust); directory authorities set BONDED and DISPUTED from "
	        "it.\n");
}

struct opts {
	const char *cfg, *sock, *actor, *kind, *reason, *case_id, *evidence, *role;
	bool withdraw;
	long long tier, cap, dispute, rep, bond, after, limit;
	uint64_t ttl_ms;
	bool has_tier, has_cap, has_dispute, has_rep, has_bond, has_ttl, as_json;
};

static bool
num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (*s == '\0')
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void
print_subject(const json_t *s)
{
	const json_t *cap = json_object_get(s, "cap"), *ap = json_object_get(s, "appeal");

	printf("subject %s (%s): tier %lld, effective tier %lld; reputation %lld, bond %lld\n",
	       json_string_value(json_object_get(s, "id")),
	       json_string_value(json_object_get(s, "kind")),
	       (long long)json_integer_value(json_object_get(s, "tier")),
	       (long long)json_integer_value(json_object_get(s, "effective_tier")),
	       (long long)json_integer_value(json_object_get(s, "reputation")),
	       (long long)json_integer_value(json_object_get(s, "bond")));
	if (json_is_object(cap))
		printf("  capped at tier %lld by dispute %lld until %lld (%lld active dispute%s)\n",
		       (long long)json_integer_value(json_object_get(cap, "tier_cap")),
		       (long long)json_integer_value(json_object_get(cap, "dispute")),
		       (long long)json_integer_value(json_object_get(cap, "expires")),
		       (long long)json_integer_value(json_object_get(s, "active_disputes")),
		       json_integer_value(json_object_get(s, "active_disputes")) == 1 ? "" : "s");
	if (json_is_object(ap))
		printf("  appeal %lld open against dispute %lld until %lld\n",
		       (long long)json_integer_value(json_object_get(ap, "id")),
		       (long long)json_integer_value(json_object_get(ap, "dispute")),
		       (long long)json_integer_value(json_object_get(ap, "expires")));
}

static void
print_keys(const json_t *j)
{
	const json_t *k, *keys = json_object_get(j, "keys");
	size_t i;

	printf("key epoch %lld, tokens refused below epoch %lld (key list seq %lld)\n",
	       (long long)json_integer_value(json_object_get(j, "key_epoch")),
	       (long long)json_integer_value(json_object_get(j, "min_token_epoch")),
	       (long long)json_integer_value(json_object_get(j, "seq")));
	printf("%-5s %-6s %-12s %s\n", "TIER", "EPOCH", "NOT-AFTER", "KEY-ID");
	json_array_foreach(keys, i, k)
	{
		printf("%-5lld %-6lld %-12lld %s\n",
		       (long long)json_integer_value(json_object_get(k, "tier")),
		       (long long)json_integer_value(json_object_get(k, "epoch")),
		       (long long)json_integer_value(json_object_get(k, "not_after")),
		       json_string_value(json_object_get(k, "key_id")));
	}
}

static void
print_audit(const json_t *j)
{
	const json_t *e, *entries = json_object_get(j, "entries");
	size_t i;

	printf("%-6s %-11s %-16s %-20s %-16s %s\n", "SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT",
	       "DETAIL");
	json_array_foreach(entries, i, e)
	{
		char *d = json_dumps(json_object_get(e, "detail"), JSON_COMPACT | JSON_SORT_KEYS);

		printf("%-6lld %-11lld %-16s %-20s %-16s %s\n",
		       (long long)json_integer_value(json_object_get(e, "seq")),
		       (long long)json_integer_value(json_object_get(e, "time")),
		       json_string_value(json_object_get(e, "actor")),
		       json_string_value(json_object_get(e, "action")),
		       json_string_value(json_object_get(e, "subject")), d != NULL ? d : "");
		free(d);
	}
	if (i == 0)
		printf("(no entries)\n");
}

/* Add the optional text fields the request takes. */
static void
add_text(json_t *b, const char *k, const char *v)
{
	if (v != NULL)
		json_object_set_new(b, k, json_string(v));
}

static int
run(const struct opts *o, const char *method, const char *url, json_t *body)
{
	char *sock = NULL, *text = NULL;
	json_t *j = NULL;
	int ret;

	if (body != NULL) {
		if (o->actor != NULL)
			json_object_set_new(body, "actor", json_string(o->actor));
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
	}
	if ((ret = app_control_path(o->sock, o->cfg, &sock)) == APP_OK)
		ret = app_ctl_call(sock, method, url, text, &j);
	free(sock);
	free(text);
	if (ret != APP_OK)
		return ret;
	if (o->as_json) {
		app_print_json(j, "{}");
	} else if (json_is_array(json_object_get(j, "relays"))) {
		const json_t *r;
		size_t i;

		printf("subject %s: %zu relay%s bound\n",
		       json_string_value(json_object_get(j, "subject")),
		       json_array_size(json_object_get(j, "relays")),
		       json_array_size(json_object_get(j, "relays")) == 1 ? "" : "s");
		json_array_foreach(json_object_get(j, "relays"), i, r)
		        printf("  %s\n", json_string_value(r));
	} else if (json_object_get(j, "entries") != NULL) {
		print_audit(j);
	} else if (json_object_get(j, "key_epoch") != NULL) {
		print_keys(j);
	} else if (json_is_array(json_object_get(j, "roles"))) {
		const json_t *r;
		size_t i;

		printf("subject %s: roles", json_string_value(json_object_get(j, "subject")));
		json_array_foreach(json_object_get(j, "roles"), i, r)
		        printf("%s%s", i == 0 ? " " : ", ", json_string_value(r));
		printf("%s; %s%s\n", i == 0 ? " none" : "",
		       json_is_true(json_object_get(j, "revoked")) ? "revoked" : "not revoked",
		       json_is_true(json_object_get(j, "changed")) ? "" : " (unchanged)");
	} else if (json_is_string(json_object_get(j, "key"))) {
		printf("subject %s: key %s\n", json_string_value(json_object_get(j, "subject")),
		       json_string_value(json_object_get(j, "key")));
	} else {
		if (json_is_object(json_object_get(j, "dispute")))
			printf("dispute %lld opened\n",
			       (long long)json_integer_value(
			               json_object_get(json_object_get(j, "dispute"), "id")));
		if (json_is_object(json_object_get(j, "appeal")))
			printf("appeal %lld opened\n",
			       (long long)json_integer_value(
			               json_object_get(json_object_get(j, "appeal"), "id")));
		if (json_is_object(json_object_get(j, "subject")))
			print_subject(json_object_get(j, "subject"));
	}
	json_decref(j);
	return APP_OK;
}

/* run() for routes that take no actor: body as text (may be NULL). */
static int
run_plain(const struct opts *o, const char *method, const char *url, const char *body)
{
	json_t *b = NULL;
	struct opts o2 = *o;

	if (body != NULL && (b = json_loads(body, 0, NULL)) == NULL)
		return APP_FAIL;
	o2.actor = NULL;
	return run(&o2, method, url, b);
}

static int
need(bool ok, const char *what)
{
	if (!ok)
		fprintf(stderr, "umbra: issuer: %s\n", what);
	return ok ? APP_OK : APP_USAGE;
}

int
cmd_issuer(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "actor", required_argument, NULL, 'a' },
		{ "tier", required_argument, NULL, 'T' },
		{ "kind", required_argument, NULL, 'k' },
		{ "reason", required_argument, NULL, 'r' },
		{ "reputation", required_argument, NULL, 'R' },
		{ "bond", required_argument, NULL, 'B' },
		{ "cap", required_argument, NULL, 'C' },
		{ "ttl", required_argument, NULL, 't' },
		{ "case", required_argument, NULL, 'K' },
		{ "evidence", required_argument, NULL, 'E' },
		{ "dispute", required_argument, NULL, 'D' },
		{ "after", required_argument, NULL, 'A' },
		{ "limit", required_argument, NULL, 'L' },
		{ "role", required_argument, NULL, 'O' },
		{ "withdraw", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .actor = "cli", .kind = "client", .limit = 100 };
	const char *pos[5] = { NULL };
	size_t n_pos = 0;
	char url[512];
	json_t *b;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:jh", lo, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 'c':
			o.cfg = optarg;
			break;
		case 's':
			o.sock = optarg;
			break;
		case 'j':
			o.as_json = true;
			break;
		case 'a':
			o.actor = optarg;
			break;
		case 'k':
			o.kind = optarg;
			break;
		case 'O':
			o.role = optarg;
			ok = captoken_role_is_valid(optarg);
			break;
		case 'W':
			o.withdraw = true;
			break;
		case 'r':
			o.reason = optarg;
			break;
		case 'K':
			o.case_id = optarg;
			break;
		case 'E':
			o.evidence = optarg;
			break;
		case 'T':
			ok = o.has_tier = num(optarg, 1, 15, &o.tier);
			break;
		case 'C':
			ok = o.has_cap = num(optarg, 1, 15, &o.cap);
			break;
		case 'D':
			ok = o.has_dispute = num(optarg, 1, INT64_MAX, &o.dispute);
			break;
		case 'R':
			ok = o.has_rep = num(optarg, INT64_MIN, INT64_MAX, &o.rep);
			break;
		case 'B':
			ok = o.has_bond = num(optarg, INT64_MIN, INT64_MAX, &o.bond);
			break;
		case 'A':
			ok = num(optarg, 0, INT64_MAX, &o.after);
			break;
		case 'L':
			ok = num(optarg, 1, 1000, &o.limit);
			break;
		case 't':
			ok = o.has_ttl = config_duration_parse(optarg, &o.ttl_ms) == UM_OK &&
			                 o.ttl_ms >= 1000;
			break;
		case 'h':
			issuer_usage(stdout);
			return APP_OK;
		default:
			issuer_usage(stderr);
			return APP_USAGE;
		}
		if (!ok) {
			fprintf(stderr, "umbra: issuer: bad option value: %s\n", optarg);
			return APP_USAGE;
		}
	}
	while (optind < argc && n_pos < 5)
		pos[n_pos++] = argv[optind++];
	if (optind < argc || n_pos == 0) {
		issuer_usage(stderr);
		return APP_USAGE;
	}
	/* The subject id goes into the URL path: the issuer refuses anything but its alphabet,
	 * which needs no escaping; refuse '/', '?' and '%' here so the path stays the one meant. */
	if (n_pos >= 3 && strpbrk(pos[2], "/?%# ") != NULL)
		return need(false, "a subject id is letters, digits and . _ : @ -");
	if (strcmp(pos[0], "keys") == 0) {
		long long e = 0;

		if (n_pos == 1 || (n_pos == 2 && strcmp(pos[1], "show") == 0))
			return run(&o, "GET", "/v1/issuer/keys", NULL);
		if (n_pos == 2 && strcmp(pos[1], "rotate") == 0)
			return run_plain(&o, "POST", "/v1/issuer/keys/rotate", NULL);
		if (n_pos == 3 && strcmp(pos[1], "min-epoch") == 0) {
			char body[64];

			if (need(num(pos[2], 1, UINT32_MAX, &e),
			         "min-epoch needs an epoch number") != APP_OK)
				return APP_USAGE;
			snprintf(body, sizeof(body), "{\"epoch\":%lld}", e);
			return run_plain(&o, "POST", "/v1/issuer/keys/min_epoch", body);
		}
		issuer_usage(stderr);
		return APP_USAGE;
	}
	if (strcmp(pos[0], "audit") == 0 && n_pos == 1) {
		snprintf(url, sizeof(url), "/v1/issuer/audit?after=%lld&limit=%lld", o.after,
		         o.limit);
		return run(&o, "GET", url, NULL);
	}
	if (n_pos < 3) {
		issuer_usage(stderr);
		return APP_USAGE;
	}
	if (strcmp(pos[0], "subject") == 0) {
		snprintf(url, sizeof(url), "/v1/issuer/subjects/%s", pos[2]);
		if (strcmp(pos[1], "show") == 0 && n_pos == 3)
			return run(&o, "GET", url, NULL);
		if (strcmp(pos[1], "relay") == 0 && (n_pos == 3 || n_pos == 5)) {
			strncat(url, "/relays", sizeof(url) - strlen(url) - 1);
			if (n_pos == 3)
				return run(&o, "GET", url, NULL);
			if (need(strcmp(pos[3], "add") == 0 || strcmp(pos[3], "remove") == 0,
			         "relay needs ID add|remove NODE-ID") != APP_OK)
				return APP_USAGE;
			b = json_pack("{s:s, s:s}", "node_id", pos[4], "action", pos[3]);
			return run(&o, "POST", url, b);
		}
		if (strcmp(pos[1], "key") == 0 && n_pos == 4) {
			char body[128];

			if (need(strlen(pos[3]) == 52 &&
			                 strspn(pos[3], "abcdefghijklmnopqrstuvwxyz234567") == 52,
			         "key needs the subject's public key (52 base32 characters)") !=
			    APP_OK)
				return APP_USAGE;
			snprintf(url, sizeof(url), "/v1/issuer/credentials/%s", pos[2]);
			snprintf(body, sizeof(body), "{\"key\":\"%s\"}", pos[3]);
			return run_plain(&o, "PUT", url, body);
		}
		if (strcmp(pos[1], "set") == 0 && n_pos == 3) {
			int ret;

			if (need(o.has_tier, "set needs --tier N") != APP_OK)
				return APP_USAGE;
			b = json_pack("{s:s, s:I}", "kind", o.kind, "tier", (json_int_t)o.tier);
			if ((ret = run(&o, "PUT", url, b)) != APP_OK || o.role == NULL)
				return ret;
			snprintf(url, sizeof(url), "/v1/issuer/subjects/%s/roles/%s", pos[2],
			         o.role);
			return run(&o, "PUT", url, json_object());
		}
		if (strcmp(pos[1], "role") == 0 && n_pos == 4) {
			if (need(captoken_role_is_valid(pos[3]),
			         "role needs provider, access or admin") != APP_OK)
				return APP_USAGE;
			snprintf(url, sizeof(url), "/v1/issuer/subjects/%s/roles/%s", pos[2],
			         pos[3]);
			return run(&o, o.withdraw ? "DELETE" : "PUT", url, json_object());
		}
		if ((strcmp(pos[1], "revoke") == 0 || strcmp(pos[1], "unrevoke") == 0) &&
		    n_pos == 3) {
			b = json_object();
			add_text(b, "reason", o.reason);
			strncat(url, strcmp(pos[1], "revoke") == 0 ? "/revoke" : "/unrevoke",
			        sizeof(url) - strlen(url) - 1);
			return run(&o, "POST", url, b);
		}
		if (strcmp(pos[1], "promote") == 0 && n_pos == 3) {
			if (need(o.has_tier, "promote needs --tier N") != APP_OK)
				return APP_USAGE;
			b = json_pack("{s:I}", "tier", (json_int_t)o.tier);
			add_text(b, "reason", o.reason);
			strncat(url, "/promote", sizeof(url) - strlen(url) - 1);
			return run(&o, "POST", url, b);
		}
		if (strcmp(pos[1], "adjust") == 0 && n_pos == 3) {
			if (need(o.has_rep || o.has_bond, "adjust needs --reputation or --bond") !=
			    APP_OK)
				return APP_USAGE;
			b = json_pack("{s:I, s:I}", "reputation_delta", (json_int_t)o.rep,
			              "bond_delta", (json_int_t)o.bond);
			add_text(b, "reason", o.reason);
			strncat(url, "/adjust", sizeof(url) - strlen(url) - 1);
			return run(&o, "POST", url, b);
		}
	} else if (strcmp(pos[0], "dispute") == 0) {
		if (strcmp(pos[1], "open") == 0 && n_pos == 3) {
			if (need(o.has_cap && o.has_ttl, "dispute open needs --cap N and --ttl") !=
			    APP_OK)
				return APP_USAGE;
			b = json_pack("{s:I, s:I}", "tier_cap", (json_int_t)o.cap, "ttl_s",
			              (json_int_t)(o.ttl_ms / 1000));
			add_text(b, "case_id", o.case_id);
			add_text(b, "evidence_ref", o.evidence);
			snprintf(url, sizeof(url), "/v1/issuer/subjects/%s/disputes", pos[2]);
			return run(&o, "POST", url, b);
		}
		if (strcmp(pos[1], "clear") == 0 && n_pos == 4) {
			long long id = 0;

			if (need(num(pos[3], 1, INT64_MAX, &id),
			         "dispute clear needs ID DISPUTE") != APP_OK)
				return APP_USAGE;
			b = json_object();
			add_text(b, "reason", o.reason);
			snprintf(url, sizeof(url), "/v1/issuer/subjects/%s/disputes/%lld/clear",
			         pos[2], id);
			return run(&o, "POST", url, b);
		}
	} else if (strcmp(pos[0], "appeal") == 0) {
		if (strcmp(pos[1], "open") == 0 && n_pos == 3) {
			if (need(o.has_dispute && o.has_ttl,
			         "appeal open needs --dispute DISPUTE and --ttl") != APP_OK)
				return APP_USAGE;
			b = json_pack("{s:I, s:I}", "dispute", (json_int_t)o.dispute, "ttl_s",
			              (json_int_t)(o.ttl_ms / 1000));
			add_text(b, "case_id", o.case_id);
			add_text(b, "evidence_ref", o.evidence);
			snprintf(url, sizeof(url), "/v1/issuer/subjects/%s/appeals", pos[2]);
			return run(&o, "POST", url, b);
		}
		if (strcmp(pos[1], "resolve") == 0 && n_pos == 5) {
			long long id = 0;

			if (need(num(pos[3], 1, INT64_MAX, &id) &&
			                 (strcmp(pos[4], "granted") == 0 ||
			                  strcmp(pos[4], "denied") == 0),
			         "appeal resolve needs ID APPEAL granted|denied") != APP_OK)
				return APP_USAGE;
			b = json_pack("{s:s}", "outcome", pos[4]);
			add_text(b, "reason", o.reason);
			snprintf(url, sizeof(url), "/v1/issuer/subjects/%s/appeals/%lld/resolve",
			         pos[2], id);
			return run(&o, "POST", url, b);
		}
	}
	issuer_usage(stderr);
	return APP_USAGE;
}
