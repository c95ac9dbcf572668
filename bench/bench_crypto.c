/* SPDX-License-Identifier: MIT */
/*
 * The per-record cost that bounds link throughput: sealing and opening one 514-byte cell as a
 * 530-byte record through our transport CipherState (OpenSSL EVP ChaCha20-Poly1305, one
 * context per direction). Prints MB/s of cell bytes on one core.
 */
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/aead.h"
#include "crypto/crypto.h"

int
main(void)
{
	static const uint8_t key[32] = { 7 };
	uint8_t cell[514] = { 1 }, rec[530], back[514];
	struct aead s, o;
	const int n = 1000000;
	uint64_t t;

	if (um_crypto_init() != UM_OK || aead_init(&s, key, true) != UM_OK ||
	    aead_init(&o, key, false) != UM_OK)
		return 1;
	t = um_mono_ns();
	for (int i = 0; i < n; i++) {
		if (aead_seal(&s, (uint64_t)i, NULL, 0, cell, sizeof(cell), rec) != UM_OK)
			return 1;
	}
	printf("seal_514_mb_s %.0f\n", 514.0 * n / ((double)(um_mono_ns() - t) / 1e3));
	t = um_mono_ns();
	for (int i = 0; i < n; i++) {
		if (aead_seal(&s, (uint64_t)i, NULL, 0, cell, sizeof(cell), rec) != UM_OK)
			return 1;
		if (aead_open(&o, (uint64_t)i, NULL, 0, rec, sizeof(rec), back) != UM_OK)
			return 1;
	}
	printf("seal_open_514_mb_s %.0f\n", 514.0 * n / ((double)(um_mono_ns() - t) / 1e3));
	aead_clear(&s);
	aead_clear(&o);
	return 0;
}
