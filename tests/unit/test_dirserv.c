/* SPDX-License-Identifier: MIT */
/*
 * The directory authority core (src/directory/dirserv*.c): descriptor uploads (accepted,
 * forged, stale, oversized, rate limited), restart keeps state (temp file), three authorities
 * exchanging votes and signatures through dirserv_handle() to one byte-identical consensus
 * that consensus_verify() accepts with 3 pins, ETag / 304, the relays JSON view, quorum (2 of
 * 3 still produce a consensus, 1 of 3 keeps the old one), and issuer key lists (verified
 * against the pinned issuer identity, the newest seq wins and survives a restart, voted on
 * and carried by the consensus).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/consensus.h"
#include "directory/dirclient.h"
#include "directory/dirserv.h"
#include "link/handshake.h"
#include "trust/issuer_doc.h"

enum {
	NOW = 1700000000,
	PUB = NOW - 600,
	CERT_PUB = NOW - 86400,
	CERT_EXP = NOW + 30 * 86400,
	VA = NOW,
	FU = NOW + 3600,
	VU = NOW + 3 * 3600,
	N_AUTH = 3,
	N_RELAY = 5,
};

static struct keys_ed25519 A[N_AUTH], S[N_AUTH], R[N_RELAY];
static struct keys_x25519 LK, ONION;
static struct auth_keyring KR[N_AUTH];
static uint8_t AUTH_IDS[N_AUTH][32];

static void
seed_key(struct keys_ed25519 *k, uint8_t v)
{
	uint8_t s[32];

	memset(s, v, sizeof(s));
	keys_ed25519_from_seed(k, s);
}

static int
setup(void **state)
{
	uint8_t s[32];
	struct auth_cert c;

	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	log_set_level(UM_LOG_ERR);
	for (int i = 0; i < N_AUTH; i++) {
		seed_key(&A[i], (uint8_t)(0xa0 + i));
		seed_key(&S[i], (uint8_t)(0xb0 + i));
		if (auth_cert_make(&c, &A[i], S[i].pk, CERT_PUB, CERT_EXP) != UM_OK ||
		    auth_keyring_init(&KR[i], &c) != UM_OK)
			return -1;
		memcpy(AUTH_IDS[i], A[i].pk, 32);
	}
	for (int i = 0; i < N_RELAY; i++)
		seed_key(&R[i], (uint8_t)(0x30 + i));
	memset(s, 0x02, sizeof(s));
	keys_x25519_from_secret(&LK, s);
	memset(s, 0x03, sizeof(s));
	keys_x25519_from_secret(&ONION, s);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_AUTH; i++) {
		keys_ed25519_clear(&A[i]);
		keys_ed25519_clear(&S[i]);
	}
	for (int i = 0; i < N_RELAY; i++)
		keys_ed25519_clear(&R[i]);
	keys_x25519_clear(&LK);
	keys_x25519_clear(&ONION);
	return 0;
}

/* Relay r's descriptor published at pub; roles by r (0,1: all; 2: middle; 3,4: entry+middle). */
static size_t
make_desc(uint8_t *out, size_t cap, int r, uint64_t pub)
{
	struct relay_desc d;
	struct link_identity li;
	struct wire_wr w = { out, cap, 0 };

	memset(&d, 0, sizeof(d));
	d.version = RELAY_DESC_VERSION;
	memcpy(d.identity, R[r].pk, 32);
	d.published_s = pub;
	d.expires_s = pub + RELAY_DESC_LIFETIME_MAX_S;
	snprintf(d.nickname, sizeof(d.nickname), "relay%d", r);
	d.roles = r < 2    ? RELAY_ROLE_ALL
	          : r == 2 ? RELAY_ROLE_MIDDLE
	                   : RELAY_ROLE_ENTRY | RELAY_ROLE_MIDDLE;
	link_identity_init(&li, &R[r], &LK, CERT_EXP);
	memcpy(d.link_key, LK.pk, 32);
	d.link_cert_expires_s = CERT_EXP;
	memcpy(d.link_cert_sig, li.cert_sig, 64);
	memcpy(d.onion_key, ONION.pk, 32);
	d.n_addrs = 1;
	d.addrs[0].type = RELAY_ADDR_IPV4;
	d.addrs[0].addr[0] = 127;
	d.addrs[0].addr[3] = 1;
	d.addrs[0].port = (uint16_t)(9001 + r);
	if (d.roles & RELAY_ROLE_EXIT) {
		d.policy4.kind = RELAY_POLICY_REJECT; /* accept all */
		d.policy6.kind = RELAY_POLICY_ACCEPT;
	} else {
		d.policy4.kind = RELAY_POLICY_ACCEPT;
		d.policy6.kind = RELAY_POLICY_ACCEPT;
	}
	d.bw = (struct relay_bw){ 200000, 400000, 150000 };
	memcpy(d.operator_id, R[r].pk, 32);
	strcpy(d.country, "DE");
	strcpy(d.region, "eu-central");
	d.geo_confidence = 50;
	d.scores = (struct relay_scores){ 9000, 9000, 5000, 0, 0, 0 };
	assert_int_equal(relay_desc_sign(&d, &R[r]), UM_OK);
	assert_int_equal(relay_desc_encode(&d, &w), UM_OK);
	return w.len;
}

