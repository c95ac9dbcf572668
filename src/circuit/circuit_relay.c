/* SPDX-License-Identifier: MIT */
/*
 * Relay-side cell switching (docs/PROTOCOL.md 13.2-13.4), for entry, middle and exit alike:
 *
 *   CREATE2 (prev)      ntor server with our onion keys -> CREATED2, hop crypto keyed
 *   RELAY(_EARLY) (prev) remove our layer; ours: EXTEND2 / TRUNCATE / DROP here, stream
 *                        messages up (CIRC_EV_EXIT_MSG), unknown dropped; not ours: on to next
 *                        (none: protocol violation); > 8 RELAY_EARLY: protocol violation
 *   RELAY (next)        add our layer, on to prev; RELAY_EARLY from next: protocol violation
 *   CREATED2 (next)     answer the pending EXTEND2 with EXTENDED2, originated here
 *   DESTROY (either)    close, DESTROY with the same reason to the other side
 *
 * EXTEND2 reaches the target over a link whose peer proved the target's Ed25519 identity:
 * an open one if we have it, else the caller is asked for one (CIRC_EV_LINK_REQUEST) and
 * answers with circ_core_link_add() (peer identity) or circ_core_link_failed().
 */
#include "circuit/circuit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "crypto/ntor.h"
#include "circuit/circuit_st.h"

static struct log_ratelim rl_proto = LOG_RATELIM_INIT(60000);

static void
violation(struct circ_core *core, struct circuit *circ, const char *what, uint64_t now)
{
	log_ratelim(&rl_proto, UM_LOG_INFO, LD_CIRC, "circuit %llu: %s: closing",
	            (unsigned long long)circ->serial, what);
	circ_kill(core, circ, CIRC_REASON_PROTOCOL, false, NULL, now);
}

static uint8_t
destroy_reason(const struct cell *c)
{
	uint8_t reason;

	/* A DESTROY with a reason we do not know still destroys; we pass on NONE. */
	if (circ_destroy_parse(c->payload, CELL_PAYLOAD_LEN, &reason) != UM_OK)
		return CIRC_REASON_NONE;
	return reason;
}

/* Originate a relay message at this hop, toward the client. */
static int
send_backward(struct circ_core *core, struct circuit *circ, uint8_t cmd, uint16_t stream_id,
              const uint8_t *data, size_t len, uint64_t now)
{
	struct cell out;
	int ret;

	memset(&out, 0, sizeof(out));
	out.cmd = CELL_RELAY;
	if ((ret = relay_body_encode(cmd, stream_id, data, len, out.payload)) != UM_OK)
		return ret;
	if ((ret = relay_crypto_relay_originate(circ->rc, out.payload)) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
		return ret;
	}
	circ_end_send(core, circ, &circ->prev, &out, now);
	return UM_OK;
}

void
circ_relay_create2(struct circ_core *core, struct circ_lrec *lr, const struct cell *c, uint64_t now)
{
	struct circ_create2 req;
	struct circ_created2 rep;
	uint8_t km[RELAY_CRYPTO_KM_LEN], node_id[NTOR_NODE_ID_LEN];
	struct relay_crypto *rc = NULL;
	struct circuit *circ;
	struct cell out;
	uint8_t reason = CIRC_REASON_PROTOCOL;

	/* The peer sent it: its CircIDs carry the top bit iff it opened the link. A wrong bit
	 * could name one of our own circuits on this link: drop, never answer. */
	if (!circ_id_is_valid(c->circ_id, !lr->initiator)) {
		core->st.ignored++;
		return;
	}
	memset(&rep, 0, sizeof(rep));
	if (!core->has_node_id || core->n_onion_keys == 0)
		goto refuse; /* not a relay */
	if (core->n_circs >= core->cfg.max_circuits ||
	    (core->ops.may_create != NULL && !core->ops.may_create(core->ops.arg, lr->handle))) {
		reason = CIRC_REASON_RESOURCELIMIT;
		goto refuse;
	}
	if (circ_create2_parse(c->payload, CELL_PAYLOAD_LEN, &req) != UM_OK)
		goto refuse;
	ntor_node_id(node_id, core->node_id);
	if (ntor_server_handle(core->onion_keys, core->n_onion_keys, node_id, req.hdata, rep.hdata,
	                       km, sizeof(km)) != UM_OK)
		goto refuse;
	if (relay_crypto_new(km, &rc) != UM_OK) {
		reason = CIRC_REASON_INTERNAL;
		goto refuse;
	}
	circ = circ_new(core);
	circ->rc = rc;
	circ->state = CIRC_S_OPEN;
	circ_end_attach(core, &circ->prev, lr, c->circ_id);
	rep.hlen = (uint16_t)circ_htype_reply_len(req.htype);
	memset(&out, 0, sizeof(out));
	out.cmd = CELL_CREATED2;
	if (circ_created2_encode(&rep, out.payload) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
		goto out;
	}
	core->st.created++;
	circ_end_send(core, circ, &circ->prev, &out, now);
	goto out;
refuse:
	core->st.ignored++;
	memset(&out, 0, sizeof(out));
	out.circ_id = c->circ_id;
	out.cmd = CELL_DESTROY;
	if (circ_destroy_encode(reason, out.payload) == UM_OK)
		(void)core->ops.send_cell(core->ops.arg, lr->handle, &out);
out:
	um_memzero(km, sizeof(km));
	um_memzero(&rep, sizeof(rep));
	um_memzero(&out, sizeof(out));
}

