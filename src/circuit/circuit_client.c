/* SPDX-License-Identifier: MIT */
/*
 * Client-side circuits (docs/PROTOCOL.md 13.5): build hop by hop with ntor (CREATE2 to the
 * first hop, then EXTEND2 in RELAY_EARLY through the circuit for each next one), then carry
 * relay messages to any hop and back ("leaky pipe": a backward cell is recognized by the hop
 * that originated it). The circuit's only side is its next end, on the link to hop 1.
 *
 *   BUILDING --CREATED2/EXTENDED2 (n_built < n_hops)--> EXTEND2 sent, BUILDING
 *   BUILDING --last reply--> OPEN (CIRC_EV_BUILT)
 *   any failure, DESTROY, TRUNCATED, timeout --> closed (FAILED while building, else CLOSED)
 */
#include "circuit/circuit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "crypto/ntor.h"
#include "circuit/circuit_st.h"

_Static_assert((int)RELAY_LS_LINK_KEY_LEN == (int)RELAY_DESC_KEY_LEN,
               "EXTEND2 link key is a descriptor's");

static struct log_ratelim rl_proto = LOG_RATELIM_INIT(60000);

static void
violation(struct circ_core *core, struct circuit *circ, const char *what, uint64_t now)
{
	log_ratelim(&rl_proto, UM_LOG_INFO, LD_CIRC, "circuit %llu: %s: closing",
	            (unsigned long long)circ->serial, what);
	circ_kill(core, circ, CIRC_REASON_PROTOCOL, false, NULL, now);
}

void
circ_client_state_free(struct circ_client *cl)
{
	if (cl == NULL)
		return;
	ntor_client_abort(&cl->ntor);
	for (size_t i = 0; i < CIRC_MAX_HOPS; i++)
		relay_crypto_free(cl->hops[i]);
	um_memzero(cl, sizeof(*cl));
	free(cl);
}

size_t
circ_client_hops(const struct circuit *circ)
{
	return circ->cl != NULL ? circ->cl->n_built : 0;
}

static bool
hop_from_entry(struct circ_hop_info *h, const struct relay_entry *e)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->identity, e->identity, CIRC_ID_KEY_LEN);
	memcpy(h->onion_key, e->onion_key, NTOR_KEY_LEN);
	memcpy(h->link_key, e->link_key, RELAY_LS_LINK_KEY_LEN);
	for (size_t i = 0; i < e->n_addrs && i < RELAY_DESC_MAX_ADDRS; i++) {
		const struct relay_addr *a = &e->addrs[i];

		if (a->port == 0)
			continue;
		if (a->type == RELAY_ADDR_IPV4 && !h->has_ipv4) {
			h->has_ipv4 = true;
			memcpy(h->ipv4, a->addr, 4);
			h->ipv4_port = a->port;
		} else if (a->type == RELAY_ADDR_IPV6 && !h->has_ipv6) {
			h->has_ipv6 = true;
			memcpy(h->ipv6, a->addr, 16);
			h->ipv6_port = a->port;
		}
	}
	return h->has_ipv4 || h->has_ipv6;
}

/* Originate a relay message for hop (1..n_built) and send it toward hop 1. */
static int
originate(struct circ_core *core, struct circuit *circ, size_t hop, uint8_t cmd, uint16_t stream_id,
          const uint8_t *data, size_t len, uint64_t now)
{
	struct circ_client *cl = circ->cl;
	struct cell out;
	int ret;

	memset(&out, 0, sizeof(out));
	if ((ret = relay_body_encode(cmd, stream_id, data, len, out.payload)) != UM_OK)
		return ret;
	if ((ret = relay_crypto_client_originate(cl->hops, hop, out.payload)) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
		return ret;
	}
	/* tor-spec 5.6 / PROTOCOLS.md 2.1: the first cells past hop 1, and every EXTEND2, go
	 * as RELAY_EARLY, at most 8 in all, so relays can cap the circuit's length. */
	out.cmd = CELL_RELAY;
	if (cl->early_left > 0 && (cmd == RELAY_EXTEND2 || hop > 1)) {
		out.cmd = CELL_RELAY_EARLY;
		cl->early_left--;
	}
	circ_end_send(core, circ, &circ->next, &out, now);
	return UM_OK;
}

