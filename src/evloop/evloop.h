/* SPDX-License-Identifier: MIT */
/*
 * The event loop: the only module that includes <uv.h> (and <microhttpd.h>, see http.h).
 * One loop per process, one thread; every callback below runs on the loop thread. Handles are
 * opaque; each _free_/_close is safe to call from inside that handle's own callback: the
 * handle stops delivering callbacks at once and its memory is released later by the loop
 * (libuv's uv_close callback), never inside a callback the loop returns into.
 */
#ifndef UM_EVLOOP_EVLOOP_H
#define UM_EVLOOP_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/mem.h"

struct ev_loop;
struct ev_timer;
struct ev_signal;
struct ev_tcp;
struct ev_listener;

/* Return a new loop; the caller owns it and frees it with ev_loop_free() after run returns.
 * Also sets SIGPIPE to ignored (process-wide): a write to a reset socket fails with EPIPE. */
struct ev_loop *ev_loop_new(void);
/* Close every handle still open, run the loop until they are released, free the loop. */
void ev_loop_free_(struct ev_loop *loop);
#define ev_loop_free(l) UM_FREE_AND_NULL(ev_loop_free_, l)
/* Run until ev_loop_stop() is called or nothing is left to wait for. Returns UM_OK. */
int ev_loop_run(struct ev_loop *loop) UM_WARN_UNUSED;
void ev_loop_stop(struct ev_loop *loop);
/* The loop's cached monotonic time in milliseconds (updated once per iteration). */
uint64_t ev_now_ms(const struct ev_loop *loop);
/* Refresh the cached time (after long work inside a callback). */
void ev_update_time(struct ev_loop *loop);

/* Timers. A stopped timer may be restarted. */
typedef void ev_timer_fn(void *arg);
struct ev_timer *ev_timer_new(struct ev_loop *loop, ev_timer_fn *cb, void *arg);
/* Fire once after timeout_ms, then every repeat_ms if repeat_ms > 0. Restarts if running. */
void ev_timer_start(struct ev_timer *t, uint64_t timeout_ms, uint64_t repeat_ms);
void ev_timer_stop(struct ev_timer *t);
bool ev_timer_is_active(const struct ev_timer *t);
void ev_timer_free_(struct ev_timer *t);
#define ev_timer_free(t) UM_FREE_AND_NULL(ev_timer_free_, t)

/*
 * Deferred work that must not starve I/O: after ev_defer_schedule(), cb runs once in the
 * next loop iteration, after the loop has polled sockets (without blocking). Unlike a 0 ms
 * timer re-armed from its own callback, which libuv may run again and again within one
 * timer phase, a defer re-scheduled from its callback waits for the next iteration.
 * Scheduling an already scheduled defer does nothing.
 */
typedef void ev_defer_fn(void *arg);
struct ev_defer;
struct ev_defer *ev_defer_new(struct ev_loop *loop, ev_defer_fn *cb, void *arg);
void ev_defer_schedule(struct ev_defer *d);
void ev_defer_free_(struct ev_defer *d);
#define ev_defer_free(d) UM_FREE_AND_NULL(ev_defer_free_, d)

/* Signals (SIGINT, SIGTERM, SIGHUP...), delivered on the loop thread. */
typedef void ev_signal_fn(void *arg, int signum);
struct ev_signal *ev_signal_new(struct ev_loop *loop, int signum, ev_signal_fn *cb, void *arg);
void ev_signal_free_(struct ev_signal *s);
#define ev_signal_free(s) UM_FREE_AND_NULL(ev_signal_free_, s)

/*
 * TCP streams. Reads are delivered through ops->on_read with a view valid only during the
 * callback. Writes are buffered by the stream: ev_tcp_reserve() returns space at the tail of
 * the output queue to fill in place (zero copy: encrypt straight into it), ev_tcp_commit()
 * queues the bytes; the stream flushes to the socket once per loop iteration or when a chunk
 * is full. ev_tcp_write_queue() counts committed bytes the kernel has not taken yet.
 * Callbacks run only from the loop, never from inside a call made on the stream (a drain or
 * a write failure found during ev_tcp_commit() is reported at the next flush point).
 * Bytes committed before an outgoing connect completes wait for it. TCP_NODELAY is on for
 * inbound and outbound streams.
 */
struct ev_tcp_ops {
	/* Outgoing only: the connect finished; status UM_OK or UM_ERR_SYS with errno set for the
	 * duration of the call (then close the stream). */
	void (*on_connect)(void *arg, int status);
	void (*on_read)(void *arg, const uint8_t *data, size_t len);
	/* The peer closed (status UM_OK) or the connection failed (UM_ERR_SYS, errno in sys_errno).
	 * Reading has stopped; the owner must still call ev_tcp_close(). Called at most once
	 * per stream; a write failure after it only makes later writes fail (UM_ERR_CLOSED).
	 * After an EOF (UM_OK) the stream may still write: the peer only half-closed. */
	void (*on_eof)(void *arg, int status, int sys_errno);
	/* Optional: the write queue fell to or below the drain threshold after being above it. */
	void (*on_drain)(void *arg);
};

/* Start connecting to sa; *out is owned by the caller (close with ev_tcp_close()). */
int ev_tcp_connect(struct ev_loop *loop, const struct sockaddr *sa, const struct ev_tcp_ops *ops,
                   void *arg, struct ev_tcp **out) UM_WARN_UNUSED;
