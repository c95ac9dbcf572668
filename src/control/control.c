/* SPDX-License-Identifier: MIT */
/* Control API request handling: routing, JSON in and out (jansson, strict parsing). */
#include "control/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "config/config.h"
#include "crypto/hash.h"
#include "directory/dirserv.h"
#include "trust/issuer_doc.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_public.h"

static json_t *
id_json(const uint8_t id[32])
{
	char b32[BASE32_LEN(32)];

	if (enc_base32(b32, sizeof(b32), id, 32) != UM_OK)
		return json_null();
	return json_string(b32);
}

static json_t *
test_json(const struct link_test_info *t)
{
	char hex[HEX_LEN(32)];
	uint64_t ms = (t->done ? t->end_ms : um_mono_ms()) - t->start_ms;
	json_t *j;

	if (!t->active && !t->done)
		return json_null();
	j = json_pack("{s:b, s:b, s:I, s:I, s:I}", "active", t->active, "done", t->done, "bytes",
	              (json_int_t)t->bytes, "target", (json_int_t)t->target, "ms", (json_int_t)ms);
	if (t->done) {
		if (enc_hex(hex, sizeof(hex), t->sha256, 32) == UM_OK)
			json_object_set_new(j, "sha256", json_string(hex));
		json_object_set_new(j, "verified", json_boolean(t->verified));
		json_object_set_new(j, "peer_reported", json_boolean(t->peer_reported));
		json_object_set_new(j, "peer_verified", json_boolean(t->peer_verified));
	}
	return j;
}

static void
link_to_json(void *arg, const struct link_info *li)
{
	json_t *arr = arg;
	const char *addr = li->peer_addr;
	json_t *j;

	/* Relays we dial are public; who connects to us is not: scrub inbound addresses. */
	if (li->inbound)
		addr = log_safe_addr(addr);
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
	              "id", (json_int_t)li->id, "direction", li->inbound ? "in" : "out", "pattern",
	              li->pattern == LINK_PATTERN_XK   ? "XK"
	              : li->pattern == LINK_PATTERN_NK ? "NK"
	                                               : "",
	              "state", li->state, "addr", addr, "age_ms", (json_int_t)li->age_ms,
	              "cells_tx", (json_int_t)li->cells_tx, "cells_rx", (json_int_t)li->cells_rx,
	              "rekeys_tx", (json_int_t)li->rekeys_tx, "rekeys_rx",
	              (json_int_t)li->rekeys_rx, "handshake_us", (json_int_t)li->handshake_us,
	              "write_queue", (json_int_t)li->write_queue, "reading", li->reading,
	              "persistent", li->persistent);
	if (j == NULL)
		return;
	json_object_set_new(j, "peer", li->peer_identified ? id_json(li->peer_id) : json_null());
	json_object_set_new(j, "test_tx", test_json(&li->test_tx));
	json_object_set_new(j, "test_rx", test_json(&li->test_rx));
	json_array_append_new(arr, j);
}

static json_t *
links_json(const struct control_ctx *ctx)
{
	json_t *arr = json_array();

	if (ctx->links != NULL)
		link_mgr_foreach(ctx->links, link_to_json, arr);
	return arr;
}

/* Entry abuse control counters, or null without it. */
static json_t *
abuse_json(const struct control_ctx *ctx, const struct link_mgr_stats *ls)
{
	struct abuse_stats s;

	if (ctx->abuse == NULL || *ctx->abuse == NULL)
		return json_null();
	abuse_stats(*ctx->abuse, um_mono_ms(), &s);
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	        "puzzles_asked", (json_int_t)ls->puzzles_asked, "puzzles_passed",
	        (json_int_t)ls->puzzles_passed, "puzzles_failed", (json_int_t)ls->puzzles_failed,
	        "sources", (json_int_t)s.sources, "banned", (json_int_t)s.banned, "bans",
	        (json_int_t)s.bans, "inflight", (json_int_t)s.inflight, "puzzle_bits",
	        (json_int_t)s.puzzle_bits, "handshakes_admitted",
	        (json_int_t)s.admitted[ABUSE_HANDSHAKE], "handshakes_refused_rate",
	        (json_int_t)s.refused_rate[ABUSE_HANDSHAKE], "handshakes_refused_banned",
	        (json_int_t)s.refused_banned[ABUSE_HANDSHAKE], "handshakes_refused_busy",
	        (json_int_t)s.refused_busy, "creates_admitted",
	        (json_int_t)s.admitted[ABUSE_CREATE], "creates_refused_rate",
	        (json_int_t)s.refused_rate[ABUSE_CREATE], "creates_refused_banned",
	        (json_int_t)s.refused_banned[ABUSE_CREATE], "evicted", (json_int_t)s.evicted);
}

