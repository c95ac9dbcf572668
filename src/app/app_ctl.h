/* SPDX-License-Identifier: MIT */
/* The CLI's control-socket call, shared by the cmd_*.c files that talk to the daemon. */
#ifndef UM_APP_APP_CTL_H
#define UM_APP_APP_CTL_H

#include <jansson.h>

/*
 * Send method url (body may be NULL) to the daemon's control socket sock. On APP_OK *out is
 * the parsed JSON body (caller decrefs); otherwise the error was printed to stderr and the
 * result is APP_FAIL.
 */
int app_ctl_call(const char *sock, const char *method, const char *url, const char *body,
                 json_t **out);

/* Print j indented with sorted keys and a newline (--json output); if_fail when it cannot be
 * dumped. */
void app_print_json(const json_t *j, const char *if_fail);

#endif /* UM_APP_APP_CTL_H */
