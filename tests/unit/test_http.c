/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the HTTP server (src/evloop/http.h) over a Unix socket in a mkdtemp
 * directory and over TCP on 127.0.0.1. The client is written here with plain blocking
 * sockets and runs in a thread while the loop runs in the test's thread; a timer polls for
 * the client to finish and stops the loop. Covered: GET with headers and query arguments
 * visible to the handler (and the path without the query), the ETag header, a 404 from the
 * handler, a POST body within the cap (and exactly at it), bodies over max_body (declared
 * and chunked) answered 413 without reaching the handler, two pipelined requests on one
 * keep-alive connection, and freeing the server from inside its handler.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "evloop/http.h"

enum {
	MAX_BODY = 1024,
	RESP_MAX = 64 * 1024,
	REQ_MAX = 16 * 1024,
	CLIENT_TIMEOUT_S = 10,
	POLL_MS = 2,
	WATCHDOG_MS = 20 * 1000,
};

/* ---- the blocking client (runs in its own thread) ---- */

struct client {
	pthread_t th;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char req[REQ_MAX];
	size_t req_len;
	char resp[RESP_MAX + 1];
	size_t resp_len;
	int err; /* errno of a failed connect/send, 0 if none */
	atomic_bool done;
};

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->err = errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&c->addr, c->addr_len) != 0) {
		c->err = errno;
		goto out_close;
	}
	while (off < c->req_len) {
		n = send(fd, c->req + off, c->req_len - off, MSG_NOSIGNAL);
		if (n <= 0) {
			/* The server may answer and hang up before reading everything. */
			c->err = errno;
			break;
		}
		off += (size_t)n;
	}
	/* Read the answer until the server closes (requests say Connection: close). */
	while (c->resp_len < RESP_MAX) {
		n = recv(fd, c->resp + c->resp_len, RESP_MAX - c->resp_len, 0);
		if (n <= 0)
			break;
		c->resp_len += (size_t)n;
	}
	c->resp[c->resp_len] = '\0';
out_close:
	close(fd);
out:
	atomic_store(&c->done, true);
	return NULL;
}

/* ---- the server side ---- */

struct srv {
	struct ev_loop *loop;
	struct ev_http *http;
	struct ev_timer *poll;
	struct ev_timer *watchdog;
	struct client *client;
	unsigned n_calls;
	char method[16];
	char path[128];
	char hdr[64];
	bool hdr_seen;
	char arg_name[64];
	bool arg_name_seen;
	bool arg_missing_null;
	char query[128];
	int query_small; /* ev_http_req_query() into 8 bytes */
	size_t body_len;
	uint8_t body[MAX_BODY];
	bool watchdog_fired;
};

static void
copy_str(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s);
}

static void
handler(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct srv *s = arg;
	const char *v;

	s->n_calls++;
	copy_str(s->method, sizeof(s->method), req->method);
	copy_str(s->path, sizeof(s->path), req->path);
	if ((v = ev_http_req_header(req, "x-umbra-test")) != NULL) {
		s->hdr_seen = true;
		copy_str(s->hdr, sizeof(s->hdr), v);
	}
	if ((v = ev_http_req_arg(req, "name")) != NULL) {
		s->arg_name_seen = true;
		copy_str(s->arg_name, sizeof(s->arg_name), v);
	}
	s->arg_missing_null = ev_http_req_arg(req, "missing") == NULL;
	assert_int_equal(ev_http_req_query(req, s->query, sizeof(s->query)), UM_OK);
	{
		char small[8];

		s->query_small = ev_http_req_query(req, small, sizeof(small));
	}
	assert_true(req->body_len <= MAX_BODY);
	s->body_len = req->body_len;
	if (req->body_len > 0)
		memcpy(s->body, req->body, req->body_len);

	/* Defaults: 500, application/json, no body. */
	assert_int_equal(resp->status, 500);
	assert_null(resp->body);
	assert_null(resp->etag);

	if (strcmp(req->path, "/v1/status") == 0) {
		ev_http_resp_set_text(resp, 200, NULL, "{\"ok\":true}");
		resp->etag = um_xstrdup("v1-abc123");
	} else if (strcmp(req->path, "/v1/echo") == 0) {
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp->body = um_xmalloc(req->body_len);
		if (req->body_len > 0)
			memcpy(resp->body, req->body, req->body_len);
		resp->body_len = req->body_len;
	} else if (strcmp(req->path, "/v1/die") == 0) {
		/* The server may be freed from inside its own handler. */
		ev_http_free(s->http);
		ev_http_resp_set_text(resp, 200, "text/plain", "never sent");
	} else {
		ev_http_resp_set_text(resp, 404, NULL, "{\"error\":\"not found\"}");
	}
}

