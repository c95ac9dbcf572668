/* SPDX-License-Identifier: MIT */
/*
 * `umbra testnet up | status | down`: a complete local network on loopback, for trying umbra
 * and for tests. `up` writes keys and a configuration per node under DIR (authorities, relays
 * with entry / middle / exit roles spread over several operators and countries, a client),
 * starts one `umbra run` per node (its own session, output in DIR/<node>/umbra.log), records
 * them in DIR/testnet.json, then waits, showing progress, until the client holds a consensus
 * listing every relay as Running and has built a circuit through them (printed with its path).
 * `down` stops exactly the processes `up` started (a PID is signalled only while /proc says it
 * still runs this program with that node's configuration) and keeps DIR for the logs.
 */
#include "app/app.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "control/control.h"

enum {
	TN_MAX_AUTH = 9,
	TN_MAX_RELAYS = 64,
	TN_MAX_NODES =
	        TN_MAX_AUTH + 1 + TN_MAX_RELAYS + 1, /* authorities, issuer, relays, client */
	TN_NAME_MAX = 16,
	TN_POLL_MS = 200,
	TN_STOP_WAIT_MS = 10000,
	TN_CTL_TIMEOUT_MS = 2000,
};

struct tn_node {
	char name[TN_NAME_MAX];
	char role[16]; /* authority | relay | client */
	char conf[PATH_MAX];
	char sock[PATH_MAX];
	char log[PATH_MAX];
	char id[53];
	char url[64];             /* authorities: their directory URL */
	char socks[64], http[64]; /* the client: its SOCKS and HTTP CONNECT proxy addresses */
	pid_t pid;
};

struct tn {
	char dir[PATH_MAX - 64];
	size_t n;
	struct tn_node nodes[TN_MAX_NODES];
};

static const char *const countries[] = { "DE", "NL", "FR", "SE", "US", "CA", "JP" };
static const char *const regions[] = { "eu-central", "eu-west", "eu-west",     "eu-north",
	                               "us-east",    "ca-east", "ap-northeast" };

static void
testnet_usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra testnet up [--relays N] [--authorities K] [--dir DIR]\n"
	        "                        [--vote-interval SECONDS] [--timeout SECONDS]\n"
	        "       umbra testnet status [--dir DIR] [--json]\n"
	        "       umbra testnet down [--dir DIR]\n\n"
	        "A whole umbra network on loopback: K directory authorities (default 3), N relays\n"
	        "(default 5: entry, middle and exit roles over several operators and countries)\n"
	        "and a client. `up` waits until the client holds a consensus listing every relay\n"
	        "as Running and has built a circuit (its path is printed); `down` stops only\n"
	        "what `up` started. DIR defaults to\n"
	        "/tmp/umbra-testnet-<uid>; each node's log is DIR/<node>/umbra.log.\n");
}

static void
default_dir(char *out, size_t len)
{
	snprintf(out, len, "/tmp/umbra-testnet-%u", (unsigned)getuid());
}

/* ---- state file ---- */

static char *
state_path(const struct tn *t)
{
	return um_xasprintf("%s/testnet.json", t->dir);
}

static int
state_save(const struct tn *t)
{
	json_t *arr = json_array(), *root;
	char *path = state_path(t), *tmp = um_xasprintf("%s.tmp", path);
	int ret = APP_OK;

	for (size_t i = 0; i < t->n; i++) {
		const struct tn_node *n = &t->nodes[i];

		json_array_append_new(
		        arr,
		        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "name",
		                  n->name, "role", n->role, "config", n->conf, "control", n->sock,
		                  "log", n->log, "id", n->id, "url", n->url, "pid",
		                  (json_int_t)n->pid, "socks", n->socks, "http_connect", n->http));
	}
	root = json_pack("{s:s, s:o}", "dir", t->dir, "nodes", arr);
	if (root == NULL || json_dump_file(root, tmp, JSON_INDENT(2)) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "umbra: cannot write %s: %s\n", path, strerror(errno));
		ret = APP_FAIL;
	}
	json_decref(root);
	free(tmp);
	free(path);
	return ret;
}