/* The exit's tier tokens (docs/PROTOCOL.md 17.5): counters and issuers, or null. */
static json_t *
tokens_json(const struct control_ctx *ctx)
{
	struct token_verifier_stats s;
	json_t *issuers = json_array();
	size_t n;

	if (ctx->tokens == NULL || *ctx->tokens == NULL) {
		json_decref(issuers);
		return json_null();
	}
	token_verifier_stats(*ctx->tokens, &s);
	n = token_verifier_n_issuers(*ctx->tokens);
	for (size_t i = 0; i < n; i++) {
		struct token_issuer_info in;

		token_verifier_issuer(*ctx->tokens, i, &in);
		json_array_append_new(
		        issuers, json_pack("{s:o, s:b, s:I, s:I, s:I, s:b, s:I, s:I, s:I}", "id",
		                           id_json(in.id), "has_keys", in.has_keys, "keys_seq",
		                           (json_int_t)in.keys_seq, "key_epoch",
		                           (json_int_t)in.key_epoch, "keys", (json_int_t)in.n_keys,
		                           "has_revocations", in.has_revocations, "revocations_seq",
		                           (json_int_t)in.revocations_seq, "revocations_expires",
		                           (json_int_t)in.revocations_expires_s, "min_token_epoch",
		                           (json_int_t)in.min_token_epoch));
	}
	return json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:o}",
	        "issuers_trusted", (json_int_t)s.issuers, "issuers_ready", (json_int_t)s.ready,
	        "accepted", (json_int_t)s.accepted, "identified_accepted",
	        (json_int_t)s.identified_accepted, "refused_revoked_subject",
	        (json_int_t)s.refused[TOKEN_VERDICT_REVOKED_SUBJECT], "refused_unknown_issuer",
	        (json_int_t)s.refused[TOKEN_VERDICT_UNKNOWN_ISSUER], "refused_invalid",
	        (json_int_t)s.refused[TOKEN_VERDICT_INVALID], "refused_epoch",
	        (json_int_t)s.refused[TOKEN_VERDICT_REFUSED_EPOCH], "double_spends",
	        (json_int_t)s.double_spends, "refused_has_tier",
	        (json_int_t)s.refused[TOKEN_VERDICT_HAS_TIER], "refused_unavailable",
	        (json_int_t)s.refused[TOKEN_VERDICT_UNAVAILABLE], "store_errors",
	        (json_int_t)s.store_errors, "docs_taken", (json_int_t)s.docs_taken, "docs_refused",
	        (json_int_t)s.docs_refused, "issuer_list", issuers);
}

static void
handle_status(const struct control_ctx *ctx, struct ev_http_resp *resp)
{
	struct link_mgr_stats st;
	struct issuer_puzzle_stats ipz = { 0 };
	json_t *roles = json_array();
	json_t *listen = json_array();
	json_t *j;

	memset(&st, 0, sizeof(st));
	if (ctx->links != NULL)
		link_mgr_stats(ctx->links, &st);
	if (ctx->issuer_puzzles != NULL)
		ipz = *ctx->issuer_puzzles;
	for (unsigned bit = 1; bit != 0 && bit <= ROLE_MESH_RELAY; bit <<= 1) {
		if ((ctx->roles & bit) != 0 && config_role_name((enum config_role)bit) != NULL)
			json_array_append_new(roles,
			                      json_string(config_role_name((enum config_role)bit)));
	}
	for (size_t i = 0; ctx->listen != NULL && ctx->listen[i] != NULL; i++)
		json_array_append_new(listen, json_string(ctx->listen[i]));
	j = json_pack(
	        "{s:o, s:s, s:s, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:I, s:I}, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	        "id", id_json(ctx->node_id), "nickname", ctx->nickname != NULL ? ctx->nickname : "",
	        "version", ctx->version != NULL ? ctx->version : "", "roles", roles, "listen",
	        listen, "uptime_s", (json_int_t)((um_mono_ms() - ctx->start_ms) / 1000), "links",
	        "total", (json_int_t)st.links, "open", (json_int_t)st.open, "pending",
	        (json_int_t)st.pending, "accepted", (json_int_t)st.accepted, "refused_limit",
	        (json_int_t)st.refused_limit, "handshakes_ok", (json_int_t)st.handshakes_ok,
	        "handshakes_failed", (json_int_t)st.handshakes_failed, "auth_failures",
	        (json_int_t)st.auth_failures, "protocol_errors", (json_int_t)st.protocol_errors,
	        "refused_abuse", (json_int_t)st.refused_abuse, "link_list", links_json(ctx),
	        "abuse", abuse_json(ctx, &st), "tokens", tokens_json(ctx), "puzzles", "asked",
	        (json_int_t)st.puzzles_asked, "passed", (json_int_t)st.puzzles_passed, "failed",
	        (json_int_t)st.puzzles_failed, "solved", (json_int_t)st.puzzles_solved, "refused",
	        (json_int_t)st.puzzles_refused, "solve_ms", (json_int_t)st.puzzle_solve_ms,
	        "issuance_asked", (json_int_t)ipz.asked, "issuance_failed", (json_int_t)ipz.failed,
	        "issuance_passed", (json_int_t)ipz.passed);
	if (j == NULL) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 200, j);
}

