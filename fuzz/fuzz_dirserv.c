/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the directory authority's request handling (dirserv_handle()). Input: the first byte
 * picks the method (GET, POST, PUT, DELETE; bit 2 adds If-None-Match: *, bit 3 the served
 * ETag), the bytes up to a NUL are the path, the rest is the body. One in-memory dirserv (a
 * one-authority network with a consensus already computed, carrying one issuer key list, and
 * a federation core attached, so GET /v1/peers, GET /v1/descs and POST /v1/gossip/desc are
 * reached) is made once. Every reply must carry a status in 200..599; JSON bodies must
 * parse, and every error must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/dirfed.h"
#include "directory/dirserv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1700000000 };

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
static struct dirserv *ds;
static struct dirfed *fed; /* the federation routes (dirfed.h) */
static char etag[80];

/* The issuer check an application supplies (dir_issuer_verify_fn); key lists are opaque to
 * the directory, so this stand-in takes any blob and calls its length the seq. */
static int
any_keys(void *arg, const uint8_t identity[32], const uint8_t *doc, size_t len, uint64_t now_s,
         uint64_t *seq)
{
	(void)arg;
	(void)identity;
	(void)doc;
	(void)now_s;
	*seq = len;
	return UM_OK;
}

static void
init_once(void)
{
	struct keys_ed25519 id, sk;
	struct auth_cert cert;
	struct auth_keyring kr;
	struct dirserv_config cfg;
	struct vote v;
	uint8_t seed[32];
	struct ev_http_resp resp = { 0 };

	if (ds != NULL)
		return;
	if (um_crypto_init() != UM_OK)
		abort();
	log_set_level(UM_LOG_ERR);
	memset(seed, 0xa0, sizeof(seed));
	keys_ed25519_from_seed(&id, seed);
	memset(seed, 0xb0, sizeof(seed));
	keys_ed25519_from_seed(&sk, seed);
	if (auth_cert_make(&cert, &id, sk.pk, NOW - 86400, NOW + 86400 * 30) != UM_OK ||
	    auth_keyring_init(&kr, &cert) != UM_OK)
		abort();
	dirserv_config_defaults(&cfg);
	cfg.db_path = STORE_PATH_MEMORY;
	cfg.keyring = &kr;
	cfg.signing = &sk;
	cfg.n_authorities = 1;
	cfg.authorities = (const uint8_t(*)[32])kr.identity;
	cfg.max_sources = 64;
	{
		static const uint8_t issuer[1][32] = { { 0x15 } };
		static const uint8_t doc[48] = { 0x01 };

		cfg.n_issuers = 1;
		cfg.issuers = issuer;
		cfg.issuer_verify = any_keys;
		if (dirserv_new(&cfg, &ds, NULL, 0) != UM_OK ||
		    dirserv_add_issuer_keys(ds, issuer[0], doc, sizeof(doc), NOW, NULL, NULL) !=
		            UM_OK)
			abort();
	}
	if (dirserv_build_vote(ds, NOW, NOW + 3600, NOW + 3 * 3600, &v) != UM_OK)
		abort();
	vote_clear(&v);
	if (dirserv_compute_consensus(ds, NOW, NOW + 3600, NOW + 3 * 3600, NOW) != UM_OK)
		abort();
	{
		struct dirfed_config fcfg;
		const uint8_t seed_id[1][32] = { { 0x5e } };
		const char *seed_url[1] = { "http://127.0.0.1:1" };

		dirfed_config_defaults(&fcfg);
		fcfg.ds = ds;
		memcpy(fcfg.self_id, kr.identity, 32);
		memcpy(fcfg.operator_id, kr.identity, 32);
		fcfg.n_seeds = 1;
		fcfg.seed_ids = seed_id;
		fcfg.seed_urls = seed_url;
		if (dirfed_new(&fcfg, &fed, NULL, 0) != UM_OK)
			abort();
	}
	dirserv_handle(ds, "GET", "/v1/consensus", NULL, NULL, 0, "init", NOW, &resp);
	if (resp.status != 200 || resp.etag == NULL || strlen(resp.etag) >= sizeof(etag))
		abort();
	memcpy(etag, resp.etag, strlen(resp.etag) + 1);
	free(resp.body);
	free(resp.etag);
	keys_ed25519_clear(&id);
	keys_ed25519_clear(&sk);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_http_resp resp = { .status = 500 };
	const uint8_t *nul;
	const char *inm = NULL;
	char *path;
	size_t path_len, body_len;
	uint8_t *body;
	char src[8];

	init_once();
	if (size == 0)
		return 0;
	nul = memchr(data + 1, '\0', size - 1);
	path_len = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
	path = um_xstrndup((const char *)data + 1, path_len);
	/* The body is a separate allocation so ASan sees any read past its end. */
	body_len = nul != NULL ? size - 1 - path_len - 1 : 0;
	body = um_xmalloc(body_len + 1);
	if (body_len > 0)
		memcpy(body, nul + 1, body_len);
	if (data[0] & 0x04)
		inm = "*";
	else if (data[0] & 0x08)
		inm = etag;
	/* A few sources, so the rate limiter both passes and refuses. */
	src[0] = (char)('a' + (data[0] >> 4));
	src[1] = '\0';
	dirserv_handle(ds, methods[data[0] % 4], path, inm, body_len > 0 ? body : NULL, body_len,
	               src, NOW + (data[0] >> 6), &resp);
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.status == 304) {
		if (resp.body != NULL)
			abort();
	} else if (resp.body == NULL) {
		abort();
	} else if (strcmp(resp.content_type, "application/json") == 0) {
		json_error_t jerr;
		json_t *j = json_loadb((const char *)resp.body, resp.body_len,
		                       JSON_REJECT_DUPLICATES, &jerr);

		if (j == NULL || !json_is_object(j))
			abort();
		if (resp.status >= 400 && !json_is_string(json_object_get(j, "error")))
			abort();
		json_decref(j);
	} else if (resp.status != 200) {
		abort();
	}
	free(resp.body);
	free(resp.etag);
	free(body);
	free(path);
	return 0;
}