static void
poll_cb(void *arg)
{
	struct srv *s = arg;

	if (atomic_load(&s->client->done))
		ev_loop_stop(s->loop);
}

static void
watchdog_cb(void *arg)
{
	struct srv *s = arg;

	s->watchdog_fired = true;
	ev_loop_stop(s->loop);
}

/* Run one client request against the server until the client is done. */
static void
exchange(struct srv *s, struct client *c)
{
	s->client = c;
	atomic_store(&c->done, false);
	assert_int_equal(pthread_create(&c->th, NULL, client_main, c), 0);
	ev_timer_start(s->poll, POLL_MS, POLL_MS);
	ev_timer_start(s->watchdog, WATCHDOG_MS, 0);
	assert_int_equal(ev_loop_run(s->loop), UM_OK);
	ev_timer_stop(s->poll);
	ev_timer_stop(s->watchdog);
	assert_int_equal(pthread_join(c->th, NULL), 0);
	assert_false(s->watchdog_fired);
}

static void
srv_start(struct srv *s, int listen_fd)
{
	memset(s, 0, sizeof(*s));
	s->loop = ev_loop_new();
	s->poll = ev_timer_new(s->loop, poll_cb, s);
	s->watchdog = ev_timer_new(s->loop, watchdog_cb, s);
	assert_int_equal(ev_http_new(s->loop, listen_fd, MAX_BODY, handler, s, &s->http), UM_OK);
	assert_non_null(s->http);
}

static void
srv_stop(struct srv *s)
{
	ev_http_free(s->http);
	ev_timer_free(s->poll);
	ev_timer_free(s->watchdog);
	ev_loop_free(s->loop);
}

/* A Unix-socket server in a fresh directory; *dir and *path are for cleanup. */
struct unix_env {
	char dir[64];
	char path[128];
	int fd;
};

static void
unix_env_init(struct unix_env *u, struct client *c)
{
	struct sockaddr_un sun;

	snprintf(u->dir, sizeof(u->dir), "/tmp/um-http-XXXXXX");
	assert_non_null(mkdtemp(u->dir));
	snprintf(u->path, sizeof(u->path), "%s/control.sock", u->dir);
	assert_int_equal(ev_unix_listen(u->path, 0600, &u->fd), UM_OK);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, u->path, strlen(u->path));
	memset(c, 0, sizeof(*c));
	memcpy(&c->addr, &sun, sizeof(sun));
	c->addr_len = sizeof(sun);
}

static void
unix_env_clear(struct unix_env *u)
{
	assert_int_equal(unlink(u->path), 0);
	assert_int_equal(rmdir(u->dir), 0);
}

static void set_request(struct client *c, const char *fmt, ...) UM_PRINTF(2, 3);

static void
set_request(struct client *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->req, sizeof(c->req), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(c->req));
	c->req_len = (size_t)n;
}

/* ---- response parsing ---- */

static int
resp_status(const struct client *c)
{
	int status = 0;

	if (sscanf(c->resp, "HTTP/1.%*d %d ", &status) != 1)
		return -1;
	return status;
}

/* The value of a response header (case-insensitive name) copied into out, or NULL. */
static const char *
resp_header(const struct client *c, const char *name, char *out, size_t cap)
{
	const char *p = strstr(c->resp, "\r\n");
	const char *end = strstr(c->resp, "\r\n\r\n");
	size_t nlen = strlen(name);

	while (p != NULL && end != NULL && p < end) {
		const char *line = p + 2;
		const char *eol = strstr(line, "\r\n");

		if (eol == NULL)
			break;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(eol - v), v);
			return out;
		}
		p = eol;
	}
	return NULL;
}

static const char *
resp_body(const struct client *c, size_t *len)
{
	const char *end = strstr(c->resp, "\r\n\r\n");

	if (end == NULL)
		return NULL;
	*len = c->resp_len - (size_t)(end + 4 - c->resp);
	return end + 4;
}

/* ---- tests ---- */