static int
state_load(struct tn *t, bool quiet)
{
	char *path = state_path(t);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *arr, *v;
	size_t i;

	if (root == NULL) {
		if (!quiet)
			fprintf(stderr, "umbra: no testnet in %s (%s)\n", t->dir, jerr.text);
		free(path);
		return APP_FAIL;
	}
	free(path);
	arr = json_object_get(root, "nodes");
	t->n = 0;
	json_array_foreach(arr, i, v)
	{
		struct tn_node *n;
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *role = json_string_value(json_object_get(v, "role"));
		const char *conf = json_string_value(json_object_get(v, "config"));
		const char *sock = json_string_value(json_object_get(v, "control"));
		const char *log = json_string_value(json_object_get(v, "log"));
		const char *id = json_string_value(json_object_get(v, "id"));
		const char *url = json_string_value(json_object_get(v, "url"));
		json_int_t pid = json_integer_value(json_object_get(v, "pid"));
		const char *socks = json_string_value(json_object_get(v, "socks"));
		const char *http = json_string_value(json_object_get(v, "http_connect"));

		if (t->n == TN_MAX_NODES || name == NULL || role == NULL || conf == NULL ||
		    sock == NULL || log == NULL || id == NULL || pid <= 1 || pid > INT_MAX)
			continue;
		n = &t->nodes[t->n++];
		snprintf(n->name, sizeof(n->name), "%s", name);
		snprintf(n->role, sizeof(n->role), "%s", role);
		snprintf(n->conf, sizeof(n->conf), "%s", conf);
		snprintf(n->sock, sizeof(n->sock), "%s", sock);
		snprintf(n->log, sizeof(n->log), "%s", log);
		snprintf(n->id, sizeof(n->id), "%s", id);
		snprintf(n->url, sizeof(n->url), "%s", url != NULL ? url : "");
		snprintf(n->socks, sizeof(n->socks), "%s", socks != NULL ? socks : "");
		snprintf(n->http, sizeof(n->http), "%s", http != NULL ? http : "");
		n->pid = (pid_t)pid;
	}
	json_decref(root);
	return APP_OK;
}

/*
 * Is n's process still the daemon we started? Its /proc cmdline must be "<exe> run -c
 * <conf>": a recycled PID is never signalled.
 */
static bool
node_alive(const struct tn_node *n)
{
	char path[64], buf[PATH_MAX * 2];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)n->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	/* argv[0] NUL "run" NUL "-c" NUL conf NUL */
	{
		const char *a1 = buf + strlen(buf) + 1;
		const char *a2, *a3;

		if (a1 >= buf + len || strcmp(a1, "run") != 0)
			return false;
		a2 = a1 + strlen(a1) + 1;
		if (a2 >= buf + len || strcmp(a2, "-c") != 0)
			return false;
		a3 = a2 + strlen(a2) + 1;
		return a3 < buf + len && strcmp(a3, n->conf) == 0;
	}
}

/* ---- generation ---- */

static int
free_port(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return APP_FAIL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return APP_FAIL;
	}
	close(fd);
	*port = ntohs(sin.sin_port);
	return APP_OK;
}

/* Make DIR/<name> (0700) with identity and link keys; fill n's paths and id. */
static int
node_init(struct tn *t, struct tn_node *n, const char *name, const char *role)
{
	uint8_t secret[32];
	struct keys_ed25519 id;
	char *sd, *p, why[256];
	bool made;
	int ret;

	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->role, sizeof(n->role), "%s", role);
	snprintf(n->conf, sizeof(n->conf), "%s/%s.conf", t->dir, name);
	snprintf(n->sock, sizeof(n->sock), "%s/%s/control.sock", t->dir, name);
	snprintf(n->log, sizeof(n->log), "%s/%s/umbra.log", t->dir, name);
	sd = um_xasprintf("%s/%s", t->dir, name);
	if (mkdir(sd, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "umbra: cannot create %s: %s\n", sd, strerror(errno));
		free(sd);
		return APP_FAIL;
	}
	p = um_xasprintf("%s/identity.key", sd);
	ret = app_keyfile_load(p, KEYFILE_ED25519, true, secret, &made, why, sizeof(why));
	free(p);
	if (ret == UM_OK) {
		keys_ed25519_from_seed(&id, secret);
		app_key_b32(id.pk, n->id);
		keys_ed25519_clear(&id);
		p = um_xasprintf("%s/link.key", sd);
		ret = app_keyfile_load(p, KEYFILE_X25519, true, secret, &made, why, sizeof(why));
		free(p);
	}
	um_memzero(secret, sizeof(secret));
	free(sd);
	if (ret != UM_OK) {
		fprintf(stderr, "umbra: %s\n", why);
		return APP_FAIL;
	}
	return APP_OK;
}