static struct dirserv *
make_ds(int a, const char *path, uint32_t burst)
{
	struct dirserv_config cfg;
	struct dirserv *ds = NULL;
	char why[256] = "";

	dirserv_config_defaults(&cfg);
	cfg.db_path = path;
	cfg.keyring = &KR[a];
	cfg.signing = &S[a];
	cfg.n_authorities = N_AUTH;
	cfg.authorities = (const uint8_t(*)[32])AUTH_IDS;
	cfg.rate_burst = burst;
	cfg.stable_min_age_s = 0;
	cfg.fast_min_bw = 100000;
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_OK);
	assert_non_null(ds);
	return ds;
}

/* Run one request; returns the status, leaves the response in *resp (caller frees). */
static int
req(struct dirserv *ds, const char *method, const char *path, const char *inm, const uint8_t *body,
    size_t len, const char *src, uint64_t now, struct ev_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	dirserv_handle(ds, method, path, inm, body, len, src, now, resp);
	return resp->status;
}

static void
resp_free(struct ev_http_resp *resp)
{
	free(resp->body);
	free(resp->etag);
	memset(resp, 0, sizeof(*resp));
}

/* Status of one request, the response dropped; if err is not NULL, it must match. */
static int
req_status(struct dirserv *ds, const char *method, const char *path, const uint8_t *body,
           size_t len, const char *src, const char *err)
{
	struct ev_http_resp resp;
	int st = req(ds, method, path, NULL, body, len, src, NOW, &resp);

	if (err != NULL) {
		json_t *j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);

		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "error")), err);
		json_decref(j);
	}
	resp_free(&resp);
	return st;
}

static void
test_accept(void **state)
{
	struct dirserv *ds = make_ds(0, STORE_PATH_MEMORY, 100);
	uint8_t buf[RELAY_DESC_MAX_LEN + 8], old[RELAY_DESC_MAX_LEN];
	uint8_t digest[32];
	char path[128], hex[65];
	struct ev_http_resp resp;
	size_t len, old_len;
	json_t *j;

	(void)state;
	len = make_desc(buf, sizeof(buf), 0, PUB);
	assert_int_equal(req(ds, "POST", "/v1/desc", NULL, buf, len, "10.0.0.1", NOW, &resp), 200);
	j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
	relay_desc_digest(buf, len, digest);
	assert_int_equal(enc_hex(hex, sizeof(hex), digest, 32), UM_OK);
	assert_string_equal(json_string_value(json_object_get(j, "digest")), hex);
	json_decref(j);
	resp_free(&resp);
	/* Idempotent. */
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, len, "10.0.0.1", NULL), 200);
	/* Served by digest. */
	snprintf(path, sizeof(path), "/v1/desc/%s", hex);
	assert_int_equal(req(ds, "GET", path, NULL, NULL, 0, "x", NOW, &resp), 200);
	assert_int_equal(resp.body_len, len);
	assert_memory_equal(resp.body, buf, len);
	resp_free(&resp);
	hex[0] = hex[0] == '0' ? '1' : '0';
	snprintf(path, sizeof(path), "/v1/desc/%s", hex);
	assert_int_equal(req_status(ds, "GET", path, NULL, 0, "x", "not found"), 404);
	assert_int_equal(req_status(ds, "GET", "/v1/desc/zz", NULL, 0, "x", NULL), 400);

	/* Forged: one bit of the signature flipped. */
	len = make_desc(buf, sizeof(buf), 1, PUB);
	buf[len - 1] ^= 1;
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, len, "10.0.0.1", "bad signature"),
	                 400);
	/* Stale: older than the stored one for relay 0. */
	old_len = make_desc(old, sizeof(old), 0, PUB - 100);
	assert_int_equal(req_status(ds, "POST", "/v1/desc", old, old_len, "10.0.0.1",
	                            "stale: a newer descriptor is stored"),
	                 409);
	/* A newer one replaces it. */
	len = make_desc(buf, sizeof(buf), 0, PUB + 100);
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, len, "10.0.0.1", NULL), 200);
	/* Oversized: refused before parsing. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, RELAY_DESC_MAX_LEN + 1, "10.0.0.1",
	                            "too large"),
	                 413);
	/* Garbage, trailing bytes, expired. */
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, 10, "10.0.0.1", NULL), 400);
	len = make_desc(buf, sizeof(buf), 2, PUB);
	assert_int_equal(
	        req_status(ds, "POST", "/v1/desc", buf, len + 1, "10.0.0.1", "trailing bytes"),
	        400);
	len = make_desc(buf, sizeof(buf), 2, NOW - RELAY_DESC_LIFETIME_MAX_S - 10);
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, len, "10.0.0.1",
	                            "expired or not yet valid"),
	                 400);
	/* Routing. */
	assert_int_equal(req_status(ds, "PUT", "/v1/desc", NULL, 0, "x", NULL), 405);
	assert_int_equal(req_status(ds, "GET", "/v1/nope", NULL, 0, "x", NULL), 404);
	assert_int_equal(req_status(ds, "GET", "/v1/consensus", NULL, 0, "x", "no consensus yet"),
	                 404);
	dirserv_free(ds);
}