static void
handle_link_test(const struct control_ctx *ctx, const uint8_t *body, size_t len,
                 struct ev_http_resp *resp)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *peer = NULL;
	json_int_t bytes = 0;
	int hash = 1;
	uint8_t id[32];
	ssize_t n;
	int ret;

	if (j == NULL || json_unpack_ex(j, &jerr, JSON_STRICT, "{s:s, s:I, s?b}", "peer", &peer,
	                                "bytes", &bytes, "hash", &hash) != 0) {
		char msg[256];

		snprintf(msg, sizeof(msg), "bad request body: %s", jerr.text);
		json_decref(j);
		ev_http_resp_error(resp, 400, msg);
		return;
	}
	n = dec_base32(id, sizeof(id), peer, strlen(peer));
	if (n != 32) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "peer must be a node id (52 base32 characters)");
		return;
	}
	if (bytes < 0 || bytes > (json_int_t)1 << 40) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "bytes must be between 0 and 2^40");
		return;
	}
	json_decref(j);
	ret = ctx->links != NULL ? link_mgr_test_start(ctx->links, id, (uint64_t)bytes, hash != 0)
	                         : UM_ERR_NOT_FOUND;
	if (ret == UM_ERR_NOT_FOUND)
		ev_http_resp_error(resp, 404, "no open link to that peer");
	else if (ret == UM_ERR_STATE)
		ev_http_resp_error(resp, 409, "a test is already running on that link");
	else if (ret != UM_OK)
		ev_http_resp_error(resp, 500, um_err_str(ret));
	else
		ev_http_resp_json(resp, 202, json_pack("{s:b}", "started", 1));
}

static json_t *
b32_json(const uint8_t id[32])
{
	return id_json(id);
}

static json_t *
dir_status_json(const struct dirclient_status *st)
{
	char hex[HEX_LEN(DIR_DIGEST_LEN)];
	json_t *sigs = json_array(), *srcs = json_array();
	size_t n_signed = 0;

	/* Per-pin results describe the current consensus; without one there is nothing signed. */
	for (size_t i = 0; i < st->n_pins && i < CONS_MAX_AUTHORITIES; i++) {
		bool ok = st->valid && st->sigs[i].status == CONS_AUTH_SIGNED;

		n_signed += ok;
		json_array_append_new(sigs,
		                      json_pack("{s:o, s:s, s:b}", "identity",
		                                b32_json(st->sigs[i].identity), "status",
		                                st->valid ? cons_auth_status_str(st->sigs[i].status)
		                                          : "no valid consensus",
		                                "signed", ok));
	}
	for (size_t i = 0; i < st->n_sources && i < DIRCLIENT_MAX_SOURCES; i++) {
		const struct dirclient_source_status *s = &st->sources[i];

		json_array_append_new(
		        srcs,
		        json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:s, s:s}", "url", s->url,
		                  "last_err", s->last_err == UM_OK ? "" : um_err_str(s->last_err),
		                  "last_http", s->last_http, "last_attempt",
		                  (json_int_t)s->last_attempt_s, "last_success",
		                  (json_int_t)s->last_success_s, "next_fetch",
		                  (json_int_t)s->next_fetch_s, "etag", s->etag, "error", s->error));
	}
	if (enc_hex(hex, sizeof(hex), st->digest, sizeof(st->digest)) != UM_OK)
		hex[0] = '\0';
	return json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:s, s:I, s:s, s:b, s:I, s:I, s:I, s:o, "
	                 "s:o, s:s}",
	                 "valid", st->valid, "from_cache", st->from_cache, "age_s",
	                 (json_int_t)st->age_s, "valid_after", (json_int_t)st->valid_after_s,
	                 "fresh_until", (json_int_t)st->fresh_until_s, "valid_until",
	                 (json_int_t)st->valid_until_s, "digest", st->valid ? hex : "", "n_relays",
	                 (json_int_t)st->n_relays, "pin_mode",
	                 st->pin_mode == DIRCLIENT_PIN_TOFU ? "tofu" : "strict", "pinned",
	                 st->pinned, "threshold", (json_int_t)st->threshold, "n_pins",
	                 (json_int_t)st->n_pins, "n_signed", (json_int_t)n_signed, "signatures",
	                 sigs, "sources", srcs, "message", st->message);
}

