/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the issuer's capability-token route (issuer_captokens_handle(), POST /v1/captokens)
 * and the UmbraCap credential of the admin API (trust/issuer_admin_cap.h, through
 * issuer_handle()). Input: the first byte's bit 0 picks the target; bits 1-2 the clock (NOW,
 * +299 s, +301 s, +1 day).
 *   bit 0 = 0: the rest is a POST /v1/captokens body (bit 3 set: another method);
 *   bit 0 = 1: bits 3-4 pick the method (GET, POST, PUT, DELETE) and bits 5-7 the path; the
 *              bytes up to a NUL are the Authorization value, the rest is the body.
 * The issuer identity and subject ops-7's key come from fixed seeds (ops-7 holds the admin
 * role, its key is registered), so corpus seeds can carry valid signatures and reach the
 * deep paths: issuance, then an admin write by a token. Each input starts from a fresh
 * in-memory issuer; the keyring (its RSA key is slow to make) is made once. Every reply must
 * carry a status in 200..599 and a JSON object body; 500 is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/issuer.h"
#include "trust/issuer_admin_cap.h"
#include "trust/issuer_captokens.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_roles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1700000000 };

/* Fixed seeds: the issuer identity and ops-7's request and proof-of-possession key. */
static const uint8_t ISS_SEED[32] = { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	                              0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	                              0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	                              0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11 };
static const uint8_t OPS_SEED[32] = { 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	                              0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	                              0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	                              0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22 };

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
static const char *const paths[] = {
	"/v1/admin/subjects/dave",         "/v1/admin/subjects/ops-7/roles/admin",
	"/v1/admin/subjects/dave/promote", "/v1/admin/audit",
	"/v1/admin/audit?limit=5",         "/v1/admin/subjects/ops-7/revoke",
	"/v1/admin/subjects/dave/relays",  "/v1/captokens",
};
static const uint64_t clock_off[] = { 0, 299, 301, 86400 };

static void
check_reply(const struct ev_http_resp *resp)
{
	json_t *j;

	if (resp->status < 200 || resp->status > 599 || resp->status == 500 || resp->body == NULL)
		abort();
	j = json_loadb((const char *)resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || !json_is_object(j))
		abort();
	if (resp->status >= 400 && !json_is_string(json_object_get(j, "error")))
		abort();
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *kst;
	static struct issuer_keyring *kr;
	static struct keys_ed25519 id, ops;
	struct ev_http_resp resp = { .status = 500 };
	struct issuer_admin_cap *cap;
	struct issuer_creds *creds = NULL;
	struct issuer_config cfg;
	struct issuer *is = NULL;
	struct store *st = NULL;
	uint64_t now;
	uint8_t *body;
	size_t body_len;

	if (kr == NULL) {
		struct issuer_keyring_config kcfg;

		log_set_level(UM_LOG_ERR);
		if (um_crypto_init() != UM_OK ||
		    store_open(STORE_PATH_MEMORY, NULL, &kst, NULL, 0) != UM_OK)
			abort();
		keys_ed25519_from_seed(&id, ISS_SEED);
		keys_ed25519_from_seed(&ops, OPS_SEED);
		issuer_keyring_config_defaults(&kcfg);
		kcfg.tiers = 1;
		if (issuer_keyring_open(kst, &id, &kcfg, NOW, &kr, NULL, 0) != UM_OK)
			abort();
	}
	if (size == 0)
		return 0;
	if (store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0) != UM_OK)
		abort();
	issuer_config_defaults(&cfg);
	cfg.admin_token = "fuzz-admin-token-0123456789";
	if (issuer_open(st, &cfg, &is, NULL, 0) != UM_OK ||
	    issuer_creds_open(st, &creds, NULL, 0) != UM_OK ||
	    issuer_subject_upsert(is, "init", "ops-7", ISSUER_KIND_CLIENT, 2, NOW, NULL) != UM_OK ||
	    issuer_role_set(is, "init", "ops-7", "admin", true, NOW, NULL) != UM_OK ||
	    issuer_creds_set(creds, "ops-7", ops.pk, NOW) != UM_OK)
		abort();
	cap = issuer_admin_cap_new(id.pk, kr);
	issuer_set_admin_cap(is, cap);
	now = NOW + clock_off[(data[0] >> 1) & 3];
	if ((data[0] & 1) == 0) {
		struct issuer_captokens_ctx c = { is, creds, kr, &id, NULL, 0 };

		/* A separate allocation so ASan sees any read past its end. */
		body_len = size - 1;
		body = um_xmalloc(body_len + 1);
		memcpy(body, data + 1, body_len);
		if (!issuer_captokens_handle(&c, (data[0] & 8) != 0 ? "GET" : "POST",
		                             "/v1/captokens", 0, NULL, body, body_len, now, 0,
		                             &resp))
			abort();
		check_reply(&resp);
		free(body);
	} else {
		const uint8_t *nul = memchr(data + 1, '\0', size - 1);
		size_t hlen = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
		char *auth = um_xstrndup((const char *)data + 1, hlen);

		body_len = nul != NULL ? size - 1 - hlen - 1 : 0;
		body = um_xmalloc(body_len + 1);
		if (body_len > 0)
			memcpy(body, nul + 1, body_len);
		issuer_handle(is, methods[(data[0] >> 3) & 3], paths[(data[0] >> 5) & 7], auth,
		              body_len > 0 ? body : NULL, body_len, now, &resp);
		check_reply(&resp);
		free(body);
		free(auth);
	}
	free(resp.body);
	issuer_set_admin_cap(is, NULL);
	issuer_admin_cap_free(cap);
	issuer_creds_free(creds);
	issuer_free(is);
	store_close(st);
	return 0;
}
