/* SPDX-License-Identifier: MIT */
/*
 * The daemon's directory roles (issue #3), wired from configuration: the authority role
 * (dirserv + dirauth_io), the relay role's descriptor uploads (dirrelay_io) and the client
 * (dirclient + dirclient_io), all sharing one SQLite store, <state_dir>/umbra.db.
 */
#ifndef UM_APP_DIR_NODE_H
#define UM_APP_DIR_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "config/config.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "link/link.h"
#include "directory/authority.h"
#include "directory/dirclient.h"
#include "directory/directory_io.h"
#include "directory/dirfed.h"
#include "directory/dirfed_io.h"
#include "directory/dirserv.h"

/* What the daemon lends (all borrowed; they outlive the struct app_dir). */
struct app_dir_env {
	struct ev_loop *loop;
	const struct keys_ed25519 *id;
	const struct link_identity *li;
	struct link_mgr *links;
	const char *const *link_listen; /* bound link addresses, NULL-terminated */
};

struct app_dir {
	struct store *store;
	struct keys_ed25519 signing; /* authority signing key (directory role) */
	struct keys_ed25519 op;      /* operator key ([relay] operator_key), sk NULL if none */
	struct keys_x25519 onion;    /* relay onion key */
	struct dirserv *ds;
	struct dirauth_io *auth;
	struct dirfed *fed;       /* federation core (directory role), or NULL */
	struct dirfed_io *fed_io; /* its driver */
	struct dirrelay_io *relay;
	struct dirclient *dc;
	struct dirclient_io *dc_io;
	/* Key rotation (dir_keys.c). */
	const struct config *cfg;    /* the current one (replaced by app_dir_reload) */
	struct app_dir_env env;      /* copied at start */
	struct auth_keyring keyring; /* authority: current certificate first, then previous */
	struct keys_x25519
	        onion_prev;       /* relay: previous onion key during its grace, else sk NULL */
	uint64_t onion_created_s; /* when the current onion key was made */
	uint64_t onion_prev_expires_s; /* when the previous one stops working (0: none) */
	struct ev_timer *keys_timer;   /* relay: onion-key rotation checks */
	/* Called after the onion keys changed (rotation, retirement); set after app_dir_start. */
	void (*on_onion_keys)(void *arg);
	void *on_onion_keys_arg;
	struct app_provider *prov; /* provider bindings (dir_provider.c), or NULL */
};

/* dir_provider.c: provider bindings (PROTOCOL.md 18.4). */
/* Authority: with [directory] issuers, fill dcfg's provider checks (and require_provider). */
int app_dir_provider_authority(struct app_dir *d, const struct config *c, size_t n_issuers,
                               const uint8_t (*ids)[DIR_ISSUER_ID_LEN], struct dirserv_config *dcfg,
                               char *why, size_t why_len) UM_WARN_UNUSED;
/* Relay: with [relay] provider, load (or make) the provider key, start the token client and
 * set rcfg's operator key and upsert hook (auth_ids: the authorities' identities, rcfg order).
 * Call after the operator key was loaded. */
int app_dir_provider_relay(struct app_dir *d, const struct config *c, struct ev_loop *loop,
                           struct dirrelay_io_config *rcfg, const uint8_t (*auth_ids)[32],
                           char *why, size_t why_len) UM_WARN_UNUSED;
/* The provider key file: [relay] provider_key, else <state_dir>/provider.key (caller frees). */
char *app_provider_key_path(const struct config *c);
void app_dir_provider_clear(struct app_dir *d);

/* dir_keys.c: the authority signing keyring and the relay onion keys, kept in the state
 * database and key files, rotated on schedule. */
/* Load (or create) the signing key and the keyring, certifying the key if the keyring's
 * current certificate is not for it or runs out within a lifetime. */
int app_dir_signing_load(struct app_dir *d, const struct config *c, const struct keys_ed25519 *id,
                         uint64_t now_s, char *why, size_t why_len) UM_WARN_UNUSED;
/* Rotate the signing key if its lifetime is over (dirauth_io's on_period_end). */
void app_dir_signing_check(void *arg, uint64_t now_s);
/* Load (or create) the onion key, the previous one if still in its grace, and their times. */
int app_dir_onion_load(struct app_dir *d, const struct config *c, uint64_t now_s, char *why,
                       size_t why_len) UM_WARN_UNUSED;
/* Rotate or retire onion keys when due; true when the descriptor changed. */
bool app_dir_onion_check(struct app_dir *d, uint64_t now_s);

/* The relay's onion keys for circuit handshakes: out[0] the current one, out[1] the previous
 * one during its grace. Returns how many (0 before app_dir_onion_load). Views into d: valid
 * until the next rotation (on_onion_keys) or app_dir_clear(). */
size_t app_dir_onion_keys(const struct app_dir *d, struct keys_x25519 out[2]);

/* Start what c asks for (nothing without [directory] authorities or the directory role).
 * On failure why says what; call app_dir_clear() either way. */
int app_dir_start(struct app_dir *d, const struct config *c, const struct app_dir_env *env,
                  char *why, size_t why_len) UM_WARN_UNUSED;
/* The bound directory HTTP addresses, for the start-up log (NULL past the end). */
const char *app_dir_listen(const struct app_dir *d, size_t i);
/* SIGHUP: apply the reloadable relay fields (a changed descriptor is published at once). */
int app_dir_reload(struct app_dir *d, const struct config *c, const struct app_dir_env *env,
                   char *why, size_t why_len) UM_WARN_UNUSED;
/* Stop the network activity (shutdown begins); the state stays until app_dir_clear(). */
void app_dir_stop(struct app_dir *d);
/* Free everything and wipe the keys. */
void app_dir_clear(struct app_dir *d);

#endif /* UM_APP_DIR_NODE_H */
