/* SPDX-License-Identifier: MIT */
/*
 * Relay descriptors (docs/PROTOCOL.md section 4): a frozen known vector (fixed seeds for
 * every key, so encoding and digest are exact), round trip, every prefix truncated, trailing
 * bytes, each malformed case, signature forgery, a link certificate from another identity,
 * expiry, and the exit-policy helpers.
 *
 * Set UM_DESC_CORPUS_DIR to a directory to (re)write the fuzz seed corpus from the
 * descriptors built here (fuzz/corpus/fuzz_descriptor/).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/descriptor.h"
#include "link/handshake.h"

enum {
	NOW = 1700000000,
	PUB = NOW - 600,
	CERT_EXP = NOW + 30 * 86400,
	OPCERT_EXP = NOW + 365 * 86400,
};

/* Frozen: regenerate deliberately (and say so in the commit) if the format changes. */
static const char full_hex[] =
        "018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c000000006553eea8000000"
        "006554ebc80a756d62726154657374310703ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba"
        "05870e587d5900000000657b7e009de81318da1b4e557840bb44ec9a6aa663fb5f02978328b54e113f0b8bcf"
        "b66752bdf485704b70632fe1c84474c023e7f875ea08ca247707d7eef2d105148f0a5dfedd3b6bd47f6fa28e"
        "e15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22ac01b2209e86354fb853237b5de0f4fab13c7fcbf433"
        "a61c019369617fecf10b00000000655d29280204c000020123290620010db800000000000000000000000101"
        "bb0101030050005001bb01bb1f402327020100190019000f4240001e8480000b71b06e7a1cdd29b0b78fd13a"
        "f4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf10000000067352480dd55e952860738a19c63384512e5"
        "7ce426fd5538fbc51182126a3a6cec0773f32c32f0347be2d330a10172a56462e5f62c460c15097dbca60921"
        "c03f4e06630344450a65752d63656e7472616c5a232827061388006409c403e803204040e364c10f2bec9c1f"
        "e500a1cd4c247c89d650a01ed7e82caba867877c215c9c6df261c9cb840475776aaefcd944b405328fab28f9"
        "b3a95ef40490d3de84d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c97787370b756d"
        "62726120302e312e30166f7073206174206578616d706c6520646f74206f7267ffcfeb8d70fc02f2006e0224"
        "1391535473c315f76dc00a62bc34fe2ccce7c91b4144434e8fecba1a6f1cd3b425c0541e1c3707550bbb9c75"
        "0d51275e6ed74600";
static const char full_digest_hex[] =
        "63d081b137d747f77ee8d2c6bfb753b79fef9bcf4047678a4904411bac6f3f44";
static const char minimal_hex[] =
        "018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c000000006553eea8000000"
        "006553fcb8016d0200ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59000000"
        "00657b7e009de81318da1b4e557840bb44ec9a6aa663fb5f02978328b54e113f0b8bcfb66752bdf485704b70"
        "632fe1c84474c023e7f875ea08ca247707d7eef2d105148f0a5dfedd3b6bd47f6fa28ee15d969d5bb0ea5377"
        "4d488bdaf9df1c6e0124b3ef2201047f000001232900010001000000000000000000000000008a88e3dd7409"
        "f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c5a5a00000000000000000000000000000000"
        "00c9240ee500db7ccb15e42312eeb420b26e5d031ebfe03e0376299d3f403b4cfd7ae88b654a9dc8eb0f08d2"
        "4d2988dedea91c3cda0828f0d97827395786efff06";

struct keyset {
	struct keys_ed25519 id, op, fam[3], other;
	struct keys_x25519 lk, onion, prev;
};

static struct keyset K;

static void
keyset_init(struct keyset *k)
{
	uint8_t s[32];

	memset(s, 0x01, sizeof(s));
	keys_ed25519_from_seed(&k->id, s);
	memset(s, 0x05, sizeof(s));
	keys_ed25519_from_seed(&k->op, s);
	for (int i = 0; i < 3; i++) {
		memset(s, 0x10 + i, sizeof(s));
		keys_ed25519_from_seed(&k->fam[i], s);
	}
	memset(s, 0x0f, sizeof(s));
	keys_ed25519_from_seed(&k->other, s);
	memset(s, 0x02, sizeof(s));
	keys_x25519_from_secret(&k->lk, s);
	memset(s, 0x03, sizeof(s));
	keys_x25519_from_secret(&k->onion, s);
	memset(s, 0x04, sizeof(s));
	keys_x25519_from_secret(&k->prev, s);
}

static void
keyset_clear(struct keyset *k)
{
	keys_ed25519_clear(&k->id);
	keys_ed25519_clear(&k->op);
	keys_ed25519_clear(&k->other);
	for (int i = 0; i < 3; i++)
		keys_ed25519_clear(&k->fam[i]);
	keys_x25519_clear(&k->lk);
	keys_x25519_clear(&k->onion);
	keys_x25519_clear(&k->prev);
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, RELAY_DESC_ID_LEN);
}

