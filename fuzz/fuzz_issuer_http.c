/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the issuer's admin HTTP API (issuer_handle()). Input: the first byte picks the method
 * (bits 0-1: GET, POST, PUT, DELETE), the Authorization header (bits 2-3: the right bearer
 * token, the right one in lower-case "bearer", a wrong one, none) and the clock (bits 4-7:
 * 0..30 days after the start, so disputes and appeals expire); the bytes up to a NUL are the
 * path (with any query), the rest is the body. Each input starts from a fresh in-memory store
 * holding subject "alice" with dispute 1 and appeal 1 and relay subject "r1", so every route
 * has something to act on and a crash reproduces from its input alone. Every reply must carry
 * a status in 200..599 and a JSON object body, every error must say why, and no reply may be
 * 500: an internal error is a bug (a database error is 503, and an in-memory store has none).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1700000000, DAY = 86400 };

#define TOKEN "fuzz-admin-token-0123456789"

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
static const char *const auths[] = {
	"Bearer " TOKEN,
	"bearer " TOKEN,
	"Bearer fuzz-admin-token-0123456780",
	NULL,
};

/* A fresh store and issuer with the seed state; aborts on failure (a setup bug). */
static void
fresh(struct store **st, struct issuer **is)
{
	static bool inited;
	struct issuer_config cfg;
	int64_t id;

	if (!inited) {
		if (um_crypto_init() != UM_OK)
			abort();
		log_set_level(UM_LOG_ERR);
		inited = true;
	}
	if (store_open(STORE_PATH_MEMORY, NULL, st, NULL, 0) != UM_OK)
		abort();
	issuer_config_defaults(&cfg);
	cfg.admin_token = TOKEN;
	if (issuer_open(*st, &cfg, is, NULL, 0) != UM_OK ||
	    issuer_subject_upsert(*is, "init", "alice", ISSUER_KIND_CLIENT, 5, NOW, NULL) !=
	            UM_OK ||
	    issuer_subject_upsert(*is, "init", "r1", ISSUER_KIND_RELAY, 3, NOW, NULL) != UM_OK ||
	    issuer_dispute_open(*is, "init", "alice", 2, 20 * DAY, "C-1", "E-1", NOW, &id) !=
	            UM_OK ||
	    issuer_appeal_open(*is, "init", "alice", id, 10 * DAY, "A-1", "", NOW, &id) != UM_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_http_resp resp = { .status = 500 };
	struct store *st = NULL;
	struct issuer *is = NULL;
	const uint8_t *nul;
	char *path;
	size_t path_len, body_len;
	uint8_t *body;
	json_t *j;

	if (size == 0)
		return 0;
	fresh(&st, &is);
	nul = memchr(data + 1, '\0', size - 1);
	path_len = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
	path = um_xstrndup((const char *)data + 1, path_len);
	/* The body is a separate allocation so ASan sees any read past its end. */
	body_len = nul != NULL ? size - 1 - path_len - 1 : 0;
	body = um_xmalloc(body_len + 1);
	if (body_len > 0)
		memcpy(body, nul + 1, body_len);
	issuer_handle(is, methods[data[0] & 3], path, auths[(data[0] >> 2) & 3],
	              body_len > 0 ? body : NULL, body_len,
	              NOW + (uint64_t)(data[0] >> 4) * 2 * DAY, &resp);
	if (resp.status < 200 || resp.status > 599 || resp.status == 500 || resp.body == NULL ||
	    resp.etag != NULL || strcmp(resp.content_type, "application/json") != 0)
		abort();
	j = json_loadb((const char *)resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || !json_is_object(j))
		abort();
	if (resp.status >= 400 && !json_is_string(json_object_get(j, "error")))
		abort();
	json_decref(j);
	free(resp.body);
	free(body);
	free(path);
	issuer_free(is);
	store_close(st);
	return 0;
}