static int
write_conf(const struct tn_node *n, const char *body)
{
	FILE *f;
	int fd = open(n->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "umbra: cannot write %s: %s\n", n->conf, strerror(errno));
		if (fd >= 0)
			close(fd);
		return APP_FAIL;
	}
	fputs(body, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "umbra: cannot write %s: %s\n", n->conf, strerror(errno));
		return APP_FAIL;
	}
	return APP_OK;
}

/* Relay i of n: roles spread so a network of 3+ relays has guards, middles and exits. */
static const char *
relay_roles(size_t i, size_t n)
{
	size_t guards = (n + 2) / 3, exits = n >= 4 ? (n + 2) / 3 : 1;

	if (i < guards)
		return "entry,middle";
	if (i >= n - exits)
		return "exit";
	return "middle";
}

/*
 * The operator key of relay i of n (1-based): every entry / middle relay has its own, exits
 * share one per pair (operator dedup gets exercised), so a path keeps more than one middle to
 * choose from and losing one relay leaves working paths.
 */
static size_t
relay_operator(size_t i, size_t n)
{
	size_t exits = 0, first_exit;

	while (exits < n && strcmp(relay_roles(n - 1 - exits, n), "exit") == 0)
		exits++;
	first_exit = n - exits;
	return i < first_exit ? i + 1 : first_exit + (i - first_exit) / 2 + 1;
}

/*
 * The exit policy of relay i of n ("" for a relay without the exit role). Every exit rejects
 * port 2828 outright; the exits differ so stream placement is exercised (docs/PATHS.md 1.8):
 *   - the first exit alone accepts port 25 (SMTP) in its exit policy, and its tier policy
 *     (the default: tiers 0 and 1 reject port 25) leaves it to tier-2 circuits (17.6); the
 *     other exits reject port 25 for everyone;
 *   - the first exit alone accepts port 2525 (the others' summaries reject it);
 *   - the first exit rejects port 2626 on loopback while its summary (public addresses)
 *     still allows it: a stream there gets END(EXITPOLICY) and is retried on another exit;
 *   - every exit rejects port 2727 on loopback behind a summary that allows it: a stream
 *     there is refused by each exit in turn, then fails (SOCKS 02).
 */
static const char *
exit_policy_of(size_t i, size_t n)
{
	if (strcmp(relay_roles(i, n), "exit") != 0)
		return "";
	if (i == 0 || strcmp(relay_roles(i - 1, n), "exit") != 0)
		return "exit_policy = reject *:2828, reject 127.0.0.0/8:2626, "
		       "reject 127.0.0.0/8:2727, accept private:*, accept *:*\n";
	return "exit_policy = reject *:25, reject *:2525, reject *:2828, "
	       "reject 127.0.0.0/8:2727, accept private:*, accept *:*\n";
}

