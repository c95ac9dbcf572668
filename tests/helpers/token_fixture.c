/* SPDX-License-Identifier: MIT */
#include "helpers/token_fixture.h"

#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/blindrsa.h"

int
tok_issuer_open(struct tok_issuer *ti, unsigned tiers, uint64_t key_lifetime_s, uint64_t now_s)
{
	struct issuer_keyring_config cfg;
	int ret;

	memset(ti, 0, sizeof(*ti));
	keys_ed25519_generate(&ti->id);
	if ((ret = store_open(STORE_PATH_MEMORY, NULL, &ti->st, NULL, 0)) != UM_OK)
		return ret;
	issuer_keyring_config_defaults(&cfg);
	cfg.tiers = tiers;
	if (key_lifetime_s != 0)
		cfg.key_lifetime_s = key_lifetime_s;
	return issuer_keyring_open(ti->st, &ti->id, &cfg, now_s, &ti->kr, NULL, 0);
}

void
tok_issuer_close(struct tok_issuer *ti)
{
	issuer_keyring_free(ti->kr);
	store_close(ti->st);
	keys_ed25519_clear(&ti->id);
}

int
tok_issuer_issue(struct tok_issuer *ti, uint8_t tier, uint64_t now_s, uint8_t *out, size_t cap,
                 size_t *len, struct token *t_out)
{
	const struct blindrsa_key *pk;
	struct token t;
	uint8_t input[TOKEN_INPUT_LEN], blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN],
	        bsig[BLINDRSA_MAX_LEN];
	struct wire_wr w;
	size_t k_len, s_len = 0;
	uint32_t epoch = issuer_keyring_epoch(ti->kr), signed_epoch = 0;
	int ret;

	(void)now_s;
	if ((pk = issuer_keyring_public(ti->kr, tier, epoch)) == NULL)
		return UM_ERR_NOT_FOUND;
	k_len = blindrsa_key_len(pk);
	if ((ret = token_prepare(&t, tier, epoch, pk)) != UM_OK)
		return ret;
	token_input(&t, input);
	if ((ret = blindrsa_blind(pk, TOKEN_VARIANT, input, sizeof(input), blinded, inv, k_len)) !=
	            UM_OK ||
	    (ret = issuer_keyring_blind_sign(ti->kr, tier, blinded, k_len, bsig, sizeof(bsig),
	                                     &s_len, &signed_epoch)) != UM_OK ||
	    (ret = blindrsa_finalize(pk, TOKEN_VARIANT, input, sizeof(input), bsig, s_len, inv,
	                             k_len, t.sig, sizeof(t.sig))) != UM_OK)
		return ret;
	if (signed_epoch != epoch)
		return UM_ERR_STATE;
	wire_wr_init(&w, out, cap);
	if ((ret = token_encode(&t, &w)) != UM_OK)
		return ret;
	*len = w.len;
	if (t_out != NULL)
		*t_out = t;
	return UM_OK;
}
