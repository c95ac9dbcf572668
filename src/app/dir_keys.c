/* SPDX-License-Identifier: MIT */
/*
 * Key rotation for the directory roles (dir_node.h).
 *
 * Authority signing key: the key file holds the current key; the keyring (every certificate
 * still valid, current first) is kept in the state database ("dir.keys"/"keyring"), so
 * previous certificates survive restarts and stay published at /v1/authorities. A new key
 * is made when the current certificate is older than signing_key_lifetime, at the end of a
 * voting period (so one period's vote and signatures all use one key); its certificate is
 * valid for two lifetimes, so documents signed just before a rotation keep verifying.
 *
 * Relay onion key: the key file holds the current key, "<file>.old" the previous one during
 * its grace; the times are in the state database ("dir.keys"/"onion_created",
 * "onion_prev_expires"). Key files are replaced by writing "<file>.new" (0600, O_EXCL) and
 * renaming it over, so a crash leaves either key, never a torn file.
 */
#include "app/dir_node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "app/app.h"
#include "store/store.h"
#include "directory/dirserv.h"

static const char KV_NS[] = "dir.keys";

/* ---- helpers ---- */

/* Make a new key at path (through path.new and a rename). secret receives it. */
static int
key_replace(const char *path, enum keyfile_type type, uint8_t secret[32], char *why, size_t why_len)
{
	char *tmp = um_xasprintf("%s.new", path);
	bool made = false;
	int ret;

	(void)unlink(tmp); /* a leftover of a crash: never reuse a key that may have leaked */
	ret = app_keyfile_load(tmp, type, true, secret, &made, why, why_len);
	if (ret == UM_OK && rename(tmp, path) != 0) {
		snprintf(why, why_len, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		ret = UM_ERR_SYS;
	}
	if (ret != UM_OK)
		(void)unlink(tmp);
	free(tmp);
	return ret;
}

static int
kv_get_u64(struct store *st, const char *key, uint64_t *v)
{
	int64_t x;
	int ret = store_kv_get_int64(st, KV_NS, key, strlen(key), &x);

	if (ret == UM_OK)
		*v = x < 0 ? 0 : (uint64_t)x;
	return ret;
}

static int
kv_put_u64(struct store *st, const char *key, uint64_t v)
{
	return store_kv_put_int64(st, KV_NS, key, strlen(key), (int64_t)v);
}

/* ---- authority signing key ---- */

static int
keyring_save(struct store *st, const struct auth_keyring *kr)
{
	uint8_t buf[AUTH_KEYRING_MAX * AUTHCERT_LEN];
	struct wire_wr w;
	int ret;

	wire_wr_init(&w, buf, sizeof(buf));
	for (size_t i = 0; i < kr->n_certs; i++) {
		if ((ret = auth_cert_encode(&kr->certs[i], &w)) != UM_OK)
			return ret;
	}
	return store_kv_put(st, KV_NS, "keyring", 7, buf, w.len);
}

/* The stored keyring of identity, its expired certificates dropped; NOT_FOUND if none. */
static int
keyring_load(struct store *st, const uint8_t identity[AUTHCERT_ID_LEN], uint64_t now_s,
             struct auth_keyring *kr)
{
	uint8_t *buf = NULL;
	size_t len = 0, off = 0;
	int ret;

	ret = store_kv_get(st, KV_NS, "keyring", 7, AUTH_KEYRING_MAX * AUTHCERT_LEN, &buf, &len);
	if (ret != UM_OK)
		return ret;
	memset(kr, 0, sizeof(*kr));
	memcpy(kr->identity, identity, AUTHCERT_ID_LEN);
	while (off < len && kr->n_certs < AUTH_KEYRING_MAX) {
		struct auth_cert c;
		ssize_t n = auth_cert_parse(buf + off, len - off, &c);

		if (n < 0)
			break;
		off += (size_t)n;
		if (memcmp(c.identity, identity, AUTHCERT_ID_LEN) != 0 ||
		    auth_cert_verify(&c, now_s) != UM_OK)
			continue; /* another identity's (the key changed) or expired */
		kr->certs[kr->n_certs++] = c;
	}
	free(buf);
	return kr->n_certs > 0 ? UM_OK : UM_ERR_NOT_FOUND;
}

/* Certify d->signing into d->keyring (a rotation when the ring has certificates). */
static int
certify(struct app_dir *d, const struct keys_ed25519 *id, uint64_t lifetime_s, uint64_t now_s)
{
	struct auth_cert cert;
	uint64_t pub = now_s; /* verifiers allow AUTHCERT_CLOCK_SKEW_S for clocks that lag */
	int ret;

	if (d->keyring.n_certs > 0 && pub <= d->keyring.certs[0].published_s)
		pub = d->keyring.certs[0].published_s + 1;
	if ((ret = auth_cert_make(&cert, id, d->signing.pk, pub, now_s + 2 * lifetime_s)) != UM_OK)
		return ret;
	if (d->keyring.n_certs == 0)
		return auth_keyring_init(&d->keyring, &cert);
	return auth_keyring_rotate(&d->keyring, &cert, now_s);
}

int
app_dir_signing_load(struct app_dir *d, const struct config *c, const struct keys_ed25519 *id,
                     uint64_t now_s, char *why, size_t why_len)
{
	uint64_t lifetime = c->directory.signing_key_lifetime_ms / 1000;
	uint8_t secret[32];
	bool made = false;
	int ret;

	ret = app_keyfile_load(c->directory.signing_key, KEYFILE_ED25519, true, secret, &made, why,
	                       why_len);
	if (ret != UM_OK) {
		um_memzero(secret, sizeof(secret));
		return ret;
	}
	keys_ed25519_from_seed(&d->signing, secret);
	um_memzero(secret, sizeof(secret));
	if (made)
		log_notice(LD_APP, "created authority signing key %s", c->directory.signing_key);
	ret = keyring_load(d->store, id->pk, now_s, &d->keyring);
	if (ret != UM_OK && ret != UM_ERR_NOT_FOUND) {
		snprintf(why, why_len, "cannot read the authority keyring: %s", um_err_str(ret));
		return ret;
	}
	if (ret == UM_ERR_NOT_FOUND)
		memset(&d->keyring, 0, sizeof(d->keyring));
	/* Certify the key unless the current certificate is for it and has a lifetime left. */
	if (d->keyring.n_certs == 0 ||
	    memcmp(d->keyring.certs[0].signing_key, d->signing.pk, AUTHCERT_ID_LEN) != 0 ||
	    d->keyring.certs[0].expires_s < now_s + lifetime) {
		if ((ret = certify(d, id, lifetime, now_s)) != UM_OK ||
		    (ret = keyring_save(d->store, &d->keyring)) != UM_OK) {
			snprintf(why, why_len, "cannot certify the authority signing key: %s",
			         um_err_str(ret));
			return ret;
		}
	}
	return UM_OK;
}

void
app_dir_signing_check(void *arg, uint64_t now_s)
{
	struct app_dir *d = arg;
	uint64_t lifetime = d->cfg->directory.signing_key_lifetime_ms / 1000;
	struct keys_ed25519 old = d->signing;
	struct auth_keyring kr = d->keyring;
	uint8_t secret[32];
	char why[256];
	int ret;

	if (d->ds == NULL || now_s < d->keyring.certs[0].published_s + lifetime)
		return;
	ret = key_replace(d->cfg->directory.signing_key, KEYFILE_ED25519, secret, why, sizeof(why));
	if (ret != UM_OK) {
		um_memzero(secret, sizeof(secret));
		log_warn(LD_APP, "cannot rotate the authority signing key: %s", why);
		return;
	}
	keys_ed25519_from_seed(&d->signing, secret);
	um_memzero(secret, sizeof(secret));
	if ((ret = certify(d, d->env.id, lifetime, now_s)) != UM_OK ||
	    (ret = keyring_save(d->store, &d->keyring)) != UM_OK ||
	    (ret = dirserv_set_keys(d->ds, &d->keyring, &d->signing)) != UM_OK) {
		/* The file has the new key: keep serving with the old one until restart, which
		 * certifies the file's key. */
		log_warn(LD_APP, "cannot rotate the authority signing key: %s", um_err_str(ret));
		keys_ed25519_clear(&d->signing);
		d->signing = old;
		d->keyring = kr;
		return;
	}
	keys_ed25519_clear(&old);
	log_notice(LD_APP, "rotated the authority signing key (%zu certificates published)",
	           d->keyring.n_certs);
}

/* ---- relay onion keys ---- */

static char *
prev_path(const struct config *c)
{
	return um_xasprintf("%s.old", c->relay.onion_key);
}

int
app_dir_onion_load(struct app_dir *d, const struct config *c, uint64_t now_s, char *why,
                   size_t why_len)
{
	uint8_t secret[32];
	bool made = false;
	char *old = prev_path(c);
	int ret;

	ret = app_keyfile_load(c->relay.onion_key, KEYFILE_X25519, true, secret, &made, why,
	                       why_len);
	if (ret == UM_OK) {
		keys_x25519_from_secret(&d->onion, secret);
		if (made)
			log_notice(LD_APP, "created onion key %s", c->relay.onion_key);
	}
	um_memzero(secret, sizeof(secret));
	if (ret != UM_OK)
		goto out;
	if (made || kv_get_u64(d->store, "onion_created", &d->onion_created_s) != UM_OK) {
		d->onion_created_s = now_s;
		if ((ret = kv_put_u64(d->store, "onion_created", now_s)) != UM_OK)
			goto db;
	}
	/* The previous key, while its grace lasts (else it is deleted). */
	d->onion_prev_expires_s = 0;
	if (kv_get_u64(d->store, "onion_prev_expires", &d->onion_prev_expires_s) != UM_OK ||
	    d->onion_prev_expires_s <= now_s) {
		d->onion_prev_expires_s = 0;
		(void)unlink(old);
	} else if ((ret = app_keyfile_load(old, KEYFILE_X25519, false, secret, &made, why,
	                                   why_len)) == UM_OK) {
		keys_x25519_from_secret(&d->onion_prev, secret);
		um_memzero(secret, sizeof(secret));
	} else {
		um_memzero(secret, sizeof(secret));
		log_warn(LD_APP, "previous onion key unusable: %s", why);
		d->onion_prev_expires_s = 0;
		ret = UM_OK;
	}
	goto out;
db:
	snprintf(why, why_len, "cannot store onion key times: %s", um_err_str(ret));
out:
	free(old);
	return ret;
}

bool
app_dir_onion_check(struct app_dir *d, uint64_t now_s)
{
	const struct config *c = d->cfg;
	uint64_t lifetime = c->relay.onion_key_lifetime_ms / 1000;
	uint64_t grace = c->relay.onion_key_grace_ms / 1000;
	char *old = prev_path(c);
	uint8_t secret[32];
	char why[256];
	bool changed = false;
	int ret;

	if (d->onion_prev_expires_s != 0 && now_s >= d->onion_prev_expires_s) {
		keys_x25519_clear(&d->onion_prev);
		d->onion_prev_expires_s = 0;
		(void)unlink(old);
		if ((ret = store_kv_del(d->store, KV_NS, "onion_prev_expires", 18)) != UM_OK &&
		    ret != UM_ERR_NOT_FOUND)
			log_warn(LD_APP, "cannot store onion key times: %s", um_err_str(ret));
		log_notice(LD_APP, "the previous onion key's grace is over: deleted");
		changed = true;
	}
	if (now_s < d->onion_created_s + lifetime)
		goto out;
	/* current -> previous (file renamed first: the old key file must never be lost). */
	if (rename(c->relay.onion_key, old) != 0) {
		log_warn(LD_APP, "cannot rotate the onion key: rename %s: %s", c->relay.onion_key,
		         strerror(errno));
		goto out;
	}
	if ((ret = key_replace(c->relay.onion_key, KEYFILE_X25519, secret, why, sizeof(why))) !=
	    UM_OK) {
		um_memzero(secret, sizeof(secret));
		log_warn(LD_APP, "cannot rotate the onion key: %s", why);
		(void)rename(old, c->relay.onion_key);
		goto out;
	}
	keys_x25519_clear(&d->onion_prev);
	d->onion_prev = d->onion;
	keys_x25519_from_secret(&d->onion, secret);
	um_memzero(secret, sizeof(secret));
	d->onion_created_s = now_s;
	d->onion_prev_expires_s = now_s + grace;
	if ((ret = kv_put_u64(d->store, "onion_created", now_s)) != UM_OK ||
	    (ret = kv_put_u64(d->store, "onion_prev_expires", d->onion_prev_expires_s)) != UM_OK)
		log_warn(LD_APP, "cannot store onion key times: %s", um_err_str(ret));
	log_notice(LD_APP, "rotated the onion key (the previous one works for %llus more)",
	           (unsigned long long)grace);
	changed = true;
out:
	free(old);
	return changed;
}
