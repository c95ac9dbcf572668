/* SPDX-License-Identifier: MIT */
/*
 * Relay bindings and the relay-trust feed of the issuer role (issue 5, docs/ISSUER.md
 * "Relay trust", PROTOCOL.md 19).
 *
 * Bindings: a subject of kind relay vouches for relay node ids (32-byte identity keys). A
 * node id is bound to at most one subject of this issuer; an issuer binds at most
 * RELAY_TRUST_MAX_ENTRIES node ids. Each change is one transaction with its audit row
 * ("relay.bind" / "relay.unbind", docs/ISSUER.md), like every issuer_apply() mutation.
 * Bindings of a subject whose kind became client stay stored but leave the feed.
 *
 * Feed: struct issuer_rtfeed serves GET /v1/relaytrust, the signed relay_trust.h document
 * listing every bound node id with its subject's signals at the time: bond (also the stake
 * signal), reputation, whether a dispute is active, and the tier (the base tier lowered to
 * the binding dispute cap). The signals are read again at most once a second; the document
 * is re-signed with the next sequence number (stored, so monotonic across restarts) when
 * they changed (a mutation, or a dispute that started or ended with time) and when half
 * its lifetime has passed.
 *
 * Threading: the loop thread, like the issuer itself.
 */
#ifndef UM_TRUST_ISSUER_RELAYS_H
#define UM_TRUST_ISSUER_RELAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/keys.h"
#include "store/store.h"
#include "trust/issuer.h"
#include "trust/relay_trust.h"

/*
 * Bind (add) or unbind node_id to/from the relay subject `subject`, recorded in the audit
 * trail under actor (issuer_id_is_valid()). UM_OK also when nothing changes (already bound
 * to this subject): no audit row then. Errors (issuer_errmsg() says which):
 *   UM_ERR_INVALID    bad actor, subject id or time;
 *   UM_ERR_NOT_FOUND  no such subject; unbind: node_id is not bound to this subject;
 *   UM_ERR_STATE      bind: the subject is not of kind relay;
 *   UM_ERR_EXISTS     bind: node_id is bound to another subject;
 *   UM_ERR_TOO_LARGE  bind: RELAY_TRUST_MAX_ENTRIES node ids are bound already;
 *   store errors as for issuer_apply().
 */
int issuer_relay_bind(struct issuer *is, const char *actor, const char *subject,
                      const uint8_t node_id[RELAY_TRUST_ID_LEN], bool add,
                      uint64_t now_s) UM_WARN_UNUSED;
/* Call fn for the node ids bound to subject, ascending; fn as for issuer_dispute_foreach(). */
typedef int issuer_relay_fn(void *arg, const uint8_t node_id[RELAY_TRUST_ID_LEN]);
int issuer_relay_foreach(struct issuer *is, const char *subject, issuer_relay_fn *fn,
                         void *arg) UM_WARN_UNUSED;
/*
 * Fill d's entries (n, v) with every node id bound to a relay subject, ascending, and its
 * subject's signals at now_s. Other fields of d are left alone.
 */
int issuer_relay_trust_collect(struct issuer *is, uint64_t now_s,
                               struct relay_trust *d) UM_WARN_UNUSED;

/* ---- the signed feed ---- */

struct issuer_rtfeed;

/*
 * A feed over is (borrowed) signed by id (borrowed), its seq kept in st's kv table
 * (namespace "issuer_relaytrust"); lifetime_s 60..RELAY_TRUST_LIFETIME_MAX_S (else
 * UM_ERR_INVALID). *out is the caller's (issuer_rtfeed_free()).
 */
int issuer_rtfeed_open(struct store *st, struct issuer *is, const struct keys_ed25519 *id,
                       uint64_t lifetime_s, struct issuer_rtfeed **out) UM_WARN_UNUSED;
void issuer_rtfeed_free_(struct issuer_rtfeed *f);
#define issuer_rtfeed_free(f) UM_FREE_AND_NULL(issuer_rtfeed_free_, f)
/* The current signed document (rules at the top): a view valid until the next call on f. */
int issuer_rtfeed_doc(struct issuer_rtfeed *f, uint64_t now_s, const uint8_t **doc,
                      size_t *len) UM_WARN_UNUSED;
/* The sequence number of the last document signed (0 before the first). */
uint64_t issuer_rtfeed_seq(const struct issuer_rtfeed *f);

#endif /* UM_TRUST_ISSUER_RELAYS_H */