/* The federation part of /v1/dir/status: null without a federation core. */
static json_t *
fed_status_json(const struct control_ctx *ctx)
{
	struct dirfed *fed = ctx->fed != NULL ? *ctx->fed : NULL;
	struct dirfed_peer_status *ps;
	struct dirfed_stats stats;
	json_t *peers;
	size_t n, max;

	if (fed == NULL)
		return json_null();
	max = dirfed_n_peers(fed);
	ps = um_xcalloc(max + 1, sizeof(*ps));
	n = dirfed_status(fed, um_wall_s(), ps, max, &stats);
	peers = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct dirfed_peer_status *p = &ps[i];

		json_array_append_new(
		        peers,
		        json_pack("{s:o, s:s, s:s, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:s, s:I, "
		                  "s:s}",
		                  "identity", b32_json(p->identity), "url", p->url, "state",
		                  p->seed       ? "seed"
		                  : p->admitted ? "admitted"
		                                : "candidate",
		                  "admitted", p->admitted, "operator",
		                  p->has_operator ? b32_json(p->operator_id) : json_null(),
		                  "operators", (json_int_t)p->n_operators, "sightings",
		                  (json_int_t)p->n_sightings, "last_sync",
		                  (json_int_t)p->last_sync_s, "last_feed",
		                  (json_int_t)p->last_feed_s, "expires", (json_int_t)p->expires_s,
		                  "etag", p->etag, "imported", (json_int_t)p->imported, "error",
		                  p->error));
	}
	free(ps);
	return json_pack("{s:i, s:i, s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:o}", "max_hops",
	                 (int)stats.max_hops, "fanout", (int)stats.fanout, "min_operators",
	                 (int)stats.min_operators, "discovery", stats.discovery, "imported",
	                 (json_int_t)stats.imported, "pushed", (json_int_t)stats.pushed, "received",
	                 (json_int_t)stats.received, "refused_hops", (json_int_t)stats.refused_hops,
	                 "outbox_dropped", (json_int_t)stats.outbox_dropped, "peers", peers);
}

static struct dirclient *
ctx_dir(const struct control_ctx *ctx)
{
	return ctx->dir != NULL ? *ctx->dir : NULL;
}

/* The issuer key lists of consensus c (NULL: none), each checked against the identity the
 * consensus lists it under (PROTOCOL.md 5.8): "valid" and, when valid, what it holds. */
static json_t *
issuers_json(const struct consensus *c, uint64_t now_s)
{
	json_t *arr = json_array();
	struct issuer_keys *k;

	if (c == NULL)
		return arr;
	k = um_xcalloc(1, sizeof(*k));
	for (size_t i = 0; i < consensus_n_issuers(c); i++) {
		const uint8_t *id, *doc;
		char hex[HEX_LEN(DIR_ISSUER_DIGEST_LEN)];
		size_t len;
		json_t *o;
		int ret;

		if (consensus_issuer(c, i, &id, &doc, &len) != UM_OK)
			break;
		if (enc_hex(hex, sizeof(hex), c->issuers.v[i].digest, DIR_ISSUER_DIGEST_LEN) !=
		    UM_OK)
			hex[0] = '\0';
		ret = issuer_keys_parse_verify(doc, len, id, now_s, k);
		o = json_pack("{s:o, s:I, s:s, s:b, s:s}", "identity", id_json(id), "size",
		              (json_int_t)len, "digest", hex, "valid", ret == UM_OK, "error",
		              ret == UM_OK ? "" : um_err_str(ret));
		if (o != NULL && ret == UM_OK) {
			json_object_set_new(o, "seq", json_integer((json_int_t)k->seq));
			json_object_set_new(o, "published",
			                    json_integer((json_int_t)k->published_s));
			json_object_set_new(o, "key_epoch", json_integer((json_int_t)k->key_epoch));
			json_object_set_new(o, "min_token_epoch",
			                    json_integer((json_int_t)k->min_token_epoch));
			json_object_set_new(o, "n_keys", json_integer((json_int_t)k->n));
		}
		json_array_append_new(arr, o);
	}
	free(k);
	return arr;
}

static void
handle_dir_status(const struct control_ctx *ctx, struct ev_http_resp *resp)
{
	struct dirclient *dc = ctx_dir(ctx);
	struct dirclient_status *st;
	json_t *j;

	if (dc == NULL) {
		ev_http_resp_error(resp, 404, "no directory client: set [directory] authorities");
		return;
	}
	st = um_xcalloc(1, sizeof(*st)); /* about 10 KiB */
	dirclient_status(dc, um_wall_s(), st);
	j = dir_status_json(st);
	free(st);
	if (j != NULL) {
		json_object_set_new(j, "federation", fed_status_json(ctx));
		const struct consensus *c = dirclient_consensus(dc, um_wall_s(), NULL, NULL);
		json_t *params = json_object();

		json_object_set_new(j, "issuers", issuers_json(c, um_wall_s()));
		/* The network parameters (PROTOCOL.md 5.2), e.g. puzzle_max and puzzle_min. */
		for (size_t i = 0; c != NULL && i < c->params.n; i++)
			json_object_set_new(params, c->params.p[i].name,
			                    json_integer((json_int_t)c->params.p[i].value));
		json_object_set_new(j, "params", params);
	}
	if (j == NULL) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 200, j);
}

