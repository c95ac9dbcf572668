/* SPDX-License-Identifier: MIT */
/* The umbra command line: one entry per subcommand (cmd_*.c) and the helpers they share. */
#ifndef UM_APP_APP_H
#define UM_APP_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "config/config.h"
#include "crypto/keys.h"

/* Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. */
enum app_exit {
	APP_OK = 0,
	APP_FAIL = 1,
	APP_USAGE = 2,
};

int cmd_keygen(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_links(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_relays(int argc, char **argv);
int cmd_circuits(int argc, char **argv);
int cmd_issuer(int argc, char **argv);
int cmd_tokens(int argc, char **argv);
int cmd_dir(int argc, char **argv);
int cmd_testnet(int argc, char **argv);

/* The config file to use: opt (-c), else $UMBRA_CONFIG, else /etc/umbra/umbra.conf if it
 * exists, else NULL (defaults and environment only). */
const char *app_config_path(const char *opt);
/*
 * The exit policy of c ([relay] exit_policy items joined, or EXIT_POLICY_DEFAULT when
 * empty): a new policy in *out, or UM_ERR_CONFIG with why naming the bad rule.
 */
struct exit_policy;
int app_exit_policy(const struct config *c, struct exit_policy **out, char *why,
                    size_t why_len) UM_WARN_UNUSED;
/*
 * The exit's tier policy of c ([relay] tier_policy items and require_token, exit/exit_tier.h):
 * a new tier policy in *out, or UM_ERR_CONFIG with why naming the bad item or rule.
 */
struct exit_tier_policy;
int app_tier_policy(const struct config *c, struct exit_tier_policy **out, char *why,
                    size_t why_len) UM_WARN_UNUSED;
/*
 * The checks config/ cannot make because they need a higher module (the exit policy and
 * tier policy syntax; an exit whose policy accepts no port). UM_OK or UM_ERR_CONFIG with why.
 */
int app_config_check(const struct config *c, char *why, size_t why_len) UM_WARN_UNUSED;
/* Load and validate; print every error to stderr. Returns APP_OK or APP_USAGE. */
int app_load_config(const char *path, struct config **out);
/* Create dir (and parents) with mode 0700; refuse an existing one writable by others. */
int app_ensure_state_dir(const char *dir, char *why, size_t why_len) UM_WARN_UNUSED;
/* Load the node's keys; with create, generate missing ones (mode 0600). */
int app_keys_load(const struct config *c, bool create, struct keys_ed25519 *id,
                  struct keys_x25519 *lk, char *why, size_t why_len) UM_WARN_UNUSED;
/*
 * Read the secret of key file path (type checked, mode 0600 required); with create, make a
 * new key there if it does not exist (*made says so). secret is the caller's to wipe.
 */
int app_keyfile_load(const char *path, enum keyfile_type type, bool create, uint8_t secret[32],
                     bool *made, char *why, size_t why_len) UM_WARN_UNUSED;
/* Node ids and keys in text: 52 lower-case base32 characters. */
void app_key_b32(const uint8_t key[32], char out[53]);
/* Parse a byte count with an optional K/M/G/T suffix (powers of 1024). */
int app_parse_bytes(const char *s, uint64_t *out) UM_WARN_UNUSED;
/* The control socket path from -s, or from the configuration. */
int app_control_path(const char *sock_opt, const char *config_opt, char **out);

#endif /* UM_APP_APP_H */
