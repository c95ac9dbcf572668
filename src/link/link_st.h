/* SPDX-License-Identifier: MIT */
/* Layouts of the link layer's objects: only src/link/ and its tests include this. */
#ifndef UM_LINK_LINK_ST_H
#define UM_LINK_LINK_ST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/list.h"
#include "lib/log.h"
#include "crypto/hash.h"
#include "link/link.h"
#include "link/record.h"

enum link_state {
	LS_CONNECTING = 0,
	LS_HANDSHAKE,
	LS_OPEN,
	LS_CLOSING, /* LINK_CLOSE sent or received: flushing, then FIN */
	LS_DEAD,    /* unlinked, waiting to be freed */
};

enum link_limits {
	LINK_HS_INBUF_MAX = 4096,
	LINK_CLOSE_GRACE_MS = 5000, /* how long a closing link waits for the peer's FIN */
	/* ... and a link that only answered a puzzle challenge: the 19 bytes go out at once, and
	 * a peer that never solves must not hold a link slot for long. */
	LINK_CHALLENGE_LINGER_MS = 1000,
	LINK_TICK_MS = 1000,   /* at most; shorter for short keepalives and timeouts */
	LINK_TICK_MIN_MS = 10, /* at least */
	LINK_SILENCE_FACTOR = 3,
	LINK_BACKOFF_MAX_MS = 600000,
	LINK_PUZZLE_MAX_TRIES = 2,               /* challenges one outbound link answers */
	LINK_PUZZLE_STEP_TRIES = 1 << 14,        /* hashes per loop iteration, all links together */
	LINK_PUZZLE_FIRST_MAX = LINK_HS_OUT_MAX, /* a first flight with a solution */
};

/* An outbound link solving the puzzle its responder asked (PROTOCOL.md 2.2). */
struct link_puzzle {
	bool solving; /* the solver runs (from the manager's defer); the link has no socket */
	uint8_t tries;
	uint64_t start_ns;
	struct puzzle_solver solver;
	uint8_t seed[PUZZLE_SEED_LEN];
	uint8_t first[LINK_PUZZLE_FIRST_MAX]; /* the first flight to send once connected */
	size_t first_len;
};

struct link_test {
	struct link_test_info info;
	struct hash_sha256_ctx sha;
	bool hash;
	uint64_t rng; /* xorshift state for the payload */
};

struct link_peer;

struct link {
	struct list_node node; /* in mgr->links or mgr->dead */
	struct link_mgr *mgr;
	struct ev_tcp *tcp;
	struct link_peer *peer; /* persistent peer this link serves, or NULL */
	uint64_t id;
	enum link_state state;
	bool inbound;
	bool closed_notified;
	bool admitted; /* admit() said yes and admit_done() is still owed */
	int close_reason;
	struct sockaddr_storage addr;
	char addr_str[EV_ADDR_STRLEN];
	uint64_t start_ms;
	uint64_t start_ns;
	uint64_t open_ms;
	uint64_t handshake_us;
	uint64_t last_rx_ms;
	uint64_t last_tx_ms;
	uint64_t last_active_ms; /* last cell other than PADDING in either direction */
	uint64_t close_deadline_ms;
	struct link_hs hs;
	struct buf hs_in;
	struct link_rec rec;
	uint8_t carry[LINK_RECORD_LEN]; /* a partial record between reads */
	size_t carry_len;
	bool read_paused; /* by backpressure */
	uint64_t cells_tx, cells_rx;
	struct link_test test_tx, test_rx;
	struct link_puzzle pz;
};

struct link_peer {
	struct list_node node;
	uint8_t id[LINK_ID_LEN];
	uint8_t key[X25519_KEY_LEN];
	char addr[EV_ADDR_STRLEN];
	struct link *link;
	uint64_t next_attempt_ms;
	uint64_t backoff_ms;
};

struct link_listener {
	struct list_node node;
	struct ev_listener *l;
};

struct link_mgr {
	struct ev_loop *loop;
	const struct link_identity *me;
	struct link_mgr_config cfg;
	struct link_callbacks cb;
	struct list_node links;
	struct list_node dead;
	struct list_node peers;
	struct list_node listeners;
	struct ev_timer *tick;
	struct ev_timer *reap;
	struct ev_defer *pump;    /* resumes link tests that used up their budget */
	struct ev_defer *solve;   /* runs the puzzle solvers of outbound links */
	struct puzzle_gate *gate; /* seeds and replay cache of the puzzles we ask */
	uint64_t next_id;
	bool shutting_down;
	struct link_cert_cache cert_cache;
	struct link_mgr_stats st;
	struct log_ratelim rl_refused;
	struct log_ratelim rl_handshake;
	struct log_ratelim rl_auth;
	struct log_ratelim rl_protocol;
	struct log_ratelim rl_test; /* a peer can end a test per record it sends */
};

/* Internal API between link_io.c and mgr_io.c. */
struct link *link_new_(struct link_mgr *m, struct ev_tcp *tcp, bool inbound,
                       const struct sockaddr_storage *addr);
void link_start_inbound_(struct link *l);
int link_start_outbound_(struct link *l, uint8_t pattern, const uint8_t *expected_id,
                         const uint8_t rs[X25519_KEY_LEN], const struct sockaddr_storage *sa);
void link_tick_(struct link *l, uint64_t now_ms);
void link_free_(struct link *l);
void link_kill_(struct link *l, int reason);
void link_fill_info_(const struct link *l, uint64_t now_ms, struct link_info *info);
void link_test_pump_(struct link *l);
/* Run l's puzzle solver for at most budget hashes; returns the hashes used (0: not solving).
 * Once solved, the link redials with the solution. */
uint64_t link_puzzle_step_(struct link *l, uint64_t budget);
void mgr_link_closed_(struct link_mgr *m, struct link *l);
void mgr_link_opened_(struct link_mgr *m, struct link *l);
/* The admitted handshake of l is over: tell whoever admitted it, once. */
void mgr_admit_done_(struct link_mgr *m, struct link *l);
bool mgr_is_known_peer_(const struct link_mgr *m, const uint8_t id[LINK_ID_LEN],
                        const uint8_t key[X25519_KEY_LEN]);

#endif /* UM_LINK_LINK_ST_H */