static int
generate(struct tn *t, size_t n_auth, size_t n_relays, unsigned vote_s)
{
	char auth_lines[TN_MAX_AUTH * 128] = "", issuer_line[160], exit_issuer[200];
	uint16_t ports[TN_MAX_AUTH], issuer_port;
	struct tn_node *issuer;
	size_t n_ops = n_relays > 0 ? relay_operator(n_relays - 1, n_relays) : 0;
	char *body;
	int ret;

	if (mkdir(t->dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "umbra: cannot create %s: %s\n", t->dir, strerror(errno));
		return APP_FAIL;
	}
	if (chmod(t->dir, 0700) != 0)
		return APP_FAIL;
	t->n = 0;
	for (size_t i = 0; i < n_auth; i++) {
		char name[TN_NAME_MAX];
		size_t o = strlen(auth_lines);

		snprintf(name, sizeof(name), "auth%u", (unsigned)(i + 1) % 1000);
		if (node_init(t, &t->nodes[t->n], name, "authority") != APP_OK ||
		    free_port(&ports[i]) != APP_OK)
			return APP_FAIL;
		snprintf(t->nodes[t->n].url, sizeof(t->nodes[t->n].url), "http://127.0.0.1:%u",
		         (unsigned)ports[i]);
		snprintf(auth_lines + o, sizeof(auth_lines) - o, "authorities = %s@%s\n",
		         t->nodes[t->n].id, t->nodes[t->n].url);
		t->n++;
	}
	/* An issuer of tier tokens (tiers 1..3), trusted by the exits and asked by the client. */
	issuer = &t->nodes[t->n];
	if (node_init(t, issuer, "issuer1", "issuer") != APP_OK ||
	    free_port(&issuer_port) != APP_OK)
		return APP_FAIL;
	snprintf(issuer->url, sizeof(issuer->url), "http://127.0.0.1:%u", (unsigned)issuer_port);
	snprintf(issuer_line, sizeof(issuer_line), "issuers = %s@%s\n", issuer->id, issuer->url);
	/* Exits refresh the issuer's documents every 2 s: a rotation shows within seconds. */
	snprintf(exit_issuer, sizeof(exit_issuer), "%sissuer_refresh = 2s\n", issuer_line);
	body = um_xasprintf("[node]\nstate_dir = %s/%s\nnickname = %s\nroles = issuer\n"
	                    "[log]\nlevel = info\n"
	                    "[issuer]\nlisten = 127.0.0.1:%u\ntiers = 3\nissue_rate = 1000\n"
	                    "issue_burst = 1000\n",
	                    t->dir, issuer->name, issuer->name, (unsigned)issuer_port);
	ret = write_conf(issuer, body);
	free(body);
	if (ret != APP_OK)
		return ret;
	t->n++;
	/* Operator keys, shared by pairs of relays (operator dedup gets exercised). */
	for (size_t j = 0; j < n_ops; j++) {
		char *p = um_xasprintf("%s/operator%zu.key", t->dir, j + 1), why[256];
		uint8_t secret[32];
		bool made;

		ret = app_keyfile_load(p, KEYFILE_ED25519, true, secret, &made, why, sizeof(why));
		um_memzero(secret, sizeof(secret));
		free(p);
		if (ret != UM_OK) {
			fprintf(stderr, "umbra: %s\n", why);
			return APP_FAIL;
		}
	}
	for (size_t i = 0; i < n_auth; i++) {
		struct tn_node *n = &t->nodes[i];

		body = um_xasprintf("[node]\nstate_dir = %s/%s\nnickname = %s\nroles = directory\n"
		                    "[link]\nlisten = 127.0.0.1:0\n[log]\nlevel = info\n"
		                    "[directory]\nlisten = 127.0.0.1:%u\nvote_interval = %us\n%s%s",
		                    t->dir, n->name, n->name, (unsigned)ports[i], vote_s,
		                    auth_lines, issuer_line);
		ret = write_conf(n, body);
		free(body);
		if (ret != APP_OK)
			return ret;
	}
	for (size_t i = 0; i < n_relays; i++) {
		struct tn_node *n = &t->nodes[t->n];
		const char *roles = relay_roles(i, n_relays);
		size_t c = i % UM_ARRAY_LEN(countries);
		char name[TN_NAME_MAX];

		snprintf(name, sizeof(name), "relay%u", (unsigned)(i + 1) % 1000);
		if (node_init(t, n, name, "relay") != APP_OK)
			return APP_FAIL;
		/* Each relay on its own loopback /16 (127.<i+1>.0.1), its links leaving from that
		 * address too: path selection keeps relays of one /16 off a path, as it would for
		 * one provider's network, and each relay's peers see it as a distinct host. */
		body = um_xasprintf(
		        "[node]\nstate_dir = %s/%s\nnickname = %s\nroles = %s\n"
		        "[link]\nlisten = 127.%u.0.1:0\noutbound_address = 127.%u.0.1\n"
		        "[log]\nlevel = info\n"
		        "[relay]\ncountry = %s\nregion = %s\ngeo_confidence = 90\n"
		        "bandwidth_rate = %u\noperator_key = %s/operator%zu.key\n%s%s"
		        "[directory]\nvote_interval = %us\n%s",
		        t->dir, name, name, roles, (unsigned)(i + 1), (unsigned)(i + 1),
		        countries[c], regions[c], (unsigned)(10 + i) * 1024 * 1024, t->dir,
		        relay_operator(i, n_relays), exit_policy_of(i, n_relays),
		        strcmp(roles, "exit") == 0 ? exit_issuer : "", vote_s, auth_lines);
		ret = write_conf(n, body);
		free(body);
		if (ret != APP_OK)
			return ret;
		t->n++;
	}
	{
		struct tn_node *n = &t->nodes[t->n];
		uint16_t sp, hp;

		if (node_init(t, n, "client", "client") != APP_OK || free_port(&sp) != APP_OK ||
		    free_port(&hp) != APP_OK)
			return APP_FAIL;
		snprintf(n->socks, sizeof(n->socks), "127.0.0.1:%u", (unsigned)sp);
		snprintf(n->http, sizeof(n->http), "127.0.0.1:%u", (unsigned)hp);
		/* The client's links leave from 127.0.0.2: a host of its own, apart from the
		 * authorities on 127.0.0.1, as what each relay sees is visible in a capture. */
		body = um_xasprintf(
		        "[node]\nstate_dir = %s/client\nnickname = client\nroles = client\n"
		        "[link]\noutbound_address = 127.0.0.2\n"
		        "[log]\nlevel = info\n"
		        "[client]\nsocks_listen = %s\nhttp_connect_listen = %s\n%ssubject = "
		        "client\n"
		        "[directory]\nvote_interval = %us\n%s",
		        t->dir, n->socks, n->http, issuer_line, vote_s, auth_lines);
		ret = write_conf(n, body);
		free(body);
		if (ret != APP_OK)
			return ret;
		t->n++;
	}
	return APP_OK;
}

