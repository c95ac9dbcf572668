/* SPDX-License-Identifier: MIT */
/*
 * The control API: HTTP + JSON on a Unix socket (mode 0600, in the state directory), served
 * by the event loop (evloop/http.h). Endpoints (docs/CONTROL.md):
 *
 *   GET  /v1/status       node id, nickname, roles, version, uptime, listeners, link counters,
 *                         every link, entry abuse control and the exit's token counters
 *   GET  /v1/links        every link
 *   POST /v1/links/test   {"peer": "<node-id>", "bytes": N, "hash": true}: bulk-test a link
 *   POST /v1/reload       re-read the configuration (as SIGHUP); 200, or 422 with the reason
 *   GET  /v1/dir/status   the directory client: consensus age, signatures per pinned
 *                         authority, sources and their errors (dirclient_status()), the
 *                         consensus's issuer key lists (identity, size, seq, keys); on a
 *                         directory, its federation peers (dirfed_status())
 *   GET  /v1/relays       the relays of the current consensus (dirserv_relays_json())
 *   GET  /v1/circuits     the client's circuits (id, state, hops, build time, age) and the
 *                         circuits this relay carries, by position
 *
 * control_handle() is the whole request logic, pure apart from the link manager it reads, so
 * it is fuzzed without sockets. Errors are JSON {"error": "..."} with a 4xx status.
 */
#ifndef UM_CONTROL_CONTROL_H
#define UM_CONTROL_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "evloop/http.h"
#include "link/link.h"
#include "directory/dirclient.h"
#include "directory/dirfed.h"
#include "trust/abuse.h"
#include "trust/issuer.h"
#include "trust/issuer_keys.h"
#include "trust/tokens_io.h"
#include "trust/token_verifier.h"
#include "circuit/circuit_io.h"

enum control_limits {
	CONTROL_MAX_BODY = 64 * 1024,
	CONTROL_MAX_RESPONSE = 16 * 1024 * 1024,
};

/*
 * What the daemon exposes. control_new() copies the strings (nickname); every other pointer
 * is borrowed and must outlive the control server.
 */
struct control_ctx {
	const uint8_t *node_id; /* 32 bytes */
	const char *nickname;
	unsigned roles; /* enum config_role bits */
	const char *version;
	uint64_t start_ms; /* monotonic time the daemon started */
	struct link_mgr *links;
	const char *const *listen; /* bound listen addresses, NULL-terminated (may be NULL) */
	/* The directory client, read through the daemon's slot (it may replace the client on
	 * reload); NULL, or *dir NULL: no [directory] authorities configured (404). */
	struct dirclient *const *dir;
	/* The directory role's federation core (GET /v1/dir/status "federation"), read through
	 * the daemon's slot; NULL, or *fed NULL: "federation": null. */
	struct dirfed *const *fed;
	/* The circuit layer, read through the daemon's slot; NULL or *circ NULL: no relay or
	 * client role (GET /v1/circuits answers 404). */
	struct circ_io *const *circ;
	/* Entry abuse control (relay roles), read through the daemon's slot; NULL or *abuse
	 * NULL: "abuse": null in GET /v1/status. */
	struct abuse *const *abuse;
	/* The exit's token verifier, read through the daemon's slot; NULL or *tokens NULL:
	 * "tokens": null in GET /v1/status. */
	struct token_verifier *const *tokens;
	/* The issuer role's core and admin token, read through the daemon's slots; NULL or
	 * *issuer NULL: /v1/issuer/... answers 404. */
	struct issuer *const *issuer;
	const char *issuer_token;
	struct issuer_keyring *const *issuer_keys; /* its token keys (/v1/issuer/keys...) */
	struct issuer_creds *const *issuer_creds;  /* subjects' keys (/v1/issuer/credentials/ID) */
	/* The issuer's issuance puzzle counters (GET /v1/status "puzzles"); may be NULL. */
	const struct issuer_puzzle_stats *issuer_puzzles;
	/* The client's tier tokens (GET /v1/tokens, POST /v1/tokens/fetch); NULL: 404. */
	struct tokens_io *wallet;
	/* POST /v1/reload; may be NULL. Returns UM_OK, or an error with the reason in why. */
	int (*reload)(void *arg, char *why, size_t why_len);
	void *arg;
};

struct control;

/* Serve the API on a new Unix socket at path (mode 0600). ctx is copied. */
int control_new(struct ev_loop *loop, const char *path, const struct control_ctx *ctx,
                struct control **out) UM_WARN_UNUSED;
void control_free_(struct control *c);
#define control_free(c) UM_FREE_AND_NULL(control_free_, c)

/* Handle one request (method, target = path with an optional "?query", body) into resp;
 * never fails, never crashes. */
void control_handle(const struct control_ctx *ctx, const char *method, const char *target,
                    const uint8_t *body, size_t body_len, struct ev_http_resp *resp);

/*
 * The client side, for the CLI: send one request over the Unix socket at path and wait up
 * to timeout_ms. On UM_OK *status is the HTTP status and *body a NUL-terminated malloc'd
 * response body (caller frees). UM_ERR_SYS if the daemon is not reachable (errno kept),
 * UM_ERR_MALFORMED for a response that is not HTTP, UM_ERR_TIMEOUT.
 */
int control_request(const char *path, const char *method, const char *url, const char *body,
                    int timeout_ms, int *status, char **resp_body) UM_WARN_UNUSED;
/*
 * Parse a whole HTTP/1.x response (pure; fuzzed): status code (100-599) and body offset. The
 * body is everything after the headers: exactly Content-Length bytes when that header is
 * present, else up to the end of in. UM_ERR_TRUNCATED while bytes are missing (every strict
 * prefix of a response with a Content-Length), UM_ERR_TRAILING for bytes past Content-Length,
 * UM_ERR_TOO_LARGE for a Content-Length over CONTROL_MAX_RESPONSE, UM_ERR_MALFORMED otherwise.
 */
int control_response_parse(const uint8_t *in, size_t len, int *status,
                           size_t *body_off) UM_WARN_UNUSED;

#endif /* UM_CONTROL_CONTROL_H */
