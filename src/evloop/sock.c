/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets created outside libuv, for servers that take a bare fd (the HTTP server
 * in http.c): a Unix stream socket with a chosen file mode, and a TCP socket. Both are
 * nonblocking and close-on-exec. This file does not accept or serve anything.
 */
#include "evloop/evloop.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"

enum { EV_UNIX_BACKLOG = 64 };

/*
 * Tell a stale socket file (its server died) from a live one by connecting to it: refused
 * means nobody listens. Returns UM_OK for stale, UM_ERR_EXISTS for live.
 */
static int
unix_probe_stale(const struct sockaddr_un *sun)
{
	int s, r, e;

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return UM_ERR_SYS;
	r = connect(s, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(s);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS)
		return UM_ERR_EXISTS; /* accepted, or a full backlog: someone serves it */
	if (e == ECONNREFUSED || e == ENOENT)
		return UM_OK;
	errno = e;
	return e == EACCES || e == EPERM ? UM_ERR_PERM : UM_ERR_SYS;
}

int
ev_unix_listen(const char *path, mode_t mode, int *fd)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_mask;
	bool bound = false;
	int ret = UM_ERR_INTERNAL;
	int s = -1;
	int r, e;

	*fd = -1;
	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path) ||
	    (mode & ~(mode_t)0777) != 0)
		return UM_ERR_INVALID;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warn(LD_NET, "refusing to replace %s: not a socket", path);
			return UM_ERR_EXISTS;
		}
		if ((ret = unix_probe_stale(&sun)) != UM_OK) {
			if (ret == UM_ERR_EXISTS)
				log_warn(LD_NET, "%s is in use by a running server", path);
			return ret;
		}
		/* The directory should be ours alone: between lstat and unlink nobody else may
		 * swap the socket for another file. */
		if (unlink(path) != 0 && errno != ENOENT)
			return UM_ERR_SYS;
	} else if (errno != ENOENT) {
		return UM_ERR_SYS;
	}

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return UM_ERR_SYS;
	/* bind() creates the node as 0777 & ~umask: with this umask it is born with exactly
	 * mode, so there is no window in which it is more open. The umask is process-wide:
	 * call this at start-up, before other threads create files. */
	old_mask = umask(~mode & 0777);
	r = bind(s, (const struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	umask(old_mask);
	if (r != 0) {
		errno = e;
		ret = UM_ERR_SYS;
		goto out;
	}
	bound = true;
	if (listen(s, EV_UNIX_BACKLOG) != 0) {
		ret = UM_ERR_SYS;
		goto out;
	}
	*fd = s;
	return UM_OK;
out:
	e = errno;
	if (bound)
		(void)unlink(path);
	close(s);
	errno = e;
	return ret;
}

int
ev_tcp_listen_fd(const struct sockaddr *sa, int backlog, int *fd)
{
	socklen_t len;
	int on = 1;
	int s, e;

	*fd = -1;
	if (sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return UM_ERR_INVALID;
	s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return UM_ERR_SYS;
	/* Rebind at once after a restart despite connections in TIME_WAIT. */
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(s, sa, len) != 0 || listen(s, backlog) != 0) {
		e = errno;
		close(s);
		errno = e;
		return UM_ERR_SYS;
	}
	*fd = s;
	return UM_OK;
}
