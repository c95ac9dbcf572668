/* SPDX-License-Identifier: MIT */
/* umbra config validate FILE | umbra config show [-c FILE]. Nothing is applied. */
#include "app/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
config_usage(FILE *f)
{
	fprintf(f, "Usage: umbra config validate FILE\n"
	           "       umbra config show [-c FILE]\n\n"
	           "validate  check FILE (and UMBRA_* environment overrides) without applying\n"
	           "          anything; prints every error as file:line: section.key: message\n"
	           "show      print the effective configuration, defaults included, as INI\n");
}

int
cmd_config(int argc, char **argv)
{
	struct config *c = NULL;
	const char *path = NULL;
	char *text;
	int ret;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		config_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? APP_USAGE : APP_OK;
	}
	if (strcmp(argv[1], "validate") == 0) {
		if (argc != 3) {
			config_usage(stderr);
			return APP_USAGE;
		}
		if ((ret = app_load_config(argv[2], &c)) != APP_OK)
			return ret;
		printf("%s: OK\n", argv[2]);
		config_free(c);
		return APP_OK;
	}
	if (strcmp(argv[1], "show") == 0) {
		if (argc == 4 && strcmp(argv[2], "-c") == 0)
			path = argv[3];
		else if (argc != 2) {
			config_usage(stderr);
			return APP_USAGE;
		}
		if ((ret = app_load_config(app_config_path(path), &c)) != APP_OK)
			return ret;
		text = config_dump(c);
		fputs(text, stdout);
		free(text);
		config_free(c);
		return APP_OK;
	}
	config_usage(stderr);
	return APP_USAGE;
}
