/* SPDX-License-Identifier: MIT */
/*
 * The directory client (directory/dirclient.h): the sans-I/O core fed with consensus
 * documents built with the real API (fixed keys, votes, consensus_compute, consensus_sign)
 * on a fake clock: thresholds, altered bytes, the validity window, foreign keys, the cache
 * across re-opens and its expiry, 304s, TOFU and minimum sources; then dirclient_io against
 * a real ev_http server on 127.0.0.1 that serves an ETag and answers 304.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "evloop/http.h"
#include "store/store.h"
#include "directory/authority.h"
#include "directory/consensus.h"
#include "directory/dirclient.h"
#include "directory/consensus_diff.h"
#include "directory/dirserv.h"
#include "directory/relay_entry.h"
#include "directory/vote.h"

enum { N_AUTH = 5, PERIOD = 3600 };

/* "Now" is the real clock (the I/O test needs certificates valid for the loop's clock). */
static uint64_t NOW, VA;
static struct keys_ed25519 A[N_AUTH], S[N_AUTH];
static struct auth_cert C[N_AUTH];

static void
key_from_byte(struct keys_ed25519 *k, uint8_t b)
{
	uint8_t s[32];

	memset(s, b, sizeof(s));
	keys_ed25519_from_seed(k, s);
}

static void
mk_entry(struct relay_entry *e, uint8_t id)
{
	memset(e, 0, sizeof(*e));
	memset(e->identity, id, 32);
	memset(e->desc_digest, id ^ 1, 32);
	e->measured_bw = 1000;
	snprintf(e->nickname, sizeof(e->nickname), "relay%u", (unsigned)id);
	e->roles = RELAY_ROLE_ENTRY | RELAY_ROLE_MIDDLE | RELAY_ROLE_EXIT;
	e->flags = RELAY_FLAG_RUNNING | RELAY_FLAG_VALID;
	memset(e->link_key, id ^ 0x55, 32);
	memset(e->onion_key, id ^ 0xaa, 32);
	e->n_addrs = 1;
	e->addrs[0].type = RELAY_ADDR_IPV4;
	e->addrs[0].addr[0] = 10;
	e->addrs[0].addr[3] = id;
	e->addrs[0].port = 9001;
	e->policy4.kind = e->policy6.kind = RELAY_POLICY_ACCEPT;
	e->policy4.n_ranges = 1; /* an exit: accept 80-443 over IPv4 */
	e->policy4.r[0].lo = 80;
	e->policy4.r[0].hi = 443;
	memset(e->operator_id, 0x77, 32);
	strcpy(e->country, "DE");
	strcpy(e->region, "eu-central");
	e->geo_confidence = 80;
	e->scores = (struct relay_scores){ 9000, 9900, 5000, 10, 0, 100 };
	e->flags = relay_entry_mask_flags(RELAY_FLAG_RUNNING | RELAY_FLAG_VALID, e->roles);
}

/*
 * An encoded consensus for the period starting at va, voted by voters[] (all of them count as
 * the authority total) and signed by signers[].
 */
/* Relays in the documents mk_doc() makes (1..3; 3 = enough for a path). */
static size_t doc_relays = 3;

static uint8_t *
mk_doc(uint64_t va, const size_t *voters, size_t n_voters, const size_t *signers, size_t n_signers,
       size_t *len)
{
	struct vote v[N_AUTH];
	const struct vote *vp[N_AUTH];
	struct relay_entry e[3];
	struct consensus c;
	uint8_t *buf = NULL;

	mk_entry(&e[0], 0x21);
	mk_entry(&e[1], 0x42);
	mk_entry(&e[2], 0x63);
	for (size_t i = 0; i < n_voters; i++) {
		vote_init(&v[i]);
		v[i].cert = C[voters[i]];
		v[i].valid_after_s = va;
		v[i].fresh_until_s = va + PERIOD;
		v[i].valid_until_s = va + 3 * PERIOD;
		v[i].n_relays = doc_relays;
		v[i].relays = um_xcalloc(doc_relays, sizeof(e[0]));
		memcpy(v[i].relays, e, doc_relays * sizeof(e[0]));
		assert_int_equal(vote_sort_relays(&v[i]), UM_OK);
		assert_int_equal(vote_sign(&v[i], &S[voters[i]]), UM_OK);
		vp[i] = &v[i];
	}
	assert_int_equal(
	        consensus_compute(vp, n_voters, n_voters, va, va + PERIOD, va + 3 * PERIOD, &c),
	        UM_OK);
	for (size_t i = 0; i < n_signers; i++)
		assert_int_equal(consensus_sign(&c, &C[signers[i]], &S[signers[i]]), UM_OK);
	assert_int_equal(consensus_encode_new(&c, &buf, len), UM_OK);
	consensus_clear(&c);
	for (size_t i = 0; i < n_voters; i++)
		vote_clear(&v[i]);
	return buf;
}

static const size_t V012[] = { 0, 1, 2 }, V34[] = { 3, 4 };

/* The standard document: voted by authorities 0..2, signed by signers. */
static uint8_t *
doc3(uint64_t va, const size_t *signers, size_t n, size_t *len)
{
	return mk_doc(va, V012, 3, signers, n, len);
}

