/* SPDX-License-Identifier: MIT */
/*
 * Test helper: the client side of admin capability tokens (trust/issuer_admin_cap.h,
 * docs/ISSUER.md "Admin capability tokens"), so an integration test can drive an issuer's
 * admin API with UmbraCap as a remote operator would (python3 has no Ed25519).
 *
 *   admin_cap pub KEYFILE
 *       print the Ed25519 public key of KEYFILE (made, mode 0600, if missing) in base32,
 *       as `umbra issuer subject key` wants it;
 *   admin_cap request KEYFILE SUBJECT ROLE AUD [TIME]
 *       print the JSON body of POST /v1/captokens, signed by KEYFILE, asking for a token
 *       bound to the same key as its proof-of-possession key;
 *   admin_cap header KEYFILE TOKEN_B64 ISSUER_ID METHOD TARGET BODYFILE [TIME]
 *       print the Authorization value "UmbraCap <token>.<pop_sig>.<time>" for one request
 *       (BODYFILE: the exact body bytes; an empty file for none). TIME defaults to now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "trust/captoken.h"
#include "trust/issuer_admin_cap.h"
#include "app/app.h"

enum { BODY_MAX = 65536 };

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	*v = strtoull(s, &end, 10);
	return *s != '\0' && *end == '\0' ? 0 : -1;
}

static int
load_key(const char *path, struct keys_ed25519 *k)
{
	uint8_t secret[32];
	char why[256];
	bool made = false;

	if (app_keyfile_load(path, KEYFILE_ED25519, true, secret, &made, why, sizeof(why)) !=
	    UM_OK) {
		fprintf(stderr, "admin_cap: %s\n", why);
		return -1;
	}
	keys_ed25519_from_seed(k, secret);
	um_memzero(secret, sizeof(secret));
	return 0;
}

static int
cmd_request(struct keys_ed25519 *k, int argc, char **argv)
{
	uint8_t msg[CAPTOKEN_REQ_MSG_MAX], sig[CAPTOKEN_SIG_LEN];
	char pk[53], sb64[BASE64_LEN(CAPTOKEN_SIG_LEN)];
	uint64_t t = um_wall_s();
	size_t n;

	if (argc == 7 && parse_u64(argv[6], &t) != 0)
		return 2;
	n = captoken_req_msg(msg, argv[3], argv[4], argv[5], t, k->pk);
	if (n == 0)
		return 2;
	sign_ed25519(k, msg, n, sig);
	app_key_b32(k->pk, pk);
	if (enc_base64(sb64, sizeof(sb64), sig, sizeof(sig)) != UM_OK)
		return 1;
	printf("{\"subject\":\"%s\",\"role\":\"%s\",\"aud\":\"%s\",\"pop_key\":\"%s\","
	       "\"time\":%llu,\"sig\":\"%s\"}\n",
	       argv[3], argv[4], argv[5], pk, (unsigned long long)t, sb64);
	return 0;
}

static int
cmd_header(struct keys_ed25519 *k, int argc, char **argv)
{
	uint8_t token[CAPTOKEN_MAX_LEN], issuer[33], *body = um_xmalloc(BODY_MAX);
	char out[ISSUER_ADMIN_CAP_HEADER_MAX + 1];
	uint64_t t = um_wall_s();
	ssize_t tl;
	size_t bl = 0;
	FILE *f;
	int ret = 2;

	if (argc == 9 && parse_u64(argv[8], &t) != 0)
		goto out;
	tl = dec_base64(token, sizeof(token), argv[3], strlen(argv[3]));
	if (tl <= 0 || dec_base32(issuer, sizeof(issuer), argv[4], strlen(argv[4])) != 32)
		goto out;
	if ((f = fopen(argv[7], "rb")) == NULL)
		goto out;
	bl = fread(body, 1, BODY_MAX, f);
	fclose(f);
	ret = 1;
	if (issuer_cap_header_make(out, sizeof(out), token, (size_t)tl, k, issuer, argv[5], argv[6],
	                           body, bl, t) != UM_OK)
		goto out;
	printf("%s\n", out);
	ret = 0;
out:
	free(body);
	return ret;
}

int
main(int argc, char **argv)
{
	struct keys_ed25519 k = { 0 };
	char pk[53];
	int ret = 2;

	if (argc < 3 || um_crypto_init() != UM_OK)
		goto usage;
	if (load_key(argv[2], &k) != 0)
		return 1;
	if (strcmp(argv[1], "pub") == 0 && argc == 3) {
		app_key_b32(k.pk, pk);
		printf("%s\n", pk);
		ret = 0;
	} else if (strcmp(argv[1], "request") == 0 && (argc == 6 || argc == 7)) {
		ret = cmd_request(&k, argc, argv);
	} else if (strcmp(argv[1], "header") == 0 && (argc == 8 || argc == 9)) {
		ret = cmd_header(&k, argc, argv);
	}
	keys_ed25519_clear(&k);
	if (ret != 2)
		return ret;
usage:
	fprintf(stderr, "usage: admin_cap pub KEYFILE\n"
	                "       admin_cap request KEYFILE SUBJECT ROLE AUD [TIME]\n"
	                "       admin_cap header KEYFILE TOKEN_B64 ISSUER_ID METHOD TARGET "
	                "BODYFILE [TIME]\n");
	return 2;
}