static void
set_link_cert(struct relay_desc *d, const struct keys_ed25519 *id, uint64_t expires)
{
	struct link_identity li;

	link_identity_init(&li, id, &K.lk, expires);
	memcpy(d->link_key, K.lk.pk, 32);
	d->link_cert_expires_s = expires;
	memcpy(d->link_cert_sig, li.cert_sig, 64);
}

static void
addr4(struct relay_addr *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->type = RELAY_ADDR_IPV4;
	a->addr[0] = b0;
	a->addr[1] = b1;
	a->addr[2] = b2;
	a->addr[3] = b3;
	a->port = port;
}

/* Every field and option used: an exit with both onion keys and an operator certificate. */
static void
desc_full(struct relay_desc *d)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };

	memset(d, 0, sizeof(*d));
	d->version = RELAY_DESC_VERSION;
	memcpy(d->identity, K.id.pk, 32);
	d->published_s = PUB;
	d->expires_s = PUB + RELAY_DESC_LIFETIME_MAX_S;
	strcpy(d->nickname, "umbraTest1");
	d->roles = RELAY_ROLE_ENTRY | RELAY_ROLE_MIDDLE | RELAY_ROLE_EXIT;
	set_link_cert(d, &K.id, CERT_EXP);
	memcpy(d->onion_key, K.onion.pk, 32);
	d->has_prev_onion_key = true;
	memcpy(d->prev_onion_key, K.prev.pk, 32);
	d->prev_onion_expires_s = PUB + RELAY_DESC_ONION_GRACE_MAX_S;
	d->n_addrs = 2;
	addr4(&d->addrs[0], 192, 0, 2, 1, 9001);
	d->addrs[1].type = RELAY_ADDR_IPV6;
	memcpy(d->addrs[1].addr, v6, 16);
	d->addrs[1].port = 443;
	d->exit_flags = RELAY_EXIT_F_REJECT_PRIVATE;
	d->policy4.kind = RELAY_POLICY_ACCEPT;
	d->policy4.n_ranges = 3;
	d->policy4.r[0] = (struct relay_port_range){ 80, 80 };
	d->policy4.r[1] = (struct relay_port_range){ 443, 443 };
	d->policy4.r[2] = (struct relay_port_range){ 8000, 8999 };
	d->policy6.kind = RELAY_POLICY_REJECT;
	d->policy6.n_ranges = 1;
	d->policy6.r[0] = (struct relay_port_range){ 25, 25 };
	d->bw = (struct relay_bw){ 1000000, 2000000, 750000 };
	relay_desc_sign_operator(d, &K.op, OPCERT_EXP);
	strcpy(d->country, "DE");
	strcpy(d->region, "eu-central");
	d->geo_confidence = 90;
	d->scores = (struct relay_scores){ 9000, 9990, 5000, 100, 2500, 1000 };
	d->n_family = 3;
	for (int i = 0; i < 3; i++)
		memcpy(d->family[i], K.fam[i].pk, 32);
	qsort(d->family, 3, RELAY_DESC_ID_LEN, cmp_id);
	strcpy(d->platform, "umbra 0.1.0");
	strcpy(d->contact, "ops at example dot org");
	assert_int_equal(relay_desc_sign(d, &K.id), UM_OK);
}

/* The least a descriptor can say: a middle relay on one IPv4 address. */
static void
desc_minimal(struct relay_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->version = RELAY_DESC_VERSION;
	memcpy(d->identity, K.id.pk, 32);
	d->published_s = PUB;
	d->expires_s = PUB + 3600;
	strcpy(d->nickname, "m");
	d->roles = RELAY_ROLE_MIDDLE;
	set_link_cert(d, &K.id, CERT_EXP);
	memcpy(d->onion_key, K.onion.pk, 32);
	d->n_addrs = 1;
	addr4(&d->addrs[0], 127, 0, 0, 1, 9001);
	d->policy4.kind = RELAY_POLICY_ACCEPT;
	d->policy6.kind = RELAY_POLICY_ACCEPT;
	memcpy(d->operator_id, K.id.pk, 32);
	strcpy(d->country, "ZZ");
	assert_int_equal(relay_desc_sign(d, &K.id), UM_OK);
}