/* ---- processes ---- */

static int
spawn(const char *exe, struct tn_node *n)
{
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "umbra: fork: %s\n", strerror(errno));
		return APP_FAIL;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int log = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 ||
		    dup2(log, 2) < 0)
			_exit(127);
		(void)setsid(); /* outlives this command; not killed by the terminal's ^C */
		execl(exe, exe, "run", "-c", n->conf, (char *)NULL);
		_exit(127);
	}
	n->pid = pid;
	return APP_OK;
}

/* SIGTERM every node of t still ours; wait; SIGKILL what is left. */
static int
stop_all(const struct tn *t, bool verbose)
{
	uint64_t deadline = um_mono_ns() / 1000000 + TN_STOP_WAIT_MS;
	size_t n_alive, n_killed = 0;

	for (size_t i = 0; i < t->n; i++)
		if (node_alive(&t->nodes[i]))
			(void)kill(t->nodes[i].pid, SIGTERM);
	do {
		n_alive = 0;
		for (size_t i = 0; i < t->n; i++) {
			(void)waitpid(t->nodes[i].pid, NULL, WNOHANG); /* reap our own children */
			n_alive += node_alive(&t->nodes[i]);
		}
		if (n_alive > 0)
			usleep(50000);
	} while (n_alive > 0 && um_mono_ns() / 1000000 < deadline);
	for (size_t i = 0; i < t->n; i++) {
		if (node_alive(&t->nodes[i])) {
			(void)kill(t->nodes[i].pid, SIGKILL);
			n_killed++;
		}
	}
	if (verbose)
		printf("stopped %zu nodes%s\n", t->n,
		       n_killed > 0 ? " (some did not exit on SIGTERM and were killed)" : "");
	return n_killed > 0 ? APP_FAIL : APP_OK;
}