static void
handle_relays(const struct control_ctx *ctx, struct ev_http_resp *resp)
{
	struct dirclient *dc = ctx_dir(ctx);
	const struct consensus *c;
	struct dirclient_status *st;
	char *s;

	if (dc == NULL) {
		ev_http_resp_error(resp, 404, "no directory client: set [directory] authorities");
		return;
	}
	c = dirclient_consensus(dc, um_wall_s(), NULL, NULL);
	if (c == NULL) {
		char msg[DIRCLIENT_MESSAGE_LEN + 64];

		st = um_xcalloc(1, sizeof(*st));
		dirclient_status(dc, um_wall_s(), st);
		snprintf(msg, sizeof(msg), "%s",
		         st->message[0] != '\0' ? st->message : "no valid consensus yet");
		free(st);
		ev_http_resp_error(resp, 503, msg);
		return;
	}
	if ((s = dirserv_relays_json(c)) == NULL) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	resp->status = 200;
	resp->content_type = "application/json";
	resp->body = (uint8_t *)s;
	resp->body_len = strlen(s);
}

static void
circ_json_one(void *arg, const struct circ_io_circ *ci)
{
	json_t *arr = arg, *hops = json_array();

	for (size_t i = 0; i < ci->n_hops; i++)
		json_array_append_new(hops,
		                      json_pack("{s:o, s:s, s:s}", "id", b32_json(ci->hops[i].id),
		                                "nickname", ci->hops[i].nickname, "country",
		                                ci->hops[i].country));
	char iso[17] = "";

	if (ci->isolated)
		snprintf(iso, sizeof(iso), "%016llx", (unsigned long long)ci->iso_tag);
	json_array_append_new(
	        arr, json_pack("{s:I, s:s, s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:i}", "id",
	                       (json_int_t)ci->id, "state", ci->state, "hops", hops, "build_ms",
	                       (json_int_t)ci->build_ms, "build_us", (json_int_t)ci->build_us,
	                       "age_ms", (json_int_t)ci->age_ms, "streams", (json_int_t)ci->streams,
	                       "isolation", iso, "token", ci->token, "tier", (int)ci->tier));
}

static void
handle_circuits(const struct control_ctx *ctx, struct ev_http_resp *resp)
{
	struct circ_io *io = ctx->circ != NULL ? *ctx->circ : NULL;
	struct circ_io_stats st;
	json_t *arr, *j;

	if (io == NULL) {
		ev_http_resp_error(resp, 404,
		                   "no circuit layer: this node has no relay or client role");
		return;
	}
	circ_io_stats(io, &st);
	arr = json_array();
	if (st.client)
		circ_io_foreach(io, circ_json_one, arr);
	j = json_pack(
	        "{s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:b, s:i, s:I, s:I, s:I, s:i, s:b, "
	        "s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
	        "circuits", arr, "relay", "entry", (json_int_t)st.relay.entry, "middle",
	        (json_int_t)st.relay.middle, "exit", (json_int_t)st.relay.exit, "total",
	        (json_int_t)(st.relay.entry + st.relay.middle + st.relay.exit), "exit_streams",
	        (json_int_t)st.exit_streams, "client", "enabled", st.client, "prebuilt",
	        (int)st.prebuilt_target, "built", (json_int_t)st.built, "failed",
	        (json_int_t)st.failed, "closed", (json_int_t)st.closed, "timeout_ms",
	        (int)st.timeout_ms, "timeout_learned", st.timeout_learned, "last_error",
	        st.last_error, "streams_open", (json_int_t)st.streams_open, "streams_waiting",
	        (json_int_t)st.streams_waiting, "streams_opened", (json_int_t)st.streams_opened,
	        "streams_failed", (json_int_t)st.streams_failed, "streams_retried",
	        (json_int_t)st.streams_retried, "streams_no_exit", (json_int_t)st.streams_no_exit,
	        "tokens_accepted", (json_int_t)st.tokens_accepted, "tokens_refused",
	        (json_int_t)st.tokens_refused);
	if (j == NULL) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 200, j);
}

/* POST /v1/circuits/build: one more client circuit now; the caller follows it in
 * GET /v1/circuits (the newest circuit). */
static void
handle_circuit_build(const struct control_ctx *ctx, struct ev_http_resp *resp)
{
	struct circ_io *io = ctx->circ != NULL ? *ctx->circ : NULL;
	char why[PATH_WHY_LEN] = "", msg[PATH_WHY_LEN + 64];
	int ret;

	if (io == NULL) {
		ev_http_resp_error(resp, 404, "no circuit layer: this node has no client role");
		return;
	}
	if ((ret = circ_io_build_now(io, why, sizeof(why))) != UM_OK) {
		snprintf(msg, sizeof(msg), "cannot build a circuit: %s", why);
		ev_http_resp_error(resp, ret == UM_ERR_STATE ? 409 : 503, msg);
		return;
	}
	ev_http_resp_json(resp, 202, json_pack("{s:b}", "started", 1));
}

