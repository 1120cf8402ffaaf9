/*
 * mp-fleet.c - fleet policy files and the effective policy of a domain
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mp-internal.h"
#include "mp-policy-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest policy file, bytes: a fleet file is a few hundred lines. */
#define FLEET_FILE_MAX (1u << 20)

/* ------------------------------------------------------------------ */
/* Fleet policy files                                                  */

/*
 * Write an origin.  By construction it fits: a path of at most
 * MP_POLICY_PATH_MAX bytes, ":LINE [label=PATTERN]" with a pattern under
 * 256 bytes, and at most 60 bytes of words around one of those.
 */
_Static_assert(MP_POLICY_ORIGIN_MAX >= MP_POLICY_PATH_MAX + 24 + 256 + 100,
               "an origin must hold a path, a selector and its note");
void mp_origin_set(char *dst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, MP_POLICY_ORIGIN_MAX, fmt, ap);
    va_end(ap);
}

typedef enum sel_kind {
    SEL_ANY = 0,        /* [*] */
    SEL_NAME_GLOB = 1,  /* [name=web-*] */
    SEL_LABEL = 2,      /* [label=batch] */
    SEL_NAME = 3,       /* [name=web-1]: no wildcard */
} sel_kind;

typedef struct fleet_rule {
    sel_kind kind;
    char pattern[256];
    unsigned literal;   /* literal characters of a glob: more is more
                           specific */
    unsigned order;     /* load order: a later rule wins a tie */
    mp_policy p;
    unsigned enforce;   /* bit per field: tags may tighten, not loosen */
    int tenant_veto;    /* -1 unset, 0 no, 1 yes */
    bool have_enforce;
    char origin[MP_POLICY_ORIGIN_MAX];
} fleet_rule;

/* Rules, kept sorted from least to most specific (cmp_specificity()). */
struct mp_fleet {
    fleet_rule *rules;
    size_t n, cap;
    unsigned next_order;
};

mp_fleet *mp_fleet_new(void)
{
    return calloc(1, sizeof(mp_fleet));
}

void mp_fleet_free(mp_fleet *f)
{
    if (f) {
        free(f->rules);
        free(f);
    }
}

static int parse_selector(const char *s, fleet_rule *r)
{
    const char *v;

    if (strcmp(s, "*") == 0) {
        r->kind = SEL_ANY;
        r->pattern[0] = 0;
        return 0;
    }
    if (strncmp(s, "name=", 5) == 0) {
        v = s + 5;
        r->kind = strpbrk(v, "*?[") ? SEL_NAME_GLOB : SEL_NAME;
    } else if (strncmp(s, "label=", 6) == 0) {
        v = s + 6;
        r->kind = SEL_LABEL;
    } else {
        return -EINVAL;
    }
    if (!*v || strlen(v) >= sizeof(r->pattern)) {
        return -EINVAL;
    }
    strcpy(r->pattern, v);
    r->literal = 0;
    for (; *v; v++) {
        r->literal += !strchr("*?[]", *v);
    }
    return 0;
}

/* Is @a less specific than @b (applied first, so @b overrides)? */
static int cmp_specificity(const void *pa, const void *pb)
{
    const fleet_rule *a = pa, *b = pb;

    if (a->kind != b->kind) {
        return (int)a->kind - (int)b->kind;
    }
    if (a->literal != b->literal) {
        return a->literal < b->literal ? -1 : 1;
    }
    return a->order < b->order ? -1 : a->order > b->order;
}

static int fleet_push(mp_fleet *f, const fleet_rule *r)
{
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        fleet_rule *p = realloc(f->rules, ncap * sizeof(*p));
        if (!p) {
            return -ENOMEM;
        }
        f->rules = p;
        f->cap = ncap;
    }
    f->rules[f->n++] = *r;
    return 0;
}

/* "enforce = postcopy, max-traffic-mib" (or "all"): the fields of this
 * section that tags may only tighten. */