static const char *const URLS[] = { "http://127.0.0.1:1", "http://127.0.0.1:2",
	                            "http://127.0.0.1:3" };

static struct dirclient *
new_dc(struct store *st, enum dirclient_pin_mode mode, size_t n_pins, size_t min_sources,
       uint64_t now)
{
	struct dirclient_config cfg = { 0 };
	uint8_t pins[N_AUTH][AUTHCERT_ID_LEN];
	struct dirclient *dc = NULL;
	char why[256];

	for (size_t i = 0; i < n_pins; i++)
		memcpy(pins[i], A[i].pk, AUTHCERT_ID_LEN);
	cfg.urls = URLS;
	cfg.n_urls = 3;
	cfg.pin_mode = mode;
	cfg.pins = (const uint8_t(*)[AUTHCERT_ID_LEN])pins;
	cfg.n_pins = n_pins;
	cfg.min_sources = min_sources;
	cfg.store = st;
	if (dirclient_new(&cfg, now, &dc, why, sizeof(why)) != UM_OK)
		fail_msg("dirclient_new: %s", why);
	return dc;
}

static struct store *
mem_store(void)
{
	struct store *st = NULL;

	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0), UM_OK);
	return st;
}

/* Start the round due at now; returns how many fetches came out (kept in f). */
static size_t
due(struct dirclient *dc, uint64_t now, struct dirclient_fetch *f)
{
	return dirclient_due(dc, now, f, DIRCLIENT_MAX_SOURCES);
}

static int
answer(struct dirclient *dc, size_t src, uint64_t now, int status, const uint8_t *body, size_t len,
       const char *etag, bool *accepted)
{
	struct dirclient_response r = { UM_OK, 0, status, body, len, etag, NULL };

	return dirclient_handle(dc, src, DIRCLIENT_FETCH_CONSENSUS, now, &r, accepted);
}

static int
answer_down(struct dirclient *dc, size_t src, uint64_t now)
{
	struct dirclient_response r = { UM_ERR_SYS, ECONNREFUSED, 0, NULL, 0, NULL, NULL };
	bool acc;

	return dirclient_handle(dc, src, DIRCLIENT_FETCH_CONSENSUS, now, &r, &acc);
}

static struct dirclient_status *
status(struct dirclient *dc, uint64_t now)
{
	static struct dirclient_status st;

	dirclient_status(dc, now, &st);
	return &st;
}

static void
assert_msg_has(struct dirclient *dc, uint64_t now, const char *want)
{
	struct dirclient_status *st = status(dc, now);

	if (strstr(st->message, want) == NULL)
		fail_msg("status message \"%s\" lacks \"%s\"", st->message, want);
}

static void
assert_digest_of(const struct consensus *c, const uint8_t *doc, size_t len)
{
	struct consensus p;

	assert_non_null(c);
	consensus_init(&p);
	assert_int_equal(consensus_parse(doc, len, &p), (ssize_t)len);
	assert_memory_equal(c->digest, p.digest, DIR_DIGEST_LEN);
	consensus_clear(&p);
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_dirclient_threshold_2_of_3_accepted_1_refused(void **state)
{
	static const size_t s02[] = { 0, 2 }, s0[] = { 0 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	struct dirclient_status *s;
	size_t len1, len2;
	uint8_t *one = doc3(VA, s0, 1, &len1), *two = doc3(VA, s02, 2, &len2);
	bool acc;

	(void)state;
	assert_int_equal(due(dc, NOW, f), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f[i].kind, DIRCLIENT_FETCH_CONSENSUS);
		assert_null(f[i].if_none_match);
	}
	assert_string_equal(f[1].url, "http://127.0.0.1:2/v1/consensus");
	assert_int_equal(due(dc, NOW, f), 0); /* all in flight */

	assert_int_equal(answer(dc, 0, NOW, 200, one, len1, NULL, &acc), UM_ERR_AUTH);
	assert_false(acc);
	assert_null(dirclient_consensus(dc, NOW, NULL, NULL));
	assert_msg_has(dc, NOW, "too few valid signatures: 1 of 2 needed");

	assert_int_equal(answer(dc, 1, NOW, 200, two, len2, NULL, &acc), UM_OK);
	assert_true(acc);
	assert_digest_of(dirclient_consensus(dc, NOW, NULL, NULL), two, len2);
	s = status(dc, NOW);
	assert_true(s->valid);
	assert_string_equal(s->message, "");
	assert_int_equal(s->n_pins, 3);
	assert_int_equal(s->threshold, 2);
	assert_int_equal(s->sigs[0].status, CONS_AUTH_SIGNED);
	assert_int_equal(s->sigs[1].status, CONS_AUTH_NO_SIG);
	assert_int_equal(s->sigs[2].status, CONS_AUTH_SIGNED);
	assert_int_equal(s->valid_after_s, VA);
	assert_int_equal(s->age_s, NOW - VA);
	assert_int_equal(s->n_relays, 3);
	assert_int_not_equal(s->sources[0].error[0], '\0');
	assert_int_equal(s->sources[1].last_http, 200);
	assert_int_equal(s->sources[1].last_success_s, NOW);
	assert_int_equal(s->sources[1].etag[0], '"');
	/* The failing source backs off; the good one waits for fresh_until. */
	assert_true(s->sources[0].next_fetch_s >= NOW + DIRCLIENT_BACKOFF_MIN_S / 2);
	assert_true(s->sources[0].next_fetch_s <= NOW + DIRCLIENT_BACKOFF_MIN_S);
	assert_true(s->sources[1].next_fetch_s >= VA + PERIOD);
	/* The same document again is no news; an answer nobody asked for is refused. */
	assert_int_equal(answer(dc, 2, NOW, 200, two, len2, NULL, &acc), UM_OK);
	assert_false(acc);
	assert_int_equal(answer(dc, 2, NOW, 200, two, len2, NULL, &acc), UM_ERR_STATE);

	free(one);
	free(two);
	dirclient_free(dc);
	store_close(st);
}

/* A network starting up: a consensus too thin for a path (fewer than 3 relays) is asked for
 * again every second, a bounded number of times, instead of at fresh_until plus jitter. */
static void
test_dirclient_thin_consensus_refetched_soon(void **state)
{
	static const size_t s012[] = { 0, 1, 2 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	uint8_t *thin, *full;
	size_t len_thin, len_full;
	bool acc;

	(void)state;
	doc_relays = 2;
	thin = doc3(VA, s012, 3, &len_thin);
	doc_relays = 3;
	full = doc3(VA + 1, s012, 3, &len_full);
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 0, NOW, 200, thin, len_thin, NULL, &acc), UM_OK);
	assert_true(acc);
	assert_int_equal(status(dc, NOW)->sources[0].next_fetch_s, NOW + 1);
	/* Bounded: after DIRCLIENT_THIN_TRIES answers, back to the usual schedule. */
	for (unsigned i = 1; i <= DIRCLIENT_THIN_TRIES; i++) {
		assert_int_equal(due(dc, NOW + i, f), 1);
		assert_int_equal(answer(dc, 0, NOW + i, 200, thin, len_thin, NULL, &acc), UM_OK);
	}
	assert_true(status(dc, NOW + DIRCLIENT_THIN_TRIES)->sources[0].next_fetch_s >=
	            NOW + DIRCLIENT_THIN_TRIES + 1);
	/* A consensus with enough relays: the usual schedule, at fresh_until or later. */
	assert_int_equal(answer(dc, 1, NOW, 200, full, len_full, NULL, &acc), UM_OK);
	assert_true(acc);
	assert_true(status(dc, NOW)->sources[1].next_fetch_s >= VA + 1 + PERIOD);
	free(thin);
	free(full);
	dirclient_free(dc);
	store_close(st);
}