static int
wallet_row(void *arg, const uint8_t issuer[32], uint8_t tier, uint32_t epoch, uint64_t count)
{
	json_array_append_new(arg, json_pack("{s:o, s:i, s:I, s:I}", "issuer", id_json(issuer),
	                                     "tier", (int)tier, "epoch", (json_int_t)epoch, "count",
	                                     (json_int_t)count));
	return UM_OK;
}

/* GET /v1/tokens, POST /v1/tokens/fetch {"tier": N, "count": K}. */
static void
handle_tokens(const struct control_ctx *ctx, const char *method, const char *path,
              const uint8_t *body, size_t body_len, struct ev_http_resp *resp)
{
	static const char *const states[] = { "idle", "running", "done", "failed" };
	struct tokens_io *t = ctx->wallet;
	json_error_t jerr;
	json_int_t tier = 0, count = 0;
	json_t *j, *rows;
	int ret;

	if (t == NULL || t->loop == NULL) {
		ev_http_resp_error(resp, 404, "no client role");
		return;
	}
	if (strcmp(path, "/v1/tokens") == 0) {
		if (strcmp(method, "GET") != 0) {
			ev_http_resp_error(resp, 405, "use GET");
			return;
		}
		rows = json_array();
		if (tokens_io_counts(t, wallet_row, rows) != UM_OK) {
			json_decref(rows);
			ev_http_resp_error(resp, 503, "cannot read the wallet");
			return;
		}
		json_t *idt = json_null();

		/* [client] identified_token: the access token shown to exits, once held. */
		if (t->idc != NULL && captoken_client_expires(t->idc) > 0)
			idt = json_pack("{s:i, s:I}", "tier", (int)captoken_client_tier(t->idc),
			                "expires", (json_int_t)captoken_client_expires(t->idc));
		else if (t->idc != NULL)
			idt = json_pack("{s:b}", "pending", true);
		ev_http_resp_json(
		        resp, 200,
		        json_pack("{s:o, s:o, s:I, s:I, s:o, s:o, s:i, s:I, s:{s:s, s:i, s:I, s:I, "
		                  "s:s}}",
		                  "access_token", idt, "wallet", rows, "puzzles_solved",
		                  (json_int_t)t->puzzles_solved, "puzzle_solve_ms",
		                  (json_int_t)t->puzzle_solve_ms, "subject",
		                  t->subject[0] != '\0' ? json_string(t->subject) : json_null(),
		                  "subject_key",
		                  t->subject[0] != '\0' ? id_json(t->subject_key.pk) : json_null(),
		                  "issuers", (int)t->n_issuers, "spent", (json_int_t)t->spent,
		                  "fetch", "state", states[t->state], "tier", (int)t->tier, "want",
		                  (json_int_t)t->want, "got", (json_int_t)t->got, "error",
		                  t->error));
		return;
	}
	if (strcmp(path, "/v1/tokens/fetch") != 0) {
		ev_http_resp_error(resp, 404, "no such endpoint");
		return;
	}
	if (strcmp(method, "POST") != 0) {
		ev_http_resp_error(resp, 405, "use POST");
		return;
	}
	j = json_loadb((const char *)body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL ||
	    json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I, s:I}", "tier", &tier, "count", &count) !=
	            0 ||
	    tier < 1 || tier > 15 || count < 1 || count > TOKENS_IO_FETCH_MAX) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "want {\"tier\": 1..15, \"count\": 1..10000}");
		return;
	}
	json_decref(j);
	ret = tokens_io_fetch(t, (uint8_t)tier, (size_t)count);
	if (ret == UM_ERR_NOT_FOUND)
		ev_http_resp_error(resp, 409, "no [client] issuers configured");
	else if (ret == UM_ERR_STATE)
		ev_http_resp_error(resp, 409, "a fetch is already running");
	else if (ret != UM_OK)
		ev_http_resp_error(resp, 503, um_err_str(ret));
	else
		ev_http_resp_json(resp, 202, json_pack("{s:b}", "started", 1));
}

