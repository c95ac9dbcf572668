/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the control API's request logic and the CLI's response parser. Input: the first byte
 * picks the method (GET, POST, PUT, DELETE), the bytes up to a NUL are the path, the rest is
 * the body. control_handle() runs against a real link manager (no links, no sockets) on a
 * loop made once; every reply must carry a status in 200..599 and a JSON body. The whole input
 * also goes to control_response_parse(), whose answer must stay inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "config/config.h"
#include "control/control.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "link/handshake.h"
#include "link/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };

/* Made once: a loop that never runs, a node and its link manager. */
static struct ev_loop *loop;
static struct keys_ed25519 id;
static struct keys_x25519 lk;
static struct link_identity li;
static struct control_ctx ctx;
static const char *const listen_addrs[] = { "127.0.0.1:9001", NULL };
static unsigned n_reloads;

static int
on_reload(void *arg, char *why, size_t why_len)
{
	(void)arg;
	(void)why;
	(void)why_len;
	n_reloads++;
	return UM_OK;
}

static void
init_once(void)
{
	struct link_mgr_config cfg = {
		.max_links = 16,
		.max_pending = 16,
		.max_pending_per_ip = 4,
		.handshake_timeout_ms = 10000,
		.keepalive_ms = 60000,
		.idle_timeout_ms = 180000,
		.reconnect_ms = 5000,
		.write_queue_max = 1 << 20,
		.accept = LINK_ACCEPT_XK | LINK_ACCEPT_NK,
	};

	if (loop != NULL)
		return;
	if (um_crypto_init() != UM_OK)
		abort();
	log_set_level(UM_LOG_ERR);
	loop = ev_loop_new();
	keys_ed25519_generate(&id);
	keys_x25519_generate(&lk);
	link_identity_init(&li, &id, &lk, um_wall_s() + 86400);
	ctx.node_id = id.pk;
	ctx.nickname = "fuzz";
	ctx.roles = ROLE_CLIENT | ROLE_MIDDLE;
	ctx.version = "0.0.0";
	ctx.start_ms = um_mono_ms();
	ctx.links = link_mgr_new(loop, &li, &cfg, NULL);
	ctx.listen = listen_addrs;
	ctx.reload = on_reload;
	ctx.arg = NULL;
}

static void
check_request(const uint8_t *data, size_t size)
{
	struct ev_http_resp resp = { .status = 500 };
	const uint8_t *nul;
	char *path;
	size_t path_len;
	json_error_t jerr;
	json_t *j;

	if (size == 0)
		return;
	nul = memchr(data + 1, '\0', size - 1);
	path_len = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
	path = um_xstrndup((const char *)data + 1, path_len);
	/* The body is a separate allocation so ASan sees any read past its end. */
	size_t body_len = nul != NULL ? size - 1 - path_len - 1 : 0;
	uint8_t *body = um_xmalloc(body_len + 1);

	if (body_len > 0)
		memcpy(body, nul + 1, body_len);
	control_handle(&ctx, methods[data[0] % 4], path, body, body_len, &resp);
	if (resp.status < 200 || resp.status > 599 || resp.body == NULL || resp.etag != NULL)
		abort();
	j = json_loadb((const char *)resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j))
		abort();
	/* Every error reply says why. */
	if (resp.status >= 400 && !json_is_string(json_object_get(j, "error")))
		abort();
	json_decref(j);
	free(resp.body);
	free(body);
	free(path);
}

static void
check_response_parse(const uint8_t *data, size_t size)
{
	size_t body_off = 0;
	int status = 0;
	int ret = control_response_parse(data, size, &status, &body_off);

	if (ret == UM_OK) {
		if (status < 100 || status > 599 || body_off < 16 || body_off > size)
			abort();
		/* A complete response stays complete; any strict prefix of its headers is not. */
		if (control_response_parse(data, body_off - 1, &status, &body_off) !=
		    UM_ERR_TRUNCATED)
			abort();
	} else if (status != 0 || body_off != 0) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	check_request(data, size);
	check_response_parse(data, size);
	return 0;
}
