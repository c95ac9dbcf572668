/* SPDX-License-Identifier: MIT */
/*
 * The CLI's side of the control API: one blocking HTTP/1.0 request over the Unix socket,
 * bounded in time and size, and a strict parser for the response's status line and headers.
 */
#include "control/control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "lib/wire.h"

int
control_response_parse(const uint8_t *in, size_t len, int *status, size_t *body_off)
{
	struct wire_rd r;
	const uint8_t *v;
	int code = 0;

	*status = 0;
	*body_off = 0;
	wire_rd_init(&r, in, len);
	/* "HTTP/1.x DDD " */
	if (wire_get_view(&r, 9, &v) != UM_OK)
		return UM_ERR_TRUNCATED;
	if (memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1') || v[8] != ' ')
		return UM_ERR_MALFORMED;
	if (wire_get_view(&r, 3, &v) != UM_OK)
		return UM_ERR_TRUNCATED;
	for (int i = 0; i < 3; i++) {
		if (v[i] < '0' || v[i] > '9')
			return UM_ERR_MALFORMED;
		code = code * 10 + (v[i] - '0');
	}
	if (code < 100)
		return UM_ERR_MALFORMED;
	/* Headers end at the first empty line. */
	for (size_t i = r.off; i + 3 < len; i++) {
		if (in[i] == '\r' && in[i + 1] == '\n' && in[i + 2] == '\r' && in[i + 3] == '\n') {
			*status = code;
			*body_off = i + 4;
			return UM_OK;
		}
	}
	return UM_ERR_TRUNCATED;
}

static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now = um_mono_ms();
	int n;

	if (now >= deadline)
		return UM_ERR_TIMEOUT;
	n = poll(&p, 1, (int)(deadline - now));
	if (n == 0)
		return UM_ERR_TIMEOUT;
	return n < 0 ? UM_ERR_SYS : UM_OK;
}

int
control_request(const char *path, const char *method, const char *url, const char *body,
                int timeout_ms, int *status, char **resp_body)
{
	struct sockaddr_un sa;
	uint64_t deadline = um_mono_ms() + (uint64_t)timeout_ms;
	char *req = NULL;
	uint8_t *in = NULL;
	size_t in_len = 0, in_cap = 0, off = 0, body_off = 0, req_len;
	int fd = -1, ret = UM_ERR_INTERNAL;

	*status = 0;
	*resp_body = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return UM_ERR_INVALID;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return UM_ERR_SYS;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = UM_ERR_SYS;
		goto out;
	}
	req = um_xasprintf("%s %s HTTP/1.0\r\nHost: umbra\r\nContent-Type: application/json\r\n"
	                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                   method, url, body != NULL ? strlen(body) : 0, body != NULL ? body : "");
	req_len = strlen(req);
	while (off < req_len) {
		ssize_t w;

		if ((ret = wait_fd(fd, POLLOUT, deadline)) != UM_OK)
			goto out;
		w = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EINTR && errno != EAGAIN) {
			ret = UM_ERR_SYS;
			goto out;
		}
		if (w > 0)
			off += (size_t)w;
	}
	for (;;) {
		ssize_t r;

		if ((ret = wait_fd(fd, POLLIN, deadline)) != UM_OK)
			goto out;
		if (in_len + 65536 + 1 > in_cap) {
			if (in_cap >= CONTROL_MAX_RESPONSE) {
				ret = UM_ERR_TOO_LARGE;
				goto out;
			}
			in_cap = in_cap ? in_cap * 2 : 65536 * 2;
			in = um_xrealloc(in, in_cap);
		}
		r = recv(fd, in + in_len, in_cap - in_len - 1, 0);
		if (r < 0 && errno != EINTR && errno != EAGAIN) {
			ret = UM_ERR_SYS;
			goto out;
		}
		if (r == 0)
			break;
		if (r > 0)
			in_len += (size_t)r;
	}
	if ((ret = control_response_parse(in, in_len, status, &body_off)) != UM_OK) {
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	*resp_body = um_xstrndup((const char *)in + body_off, in_len - body_off);
	ret = UM_OK;
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(in);
	return ret;
}