static void
test_rate_limit(void **state)
{
	struct dirserv *ds = make_ds(0, STORE_PATH_MEMORY, 3);
	uint8_t buf[RELAY_DESC_MAX_LEN];
	size_t len = make_desc(buf, sizeof(buf), 0, PUB);
	struct dirserv_accept_result res;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "10.0.0.9", NOW, &res),
		                 UM_OK);
	assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "10.0.0.9", NOW, &res),
	                 UM_ERR_RATELIMIT);
	assert_int_equal(res.http_status, 429);
	assert_int_equal(req_status(ds, "POST", "/v1/desc", buf, len, "10.0.0.9", "rate limited"),
	                 429);
	/* Another source has its own bucket; time refills this one (one token per 60 s). */
	assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "10.0.0.10", NOW, &res), UM_OK);
	assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "10.0.0.9", NOW + 60, &res),
	                 UM_OK);
	assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "10.0.0.9", NOW + 60, &res),
	                 UM_ERR_RATELIMIT);
	dirserv_free(ds);
}

static void
test_restart(void **state)
{
	char dir[] = "/tmp/test_dirserv.XXXXXX", path[256], p2[300];
	uint8_t buf[RELAY_DESC_MAX_LEN], digest[32], d1[32], d2[32];
	char hex[65], url[128];
	const uint8_t *cb;
	size_t len, cl;
	struct dirserv_config cfg;
	struct dirserv *ds;
	struct vote v;
	struct ev_http_resp resp;
	char why[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dir.db", dir);
	/* A one-authority network, so that one vote makes a consensus. */
	dirserv_config_defaults(&cfg);
	cfg.db_path = path;
	cfg.keyring = &KR[0];
	cfg.signing = &S[0];
	cfg.n_authorities = 1;
	cfg.authorities = (const uint8_t(*)[32])AUTH_IDS;
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_OK);
	len = make_desc(buf, sizeof(buf), 0, PUB);
	relay_desc_digest(buf, len, digest);
	assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "s", NOW, NULL), UM_OK);
	assert_int_equal(dirserv_reachability_set(ds, R[0].pk, NOW - 5), UM_OK);
	assert_int_equal(dirserv_build_vote(ds, VA, FU, VU, &v), UM_OK);
	assert_int_equal(v.n_relays, 1);
	assert_true(v.relays[0].flags & RELAY_FLAG_RUNNING);
	vote_clear(&v);
	assert_int_equal(dirserv_compute_consensus(ds, VA, FU, VU, NOW), UM_OK);
	assert_int_equal(dirserv_latest_consensus(ds, &cb, &cl, d1), UM_OK);
	dirserv_free(ds);

	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_OK);
	assert_int_equal(dirserv_latest_consensus(ds, &cb, &cl, d2), UM_OK);
	assert_memory_equal(d1, d2, 32);
	assert_int_equal(enc_hex(hex, sizeof(hex), digest, 32), UM_OK);
	snprintf(url, sizeof(url), "/v1/desc/%s", hex);
	assert_int_equal(req(ds, "GET", url, NULL, NULL, 0, "x", NOW, &resp), 200);
	assert_memory_equal(resp.body, buf, len);
	resp_free(&resp);
	snprintf(url, sizeof(url), "/v1/vote/%llu", (unsigned long long)VA);
	assert_int_equal(req_status(ds, "GET", url, NULL, 0, "x", NULL), 200);
	/* Without federation /v1/peers is an empty JSON view. */
	assert_int_equal(req(ds, "GET", "/v1/peers", NULL, NULL, 0, "x", NOW, &resp), 200);
	assert_true(strstr((const char *)resp.body, "\"peers\": []") != NULL ||
	            strstr((const char *)resp.body, "\"peers\":[]") != NULL);
	resp_free(&resp);
	/* Stale after restart too. */
	len = make_desc(buf, sizeof(buf), 0, PUB - 1);
	assert_int_equal(dirserv_accept_descriptor(ds, buf, len, "s", NOW, NULL), UM_ERR_STATE);
	dirserv_free(ds);
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	assert_int_equal(rmdir(dir), 0);
}

