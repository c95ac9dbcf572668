/* SPDX-License-Identifier: MIT */
/*
 * Fuzz BEGIN's ADDRPORT and FLAGS parser, and RESOLVE's name parser on the same bytes (they
 * share the host text rules). Only UM_OK, TRUNCATED, MALFORMED and TRAILING may come back; a
 * parsed message re-encodes in canonical form (lower case, RFC 5952 IPv6, FLAGS present),
 * parses back to the same struct and re-encodes to the same bytes. A parsed name is checked
 * against the rules directly: lower-case LDH, no empty label, at most 255 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "circuit/relay_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ret(int ret)
{
	if (ret != UM_OK && ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED &&
	    ret != UM_ERR_TRAILING)
		abort();
}

static void
check_name(const char *name)
{
	size_t n = strnlen(name, RELAY_HOSTNAME_MAX + 1);

	if (n == 0 || n > RELAY_HOSTNAME_MAX || name[0] == '.' || name[n - 1] == '.' ||
	    strstr(name, "..") != NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			abort();
	}
}

static void
fuzz_begin(const uint8_t *data, size_t size)
{
	struct relay_begin b, p;
	uint8_t out[RELAY_DATA_MAX], again[RELAY_DATA_MAX];
	struct wire_wr w;
	size_t n;
	int ret;

	memset(&b, 0, sizeof(b));
	memset(&p, 0, sizeof(p));
	ret = relay_begin_parse(data, size, &b);
	check_ret(ret);
	if (ret != UM_OK)
		return;
	if (b.target.port == 0 || (b.flags & ~(uint32_t)RELAY_BEGIN_F_ALL) != 0)
		abort();
	if (b.target.type == RELAY_HOST_NAME)
		check_name(b.target.name);
	else if (b.target.type != RELAY_HOST_IPV4 && b.target.type != RELAY_HOST_IPV6)
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (relay_begin_write(&w, &b) != UM_OK)
		abort();
	n = w.len;
	if (relay_begin_parse(out, n, &p) != UM_OK || memcmp(&b, &p, sizeof(b)) != 0)
		abort();
	wire_wr_init(&w, again, sizeof(again));
	if (relay_begin_write(&w, &p) != UM_OK || w.len != n || memcmp(out, again, n) != 0)
		abort();
}

static void
fuzz_resolve(const uint8_t *data, size_t size)
{
	struct relay_resolve r, p;
	uint8_t out[RELAY_DATA_MAX];
	struct wire_wr w;
	int ret;

	ret = relay_resolve_parse(data, size, &r);
	check_ret(ret);
	if (ret != UM_OK)
		return;
	check_name(r.name);
	wire_wr_init(&w, out, sizeof(out));
	if (relay_resolve_write(&w, &r) != UM_OK || relay_resolve_parse(out, w.len, &p) != UM_OK ||
	    memcmp(&r, &p, sizeof(r)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_begin(data, size);
	fuzz_resolve(data, size);
	return 0;
}