static void
test_dirclient_altered_byte_rejected_cache_kept(void **state)
{
	static const size_t s01[] = { 0, 1 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	size_t len1, len2;
	uint8_t *a = doc3(VA, s01, 2, &len1), *b = doc3(VA + PERIOD, s01, 2, &len2);
	uint64_t t = VA + PERIOD + 10;
	int ret;
	bool acc;

	(void)state;
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 0, NOW, 200, a, len1, NULL, &acc), UM_OK);
	assert_true(acc);
	b[len2 / 2] ^= 0x01; /* inside the signed part */
	ret = answer(dc, 1, t, 200, b, len2, NULL, &acc);
	assert_true(ret == UM_ERR_AUTH || ret == UM_ERR_MALFORMED);
	assert_false(acc);
	assert_digest_of(dirclient_consensus(dc, t, NULL, NULL), a, len1);
	dirclient_free(dc);
	/* The store still holds the good one. */
	dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, t);
	assert_digest_of(dirclient_consensus(dc, t, NULL, NULL), a, len1);
	assert_true(status(dc, t)->from_cache);
	free(a);
	free(b);
	dirclient_free(dc);
	store_close(st);
}

static void
test_dirclient_expired_and_future_rejected(void **state)
{
	static const size_t s01[] = { 0, 1 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	size_t len1, len2;
	uint8_t *old = doc3(NOW - 4 * PERIOD, s01, 2, &len1);
	uint8_t *fut = doc3(NOW + PERIOD, s01, 2, &len2);
	bool acc;

	(void)state;
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 0, NOW, 200, old, len1, NULL, &acc), UM_ERR_EXPIRED);
	assert_msg_has(dc, NOW, "consensus expired at");
	assert_int_equal(answer(dc, 1, NOW, 200, fut, len2, NULL, &acc), UM_ERR_EXPIRED);
	assert_msg_has(dc, NOW, "not yet valid");
	assert_msg_has(dc, NOW, "no valid consensus: no cached consensus");
	assert_null(dirclient_consensus(dc, NOW, NULL, NULL));
	free(old);
	free(fut);
	dirclient_free(dc);
	store_close(st);
}

static void
test_dirclient_foreign_keys_refused(void **state)
{
	static const size_t s34[] = { 3, 4 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	size_t len;
	uint8_t *doc = mk_doc(VA, V34, 2, s34, 2, &len);
	bool acc;

	(void)state;
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 0, NOW, 200, doc, len, NULL, &acc), UM_ERR_AUTH);
	assert_false(acc);
	assert_msg_has(dc, NOW, "consensus signed by authorities we do not trust:");
	assert_msg_has(dc, NOW, "(we pin ");
	free(doc);
	dirclient_free(dc);
	store_close(st);
}