/* GET url from node n's control socket, quietly; NULL if it does not answer 2xx. */
static json_t *
ctl_get(const struct tn_node *n, const char *url)
{
	char *resp = NULL;
	int status = 0;
	json_t *j;

	if (control_request(n->sock, "GET", url, NULL, TN_CTL_TIMEOUT_MS, &status, &resp) != UM_OK)
		return NULL;
	j = json_loads(resp, 0, NULL);
	free(resp);
	if (j != NULL && status / 100 != 2) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Relays the client's consensus lists as Running (-1: no consensus). */
static int
running_relays(const struct tn_node *client)
{
	json_t *j = ctl_get(client, "/v1/relays"), *arr, *r, *f;
	size_t i, k;
	int n = 0;

	if (j == NULL)
		return -1;
	arr = json_object_get(j, "relays");
	if (arr == NULL)
		arr = j;
	json_array_foreach(arr, i, r)
	{
		json_array_foreach(json_object_get(r, "flags"), k, f)
		{
			if (strcmp(json_string_value(f) ? json_string_value(f) : "", "Running") ==
			    0) {
				n++;
				break;
			}
		}
	}
	json_decref(j);
	return n;
}

/* The client's first built circuit as "a (DE) -> b (NL) -> c (US)" and its build time: true
 * when there is one. */
static bool
built_circuit(const struct tn_node *client, char *path, size_t len, long long *build_ms)
{
	json_t *j = ctl_get(client, "/v1/circuits"), *c, *h;
	size_t i, k, o;
	bool found = false;

	if (j == NULL)
		return false;
	json_array_foreach(json_object_get(j, "circuits"), i, c)
	{
		const char *st = json_string_value(json_object_get(c, "state"));

		if (st == NULL || strcmp(st, "built") != 0)
			continue;
		o = 0;
		path[0] = '\0';
		json_array_foreach(json_object_get(c, "hops"), k, h)
		{
			const char *nick = json_string_value(json_object_get(h, "nickname"));
			const char *cc = json_string_value(json_object_get(h, "country"));
			int n = snprintf(path + o, len - o, "%s%s (%s)", k > 0 ? " -> " : "",
			                 nick != NULL ? nick : "?", cc != NULL ? cc : "?");

			if (n < 0 || (size_t)n >= len - o)
				break;
			o += (size_t)n;
		}
		*build_ms = (long long)json_integer_value(json_object_get(c, "build_ms"));
		found = true;
		break;
	}
	json_decref(j);
	return found;
}

static void
print_log_tail(const struct tn_node *n)
{
	char line[512];
	FILE *f = fopen(n->log, "r");
	long size;

	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > 2000 ? size - 2000 : 0, SEEK_SET);
	fprintf(stderr, "---- %s (%s) ----\n", n->name, n->log);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fclose(f);
}