/* Every list and string at its maximum: the encoding is exactly RELAY_DESC_MAX_LEN. */
static void
desc_max(struct relay_desc *d)
{
	desc_full(d);
	d->n_addrs = RELAY_DESC_MAX_ADDRS;
	for (int i = 0; i < RELAY_DESC_MAX_ADDRS; i++) {
		memset(&d->addrs[i], 0, sizeof(d->addrs[i]));
		d->addrs[i].type = RELAY_ADDR_IPV6;
		d->addrs[i].addr[0] = 0x20;
		d->addrs[i].addr[1] = 0x01;
		d->addrs[i].addr[15] = (uint8_t)(i + 1);
		d->addrs[i].port = 443;
	}
	for (int i = 0; i < RELAY_DESC_MAX_PORT_RANGES; i++) {
		uint16_t port = (uint16_t)(2 * i + 2);

		d->policy4.r[i] = (struct relay_port_range){ port, port };
		d->policy6.r[i] = (struct relay_port_range){ port, port };
	}
	d->policy4.kind = d->policy6.kind = RELAY_POLICY_ACCEPT;
	d->policy4.n_ranges = d->policy6.n_ranges = RELAY_DESC_MAX_PORT_RANGES;
	d->n_family = RELAY_DESC_MAX_FAMILY;
	for (int i = 0; i < RELAY_DESC_MAX_FAMILY; i++)
		memset(d->family[i], 0x40 + i, 32);
	memset(d->nickname, 'N', RELAY_DESC_NICKNAME_MAX);
	d->nickname[RELAY_DESC_NICKNAME_MAX] = '\0';
	memset(d->region, 'r', RELAY_DESC_REGION_MAX);
	d->region[RELAY_DESC_REGION_MAX] = '\0';
	memset(d->platform, 'p', RELAY_DESC_PLATFORM_MAX);
	d->platform[RELAY_DESC_PLATFORM_MAX] = '\0';
	memset(d->contact, 'c', RELAY_DESC_CONTACT_MAX);
	d->contact[RELAY_DESC_CONTACT_MAX] = '\0';
	assert_int_equal(relay_desc_sign(d, &K.id), UM_OK);
}

static size_t
encode(const struct relay_desc *d, uint8_t *buf, size_t cap)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, cap);
	assert_int_equal(relay_desc_encode(d, &w), UM_OK);
	return w.len;
}

static void
assert_hex(const uint8_t *b, size_t n, const char *want)
{
	char hex[HEX_LEN(RELAY_DESC_MAX_LEN)];

	assert_int_equal(enc_hex(hex, sizeof(hex), b, n), UM_OK);
	if (strcmp(hex, want) != 0)
		printf("\ngot: %s\n", hex);
	assert_string_equal(hex, want);
}

static void
maybe_write_corpus(const char *name, const uint8_t *b, size_t n)
{
	const char *dir = getenv("UM_DESC_CORPUS_DIR");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void
test_desc_known_vector(void **state)
{
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN], digest[RELAY_DESC_DIGEST_LEN];
	size_t n;

	(void)state;
	desc_full(&d);
	n = encode(&d, buf, sizeof(buf));
	assert_hex(buf, n, full_hex);
	relay_desc_digest(buf, n, digest);
	assert_hex(digest, sizeof(digest), full_digest_hex);
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_OK);
	assert_string_equal(p.nickname, "umbraTest1");
	assert_string_equal(p.country, "DE");
	assert_memory_equal(p.operator_id, K.op.pk, 32);
	assert_true(p.has_prev_onion_key && p.has_operator_cert);
	assert_int_equal(p.policy6.kind, RELAY_POLICY_REJECT);
	maybe_write_corpus("full", buf, n);

	desc_minimal(&d);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(n, 329); /* the smallest descriptor there is (docs/PROTOCOL.md 4.2) */
	assert_hex(buf, n, minimal_hex);
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_OK);
	maybe_write_corpus("minimal", buf, n);

	desc_max(&d);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(n, RELAY_DESC_MAX_LEN);
	assert_int_equal(RELAY_DESC_MAX_LEN, 1936);
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_OK);
	maybe_write_corpus("max", buf, n);
}

static void
test_desc_roundtrip_prefixes(void **state)
{
	void (*build[])(struct relay_desc *) = { desc_full, desc_minimal, desc_max };
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN], again[RELAY_DESC_MAX_LEN];
	size_t n;

	(void)state;
	for (size_t b = 0; b < sizeof(build) / sizeof(build[0]); b++) {
		build[b](&d);
		n = encode(&d, buf, sizeof(buf));
		assert_int_equal(relay_desc_parse(buf, n, &p), (ssize_t)n);
		assert_int_equal(encode(&p, again, sizeof(again)), n);
		assert_memory_equal(buf, again, n);
		for (size_t cut = 0; cut < n; cut++)
			assert_int_equal(relay_desc_parse(buf, cut, &p), UM_ERR_TRUNCATED);
		/* A writer one byte short fails and leaves nothing behind. */
		struct wire_wr w;
		wire_wr_init(&w, again, n - 1);
		assert_int_equal(relay_desc_encode(&d, &w), UM_ERR_TOO_LARGE);
		assert_int_equal(w.len, 0);
	}
}