static void
test_dirclient_cache_reopen_then_expiry(void **state)
{
	static const size_t s12[] = { 1, 2 };
	char dir[] = "/tmp/um-dirclient-XXXXXX", path[64];
	struct store *st = NULL;
	struct dirclient *dc;
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	size_t len, n;
	uint8_t *doc = doc3(VA, s12, 2, &len);
	uint64_t t;
	bool acc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(store_open(path, NULL, &st, NULL, 0), UM_OK);
	dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 2, NOW, 200, doc, len, NULL, &acc), UM_OK);
	assert_true(acc);
	dirclient_free(dc);
	store_close(st);

	/* Re-open: the cache is current at once, and stays so while every directory is down. */
	assert_int_equal(store_open(path, NULL, &st, NULL, 0), UM_OK);
	t = NOW + 60;
	dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, t);
	assert_digest_of(dirclient_consensus(dc, t, NULL, NULL), doc, len);
	assert_true(status(dc, t)->from_cache);
	assert_string_equal(status(dc, t)->sources[2].etag, status(dc, t)->sources[2].etag);
	assert_int_equal(status(dc, t)->sources[2].last_success_s, NOW); /* persisted */
	while (t < VA + 3 * PERIOD) {
		n = due(dc, t, f);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(answer_down(dc, f[i].src, t), UM_ERR_SYS);
		assert_digest_of(dirclient_consensus(dc, t, NULL, NULL), doc, len);
		t = dirclient_next_wakeup_s(dc);
	}
	/* Past valid_until: nothing valid, and the message says why. */
	t = VA + 3 * PERIOD;
	assert_null(dirclient_consensus(dc, t, NULL, NULL));
	assert_false(status(dc, t)->valid);
	assert_msg_has(dc, t, "no valid consensus: cached one expired at ");
	assert_msg_has(dc, t, "directories unreachable: http://127.0.0.1:1 (Connection refused)");
	/* Backoff grew (capped). */
	assert_true(status(dc, t)->sources[0].next_fetch_s -
	                    status(dc, t)->sources[0].last_attempt_s >
	            DIRCLIENT_BACKOFF_MIN_S);
	dirclient_free(dc);
	store_close(st);

	/* Re-opened after expiry: the cache is not used, and the message says so. */
	assert_int_equal(store_open(path, NULL, &st, NULL, 0), UM_OK);
	dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, t);
	assert_null(dirclient_consensus(dc, t, NULL, NULL));
	assert_msg_has(dc, t, "no valid consensus: cached one expired at ");
	dirclient_free(dc);
	store_close(st);
	free(doc);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-shm", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_dirclient_304(void **state)
{
	static const size_t s01[] = { 0, 1 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	size_t len, n;
	uint8_t *doc = doc3(VA, s01, 2, &len);
	char etag[DIRCLIENT_ETAG_MAX_LEN];
	uint64_t t;
	bool acc;

	(void)state;
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 0, NOW, 200, doc, len, NULL, &acc), UM_OK);
	snprintf(etag, sizeof(etag), "%s", status(dc, NOW)->sources[0].etag);
	/* Sources 1 and 2 have the same one: they answer 304 to our ETag on the next round. */
	assert_int_equal(answer_down(dc, 1, NOW), UM_ERR_SYS);
	assert_int_equal(answer_down(dc, 2, NOW), UM_ERR_SYS);
	assert_true(dirclient_next_wakeup_s(dc) <= NOW + DIRCLIENT_BACKOFF_MIN_S);
	t = NOW + DIRCLIENT_BACKOFF_MIN_S; /* both backoffs (jittered) ran out */
	n = due(dc, t, f);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].if_none_match, etag);
	assert_int_equal(answer(dc, f[0].src, t, 304, NULL, 0, etag, &acc), UM_OK);
	assert_false(acc);
	assert_int_equal(status(dc, t)->sources[f[0].src].last_http, 304);
	assert_string_equal(status(dc, t)->sources[f[0].src].etag, etag);
	assert_int_equal(status(dc, t)->sources[f[0].src].error[0], '\0');
	/* A 304 naming another ETag is a protocol error. */
	assert_int_equal(answer(dc, f[1].src, t, 304, NULL, 0, "\"00\"", &acc), UM_ERR_PROTOCOL);
	/* After fresh_until the good source is asked again, with the ETag. */
	t = VA + PERIOD + DIRCLIENT_FRESH_JITTER_MAX_S + 1;
	n = due(dc, t, f);
	assert_true(n >= 1);
	assert_string_equal(f[0].if_none_match, etag);
	assert_true(dirclient_consensus(dc, t, NULL, NULL) != NULL);
	free(doc);
	dirclient_free(dc);
	store_close(st);
}

