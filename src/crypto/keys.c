/* SPDX-License-Identifier: MIT */
/* Ed25519 and X25519 keys on libsodium, and the key-file format with its permission checks. */
#include "crypto/keys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"

static const char keyfile_magic[] = "umbra-key-v1 ";

static uint8_t *
secret_alloc(size_t n)
{
	uint8_t *p = sodium_malloc(n);

	if (p == NULL) {
		fprintf(stderr, "umbra: sodium_malloc failed\n");
		abort();
	}
	return p;
}

void
keys_ed25519_from_seed(struct keys_ed25519 *k, const uint8_t seed[ED25519_SEED_LEN])
{
	k->sk = secret_alloc(crypto_sign_SECRETKEYBYTES);
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

void
keys_ed25519_generate(struct keys_ed25519 *k)
{
	uint8_t seed[ED25519_SEED_LEN];

	randombytes_buf(seed, sizeof(seed));
	keys_ed25519_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
}

void
keys_ed25519_seed(const struct keys_ed25519 *k, uint8_t seed[ED25519_SEED_LEN])
{
	crypto_sign_ed25519_sk_to_seed(seed, k->sk);
}

void
keys_ed25519_clear(struct keys_ed25519 *k)
{
	if (k->sk != NULL)
		sodium_free(k->sk);
	k->sk = NULL;
	memset(k->pk, 0, sizeof(k->pk));
}

void
sign_ed25519(const struct keys_ed25519 *k, const void *msg, size_t len,
             uint8_t sig[ED25519_SIG_LEN])
{
	crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

int
sign_ed25519_verify(const uint8_t pk[ED25519_PK_LEN], const void *msg, size_t len,
                    const uint8_t sig[ED25519_SIG_LEN])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? UM_OK : UM_ERR_AUTH;
}

/* label 0x00 | msg in a new buffer (public data: signed documents). */
static uint8_t *
labeled(const char *label, const void *msg, size_t len, size_t *out_len)
{
	size_t ll = strlen(label) + 1;
	uint8_t *m = um_xmalloc(ll + len);

	memcpy(m, label, ll); /* its NUL is the 0x00 separator */
	if (len > 0)
		memcpy(m + ll, msg, len);
	*out_len = ll + len;
	return m;
}

void
sign_ed25519_labeled(const struct keys_ed25519 *k, const char *label, const void *msg, size_t len,
                     uint8_t sig[ED25519_SIG_LEN])
{
	size_t mlen;
	uint8_t *m = labeled(label, msg, len, &mlen);

	sign_ed25519(k, m, mlen, sig);
	free(m);
}

int
sign_ed25519_verify_labeled(const uint8_t pk[ED25519_PK_LEN], const char *label, const void *msg,
                            size_t len, const uint8_t sig[ED25519_SIG_LEN])
{
	size_t mlen;
	uint8_t *m = labeled(label, msg, len, &mlen);
	int ret = sign_ed25519_verify(pk, m, mlen, sig);

	free(m);
	return ret;
}

void
keys_x25519_public(uint8_t pk[X25519_KEY_LEN], const uint8_t sk[X25519_KEY_LEN])
{
	crypto_scalarmult_base(pk, sk);
}

void
keys_x25519_from_secret(struct keys_x25519 *k, const uint8_t sk[X25519_KEY_LEN])
{
	k->sk = secret_alloc(X25519_KEY_LEN);
	memcpy(k->sk, sk, X25519_KEY_LEN);
	crypto_scalarmult_base(k->pk, k->sk);
}

void
keys_x25519_generate(struct keys_x25519 *k)
{
	k->sk = secret_alloc(X25519_KEY_LEN);
	randombytes_buf(k->sk, X25519_KEY_LEN);
	crypto_scalarmult_base(k->pk, k->sk);
}

void
keys_x25519_clear(struct keys_x25519 *k)
{
	if (k->sk != NULL)
		sodium_free(k->sk);
	k->sk = NULL;
	memset(k->pk, 0, sizeof(k->pk));
}

int
keys_x25519_dh(uint8_t out[X25519_KEY_LEN], const uint8_t sk[X25519_KEY_LEN],
               const uint8_t pk[X25519_KEY_LEN])
{
	/* libsodium returns -1 when the shared point is all zero: a low-order public key that
	 * would let the peer force a known shared secret. */
	if (crypto_scalarmult(out, sk, pk) != 0) {
		sodium_memzero(out, X25519_KEY_LEN);
		return UM_ERR_CRYPTO;
	}
	return UM_OK;
}

static const char *
type_name(enum keyfile_type type)
{
	return type == KEYFILE_ED25519 ? "ed25519" : "x25519";
}

int
keyfile_parse(const uint8_t *data, size_t len, enum keyfile_type *type,
              uint8_t secret[X25519_KEY_LEN])
{
	struct wire_rd r;
	const uint8_t *v;
	const uint8_t *line;
	size_t line_len = 0;
	enum keyfile_type t;
	uint8_t tmp[X25519_KEY_LEN + 3];
	ssize_t n;
	int ret;

	*type = 0;
	if (len > KEYFILE_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	wire_rd_init(&r, data, len);
	if ((ret = wire_get_view(&r, sizeof(keyfile_magic) - 1, &v)) != UM_OK)
		return ret;
	if (memcmp(v, keyfile_magic, sizeof(keyfile_magic) - 1) != 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_view(&r, 8, &v)) == UM_OK && memcmp(v, "ed25519\n", 8) == 0) {
		t = KEYFILE_ED25519;
	} else {
		wire_rd_init(&r, data, len);
		if ((ret = wire_skip(&r, sizeof(keyfile_magic) - 1)) != UM_OK ||
		    (ret = wire_get_view(&r, 7, &v)) != UM_OK)
			return ret;
		if (memcmp(v, "x25519\n", 7) != 0)
			return UM_ERR_MALFORMED;
		t = KEYFILE_X25519;
	}
	/* The base64 line: exactly 44 characters for 32 bytes, then a newline, then the end. */
	line = data + r.off;
	while (line_len < wire_rd_left(&r) && line[line_len] != '\n')
		line_len++;
	if (line_len != 44)
		return line_len < 44 && line_len == wire_rd_left(&r) ? UM_ERR_TRUNCATED
		                                                     : UM_ERR_MALFORMED;
	if ((ret = wire_skip(&r, line_len)) != UM_OK || (ret = wire_get_view(&r, 1, &v)) != UM_OK)
		return ret;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	n = dec_base64(tmp, sizeof(tmp), (const char *)line, line_len);
	if (n != X25519_KEY_LEN) {
		sodium_memzero(tmp, sizeof(tmp));
		return UM_ERR_MALFORMED;
	}
	memcpy(secret, tmp, X25519_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	*type = t;
	return UM_OK;
}

int
keyfile_encode(enum keyfile_type type, const uint8_t secret[X25519_KEY_LEN], char *out,
               size_t out_len, size_t *len)
{
	char b64[BASE64_LEN(X25519_KEY_LEN)];
	int n;

	*len = 0;
	if (type != KEYFILE_ED25519 && type != KEYFILE_X25519)
		return UM_ERR_INVALID;
	if (enc_base64(b64, sizeof(b64), secret, X25519_KEY_LEN) != UM_OK)
		return UM_ERR_INTERNAL;
	n = snprintf(out, out_len, "%s%s\n%s\n", keyfile_magic, type_name(type), b64);
	sodium_memzero(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= out_len)
		return UM_ERR_TOO_LARGE;
	*len = (size_t)n;
	return UM_OK;
}

UM_PRINTF(3, 4) static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* Create path (0600, O_EXCL) holding text[0..len), fsync'd; what names the file in messages. */
static int
secret_write(const char *path, const char *what, const char *text, size_t len, char *why,
             size_t why_len)
{
	ssize_t w;
	int fd;
	int ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = errno == EEXIST ? UM_ERR_EXISTS : UM_ERR_SYS;
		say(why, why_len, "cannot create %s %s: %s", what, path,
		    errno == EEXIST ? "it already exists (remove it first or use --force)"
		                    : strerror(errno));
		return ret;
	}
	/* The umask may have cleared bits but never adds any: 0600 or stricter. Be explicit. */
	if (fchmod(fd, 0600) != 0 || (w = write(fd, text, len)) < 0 || (size_t)w != len ||
	    fsync(fd) != 0) {
		say(why, why_len, "cannot write %s %s: %s", what, path, strerror(errno));
		close(fd);
		unlink(path);
		return UM_ERR_SYS;
	}
	if (close(fd) != 0)
		return UM_ERR_SYS;
	return UM_OK;
}

/*
 * Open path for reading after checking it is a regular file owned by the effective user with
 * mode 0600 or stricter; *fd on UM_OK. missing_hint ends the "does not exist" message.
 */
static int
secret_open(const char *path, const char *what, const char *missing_hint, int *fd, char *why,
            size_t why_len)
{
	struct stat st;
	int ret;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	*fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT) {
			say(why, why_len, "%s %s does not exist%s", what, path, missing_hint);
			return UM_ERR_NOT_FOUND;
		}
		if (errno == ELOOP) {
			say(why, why_len,
			    "%s %s is a symbolic link; configure the path of the file itself", what,
			    path);
			return UM_ERR_PERM;
		}
		say(why, why_len, "cannot open %s %s: %s", what, path, strerror(errno));
		return UM_ERR_SYS;
	}
	if (fstat(*fd, &st) != 0) {
		say(why, why_len, "cannot stat %s %s: %s", what, path, strerror(errno));
		ret = UM_ERR_SYS;
	} else if (!S_ISREG(st.st_mode)) {
		say(why, why_len, "%s %s is not a regular file", what, path);
		ret = UM_ERR_PERM;
	} else if (st.st_uid != geteuid()) {
		say(why, why_len, "%s %s is owned by uid %u, not by us (uid %u); run: chown %u %s",
		    what, path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
		    path);
		ret = UM_ERR_PERM;
	} else if ((st.st_mode & 077) != 0) {
		say(why, why_len,
		    "%s %s is accessible by group or others (mode 0%o); run: chmod 600 %s", what,
		    path, (unsigned)(st.st_mode & 0777), path);
		ret = UM_ERR_PERM;
	} else {
		return UM_OK;
	}
	close(*fd);
	*fd = -1;
	return ret;
}