static void
send_extend(struct circ_core *core, struct circuit *circ, uint64_t now)
{
	struct circ_client *cl = circ->cl;
	const struct circ_hop_info *h = &cl->path[cl->n_built];
	struct relay_extend2 e;
	uint8_t node_id[NTOR_NODE_ID_LEN], data[RELAY_DATA_MAX];
	struct wire_wr w;

	memset(&e, 0, sizeof(e));
	e.has_ipv4 = h->has_ipv4;
	memcpy(e.ipv4, h->ipv4, 4);
	e.ipv4_port = h->ipv4_port;
	e.has_ipv6 = h->has_ipv6;
	memcpy(e.ipv6, h->ipv6, 16);
	e.ipv6_port = h->ipv6_port;
	memcpy(e.ed25519_id, h->identity, CIRC_ID_KEY_LEN);
	/* The link key lets the extending relay reach the next hop even when its consensus is
	 * older than ours and does not list it yet (docs/PROTOCOL.md 13.4). */
	e.has_link_key = true;
	memcpy(e.link_key, h->link_key, RELAY_LS_LINK_KEY_LEN);
	e.create.htype = CIRC_HTYPE_NTOR;
	e.create.hlen = NTOR_ONIONSKIN_LEN;
	ntor_node_id(node_id, h->identity);
	ntor_client_start(&cl->ntor, node_id, h->onion_key, e.create.hdata);
	wire_wr_init(&w, data, sizeof(data));
	if (relay_extend2_write(&w, &e) != UM_OK ||
	    originate(core, circ, cl->n_built, RELAY_EXTEND2, 0, data, w.len, now) != UM_OK)
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
}

/* A hop answered (CREATED2 or EXTENDED2): finish its ntor, key it, go on or report built. */
static void
hop_done(struct circ_core *core, struct circuit *circ, const struct circ_created2 *rep,
         uint64_t now)
{
	struct circ_client *cl = circ->cl;
	uint8_t km[RELAY_CRYPTO_KM_LEN];
	struct circ_event ev;
	int ret;

	if (rep->hlen != circ_htype_reply_len(CIRC_HTYPE_NTOR)) {
		violation(core, circ, "handshake reply of the wrong length", now);
		return;
	}
	ret = ntor_client_finish(&cl->ntor, rep->hdata, km, sizeof(km));
	if (ret == UM_OK)
		ret = relay_crypto_new(km, &cl->hops[cl->n_built]);
	um_memzero(km, sizeof(km));
	if (ret != UM_OK) {
		violation(core, circ, "handshake reply did not verify", now);
		return;
	}
	cl->n_built++;
	if (cl->n_built < cl->n_hops) {
		send_extend(core, circ, now);
		return;
	}
	circ->state = CIRC_S_OPEN;
	circ_clear_deadline(circ);
	memset(&ev, 0, sizeof(ev));
	ev.type = CIRC_EV_BUILT;
	ev.circ = circ;
	ev.user = cl->user;
	circ_emit(core, &ev);
}

