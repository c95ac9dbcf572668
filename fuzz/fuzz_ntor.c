/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the ntor v1 handshake's handling of peer bytes. Byte 0 picks the mode:
 *   0: the rest (zero-padded or cut to 84 bytes) is an onionskin for a relay with fixed keys;
 *   1: as 0, but NODEID and KEYID forced to the relay's (so X, the only free part, is reached);
 *   2: the rest (padded or cut to 64 bytes) is a reply to a fresh client handshake, which
 *      must never verify (that would be an AUTH forgery).
 * Every call must return a defined result; outputs must be zeroed on failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "crypto/ntor.h"

enum { KM = 184 };

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t sk0[32] = { 1, 2, 3 }, sk1[32] = { 4, 5, 6 }, id[32] = { 7, 8, 9 };
	struct keys_x25519 onion[2];
	struct ntor_client_state cs;
	uint8_t node_id[NTOR_NODE_ID_LEN], skin[NTOR_ONIONSKIN_LEN], reply[NTOR_REPLY_LEN];
	uint8_t km[KM];
	int ret;

	if (size < 1 || um_crypto_init() != UM_OK)
		return 0;
	keys_x25519_from_secret(&onion[0], sk0);
	keys_x25519_from_secret(&onion[1], sk1);
	ntor_node_id(node_id, id);
	switch (data[0] % 3) {
	case 0:
	case 1:
		memset(skin, 0, sizeof(skin));
		memcpy(skin, data + 1, size - 1 < sizeof(skin) ? size - 1 : sizeof(skin));
		if (data[0] % 3 == 1) {
			memcpy(skin, node_id, NTOR_NODE_ID_LEN);
			memcpy(skin + NTOR_NODE_ID_LEN, onion[data[0] / 3 % 2].pk, 32);
		}
		ret = ntor_server_handle(onion, 2, node_id, skin, reply, km, KM);
		if (ret != UM_OK && ret != UM_ERR_PROTOCOL && ret != UM_ERR_NOT_FOUND &&
		    ret != UM_ERR_CRYPTO)
			abort();
		if (ret != UM_OK && (!all_zero(reply, sizeof(reply)) || !all_zero(km, KM)))
			abort();
		break;
	default:
		memset(reply, 0, sizeof(reply));
		memcpy(reply, data + 1, size - 1 < sizeof(reply) ? size - 1 : sizeof(reply));
		ntor_client_start(&cs, node_id, onion[0].pk, skin);
		ret = ntor_client_finish(&cs, reply, km, KM);
		if (ret == UM_OK || (ret != UM_ERR_AUTH && ret != UM_ERR_CRYPTO))
			abort();
		if (!all_zero(km, KM) || cs.active)
			abort();
		break;
	}
	keys_x25519_clear(&onion[0]);
	keys_x25519_clear(&onion[1]);
	return 0;
}
