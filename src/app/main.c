/* SPDX-License-Identifier: MIT */
#include <stdio.h>

int
main(void)
{
	puts("umbra");
	return 0;
}