/* Send the pending EXTEND2's CREATE2 on lr, whose peer proved the target identity. */
static void
extend_on_link(struct circ_core *core, struct circuit *circ, struct circ_lrec *lr, uint64_t now)
{
	struct cell out;
	uint32_t id;

	if (lr == circ->prev.link) {
		violation(core, circ, "EXTEND2 back to the previous hop", now);
		return;
	}
	if (circ_pick_id(core, lr, &id) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_RESOURCELIMIT, false, NULL, now);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.cmd = CELL_CREATE2;
	if (circ_create2_encode(&circ->ext->req.create, out.payload) != UM_OK) {
		violation(core, circ, "EXTEND2 with a bad handshake", now);
		return;
	}
	circ_end_attach(core, &circ->next, lr, id);
	circ->state = CIRC_S_EXT_CREATED;
	circ_end_send(core, circ, &circ->next, &out, now);
}

void
circ_relay_link_ready(struct circ_core *core, struct circ_lrec *lr, uint64_t now)
{
	for (;;) {
		struct circuit *waiting = NULL;
		struct list_node *pos;

		list_for_each (pos, &core->timed) {
			struct circuit *circ = list_entry(pos, struct circuit, tnode);

			if (circ->state == CIRC_S_EXT_LINK &&
			    memcmp(circ->ext->req.ed25519_id, lr->peer_id, CIRC_ID_KEY_LEN) == 0) {
				waiting = circ;
				break;
			}
		}
		if (waiting == NULL)
			return;
		/* Leaves CIRC_S_EXT_LINK either way, so the scan ends. */
		extend_on_link(core, waiting, lr, now);
	}
}

