/* SPDX-License-Identifier: MIT */
/*
 * The authority's HTTP API, pure (no sockets): dirserv_handle() routes one request and fills
 * the response. Every input is capped before it is read and every error is JSON
 * {"error": reason}; fuzz/fuzz_dirserv.c runs it on arbitrary methods, paths and bodies.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "directory/dirfed.h"
#include "directory/dirserv_st.h"

static void
reply_bytes(struct ev_http_resp *resp, const uint8_t *p, size_t len)
{
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body = um_xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(resp->body, p, len);
	resp->body_len = len;
}

/* Reply with a malloc'd buffer, taking ownership. */
static void
reply_owned(struct ev_http_resp *resp, uint8_t *p, size_t len)
{
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body = p;
	resp->body_len = len;
}

static json_t *
hex_json(const uint8_t *p, size_t n)
{
	char hex[HEX_LEN(AUTHCERT_LEN)];

	if (n > AUTHCERT_LEN || enc_hex(hex, sizeof(hex), p, n) != UM_OK)
		return json_null();
	return json_string(hex);
}

static json_t *
id_json(const uint8_t id[32])
{
	char b32[BASE32_LEN(32)];

	if (enc_base32(b32, sizeof(b32), id, 32) != UM_OK)
		return json_null();
	return json_string(b32);
}

/* An error code of the core to an HTTP status and reason. */
static void
reply_err(struct ev_http_resp *resp, int err)
{
	switch (err) {
	case UM_ERR_TOO_LARGE:
		ev_http_resp_error(resp, 413, "too large");
		break;
	case UM_ERR_RATELIMIT:
		ev_http_resp_error(resp, 429, "rate limited");
		break;
	case UM_ERR_NOT_FOUND:
		ev_http_resp_error(resp, 404, "not found");
		break;
	case UM_ERR_AUTH:
		ev_http_resp_error(resp, 403, "not signed by a configured authority");
		break;
	case UM_ERR_EXISTS:
		ev_http_resp_error(resp, 409, "conflicting document already stored");
		break;
	case UM_ERR_EXPIRED:
		ev_http_resp_error(resp, 400, "expired or not yet valid");
		break;
	case UM_ERR_TRAILING:
		ev_http_resp_error(resp, 400, "trailing bytes");
		break;
	case UM_ERR_MALFORMED:
	case UM_ERR_TRUNCATED:
	case UM_ERR_INVALID:
		ev_http_resp_error(resp, 400, "malformed");
		break;
	case UM_ERR_STATE:
		ev_http_resp_error(resp, 409, "wrong state");
		break;
	default:
		ev_http_resp_error(resp, 500, "internal");
		break;
	}
}

/* ---- If-None-Match ---- */

/* Does the header (a list of entity tags, maybe weak, or "*") name tag (bare hex)? */
static bool
etag_matches(const char *hdr, const char *tag)
{
	size_t tag_len = strlen(tag);
	const char *p = hdr;

	while (*p != '\0') {
		const char *start, *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - start == 1 && *start == '*')
			return true;
		if (end - start >= 2 && start[0] == 'W' && start[1] == '/')
			start += 2;
		if (end - start >= 2 && *start == '"' && end[-1] == '"') {
			start++;
			end--;
		}
		if ((size_t)(end - start) == tag_len && strncasecmp(start, tag, tag_len) == 0)
			return true;
	}
	return false;
}

/*
 * The latest consensus and its quoted ETag in resp->etag; false (resp set to 404 or 500)
 * when there is none.
 */
static bool
latest_with_etag(struct dirserv *ds, struct ev_http_resp *resp, const uint8_t **bytes, size_t *len,
                 char hex[HEX_LEN(DIR_DIGEST_LEN)])
{
	uint8_t digest[DIR_DIGEST_LEN];

	if (dirserv_latest_consensus(ds, bytes, len, digest) != UM_OK) {
		ev_http_resp_error(resp, 404, "no consensus yet");
		return false;
	}
	if (enc_hex(hex, HEX_LEN(DIR_DIGEST_LEN), digest, sizeof(digest)) != UM_OK) {
		ev_http_resp_error(resp, 500, "internal");
		return false;
	}
	resp->etag = um_xasprintf("\"%s\"", hex);
	return true;
}

static void
handle_get_consensus(struct dirserv *ds, const char *if_none_match, struct ev_http_resp *resp)
{
	const uint8_t *bytes;
	size_t len;
	char hex[HEX_LEN(DIR_DIGEST_LEN)];

	if (!latest_with_etag(ds, resp, &bytes, &len, hex))
		return;
	if (if_none_match != NULL && strlen(if_none_match) <= 4096 &&
	    etag_matches(if_none_match, hex)) {
		resp->status = 304;
		resp->content_type = "application/octet-stream";
		return;
	}
	reply_bytes(resp, bytes, len);
}

