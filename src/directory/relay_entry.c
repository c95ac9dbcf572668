/* SPDX-License-Identifier: MIT */
/*
 * Relay entries and consensus parameters: building an entry from a verified descriptor, the
 * flag/role rule, and parameter lookup and insertion (the wire side is relay_entry_parse.c).
 */
#include "directory/relay_entry.h"

#include <string.h>

#include "lib/err.h"

uint16_t
relay_entry_mask_flags(uint16_t flags, uint8_t roles)
{
	flags &= RELAY_FLAG_ALL;
	if ((roles & RELAY_ROLE_ENTRY) == 0)
		flags &= (uint16_t)~RELAY_FLAG_GUARD;
	if ((roles & RELAY_ROLE_MIDDLE) == 0)
		flags &= (uint16_t)~RELAY_FLAG_MIDDLE;
	if ((roles & RELAY_ROLE_EXIT) == 0)
		flags &= (uint16_t) ~(RELAY_FLAG_EXIT | RELAY_FLAG_BADEXIT);
	return flags;
}

void
relay_entry_from_desc(struct relay_entry *e, const struct relay_desc *d,
                      const uint8_t digest[RELAY_DESC_DIGEST_LEN], uint16_t flags,
                      uint32_t measured_bw)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->identity, d->identity, RELAY_DESC_ID_LEN);
	memcpy(e->desc_digest, digest, RELAY_DESC_DIGEST_LEN);
	e->flags = relay_entry_mask_flags(flags, d->roles);
	e->measured_bw = measured_bw;
	memcpy(e->nickname, d->nickname, sizeof(e->nickname));
	e->roles = d->roles;
	memcpy(e->link_key, d->link_key, RELAY_DESC_KEY_LEN);
	memcpy(e->onion_key, d->onion_key, RELAY_DESC_KEY_LEN);
	e->n_addrs = d->n_addrs;
	memcpy(e->addrs, d->addrs, sizeof(e->addrs));
	e->exit_flags = d->exit_flags;
	e->policy4 = d->policy4;
	e->policy6 = d->policy6;
	memcpy(e->operator_id, d->operator_id, RELAY_DESC_ID_LEN);
	memcpy(e->country, d->country, sizeof(e->country));
	memcpy(e->region, d->region, sizeof(e->region));
	e->geo_confidence = d->geo_confidence;
	e->scores = d->scores;
	e->n_family = d->n_family;
	memcpy(e->family, d->family, sizeof(e->family));
}

bool
dir_params_get(const struct dir_params *p, const char *name, uint32_t *v)
{
	for (size_t i = 0; i < p->n && i < DIR_PARAMS_MAX; i++) {
		if (strcmp(p->p[i].name, name) == 0) {
			*v = p->p[i].value;
			return true;
		}
	}
	return false;
}

int
dir_params_set(struct dir_params *p, const char *name, uint32_t v)
{
	size_t len = strnlen(name, DIR_PARAM_NAME_MAX + 1);
	size_t i = 0;
	int c = 1;

	if (!dir_param_name_is_valid(name, len) || p->n > DIR_PARAMS_MAX)
		return UM_ERR_INVALID;
	while (i < p->n &&
	       (c = dir_param_name_cmp(p->p[i].name, strlen(p->p[i].name), name, len)) < 0)
		i++;
	if (i < p->n && c == 0) {
		p->p[i].value = v;
		return UM_OK;
	}
	if (p->n == DIR_PARAMS_MAX)
		return UM_ERR_TOO_LARGE;
	memmove(&p->p[i + 1], &p->p[i], (p->n - i) * sizeof(p->p[0]));
	memset(&p->p[i], 0, sizeof(p->p[i]));
	memcpy(p->p[i].name, name, len);
	p->p[i].value = v;
	p->n++;
	return UM_OK;
}
