/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the SOCKS and HTTP CONNECT front ends (front.h).
 */
#include "front/front.h"

#include <string.h>

#include "lib/mem.h"

bool
front_host_is_valid(const uint8_t *s, size_t len)
{
	if (len == 0 || len > FRONT_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	}
	return true;
}

bool
front_iso_eq(const struct front_iso *a, const struct front_iso *b)
{
	return a->kind == b->kind && a->user_len == b->user_len && a->pass_len == b->pass_len &&
	       memcmp(a->user, b->user, a->user_len) == 0 &&
	       memcmp(a->pass, b->pass, a->pass_len) == 0;
}

void
front_request_clear(struct front_request *r)
{
	um_memzero(r, sizeof(*r));
}

const char *
front_end_reason_str(int reason)
{
	static const char *const names[] = {
		[FRONT_END_MISC] = "misc",
		[FRONT_END_RESOLVEFAILED] = "resolvefailed",
		[FRONT_END_CONNECTREFUSED] = "connectrefused",
		[FRONT_END_EXITPOLICY] = "exitpolicy",
		[FRONT_END_DESTROY] = "destroy",
		[FRONT_END_DONE] = "done",
		[FRONT_END_TIMEOUT] = "timeout",
		[FRONT_END_NOROUTE] = "noroute",
		[FRONT_END_HIBERNATING] = "hibernating",
		[FRONT_END_INTERNAL] = "internal",
		[FRONT_END_RESOURCELIMIT] = "resourcelimit",
		[FRONT_END_CONNRESET] = "connreset",
		[FRONT_END_TORPROTOCOL] = "torprotocol",
		[FRONT_END_NOTDIRECTORY] = "notdirectory",
	};

	if (reason < 1 || (size_t)reason >= UM_ARRAY_LEN(names))
		return "unknown";
	return names[reason];
}