static void
test_desc_trailing_and_size(void **state)
{
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN + 8];
	size_t n;

	(void)state;
	desc_full(&d);
	n = encode(&d, buf, sizeof(buf));
	buf[n] = 0;
	/* parse reports what it consumed; whole-message users refuse the rest. */
	assert_int_equal(relay_desc_parse(buf, n + 1, &p), (ssize_t)n);
	assert_int_equal(relay_desc_parse_verify(buf, n + 1, NOW, &p), UM_ERR_TRAILING);
	assert_int_equal(relay_desc_verify(&d, buf, n + 1, NOW), UM_ERR_TRAILING);
	assert_int_equal(relay_desc_verify(&d, buf, n - 1, NOW), UM_ERR_MALFORMED);
	assert_int_equal(relay_desc_parse_verify(buf, n - 1, NOW, &p), UM_ERR_TRUNCATED);

	desc_max(&d);
	n = encode(&d, buf, sizeof(buf));
	buf[n] = 0;
	assert_int_equal(relay_desc_parse_verify(buf, n + 1, NOW, &p), UM_ERR_TOO_LARGE);
	assert_int_equal(relay_desc_verify(&d, buf, n + 1, NOW), UM_ERR_TOO_LARGE);
}

/* Offsets of a few count bytes, computed from the layout (docs/PROTOCOL.md 4.2). */
static size_t
off_n_addrs(const struct relay_desc *d)
{
	return 1 + 32 + 8 + 8 + 1 + strlen(d->nickname) + 1 + 1 + 32 + 8 + 64 + 32 +
	       (d->has_prev_onion_key ? 32 + 8 : 0);
}

static size_t
off_policy4(const struct relay_desc *d)
{
	size_t off = off_n_addrs(d) + 1;

	for (size_t i = 0; i < d->n_addrs; i++)
		off += d->addrs[i].type == RELAY_ADDR_IPV4 ? 1 + 4 + 2 : 1 + 16 + 2;
	return off + 1; /* exit_flags */
}

static size_t
off_n_family(const struct relay_desc *d, size_t len)
{
	return len - 64 - (1 + strlen(d->contact)) - (1 + strlen(d->platform)) -
	       32 * (size_t)d->n_family - 1;
}

typedef void mutate_fn(struct relay_desc *d);

