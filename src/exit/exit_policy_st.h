/* SPDX-License-Identifier: MIT */
/*
 * The exit policy representation, private to exit_policy.c and exit_policy_parse.c.
 */
#ifndef UM_EXIT_EXIT_POLICY_ST_H
#define UM_EXIT_EXIT_POLICY_ST_H

#include <stddef.h>

#include "exit/exit_policy.h"

struct exit_policy {
	size_t n_rules;
	struct exit_rule rules[]; /* n_rules of them */
};

#endif /* UM_EXIT_EXIT_POLICY_ST_H */
