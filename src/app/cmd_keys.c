/* SPDX-License-Identifier: MIT */
/* umbra keygen / umbra whoami: this node's keys and id. */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "crypto/crypto.h"

static void
keygen_usage(FILE *f)
{
	fprintf(f, "Usage: umbra keygen [-c FILE] [--force]\n\n"
	           "Create the node's Ed25519 identity key and X25519 link key (mode 0600) in the\n"
	           "paths [node] identity_key and link_key name (default: the state directory).\n"
	           "Existing keys are kept unless --force is given. Prints the node id.\n");
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "force", no_argument, NULL, 'f' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg_path = NULL;
	bool force = false;
	struct config *c = NULL;
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	char why[512], b32[53];
	int o, ret;

	while ((o = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			keygen_usage(stdout);
			return APP_OK;
		default:
			keygen_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		keygen_usage(stderr);
		return APP_USAGE;
	}
	if (um_crypto_init() != UM_OK)
		return APP_FAIL;
	if ((ret = app_load_config(app_config_path(cfg_path), &c)) != APP_OK)
		return ret;
	if (app_ensure_state_dir(c->node.state_dir, why, sizeof(why)) != UM_OK) {
		fprintf(stderr, "umbra: %s\n", why);
		config_free(c);
		return APP_FAIL;
	}
	if (force) {
		unlink(c->node.identity_key);
		unlink(c->node.link_key);
	}
	if (app_keys_load(c, true, &id, &lk, why, sizeof(why)) != UM_OK) {
		fprintf(stderr, "umbra: %s\n", why);
		config_free(c);
		return APP_FAIL;
	}
	app_key_b32(id.pk, b32);
	printf("%s\n", b32);
	keys_ed25519_clear(&id);
	keys_x25519_clear(&lk);
	config_free(c);
	return APP_OK;
}

static void
whoami_usage(FILE *f)
{
	fprintf(f, "Usage: umbra whoami [-c FILE] [--peer | --link-key]\n\n"
	           "Print this node's id: the base32 form of its Ed25519 identity key.\n"
	           "  --peer      print a line other nodes can put in [link] peer to reach us:\n"
	           "              <node-id>/<link-key>@<first [link] listen address>\n"
	           "  --link-key  print the base32 X25519 link key\n");
}

int
cmd_whoami(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "peer", no_argument, NULL, 'p' },
		                              { "link-key", no_argument, NULL, 'k' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg_path = NULL;
	bool peer = false, link_key = false;
	struct config *c = NULL;
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	char why[512], b32[53], lb32[53];
	int o, ret;

	while ((o = getopt_long(argc, argv, "c:pkh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'p':
			peer = true;
			break;
		case 'k':
			link_key = true;
			break;
		case 'h':
			whoami_usage(stdout);
			return APP_OK;
		default:
			whoami_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		whoami_usage(stderr);
		return APP_USAGE;
	}
	if (um_crypto_init() != UM_OK)
		return APP_FAIL;
	if ((ret = app_load_config(app_config_path(cfg_path), &c)) != APP_OK)
		return ret;
	if (app_keys_load(c, false, &id, &lk, why, sizeof(why)) != UM_OK) {
		fprintf(stderr, "umbra: %s\n", why);
		config_free(c);
		return APP_FAIL;
	}
	app_key_b32(id.pk, b32);
	app_key_b32(lk.pk, lb32);
	ret = APP_OK;
	if (peer) {
		if (c->link.listen.n == 0) {
			fprintf(stderr, "umbra: --peer needs a [link] listen address in the "
			                "configuration\n");
			ret = APP_USAGE;
		} else {
			printf("%s/%s@%s\n", b32, lb32, c->link.listen.v[0]);
		}
	} else if (link_key) {
		printf("%s\n", lb32);
	} else {
		printf("%s\n", b32);
	}
	keys_ed25519_clear(&id);
	keys_x25519_clear(&lk);
	config_free(c);
	return ret;
}
