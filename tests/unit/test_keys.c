/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/crypto/keys: Ed25519 sign/verify (good, tampered message, tampered
 * signature, wrong key) and the RFC 8032 TEST 1 vector; X25519 agreement, the RFC 7748
 * section 6.1 vector and low-order public keys; key files on disk (round trip, created 0600,
 * O_EXCL, every refusal: group/other bits, symlink, directory, FIFO, other key type, missing,
 * other owner, oversized); keyfile_parse: known vector, round trip, every strict prefix,
 * trailing junk, bad base64, over-long input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"

enum { WHY_LEN = 512, N_ROUND_TRIPS = 200 };

/* RFC 8032 section 7.1, TEST 1 (empty message). */
static const char rfc8032_sk[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc8032_pk[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc8032_sig[] =
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

/* RFC 7748 section 6.1. */
static const char rfc7748_alice_sk[] =
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char rfc7748_alice_pk[] =
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char rfc7748_bob_sk[] =
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char rfc7748_bob_pk[] =
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char rfc7748_shared[] =
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/* The key file for the secret 00 01 02 ... 1f, byte for byte. */
static const char kf_ed25519_vec[] = "umbra-key-v1 ed25519\n"
                                     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
static const char kf_x25519_vec[] = "umbra-key-v1 x25519\n"
                                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

static void
unhex(uint8_t *out, size_t n, const char *hex)
{
	assert_int_equal(dec_hex(out, n, hex, strlen(hex)), (ssize_t)n);
}

static void
seq_secret(uint8_t s[X25519_KEY_LEN])
{
	for (size_t i = 0; i < X25519_KEY_LEN; i++)
		s[i] = (uint8_t)i;
}

static bool
is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---- a scratch directory per test, removed with everything in it ---- */

struct tmp {
	char dir[64];
	char path[128];
};

static void
tmp_init(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/um-keys-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

/* t->path = dir/name */
static const char *
tmp_path(struct tmp *t, const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

static void
tmp_clear(struct tmp *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[512];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
		if (unlink(p) != 0)
			assert_int_equal(rmdir(p), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(t->dir), 0);
}

static void
write_raw(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* ---- Ed25519 ---- */

static void
test_keys_ed25519_sign_verify(void **state)
{
	static const char msg[] = "a descriptor, a certificate, a consensus";
	struct keys_ed25519 k, other;
	uint8_t sig[ED25519_SIG_LEN], bad[ED25519_SIG_LEN], m[sizeof(msg)];

	(void)state;
	keys_ed25519_generate(&k);
	keys_ed25519_generate(&other);
	assert_non_null(k.sk);
	assert_memory_not_equal(k.pk, other.pk, ED25519_PK_LEN);

	sign_ed25519(&k, msg, sizeof(msg), sig);
	assert_int_equal(sign_ed25519_verify(k.pk, msg, sizeof(msg), sig), UM_OK);
	/* Signatures are deterministic. */
	sign_ed25519(&k, msg, sizeof(msg), bad);
	assert_memory_equal(sig, bad, sizeof(sig));

	/* Every flipped message bit, and a shorter or longer message, fails. */
	for (size_t i = 0; i < sizeof(msg) * 8; i++) {
		memcpy(m, msg, sizeof(msg));
		m[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(sign_ed25519_verify(k.pk, m, sizeof(m), sig), UM_ERR_AUTH);
	}
	assert_int_equal(sign_ed25519_verify(k.pk, msg, sizeof(msg) - 1, sig), UM_ERR_AUTH);
	assert_int_equal(sign_ed25519_verify(k.pk, "", 0, sig), UM_ERR_AUTH);

	/* Every flipped signature bit fails. */
	for (size_t i = 0; i < sizeof(sig) * 8; i++) {
		memcpy(bad, sig, sizeof(sig));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(sign_ed25519_verify(k.pk, msg, sizeof(msg), bad), UM_ERR_AUTH);
	}
	memset(bad, 0, sizeof(bad));
	assert_int_equal(sign_ed25519_verify(k.pk, msg, sizeof(msg), bad), UM_ERR_AUTH);

	/* Another key's public half does not verify it. */
	assert_int_equal(sign_ed25519_verify(other.pk, msg, sizeof(msg), sig), UM_ERR_AUTH);

	keys_ed25519_clear(&k);
	keys_ed25519_clear(&other);
	assert_null(k.sk);
	assert_true(is_zero(k.pk, sizeof(k.pk)));
	/* Clearing twice is harmless. */
	keys_ed25519_clear(&k);
}

static void
test_keys_ed25519_from_seed_rfc8032(void **state)
{
	uint8_t seed[ED25519_SEED_LEN], pk[ED25519_PK_LEN], sig[ED25519_SIG_LEN];
	uint8_t want_sig[ED25519_SIG_LEN], back[ED25519_SEED_LEN];
	struct keys_ed25519 a, b;

	(void)state;
	unhex(seed, sizeof(seed), rfc8032_sk);
	unhex(pk, sizeof(pk), rfc8032_pk);
	unhex(want_sig, sizeof(want_sig), rfc8032_sig);

	keys_ed25519_from_seed(&a, seed);
	keys_ed25519_from_seed(&b, seed);
	assert_memory_equal(a.pk, b.pk, ED25519_PK_LEN);
	assert_memory_equal(a.pk, pk, ED25519_PK_LEN);
	assert_memory_equal(a.sk, b.sk, 64);

	sign_ed25519(&a, "", 0, sig);
	assert_memory_equal(sig, want_sig, ED25519_SIG_LEN);
	assert_int_equal(sign_ed25519_verify(pk, "", 0, want_sig), UM_OK);
	assert_int_equal(sign_ed25519_verify(pk, "\x72", 1, want_sig), UM_ERR_AUTH);

	/* The seed comes back out unchanged (that is what a key file stores). */
	keys_ed25519_seed(&a, back);
	assert_memory_equal(back, seed, sizeof(seed));

	keys_ed25519_clear(&a);
	keys_ed25519_clear(&b);
}

/* ---- X25519 ---- */

static void
test_keys_x25519_rfc7748(void **state)
{
	uint8_t a_sk[X25519_KEY_LEN], a_pk[X25519_KEY_LEN], b_sk[X25519_KEY_LEN];
	uint8_t b_pk[X25519_KEY_LEN], shared[X25519_KEY_LEN], out[X25519_KEY_LEN];
	struct keys_x25519 alice;

	(void)state;
	unhex(a_sk, sizeof(a_sk), rfc7748_alice_sk);
	unhex(a_pk, sizeof(a_pk), rfc7748_alice_pk);
	unhex(b_sk, sizeof(b_sk), rfc7748_bob_sk);
	unhex(b_pk, sizeof(b_pk), rfc7748_bob_pk);
	unhex(shared, sizeof(shared), rfc7748_shared);

	keys_x25519_from_secret(&alice, a_sk);
	assert_memory_equal(alice.pk, a_pk, X25519_KEY_LEN);
	assert_memory_equal(alice.sk, a_sk, X25519_KEY_LEN);
	keys_x25519_public(out, b_sk);
	assert_memory_equal(out, b_pk, X25519_KEY_LEN);

	assert_int_equal(keys_x25519_dh(out, alice.sk, b_pk), UM_OK);
	assert_memory_equal(out, shared, X25519_KEY_LEN);
	assert_int_equal(keys_x25519_dh(out, b_sk, a_pk), UM_OK);
	assert_memory_equal(out, shared, X25519_KEY_LEN);

	keys_x25519_clear(&alice);
	assert_null(alice.sk);
	assert_true(is_zero(alice.pk, sizeof(alice.pk)));
}

static void
test_keys_x25519_dh_agreement(void **state)
{
	uint8_t ab[X25519_KEY_LEN], ba[X25519_KEY_LEN], ac[X25519_KEY_LEN];
	struct keys_x25519 a, b, c;

	(void)state;
	keys_x25519_generate(&a);
	keys_x25519_generate(&b);
	keys_x25519_generate(&c);
	assert_int_equal(keys_x25519_dh(ab, a.sk, b.pk), UM_OK);
	assert_int_equal(keys_x25519_dh(ba, b.sk, a.pk), UM_OK);
	assert_int_equal(keys_x25519_dh(ac, a.sk, c.pk), UM_OK);
	assert_memory_equal(ab, ba, X25519_KEY_LEN);
	assert_memory_not_equal(ab, ac, X25519_KEY_LEN);
	assert_false(is_zero(ab, sizeof(ab)));
	keys_x25519_clear(&a);
	keys_x25519_clear(&b);
	keys_x25519_clear(&c);
}

static void
test_keys_x25519_low_order_refused(void **state)
{
	/* u = 0 (the all-zero key), u = 1 and u = p - 1: every scalar maps them to zero. */
	static const char *const low[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t pk[X25519_KEY_LEN], out[X25519_KEY_LEN];
	struct keys_x25519 a;

	(void)state;
	keys_x25519_generate(&a);
	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		unhex(pk, sizeof(pk), low[i]);
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(keys_x25519_dh(out, a.sk, pk), UM_ERR_CRYPTO);
		/* Nothing of the failed result is left behind. */
		assert_true(is_zero(out, sizeof(out)));
	}
	keys_x25519_clear(&a);
}

/* ---- key files on disk ---- */

static void
test_keyfile_write_read_round_trip(void **state)
{
	uint8_t seed[ED25519_SEED_LEN], sk[X25519_KEY_LEN], back[X25519_KEY_LEN];
	char why[WHY_LEN] = "";
	struct keys_ed25519 id, id2;
	struct keys_x25519 lk, lk2;
	struct stat st;
	struct tmp t;
	mode_t old;

	(void)state;
	tmp_init(&t);
	keys_ed25519_generate(&id);
	keys_ed25519_seed(&id, seed);
	keys_x25519_generate(&lk);
	memcpy(sk, lk.sk, sizeof(sk));

	/* Mode 0600 whatever the umask: neither a permissive nor a strict one changes it. */
	old = umask(0);
	assert_int_equal(
	        keyfile_write(tmp_path(&t, "id.key"), KEYFILE_ED25519, seed, why, sizeof(why)),
	        UM_OK);
	umask(0077);
	assert_int_equal(
	        keyfile_write(tmp_path(&t, "link.key"), KEYFILE_X25519, sk, why, sizeof(why)),
	        UM_OK);
	umask(old);
	assert_int_equal(stat(tmp_path(&t, "id.key"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(stat(tmp_path(&t, "link.key"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(
	        keyfile_read(tmp_path(&t, "id.key"), KEYFILE_ED25519, back, why, sizeof(why)),
	        UM_OK);
	assert_memory_equal(back, seed, sizeof(seed));
	assert_int_equal(
	        keyfile_read(tmp_path(&t, "link.key"), KEYFILE_X25519, back, why, sizeof(why)),
	        UM_OK);
	assert_memory_equal(back, sk, sizeof(sk));

	/* The loaders rebuild the same key pairs. */
	assert_int_equal(keys_ed25519_load(tmp_path(&t, "id.key"), &id2, why, sizeof(why)), UM_OK);
	assert_memory_equal(id2.pk, id.pk, ED25519_PK_LEN);
	assert_memory_equal(id2.sk, id.sk, 64);
	assert_int_equal(keys_x25519_load(tmp_path(&t, "link.key"), &lk2, why, sizeof(why)), UM_OK);
	assert_memory_equal(lk2.pk, lk.pk, X25519_KEY_LEN);
	assert_memory_equal(lk2.sk, lk.sk, X25519_KEY_LEN);

	keys_ed25519_clear(&id);
	keys_ed25519_clear(&id2);
	keys_x25519_clear(&lk);
	keys_x25519_clear(&lk2);
	tmp_clear(&t);
}

static void
test_keyfile_write_refuses_existing(void **state)
{
	uint8_t a[X25519_KEY_LEN], b[X25519_KEY_LEN], back[X25519_KEY_LEN];
	char why[WHY_LEN] = "";
	char target[128];
	struct tmp t;

	(void)state;
	tmp_init(&t);
	rand_bytes(a, sizeof(a));
	rand_bytes(b, sizeof(b));
	assert_int_equal(keyfile_write(tmp_path(&t, "k"), KEYFILE_X25519, a, why, sizeof(why)),
	                 UM_OK);
	assert_int_equal(keyfile_write(tmp_path(&t, "k"), KEYFILE_X25519, b, why, sizeof(why)),
	                 UM_ERR_EXISTS);
	assert_non_null(strstr(why, "already exists"));
	/* why may be NULL. */
	assert_int_equal(keyfile_write(tmp_path(&t, "k"), KEYFILE_ED25519, b, NULL, 0),
	                 UM_ERR_EXISTS);
	/* The first key is untouched. */
	assert_int_equal(keyfile_read(tmp_path(&t, "k"), KEYFILE_X25519, back, why, sizeof(why)),
	                 UM_OK);
	assert_memory_equal(back, a, sizeof(a));

	/* A dangling symlink in the way is not followed either. */
	snprintf(target, sizeof(target), "%s", tmp_path(&t, "nowhere"));
	assert_int_equal(symlink(target, tmp_path(&t, "link")), 0);
	assert_int_equal(keyfile_write(t.path, KEYFILE_X25519, a, why, sizeof(why)), UM_ERR_EXISTS);
	assert_int_equal(access(target, F_OK), -1);
	tmp_clear(&t);
}

static void
test_keyfile_read_refuses_loose_modes(void **state)
{
	static const mode_t bad[] = { 0640, 0604, 0644, 0660, 0606, 0666, 0610, 0601, 0620, 0602 };
	uint8_t secret[X25519_KEY_LEN], back[X25519_KEY_LEN];
	char why[WHY_LEN];
	struct tmp t;

	(void)state;
	tmp_init(&t);
	rand_bytes(secret, sizeof(secret));
	assert_int_equal(keyfile_write(tmp_path(&t, "k"), KEYFILE_ED25519, secret, NULL, 0), UM_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(tmp_path(&t, "k"), bad[i]), 0);
		why[0] = '\0';
		memset(back, 0xaa, sizeof(back));
		assert_int_equal(
		        keyfile_read(tmp_path(&t, "k"), KEYFILE_ED25519, back, why, sizeof(why)),
		        UM_ERR_PERM);
		/* The message says what to run, naming the file. */
		assert_non_null(strstr(why, "chmod 600"));
		assert_non_null(strstr(why, t.path));
		/* Nothing was read. */
		assert_memory_not_equal(back, secret, sizeof(secret));
	}
	/* 0600 and stricter are fine (root reads a 0400 file as anyone would). */
	assert_int_equal(chmod(tmp_path(&t, "k"), 0400), 0);
	assert_int_equal(keyfile_read(tmp_path(&t, "k"), KEYFILE_ED25519, back, why, sizeof(why)),
	                 UM_OK);
	assert_memory_equal(back, secret, sizeof(secret));
	assert_int_equal(chmod(tmp_path(&t, "k"), 0600), 0);
	assert_int_equal(keyfile_read(tmp_path(&t, "k"), KEYFILE_ED25519, back, why, sizeof(why)),
	                 UM_OK);
	tmp_clear(&t);
}

static void
test_keyfile_read_refuses_non_files(void **state)
{
	uint8_t secret[X25519_KEY_LEN], back[X25519_KEY_LEN];
	char why[WHY_LEN];
	char target[128];
	struct tmp t;

	(void)state;
	tmp_init(&t);
	rand_bytes(secret, sizeof(secret));
	assert_int_equal(keyfile_write(tmp_path(&t, "real"), KEYFILE_X25519, secret, NULL, 0),
	                 UM_OK);
	snprintf(target, sizeof(target), "%s", t.path);

	/* A symlink to a good key file is refused: the configured path is what we check. */
	assert_int_equal(symlink(target, tmp_path(&t, "sym")), 0);
	why[0] = '\0';
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, why, sizeof(why)), UM_ERR_PERM);
	assert_non_null(strstr(why, "symbolic link"));

	/* A directory. */
	assert_int_equal(mkdir(tmp_path(&t, "dir"), 0700), 0);
	why[0] = '\0';
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, why, sizeof(why)), UM_ERR_PERM);
	assert_non_null(strstr(why, "not a regular file"));

	/* A FIFO: refused at once, without waiting for a writer. */
	assert_int_equal(mkfifo(tmp_path(&t, "fifo"), 0600), 0);
	why[0] = '\0';
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, why, sizeof(why)), UM_ERR_PERM);
	assert_non_null(strstr(why, "not a regular file"));

	/* Missing: NOT_FOUND, and the message says how to make one. */
	why[0] = '\0';
	assert_int_equal(
	        keyfile_read(tmp_path(&t, "missing"), KEYFILE_X25519, back, why, sizeof(why)),
	        UM_ERR_NOT_FOUND);
	assert_non_null(strstr(why, "umbra keygen"));
	assert_int_equal(keyfile_read(tmp_path(&t, "missing/k"), KEYFILE_X25519, back, NULL, 0),
	                 UM_ERR_NOT_FOUND);

	/* The other key type, both ways. */
	why[0] = '\0';
	memset(back, 0xaa, sizeof(back));
	assert_int_equal(keyfile_read(target, KEYFILE_ED25519, back, why, sizeof(why)),
	                 UM_ERR_MALFORMED);
	assert_non_null(strstr(why, "x25519"));
	assert_memory_not_equal(back, secret, sizeof(secret));
	assert_int_equal(keyfile_write(tmp_path(&t, "ed"), KEYFILE_ED25519, secret, NULL, 0),
	                 UM_OK);
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, why, sizeof(why)),
	                 UM_ERR_MALFORMED);
	tmp_clear(&t);
}

static void
test_keyfile_read_refuses_bad_contents(void **state)
{
	uint8_t back[X25519_KEY_LEN];
	char big[KEYFILE_MAX_LEN + 64];
	char why[WHY_LEN];
	struct tmp t;

	(void)state;
	tmp_init(&t);
	/* The exact vector reads; one more byte at the end does not. */
	write_raw(tmp_path(&t, "k"), kf_x25519_vec, strlen(kf_x25519_vec), 0600);
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, why, sizeof(why)), UM_OK);
	write_raw(t.path, "umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
	          strlen(kf_x25519_vec) + 1, 0600);
	why[0] = '\0';
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, why, sizeof(why)),
	                 UM_ERR_MALFORMED);
	assert_non_null(strstr(why, "not a valid umbra key file"));
	/* Empty, and larger than any key file. */
	write_raw(t.path, "", 0, 0600);
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, NULL, 0), UM_ERR_MALFORMED);
	memset(big, 'A', sizeof(big));
	memcpy(big, kf_x25519_vec, strlen(kf_x25519_vec));
	write_raw(t.path, big, sizeof(big), 0600);
	assert_int_equal(keyfile_read(t.path, KEYFILE_X25519, back, NULL, 0), UM_ERR_MALFORMED);
	tmp_clear(&t);
}

