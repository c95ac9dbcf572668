/* SPDX-License-Identifier: MIT */
/*
 * Idle circuits through one real relay (issue #4: relay memory per idle circuit). Opens an
 * anonymous NK link to a running umbra relay daemon, as a client reaching its entry does, and
 * builds n one-hop circuits through it with real CREATE2 / ntor v1 (circ_client_build), at
 * most in_flight waiting for their CREATED2 at once. When every build has answered it prints
 * one JSON line
 *
 *   {"circuits":N,"built":B,"failed":F,"seconds":S,"creates_per_s":R}
 *
 * and keeps the link and every circuit open (idle) until SIGINT / SIGTERM or hold_s seconds,
 * so a script can sample the relay's RSS meanwhile (bench/relay_mem.sh). Exit status 0 when
 * every circuit was built and none closed while held.
 *
 * With PEER2 and ONION_KEY_FILE2 the circuits have two hops: the first relay extends each one
 * (EXTEND2, with the second relay's link key as a client sends it) to the second relay, which
 * needs no consensus on either relay (tests/integration/test_extend_link_key.sh).
 *
 * usage: bench_relay_circuits PEER ONION_KEY_FILE N [IN_FLIGHT [HOLD_S [PEER2 ONION_KEY_FILE2]]]
 *   PEER            the relay as `umbra whoami --peer` prints it: <node-id>/<link-key>@host:port
 *   ONION_KEY_FILE  the relay's onion key file (<state_dir>/onion.key; only its public half
 *                   is used, as a client would take it from the consensus)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "config/config.h"
#include "link/link.h"
#include "circuit/circuit.h"

enum {
	DEFAULT_IN_FLIGHT = 256,
	DEFAULT_HOLD_S = 600,
	BUILD_DEADLINE_S = 900, /* give up if the builds have not all answered by then */
	CERT_LIFETIME_S = 86400,
};

struct bench {
	struct ev_loop *loop;
	struct link_mgr *links;
	struct circ_core *core;
	struct link *link; /* the link to the relay, once open */
	struct relay_entry relay;
	struct relay_entry relay2; /* the second hop, if n_hops is 2 */
	size_t n_hops;
	struct ev_timer *deadline;
	struct ev_signal *sigint, *sigterm;
	uint64_t n_target, n_started, n_built, n_failed, n_closed;
	uint64_t in_flight_max;
	uint64_t hold_s;
	uint64_t start_ns, done_ns;
	bool blocked;  /* the link's write queue is over its bound */
	bool done;     /* every build answered */
	bool stopping; /* tearing down: link closes are expected */
	int status;
};

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_relay_circuits: %s: %s\n", what, um_err_str(err));
	exit(1);
}

static struct circ_link *
as_circ_link(struct link *l)
{
	return (struct circ_link *)l;
}

static void
finish_builds(struct bench *b)
{
	double secs;

	b->done = true;
	b->done_ns = um_mono_ns();
	secs = (double)(b->done_ns - b->start_ns) / 1e9;
	printf("{\"circuits\":%llu,\"built\":%llu,\"failed\":%llu,\"seconds\":%.3f,"
	       "\"creates_per_s\":%.0f}\n",
	       (unsigned long long)b->n_target, (unsigned long long)b->n_built,
	       (unsigned long long)b->n_failed, secs, secs > 0 ? (double)b->n_built / secs : 0.0);
	fflush(stdout);
	if (b->n_built != b->n_target)
		b->status = 1;
	/* Hold the circuits open (idle) from now on. */
	ev_timer_start(b->deadline, b->hold_s * 1000, 0);
}

/* Start builds until in_flight_max wait for an answer, the link blocks, or all started. */
static void
pump(struct bench *b)
{
	const struct relay_entry *path[2] = { &b->relay, &b->relay2 };
	uint64_t now = um_mono_ms();
	int ret;

	while (!b->done && b->link != NULL && !b->blocked && b->n_started < b->n_target &&
	       b->n_started - b->n_built - b->n_failed < b->in_flight_max) {
		if ((ret = circ_client_build(b->core, as_circ_link(b->link), path, b->n_hops, NULL,
		                             now, NULL)) != UM_OK)
			die("circ_client_build", ret);
		b->n_started++;
	}
	if (!b->done && b->n_built + b->n_failed == b->n_target)
		finish_builds(b);
}

/* ---- the core's callbacks ---- */