static void
relay_in(struct circ_core *core, struct circuit *circ, const struct cell *c, uint64_t now)
{
	struct circ_client *cl = circ->cl;
	struct cell in = *c;
	struct relay_hdr h;
	struct circ_created2 rep;
	struct circ_event ev;
	enum relay_stream_rule rule;
	size_t hop = 0;
	uint8_t reason;

	if (relay_crypto_client_receive(cl->hops, cl->n_built, in.payload, &hop) != UM_OK) {
		violation(core, circ, "backward relay cell no hop recognizes", now);
		return;
	}
	if (relay_body_parse(in.payload, RELAY_BODY_LEN, &h) != UM_OK) {
		violation(core, circ, "malformed relay body", now);
		return;
	}
	rule = relay_cmd_stream_rule(h.cmd);
	if (rule == RELAY_STREAM_UNKNOWN) {
		core->st.ignored++;
		return;
	}
	if ((rule == RELAY_STREAM_REQUIRED) != (h.stream_id != 0)) {
		violation(core, circ, "relay message with a bad StreamID", now);
		return;
	}
	switch (h.cmd) {
	case RELAY_EXTENDED2:
		if (circ->state != CIRC_S_BUILDING || hop != cl->n_built ||
		    relay_extended2_parse(h.data, h.length, &rep) != UM_OK) {
			violation(core, circ, "unexpected or malformed EXTENDED2", now);
			return;
		}
		hop_done(core, circ, &rep, now);
		return;
	case RELAY_TRUNCATED:
		/* We never re-extend: a truncated circuit is closed (DESTROY to hop 1). */
		if (relay_truncated_parse(h.data, h.length, &reason) != UM_OK)
			reason = CIRC_REASON_NONE;
		circ_kill(core, circ, reason, true, NULL, now);
		return;
	case RELAY_DROP:
		return;
	case RELAY_EXTEND2:
	case RELAY_TRUNCATE:
		violation(core, circ, "forward-only relay message sent backward", now);
		return;
	default:
		break;
	}
	if (circ->state != CIRC_S_OPEN) {
		violation(core, circ, "relay message before the circuit was built", now);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = CIRC_EV_MSG;
	ev.circ = circ;
	ev.user = cl->user;
	ev.hop = (uint8_t)hop;
	ev.cmd = h.cmd;
	ev.stream_id = h.stream_id;
	ev.data = h.data;
	ev.len = h.length;
	ev.digest = h.digest;
	circ_emit(core, &ev);
	um_memzero(&in, sizeof(in));
}

void
circ_client_from_next(struct circ_core *core, struct circuit *circ, const struct cell *c,
                      uint64_t now)
{
	struct circ_created2 rep;
	uint8_t reason;

	switch (c->cmd) {
	case CELL_RELAY:
		relay_in(core, circ, c, now);
		return;
	case CELL_RELAY_EARLY:
		violation(core, circ, "RELAY_EARLY from the first hop", now);
		return;
	case CELL_DESTROY:
		if (circ_destroy_parse(c->payload, CELL_PAYLOAD_LEN, &reason) != UM_OK)
			reason = CIRC_REASON_NONE;
		circ_kill(core, circ, reason, true, &circ->next, now);
		return;
	case CELL_CREATED2:
		if (circ->state != CIRC_S_BUILDING || circ->cl->n_built != 0 ||
		    circ_created2_parse(c->payload, CELL_PAYLOAD_LEN, &rep) != UM_OK) {
			violation(core, circ, "unexpected or malformed CREATED2", now);
			return;
		}
		hop_done(core, circ, &rep, now);
		return;
	default:
		core->st.ignored++;
		return;
	}
}

int
circ_client_build(struct circ_core *core, struct circ_link *l,
                  const struct relay_entry *const *path, size_t n_hops, void *user, uint64_t now,
                  struct circuit **out)
{
	struct circ_hop_info hops[CIRC_MAX_HOPS];
	struct circ_create2 req;
	uint8_t node_id[NTOR_NODE_ID_LEN];
	struct circ_lrec *lr;
	struct circuit *circ;
	struct circ_client *cl;
	struct cell c;
	uint32_t id;
	int ret;

	if (out != NULL)
		*out = NULL;
	if (n_hops < 1 || n_hops > CIRC_MAX_HOPS)
		return UM_ERR_INVALID;
	for (size_t i = 0; i < n_hops; i++)
		if (path[i] == NULL || (!hop_from_entry(&hops[i], path[i]) && i > 0))
			return UM_ERR_INVALID;
	if ((lr = circ_link_find(core, l)) == NULL)
		return UM_ERR_NOT_FOUND;
	if (core->n_circs >= core->cfg.max_circuits)
		return UM_ERR_TOO_LARGE;
	if ((ret = circ_pick_id(core, lr, &id)) != UM_OK)
		return ret;

	circ_enter(core);
	circ = circ_new(core);
	cl = um_xcalloc(1, sizeof(*cl));
	memcpy(cl->path, hops, sizeof(hops));
	cl->n_hops = (uint8_t)n_hops;
	cl->early_left = CIRC_RELAY_EARLY_MAX;
	cl->user = user;
	circ->cl = cl;
	circ->state = CIRC_S_BUILDING;
	circ_end_attach(core, &circ->next, lr, id);
	circ_set_deadline(core, circ, now + core->cfg.build_timeout_ms);

	memset(&req, 0, sizeof(req));
	req.htype = CIRC_HTYPE_NTOR;
	req.hlen = NTOR_ONIONSKIN_LEN;
	ntor_node_id(node_id, hops[0].identity);
	ntor_client_start(&cl->ntor, node_id, hops[0].onion_key, req.hdata);
	memset(&c, 0, sizeof(c));
	c.cmd = CELL_CREATE2;
	if (circ_create2_encode(&req, c.payload) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
		circ_leave(core);
		return UM_ERR_INTERNAL;
	}
	if (out != NULL)
		*out = circ;
	circ_end_send(core, circ, &circ->next, &c, now);
	circ_leave(core);
	return UM_OK;
}

int
circ_client_send(struct circ_core *core, struct circuit *circ, size_t hop, uint8_t cmd,
                 uint16_t stream_id, const uint8_t *data, size_t len, uint64_t now)
{
	enum relay_stream_rule rule = relay_cmd_stream_rule(cmd);
	int ret;

	if (circ->cl == NULL || circ->state != CIRC_S_OPEN)
		return UM_ERR_STATE;
	if (hop < 1 || hop > circ->cl->n_built)
		return UM_ERR_INVALID;
	if ((rule == RELAY_STREAM_REQUIRED && stream_id == 0) ||
	    (rule == RELAY_STREAM_FORBIDDEN && stream_id != 0))
		return UM_ERR_INVALID;
	circ_enter(core);
	ret = originate(core, circ, hop, cmd, stream_id, data, len, now);
	circ_leave(core);
	return ret;
}