static void
test_keyfile_read_refuses_other_owner(void **state)
{
	uint8_t secret[X25519_KEY_LEN], back[X25519_KEY_LEN];
	char why[WHY_LEN] = "";
	struct tmp t;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	tmp_init(&t);
	rand_bytes(secret, sizeof(secret));
	assert_int_equal(keyfile_write(tmp_path(&t, "k"), KEYFILE_ED25519, secret, NULL, 0), UM_OK);
	assert_int_equal(chown(t.path, 65534, 65534), 0);
	assert_int_equal(keyfile_read(t.path, KEYFILE_ED25519, back, why, sizeof(why)),
	                 UM_ERR_PERM);
	assert_non_null(strstr(why, "owned by uid 65534"));
	assert_non_null(strstr(why, "chown 0"));
	/* Ownership is checked even when the mode is right; owner back, it reads. */
	assert_int_equal(chown(t.path, 0, 0), 0);
	assert_int_equal(keyfile_read(t.path, KEYFILE_ED25519, back, why, sizeof(why)), UM_OK);
	assert_memory_equal(back, secret, sizeof(secret));
	tmp_clear(&t);
}

/* ---- keyfile_parse / keyfile_encode ---- */

static void
test_keyfile_parse_known_vector(void **state)
{
	uint8_t want[X25519_KEY_LEN], secret[X25519_KEY_LEN];
	enum keyfile_type type;
	char out[KEYFILE_MAX_LEN];
	size_t len = 0;

	(void)state;
	seq_secret(want);
	assert_int_equal(keyfile_parse((const uint8_t *)kf_ed25519_vec, strlen(kf_ed25519_vec),
	                               &type, secret),
	                 UM_OK);
	assert_int_equal(type, KEYFILE_ED25519);
	assert_memory_equal(secret, want, sizeof(want));
	assert_int_equal(
	        keyfile_parse((const uint8_t *)kf_x25519_vec, strlen(kf_x25519_vec), &type, secret),
	        UM_OK);
	assert_int_equal(type, KEYFILE_X25519);
	assert_memory_equal(secret, want, sizeof(want));

	assert_int_equal(keyfile_encode(KEYFILE_ED25519, want, out, sizeof(out), &len), UM_OK);
	assert_int_equal(len, strlen(kf_ed25519_vec));
	assert_string_equal(out, kf_ed25519_vec);
	assert_int_equal(keyfile_encode(KEYFILE_X25519, want, out, sizeof(out), &len), UM_OK);
	assert_string_equal(out, kf_x25519_vec);

	/* Output too small (needs room for the NUL), or an unknown type. */
	assert_int_equal(keyfile_encode(KEYFILE_X25519, want, out, strlen(kf_x25519_vec), &len),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
	assert_int_equal(keyfile_encode(KEYFILE_X25519, want, out, strlen(kf_x25519_vec) + 1, &len),
	                 UM_OK);
	assert_int_equal(keyfile_encode((enum keyfile_type)3, want, out, sizeof(out), &len),
	                 UM_ERR_INVALID);
}

static void
test_keyfile_parse_round_trip(void **state)
{
	uint8_t secret[X25519_KEY_LEN], back[X25519_KEY_LEN];
	enum keyfile_type type;
	char out[KEYFILE_MAX_LEN];
	size_t len;

	(void)state;
	for (int i = 0; i < N_ROUND_TRIPS; i++) {
		enum keyfile_type want = i % 2 ? KEYFILE_X25519 : KEYFILE_ED25519;

		rand_bytes(secret, sizeof(secret));
		if (i == 0)
			memset(secret, 0, sizeof(secret));
		if (i == 1)
			memset(secret, 0xff, sizeof(secret));
		assert_int_equal(keyfile_encode(want, secret, out, sizeof(out), &len), UM_OK);
		assert_int_equal(keyfile_parse((const uint8_t *)out, len, &type, back), UM_OK);
		assert_int_equal(type, want);
		assert_memory_equal(back, secret, sizeof(secret));
	}
}

static void
test_keyfile_parse_every_prefix_rejected(void **state)
{
	static const char *const vecs[] = { kf_ed25519_vec, kf_x25519_vec };
	uint8_t secret[X25519_KEY_LEN];
	enum keyfile_type type;

	(void)state;
	for (size_t v = 0; v < 2; v++) {
		size_t n = strlen(vecs[v]);

		for (size_t len = 0; len < n; len++) {
			type = KEYFILE_ED25519;
			assert_int_not_equal(
			        keyfile_parse((const uint8_t *)vecs[v], len, &type, secret), UM_OK);
			assert_int_equal(type, 0);
		}
	}
	/* A prefix that stops inside the base64 line is only waiting for bytes. */
	assert_int_equal(keyfile_parse((const uint8_t *)kf_x25519_vec, 30, &type, secret),
	                 UM_ERR_TRUNCATED);
}

static void
test_keyfile_parse_rejects_bad_input(void **state)
{
	static const char *const bad[] = {
		/* Trailing junk after a valid file. */
		"umbra-key-v1 ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nx",
		"umbra-key-v1 ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
		"umbra-key-v1 ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\0",
		"umbra-key-v1 ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x\n",
		/* Line endings and white space. */
		"umbra-key-v1 ed25519\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"umbra-key-v1 ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
		"umbra-key-v1 ed25519\n AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"umbra-key-v1  ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"umbra-key-v1 ed25519\nAAECAwQFBgcICQoLDA0ODxAR EhMUFRYXGBkaGxwdHh8=\n",
		/* Header: version, type, case. */
		"umbra-key-v2 ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"umbra-key-v1 Ed25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"umbra-key-v1 rsa4096\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"umbra-key-v1 x448\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"UMBRA-KEY-V1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		/* Bad base64: alphabet, padding, non-canonical bits, length. */
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!=\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-=\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH=8=\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==\n",
		"umbra-key-v1 x25519\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAAA=\n",
		"umbra-key-v1 x25519\n============================================\n",
		"umbra-key-v1 x25519\n\n",
	};
	uint8_t secret[X25519_KEY_LEN];
	enum keyfile_type type;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);

		if (i == 2)
			len++; /* the NUL byte itself */
		type = KEYFILE_X25519;
		if (keyfile_parse((const uint8_t *)bad[i], len, &type, secret) == UM_OK)
			fail_msg("accepted bad key file #%zu: %s", i, bad[i]);
		assert_int_equal(type, 0);
	}
	/* Trailing bytes are reported as such. */
	assert_int_equal(keyfile_parse((const uint8_t *)bad[0], strlen(bad[0]), &type, secret),
	                 UM_ERR_TRAILING);
}