static bool
parse_digest(const char *s, uint8_t out[32])
{
	return strlen(s) == 64 && dec_hex(out, 32, s, 64) == 32;
}

/*
 * GET /v1/consensus/diff/<from>: 304 when <from> is the latest, a diff from it when we
 * still hold it (content type CDIFF_CONTENT_TYPE), else the whole latest document.
 */
static void
handle_get_consensus_diff(struct dirserv *ds, const char *arg, const char *if_none_match,
                          struct ev_http_resp *resp)
{
	uint8_t from[DIR_DIGEST_LEN];
	const uint8_t *bytes;
	size_t len;
	int ret;

	if (!parse_digest(arg, from)) {
		ev_http_resp_error(resp, 400, "bad digest");
		return;
	}
	char hex[HEX_LEN(DIR_DIGEST_LEN)];
	const uint8_t *latest;
	size_t latest_len;

	ret = dirserv_consensus_diff(ds, from, &bytes, &len);
	if ((ret == UM_OK || ret == UM_ERR_EXISTS) &&
	    !latest_with_etag(ds, resp, &latest, &latest_len, hex))
		return;
	if (ret == UM_OK) {
		reply_bytes(resp, bytes, len);
		resp->content_type = DIRSERV_CDIFF_CONTENT_TYPE;
		return;
	}
	if (ret == UM_ERR_EXISTS) {
		/* The client holds the latest: 304 whatever If-None-Match said. */
		resp->status = 304;
		resp->content_type = "application/octet-stream";
		return;
	}
	if (ret != UM_ERR_NOT_FOUND)
		log_info(LD_DIR, "cannot make a consensus diff: %s", um_err_str(ret));
	handle_get_consensus(ds, if_none_match, resp);
}

static bool
parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (*s == '\0' || strlen(s) > 20)
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return true;
}

static void
handle_get_desc(struct dirserv *ds, const char *hex, struct ev_http_resp *resp)
{
	uint8_t digest[32];
	uint8_t *blob = NULL;
	size_t len = 0;
	int ret;

	if (!parse_digest(hex, digest)) {
		ev_http_resp_error(resp, 400, "bad digest: 64 hex digits");
		return;
	}
	if ((ret = dirserv_db_desc_get(ds, digest, &blob, &len)) != UM_OK) {
		reply_err(resp, ret);
		return;
	}
	reply_owned(resp, blob, len);
}

static void
handle_provider_upsert(struct dirserv *ds, const uint8_t *body, size_t len, const char *source,
                       uint64_t now_s, struct ev_http_resp *resp)
{
	struct dirserv_accept_result res;
	char hex[HEX_LEN(RELAY_DESC_DIGEST_LEN)];

	if (dirserv_provider_upsert(ds, body, len, source, now_s, &res) != UM_OK) {
		ev_http_resp_error(resp, res.http_status, res.reason);
		return;
	}
	if (enc_hex(hex, sizeof(hex), res.digest, sizeof(res.digest)) != UM_OK) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 200, json_pack("{s:s, s:b}", "digest", hex, "bound", 1));
}

static void
handle_post_desc(struct dirserv *ds, const uint8_t *body, size_t len, const char *source,
                 uint64_t now_s, struct ev_http_resp *resp)
{
	struct dirserv_accept_result res;
	char hex[HEX_LEN(RELAY_DESC_DIGEST_LEN)];

	if (dirserv_accept_descriptor(ds, body, len, source, now_s, &res) != UM_OK) {
		ev_http_resp_error(resp, res.http_status, res.reason);
		return;
	}
	if (enc_hex(hex, sizeof(hex), res.digest, sizeof(res.digest)) != UM_OK) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 200, json_pack("{s:s}", "digest", hex));
}

static void
handle_get_vote(struct dirserv *ds, const char *arg, struct ev_http_resp *resp)
{
	uint64_t va;
	uint8_t *blob = NULL;
	size_t len = 0;
	int ret;

	if (!parse_u64(arg, &va) || va > INT64_MAX) {
		ev_http_resp_error(resp, 400, "bad period: decimal valid_after");
		return;
	}
	if ((ret = dirserv_db_vote_get(ds, va, ds->keyring.identity, &blob, &len)) != UM_OK) {
		reply_err(resp, ret);
		return;
	}
	reply_owned(resp, blob, len);
}

/* ---- JSON views ---- */

