/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the issuer's public routes (trust/issuer_public.h) on a real keyring: the input is a
 * POST /v1/tokens body (JSON, base64 blinded messages), or with a first byte of 0xff, a route
 * and method picked from the next bytes. Every reply must be a status and a body; a 500 is a
 * bug. The keyring (one 2048-bit key) is made once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/issuer_public.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *st;
	static struct issuer_keyring *kr;
	static struct keys_ed25519 id;
	static const char *const paths[] = { "/v1/pubkeys", "/v1/revocations", "/v1/tokens", "/x" };
	static const char *const methods[] = { "GET", "POST", "PUT" };
	static const uint8_t addr[4] = { 192, 0, 2, 1 };
	struct ev_http_resp resp = { .status = 500 };
	const char *method = "POST", *path = "/v1/tokens";

	if (kr == NULL) {
		struct issuer_keyring_config cfg;

		log_set_level(UM_LOG_ERR);
		if (um_crypto_init() != UM_OK ||
		    store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0) != UM_OK)
			abort();
		keys_ed25519_generate(&id);
		issuer_keyring_config_defaults(&cfg);
		cfg.tiers = 1;
		if (issuer_keyring_open(st, &id, &cfg, 1000, &kr, NULL, 0) != UM_OK)
			abort();
	}
	if (size >= 2 && data[0] == 0xff) {
		path = paths[data[1] % 4];
		method = methods[(data[1] >> 2) % 3];
		data += 2;
		size -= 2;
	}
	struct issuer_public_ctx pc = { .keys = kr, .limit = NULL, .is = NULL, .creds = NULL };

	if (issuer_public_handle(&pc, method, path, AF_INET, addr, data, size, 1000, 0, &resp)) {
		if (resp.status < 200 || resp.status >= 500 || resp.body == NULL)
			abort();
	}
	free(resp.body);
	return 0;
}