static char *
authorities_json(const size_t *ids, size_t n)
{
	size_t cap = 64 + n * 600, off = 0;
	char *j = um_xmalloc(cap);
	uint8_t buf[AUTHCERT_LEN];
	char hex[HEX_LEN(AUTHCERT_LEN)];
	struct wire_wr w;

	off += (size_t)snprintf(j + off, cap - off, "{\"authorities\":[");
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(enc_base32(hex, sizeof(hex), A[ids[i]].pk, 32), UM_OK);
		off += (size_t)snprintf(j + off, cap - off, "%s{\"identity\":\"%s\",\"certs\":[",
		                        i ? "," : "", hex);
		w = (struct wire_wr){ buf, sizeof(buf), 0 };
		assert_int_equal(auth_cert_encode(&C[ids[i]], &w), UM_OK);
		assert_int_equal(enc_hex(hex, sizeof(hex), buf, sizeof(buf)), UM_OK);
		off += (size_t)snprintf(j + off, cap - off, "{\"cert\":\"%s\"}]}", hex);
	}
	snprintf(j + off, cap - off, "]}");
	return j;
}

/* A live directory without a consensus yet (404) is asked again every second, for a
 * bounded number of tries, then the normal backoff applies. */
static void
test_dirclient_bootstrap_404(void **state)
{
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	uint64_t t = NOW;
	bool acc;

	(void)state;
	assert_int_equal(due(dc, t, f), 3);
	assert_int_equal(answer_down(dc, 1, t), UM_ERR_SYS);
	assert_int_equal(answer_down(dc, 2, t), UM_ERR_SYS);
	for (unsigned i = 0; i < DIRCLIENT_BOOTSTRAP_TRIES; i++) {
		size_t n = i == 0 ? 1 : due(dc, t, f);
		bool asked0 = i == 0;

		for (size_t k = 0; k < n && i > 0; k++) {
			if (f[k].src == 0)
				asked0 = true;
			else
				assert_int_equal(answer_down(dc, f[k].src, t), UM_ERR_SYS);
		}
		assert_true(asked0); /* every second */
		assert_int_equal(answer(dc, 0, t, 404, (const uint8_t *)"{}", 2, NULL, &acc),
		                 UM_ERR_NOT_FOUND);
		assert_string_equal(status(dc, t)->sources[0].error, "no consensus yet");
		t++;
	}
	/* Out of bootstrap tries: a 404 is a failure with backoff like any other. */
	{
		size_t n = due(dc, t, f);
		bool asked0 = false;

		for (size_t k = 0; k < n; k++) {
			if (f[k].src == 0)
				asked0 = true;
			else
				assert_int_equal(answer_down(dc, f[k].src, t), UM_ERR_SYS);
		}
		assert_true(asked0);
	}
	assert_int_equal(answer(dc, 0, t, 404, (const uint8_t *)"{}", 2, NULL, &acc),
	                 UM_ERR_PROTOCOL);
	{
		size_t n = due(dc, t + 1, f); /* backing off now: source 0 is not asked */

		for (size_t k = 0; k < n; k++)
			assert_int_not_equal(f[k].src, 0);
	}
	dirclient_free(dc);
	store_close(st);
}

