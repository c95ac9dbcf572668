/* SPDX-License-Identifier: MIT */
/* umbra: one program, many roles. Dispatch `umbra <command> [args]` to its cmd_*() function. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "run", cmd_run, "Run the daemon: umbra run -c FILE" },
	{ "keygen", cmd_keygen, "Create this node's identity and link keys" },
	{ "whoami", cmd_whoami, "Print this node's id (and, with --peer, a [link] peer line)" },
	{ "status", cmd_status, "Ask the running daemon for its status" },
	{ "links", cmd_links, "List the daemon's links" },
	{ "link", cmd_link, "Link tools: umbra link test PEER-ID [--bytes N]" },
	{ "reload", cmd_reload, "Make the daemon re-read its configuration (as SIGHUP)" },
	{ "relays", cmd_relays,
	  "List the relays of the current consensus [--exit] [--country CC]" },
	{ "circuits", cmd_circuits, "List the daemon's circuits (client paths, relay counts)" },
	{ "dir", cmd_dir, "Directory: umbra dir status | pin URL" },
	{ "issuer", cmd_issuer, "Issuer: subjects, disputes, appeals, keys, audit trail" },
	{ "tokens", cmd_tokens, "Tier tokens: the wallet, umbra tokens fetch --tier N" },
	{ "testnet", cmd_testnet,
	  "A whole network on loopback: umbra testnet up | status | down [--dir DIR]" },
	{ "config", cmd_config, "Configuration: umbra config validate FILE | show" },
	{ "version", cmd_version, "Print the version" },
	{ "help", cmd_help, "Show this help" },
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: umbra <command> [options]\n\n"
	        "umbra is a decentralized privacy network node (client, relay, directory...).\n\n"
	        "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nRun 'umbra <command> --help' for a command's options.\n"
	           "Configuration: -c FILE, or $UMBRA_CONFIG, or /etc/umbra/umbra.conf; every key\n"
	           "can also be set as UMBRA_<SECTION>_<KEY> (see docs/CONFIG.md).\n");
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("umbra %s\n", UM_VERSION);
	return APP_OK;
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return APP_OK;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return APP_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "umbra: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return APP_USAGE;
}
