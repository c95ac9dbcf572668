/* SPDX-License-Identifier: MIT */
/*
 * The CLI's side of the control API: one blocking HTTP/1.0 request over the Unix socket,
 * bounded in time and size, and a strict parser for the response's status line and headers.
 */
#include "control/control.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "lib/wire.h"

/*
 * The Content-Length of a header block (the rest of the status line, then "name: value" lines,
 * each ended by CRLF): UM_ERR_NOT_FOUND if there is none, UM_ERR_MALFORMED if it is repeated or
 * not plain decimal, UM_ERR_TOO_LARGE over CONTROL_MAX_RESPONSE.
 */
static int
content_length(const uint8_t *p, size_t n, size_t *cl)
{
	static const char name[] = "content-length:";
	const size_t name_len = sizeof(name) - 1;
	bool seen = false;
	size_t i = 0;

	*cl = 0;
	while (i < n) {
		size_t eol = i, j, digits = 0;
		uint64_t v = 0;

		while (eol + 1 < n && !(p[eol] == '\r' && p[eol + 1] == '\n'))
			eol++;
		if (i > 0 && eol - i >= name_len &&
		    strncasecmp((const char *)p + i, name, name_len) == 0) {
			if (seen)
				return UM_ERR_MALFORMED;
			seen = true;
			for (j = i + name_len; j < eol && (p[j] == ' ' || p[j] == '\t'); j++)
				;
			for (; j < eol && p[j] >= '0' && p[j] <= '9'; j++, digits++) {
				v = v * 10 + (uint64_t)(p[j] - '0');
				if (v > CONTROL_MAX_RESPONSE)
					return UM_ERR_TOO_LARGE;
			}
			while (j < eol && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (digits == 0 || j != eol)
				return UM_ERR_MALFORMED;
			*cl = (size_t)v;
		}
		i = eol + 2;
	}
	return seen ? UM_OK : UM_ERR_NOT_FOUND;
}

int
control_response_parse(const uint8_t *in, size_t len, int *status, size_t *body_off)
{
	struct wire_rd r;
	const uint8_t *v;
	size_t hdr, end, body, cl = 0;
	uint8_t sep;
	int code = 0;
	int ret;

	*status = 0;
	*body_off = 0;
	wire_rd_init(&r, in, len);
	/* "HTTP/1.x DDD" then a space (reason phrase) or the end of the line. */
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
	if (code < 100 || code > 599)
		return UM_ERR_MALFORMED;
	hdr = r.off;
	if (wire_get_u8(&r, &sep) != UM_OK)
		return UM_ERR_TRUNCATED;
	if (sep != ' ' && sep != '\r')
		return UM_ERR_MALFORMED;
	/* Headers end at the first empty line. */
	for (end = hdr; end + 3 < len; end++) {
		if (memcmp(in + end, "\r\n\r\n", 4) == 0)
			break;
	}
	if (end + 3 >= len)
		return UM_ERR_TRUNCATED;
	body = end + 4;
	/* With a Content-Length the body is complete only when all of it is there (a daemon that
	 * died mid-reply must not pass for a short answer); without one it runs to EOF. */
	ret = content_length(in + hdr, end + 2 - hdr, &cl);
	if (ret == UM_ERR_NOT_FOUND)
		cl = len - body;
	else if (ret != UM_OK)
		return ret;
	if (len - body < cl)
		return UM_ERR_TRUNCATED;
	if (len - body > cl)
		return UM_ERR_TRAILING;
	*status = code;
	*body_off = body;
	return UM_OK;
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