/* Holding a consensus, the client asks for a diff from it and rebuilds the next one. */
static void
test_dirclient_diff(void **state)
{
	static const size_t s012[] = { 0, 1, 2 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	struct dirclient_response r = { 0 };
	struct consensus a, b;
	size_t alen, blen, clen, dlen;
	uint8_t *adoc = doc3(VA, s012, 3, &alen);
	uint8_t *bdoc = doc3(VA + PERIOD, s012, 3, &blen);
	uint8_t *cdoc = doc3(VA + 2 * PERIOD, s012, 3, &clen);
	uint8_t *diff;
	char want[128], hex[65];
	uint64_t t;
	bool acc;

	(void)state;
	consensus_init(&a);
	consensus_init(&b);
	assert_int_equal(consensus_parse(adoc, alen, &a), (ssize_t)alen);
	assert_int_equal(consensus_parse(bdoc, blen, &b), (ssize_t)blen);
	assert_int_equal(consensus_diff_make(&a, &b, bdoc, blen, &diff, &dlen), UM_OK);
	assert_int_equal(due(dc, NOW, f), 3);
	assert_string_equal(f[0].url, "http://127.0.0.1:1/v1/consensus"); /* nothing held yet */
	assert_int_equal(answer(dc, 0, NOW, 200, adoc, alen, NULL, &acc), UM_OK);
	assert_true(acc);
	assert_int_equal(answer_down(dc, 1, NOW), UM_ERR_SYS);
	assert_int_equal(answer_down(dc, 2, NOW), UM_ERR_SYS);

	t = VA + PERIOD + DIRCLIENT_FRESH_JITTER_MAX_S + 1;
	assert_int_equal(due(dc, t, f), 3);
	assert_int_equal(enc_hex(hex, sizeof(hex), a.digest, 32), UM_OK);
	snprintf(want, sizeof(want), "http://127.0.0.1:1/v1/consensus/diff/%s", hex);
	assert_string_equal(f[0].url, want);
	r.status = 200;
	r.body = diff;
	r.body_len = dlen;
	r.content_type = DIRSERV_CDIFF_CONTENT_TYPE;
	assert_int_equal(dirclient_handle(dc, 0, DIRCLIENT_FETCH_CONSENSUS, t, &r, &acc), UM_OK);
	assert_true(acc);
	assert_memory_equal(dirclient_consensus(dc, t, NULL, NULL)->digest, b.digest, 32);
	/* The same diff again (from a base we no longer hold, to ours): consistent, like 304. */
	assert_int_equal(dirclient_handle(dc, 1, DIRCLIENT_FETCH_CONSENSUS, t, &r, &acc), UM_OK);
	assert_false(acc);
	/* A damaged diff is refused; the source's next fetch is the whole document. */
	assert_int_equal(due(dc, t + 1, f), 0);
	t = VA + 2 * PERIOD + DIRCLIENT_FRESH_JITTER_MAX_S + 1;
	assert_int_equal(due(dc, t, f), 2); /* source 2 is still in flight */
	{
		struct dirclient_response bad = r;
		uint8_t *d2;
		size_t d2len;
		struct consensus c;

		consensus_init(&c);
		assert_int_equal(consensus_parse(cdoc, clen, &c), (ssize_t)clen);
		free(diff);
		assert_int_equal(consensus_diff_make(&b, &c, cdoc, clen, &d2, &d2len), UM_OK);
		d2[1 + 64 + 4 + 3] ^= 0x40; /* inside the head: the result is not `to` */
		bad.body = d2;
		bad.body_len = d2len;
		assert_int_not_equal(
		        dirclient_handle(dc, f[0].src, DIRCLIENT_FETCH_CONSENSUS, t, &bad, &acc),
		        UM_OK);
		assert_false(acc);
		free(d2);
		consensus_clear(&c);
	}
	t += DIRCLIENT_BACKOFF_MAX_S + 1;
	for (size_t n = due(dc, t, f), i = 0; i < n; i++) {
		if (f[i].src == 0)
			assert_string_equal(f[i].url, "http://127.0.0.1:1/v1/consensus");
	}
	consensus_clear(&a);
	consensus_clear(&b);
	free(adoc);
	free(bdoc);
	free(cdoc);
	dirclient_free(dc);
	store_close(st);
}

static void
test_dirclient_authorities_parse_strict(void **state)
{
	struct dirclient_authorities a;
	char *j = authorities_json(V012, 3);
	static const char *const bad[] = {
		"",
		"[]",
		"{\"authorities\":[]}",
		"{\"authorities\":[{\"identity\":\"00\"}]}",
		"{\"authorities\":[{\"identity\":5}]}",
		"{\"authorities\":1}",
		"{\"authorities\":[],\"authorities\":[]}",
	};

	(void)state;
	assert_int_equal(dirclient_authorities_parse((uint8_t *)j, strlen(j), &a), UM_OK);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.n_certs, 3);
	assert_memory_equal(a.ids[1], A[1].pk, 32);
	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++)
		assert_int_equal(
		        dirclient_authorities_parse((const uint8_t *)bad[i], strlen(bad[i]), &a),
		        UM_ERR_MALFORMED);
	/* A certificate of another identity. */
	j[strlen("{\"authorities\":[{\"identity\":\"") + 3] ^= 1;
	assert_int_equal(dirclient_authorities_parse((uint8_t *)j, strlen(j), &a),
	                 UM_ERR_MALFORMED);
	free(j);
}

