/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the relay side of the circuit core (src/circuit/circuit.h) with arbitrary cell
 * sequences. The input is cut into 514-byte cells (a shorter tail is dropped); bit 0 of a
 * cell's first byte picks the link it arrives on: link A (the peer opened it, anonymous) or
 * link B (we opened it, to a known identity). A third link C is known but never used.
 * The relay has fixed keys (NODEID and onion key below), so a corpus CREATE2 naming them
 * opens a real circuit.
 *
 * Must hold: no crash or sanitizer report; cells go out only on A or B, only with commands
 * a relay sends; the circuit count stays within the cap (and every CREATE2 over it is
 * refused); after both links close no circuit is left.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "circuit/circuit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_CIRCS = 8 };

static struct keys_ed25519 relay_id;
static struct keys_x25519 onion;
static bool ready;
static uint8_t links[3]; /* their addresses are the handles A, B, C */
static uint8_t peer_b[32];

static struct circ_link *
link_handle(int i)
{
	return (struct circ_link *)(void *)&links[i];
}

static int
on_send(void *arg, struct circ_link *l, const struct cell *c)
{
	(void)arg;
	if (l != link_handle(0) && l != link_handle(1))
		abort(); /* a link no cell came from, no request answered */
	if (c->cmd != CELL_CREATED2 && c->cmd != CELL_DESTROY && c->cmd != CELL_RELAY &&
	    c->cmd != CELL_RELAY_EARLY && c->cmd != CELL_CREATE2)
		abort();
	return UM_OK;
}

static void
on_event(void *arg, const struct circ_event *ev)
{
	(void)arg;
	if (ev->type == CIRC_EV_BUILT || ev->type == CIRC_EV_MSG)
		abort(); /* client events from a relay-only core */
}

static void
init_once(void)
{
	uint8_t seed[ED25519_SEED_LEN], sk[X25519_KEY_LEN];

	if (ready)
		return;
	if (um_crypto_init() != UM_OK)
		abort();
	/* Fixed keys: seed bytes 1, 2, ..., 32 and X25519 secret 33, 34, ..., 64. */
	for (size_t i = 0; i < sizeof(seed); i++) {
		seed[i] = (uint8_t)(i + 1);
		sk[i] = (uint8_t)(i + 33);
	}
	keys_ed25519_from_seed(&relay_id, seed);
	keys_x25519_from_secret(&onion, sk);
	memset(peer_b, 0xbb, sizeof(peer_b));
	ready = true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct circ_relay_keys keys = { relay_id.pk, &onion, 1 };
	struct circ_config cfg;
	struct circ_ops ops = { .send_cell = on_send, .on_event = on_event };
	struct circ_core *core;
	struct circ_core_stats st;
	uint64_t now = 1000;

	init_once();
	circ_config_default(&cfg);
	cfg.max_circuits = MAX_CIRCS;
	cfg.max_queue_total = 64;
	cfg.max_queue_per_circ = 16;
	core = circ_core_new(&cfg, &ops, &keys);
	if (circ_core_link_add(core, link_handle(0), false, NULL, now) != UM_OK ||
	    circ_core_link_add(core, link_handle(1), true, peer_b, now) != UM_OK ||
	    circ_core_link_add(core, link_handle(2), true, NULL, now) != UM_OK)
		abort();
	for (size_t off = 0; size - off >= CELL_LEN; off += CELL_LEN) {
		struct cell c;

		if (cell_parse(data + off, CELL_LEN, &c) != CELL_LEN)
			abort();
		/* Block link B now and then, so queues and the caps see use. */
		circ_core_link_blocked(core, link_handle(1), (data[off] & 0x02) != 0, now);
		circ_core_cell_in(core, link_handle(data[off] & 1), &c, now);
		circ_core_stats(core, &st);
		if (st.circuits > MAX_CIRCS || st.queued_cells > cfg.max_queue_total)
			abort();
		now += 1000;
	}
	circ_core_tick(core, now + cfg.extend_timeout_ms);
	circ_core_link_closed(core, link_handle(0), now);
	circ_core_link_closed(core, link_handle(1), now);
	circ_core_stats(core, &st);
	if (st.circuits != 0)
		abort();
	circ_core_free(core);
	return 0;
}
