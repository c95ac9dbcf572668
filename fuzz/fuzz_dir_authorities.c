/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the client's strict parser of a directory's GET /v1/authorities JSON (what `umbra dir
 * pin` and TOFU clients read from an untrusted directory): it returns MALFORMED or
 * TOO_LARGE, or a result within its caps with distinct identities and only certificates
 * by those identities.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "directory/dirclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dirclient_authorities a;
	int ret = dirclient_authorities_parse(data, size, &a);

	if (ret != UM_OK) {
		if (ret != UM_ERR_MALFORMED && ret != UM_ERR_TOO_LARGE)
			abort();
		return 0;
	}
	if (a.n == 0 || a.n > CONS_MAX_AUTHORITIES || a.n_certs > DIRCLIENT_MAX_CERTS)
		abort();
	for (size_t i = 0; i < a.n; i++)
		for (size_t j = i + 1; j < a.n; j++)
			if (memcmp(a.ids[i], a.ids[j], AUTHCERT_ID_LEN) == 0)
				abort();
	for (size_t k = 0; k < a.n_certs; k++) {
		size_t i = 0;

		while (i < a.n && memcmp(a.ids[i], a.certs[k].identity, AUTHCERT_ID_LEN) != 0)
			i++;
		if (i == a.n || !auth_cert_is_wellformed(&a.certs[k]))
			abort();
	}
	return 0;
}