static const char *const flag_names[RELAY_FLAG_N] = {
	"Running", "Valid", "Guard",   "Middle", "Exit",
	"Stable",  "Fast",  "BadExit", "Bonded", "Disputed",
};

static json_t *
addr_json(const struct relay_addr *a)
{
	char ip[INET6_ADDRSTRLEN];
	char out[INET6_ADDRSTRLEN + 10];

	if (inet_ntop(a->type == RELAY_ADDR_IPV4 ? AF_INET : AF_INET6, a->addr, ip, sizeof(ip)) ==
	    NULL)
		return json_null();
	snprintf(out, sizeof(out), a->type == RELAY_ADDR_IPV4 ? "%s:%u" : "[%s]:%u", ip,
	         (unsigned)a->port);
	return json_string(out);
}

static json_t *
relay_json(const struct relay_entry *e)
{
	json_t *roles = json_array(), *flags = json_array(), *addrs = json_array();
	json_t *j;

	if (e->roles & RELAY_ROLE_ENTRY)
		json_array_append_new(roles, json_string("entry"));
	if (e->roles & RELAY_ROLE_MIDDLE)
		json_array_append_new(roles, json_string("middle"));
	if (e->roles & RELAY_ROLE_EXIT)
		json_array_append_new(roles, json_string("exit"));
	for (unsigned i = 0; i < RELAY_FLAG_N; i++)
		if (e->flags & (1u << i))
			json_array_append_new(flags, json_string(flag_names[i]));
	for (unsigned i = 0; i < e->n_addrs && i < RELAY_DESC_MAX_ADDRS; i++)
		json_array_append_new(addrs, addr_json(&e->addrs[i]));
	j = json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:s, s:s, s:o, s:I, s:i, s:{s:i, s:i, s:i, "
	              "s:i, s:i, s:i}}",
	              "id", id_json(e->identity), "digest", hex_json(e->desc_digest, 32),
	              "nickname", e->nickname, "roles", roles, "flags", flags, "addrs", addrs,
	              "country", e->country, "region", e->region, "operator",
	              id_json(e->operator_id), "bandwidth", (json_int_t)e->measured_bw,
	              "geo_confidence", (int)e->geo_confidence, "scores", "reputation",
	              (int)e->scores.reputation, "uptime", (int)e->scores.uptime, "capacity",
	              (int)e->scores.capacity, "abuse_penalty", (int)e->scores.abuse_penalty,
	              "bond", (int)e->scores.bond, "stake", (int)e->scores.stake);
	if (j != NULL)
		json_object_set_new(j, "onion_key", hex_json(e->onion_key, RELAY_DESC_KEY_LEN));
	return j;
}

/* {"consensus": {...} or null, "relays": [...]} for c (NULL: no consensus). */
static json_t *
relays_doc(const struct consensus *c)
{
	json_t *arr = json_array();
	json_t *cons = json_null();

	if (c != NULL) {
		for (size_t i = 0; i < c->n_relays; i++) {
			json_t *r = relay_json(&c->relays[i]);

			if (r == NULL) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, r);
		}
		cons = json_pack("{s:o, s:I, s:I, s:I, s:i}", "digest",
		                 hex_json(c->digest, DIR_DIGEST_LEN), "valid_after",
		                 (json_int_t)c->valid_after_s, "fresh_until",
		                 (json_int_t)c->fresh_until_s, "valid_until",
		                 (json_int_t)c->valid_until_s, "signatures", (int)c->n_sigs);
	}
	return json_pack("{s:o, s:o}", "consensus", cons, "relays", arr);
}

char *
dirserv_relays_json(const struct consensus *c)
{
	json_t *j = relays_doc(c);
	char *s;

	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static void
handle_relays(struct dirserv *ds, struct ev_http_resp *resp)
{
	json_t *j = relays_doc(ds->has_cons ? &ds->cons : NULL);

	if (j == NULL) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 200, j);
}

static json_t *
cert_json(const struct auth_cert *c)
{
	uint8_t buf[AUTHCERT_LEN];
	struct wire_wr w = { buf, sizeof(buf), 0 };

	if (auth_cert_encode(c, &w) != UM_OK || w.len != AUTHCERT_LEN)
		return json_null();
	return json_pack("{s:o, s:I, s:I, s:o}", "signing_key", id_json(c->signing_key),
	                 "published", (json_int_t)c->published_s, "expires",
	                 (json_int_t)c->expires_s, "cert", hex_json(buf, AUTHCERT_LEN));
}

