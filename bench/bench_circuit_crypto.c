/* SPDX-License-Identifier: MIT */
/*
 * Circuit crypto on one core: ntor v1 handshakes (client + relay in this process, and the
 * relay's share alone: what bounds a relay answering CREATE2), and relay crypto v1 on 509-byte
 * relay-cell bodies: one layer as a relay passing a cell (cells/s and MB/s of bodies), a
 * middle relay's forward step (layer + recognition filter), an endpoint recognizing cells
 * (layer + running BLAKE2b digest), and a client originating cells to hop 3 of 3 (digest +
 * three layers). Prints "name value" lines. usage: bench_circuit_crypto [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "crypto/ntor.h"
#include "circuit/relay_crypto.h"

enum { KM = RELAY_CRYPTO_KM_LEN, BODY = RELAY_BODY_LEN, BATCH = 4096 };

static double
secs_since(uint64_t t)
{
	return (double)(um_mono_ns() - t) / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_circuit_crypto: %s failed\n", what);
	exit(1);
}

static void
bench_ntor(double secs)
{
	struct keys_ed25519 id;
	struct keys_x25519 onion[2];
	struct ntor_client_state cs;
	uint8_t node_id[NTOR_NODE_ID_LEN], skin[NTOR_ONIONSKIN_LEN], reply[NTOR_REPLY_LEN];
	uint8_t kc[KM], ks[KM];
	uint64_t start = um_mono_ns(), server_ns = 0, n = 0, t;

	keys_ed25519_generate(&id);
	keys_x25519_generate(&onion[0]);
	keys_x25519_generate(&onion[1]);
	ntor_node_id(node_id, id.pk);
	while (secs_since(start) < secs) {
		ntor_client_start(&cs, node_id, onion[0].pk, skin);
		t = um_mono_ns();
		if (ntor_server_handle(onion, 2, node_id, skin, reply, ks, KM) != UM_OK)
			die("ntor_server_handle");
		server_ns += um_mono_ns() - t;
		if (ntor_client_finish(&cs, reply, kc, KM) != UM_OK || memcmp(kc, ks, KM) != 0)
			die("ntor_client_finish");
		n++;
	}
	printf("ntor_full_per_s %.0f\n", (double)n / secs_since(start));
	printf("ntor_server_per_s %.0f\n", (double)n / ((double)server_ns / 1e9));
	keys_ed25519_clear(&id);
	keys_x25519_clear(&onion[0]);
	keys_x25519_clear(&onion[1]);
}

static struct relay_crypto *
hop_new(void)
{
	uint8_t km[KM];
	struct relay_crypto *rc;

	rand_bytes(km, sizeof(km));
	if (relay_crypto_new(km, &rc) != UM_OK)
		die("relay_crypto_new");
	return rc;
}

static void
bench_relay(double secs)
{
	static uint8_t batch[BATCH][BODY];
	uint8_t km[KM], body[BODY];
	struct relay_crypto *hop = hop_new(), *cl[3], *end_cl, *end_rl;
	uint64_t start, n = 0, t, end_ns = 0;
	bool rec;

	rand_bytes(body, sizeof(body));
	/* One layer, as a relay passing a backward cell. */
	start = um_mono_ns();
	while (secs_since(start) < secs) {
		for (int i = 0; i < 1000; i++) {
			if (relay_crypto_relay_backward(hop, body) != UM_OK)
				die("relay_crypto_relay_backward");
		}
		n += 1000;
	}
	t = um_mono_ns() - start;
	printf("relay_layer_cells_per_s %.0f\n", (double)n / ((double)t / 1e9));
	printf("relay_layer_mb_s %.0f\n", (double)n * BODY / ((double)t / 1e3));

	/* A middle relay's forward step: the cell is someone else's. */
	n = 0;
	start = um_mono_ns();
	while (secs_since(start) < secs) {
		for (int i = 0; i < 1000; i++) {
			if (relay_crypto_relay_forward(hop, body, &rec) != UM_OK)
				die("relay_crypto_relay_forward");
		}
		n += 1000;
	}
	printf("relay_forward_cells_per_s %.0f\n", (double)n / secs_since(start));

	/* An endpoint recognizing every cell (batches prepared by a client, not timed). */
	rand_bytes(km, sizeof(km));
	if (relay_crypto_new(km, &end_cl) != UM_OK || relay_crypto_new(km, &end_rl) != UM_OK)
		die("relay_crypto_new");
	n = 0;
	start = um_mono_ns();
	while (secs_since(start) < secs) {
		for (int i = 0; i < BATCH; i++) {
			memset(batch[i], 0, BODY);
			batch[i][0] = 2;
			if (relay_crypto_client_originate(&end_cl, 1, batch[i]) != UM_OK)
				die("relay_crypto_client_originate");
		}
		t = um_mono_ns();
		for (int i = 0; i < BATCH; i++) {
			if (relay_crypto_relay_forward(end_rl, batch[i], &rec) != UM_OK || !rec)
				die("recognition");
		}
		end_ns += um_mono_ns() - t;
		n += BATCH;
	}
	printf("relay_endpoint_cells_per_s %.0f\n", (double)n / ((double)end_ns / 1e9));

	/* A client originating to hop 3 of 3. */
	for (int i = 0; i < 3; i++)
		cl[i] = hop_new();
	n = 0;
	start = um_mono_ns();
	while (secs_since(start) < secs) {
		for (int i = 0; i < 1000; i++) {
			memset(body, 0, 3);
			if (relay_crypto_client_originate(cl, 3, body) != UM_OK)
				die("relay_crypto_client_originate");
		}
		n += 1000;
	}
	t = um_mono_ns() - start;
	printf("client_3hop_cells_per_s %.0f\n", (double)n / ((double)t / 1e9));
	printf("client_3hop_mb_s %.0f\n", (double)n * BODY / ((double)t / 1e3));
	for (int i = 0; i < 3; i++)
		relay_crypto_free(cl[i]);
	relay_crypto_free(hop);
	relay_crypto_free(end_cl);
	relay_crypto_free(end_rl);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;

	if (um_crypto_init() != UM_OK)
		return 1;
	bench_ntor(secs);
	bench_relay(secs);
	return 0;
}