static void
handle_extend2(struct circ_core *core, struct circuit *circ, const struct relay_hdr *h, bool early,
               uint64_t now)
{
	struct circ_extend *ext;
	struct circ_lrec *lr;
	struct circ_event ev;

	/* PROTOCOLS.md 2.1: EXTEND2 rides in RELAY_EARLY, so a relay caps circuit length. */
	if (!early) {
		violation(core, circ, "EXTEND2 outside RELAY_EARLY", now);
		return;
	}
	if (circ->state != CIRC_S_OPEN || circ->next.link != NULL || circ->ext != NULL) {
		violation(core, circ, "EXTEND2 on an extended circuit", now);
		return;
	}
	ext = um_xcalloc(1, sizeof(*ext));
	if (relay_extend2_parse(h->data, h->length, &ext->req) != UM_OK) {
		free(ext);
		violation(core, circ, "malformed EXTEND2", now);
		return;
	}
	if (core->has_node_id && memcmp(ext->req.ed25519_id, core->node_id, CIRC_ID_KEY_LEN) == 0) {
		free(ext);
		violation(core, circ, "EXTEND2 to ourselves", now);
		return;
	}
	circ->ext = ext;
	circ->state = CIRC_S_EXT_LINK;
	circ_set_deadline(core, circ, now + core->cfg.extend_timeout_ms);
	lr = circ_link_find_peer(core, ext->req.ed25519_id);
	if (lr != NULL) {
		extend_on_link(core, circ, lr, now);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = CIRC_EV_LINK_REQUEST;
	ev.target = &ext->req;
	circ_emit(core, &ev);
}

static void
handle_truncate(struct circ_core *core, struct circuit *circ, uint64_t now)
{
	uint8_t reason = CIRC_REASON_REQUESTED;

	/* Tear down what lies beyond us and tell the client; the circuit stays, extendable. */
	if (circ->next.link != NULL)
		circ_end_drop(core, &circ->next, CIRC_REASON_REQUESTED);
	if (circ->ext != NULL) {
		um_memzero(circ->ext, sizeof(*circ->ext));
		free(circ->ext);
		circ->ext = NULL;
	}
	circ_clear_deadline(circ);
	circ->state = CIRC_S_OPEN;
	(void)send_backward(core, circ, RELAY_TRUNCATED, 0, &reason, 1, now);
}

/* A forward body recognized at this hop: a message addressed to us. */
static void
handle_ours(struct circ_core *core, struct circuit *circ, const uint8_t *body, bool early,
            uint64_t now)
{
	struct relay_hdr h;
	enum relay_stream_rule rule;
	struct circ_event ev;

	if (relay_body_parse(body, RELAY_BODY_LEN, &h) != UM_OK) {
		violation(core, circ, "malformed relay body", now);
		return;
	}
	rule = relay_cmd_stream_rule(h.cmd);
	if (rule == RELAY_STREAM_UNKNOWN) {
		core->st.ignored++; /* tor-spec 6.1: unknown commands are dropped */
		return;
	}
	if ((rule == RELAY_STREAM_REQUIRED) != (h.stream_id != 0)) {
		violation(core, circ, "relay message with a bad StreamID", now);
		return;
	}
	switch (h.cmd) {
	case RELAY_EXTEND2:
		handle_extend2(core, circ, &h, early, now);
		return;
	case RELAY_TRUNCATE:
		handle_truncate(core, circ, now);
		return;
	case RELAY_DROP:
		return;
	case RELAY_EXTENDED2:
	case RELAY_TRUNCATED:
	case RELAY_TOKEN_ACK:
		violation(core, circ, "backward-only relay message sent forward", now);
		return;
	default:
		break;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = CIRC_EV_EXIT_MSG;
	ev.circ = circ;
	ev.cmd = h.cmd;
	ev.stream_id = h.stream_id;
	ev.data = h.data;
	ev.len = h.length;
	ev.digest = h.digest;
	circ_emit(core, &ev);
}

static void
relay_forward(struct circ_core *core, struct circuit *circ, const struct cell *c, uint64_t now)
{
	struct cell out = *c;
	bool recognized = false;

	if (relay_crypto_relay_forward(circ->rc, out.payload, &recognized) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
		return;
	}
	if (recognized) {
		handle_ours(core, circ, out.payload, c->cmd == CELL_RELAY_EARLY, now);
		um_memzero(&out, sizeof(out));
		return;
	}
	if (circ->next.link == NULL) {
		/* We are the last hop and it is not ours: corrupted or tagged on the way. */
		violation(core, circ, "unrecognized relay cell at the last hop", now);
		return;
	}
	circ_end_send(core, circ, &circ->next, &out, now);
}

void
circ_relay_from_prev(struct circ_core *core, struct circuit *circ, const struct cell *c,
                     uint64_t now)
{
	switch (c->cmd) {
	case CELL_RELAY_EARLY:
		/* PROTOCOLS.md 2.1: more than 8 inbound RELAY_EARLY closes the circuit. */
		if (++circ->early_in > CIRC_RELAY_EARLY_MAX) {
			violation(core, circ, "too many RELAY_EARLY cells", now);
			return;
		}
		relay_forward(core, circ, c, now);
		return;
	case CELL_RELAY:
		relay_forward(core, circ, c, now);
		return;
	case CELL_DESTROY:
		circ_kill(core, circ, destroy_reason(c), true, &circ->prev, now);
		return;
	case CELL_CREATE2:
		core->st.ignored++; /* duplicate CircID: the existing circuit is left alone */
		return;
	case CELL_CREATED2:
		violation(core, circ, "CREATED2 from the previous hop", now);
		return;
	default:
		core->st.ignored++;
		return;
	}
}

void
circ_relay_from_next(struct circ_core *core, struct circuit *circ, const struct cell *c,
                     uint64_t now)
{
	struct circ_created2 rep;
	struct cell out;
	uint8_t data[RELAY_DATA_MAX];
	struct wire_wr w;

	switch (c->cmd) {
	case CELL_RELAY:
		out = *c;
		if (relay_crypto_relay_backward(circ->rc, out.payload) != UM_OK) {
			circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
			return;
		}
		circ_end_send(core, circ, &circ->prev, &out, now);
		return;
	case CELL_RELAY_EARLY:
		violation(core, circ, "RELAY_EARLY from the next hop", now);
		return;
	case CELL_DESTROY:
		circ_kill(core, circ, destroy_reason(c), true, &circ->next, now);
		return;
	case CELL_CREATED2:
		break;
	default:
		core->st.ignored++;
		return;
	}
	if (circ->state != CIRC_S_EXT_CREATED || circ->ext == NULL) {
		violation(core, circ, "unexpected CREATED2", now);
		return;
	}
	if (circ_created2_parse(c->payload, CELL_PAYLOAD_LEN, &rep) != UM_OK ||
	    rep.hlen != circ_htype_reply_len(circ->ext->req.create.htype) ||
	    rep.hlen > RELAY_EXTENDED2_HDATA_MAX) {
		violation(core, circ, "bad CREATED2", now);
		return;
	}
	wire_wr_init(&w, data, sizeof(data));
	if (circ_created2_write(&w, &rep) != UM_OK) {
		circ_kill(core, circ, CIRC_REASON_INTERNAL, false, NULL, now);
		return;
	}
	um_memzero(circ->ext, sizeof(*circ->ext));
	free(circ->ext);
	circ->ext = NULL;
	circ_clear_deadline(circ);
	circ->state = CIRC_S_OPEN;
	(void)send_backward(core, circ, RELAY_EXTENDED2, 0, data, w.len, now);
}

int
circ_relay_send(struct circ_core *core, struct circuit *circ, uint8_t cmd, uint16_t stream_id,
                const uint8_t *data, size_t len, uint64_t now)
{
	int ret;

	if (circ->cl != NULL || circ->rc == NULL || circ->state == CIRC_S_CLOSED ||
	    circ->prev.link == NULL)
		return UM_ERR_STATE;
	circ_enter(core);
	ret = send_backward(core, circ, cmd, stream_id, data, len, now);
	circ_leave(core);
	return ret;
}
