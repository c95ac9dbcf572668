/* SPDX-License-Identifier: MIT */
/*
 * Baseline for link throughput: raw TCP over loopback between two processes (fork), the
 * sender writing 64 KiB chunks, the receiver reading until EOF. Prints MB/s (10^6 bytes/s).
 * usage: bench_tcp [BYTES]   (default 2 GiB)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	size_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)2 << 30;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c, one = 1;
	static char buf[1 << 20];
	size_t n = 0;
	ssize_t r;
	double t0 = 0;
	pid_t pid;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) != 0 || listen(l, 1) != 0) {
		perror("bench_tcp");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		size_t sent = 0;

		memset(buf, 0x5a, sizeof(buf));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
			_exit(1);
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (sent < total) {
			size_t chunk = total - sent < 65536 ? total - sent : 65536;
			ssize_t w = write(s, buf, chunk);

			if (w <= 0)
				_exit(1);
			sent += (size_t)w;
		}
		close(s);
		_exit(0);
	}
	c = accept(l, NULL, NULL);
	while ((r = read(c, buf, sizeof(buf))) > 0) {
		if (n == 0)
			t0 = now_s();
		n += (size_t)r;
	}
	printf("%.1f\n", (double)n / (now_s() - t0) / 1e6);
	waitpid(pid, NULL, 0);
	return n == total ? 0 : 1;
}