/* Every authority sends its vote for va to every other one through the HTTP API. */
static void
exchange_votes(struct dirserv **ds, const bool *up, uint64_t va)
{
	char path[64];
	struct ev_http_resp v;

	snprintf(path, sizeof(path), "/v1/vote/%llu", (unsigned long long)va);
	for (int a = 0; a < N_AUTH; a++) {
		if (!up[a])
			continue;
		assert_int_equal(req(ds[a], "GET", path, NULL, NULL, 0, "x", NOW, &v), 200);
		for (int b = 0; b < N_AUTH; b++)
			if (b != a && up[b])
				assert_int_equal(req_status(ds[b], "POST", "/v1/vote", v.body,
				                            v.body_len, "x", NULL),
				                 200);
		resp_free(&v);
	}
}

static json_t *
find_relay(json_t *relays, const char *nick)
{
	size_t i;
	json_t *r;

	json_array_foreach(relays, i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "nickname")), nick) == 0)
			return r;
	}
	return NULL;
}

static bool
has_flag(json_t *r, const char *flag)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(r, "flags"), i, f)
	{
		if (strcmp(json_string_value(f), flag) == 0)
			return true;
	}
	return false;
}

static void
test_three_authorities(void **state)
{
	struct dirserv *ds[N_AUTH];
	bool up[N_AUTH] = { true, true, true };
	uint8_t buf[RELAY_DESC_MAX_LEN], sig[DIRSERV_SIG_MSG_LEN];
	uint8_t dg[N_AUTH][32], old_dg[32];
	const uint8_t *cb[N_AUTH];
	size_t cl[N_AUTH], len;
	struct vote v;
	struct consensus c;
	struct pinned_authorities pins;
	struct consensus_verify_result vr;
	struct ev_http_resp resp;
	char etag[80], inm[100];
	json_t *j, *relays, *r;

	(void)state;
	for (int a = 0; a < N_AUTH; a++)
		ds[a] = make_ds(a, STORE_PATH_MEMORY, 100);
	/* Relays 0..3 upload to every authority, relay 4 to authority 0 only. */
	for (int i = 0; i < N_RELAY; i++) {
		len = make_desc(buf, sizeof(buf), i, PUB);
		for (int a = 0; a < (i == 4 ? 1 : N_AUTH); a++) {
			assert_int_equal(
			        req_status(ds[a], "POST", "/v1/desc", buf, len, "10.1.1.1", NULL),
			        200);
			/* Relays 0..2 answered the link handshake; relay 3 did not. */
			if (i < 3)
				assert_int_equal(dirserv_reachability_set(ds[a], R[i].pk, NOW - 60),
				                 UM_OK);
		}
	}
	for (int a = 0; a < N_AUTH; a++) {
		assert_int_equal(dirserv_build_vote(ds[a], VA, FU, VU, &v), UM_OK);
		assert_int_equal(v.n_relays, a == 0 ? 5 : 4);
		vote_clear(&v);
	}
	exchange_votes(ds, up, VA);
	/* A vote from an unknown authority, garbage, and a conflicting second vote. */
	assert_int_equal(req_status(ds[0], "POST", "/v1/vote", buf, 100, "x", NULL), 400);
	for (int a = 0; a < N_AUTH; a++) {
		assert_int_equal(dirserv_compute_consensus(ds[a], VA, FU, VU, NOW), UM_OK);
		assert_int_equal(dirserv_latest_consensus(ds[a], &cb[a], &cl[a], dg[a]), UM_OK);
	}
	/* Byte-identical signed parts. */
	consensus_init(&c);
	assert_int_equal(consensus_parse(cb[0], cl[0], &c), (ssize_t)cl[0]);
	for (int a = 1; a < N_AUTH; a++) {
		assert_memory_equal(dg[0], dg[a], 32);
		assert_memory_equal(cb[0], cb[a], c.signed_len);
	}
	assert_int_equal(c.n_relays, 4); /* relay 4 is listed by 1 of 3 only */
	assert_int_equal(c.n_sigs, 1);
	consensus_clear(&c);
	/* Cross-signing. */
	for (int a = 0; a < N_AUTH; a++) {
		assert_int_equal(dirserv_consensus_sig_encode(ds[a], dg[a], sig), UM_OK);
		for (int b = 0; b < N_AUTH; b++)
			if (b != a)
				assert_int_equal(req_status(ds[b], "POST", "/v1/consensus-sig", sig,
				                            sizeof(sig), "x", NULL),
				                 200);
	}
	/* A signature by a non-authority key and a truncated one are refused. */
	sig[DIR_DIGEST_LEN] ^= 1;
	assert_int_equal(
	        req_status(ds[0], "POST", "/v1/consensus-sig", sig, sizeof(sig), "x", NULL), 403);
	sig[DIR_DIGEST_LEN] ^= 1;
	sig[sizeof(sig) - 1] ^= 1;
	assert_int_equal(
	        req_status(ds[0], "POST", "/v1/consensus-sig", sig, sizeof(sig), "x", NULL), 403);
	assert_int_equal(req_status(ds[0], "POST", "/v1/consensus-sig", sig, 10, "x", NULL), 400);
	for (int a = 0; a < N_AUTH; a++)
		assert_int_equal(dirserv_latest_consensus(ds[a], &cb[a], &cl[a], dg[a]), UM_OK);
	for (int a = 1; a < N_AUTH; a++) {
		assert_int_equal(cl[0], cl[a]);
		assert_memory_equal(cb[0], cb[a], cl[0]);
	}
	consensus_init(&c);
	assert_int_equal(consensus_parse(cb[0], cl[0], &c), (ssize_t)cl[0]);
	assert_int_equal(c.n_sigs, 3);
	memset(&pins, 0, sizeof(pins));
	pins.n = N_AUTH;
	memcpy(pins.ids, AUTH_IDS, sizeof(AUTH_IDS));
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 3, NOW, &vr), UM_OK);
	assert_int_equal(vr.n_signed, 3);
	consensus_clear(&c);

	/* ETag and 304. */
	assert_int_equal(req(ds[1], "GET", "/v1/consensus", NULL, NULL, 0, "x", NOW, &resp), 200);
	assert_string_equal(resp.content_type, "application/octet-stream");
	assert_int_equal(resp.body_len, cl[0]);
	assert_memory_equal(resp.body, cb[0], cl[0]);
	assert_non_null(resp.etag);
	snprintf(etag, sizeof(etag), "%s", resp.etag);
	resp_free(&resp);
	assert_int_equal(req(ds[1], "GET", "/v1/consensus", etag, NULL, 0, "x", NOW, &resp), 304);
	assert_null(resp.body);
	resp_free(&resp);
	snprintf(inm, sizeof(inm), "\"00\", W/%s", etag);
	assert_int_equal(req_status(ds[1], "GET", "/v1/consensus", NULL, 0, "x", NULL), 200);
	assert_int_equal(req(ds[1], "GET", "/v1/consensus", inm, NULL, 0, "x", NOW, &resp), 304);
	resp_free(&resp);
	assert_int_equal(req(ds[1], "GET", "/v1/consensus", "\"00\"", NULL, 0, "x", NOW, &resp),
	                 200);
	resp_free(&resp);

	/* The relays view. */
	assert_int_equal(req(ds[2], "GET", "/v1/relays", NULL, NULL, 0, "x", NOW, &resp), 200);
	j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
	assert_non_null(j);
	relays = json_object_get(j, "relays");
	assert_int_equal(json_array_size(relays), 4);
	assert_null(find_relay(relays, "relay4"));
	assert_non_null(r = find_relay(relays, "relay0"));
	assert_true(has_flag(r, "Running") && has_flag(r, "Valid") && has_flag(r, "Exit") &&
	            has_flag(r, "Guard") && has_flag(r, "Middle") && has_flag(r, "Stable") &&
	            has_flag(r, "Fast"));
	assert_string_equal(json_string_value(json_object_get(r, "country")), "DE");
	assert_int_equal(json_integer_value(json_object_get(r, "bandwidth")), 150000);
	assert_non_null(r = find_relay(relays, "relay2"));
	assert_true(has_flag(r, "Running") && has_flag(r, "Middle"));
	assert_false(has_flag(r, "Exit") || has_flag(r, "Guard"));
	assert_non_null(r = find_relay(relays, "relay3"));
	assert_true(has_flag(r, "Valid") && has_flag(r, "Guard"));
	assert_false(has_flag(r, "Running") || has_flag(r, "Stable"));
	json_decref(j);
	resp_free(&resp);
	assert_int_equal(req(ds[0], "GET", "/v1/authorities", NULL, NULL, 0, "x", NOW, &resp), 200);
	j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "authorities")), 3);
	json_decref(j);
	{
		/* What clients pin from (`umbra dir pin URL`, TOFU) reads exactly this. */
		struct dirclient_authorities *au = calloc(1, sizeof(*au));

		assert_int_equal(dirclient_authorities_parse(resp.body, resp.body_len, au), UM_OK);
		assert_int_equal(au->n, 3);
		assert_true(au->n_certs >= 3);
		free(au);
	}
	resp_free(&resp);

	/* Next period: authority 2 is down. 2 of 3 still make a consensus. */
	up[2] = false;
	for (int a = 0; a < 2; a++) {
		assert_int_equal(dirserv_build_vote(ds[a], VA + 3600, FU + 3600, VU + 3600, &v),
		                 UM_OK);
		vote_clear(&v);
	}
	exchange_votes(ds, up, VA + 3600);
	for (int a = 0; a < 2; a++) {
		assert_int_equal(
		        dirserv_compute_consensus(ds[a], VA + 3600, FU + 3600, VU + 3600, NOW + 60),
		        UM_OK);
		assert_int_equal(dirserv_latest_consensus(ds[a], &cb[a], &cl[a], dg[a]), UM_OK);
	}
	assert_memory_equal(dg[0], dg[1], 32);
	consensus_init(&c);
	assert_int_equal(consensus_parse(cb[0], cl[0], &c), (ssize_t)cl[0]);
	assert_int_equal(c.valid_after_s, VA + 3600);
	assert_int_equal(c.n_auths, 2);
	consensus_clear(&c);
	/* Authority 2 alone (1 of 3): a split, the old consensus stays. */
	assert_int_equal(dirserv_latest_consensus(ds[2], &cb[2], &cl[2], old_dg), UM_OK);
	assert_int_equal(dirserv_build_vote(ds[2], VA + 3600, FU + 3600, VU + 3600, &v), UM_OK);
	vote_clear(&v);
	assert_int_equal(
	        dirserv_compute_consensus(ds[2], VA + 3600, FU + 3600, VU + 3600, NOW + 60),
	        UM_ERR_STATE);
	assert_int_equal(dirserv_latest_consensus(ds[2], &cb[2], &cl[2], dg[2]), UM_OK);
	assert_memory_equal(dg[2], old_dg, 32);
	for (int a = 0; a < N_AUTH; a++)
		dirserv_free(ds[a]);
}

