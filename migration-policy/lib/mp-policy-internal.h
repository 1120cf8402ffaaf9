/*
 * mp-policy-internal.h - what the policy's files share (mp-policy.c,
 * mp-domain.c, mp-fleet.c, mp-choose.c, mp-hook.c); not installed
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MP_POLICY_INTERNAL_H
#define MP_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "migpolicy.h"

/* The tag element and fleet key of each field (mp-policy.c). */
extern const char *const mp_policy_field_keys[MP_PF__COUNT];

/* Write an origin of at most MP_POLICY_ORIGIN_MAX bytes (mp-fleet.c). */
void mp_origin_set(char *dst, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* @bytes in MiB (mp-choose.c). */
double mp_mib(uint64_t bytes);

/* libxml2 helpers (mp-domain.c). */
bool mp_xml_is_elem(const xmlNode *n, const char *name);
bool mp_xml_in_ns(const xmlNode *n, const char *href);
/* The first child element @name without a namespace, or NULL. */
xmlNode *mp_xml_child(const xmlNode *parent, const char *name);
/*
 * Parse @xml (no network, DTD or entity expansion; libxml2 silent); NULL
 * with @msg on failure (@err: -EBADMSG, -EFBIG, -ENOMEM).
 */
xmlDoc *mp_xml_read(const char *xml, size_t len, int *err, char *msg,
                    size_t msg_len);

#endif /* MP_POLICY_INTERNAL_H */
