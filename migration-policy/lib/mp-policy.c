/*
 * mp-policy.c - a migration policy's fields: names, parsing, one table for the
 * tags and the fleet keys
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * docs/policy.md describes the tags, the precedence and the chooser; the
 * domain XML (mp-domain.c), fleet files (mp-fleet.c), chooser
 * (mp-choose.c) and libvirt hook (mp-hook.c) are beside this file.
 * Nothing here prints.
 */
#include "mp-internal.h"
#include "mp-policy-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Names                                                               */

static const char *const objective_names[] = {
    [MP_OBJECTIVE_UNSET] = "unset",
    [MP_OBJECTIVE_DOWNTIME] = "downtime",
    [MP_OBJECTIVE_TOTAL_TIME] = "total-time",
    [MP_OBJECTIVE_TRAFFIC] = "traffic",
    [MP_OBJECTIVE_BALANCED] = "balanced",
};

static const char *const postcopy_names[] = {
    [MP_POSTCOPY_UNSET] = "unset",
    [MP_POSTCOPY_ALLOWED] = "allowed",
    [MP_POSTCOPY_FORBIDDEN] = "forbidden",
};

static const char *const tier_names[] = {
    [MP_TIER_UNSET] = "unset",
    [MP_TIER_FOG] = "fog",
    [MP_TIER_CLOUD] = "cloud",
};

const char *mp_objective_name(mp_objective o)
{
    return (unsigned)o < NELEM(objective_names) ? objective_names[o] : "unset";
}

const char *mp_postcopy_rule_name(mp_postcopy_rule r)
{
    return (unsigned)r < NELEM(postcopy_names) ? postcopy_names[r] : "unset";
}

const char *mp_tier_name(mp_tier t)
{
    return (unsigned)t < NELEM(tier_names) ? tier_names[t] : "unset";
}

/* ------------------------------------------------------------------ */
/* Fields: one table for tags and fleet keys                           */

static int parse_enum(const char *v, const char *const *names, size_t n,
                      int *out)
{
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void enum_choices(const char *const *names, size_t n, char *buf,
                         size_t len)
{
    size_t off = 0;

    buf[0] = 0;
    for (size_t i = 1; i < n && off < len; i++) {
        off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                i > 1 ? (i + 1 == n ? " or " : ", ") : "",
                                names[i]);
    }
}

/*
 * A positive decimal without unit, e.g. "300" or "2.5", at most @max:
 * -EINVAL (not such a number: "0x10", "1e3", "200ms", "-5"), -ERANGE
 * (0, or over @max).
 */
static int parse_positive_number(const char *v, double max, double *out)
{
    double d;

    if (mp_parse_decimal(v, &d)) {
        return -EINVAL;
    }
    if (!(d > 0) || d > max) {
        return -ERANGE;
    }
    *out = d;
    return 0;
}

static int parse_label(const char *v, char *out)
{
    size_t n = strlen(v);

    if (n == 0 || n >= MP_POLICY_LABEL_MAX) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i])) {
            return -EINVAL;
        }
    }
    memcpy(out, v, n + 1);
    return 0;
}

const char *const mp_policy_field_keys[MP_PF__COUNT] = {
    [MP_PF_OBJECTIVE] = "objective",
    [MP_PF_POSTCOPY] = "postcopy",
    [MP_PF_MAX_DOWNTIME] = "max-downtime-ms",
    [MP_PF_MAX_TRAFFIC] = "max-traffic-mib",
    [MP_PF_TIER] = "tier",
    [MP_PF_LABEL] = "label",
};

const char *mp_policy_field_name(mp_policy_field f)
{
    return (unsigned)f < MP_PF__COUNT ? mp_policy_field_keys[f] : NULL;
}

/* Trim white space in place; returns the start. */
int mp_policy_set_field(mp_policy *p, const char *key, const char *value,
                        char *msg, size_t msg_len)
{
    char buf[256], choices[128];
    char *v;
    int f, e = 0;

    for (f = 0; f < MP_PF__COUNT; f++) {
        if (strcmp(key, mp_policy_field_keys[f]) == 0) {
            break;
        }
    }
    if (f == MP_PF__COUNT) {
        mp_msg(msg, msg_len, "unknown element <%s> (known: objective, "
               "postcopy, max-downtime-ms, max-traffic-mib, tier, label)",
               key);
        return -ENOENT;
    }
    if (strlen(value) >= sizeof(buf)) {
        mp_msg(msg, msg_len, "<%s>: value too long", key);
        return -EINVAL;
    }
    strcpy(buf, value);
    v = mp_trim(buf);
    switch ((mp_policy_field)f) {
    case MP_PF_OBJECTIVE:
        if (parse_enum(v, objective_names, NELEM(objective_names), &e)) {
            enum_choices(objective_names, NELEM(objective_names), choices,
                         sizeof(choices));
            mp_msg(msg, msg_len, "<objective>: '%s' is not one of %s", v,
                   choices);
            return -EINVAL;
        }
        p->objective = (mp_objective)e;
        break;
    case MP_PF_POSTCOPY:
        if (parse_enum(v, postcopy_names, NELEM(postcopy_names), &e)) {
            mp_msg(msg, msg_len, "<postcopy>: '%s' is not allowed or "
                   "forbidden", v);
            return -EINVAL;
        }
        p->postcopy = (mp_postcopy_rule)e;
        break;
    case MP_PF_MAX_DOWNTIME:
        e = parse_positive_number(v, MP_POLICY_MAX_DOWNTIME_MS,
                                  &p->max_downtime_ms);
        if (e == -ERANGE) {
            mp_msg(msg, msg_len, "<max-downtime-ms>: '%s' is not in "
                   "0 < ms <= %u", v, MP_POLICY_MAX_DOWNTIME_MS);
            return -EINVAL;
        }
        if (e) {
            mp_msg(msg, msg_len, "<max-downtime-ms>: '%s' is not a positive "
                   "number of milliseconds (decimal, no unit)", v);
            return -EINVAL;
        }
        break;
    case MP_PF_MAX_TRAFFIC:
        e = parse_positive_number(v, MP_POLICY_MAX_TRAFFIC_MIB,
                                  &p->max_traffic_mib);
        if (e == -ERANGE) {
            mp_msg(msg, msg_len, "<max-traffic-mib>: '%s' is not in "
                   "0 < MiB <= %u", v, MP_POLICY_MAX_TRAFFIC_MIB);
            return -EINVAL;
        }
        if (e) {
            mp_msg(msg, msg_len, "<max-traffic-mib>: '%s' is not a positive "
                   "number of MiB (decimal, no unit)", v);
            return -EINVAL;
        }
        break;
    case MP_PF_TIER:
        if (parse_enum(v, tier_names, NELEM(tier_names), &e)) {
            mp_msg(msg, msg_len, "<tier>: '%s' is not fog or cloud", v);
            return -EINVAL;
        }
        p->tier = (mp_tier)e;
        break;
    case MP_PF_LABEL:
        if (parse_label(v, p->label)) {
            mp_msg(msg, msg_len, "<label>: '%s' is not 1-%u letters, digits, "
                   "'-', '_' or '.'", v, MP_POLICY_LABEL_MAX - 1);
            return -EINVAL;
        }
        break;
    default:
        return -ENOENT;
    }
    p->set |= 1u << f;
    return 0;
}