static void
test_dirclient_tofu_pins_then_refuses_other_keys(void **state)
{
	static const size_t s01[] = { 0, 1 }, s34[] = { 3, 4 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_TOFU, 0, 1, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	struct dirclient_response r = { 0 };
	char *good = authorities_json(V012, 3), *evil = authorities_json(V34, 2);
	size_t len1, len2, n_new;
	uint8_t *a = doc3(VA, s01, 2, &len1);
	uint8_t *b = mk_doc(VA + PERIOD, V34, 2, s34, 2, &len2);
	struct dirclient_authorities au;
	uint64_t t = VA + PERIOD + 5;
	bool acc;

	(void)state;
	assert_false(status(dc, NOW)->pinned);
	assert_msg_has(dc, NOW, "no authorities pinned yet");
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(f[0].kind, DIRCLIENT_FETCH_AUTHORITIES);
	assert_string_equal(f[0].url, "http://127.0.0.1:1/v1/authorities");
	r.status = 200;
	r.body = (const uint8_t *)good;
	r.body_len = strlen(good);
	assert_int_equal(dirclient_handle(dc, 0, DIRCLIENT_FETCH_AUTHORITIES, NOW, &r, &acc),
	                 UM_OK);
	r.body = (const uint8_t *)evil;
	r.body_len = strlen(evil);
	assert_int_equal(dirclient_handle(dc, 1, DIRCLIENT_FETCH_AUTHORITIES, NOW, &r, &acc),
	                 UM_OK);
	/* Source 0 is asked for the consensus right away. */
	assert_int_equal(due(dc, NOW, f), 2);
	assert_int_equal(f[0].kind, DIRCLIENT_FETCH_CONSENSUS);
	assert_int_equal(answer(dc, 0, NOW, 200, a, len1, NULL, &acc), UM_OK);
	assert_true(acc);
	assert_true(status(dc, NOW)->pinned);
	assert_int_equal(status(dc, NOW)->n_pins, 3);
	/* Source 1 (which published other keys) now serves a newer one signed by them. */
	assert_int_equal(answer(dc, 1, t, 200, b, len2, NULL, &acc), UM_ERR_AUTH);
	assert_false(acc);
	assert_digest_of(dirclient_consensus(dc, t, NULL, NULL), a, len1);
	assert_non_null(strstr(status(dc, t)->sources[1].error,
	                       "consensus signed by authorities we do not trust"));
	dirclient_free(dc);

	/* The pins were persisted: a strict client on the same store uses them. */
	dc = new_dc(st, DIRCLIENT_PIN_STRICT, 0, 1, t);
	assert_int_equal(status(dc, t)->n_pins, 3);
	assert_digest_of(dirclient_consensus(dc, t, NULL, NULL), a, len1);
	/* Pinning the same set again adds nothing. */
	assert_int_equal(dirclient_authorities_parse((uint8_t *)good, strlen(good), &au), UM_OK);
	assert_int_equal(dirclient_pins_save(st, &au, "x", t, &n_new), UM_OK);
	assert_int_equal(n_new, 0);
	dirclient_free(dc);
	free(good);
	free(evil);
	free(a);
	free(b);
	store_close(st);
}

static void
test_dirclient_min_sources(void **state)
{
	static const size_t s01[] = { 0, 1 };
	struct store *st = mem_store();
	struct dirclient *dc = new_dc(st, DIRCLIENT_PIN_STRICT, 3, 2, NOW);
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	size_t len1, len2;
	uint8_t *a = doc3(VA, s01, 2, &len1), *b = doc3(VA - 60, s01, 2, &len2);
	bool acc;

	(void)state;
	assert_int_equal(due(dc, NOW, f), 3);
	assert_int_equal(answer(dc, 0, NOW, 200, a, len1, NULL, &acc), UM_OK);
	assert_false(acc);
	assert_null(dirclient_consensus(dc, NOW, NULL, NULL));
	/* Another digest from source 1 does not count for a. */
	assert_int_equal(answer(dc, 1, NOW, 200, b, len2, NULL, &acc), UM_OK);
	assert_false(acc);
	/* The same digest from a second source: accepted. */
	assert_int_equal(answer(dc, 2, NOW, 200, a, len1, NULL, &acc), UM_OK);
	assert_true(acc);
	assert_digest_of(dirclient_consensus(dc, NOW, NULL, NULL), a, len1);
	free(a);
	free(b);
	dirclient_free(dc);
	store_close(st);
}

/* --- dirclient_io against a real server ------------------------------------------------------ */

struct io_env {
	struct ev_loop *loop;
	struct ev_http *http;
	struct ev_timer *poll, *watchdog;
	struct dirclient *dc;
	uint8_t *doc;
	size_t len;
	char etag[DIRCLIENT_ETAG_MAX_LEN]; /* quoted */
	unsigned n_req, n_304, n_accepted, n_diff_req;
	bool want_304, timed_out;
};

static void
io_handler(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct io_env *e = arg;
	const char *inm = ev_http_req_header(req, "If-None-Match");

	e->n_req++;
	if (strcmp(req->path, "/v1/authorities") == 0) {
		char *j = authorities_json(V012, 3);

		ev_http_resp_set_text(resp, 200, "application/json", j);
		free(j);
		return;
	}
	if (strcmp(req->path, "/v1/consensus") != 0 &&
	    strncmp(req->path, "/v1/consensus/diff/", 19) != 0) {
		ev_http_resp_set_text(resp, 404, "text/plain", "no");
		return;
	}
	e->n_diff_req += strncmp(req->path, "/v1/consensus/diff/", 19) == 0;
	resp->etag = um_xstrdup(e->etag);
	if (inm != NULL && strcmp(inm, e->etag) == 0) {
		e->n_304++;
		resp->status = 304;
		return;
	}
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body = um_xmalloc(e->len);
	memcpy(resp->body, e->doc, e->len);
	resp->body_len = e->len;
}

static struct dirclient_pin_report pin_rep;

static void
io_pinned(void *arg, const struct dirclient_pin_report *rep)
{
	struct io_env *e = arg;

	pin_rep = *rep;
	ev_loop_stop(e->loop);
}

static void
io_accepted(void *arg, const struct consensus *c)
{
	struct io_env *e = arg;

	assert_non_null(c);
	e->n_accepted++;
	ev_loop_stop(e->loop);
}

static void
io_poll(void *arg)
{
	struct io_env *e = arg;
	struct dirclient_status *st = status(e->dc, um_wall_s());

	if (e->want_304 && st->sources[0].last_http == 304)
		ev_loop_stop(e->loop);
}

static void
io_watchdog(void *arg)
{
	struct io_env *e = arg;

	e->timed_out = true;
	ev_loop_stop(e->loop);
}

static void
test_dirclient_io_etag_and_304(void **state)
{
	static const size_t s01[] = { 0, 1 };
	struct io_env e = { 0 };
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char url[64], why[256];
	const char *urls[1] = { url };
	uint8_t pins[3][AUTHCERT_ID_LEN];
	struct dirclient_config cfg = { 0 };
	struct dirclient_io *io;
	struct store *st = mem_store();
	struct consensus p;
	int fd;

	(void)state;
	e.doc = doc3(VA, s01, 2, &e.len);
	consensus_init(&p);
	assert_int_equal(consensus_parse(e.doc, e.len, &p), (ssize_t)e.len);
	e.etag[0] = '"';
	assert_int_equal(enc_hex(e.etag + 1, sizeof(e.etag) - 1, p.digest, 32), UM_OK);
	strcat(e.etag, "\"");
	consensus_clear(&p);

	e.loop = ev_loop_new();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(ev_tcp_listen_fd((struct sockaddr *)&sin, 16, &fd), UM_OK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
	assert_int_equal(ev_http_new(e.loop, fd, 4096, io_handler, &e, &e.http), UM_OK);
	e.watchdog = ev_timer_new(e.loop, io_watchdog, &e);
	e.poll = ev_timer_new(e.loop, io_poll, &e);

	for (size_t i = 0; i < 3; i++)
		memcpy(pins[i], A[i].pk, 32);
	cfg.urls = urls;
	cfg.n_urls = 1;
	cfg.pins = (const uint8_t(*)[AUTHCERT_ID_LEN])pins;
	cfg.n_pins = 3;
	cfg.store = st;
	assert_int_equal(dirclient_new(&cfg, um_wall_s(), &e.dc, why, sizeof(why)), UM_OK);

	/* First run: a 200 with the ETag, accepted, callback. */
	io = dirclient_io_new(e.loop, e.dc, io_accepted, &e);
	dirclient_io_start(io);
	ev_timer_start(e.watchdog, 10000, 0);
	assert_int_equal(ev_loop_run(e.loop), UM_OK);
	assert_false(e.timed_out);
	assert_int_equal(e.n_accepted, 1);
	assert_int_equal(e.n_304, 0);
	assert_string_equal(status(e.dc, um_wall_s())->sources[0].etag, e.etag);
	dirclient_io_free(io);
	dirclient_free(e.dc);

	/* Second client on the same store: starts from the cache, sends If-None-Match, gets 304. */
	assert_int_equal(dirclient_new(&cfg, um_wall_s(), &e.dc, why, sizeof(why)), UM_OK);
	e.want_304 = true;
	io = dirclient_io_new(e.loop, e.dc, io_accepted, &e);
	dirclient_io_start(io);
	ev_timer_start(e.poll, 10, 10);
	ev_timer_start(e.watchdog, 10000, 0);
	assert_int_equal(ev_loop_run(e.loop), UM_OK);
	assert_false(e.timed_out);
	assert_int_equal(e.n_304, 1);
	assert_int_equal(e.n_diff_req, 1); /* holding a consensus, it asked for a diff */
	assert_int_equal(e.n_accepted, 1);
	assert_non_null(dirclient_consensus(e.dc, um_wall_s(), NULL, NULL));
	dirclient_io_free(io);
	dirclient_free(e.dc);

	/* umbra dir pin URL: the three identities are stored (already pinned by config: new). */
	assert_int_equal(dirclient_pin_url(e.loop, st, url, 5000, io_pinned, &e), UM_OK);
	ev_timer_start(e.watchdog, 10000, 0);
	assert_int_equal(ev_loop_run(e.loop), UM_OK);
	assert_false(e.timed_out);
	assert_int_equal(pin_rep.err, UM_OK);
	assert_int_equal(pin_rep.n, 3);
	assert_int_equal(pin_rep.n_new, 3);
	assert_memory_equal(pin_rep.ids[2], A[2].pk, 32);
	assert_non_null(strstr(pin_rep.message, "pinned 3 authorities from http://127.0.0.1:"));
	cfg.n_pins = 0; /* strict, pins from the store */
	assert_int_equal(dirclient_new(&cfg, um_wall_s(), &e.dc, why, sizeof(why)), UM_OK);
	assert_int_equal(status(e.dc, um_wall_s())->n_pins, 3);
	dirclient_free(e.dc);

	ev_timer_free(e.poll);
	ev_timer_free(e.watchdog);
	ev_http_free(e.http);
	ev_loop_free(e.loop);
	store_close(st);
	free(e.doc);
}

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	NOW = um_wall_s();
	VA = NOW - 600;
	for (size_t i = 0; i < N_AUTH; i++) {
		key_from_byte(&A[i], (uint8_t)(0x21 + i));
		key_from_byte(&S[i], (uint8_t)(0x31 + i));
		if (auth_cert_make(&C[i], &A[i], S[i].pk, NOW - 86400, NOW + 30 * 86400) != UM_OK)
			return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_AUTH; i++) {
		keys_ed25519_clear(&A[i]);
		keys_ed25519_clear(&S[i]);
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dirclient_threshold_2_of_3_accepted_1_refused),
		cmocka_unit_test(test_dirclient_thin_consensus_refetched_soon),
		cmocka_unit_test(test_dirclient_altered_byte_rejected_cache_kept),
		cmocka_unit_test(test_dirclient_expired_and_future_rejected),
		cmocka_unit_test(test_dirclient_foreign_keys_refused),
		cmocka_unit_test(test_dirclient_cache_reopen_then_expiry),
		cmocka_unit_test(test_dirclient_304),
		cmocka_unit_test(test_dirclient_diff),
		cmocka_unit_test(test_dirclient_bootstrap_404),
		cmocka_unit_test(test_dirclient_authorities_parse_strict),
		cmocka_unit_test(test_dirclient_tofu_pins_then_refuses_other_keys),
		cmocka_unit_test(test_dirclient_min_sources),
		cmocka_unit_test(test_dirclient_io_etag_and_304),
	};

	return cmocka_run_group_tests_name("dirclient", tests, setup, teardown);
}