static const char get_status_req[] =
        "GET /v1/status?verbose=1&name=a%20b&flag&verbose=2 HTTP/1.1\r\n"
        "Host: x\r\n"
        "X-Umbra-Test: hello there\r\n"
        "Connection: close\r\n\r\n";

static void
check_status_response(const struct srv *s, const struct client *c)
{
	char v[128];
	const char *body;
	size_t len = 0;

	assert_int_equal(c->err, 0);
	assert_int_equal(resp_status(c), 200);
	assert_non_null(resp_header(c, "ETag", v, sizeof(v)));
	assert_string_equal(v, "\"v1-abc123\"");
	assert_non_null(resp_header(c, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	body = resp_body(c, &len);
	assert_non_null(body);
	assert_int_equal(len, strlen("{\"ok\":true}"));
	assert_memory_equal(body, "{\"ok\":true}", len);

	assert_int_equal(s->n_calls, 1);
	assert_string_equal(s->method, "GET");
	assert_string_equal(s->path, "/v1/status");
	assert_true(s->hdr_seen);
	assert_string_equal(s->hdr, "hello there");
	assert_true(s->arg_name_seen);
	assert_string_equal(s->arg_name, "a b");
	assert_true(s->arg_missing_null);
	/* The query rebuilt: order and duplicates kept, values re-encoded. */
	assert_string_equal(s->query, "verbose=1&name=a%20b&flag&verbose=2");
	assert_int_equal(s->query_small, UM_ERR_TOO_LARGE);
	assert_int_equal(s->body_len, 0);
}

static void
test_http_get_over_unix_socket(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;
	int fd;

	(void)state;
	unix_env_init(&u, &c);
	fd = u.fd;
	srv_start(&s, u.fd);
	set_request(&c, "%s", get_status_req);
	exchange(&s, &c);
	check_status_response(&s, &c);
	srv_stop(&s);
	/* The server owned the listening socket and closed it. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	unix_env_clear(&u);
}

static void
test_http_get_over_tcp(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct client c;
	struct srv s;
	int fd;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(ev_tcp_listen_fd((struct sockaddr *)&sin, 16, &fd), UM_OK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_not_equal(sin.sin_port, 0);
	memset(&c, 0, sizeof(c));
	memcpy(&c.addr, &sin, sizeof(sin));
	c.addr_len = sizeof(sin);

	srv_start(&s, fd);
	set_request(&c, "%s", get_status_req);
	exchange(&s, &c);
	check_status_response(&s, &c);
	srv_stop(&s);
}

static void
test_http_handler_404(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;
	const char *body;
	size_t len = 0;
	char v[64];

	(void)state;
	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	set_request(&c, "GET /v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	exchange(&s, &c);
	assert_int_equal(resp_status(&c), 404);
	assert_null(resp_header(&c, "ETag", v, sizeof(v)));
	body = resp_body(&c, &len);
	assert_non_null(body);
	assert_memory_equal(body, "{\"error\":\"not found\"}", len);
	assert_int_equal(s.n_calls, 1);
	assert_false(s.hdr_seen);
	assert_false(s.arg_name_seen);
	srv_stop(&s);
	unix_env_clear(&u);
}

static void
post_echo(size_t body_len, int want_status)
{
	struct unix_env u;
	struct client c;
	struct srv s;
	const char *body;
	size_t len = 0;
	int n;

	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	n = snprintf(c.req, sizeof(c.req),
	             "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
	             "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
	             body_len);
	assert_true(n > 0 && (size_t)n + body_len <= sizeof(c.req));
	for (size_t i = 0; i < body_len; i++)
		c.req[(size_t)n + i] = (char)('a' + i % 26);
	c.req_len = (size_t)n + body_len;
	exchange(&s, &c);

	assert_int_equal(resp_status(&c), want_status);
	body = resp_body(&c, &len);
	assert_non_null(body);
	if (want_status == 200) {
		assert_int_equal(s.n_calls, 1);
		assert_string_equal(s.method, "POST");
		assert_int_equal(s.body_len, body_len);
		assert_memory_equal(s.body, c.req + n, body_len);
		assert_int_equal(len, body_len);
		assert_memory_equal(body, c.req + n, body_len);
	} else {
		assert_int_equal(s.n_calls, 0);
	}
	srv_stop(&s);
	unix_env_clear(&u);
}

static void
test_http_post_body_within_cap(void **state)
{
	(void)state;
	post_echo(700, 200);
}

static void
test_http_post_body_exactly_at_cap(void **state)
{
	(void)state;
	post_echo(MAX_BODY, 200);
}

static void
test_http_declared_body_over_cap_is_413(void **state)
{
	(void)state;
	post_echo(MAX_BODY + 1, 413);
}

static void
test_http_declared_huge_body_is_413_without_reading_it(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;

	(void)state;
	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	/* Promise far more than is ever sent: the answer must not wait for it. */
	set_request(&c, "PUT /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
	                "Connection: close\r\n\r\nabc");
	exchange(&s, &c);
	assert_int_equal(resp_status(&c), 413);
	assert_int_equal(s.n_calls, 0);
	srv_stop(&s);
	unix_env_clear(&u);
}

static void
test_http_chunked_body_over_cap_is_413(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;
	size_t off;
	int n;

	(void)state;
	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	n = snprintf(c.req, sizeof(c.req),
	             "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	             "Connection: close\r\n\r\n");
	off = (size_t)n;
	/* Four 512-byte chunks: twice the cap, no length declared up front. */
	for (int i = 0; i < 4; i++) {
		off += (size_t)snprintf(c.req + off, sizeof(c.req) - off, "200\r\n");
		memset(c.req + off, 'z', 512);
		off += 512;
		off += (size_t)snprintf(c.req + off, sizeof(c.req) - off, "\r\n");
	}
	off += (size_t)snprintf(c.req + off, sizeof(c.req) - off, "0\r\n\r\n");
	c.req_len = off;
	exchange(&s, &c);
	assert_int_equal(c.err, 0);
	assert_int_equal(resp_status(&c), 413);
	assert_int_equal(s.n_calls, 0);
	srv_stop(&s);
	unix_env_clear(&u);
}

static void
test_http_keepalive_serves_two_requests_on_one_connection(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;
	const char *second;

	(void)state;
	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	/* Pipelined: the first request keeps the connection, the second closes it. */
	set_request(&c, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
	                "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	                "Connection: close\r\n\r\nxyz");
	exchange(&s, &c);
	assert_int_equal(resp_status(&c), 200);
	second = strstr(c.resp + 1, "HTTP/1.1 200");
	assert_non_null(second);
	assert_string_equal(second + strlen(second) - 3, "xyz");
	assert_int_equal(s.n_calls, 2);
	assert_string_equal(s.method, "POST");
	assert_int_equal(s.body_len, 3);
	srv_stop(&s);
	unix_env_clear(&u);
}

static void
test_http_free_inside_handler(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;

	(void)state;
	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	set_request(&c, "GET /v1/die HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	exchange(&s, &c);
	/* The connection went down with the server: no answer, no crash, no leak. */
	assert_int_equal(s.n_calls, 1);
	assert_null(s.http);
	assert_int_equal(resp_status(&c), -1);
	srv_stop(&s);
	unix_env_clear(&u);
}

static void
test_http_loop_free_closes_a_live_server(void **state)
{
	struct unix_env u;
	struct client c;
	struct srv s;

	(void)state;
	unix_env_init(&u, &c);
	srv_start(&s, u.fd);
	set_request(&c, "%s", get_status_req);
	exchange(&s, &c);
	assert_int_equal(resp_status(&c), 200);
	/* No ev_http_free(): the loop closes the server (LSan checks nothing leaks). */
	ev_timer_free(s.poll);
	ev_timer_free(s.watchdog);
	ev_loop_free(s.loop);
	assert_int_equal(fcntl(u.fd, F_GETFD), -1);
	unix_env_clear(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_get_over_unix_socket),
		cmocka_unit_test(test_http_get_over_tcp),
		cmocka_unit_test(test_http_handler_404),
		cmocka_unit_test(test_http_post_body_within_cap),
		cmocka_unit_test(test_http_post_body_exactly_at_cap),
		cmocka_unit_test(test_http_declared_body_over_cap_is_413),
		cmocka_unit_test(test_http_declared_huge_body_is_413_without_reading_it),
		cmocka_unit_test(test_http_chunked_body_over_cap_is_413),
		cmocka_unit_test(test_http_keepalive_serves_two_requests_on_one_connection),
		cmocka_unit_test(test_http_free_inside_handler),
		cmocka_unit_test(test_http_loop_free_closes_a_live_server),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