static void
m_version(struct relay_desc *d)
{
	d->version = 2;
}
static void
m_lifetime(struct relay_desc *d)
{
	d->expires_s = d->published_s + RELAY_DESC_LIFETIME_MAX_S + 1;
}
static void
m_expires_eq(struct relay_desc *d)
{
	d->expires_s = d->published_s;
}
static void
m_nick_empty(struct relay_desc *d)
{
	d->nickname[0] = '\0';
}
static void
m_nick_charset(struct relay_desc *d)
{
	strcpy(d->nickname, "bad-name");
}
static void
m_nick_space(struct relay_desc *d)
{
	strcpy(d->nickname, "bad name");
}
static void
m_roles_none(struct relay_desc *d)
{
	d->roles = 0;
}
static void
m_roles_unknown(struct relay_desc *d)
{
	d->roles |= 0x08;
}
static void
m_cert_short(struct relay_desc *d)
{
	d->link_cert_expires_s = d->expires_s - 1;
}
static void
m_prev_same(struct relay_desc *d)
{
	memcpy(d->prev_onion_key, d->onion_key, 32);
}
static void
m_prev_grace(struct relay_desc *d)
{
	d->prev_onion_expires_s = d->published_s + RELAY_DESC_ONION_GRACE_MAX_S + 1;
}
static void
m_prev_past(struct relay_desc *d)
{
	d->prev_onion_expires_s = d->published_s;
}
static void
m_no_addrs(struct relay_desc *d)
{
	d->n_addrs = 0;
}
static void
m_addrs_unsorted(struct relay_desc *d)
{
	struct relay_addr t = d->addrs[0];

	d->addrs[0] = d->addrs[1];
	d->addrs[1] = t;
}
static void
m_addrs_dup(struct relay_desc *d)
{
	d->addrs[1] = d->addrs[0];
}
static void
m_port_zero(struct relay_desc *d)
{
	d->addrs[0].port = 0;
}
static void
m_addr_unspec(struct relay_desc *d)
{
	memset(d->addrs[0].addr, 0, 4);
}
static void
m_addr_v4mapped(struct relay_desc *d)
{
	memset(d->addrs[1].addr, 0, 16);
	d->addrs[1].addr[10] = d->addrs[1].addr[11] = 0xff;
	d->addrs[1].addr[12] = 10;
}
static void
m_exit_flag_unknown(struct relay_desc *d)
{
	d->exit_flags |= 0x02;
}
static void
m_range_inverted(struct relay_desc *d)
{
	d->policy4.r[2] = (struct relay_port_range){ 8999, 8000 };
}
static void
m_range_zero(struct relay_desc *d)
{
	d->policy4.r[0].lo = 0;
}
static void
m_range_unsorted(struct relay_desc *d)
{
	struct relay_port_range t = d->policy4.r[0];

	d->policy4.r[0] = d->policy4.r[1];
	d->policy4.r[1] = t;
}
static void
m_range_overlap(struct relay_desc *d)
{
	d->policy4.r[1] = (struct relay_port_range){ 80, 443 };
}
static void
m_range_adjacent(struct relay_desc *d)
{
	d->policy4.r[1] = (struct relay_port_range){ 81, 443 };
}
static void
m_policy_kind(struct relay_desc *d)
{
	d->policy4.kind = 3;
}
static void
m_policy_longer_form(struct relay_desc *d)
{
	/* accept 1-65535 is "reject nothing", which is shorter. */
	d->policy4.kind = RELAY_POLICY_ACCEPT;
	d->policy4.n_ranges = 1;
	d->policy4.r[0] = (struct relay_port_range){ 1, 65535 };
}
static void
m_policy_tie_reject(struct relay_desc *d)
{
	/* reject 25-65535 ties with accept 1-24: the accept form is canonical. */
	d->policy6.n_ranges = 1;
	d->policy6.r[0] = (struct relay_port_range){ 25, 65535 };
}
static void
m_nonexit_policy(struct relay_desc *d)
{
	d->roles = RELAY_ROLE_MIDDLE;
	d->exit_flags = 0;
	d->policy6.kind = RELAY_POLICY_ACCEPT;
	d->policy6.n_ranges = 0;
}
static void
m_nonexit_flags(struct relay_desc *d)
{
	d->roles = RELAY_ROLE_MIDDLE;
	d->policy4.kind = d->policy6.kind = RELAY_POLICY_ACCEPT;
	d->policy4.n_ranges = d->policy6.n_ranges = 0;
}
static void
m_exit_rejects_all(struct relay_desc *d)
{
	d->policy4.kind = d->policy6.kind = RELAY_POLICY_ACCEPT;
	d->policy4.n_ranges = d->policy6.n_ranges = 0;
}
static void
m_burst(struct relay_desc *d)
{
	d->bw.burst = d->bw.rate - 1;
}
static void
m_opcert_short(struct relay_desc *d)
{
	d->operator_cert_expires_s = d->expires_s - 1;
}
static void
m_country_lower(struct relay_desc *d)
{
	strcpy(d->country, "de");
}
static void
m_country_digit(struct relay_desc *d)
{
	strcpy(d->country, "D1");
}
static void
m_region_upper(struct relay_desc *d)
{
	strcpy(d->region, "EU");
}
static void
m_geo(struct relay_desc *d)
{
	d->geo_confidence = 101;
}
static void
m_score_rep(struct relay_desc *d)
{
	d->scores.reputation = RELAY_DESC_SCORE_MAX + 1;
}
static void
m_score_up(struct relay_desc *d)
{
	d->scores.uptime = RELAY_DESC_SCORE_MAX + 1;
}
static void
m_score_cap(struct relay_desc *d)
{
	d->scores.capacity = RELAY_DESC_SCORE_MAX + 1;
}
static void
m_score_abuse(struct relay_desc *d)
{
	d->scores.abuse_penalty = 65535;
}
static void
m_score_bond(struct relay_desc *d)
{
	d->scores.bond = RELAY_DESC_SCORE_MAX + 1;
}
static void
m_score_stake(struct relay_desc *d)
{
	d->scores.stake = RELAY_DESC_SCORE_MAX + 1;
}
static void
m_family_dup(struct relay_desc *d)
{
	memcpy(d->family[2], d->family[1], 32);
}
static void
m_family_unsorted(struct relay_desc *d)
{
	uint8_t t[32];

	memcpy(t, d->family[0], 32);
	memcpy(d->family[0], d->family[2], 32);
	memcpy(d->family[2], t, 32);
}
static void
m_family_self(struct relay_desc *d)
{
	/* Replace the largest member by the identity (keeping the order when it sorts last). */
	d->n_family = 1;
	memcpy(d->family[0], d->identity, 32);
}
static void
m_platform_ctrl(struct relay_desc *d)
{
	strcpy(d->platform, "umbra\n0.1");
}
static void
m_contact_8bit(struct relay_desc *d)
{
	strcpy(d->contact, "caf\xc3\xa9");
}