static int
op_send_cell(void *arg, struct circ_link *cl, const struct cell *c)
{
	struct bench *b = arg;
	struct link *l = (struct link *)cl;
	int ret = link_send_cell(l, c);

	if (ret == UM_OK && link_is_blocked(l)) {
		b->blocked = true;
		circ_core_link_blocked(b->core, cl, true, um_mono_ms());
	}
	return ret;
}

static void
op_on_event(void *arg, const struct circ_event *ev)
{
	struct bench *b = arg;

	switch (ev->type) {
	case CIRC_EV_BUILT:
		b->n_built++;
		break;
	case CIRC_EV_FAILED:
		b->n_failed++;
		if (b->n_failed <= 10)
			fprintf(stderr, "bench_relay_circuits: a build failed: %s%s\n",
			        circ_destroy_reason_str(ev->reason),
			        ev->remote ? " (from the relay)" : "");
		break;
	case CIRC_EV_CLOSED:
		b->n_closed++;
		break;
	default:
		break;
	}
}

/* ---- the link manager's callbacks ---- */

static void
on_open(void *arg, struct link *l)
{
	struct bench *b = arg;
	int ret;

	if ((ret = circ_core_link_add(b->core, as_circ_link(l), true, NULL, um_mono_ms())) != UM_OK)
		die("circ_core_link_add", ret);
	b->link = l;
	b->start_ns = um_mono_ns();
	pump(b);
}

static void
on_cell(void *arg, struct link *l, const struct cell *c)
{
	struct bench *b = arg;

	circ_core_cell_in(b->core, as_circ_link(l), c, um_mono_ms());
	pump(b);
}

static void
on_close(void *arg, struct link *l, int reason)
{
	struct bench *b = arg;

	if (b->stopping)
		return;
	fprintf(stderr, "bench_relay_circuits: link closed: %s\n", link_close_reason_str(reason));
	if (l == b->link) {
		b->link = NULL;
		circ_core_link_closed(b->core, as_circ_link(l), um_mono_ms());
	}
	if (!b->done)
		finish_builds(b);
	b->status = 1;
	ev_loop_stop(b->loop);
}

static void
on_drain(void *arg, struct link *l)
{
	struct bench *b = arg;

	if (l != b->link)
		return;
	b->blocked = false;
	circ_core_link_blocked(b->core, as_circ_link(l), false, um_mono_ms());
	pump(b);
}

/* ---- loop ---- */

static void
on_deadline(void *arg)
{
	struct bench *b = arg;

	if (!b->done) {
		fprintf(stderr, "bench_relay_circuits: builds still unanswered after %d s\n",
		        BUILD_DEADLINE_S);
		finish_builds(b);
		b->status = 1;
	}
	ev_loop_stop(b->loop);
}

static void
on_signal(void *arg, int signum)
{
	struct bench *b = arg;

	(void)signum;
	if (!b->done)
		b->status = 1;
	ev_loop_stop(b->loop);
}

/*
 * Fill e's identity, link key, onion key (public half of the key file) and, when with_addr,
 * its one address (an EXTEND2 needs it) from a PEER spec. Exit on error.
 */
static void
load_relay(struct relay_entry *e, const char *peer, const char *onion_file, bool with_addr,
           char *hostport, size_t hostport_len)
{
	struct keys_x25519 onion;
	struct sockaddr_storage ss;
	socklen_t sl;
	char why[256];
	int ret;

	memset(e, 0, sizeof(*e));
	if ((ret = config_peer_parse(peer, e->identity, e->link_key, hostport, hostport_len)) !=
	    UM_OK)
		die("PEER (expected <node-id>/<link-key>@host:port)", ret);
	if ((ret = keys_x25519_load(onion_file, &onion, why, sizeof(why))) != UM_OK) {
		fprintf(stderr, "bench_relay_circuits: %s\n", why);
		exit(1);
	}
	memcpy(e->onion_key, onion.pk, sizeof(e->onion_key));
	keys_x25519_clear(&onion);
	if (!with_addr)
		return;
	if ((ret = ev_addr_parse(hostport, &ss, &sl)) != UM_OK)
		die("PEER2 address", ret);
	e->n_addrs = 1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		e->addrs[0].type = RELAY_ADDR_IPV4;
		memcpy(e->addrs[0].addr, &in->sin_addr, 4);
		e->addrs[0].port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		e->addrs[0].type = RELAY_ADDR_IPV6;
		memcpy(e->addrs[0].addr, &in6->sin6_addr, 16);
		e->addrs[0].port = ntohs(in6->sin6_port);
	}
}

