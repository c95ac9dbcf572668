/* SPDX-License-Identifier: MIT */
#include "lib/err.h"

const char *
um_err_str(int err)
{
	switch (err) {
	case UM_OK:
		return "success";
	case UM_ERR_INTERNAL:
		return "internal error";
	case UM_ERR_NOMEM:
		return "out of memory or over quota";
	case UM_ERR_TRUNCATED:
		return "input truncated";
	case UM_ERR_MALFORMED:
		return "malformed input";
	case UM_ERR_TRAILING:
		return "unexpected trailing data";
	case UM_ERR_TOO_LARGE:
		return "too large";
	case UM_ERR_AUTH:
		return "authentication failed";
	case UM_ERR_REPLAY:
		return "replayed";
	case UM_ERR_RATELIMIT:
		return "rate limited";
	case UM_ERR_STATE:
		return "invalid in current state";
	case UM_ERR_NOT_FOUND:
		return "not found";
	case UM_ERR_EXISTS:
		return "already exists";
	case UM_ERR_SYS:
		return "system call failed";
	case UM_ERR_DB:
		return "database error";
	case UM_ERR_CONFIG:
		return "invalid configuration";
	case UM_ERR_PERM:
		return "permission denied";
	case UM_ERR_CRYPTO:
		return "cryptographic operation failed";
	case UM_ERR_CLOSED:
		return "closed";
	case UM_ERR_TIMEOUT:
		return "timed out";
	case UM_ERR_EXPIRED:
		return "expired or not yet valid";
	case UM_ERR_PROTOCOL:
		return "protocol violation";
	case UM_ERR_INVALID:
		return "invalid argument";
	default:
		return "unknown error";
	}
}