static int
up(struct tn *t, size_t n_auth, size_t n_relays, unsigned vote_s, unsigned timeout_s)
{
	char exe[PATH_MAX];
	ssize_t len;
	uint64_t t0 = um_mono_ns();
	const struct tn_node *client;
	char cpath[3 * 64];
	long long build_ms = 0;
	int have = -1;

	if (state_load(t, true) == APP_OK) {
		for (size_t i = 0; i < t->n; i++) {
			if (node_alive(&t->nodes[i])) {
				fprintf(stderr,
				        "umbra: a testnet is already running in %s: "
				        "umbra testnet down --dir %s\n",
				        t->dir, t->dir);
				return APP_FAIL;
			}
		}
	}
	if ((len = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0) {
		fprintf(stderr, "umbra: cannot find this program: %s\n", strerror(errno));
		return APP_FAIL;
	}
	exe[len] = '\0';
	if (generate(t, n_auth, n_relays, vote_s) != APP_OK)
		return APP_FAIL;
	for (size_t i = 0; i < t->n; i++) {
		if (spawn(exe, &t->nodes[i]) != APP_OK) {
			(void)stop_all(t, false);
			return APP_FAIL;
		}
	}
	if (state_save(t) != APP_OK) {
		(void)stop_all(t, false);
		return APP_FAIL;
	}
	client = &t->nodes[t->n - 1];
	fprintf(stderr, "started %zu authorities, an issuer, %zu relays and a client in %s\n",
	        n_auth, n_relays, t->dir);
	for (;;) {
		double el = (double)(um_mono_ns() - t0) / 1e9;

		for (size_t i = 0; i < t->n; i++) {
			int st;

			if (waitpid(t->nodes[i].pid, &st, WNOHANG) == t->nodes[i].pid) {
				fprintf(stderr, "\numbra: %s exited during start-up:\n",
				        t->nodes[i].name);
				print_log_tail(&t->nodes[i]);
				(void)stop_all(t, false);
				return APP_FAIL;
			}
		}
		have = running_relays(client);
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "\r[%5.1fs] %-60s", el,
			        have < 0 ? "waiting for the first consensus"
			                 : "consensus: waiting for every relay to be Running");
		if (have >= (int)n_relays)
			break;
		if (el > (double)timeout_s) {
			fprintf(stderr,
			        "\numbra: no consensus with all %zu relays Running after %us "
			        "(have %d); logs in %s/<node>/umbra.log; stopping\n",
			        n_relays, timeout_s, have, t->dir);
			(void)stop_all(t, false);
			return APP_FAIL;
		}
		usleep(TN_POLL_MS * 1000);
	}
	/* Then the client's first circuit through the relays. */
	for (;;) {
		double el = (double)(um_mono_ns() - t0) / 1e9;

		if (built_circuit(client, cpath, sizeof(cpath), &build_ms))
			break;
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "\r[%5.1fs] %-60s", el,
			        "consensus ready: waiting for the client's first circuit");
		if (el > (double)timeout_s) {
			fprintf(stderr,
			        "\numbra: the client built no circuit within %us; logs in "
			        "%s/<node>/umbra.log; stopping\n",
			        timeout_s, t->dir);
			(void)stop_all(t, false);
			return APP_FAIL;
		}
		usleep(TN_POLL_MS * 1000);
	}
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	printf("testnet up in %.1f s: %zu authorities, %zu relays (all Running), 1 client\n",
	       (double)(um_mono_ns() - t0) / 1e9, n_auth, n_relays);
	printf("  circuit:    %s (built in %lld ms)\n", cpath, build_ms);
	for (size_t i = 0; i < n_auth; i++)
		printf("  authority:  %-8s %s  id %s\n", t->nodes[i].name, t->nodes[i].url,
		       t->nodes[i].id);
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->nodes[i].role, "issuer") == 0)
			printf("  issuer:     %-8s %s  (umbra issuer -s %s ...)\n",
			       t->nodes[i].name, t->nodes[i].url, t->nodes[i].sock);
	}
	printf("  client:     umbra relays -s %s\n", client->sock);
	printf("  tokens:     umbra tokens fetch --tier 1 -s %s\n", client->sock);
	printf("  socks:      %s   (curl --socks5-hostname %s ...)\n", client->socks,
	       client->socks);
	printf("  http:       %s   (curl --proxy http://%s ...)\n", client->http, client->http);
	printf("  status:     umbra testnet status --dir %s\n", t->dir);
	printf("  stop:       umbra testnet down --dir %s\n", t->dir);
	return APP_OK;
}

