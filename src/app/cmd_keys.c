/* SPDX-License-Identifier: MIT */
/* umbra keygen / umbra whoami: this node's keys and id. */
#include "app/app.h"

#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "app/dir_node.h"

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
	fprintf(f,
	        "Usage: umbra whoami [-c FILE] [--peer | --link-key | --provider-key]\n\n"
	        "Print this node's id: the base32 form of its Ed25519 identity key.\n"
	        "  --peer      print a line other nodes can put in [link] peer to reach us:\n"
	        "              <node-id>/<link-key>@<first [link] listen address>\n"
	        "  --link-key  print the base32 X25519 link key\n"
	        "  --provider-key  print the public key of [relay] provider_key (made if\n"
	        "              missing), for `umbra issuer subject key` at the provider issuer\n");
}

int
cmd_whoami(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "peer", no_argument, NULL, 'p' },
		                              { "link-key", no_argument, NULL, 'k' },
		                              { "provider-key", no_argument, NULL, 'P' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	const char *cfg_path = NULL;
	bool peer = false, link_key = false, provider = false;
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
		case 'P':
			provider = true;
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
	if (provider) {
		uint8_t secret[32];
		char *path = app_provider_key_path(c);
		bool made = false;

		ret = app_keyfile_load(path, KEYFILE_ED25519, true, secret, &made, why,
		                       sizeof(why));
		if (ret == UM_OK) {
			keys_ed25519_from_seed(&id, secret);
			app_key_b32(id.pk, b32);
			if (made)
				fprintf(stderr, "umbra: created the provider key %s\n", path);
			printf("%s\n", b32);
			keys_ed25519_clear(&id);
		} else {
			fprintf(stderr, "umbra: %s\n", why);
		}
		um_memzero(secret, sizeof(secret));
		free(path);
		config_free(c);
		return ret == UM_OK ? APP_OK : APP_FAIL;
	}
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