static void
test_desc_malformed_fields(void **state)
{
	static const struct {
		const char *name;
		mutate_fn *fn;
	} cases[] = {
		{ "version", m_version },
		{ "expires > published + 18h", m_lifetime },
		{ "expires == published", m_expires_eq },
		{ "empty nickname", m_nick_empty },
		{ "nickname charset -", m_nick_charset },
		{ "nickname charset space", m_nick_space },
		{ "no role", m_roles_none },
		{ "unknown role", m_roles_unknown },
		{ "link cert ends before descriptor", m_cert_short },
		{ "previous onion key == current", m_prev_same },
		{ "previous onion key grace too long", m_prev_grace },
		{ "previous onion key already expired", m_prev_past },
		{ "no address", m_no_addrs },
		{ "addresses unsorted", m_addrs_unsorted },
		{ "duplicate address", m_addrs_dup },
		{ "port 0", m_port_zero },
		{ "0.0.0.0", m_addr_unspec },
		{ "IPv4-mapped IPv6", m_addr_v4mapped },
		{ "unknown exit flag", m_exit_flag_unknown },
		{ "range inverted", m_range_inverted },
		{ "range from port 0", m_range_zero },
		{ "ranges unsorted", m_range_unsorted },
		{ "ranges overlap", m_range_overlap },
		{ "ranges adjacent (unmerged)", m_range_adjacent },
		{ "policy kind", m_policy_kind },
		{ "policy in its longer form", m_policy_longer_form },
		{ "policy reject form on a tie", m_policy_tie_reject },
		{ "non-exit with a policy", m_nonexit_policy },
		{ "non-exit with exit flags", m_nonexit_flags },
		{ "exit that rejects everything", m_exit_rejects_all },
		{ "burst < rate", m_burst },
		{ "operator cert ends before descriptor", m_opcert_short },
		{ "country lower case", m_country_lower },
		{ "country digit", m_country_digit },
		{ "region upper case", m_region_upper },
		{ "geo confidence 101", m_geo },
		{ "reputation", m_score_rep },
		{ "uptime", m_score_up },
		{ "capacity", m_score_cap },
		{ "abuse penalty", m_score_abuse },
		{ "bond", m_score_bond },
		{ "stake", m_score_stake },
		{ "duplicate family member", m_family_dup },
		{ "family unsorted", m_family_unsorted },
		{ "family contains self", m_family_self },
		{ "platform control char", m_platform_ctrl },
		{ "contact 8-bit", m_contact_8bit },
	};
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN];
	struct wire_wr w;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		desc_full(&d);
		cases[i].fn(&d);
		wire_wr_init(&w, buf, sizeof(buf));
		assert_int_equal(relay_desc_encode_unchecked(&d, &w), UM_OK);
		if (relay_desc_parse(buf, w.len, &p) != UM_ERR_MALFORMED)
			fail_msg("case '%s' was not rejected", cases[i].name);
		/* The checked encoder refuses to write it, and the signer to sign it. */
		wire_wr_init(&w, buf, sizeof(buf));
		assert_int_equal(relay_desc_encode(&d, &w), UM_ERR_INVALID);
		assert_int_equal(w.len, 0);
		assert_int_equal(relay_desc_sign(&d, &K.id), UM_ERR_INVALID);
	}
}

/* Counts a struct cannot express: patch the bytes. */
static void
test_desc_malformed_counts(void **state)
{
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN], bad[RELAY_DESC_MAX_LEN];
	size_t n, off;

	(void)state;
	desc_full(&d);
	n = encode(&d, buf, sizeof(buf));

	off = off_n_addrs(&d);
	assert_int_equal(buf[off], 2);
	memcpy(bad, buf, n);
	bad[off] = RELAY_DESC_MAX_ADDRS + 1;
	assert_int_equal(relay_desc_parse(bad, n, &p), UM_ERR_MALFORMED);
	memcpy(bad, buf, n);
	assert_int_equal(bad[off + 1], RELAY_ADDR_IPV4);
	bad[off + 1] = 5; /* unknown address type */
	assert_int_equal(relay_desc_parse(bad, n, &p), UM_ERR_MALFORMED);

	off = off_policy4(&d);
	assert_int_equal(buf[off], RELAY_POLICY_ACCEPT);
	assert_int_equal(buf[off + 1], 3);
	memcpy(bad, buf, n);
	bad[off + 1] = RELAY_DESC_MAX_PORT_RANGES + 1;
	assert_int_equal(relay_desc_parse(bad, n, &p), UM_ERR_MALFORMED);

	off = off_n_family(&d, n);
	assert_int_equal(buf[off], 3);
	memcpy(bad, buf, n);
	bad[off] = RELAY_DESC_MAX_FAMILY + 1;
	assert_int_equal(relay_desc_parse(bad, n, &p), UM_ERR_MALFORMED);

	/* Unknown presence bit (byte after the roles). */
	off = 1 + 32 + 8 + 8 + 1 + strlen(d.nickname) + 1;
	assert_int_equal(buf[off], RELAY_DESC_P_ALL);
	memcpy(bad, buf, n);
	bad[off] |= 0x04;
	assert_int_equal(relay_desc_parse(bad, n, &p), UM_ERR_MALFORMED);

	/* Nickname length over the maximum, and text lengths over theirs (region). */
	memcpy(bad, buf, n);
	bad[1 + 32 + 8 + 8] = RELAY_DESC_NICKNAME_MAX + 1;
	assert_int_equal(relay_desc_parse(bad, n, &p), UM_ERR_MALFORMED);
}

static void
test_desc_forgery(void **state)
{
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN], bad[RELAY_DESC_MAX_LEN];
	size_t n, parsed = 0;

	(void)state;
	desc_full(&d);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_verify(&d, buf, n, NOW), UM_OK);
	/* Any flipped bit of any byte: either it no longer parses or it no longer verifies. */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(bad, buf, n);
			bad[i] ^= (uint8_t)(1u << bit);
			/* The struct is bound to the bytes it came from. */
			assert_int_not_equal(relay_desc_verify(&d, bad, n, NOW), UM_OK);
			if (relay_desc_parse(bad, n, &p) != (ssize_t)n)
				continue;
			parsed++;
			assert_int_not_equal(relay_desc_verify(&p, bad, n, NOW), UM_OK);
			/* A change inside the signature itself is always an AUTH failure. */
			if (i >= n - RELAY_DESC_SIG_LEN)
				assert_int_equal(relay_desc_verify(&p, bad, n, NOW), UM_ERR_AUTH);
		}
	}
	assert_true(parsed > n / 2); /* most flips still parse: the signature is what stops them */

	/* Signed by a key other than the embedded identity. */
	memcpy(d.identity, K.other.pk, 32);
	assert_int_equal(relay_desc_sign(&d, &K.id), UM_ERR_INVALID);
	desc_full(&d);
	d.sig[0] ^= 1;
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);
}