/* ev_tcp_connect() from the source address src (port 0: any; its family must be sa's), as
 * a relay with several addresses picks the one its links leave from. NULL = the system's
 * choice. A source that cannot be bound fails here (UM_ERR_SYS, errno set). */
int ev_tcp_connect_from(struct ev_loop *loop, const struct sockaddr *sa, const struct sockaddr *src,
                        const struct ev_tcp_ops *ops, void *arg,
                        struct ev_tcp **out) UM_WARN_UNUSED;
/* A new inbound stream: the callee owns conn, must call ev_tcp_set_ops() then read_start. */
typedef void ev_accept_fn(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer);
int ev_tcp_listen(struct ev_loop *loop, const struct sockaddr *sa, int backlog, ev_accept_fn *cb,
                  void *arg, struct ev_listener **out) UM_WARN_UNUSED;
/* The bound address (to learn the port after listening on port 0). */
int ev_listener_addr(const struct ev_listener *l, struct sockaddr_storage *ss) UM_WARN_UNUSED;
void ev_listener_free_(struct ev_listener *l);
#define ev_listener_free(l) UM_FREE_AND_NULL(ev_listener_free_, l)

void ev_tcp_set_ops(struct ev_tcp *t, const struct ev_tcp_ops *ops, void *arg);
int ev_tcp_read_start(struct ev_tcp *t) UM_WARN_UNUSED;
void ev_tcp_read_stop(struct ev_tcp *t);
bool ev_tcp_is_reading(const struct ev_tcp *t);
/* Space for n bytes (n <= EV_TCP_CHUNK, else UM_ERR_TOO_LARGE) at the tail of the output
 * queue; UM_ERR_CLOSED once shut down or failed. Fill *p and commit at most n bytes before
 * returning to the loop, with no other call on the stream in between. */
int ev_tcp_reserve(struct ev_tcp *t, size_t n, uint8_t **p) UM_WARN_UNUSED;
void ev_tcp_commit(struct ev_tcp *t, size_t n);
/* Copy and queue len bytes (any length). UM_ERR_CLOSED once shut down or failed. */
int ev_tcp_write(struct ev_tcp *t, const void *data, size_t len) UM_WARN_UNUSED;
size_t ev_tcp_write_queue(const struct ev_tcp *t);
/* When the oldest byte of that queue was committed (ev_now_ms(), to the EV_TCP_CHUNK: the
 * time of the first commit into its chunk), UINT64_MAX when the queue is empty. For memory
 * accounting that evicts the oldest data first. */
uint64_t ev_tcp_queue_since_ms(const struct ev_tcp *t);
/* on_drain fires when the queue falls to <= low after having been above it. */
void ev_tcp_set_drain_threshold(struct ev_tcp *t, size_t low);
/* Flush queued bytes, then send FIN. Further writes fail. */
void ev_tcp_shutdown(struct ev_tcp *t);
/* Stop all callbacks now, drop unsent bytes, close the socket; memory released by the loop. */
void ev_tcp_close(struct ev_tcp *t);
/* As ev_tcp_close(), but reset the connection (RST): the peer sees an error, not an EOF. */
void ev_tcp_abort(struct ev_tcp *t);
int ev_tcp_peer_addr(const struct ev_tcp *t, struct sockaddr_storage *ss) UM_WARN_UNUSED;
int ev_tcp_set_nodelay(struct ev_tcp *t, bool on) UM_WARN_UNUSED;

enum ev_limits {
	EV_TCP_CHUNK = 64 * 1024, /* output chunk and read buffer size */
};

/*
 * Addresses. Parse "v4-literal:port" or "[v6-literal]:port" (numeric only, no DNS) into ss.
 * UM_ERR_INVALID on anything else. Format into out as "1.2.3.4:5" / "[::1]:5".
 * Every form needs a port 1-65535 in plain decimal, so a v6 literal must be bracketed: a bare
 * "::1" or "2001:db8::1:80" is refused (the port cannot be told from the address). No zone
 * ids, no hostnames, nothing after the port. *len is 0 on failure.
 * ev_addr_format: UM_ERR_TOO_LARGE if out_len is too small, UM_ERR_INVALID if not IPv4/IPv6.
 */
int ev_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len) UM_WARN_UNUSED;
/* ev_addr_parse for a listener: port 0 (any free port) is accepted too. */
int ev_addr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len) UM_WARN_UNUSED;
int ev_addr_format(const struct sockaddr *sa, char *out, size_t out_len) UM_WARN_UNUSED;
enum { EV_ADDR_STRLEN = 64 };

/*
 * Create a listening Unix stream socket at path with mode (e.g. 0600), replacing a stale
 * socket file (never any other kind of file). Returns the fd in *fd, close-on-exec, nonblocking.
 * UM_ERR_EXISTS if path is not a socket or a server still answers on it; UM_ERR_INVALID for
 * a path too long for sun_path or mode bits outside 0777; UM_ERR_SYS with errno otherwise.
 * Sets the process umask around bind(2): call it before starting other threads.
 */
int ev_unix_listen(const char *path, mode_t mode, int *fd) UM_WARN_UNUSED;
/*
 * Create a listening TCP socket bound to sa (SO_REUSEADDR, nonblocking, close-on-exec) for
 * servers that take a bare fd (ev_http_new). Returns the fd in *fd; UM_ERR_SYS with errno.
 */
int ev_tcp_listen_fd(const struct sockaddr *sa, int backlog, int *fd) UM_WARN_UNUSED;

#endif /* UM_EVLOOP_EVLOOP_H */