/* GET /v1/issuer/keys: the epochs and the published keys (from the signed key list). */
static void
keys_reply(struct issuer_keyring *kr, struct ev_http_resp *resp)
{
	struct issuer_keys *d = um_xcalloc(1, sizeof(*d));
	const uint8_t *doc;
	uint8_t kid[32];
	char kid_hex[HEX_LEN(32)];
	size_t len;
	json_t *arr = json_array();

	if (issuer_keyring_keys_doc(kr, um_wall_s(), &doc, &len) != UM_OK ||
	    issuer_keys_parse(doc, len, d) != (ssize_t)len) {
		json_decref(arr);
		free(d);
		ev_http_resp_error(resp, 500, "cannot make the key list");
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		/* key_id as tokens carry it (PROTOCOL.md 16.2). */
		hash_blake2b(kid, sizeof(kid), d->keys[i].spki, d->keys[i].spki_len, NULL, 0);
		if (enc_hex(kid_hex, sizeof(kid_hex), kid, sizeof(kid)) != UM_OK)
			kid_hex[0] = '\0';
		json_array_append_new(arr, json_pack("{s:i, s:I, s:I, s:o}", "tier",
		                                     (int)d->keys[i].tier, "epoch",
		                                     (json_int_t)d->keys[i].epoch, "not_after",
		                                     (json_int_t)d->keys[i].not_after_s, "key_id",
		                                     json_string(kid_hex)));
	}
	ev_http_resp_json(resp, 200,
	                  json_pack("{s:I, s:I, s:I, s:o}", "key_epoch", (json_int_t)d->key_epoch,
	                            "min_token_epoch", (json_int_t)d->min_token_epoch, "seq",
	                            (json_int_t)d->seq, "keys", arr));
	free(d);
}

static void
handle_issuer_keys(const struct control_ctx *ctx, const char *method, const char *path,
                   const uint8_t *body, size_t body_len, struct ev_http_resp *resp)
{
	struct issuer_keyring *kr = *ctx->issuer_keys;
	bool post = strcmp(method, "POST") == 0;
	json_error_t jerr;
	json_int_t e = 0;
	json_t *j;
	int ret;

	if (strcmp(path, "/v1/issuer/keys") == 0) {
		if (strcmp(method, "GET") != 0)
			ev_http_resp_error(resp, 405, "use GET");
		else
			keys_reply(kr, resp);
	} else if (strcmp(path, "/v1/issuer/keys/rotate") == 0) {
		if (!post)
			ev_http_resp_error(resp, 405, "use POST");
		else if ((ret = issuer_keyring_rotate(kr, um_wall_s())) == UM_ERR_STATE)
			ev_http_resp_error(resp, 409,
			                   "4 epochs are published: raise min_token_epoch first");
		else if (ret != UM_OK)
			ev_http_resp_error(resp, 503, "cannot rotate (database)");
		else
			keys_reply(kr, resp);
	} else if (strcmp(path, "/v1/issuer/keys/min_epoch") == 0) {
		if (!post) {
			ev_http_resp_error(resp, 405, "use POST");
			return;
		}
		j = json_loadb((const char *)body, body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (j == NULL || json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I}", "epoch", &e) != 0 ||
		    e < 1 || e > UINT32_MAX) {
			json_decref(j);
			ev_http_resp_error(resp, 400, "want {\"epoch\": N}");
			return;
		}
		json_decref(j);
		if ((ret = issuer_keyring_set_min_epoch(kr, (uint32_t)e, um_wall_s())) ==
		    UM_ERR_INVALID)
			ev_http_resp_error(resp, 409,
			                   "min_token_epoch must be between the current one and "
			                   "key_epoch");
		else if (ret != UM_OK)
			ev_http_resp_error(resp, 503, "cannot change min_token_epoch (database)");
		else
			keys_reply(kr, resp);
	} else {
		ev_http_resp_error(resp, 404, "no such endpoint");
	}
}

/* PUT /v1/issuer/credentials/ID {"key": "<base32 Ed25519 public key>"}, GET the same. */
static void
handle_issuer_creds(const struct control_ctx *ctx, const char *method, const char *subject,
                    const uint8_t *body, size_t body_len, struct ev_http_resp *resp)
{
	struct issuer_creds *c = *ctx->issuer_creds;
	struct issuer_subject_view v;
	json_error_t jerr;
	const char *key = NULL;
	uint8_t pk[32];
	json_t *j;
	int ret;

	if (!issuer_id_is_valid(subject)) {
		ev_http_resp_error(resp, 400, "a subject id is 1..64 of A-Z a-z 0-9 . _ : @ -");
		return;
	}
	if (strcmp(method, "GET") == 0) {
		if ((ret = issuer_creds_get(c, subject, pk)) == UM_ERR_NOT_FOUND)
			ev_http_resp_error(resp, 404, "no key for this subject");
		else if (ret != UM_OK)
			ev_http_resp_error(resp, 503, "database error");
		else
			ev_http_resp_json(
			        resp, 200,
			        json_pack("{s:s, s:o}", "subject", subject, "key", id_json(pk)));
		return;
	}
	if (strcmp(method, "PUT") != 0) {
		ev_http_resp_error(resp, 405, "use GET or PUT");
		return;
	}
	j = json_loadb((const char *)body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || json_unpack_ex(j, &jerr, JSON_STRICT, "{s:s}", "key", &key) != 0 ||
	    dec_base32(pk, sizeof(pk), key, strlen(key)) != 32) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "want {\"key\": \"<52 base32 characters>\"}");
		return;
	}
	json_decref(j);
	/* A key for a subject the issuer knows: the tier comes from the subject. */
	if (ctx->issuer == NULL || *ctx->issuer == NULL ||
	    issuer_subject_get(*ctx->issuer, subject, um_wall_s(), &v) != UM_OK) {
		ev_http_resp_error(resp, 404, "no such subject (umbra issuer subject set first)");
		return;
	}
	if (issuer_creds_set(c, subject, pk, um_wall_s()) != UM_OK) {
		ev_http_resp_error(resp, 503, "database error");
		return;
	}
	ev_http_resp_json(resp, 200,
	                  json_pack("{s:s, s:o}", "subject", subject, "key", id_json(pk)));
}