static void
test_desc_link_cert_identity(void **state)
{
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN];
	size_t n;

	(void)state;
	/* A link certificate by another identity, in a descriptor properly signed by ours. */
	desc_full(&d);
	set_link_cert(&d, &K.other, CERT_EXP);
	assert_int_equal(relay_desc_sign(&d, &K.id), UM_OK);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);

	/* Our certificate, but for another link key than the one published. */
	desc_full(&d);
	memcpy(d.link_key, K.onion.pk, 32);
	assert_int_equal(relay_desc_sign(&d, &K.id), UM_OK);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);

	/* An operator certificate not signed by the operator it names. */
	desc_full(&d);
	relay_desc_sign_operator(&d, &K.other, OPCERT_EXP);
	memcpy(d.operator_id, K.op.pk, 32);
	assert_int_equal(relay_desc_sign(&d, &K.id), UM_OK);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);

	/* Sanity: the same with everything right verifies. */
	desc_full(&d);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_parse_verify(buf, n, NOW, &p), UM_OK);
}

static void
test_desc_expiry(void **state)
{
	struct relay_desc d, p;
	uint8_t buf[RELAY_DESC_MAX_LEN];
	size_t n;

	(void)state;
	desc_full(&d);
	n = encode(&d, buf, sizeof(buf));
	assert_int_equal(relay_desc_parse_verify(buf, n, d.expires_s - 1, &p), UM_OK);
	assert_int_equal(relay_desc_parse_verify(buf, n, d.expires_s, &p), UM_ERR_EXPIRED);
	assert_int_equal(relay_desc_parse_verify(buf, n, d.expires_s + 86400, &p), UM_ERR_EXPIRED);
	/* Published in the future: within the skew it is fine, beyond it is refused. */
	assert_int_equal(
	        relay_desc_parse_verify(buf, n, d.published_s - RELAY_DESC_CLOCK_SKEW_S, &p),
	        UM_OK);
	assert_int_equal(
	        relay_desc_parse_verify(buf, n, d.published_s - RELAY_DESC_CLOCK_SKEW_S - 1, &p),
	        UM_ERR_EXPIRED);
	assert_int_equal(relay_desc_verify(&d, buf, n, 0), UM_ERR_EXPIRED);
}