/* ---- issuer key lists ---- */

/* What the application wires (app/dir_node.c): trust/issuer_doc.h's whole check. */
static int
keys_check(void *arg, const uint8_t identity[32], const uint8_t *doc, size_t len, uint64_t now_s,
           uint64_t *seq)
{
	struct issuer_keys *k = calloc(1, sizeof(*k));
	int ret;

	assert_non_null(k);
	(*(int *)arg)++;
	*seq = 0;
	if ((ret = issuer_keys_parse_verify(doc, len, identity, now_s, k)) == UM_OK)
		*seq = k->seq;
	free(k);
	return ret;
}

/* A key list signed by signer: seq, published, one (tier 1, epoch) key. */
static size_t
keylist(uint8_t *out, size_t cap, const struct keys_ed25519 *signer, uint64_t seq,
        uint64_t published, uint32_t epoch)
{
	struct issuer_keys *d = calloc(1, sizeof(*d));
	uint8_t spki[80];
	struct wire_wr w = { out, cap, 0 };

	assert_non_null(d);
	memset(spki, 0x30 + (int)epoch, sizeof(spki));
	d->version = ISSUER_DOC_VERSION;
	d->seq = seq;
	d->published_s = published;
	d->key_epoch = epoch;
	d->min_token_epoch = epoch;
	d->n = 1;
	d->keys[0] = (struct issuer_key_entry){ 1, epoch, NOW + 86400, spki, sizeof(spki) };
	assert_int_equal(issuer_keys_sign(d, signer), UM_OK);
	assert_int_equal(issuer_keys_encode(d, &w), UM_OK);
	free(d);
	return w.len;
}