static int parse_enforce(char *v, fleet_rule *r, char *msg, size_t len)
{
    char *save = NULL;

    r->enforce = 0;
    r->have_enforce = true;
    for (char *t = strtok_r(v, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save)) {
        int f;
        if (strcmp(t, "all") == 0) {
            r->enforce = ~0u;
            continue;
        }
        for (f = 0; f < MP_PF__COUNT; f++) {
            if (f != MP_PF_LABEL && strcmp(t, mp_policy_field_keys[f]) == 0) {
                break;
            }
        }
        if (f == MP_PF__COUNT) {
            mp_msg(msg, len, "enforce: '%s' is not a policy key (objective, "
                   "postcopy, max-downtime-ms, max-traffic-mib, tier, or "
                   "all)", t);
            return -EINVAL;
        }
        r->enforce |= 1u << f;
    }
    if (!r->enforce) {
        mp_msg(msg, len, "enforce: names no key");
        return -EINVAL;
    }
    return 0;
}

/* End of a section: "all" becomes the keys it sets; an enforced key it
 * does not set is an error (enforcing nothing would look like a rule). */
static int fleet_close_section(fleet_rule *r, char *msg, size_t len)
{
    if (r->enforce == ~0u) {
        r->enforce = r->p.set & ~(1u << MP_PF_LABEL);
    } else if (r->enforce & ~r->p.set) {
        for (int f = 0; f < MP_PF__COUNT; f++) {
            if ((r->enforce & ~r->p.set) & (1u << f)) {
                mp_msg(msg, len, "enforce names %s, which this section does "
                       "not set", mp_policy_field_keys[f]);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* What mp_fleet_load_file() carries from one line to the next. */
typedef struct fleet_load {
    mp_fleet *f;
    const char *path;
    fleet_rule cur;
} fleet_load;

/* A section header: a new rule with its selector. */
static int fleet_section(fleet_load *ld, const mp_conf_item *it, char *msg,
                         size_t len)
{
    fleet_rule *cur = &ld->cur;

    memset(cur, 0, sizeof(*cur));
    cur->tenant_veto = -1;
    if (parse_selector(it->section, cur)) {
        mp_msg(msg, len, "unknown selector '%s' (expected *, name=GLOB or "
               "label=NAME)", it->section);
        return -EINVAL;
    }
    mp_origin_set(cur->origin, "%s:%u [%s%s]", ld->path, it->line,
                  cur->kind == SEL_ANY ? "*" :
                  cur->kind == SEL_LABEL ? "label=" : "name=", cur->pattern);
    return 0;
}

/* One "key = value" of the current section. */
static int fleet_setting(fleet_load *ld, const mp_conf_item *it, char *msg,
                         size_t len)
{
    fleet_rule *cur = &ld->cur;
    const char *key = it->key, *val = it->value;
    int fi;

    if (!it->section) {
        mp_msg(msg, len, "setting outside a section");
        return -EINVAL;
    }
    if (strcmp(key, "label") == 0) {
        mp_msg(msg, len, "'label' is a per-VM tag; select labelled VMs with "
               "[label=NAME]");
        return -EINVAL;
    }
    if (strcmp(key, "enforce") == 0) {
        char v[MP_CONF_LINE_MAX + 1];

        if (cur->have_enforce) {
            mp_msg(msg, len, "enforce given twice in this section");
            return -EINVAL;
        }
        snprintf(v, sizeof(v), "%s", val);
        return parse_enforce(v, cur, msg, len) ? -EINVAL : 0;
    }
    if (strcmp(key, "tenant-veto") == 0) {
        if (cur->tenant_veto >= 0) {
            mp_msg(msg, len, "tenant-veto given twice in this section");
            return -EINVAL;
        }
        if (strcmp(val, "yes") && strcmp(val, "no")) {
            mp_msg(msg, len, "tenant-veto: '%s' is not yes or no", val);
            return -EINVAL;
        }
        cur->tenant_veto = val[0] == 'y';
        return 0;
    }
    for (fi = 0; fi < MP_PF__COUNT; fi++) {
        if (strcmp(key, mp_policy_field_keys[fi]) == 0) {
            break;
        }
    }
    if (fi < MP_PF__COUNT && (cur->p.set & (1u << fi))) {
        mp_msg(msg, len, "%s given twice in this section", key);
        return -EINVAL;
    }
    return mp_policy_set_field(&cur->p, key, val, msg, len) ? -EINVAL : 0;
}

static int fleet_item(const mp_conf_item *it, void *opaque, char *msg,
                      size_t len)
{
    fleet_load *ld = opaque;
    int err;

    if (it->end) {
        err = fleet_close_section(&ld->cur, msg, len);
        return err ? err : fleet_push(ld->f, &ld->cur);
    }
    return it->key ? fleet_setting(ld, it, msg, len)
                   : fleet_section(ld, it, msg, len);
}

int mp_fleet_load_file(mp_fleet *f, const char *path, char *msg,
                       size_t msg_len)
{
    fleet_load ld = { .f = f, .path = path };
    size_t first = f->n;
    int err;

    /* The origin of every value names the file: it must fit whole. */
    if (strlen(path) > MP_POLICY_PATH_MAX) {
        mp_msg(msg, msg_len, "%.64s...: policy file path longer than %u "
               "bytes", path, MP_POLICY_PATH_MAX);
        return -ENAMETOOLONG;
    }
    err = mp_conf_read(path, FLEET_FILE_MAX, MP_CONF_SECTIONS, fleet_item,
                       &ld, msg, msg_len);
    if (err) {
        f->n = first;
        if (err == -ENOMEM) {
            mp_msg(msg, msg_len, "%s", mp_strerror(err));
        }
        return err;
    }
    for (size_t i = first; i < f->n; i++) {
        f->rules[i].order = f->next_order++;
    }
    if (f->n > 1) {     /* qsort(NULL, 0, ...) is undefined */
        qsort(f->rules, f->n, sizeof(*f->rules), cmp_specificity);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mp_fleet_load_dir(mp_fleet *f, const char *dir, char *msg,
                      size_t msg_len)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;

    /* A missing or misspelt directory is an error: silently no fleet
     * rules would drop every operator rule. */
    /* A missing or misspelt directory is an error: no rules at all would
     * silently drop every operator rule. */
    if (!d) {
        err = -errno;
        mp_msg(msg, msg_len, "policy directory %s: %s", dir,
               strerror(-err));
        return err;
    }
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 ||
            strcmp(de->d_name + l - 5, ".conf") != 0) {
            continue;
        }
        if (n == cap) {
            char **p;
            cap = cap ? cap * 2 : 16;
            p = realloc(names, cap * sizeof(*p));
            if (!p) {
                err = -ENOMEM;
                break;
            }
            names = p;
        }
        names[n] = malloc(strlen(dir) + l + 2);
        if (!names[n]) {
            err = -ENOMEM;
            break;
        }
        sprintf(names[n], "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (!err) {
        if (n) {
            qsort(names, n, sizeof(*names), cmp_str);
        }
        for (size_t i = 0; i < n && !err; i++) {
            err = mp_fleet_load_file(f, names[i], msg, msg_len);
        }
    } else {
        mp_msg(msg, msg_len, "%s", mp_strerror(err));
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return err;
}

/* Set field @f of @out from @src, with @origin. */
static void set_one(mp_policy *out, const mp_policy *src, int f,
                    const char *origin)
{
    switch ((mp_policy_field)f) {
    case MP_PF_OBJECTIVE:
        out->objective = src->objective;
        break;
    case MP_PF_POSTCOPY:
        out->postcopy = src->postcopy;
        break;
    case MP_PF_MAX_DOWNTIME:
        out->max_downtime_ms = src->max_downtime_ms;
        break;
    case MP_PF_MAX_TRAFFIC:
        out->max_traffic_mib = src->max_traffic_mib;
        break;
    case MP_PF_TIER:
        out->tier = src->tier;
        break;
    case MP_PF_LABEL:
        memcpy(out->label, src->label, sizeof(out->label));
        break;
    default:
        return;
    }
    out->set |= 1u << f;
    mp_origin_set(out->origin[f], "%s", origin);
}

static void apply_fields(mp_policy *out, const mp_policy *src,
                         const char *origin)
{
    for (int f = 0; f < MP_PF__COUNT; f++) {
        if (src->set & (1u << f)) {
            set_one(out, src, f, origin);
        }
    }
}

static bool rule_matches(const fleet_rule *r, const char *name,
                         const char *label)
{
    switch (r->kind) {
    case SEL_ANY:
        return true;
    case SEL_NAME:
        return strcmp(r->pattern, name) == 0;
    case SEL_NAME_GLOB:
        return fnmatch(r->pattern, name, 0) == 0;
    case SEL_LABEL:
        return label && *label && strcmp(r->pattern, label) == 0;
    }
    return false;
}

/*
 * Does tag value @t of field @f tighten (1), keep (0) or loosen (-1) the
 * enforced value in @p?  Limits tighten downwards; post-copy by being
 * forbidden; objective and tier have no order, so any change loosens.
 */
static int tag_tightens(const mp_policy *p, const mp_policy *t, int f)
{
    switch ((mp_policy_field)f) {
    case MP_PF_POSTCOPY:
        if (t->postcopy == p->postcopy) {
            return 0;
        }
        return t->postcopy == MP_POSTCOPY_FORBIDDEN ? 1 : -1;
    case MP_PF_MAX_DOWNTIME:
        return t->max_downtime_ms < p->max_downtime_ms ? 1 :
               t->max_downtime_ms > p->max_downtime_ms ? -1 : 0;
    case MP_PF_MAX_TRAFFIC:
        return t->max_traffic_mib < p->max_traffic_mib ? 1 :
               t->max_traffic_mib > p->max_traffic_mib ? -1 : 0;
    case MP_PF_OBJECTIVE:
        return t->objective == p->objective ? 0 : -1;
    case MP_PF_TIER:
        return t->tier == p->tier ? 0 : -1;
    default:
        return -1;
    }
}

static const char *field_value_text(const mp_policy *p, int f, char *buf,
                                    size_t len)
{
    switch ((mp_policy_field)f) {
    case MP_PF_OBJECTIVE:
        return mp_objective_name(p->objective);
    case MP_PF_POSTCOPY:
        return mp_postcopy_rule_name(p->postcopy);
    case MP_PF_MAX_DOWNTIME:
        snprintf(buf, len, "%g", p->max_downtime_ms);
        return buf;
    case MP_PF_MAX_TRAFFIC:
        snprintf(buf, len, "%g", p->max_traffic_mib);
        return buf;
    case MP_PF_TIER:
        return mp_tier_name(p->tier);
    default:
        return "?";
    }
}

void mp_policy_resolve(const mp_fleet *fleet, const char *name,
                       const mp_policy *tags, mp_policy *out)
{
    const char *label = tags && (tags->set & (1u << MP_PF_LABEL)) ?
                        tags->label : NULL;
    mp_policy defaults;
    mp_tier tier = MP_TIER_UNSET;
    bool tier_enforced = false;

    memset(out, 0, sizeof(*out));
    memset(&defaults, 0, sizeof(defaults));
    defaults.objective = MP_OBJECTIVE_BALANCED;
    defaults.postcopy = MP_POSTCOPY_ALLOWED;
    defaults.set = (1u << MP_PF_OBJECTIVE) | (1u << MP_PF_POSTCOPY);
    apply_fields(out, &defaults, "default");
    for (int f = 0; f < MP_PF__COUNT; f++) {
        if (!out->origin[f][0]) {
            snprintf(out->origin[f], sizeof(out->origin[f]), "default");
        }
    }
    out->tenant_veto = 1;
    snprintf(out->tenant_veto_origin, sizeof(out->tenant_veto_origin),
             "default");
    name = name ? name : "";

    /* A tier given anywhere sets the objective's default first: the most
     * specific rule's, or the tag's unless a rule enforces the tier. */
    for (size_t i = 0; fleet && i < fleet->n; i++) {
        const fleet_rule *r = &fleet->rules[i];
        if (rule_matches(r, name, label) && (r->p.set & (1u << MP_PF_TIER))) {
            tier = r->p.tier;
            tier_enforced = r->enforce & (1u << MP_PF_TIER);
        }
    }
    if (tags && (tags->set & (1u << MP_PF_TIER)) && !tier_enforced) {
        tier = tags->tier;
    }
    if (tier == MP_TIER_FOG) {
        /* Fog links are thin and shared: by default spare them. */
        out->objective = MP_OBJECTIVE_TRAFFIC;
        snprintf(out->origin[MP_PF_OBJECTIVE], MP_POLICY_ORIGIN_MAX,
                 "tier fog");
    }

    /* Fleet rules, least specific first (the array is kept sorted). */
    for (size_t i = 0; fleet && i < fleet->n; i++) {
        const fleet_rule *r = &fleet->rules[i];
        if (!rule_matches(r, name, label)) {
            continue;
        }
        for (int f = 0; f < MP_PF__COUNT; f++) {
            if (r->p.set & (1u << f)) {
                set_one(out, &r->p, f, r->origin);
                if (r->enforce & (1u << f)) {
                    out->enforced |= 1u << f;
                } else {
                    out->enforced &= ~(1u << f);
                }
            }
        }
        if (r->tenant_veto >= 0) {
            out->tenant_veto = r->tenant_veto;
            mp_origin_set(out->tenant_veto_origin, "%s", r->origin);
        }
    }
    if (!tags) {
        return;
    }

    /* The VM's tags: over everything that is not enforced; an enforced
     * value only where the tag tightens it. */
    for (int f = 0; f < MP_PF__COUNT; f++) {
        char was[MP_POLICY_ORIGIN_MAX], v[32];
        int t;

        if (!(tags->set & (1u << f))) {
            continue;
        }
        if (!(out->enforced & (1u << f))) {
            set_one(out, tags, f, "tag");
            out->from_tag |= 1u << f;
            continue;
        }
        t = tag_tightens(out, tags, f);
        snprintf(was, sizeof(was), "%s", out->origin[f]);
        if (t > 0) {
            set_one(out, tags, f, "tag");
            out->from_tag |= 1u << f;
            mp_origin_set(out->origin[f], "tag, tighter than enforced %s", was);
        } else if (t < 0) {
            out->tag_ignored |= 1u << f;
            mp_origin_set(out->origin[f], "%s, enforced; tag '%s' ignored", was,
                       field_value_text(tags, f, v, sizeof(v)));
        }
    }
}

int mp_policy_resolve_domain(const mp_fleet *fleet, const mp_domain *d,
                             int parse_err, const char *parse_msg,
                             mp_policy *out, char *msg, size_t msg_len)
{
    if (parse_err == 0) {
        mp_policy_resolve(fleet, d->name, d->has_policy ? &d->tags : NULL,
                          out);
        return 0;
    }
    if (parse_err != -EINVAL) {
        return parse_err;
    }
    /* Malformed tags: their label is unknown, so only [*] and [name=]
     * rules apply.  May tenants veto (the default)?  Then refuse. */
    mp_policy_resolve(fleet, d->name, NULL, out);
    if (out->tenant_veto) {
        return -EINVAL;
    }
    /* No: ignore the tags but fail closed on what they may have said:
     * post-copy forbidden. */
    out->postcopy = MP_POSTCOPY_FORBIDDEN;
    out->from_tag |= 1u << MP_PF_POSTCOPY;
    mp_origin_set(out->origin[MP_PF_POSTCOPY], "malformed tags, tenant-veto = "
               "no (%s)", out->tenant_veto_origin);
    mp_msg(msg, msg_len, "malformed policy tags ignored (tenant-veto = no, "
           "%s): %s; post-copy forbidden", out->tenant_veto_origin,
           parse_msg ? parse_msg : "");
    return 1;
}