static void
test_keyfile_parse_rejects_over_long(void **state)
{
	uint8_t buf[KEYFILE_MAX_LEN + 2];
	uint8_t secret[X25519_KEY_LEN];
	enum keyfile_type type;
	size_t n = strlen(kf_ed25519_vec);

	(void)state;
	memset(buf, '\n', sizeof(buf));
	memcpy(buf, kf_ed25519_vec, n);
	assert_int_equal(keyfile_parse(buf, KEYFILE_MAX_LEN + 1, &type, secret), UM_ERR_TOO_LARGE);
	assert_int_equal(keyfile_parse(buf, sizeof(buf), &type, secret), UM_ERR_TOO_LARGE);
	assert_int_equal(keyfile_parse(buf, SIZE_MAX, &type, secret), UM_ERR_TOO_LARGE);
	/* At the cap it is only trailing junk. */
	assert_int_equal(keyfile_parse(buf, KEYFILE_MAX_LEN, &type, secret), UM_ERR_TRAILING);
	assert_int_equal(type, 0);
}

static int
setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_ed25519_sign_verify),
		cmocka_unit_test(test_keys_ed25519_from_seed_rfc8032),
		cmocka_unit_test(test_keys_x25519_rfc7748),
		cmocka_unit_test(test_keys_x25519_dh_agreement),
		cmocka_unit_test(test_keys_x25519_low_order_refused),
		cmocka_unit_test(test_keyfile_write_read_round_trip),
		cmocka_unit_test(test_keyfile_write_refuses_existing),
		cmocka_unit_test(test_keyfile_read_refuses_loose_modes),
		cmocka_unit_test(test_keyfile_read_refuses_non_files),
		cmocka_unit_test(test_keyfile_read_refuses_bad_contents),
		cmocka_unit_test(test_keyfile_read_refuses_other_owner),
		cmocka_unit_test(test_keyfile_parse_known_vector),
		cmocka_unit_test(test_keyfile_parse_round_trip),
		cmocka_unit_test(test_keyfile_parse_every_prefix_rejected),
		cmocka_unit_test(test_keyfile_parse_rejects_bad_input),
		cmocka_unit_test(test_keyfile_parse_rejects_over_long),
	};

	return cmocka_run_group_tests_name("keys", tests, setup, NULL);
}