int
keyfile_write(const char *path, enum keyfile_type type, const uint8_t secret[X25519_KEY_LEN],
              char *why, size_t why_len)
{
	char text[KEYFILE_MAX_LEN];
	size_t len = 0;
	int ret;

	if ((ret = keyfile_encode(type, secret, text, sizeof(text), &len)) == UM_OK)
		ret = secret_write(path, "key file", text, len, why, why_len);
	sodium_memzero(text, sizeof(text));
	return ret;
}

int
keyfile_read(const char *path, enum keyfile_type type, uint8_t secret[X25519_KEY_LEN], char *why,
             size_t why_len)
{
	uint8_t data[KEYFILE_MAX_LEN + 1];
	enum keyfile_type got;
	ssize_t n;
	int fd;
	int ret;

	if ((ret = secret_open(path, "key file", " (run 'umbra keygen')", &fd, why, why_len)) !=
	    UM_OK)
		return ret;
	n = read(fd, data, sizeof(data));
	if (n < 0) {
		say(why, why_len, "cannot read key file %s: %s", path, strerror(errno));
		ret = UM_ERR_SYS;
		goto out;
	}
	ret = keyfile_parse(data, (size_t)n, &got, secret);
	if (ret != UM_OK) {
		say(why, why_len, "key file %s is not a valid umbra key file", path);
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	if (got != type) {
		sodium_memzero(secret, X25519_KEY_LEN);
		say(why, why_len, "key file %s holds a %s key, not a %s key", path, type_name(got),
		    type_name(type));
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	ret = UM_OK;
out:
	sodium_memzero(data, sizeof(data));
	close(fd);
	return ret;
}

int
secretfile_write(const char *path, const char *text, char *why, size_t why_len)
{
	size_t len = strlen(text);
	char *line;
	int ret;

	if (len < SECRETFILE_MIN_LEN || len > SECRETFILE_MAX_LEN || strchr(text, '\n') != NULL)
		return UM_ERR_INVALID;
	line = sodium_malloc(len + 1);
	if (line == NULL)
		return UM_ERR_NOMEM;
	memcpy(line, text, len);
	line[len] = '\n';
	ret = secret_write(path, "secret file", line, len + 1, why, why_len);
	sodium_free(line); /* wipes */
	return ret;
}

int
secretfile_read(const char *path, char *out, size_t out_len, char *why, size_t why_len)
{
	char data[SECRETFILE_MAX_LEN + 2];
	size_t len;
	ssize_t n;
	int fd;
	int ret;

	if (out_len < SECRETFILE_MAX_LEN + 1)
		return UM_ERR_INVALID;
	out[0] = '\0';
	if ((ret = secret_open(path, "secret file", "", &fd, why, why_len)) != UM_OK)
		return ret;
	n = read(fd, data, sizeof(data));
	close(fd);
	if (n < 0) {
		say(why, why_len, "cannot read secret file %s: %s", path, strerror(errno));
		return UM_ERR_SYS;
	}
	len = (size_t)n;
	if (len > 0 && data[len - 1] == '\n')
		len--;
	ret = UM_OK;
	if (len < SECRETFILE_MIN_LEN || len > SECRETFILE_MAX_LEN ||
	    memchr(data, '\n', len) != NULL || memchr(data, '\0', len) != NULL) {
		say(why, why_len, "secret file %s must hold one line of %d to %d characters", path,
		    SECRETFILE_MIN_LEN, SECRETFILE_MAX_LEN);
		ret = UM_ERR_MALFORMED;
	} else {
		memcpy(out, data, len);
		out[len] = '\0';
	}
	sodium_memzero(data, sizeof(data));
	return ret;
}

int
keys_ed25519_load(const char *path, struct keys_ed25519 *k, char *why, size_t why_len)
{
	uint8_t seed[ED25519_SEED_LEN];
	int ret;

	k->sk = NULL;
	if ((ret = keyfile_read(path, KEYFILE_ED25519, seed, why, why_len)) != UM_OK)
		return ret;
	keys_ed25519_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
	return UM_OK;
}

int
keys_x25519_load(const char *path, struct keys_x25519 *k, char *why, size_t why_len)
{
	uint8_t sk[X25519_KEY_LEN];
	int ret;

	k->sk = NULL;
	if ((ret = keyfile_read(path, KEYFILE_X25519, sk, why, why_len)) != UM_OK)
		return ret;
	keys_x25519_from_secret(k, sk);
	sodium_memzero(sk, sizeof(sk));
	return UM_OK;
}