static struct dirserv *
make_issuer_ds(const char *path, size_t n_issuers, const uint8_t (*issuers)[32], int *calls)
{
	struct dirserv_config cfg;
	struct dirserv *ds = NULL;
	char why[256] = "";

	dirserv_config_defaults(&cfg);
	cfg.db_path = path;
	cfg.keyring = &KR[0];
	cfg.signing = &S[0];
	cfg.n_authorities = 1;
	cfg.authorities = (const uint8_t(*)[32])AUTH_IDS;
	cfg.n_issuers = n_issuers;
	cfg.issuers = issuers;
	cfg.issuer_verify = keys_check;
	cfg.issuer_verify_arg = calls;
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_OK);
	return ds;
}

static void
test_issuer_keys(void **state)
{
	char dir[] = "/tmp/test_dirserv_iss.XXXXXX", path[256], p2[300], why[256];
	struct keys_ed25519 I, X, J;
	uint8_t ids[2][32], doc[1024], doc6[1024], big[DIR_ISSUER_DOC_MAX_LEN + 1];
	uint8_t *got = NULL;
	size_t len, len6, got_len;
	uint64_t seq = 0;
	bool stored = false;
	int calls = 0;
	struct dirserv_config cfg;
	struct dirserv *ds;
	struct vote v;
	struct consensus c;
	const uint8_t *cb, *cdoc;
	size_t cl, cdoc_len;

	(void)state;
	seed_key(&I, 0x60);
	seed_key(&X, 0x61);
	seed_key(&J, 0x62);
	memcpy(ids[0], I.pk, 32);
	memcpy(ids[1], J.pk, 32);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dir.db", dir);
	ds = make_issuer_ds(path, 1, (const uint8_t(*)[32])ids, &calls);

	/* Nothing yet: the vote has no issuer section entries. */
	assert_int_equal(dirserv_build_vote(ds, VA, FU, VU, &v), UM_OK);
	assert_int_equal(v.issuers.n, 0);
	vote_clear(&v);
	assert_int_equal(dirserv_issuer_keys_get(ds, I.pk, &got, &got_len, &seq), UM_ERR_NOT_FOUND);

	/* The first valid list is stored; the same bytes again change nothing. */
	len = keylist(doc, sizeof(doc), &I, 5, NOW - 60, 2);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc, len, NOW, &seq, &stored), UM_OK);
	assert_int_equal(seq, 5);
	assert_true(stored);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc, len, NOW, &seq, &stored), UM_OK);
	assert_false(stored);
	/* Stale: a lower seq, or the same seq with other bytes, never replaces it. */
	len6 = keylist(doc6, sizeof(doc6), &I, 4, NOW, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6, NOW, &seq, &stored),
	                 UM_ERR_STATE);
	assert_int_equal(seq, 4);
	assert_false(stored);
	len6 = keylist(doc6, sizeof(doc6), &I, 5, NOW, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6, NOW, NULL, NULL),
	                 UM_ERR_STATE);
	/* Forged (a bit of a key flipped), signed by another key, for another issuer: refused
	 * by the check, before anything is compared or stored. */
	len6 = keylist(doc6, sizeof(doc6), &I, 9, NOW, 3);
	doc6[len6 - 70] ^= 1;
	calls = 0;
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6, NOW, NULL, NULL),
	                 UM_ERR_AUTH);
	assert_int_equal(calls, 1);
	len6 = keylist(doc6, sizeof(doc6), &X, 9, NOW, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6, NOW, NULL, NULL),
	                 UM_ERR_AUTH);
	len6 = keylist(doc6, sizeof(doc6), &J, 9, NOW, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, J.pk, doc6, len6, NOW, NULL, NULL),
	                 UM_ERR_NOT_FOUND);
	assert_int_equal(calls, 2); /* an issuer not configured costs no check */
	/* Future-dated, garbage, trailing bytes, oversized. */
	len6 = keylist(doc6, sizeof(doc6), &I, 9, NOW + ISSUER_DOC_CLOCK_SKEW_S + 1, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6, NOW, NULL, NULL),
	                 UM_ERR_EXPIRED);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, 10, NOW, NULL, NULL),
	                 UM_ERR_TRUNCATED);
	len6 = keylist(doc6, sizeof(doc6), &I, 9, NOW, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6 + 1, NOW, NULL, NULL),
	                 UM_ERR_MALFORMED);
	memset(big, 0, sizeof(big));
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, big, sizeof(big), NOW, NULL, NULL),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, NULL, 0, NOW, NULL, NULL),
	                 UM_ERR_MALFORMED);
	/* Still seq 5. */
	assert_int_equal(dirserv_issuer_keys_get(ds, I.pk, &got, &got_len, &seq), UM_OK);
	assert_int_equal(seq, 5);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, doc, len);
	free(got);
	/* A newer one replaces it. */
	len6 = keylist(doc6, sizeof(doc6), &I, 6, NOW, 3);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc6, len6, NOW, &seq, &stored), UM_OK);
	assert_true(stored);
	assert_int_equal(seq, 6);
	dirserv_free(ds);

	/* After a restart: seq 6 is kept, seq 5 is still stale, the vote carries seq 6, and so
	 * does the consensus of this one-authority network. */
	ds = make_issuer_ds(path, 1, (const uint8_t(*)[32])ids, &calls);
	assert_int_equal(dirserv_issuer_keys_get(ds, I.pk, &got, &got_len, &seq), UM_OK);
	assert_int_equal(seq, 6);
	free(got);
	assert_int_equal(dirserv_add_issuer_keys(ds, I.pk, doc, len, NOW, NULL, NULL),
	                 UM_ERR_STATE);
	assert_int_equal(dirserv_build_vote(ds, VA, FU, VU, &v), UM_OK);
	assert_int_equal(v.issuers.n, 1);
	assert_memory_equal(v.issuers.v[0].identity, I.pk, 32);
	assert_int_equal(v.issuers.v[0].len, len6);
	assert_memory_equal(v.issuers.v[0].doc, doc6, len6);
	vote_clear(&v);
	assert_int_equal(dirserv_compute_consensus(ds, VA, FU, VU, NOW), UM_OK);
	assert_int_equal(dirserv_latest_consensus(ds, &cb, &cl, NULL), UM_OK);
	assert_int_equal(consensus_parse(cb, cl, &c), (ssize_t)cl);
	assert_int_equal(consensus_n_issuers(&c), 1);
	assert_int_equal(consensus_issuer_find(&c, I.pk, &cdoc, &cdoc_len), UM_OK);
	assert_int_equal(cdoc_len, len6);
	assert_memory_equal(cdoc, doc6, len6);
	{
		struct issuer_keys *k = calloc(1, sizeof(*k));

		assert_non_null(k);
		assert_int_equal(issuer_keys_parse_verify(cdoc, cdoc_len, I.pk, NOW, k), UM_OK);
		assert_int_equal(k->seq, 6);
		free(k);
	}
	consensus_clear(&c);
	dirserv_free(ds);

	/* An issuer dropped from the configuration is neither served nor voted on. */
	ds = make_issuer_ds(path, 1, (const uint8_t(*)[32])ids + 1, &calls);
	assert_int_equal(dirserv_issuer_keys_get(ds, I.pk, &got, &got_len, &seq), UM_ERR_NOT_FOUND);
	assert_int_equal(dirserv_build_vote(ds, VA + 3600, FU + 3600, VU + 3600, &v), UM_OK);
	assert_int_equal(v.issuers.n, 0);
	vote_clear(&v);
	dirserv_free(ds);

	/* Configuration: issuers need the check, each once, at most 8. */
	dirserv_config_defaults(&cfg);
	cfg.db_path = STORE_PATH_MEMORY;
	cfg.keyring = &KR[0];
	cfg.signing = &S[0];
	cfg.n_authorities = 1;
	cfg.authorities = (const uint8_t(*)[32])AUTH_IDS;
	cfg.n_issuers = 1;
	cfg.issuers = (const uint8_t(*)[32])ids;
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_ERR_INVALID);
	cfg.issuer_verify = keys_check;
	memcpy(ids[1], ids[0], 32);
	cfg.n_issuers = 2;
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_ERR_INVALID);
	cfg.n_issuers = DIR_MAX_ISSUERS + 1;
	assert_int_equal(dirserv_new(&cfg, &ds, why, sizeof(why)), UM_ERR_INVALID);

	keys_ed25519_clear(&I);
	keys_ed25519_clear(&X);
	keys_ed25519_clear(&J);
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),      cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_restart),     cmocka_unit_test(test_three_authorities),
		cmocka_unit_test(test_issuer_keys),
	};

	return cmocka_run_group_tests_name("dirserv", tests, setup, teardown);
}