static int
status(struct tn *t, bool as_json)
{
	json_t *arr = json_array();
	size_t alive = 0;
	int running;

	if (state_load(t, false) != APP_OK) {
		json_decref(arr);
		return APP_FAIL;
	}
	running = running_relays(&t->nodes[t->n - 1]);
	for (size_t i = 0; i < t->n; i++) {
		const struct tn_node *n = &t->nodes[i];
		bool a = node_alive(n);

		alive += a;
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:s, s:s}", "name", n->name,
		                      "role", n->role, "id", n->id, "url", n->url, "pid",
		                      (json_int_t)n->pid, "alive", a, "log", n->log, "control",
		                      n->sock);

		if (n->socks[0] != '\0')
			json_object_set_new(o, "socks", json_string(n->socks));
		if (n->http[0] != '\0')
			json_object_set_new(o, "http_connect", json_string(n->http));
		json_array_append_new(arr, o);
	}
	if (as_json) {
		json_t *root = json_pack("{s:s, s:o, s:i}", "dir", t->dir, "nodes", arr,
		                         "running_relays", running);

		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		size_t i;
		json_t *v;

		printf("testnet in %s: %zu of %zu nodes running; ", t->dir, alive, t->n);
		if (running < 0)
			printf("the client has no valid consensus\n");
		else
			printf("the client's consensus lists %d relays Running\n", running);
		json_array_foreach(arr, i, v)
		{
			printf("  %-8s %-9s %-7s pid %-7lld %.16s...\n",
			       json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "role")),
			       json_is_true(json_object_get(v, "alive")) ? "running" : "stopped",
			       (long long)json_integer_value(json_object_get(v, "pid")),
			       json_string_value(json_object_get(v, "id")));
			if (json_object_get(v, "socks") != NULL)
				printf("           socks %s, http connect %s\n",
				       json_string_value(json_object_get(v, "socks")),
				       json_string_value(json_object_get(v, "http_connect")));
		}
		json_decref(arr);
	}
	return alive == t->n ? APP_OK : APP_FAIL;
}

int
cmd_testnet(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "relays", required_argument, NULL, 'r' },
		{ "authorities", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "vote-interval", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct tn t; /* large: not on the stack */
	unsigned long relays = 5, auths = 3, vote_s = 5, timeout_s = 120;
	const char *sub;
	bool as_json = false;
	char *end;
	int o;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		testnet_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? APP_USAGE : APP_OK;
	}
	sub = argv[1];
	if (um_crypto_init() != UM_OK) {
		fprintf(stderr, "umbra: cannot initialise the crypto libraries\n");
		return APP_FAIL;
	}
	default_dir(t.dir, sizeof(t.dir));
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "r:a:d:v:t:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
		case 'a':
		case 'v':
		case 't': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "umbra: --%s wants a number\n",
				        o == 'r'   ? "relays"
				        : o == 'a' ? "authorities"
				                   : "...");
				return APP_USAGE;
			}
			*(o == 'r'   ? &relays
			  : o == 'a' ? &auths
			  : o == 'v' ? &vote_s
			             : &timeout_s) = v;
			break;
		}
		case 'd':
			if (strlen(optarg) >= sizeof(t.dir) || optarg[0] != '/') {
				fprintf(stderr, "umbra: --dir wants an absolute path\n");
				return APP_USAGE;
			}
			snprintf(t.dir, sizeof(t.dir), "%s", optarg);
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			testnet_usage(stdout);
			return APP_OK;
		default:
			testnet_usage(stderr);
			return APP_USAGE;
		}
	}
	if (relays < 3 || relays > TN_MAX_RELAYS || auths < 1 || auths > TN_MAX_AUTH ||
	    vote_s < 4 || vote_s > 3600 || timeout_s < 1) {
		fprintf(stderr,
		        "umbra: --relays 3..%d, --authorities 1..%d, --vote-interval "
		        "4..3600\n",
		        TN_MAX_RELAYS, TN_MAX_AUTH);
		return APP_USAGE;
	}
	if (strcmp(sub, "up") == 0)
		return up(&t, auths, relays, (unsigned)vote_s, (unsigned)timeout_s);
	if (strcmp(sub, "status") == 0)
		return status(&t, as_json);
	if (strcmp(sub, "down") == 0) {
		int ret;
		char *p;

		if (state_load(&t, false) != APP_OK)
			return APP_FAIL;
		ret = stop_all(&t, true);
		p = state_path(&t);
		if (ret == APP_OK)
			(void)unlink(p);
		free(p);
		return ret;
	}
	testnet_usage(stderr);
	return APP_USAGE;
}