static void
test_policy_helpers(void **state)
{
	struct relay_policy p;

	(void)state;
	/* Unsorted, overlapping and adjacent input merges into the accept form. */
	memset(&p, 0, sizeof(p));
	p.kind = RELAY_POLICY_ACCEPT;
	p.n_ranges = 4;
	p.r[0] = (struct relay_port_range){ 443, 443 };
	p.r[1] = (struct relay_port_range){ 80, 100 };
	p.r[2] = (struct relay_port_range){ 90, 120 };
	p.r[3] = (struct relay_port_range){ 121, 121 };
	assert_int_equal(relay_policy_normalize(&p), UM_OK);
	assert_true(relay_policy_is_canonical(&p));
	assert_int_equal(p.kind, RELAY_POLICY_ACCEPT);
	assert_int_equal(p.n_ranges, 2);
	assert_int_equal(p.r[0].lo, 80);
	assert_int_equal(p.r[0].hi, 121);
	assert_int_equal(p.r[1].lo, 443);
	assert_false(relay_policy_allows_port(&p, 79));
	assert_true(relay_policy_allows_port(&p, 80));
	assert_true(relay_policy_allows_port(&p, 121));
	assert_false(relay_policy_allows_port(&p, 122));
	assert_true(relay_policy_allows_port(&p, 443));
	assert_false(relay_policy_allows_port(&p, 0));

	/* "accept everything but 25" is shorter as a reject list. */
	memset(&p, 0, sizeof(p));
	p.kind = RELAY_POLICY_ACCEPT;
	p.n_ranges = 2;
	p.r[0] = (struct relay_port_range){ 26, 65535 };
	p.r[1] = (struct relay_port_range){ 1, 24 };
	assert_int_equal(relay_policy_normalize(&p), UM_OK);
	assert_int_equal(p.kind, RELAY_POLICY_REJECT);
	assert_int_equal(p.n_ranges, 1);
	assert_true(relay_policy_allows_port(&p, 24));
	assert_false(relay_policy_allows_port(&p, 25));
	assert_true(relay_policy_allows_port(&p, 65535));

	/* Reject everything is the empty accept list; accept everything the empty reject. */
	memset(&p, 0, sizeof(p));
	p.kind = RELAY_POLICY_REJECT;
	p.n_ranges = 1;
	p.r[0] = (struct relay_port_range){ 1, 65535 };
	assert_int_equal(relay_policy_normalize(&p), UM_OK);
	assert_int_equal(p.kind, RELAY_POLICY_ACCEPT);
	assert_int_equal(p.n_ranges, 0);
	p.kind = RELAY_POLICY_ACCEPT;
	p.n_ranges = 1;
	p.r[0] = (struct relay_port_range){ 1, 65535 };
	assert_int_equal(relay_policy_normalize(&p), UM_OK);
	assert_int_equal(p.kind, RELAY_POLICY_REJECT);
	assert_int_equal(p.n_ranges, 0);
	assert_true(relay_policy_allows_port(&p, 1));

	/* Ties go to the accept form; bad input is refused. */
	p.kind = RELAY_POLICY_REJECT;
	p.n_ranges = 1;
	p.r[0] = (struct relay_port_range){ 25, 65535 };
	assert_int_equal(relay_policy_normalize(&p), UM_OK);
	assert_int_equal(p.kind, RELAY_POLICY_ACCEPT);
	assert_int_equal(p.n_ranges, 1);
	assert_int_equal(p.r[0].hi, 24);
	p.r[0] = (struct relay_port_range){ 9, 8 };
	assert_int_equal(relay_policy_normalize(&p), UM_ERR_INVALID);
	p.r[0] = (struct relay_port_range){ 0, 8 };
	assert_int_equal(relay_policy_normalize(&p), UM_ERR_INVALID);
	p.r[0] = (struct relay_port_range){ 1, 8 };
	p.kind = 0;
	assert_int_equal(relay_policy_normalize(&p), UM_ERR_INVALID);

	/* Rejecting the 32 odd ports 1..63 is accepting 2, 4, .., 62 and 64-65535: also 32
	 * ranges, a tie, so the accept form; either form fits the cap. */
	memset(&p, 0, sizeof(p));
	p.kind = RELAY_POLICY_REJECT;
	p.n_ranges = RELAY_DESC_MAX_PORT_RANGES;
	for (int i = 0; i < RELAY_DESC_MAX_PORT_RANGES; i++)
		p.r[i] = (struct relay_port_range){ (uint16_t)(2 * i + 1), (uint16_t)(2 * i + 1) };
	assert_int_equal(relay_policy_normalize(&p), UM_OK);
	assert_true(relay_policy_is_canonical(&p));
	assert_int_equal(p.kind, RELAY_POLICY_ACCEPT);
	assert_int_equal(p.n_ranges, RELAY_DESC_MAX_PORT_RANGES);
	assert_int_equal(p.r[31].lo, 64);
	assert_int_equal(p.r[31].hi, 65535);
	assert_false(relay_policy_allows_port(&p, 63));
	assert_true(relay_policy_allows_port(&p, 64));
	assert_true(relay_policy_allows_port(&p, 62));
}

static void
test_desc_field_rules(void **state)
{
	struct relay_addr a;

	(void)state;
	assert_true(relay_desc_nickname_is_valid("Abc123", 6));
	assert_false(relay_desc_nickname_is_valid("", 0));
	assert_false(relay_desc_nickname_is_valid("aaaaaaaaaaaaaaaaaaaa", 20));
	assert_false(relay_desc_nickname_is_valid("a_b", 3));
	assert_true(relay_desc_region_is_valid("us-east-1", 9));
	assert_true(relay_desc_region_is_valid("", 0));
	assert_false(relay_desc_region_is_valid("us east", 7));
	assert_true(relay_desc_country_is_valid("ZZ", 2));
	assert_false(relay_desc_country_is_valid("Z", 1));
	assert_false(relay_desc_country_is_valid("zz", 2));
	assert_true(relay_desc_text_is_valid("umbra 0.1.0 ~", 13));
	assert_false(relay_desc_text_is_valid("a\tb", 3));
	addr4(&a, 10, 0, 0, 1, 1);
	assert_true(relay_addr_is_valid(&a));
	a.addr[5] = 1; /* garbage after an IPv4 address */
	assert_false(relay_addr_is_valid(&a));
	a.addr[5] = 0;
	a.type = 5;
	assert_false(relay_addr_is_valid(&a));
}

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	keyset_init(&K);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	keyset_clear(&K);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_known_vector),
		cmocka_unit_test(test_desc_roundtrip_prefixes),
		cmocka_unit_test(test_desc_trailing_and_size),
		cmocka_unit_test(test_desc_malformed_fields),
		cmocka_unit_test(test_desc_malformed_counts),
		cmocka_unit_test(test_desc_forgery),
		cmocka_unit_test(test_desc_link_cert_identity),
		cmocka_unit_test(test_desc_expiry),
		cmocka_unit_test(test_policy_helpers),
		cmocka_unit_test(test_desc_field_rules),
	};

	return cmocka_run_group_tests_name("descriptor", tests, setup, teardown);
}