/*
 * /v1/issuer/<rest> is the issuer's admin API /v1/admin/<rest> (docs/ISSUER.md), reached with
 * the token the daemon holds: the control socket (0600, the daemon's user) is the credential.
 */
static void
handle_issuer(const struct control_ctx *ctx, const char *method, const char *target,
              const uint8_t *body, size_t body_len, struct ev_http_resp *resp)
{
	char *admin, *auth;

	if (ctx->issuer == NULL || *ctx->issuer == NULL || ctx->issuer_token == NULL) {
		ev_http_resp_error(resp, 404, "not an issuer (add the issuer role)");
		return;
	}
	if (strncmp(target, "/v1/issuer/credentials/", strlen("/v1/issuer/credentials/")) == 0 &&
	    ctx->issuer_creds != NULL && *ctx->issuer_creds != NULL) {
		handle_issuer_creds(ctx, method, target + strlen("/v1/issuer/credentials/"), body,
		                    body_len, resp);
		return;
	}
	if (strncmp(target, "/v1/issuer/keys", strlen("/v1/issuer/keys")) == 0 &&
	    ctx->issuer_keys != NULL && *ctx->issuer_keys != NULL) {
		char path[128];

		snprintf(path, sizeof(path), "%.*s", (int)strcspn(target, "?"), target);
		handle_issuer_keys(ctx, method, path, body, body_len, resp);
		return;
	}
	admin = um_xasprintf("/v1/admin/%s", target + strlen("/v1/issuer/"));
	auth = um_xasprintf("Bearer %s", ctx->issuer_token);
	issuer_handle(*ctx->issuer, method, admin, auth, body, body_len, um_wall_s(), resp);
	um_memzero(auth, strlen(auth));
	free(auth);
	free(admin);
}

void
control_handle(const struct control_ctx *ctx, const char *method, const char *target,
               const uint8_t *body, size_t body_len, struct ev_http_resp *resp)
{
	bool get = strcmp(method, "GET") == 0;
	bool post = strcmp(method, "POST") == 0;
	char path[512];

	/* Only the issuer routes read a query string; the others ignore it. */
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(target, "?"), target);
	if (strncmp(target, "/v1/issuer/", strlen("/v1/issuer/")) == 0) {
		handle_issuer(ctx, method, target, body, body_len, resp);
	} else if (strncmp(path, "/v1/tokens", strlen("/v1/tokens")) == 0) {
		handle_tokens(ctx, method, path, body, body_len, resp);
	} else if (strcmp(path, "/v1/status") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else
			handle_status(ctx, resp);
	} else if (strcmp(path, "/v1/links") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else
			ev_http_resp_json(resp, 200, json_pack("{s:o}", "links", links_json(ctx)));
	} else if (strcmp(path, "/v1/links/test") == 0) {
		if (!post)
			ev_http_resp_error(resp, 405, "use POST");
		else
			handle_link_test(ctx, body, body_len, resp);
	} else if (strcmp(path, "/v1/dir/status") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else
			handle_dir_status(ctx, resp);
	} else if (strcmp(path, "/v1/relays") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else
			handle_relays(ctx, resp);
	} else if (strcmp(path, "/v1/circuits") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else
			handle_circuits(ctx, resp);
	} else if (strcmp(path, "/v1/circuits/build") == 0) {
		if (!post)
			ev_http_resp_error(resp, 405, "use POST");
		else
			handle_circuit_build(ctx, resp);
	} else if (strcmp(path, "/v1/reload") == 0) {
		if (!post) {
			ev_http_resp_error(resp, 405, "use POST");
		} else if (ctx->reload == NULL) {
			ev_http_resp_error(resp, 501, "reload not available");
		} else {
			char why[512] = "";
			char msg[600];

			if (ctx->reload(ctx->arg, why, sizeof(why)) == UM_OK) {
				ev_http_resp_json(resp, 200, json_pack("{s:b}", "reloaded", 1));
			} else {
				snprintf(msg, sizeof(msg), "configuration rejected: %s", why);
				ev_http_resp_error(resp, 422, msg);
			}
		}
	} else {
		ev_http_resp_error(resp, 404, "no such endpoint");
	}
}