static uint64_t
parse_count(const char *s, const char *what)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > UINT32_MAX / 2) {
		fprintf(stderr, "bench_relay_circuits: bad %s \"%s\"\n", what, s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct keys_ed25519 me_id;
	struct keys_x25519 me_lk;
	struct link_identity me;
	struct link_mgr_config lc;
	struct link_callbacks cb = {
		.on_open = on_open, .on_cell = on_cell, .on_close = on_close, .on_drain = on_drain
	};
	struct circ_config cc;
	struct circ_ops ops = { .send_cell = op_send_cell, .on_event = op_on_event };
	struct circ_core_stats st;
	char hostport[CONFIG_HOSTPORT_MAX], hostport2[CONFIG_HOSTPORT_MAX];
	int ret;

	if (argc < 4 || argc > 8 || argc == 7) {
		fprintf(stderr, "usage: bench_relay_circuits PEER ONION_KEY_FILE N "
		                "[IN_FLIGHT [HOLD_S [PEER2 ONION_KEY_FILE2]]]\n");
		return 2;
	}
	if ((ret = um_crypto_init()) != UM_OK)
		die("crypto init", ret);
	memset(&b, 0, sizeof(b));
	b.n_target = parse_count(argv[3], "N");
	b.in_flight_max = argc > 4 ? parse_count(argv[4], "IN_FLIGHT") : DEFAULT_IN_FLIGHT;
	b.hold_s = argc > 5 ? parse_count(argv[5], "HOLD_S") : DEFAULT_HOLD_S;

	/* The first hop: its identity and onion key are all CREATE2 needs. The second, if any,
	 * also needs an address for the EXTEND2. */
	load_relay(&b.relay, argv[1], argv[2], false, hostport, sizeof(hostport));
	b.n_hops = 1;
	if (argc == 8) {
		load_relay(&b.relay2, argv[6], argv[7], true, hostport2, sizeof(hostport2));
		b.n_hops = 2;
	}

	/* A throwaway identity: the link is NK, so the relay never learns it. */
	keys_ed25519_generate(&me_id);
	keys_x25519_generate(&me_lk);
	link_identity_init(&me, &me_id, &me_lk, um_wall_s() + CERT_LIFETIME_S);

	b.loop = ev_loop_new();
	memset(&lc, 0, sizeof(lc));
	lc.max_links = 4;
	lc.max_pending = 4;
	lc.max_pending_per_ip = 4;
	lc.handshake_timeout_ms = 10000;
	lc.keepalive_ms = 30000;
	lc.idle_timeout_ms = 24ull * 3600 * 1000;
	lc.reconnect_ms = 5000;
	lc.write_queue_max = 1 << 20;
	lc.accept = LINK_ACCEPT_XK;
	cb.arg = &b;
	b.links = link_mgr_new(b.loop, &me, &lc, &cb);

	circ_config_default(&cc);
	cc.max_circuits = (uint32_t)(b.n_target + b.in_flight_max + 16);
	ops.arg = &b;
	b.core = circ_core_new(&cc, &ops, NULL);

	if ((ret = link_mgr_connect(b.links, LINK_PATTERN_NK, b.relay.identity, b.relay.link_key,
	                            hostport, NULL)) != UM_OK)
		die("link_mgr_connect", ret);
	b.deadline = ev_timer_new(b.loop, on_deadline, &b);
	ev_timer_start(b.deadline, BUILD_DEADLINE_S * 1000ull, 0);
	b.sigint = ev_signal_new(b.loop, SIGINT, on_signal, &b);
	b.sigterm = ev_signal_new(b.loop, SIGTERM, on_signal, &b);

	/* Run the builds, then hold the circuits until a signal, hold_s or a lost link. */
	if ((ret = ev_loop_run(b.loop)) != UM_OK)
		die("ev_loop_run", ret);

	circ_core_stats(b.core, &st);
	fprintf(stderr,
	        "bench_relay_circuits: built %llu, failed %llu, closed while held %llu, "
	        "open at exit %zu\n",
	        (unsigned long long)b.n_built, (unsigned long long)b.n_failed,
	        (unsigned long long)b.n_closed, st.circuits);
	if (b.n_closed > 0)
		b.status = 1;

	b.stopping = true;
	ev_timer_free(b.deadline);
	ev_signal_free(b.sigint);
	ev_signal_free(b.sigterm);
	circ_core_free(b.core);
	link_mgr_free(b.links);
	ev_loop_free(b.loop);
	keys_ed25519_clear(&me_id);
	keys_x25519_clear(&me_lk);
	return b.status;
}
