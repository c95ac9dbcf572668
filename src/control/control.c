/* SPDX-License-Identifier: MIT */
/* Control API request handling: routing, JSON in and out (jansson, strict parsing). */
#include "control/control.h"

#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "config/config.h"

static void
reply_json(struct ev_http_resp *resp, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	if (s == NULL) {
		ev_http_resp_set_text(resp, 500, "application/json", "{\"error\":\"internal\"}");
		return;
	}
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = (uint8_t *)s;
	resp->body_len = strlen(s);
}

static void
reply_error(struct ev_http_resp *resp, int status, const char *msg)
{
	reply_json(resp, status, json_pack("{s:s}", "error", msg));
}

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

static void
handle_status(const struct control_ctx *ctx, struct ev_http_resp *resp)
{
	struct link_mgr_stats st;
	json_t *roles = json_array();
	json_t *listen = json_array();
	json_t *j;

	memset(&st, 0, sizeof(st));
	if (ctx->links != NULL)
		link_mgr_stats(ctx->links, &st);
	for (unsigned bit = 1; bit != 0 && bit <= ROLE_MESH_RELAY; bit <<= 1) {
		if ((ctx->roles & bit) != 0 && config_role_name((enum config_role)bit) != NULL)
			json_array_append_new(roles,
			                      json_string(config_role_name((enum config_role)bit)));
	}
	for (size_t i = 0; ctx->listen != NULL && ctx->listen[i] != NULL; i++)
		json_array_append_new(listen, json_string(ctx->listen[i]));
	j = json_pack("{s:o, s:s, s:s, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	              "s:I}, s:o}",
	              "id", id_json(ctx->node_id), "nickname",
	              ctx->nickname != NULL ? ctx->nickname : "", "version",
	              ctx->version != NULL ? ctx->version : "", "roles", roles, "listen", listen,
	              "uptime_s", (json_int_t)((um_mono_ms() - ctx->start_ms) / 1000), "links",
	              "total", (json_int_t)st.links, "open", (json_int_t)st.open, "pending",
	              (json_int_t)st.pending, "accepted", (json_int_t)st.accepted, "refused_limit",
	              (json_int_t)st.refused_limit, "handshakes_ok", (json_int_t)st.handshakes_ok,
	              "handshakes_failed", (json_int_t)st.handshakes_failed, "auth_failures",
	              (json_int_t)st.auth_failures, "protocol_errors",
	              (json_int_t)st.protocol_errors, "link_list", links_json(ctx));
	if (j == NULL) {
		reply_error(resp, 500, "internal");
		return;
	}
	reply_json(resp, 200, j);
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
		reply_error(resp, 400, msg);
		return;
	}
	n = dec_base32(id, sizeof(id), peer, strlen(peer));
	if (n != 32) {
		json_decref(j);
		reply_error(resp, 400, "peer must be a node id (52 base32 characters)");
		return;
	}
	if (bytes < 0 || bytes > (json_int_t)1 << 40) {
		json_decref(j);
		reply_error(resp, 400, "bytes must be between 0 and 2^40");
		return;
	}
	json_decref(j);
	ret = ctx->links != NULL ? link_mgr_test_start(ctx->links, id, (uint64_t)bytes, hash != 0)
	                         : UM_ERR_NOT_FOUND;
	if (ret == UM_ERR_NOT_FOUND)
		reply_error(resp, 404, "no open link to that peer");
	else if (ret == UM_ERR_STATE)
		reply_error(resp, 409, "a test is already running on that link");
	else if (ret != UM_OK)
		reply_error(resp, 500, um_err_str(ret));
	else
		reply_json(resp, 202, json_pack("{s:b}", "started", 1));
}

void
control_handle(const struct control_ctx *ctx, const char *method, const char *path,
               const uint8_t *body, size_t body_len, struct ev_http_resp *resp)
{
	bool get = strcmp(method, "GET") == 0;
	bool post = strcmp(method, "POST") == 0;

	if (strcmp(path, "/v1/status") == 0) {
		if (!get)
			reply_error(resp, 405, "use GET");
		else
			handle_status(ctx, resp);
	} else if (strcmp(path, "/v1/links") == 0) {
		if (!get)
			reply_error(resp, 405, "use GET");
		else
			reply_json(resp, 200, json_pack("{s:o}", "links", links_json(ctx)));
	} else if (strcmp(path, "/v1/links/test") == 0) {
		if (!post)
			reply_error(resp, 405, "use POST");
		else
			handle_link_test(ctx, body, body_len, resp);
	} else if (strcmp(path, "/v1/reload") == 0) {
		if (!post) {
			reply_error(resp, 405, "use POST");
		} else if (ctx->reload == NULL) {
			reply_error(resp, 501, "reload not available");
		} else {
			char why[512] = "";
			char msg[600];

			if (ctx->reload(ctx->arg, why, sizeof(why)) == UM_OK) {
				reply_json(resp, 200, json_pack("{s:b}", "reloaded", 1));
			} else {
				snprintf(msg, sizeof(msg), "configuration rejected: %s", why);
				reply_error(resp, 422, msg);
			}
		}
	} else {
		reply_error(resp, 404, "no such endpoint");
	}
}