static void
handle_authorities(struct dirserv *ds, struct ev_http_resp *resp)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < ds->n_auths; i++) {
		bool self = memcmp(ds->auths[i], ds->keyring.identity, AUTHCERT_ID_LEN) == 0;
		json_t *certs = json_array();

		if (self) {
			for (size_t k = 0; k < ds->keyring.n_certs && k < AUTH_KEYRING_MAX; k++)
				json_array_append_new(certs, cert_json(&ds->keyring.certs[k]));
		} else if (ds->has_cons) {
			for (size_t k = 0; k < ds->cons.n_auths && k < CONS_MAX_AUTHORITIES; k++)
				if (memcmp(ds->cons.auths[k].identity, ds->auths[i],
				           AUTHCERT_ID_LEN) == 0)
					json_array_append_new(certs, cert_json(&ds->cons.auths[k]));
		}
		json_array_append_new(arr, json_pack("{s:o, s:b, s:o}", "identity",
		                                     id_json(ds->auths[i]), "self", self, "certs",
		                                     certs));
	}
	ev_http_resp_json(resp, 200, json_pack("{s:o}", "authorities", arr));
}

/* ---- routing ---- */

static const char *
strip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

void
dirserv_handle(struct dirserv *ds, const char *method, const char *path, const char *if_none_match,
               const uint8_t *body, size_t len, const char *source_key, uint64_t now_s,
               struct ev_http_resp *resp)
{
	bool get, post;
	const char *arg;
	int ret;

	resp->status = 500;
	resp->content_type = "application/json";
	resp->body = NULL;
	resp->body_len = 0;
	resp->etag = NULL;
	if (ds == NULL || method == NULL || path == NULL) {
		ev_http_resp_error(resp, 400, "bad request");
		return;
	}
	if (body == NULL)
		len = 0;
	if (strlen(path) > DIRSERV_PATH_MAX) {
		ev_http_resp_error(resp, 414, "path too long");
		return;
	}
	get = strcmp(method, "GET") == 0;
	post = strcmp(method, "POST") == 0;
	if (!get && !post) {
		ev_http_resp_error(resp, 405, "method not allowed");
		return;
	}
	/* Federation routes (dirfed.h): served by the attached core, or not at all. */
	if (ds->fed != NULL &&
	    dirfed_handle(ds->fed, method, path, if_none_match, body, len, source_key, now_s, resp))
		return;
	if (strcmp(path, "/v1/consensus") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_get_consensus(ds, if_none_match, resp);
	} else if ((arg = strip_prefix(path, "/v1/consensus/diff/")) != NULL) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_get_consensus_diff(ds, arg, if_none_match, resp);
	} else if (strcmp(path, "/v1/desc") == 0) {
		if (!post)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_post_desc(ds, body, len, source_key, now_s, resp);
	} else if (strcmp(path, "/v1/provider/relay/upsert") == 0) {
		if (!post)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_provider_upsert(ds, body, len, source_key, now_s, resp);
	} else if ((arg = strip_prefix(path, "/v1/desc/")) != NULL) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_get_desc(ds, arg, resp);
	} else if (strcmp(path, "/v1/vote") == 0) {
		if (!post) {
			ev_http_resp_error(resp, 405, "method not allowed");
		} else if ((ret = dirserv_add_vote(ds, body, len, now_s)) != UM_OK) {
			reply_err(resp, ret);
		} else {
			ev_http_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
		}
	} else if ((arg = strip_prefix(path, "/v1/vote/")) != NULL) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_get_vote(ds, arg, resp);
	} else if (strcmp(path, "/v1/consensus-sig") == 0) {
		if (!post) {
			ev_http_resp_error(resp, 405, "method not allowed");
		} else if ((ret = dirserv_add_consensus_sig(ds, body, len, now_s)) != UM_OK) {
			reply_err(resp, ret);
		} else {
			ev_http_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
		}
	} else if (strcmp(path, "/v1/relays") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_relays(ds, resp);
	} else if (strcmp(path, "/v1/authorities") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			handle_authorities(ds, resp);
	} else if (strcmp(path, "/v1/peers") == 0) {
		/* Without federation there are no peers to show. */
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else
			ev_http_resp_json(
			        resp, 200,
			        json_pack("{s:n, s:s, s:[]}", "operator", "feed", "", "peers"));
	} else if (strcmp(path, "/v1/peers/feed") == 0 || strcmp(path, "/v1/descs") == 0 ||
	           strcmp(path, "/v1/gossip/desc") == 0) {
		ev_http_resp_error(resp, 404, "federation is not enabled on this directory");
	} else {
		ev_http_resp_error(resp, 404, "no such endpoint");
	}
}
