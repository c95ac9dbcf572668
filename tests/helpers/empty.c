/* SPDX-License-Identifier: MIT */
/* Keeps the test-helper library non-empty. */
int um_testhelp_anchor;
int um_testhelp_anchor = 0;
