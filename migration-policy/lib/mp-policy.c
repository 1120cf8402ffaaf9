/*
 * mp-policy.c - migration policy: per-VM tags in the domain XML, fleet
 * policy files, the strategy chooser and the libvirt hook's decision
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * docs/policy.md describes the tags, the precedence and the chooser.
 * XML is read and written with libxml2 (no network, no entity
 * expansion).  Nothing here prints.
 */
#include "mp-internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

/* libvirt's namespace of <qemu:commandline>. */
#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

/* Largest policy file, bytes: a fleet file is a few hundred lines. */
#define FLEET_FILE_MAX (1u << 20)

/*
 * Zero-copy (same host, shared RAM): RAM stays in place (QEMU's
 * x-ignore-shared); only device state moves.  About 1 MiB of device
 * state for a small virtio guest, sent at the loopback rate, plus the
 * cost model's setup and switchover (docs/cost-model.md: 5 ms + 8 ms).
 * An estimate, not measured.
 */
#define ZERO_COPY_DEVICE_BYTES (1u << 20)
#define ZERO_COPY_SETUP_MS 5.0
#define ZERO_COPY_SWITCHOVER_MS 8.0
#define ZERO_COPY_BYTES_PER_S 250e6

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

static const char *const field_names[MP_PF__COUNT] = {
    [MP_PF_OBJECTIVE] = "objective",
    [MP_PF_POSTCOPY] = "postcopy",
    [MP_PF_MAX_DOWNTIME] = "max-downtime-ms",
    [MP_PF_MAX_TRAFFIC] = "max-traffic-mib",
    [MP_PF_TIER] = "tier",
    [MP_PF_LABEL] = "label",
};

const char *mp_policy_field_name(mp_policy_field f)
{
    return (unsigned)f < MP_PF__COUNT ? field_names[f] : NULL;
}

/* Trim white space in place; returns the start. */
static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = 0;
    }
    return s;
}

int mp_policy_set_field(mp_policy *p, const char *key, const char *value,
                        char *msg, size_t msg_len)
{
    char buf[256], choices[128];
    char *v;
    int f, e = 0;

    for (f = 0; f < MP_PF__COUNT; f++) {
        if (strcmp(key, field_names[f]) == 0) {
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
    v = trim(buf);
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

/* ------------------------------------------------------------------ */
/* Domain XML                                                          */

static bool is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE &&
           strcmp((const char *)n->name, name) == 0;
}

static bool in_ns(const xmlNode *n, const char *href)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, href) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next) {
        if (is_elem(c, name) && !c->ns) {
            return c;
        }
    }
    return NULL;
}

/* The trimmed text of @n into @out; -ENAMETOOLONG (and "") if it does
 * not fit: a cut name or path would name something else. */
static int copy_text(const xmlNode *n, char *out, size_t len)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    int err = 0;

    out[0] = 0;
    if (t) {
        char *s = trim((char *)t);
        if (strlen(s) >= len) {
            err = -ENAMETOOLONG;
        } else {
            memcpy(out, s, strlen(s) + 1);
        }
        xmlFree(t);
    }
    return err;
}

/* "6d3b7c1e-2f7a-4c55-9a38-1c0a7f6b2e01", lower or upper case hex. */
static bool is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return s[36] == 0;
}

/* libvirt's <memory unit='KiB'>N</memory> into bytes; 0 if unreadable. */
static uint64_t memory_bytes(const xmlNode *mem)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        { "b", 1 }, { "bytes", 1 }, { "KiB", 1024 }, { "k", 1024 },
        { "MiB", 1 << 20 }, { "M", 1 << 20 }, { "GiB", 1 << 30 },
        { "G", 1 << 30 }, { "KB", 1000 }, { "MB", 1000000 },
        { "GB", 1000000000 },
    };
    char text[64];
    xmlChar *u;
    uint64_t v, mul = 1024;

    if (!mem) {
        return 0;
    }
    if (copy_text(mem, text, sizeof(text)) || mp_parse_u64(text, &v)) {
        return 0;
    }
    u = xmlGetProp(mem, (const xmlChar *)"unit");
    if (u) {
        mul = 0;
        for (size_t i = 0; i < NELEM(units); i++) {
            if (strcmp((char *)u, units[i].unit) == 0) {
                mul = units[i].mul;
            }
        }
        xmlFree(u);
    }
    return v * mul;
}

static int parse_policy_elem(const xmlNode *pol, mp_policy *p, char *msg,
                             size_t msg_len)
{
    char sub[MP_POLICY_MSG_MAX];

    for (const xmlNode *c = pol->children; c; c = c->next) {
        char text[256];
        int f, err;

        if (c->type == XML_TEXT_NODE || c->type == XML_COMMENT_NODE) {
            if (c->type == XML_TEXT_NODE) {
                xmlChar *t = xmlNodeGetContent(c);
                bool blank = true;
                for (const xmlChar *q = t; q && *q; q++) {
                    blank = blank && isspace(*q);
                }
                xmlFree(t);
                if (!blank) {
                    mp_msg(msg, msg_len, "<mp:policy>: text outside an "
                           "element");
                    return -EINVAL;
                }
            }
            continue;
        }
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (c->ns && !in_ns(c, MP_POLICY_NS)) {
            mp_msg(msg, msg_len, "<mp:policy>: element <%s> is in foreign "
                   "namespace '%s'", (const char *)c->name,
                   (const char *)c->ns->href);
            return -EINVAL;
        }
        for (const xmlNode *g = c->children; g; g = g->next) {
            if (g->type == XML_ELEMENT_NODE) {
                mp_msg(msg, msg_len, "<mp:policy>/<%s>: expected text, "
                       "found element <%s>", (const char *)c->name,
                       (const char *)g->name);
                return -EINVAL;
            }
        }
        for (f = 0; f < MP_PF__COUNT; f++) {
            if (strcmp((const char *)c->name, field_names[f]) == 0) {
                break;
            }
        }
        if (f < MP_PF__COUNT && (p->set & (1u << f))) {
            mp_msg(msg, msg_len, "<mp:policy>/<%s>: given twice",
                   field_names[f]);
            return -EINVAL;
        }
        if (copy_text(c, text, sizeof(text))) {
            mp_msg(msg, msg_len, "<mp:policy>: <%s>: value longer than %zu "
                   "bytes", (const char *)c->name, sizeof(text) - 1);
            return -EINVAL;
        }
        err = mp_policy_set_field(p, (const char *)c->name, text, sub,
                                  sizeof(sub));
        if (err) {
            mp_msg(msg, msg_len, "<mp:policy>: %s", sub);
            return -EINVAL;
        }
    }
    return 0;
}

/* Reject the marker: it is then ignored as a whole (it grants nothing). */
static void marker_reject(mp_marker *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void marker_reject(mp_marker *m, const char *fmt, ...)
{
    va_list ap;

    if (!m->valid) {
        return;             /* keep the first reason */
    }
    m->valid = 0;
    va_start(ap, fmt);
    vsnprintf(m->reject_reason, sizeof(m->reject_reason), fmt, ap);
    va_end(ap);
}

/*
 * A marker is written by 'migpolicy migrate' (mp_marker_add_xml()) and
 * read by the destination's hook.  Anything it would not write makes
 * the marker invalid: a missing or unreadable expiry (a hand-made
 * postcopy="no" without one was honoured forever), an unknown strategy
 * or attribute, a postcopy= that is not "yes"/"no" or disagrees with the
 * strategy, a prediction that is not a decimal.
 */
static void parse_marker(const xmlNode *d, mp_marker *m)
{
    uint64_t v;
    double x;
    int s;

    if (m->present) {
        marker_reject(m, "more than one <mpd:decision>");
        return;
    }
    m->present = 1;
    m->valid = 1;
    m->downtime_ms = -1;
    m->traffic_mib = -1;
    for (const xmlAttr *a = d->properties; a; a = a->next) {
        const char *name = (const char *)a->name;
        xmlChar *val = xmlNodeListGetString(d->doc, a->children, 1);
        const char *t = val ? (const char *)val : "";

        if (a->ns) {
            marker_reject(m, "attribute %s in a namespace", name);
        } else if (strcmp(name, "strategy") == 0) {
            s = mp_strategy_from_name(t);
            if (s < 0) {
                marker_reject(m, "unknown strategy");
            } else {
                snprintf(m->strategy, sizeof(m->strategy), "%s", t);
            }
        } else if (strcmp(name, "postcopy") == 0) {
            if (strcmp(t, "yes") == 0 || strcmp(t, "no") == 0) {
                m->postcopy = t[0] == 'y';
                m->has_postcopy = 1;
            } else {
                marker_reject(m, "postcopy is not yes or no");
            }
        } else if (strcmp(name, "expires") == 0) {
            if (mp_parse_u64(t, &v) || v > INT64_MAX) {
                marker_reject(m, "expires is not a decimal Unix time");
            } else {
                m->expires_unix_s = (int64_t)v;
            }
        } else if (strcmp(name, "downtime-ms") == 0 ||
                   strcmp(name, "traffic-mib") == 0) {
            if (mp_parse_decimal(t, &x)) {
                marker_reject(m, "%s is not a decimal number", name);
            } else if (name[0] == 'd') {
                m->downtime_ms = x;
            } else {
                m->traffic_mib = x;
            }
        } else {
            marker_reject(m, "unknown attribute %s", name);
        }
        xmlFree(val);
    }
    if (!m->strategy[0]) {
        marker_reject(m, "no strategy");
    } else if (!m->has_postcopy) {
        marker_reject(m, "no postcopy attribute");
    } else if (m->postcopy != mp_strategy_uses_postcopy(
                   (mp_strategy)mp_strategy_from_name(m->strategy))) {
        marker_reject(m, "postcopy=%s contradicts strategy %s",
                      m->postcopy ? "yes" : "no", m->strategy);
    }
    if (m->expires_unix_s == 0) {
        marker_reject(m, "no expiry (expires=)");
    }
}

mp_marker_state mp_marker_check(const mp_marker *m, int64_t now_unix_s,
                                char *why, size_t why_len)
{
    if (!m->present) {
        mp_msg(why, why_len, "no marker");
        return MP_MARKER_NONE;
    }
    if (!m->valid) {
        mp_msg(why, why_len, "marker rejected: %s", m->reject_reason);
        return MP_MARKER_REJECTED;
    }
    if (m->expires_unix_s < now_unix_s) {
        mp_msg(why, why_len, "marker expired %lld s ago",
               (long long)(now_unix_s - m->expires_unix_s));
        return MP_MARKER_EXPIRED;
    }
    if (m->expires_unix_s - now_unix_s > MP_MARKER_MAX_AHEAD_S) {
        mp_msg(why, why_len, "marker rejected: expires %lld s from now, "
               "more than %u", (long long)(m->expires_unix_s - now_unix_s),
               MP_MARKER_MAX_AHEAD_S);
        return MP_MARKER_REJECTED;
    }
    mp_msg(why, why_len, "marker %s", m->strategy);
    return MP_MARKER_VALID;
}

/*
 * Untrusted XML (a tenant writes the metadata, a peer sends the domain):
 * no DTD at all, so no entity can be declared, expanded or fetched (an
 * internal entity was honoured before, and one 100 KB entity used 10,000
 * times cost seconds and a GiB); no network (XML_PARSE_NONET), no
 * XML_PARSE_NOENT, no XML_PARSE_HUGE (libxml2's default depth and text
 * limits stay), at most MP_DOMAIN_XML_MAX bytes.  The DOCTYPE is refused
 * from the SAX callback libxml2 calls when it meets one, before anything
 * of its internal subset is parsed.
 */
typedef struct xml_guard {
    bool doctype;
} xml_guard;

static void xml_refuse_doctype(void *ctx, const xmlChar *name,
                               const xmlChar *external_id,
                               const xmlChar *system_id)
{
    xmlParserCtxt *c = ctx;
    xml_guard *g = c->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    g->doctype = true;
    xmlStopParser(c);
}

static void xml_refuse_entity(void *ctx, const xmlChar *name, int type,
                              const xmlChar *public_id,
                              const xmlChar *system_id, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    xml_refuse_doctype(ctx, NULL, NULL, NULL);
}

/* libxml2's generic error handler, while we parse: says nothing. */
static void xml_quiet(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

/* Parse @xml; NULL with @msg on failure (@err: -EBADMSG, -EFBIG, -ENOMEM). */
static xmlDoc *read_xml(const char *xml, size_t len, int *err, char *msg,
                        size_t msg_len)
{
    xmlParserCtxt *c;
    xml_guard g = { .doctype = false };
    xmlDoc *doc;

    *err = 0;
    if (len > MP_DOMAIN_XML_MAX) {
        *err = -EFBIG;
        mp_msg(msg, msg_len, "domain XML of %zu bytes is over the limit of "
               "%u bytes", len, MP_DOMAIN_XML_MAX);
        return NULL;
    }
    c = xmlNewParserCtxt();
    if (!c || !c->sax) {
        xmlFreeParserCtxt(c);
        *err = -ENOMEM;
        mp_msg(msg, msg_len, "%s", mp_strerror(*err));
        return NULL;
    }
    c->_private = &g;
    c->sax->internalSubset = xml_refuse_doctype;
    c->sax->externalSubset = xml_refuse_doctype;
    c->sax->entityDecl = xml_refuse_entity;
    /*
     * XML_PARSE_NOERROR silences the parser, not libxml2's encoding and I/O
     * layers, which report through the thread's generic handler (stderr by
     * default): "encoding error : input conversion failed..." went ahead of
     * the hook's own reason in libvirt's error.  The library never prints:
     * quiet for this thread while parsing, then the caller's handler back.
     */
    {
        xmlGenericErrorFunc old = xmlGenericError;
        void *old_ctx = xmlGenericErrorContext;

        xmlSetGenericErrorFunc(NULL, xml_quiet);
        doc = xmlCtxtReadMemory(c, xml, (int)len, "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING);
        xmlSetGenericErrorFunc(old_ctx, old);
    }
    if (g.doctype || !doc || !c->wellFormed) {
        xmlFreeDoc(doc);
        doc = NULL;
        *err = -EBADMSG;
        if (g.doctype) {
            mp_msg(msg, msg_len, "domain XML with a <!DOCTYPE> (DTDs and "
                   "entities are not accepted)");
        } else {
            mp_msg(msg, msg_len, "not well-formed XML");
        }
    }
    xmlFreeParserCtxt(c);
    return doc;
}

static int parse_domain_doc(xmlDoc *doc, mp_domain *out, char *msg,
                            size_t msg_len)
{
    xmlNode *root = xmlDocGetRootElement(doc), *md, *mb, *dev;

    memset(out, 0, sizeof(*out));
    if (!is_elem(root, "domain")) {
        mp_msg(msg, msg_len, "not a libvirt domain XML (root element is "
               "not <domain>)");
        return -EBADMSG;
    }
    if (copy_text(child(root, "name"), out->name, sizeof(out->name))) {
        mp_msg(msg, msg_len, "<name>: longer than %zu bytes",
               sizeof(out->name) - 1);
        return -EBADMSG;
    }
    if (copy_text(child(root, "uuid"), out->uuid, sizeof(out->uuid)) ||
        (out->uuid[0] && !is_uuid(out->uuid))) {
        mp_msg(msg, msg_len, "<uuid>: not a UUID");
        return -EBADMSG;
    }
    out->memory_bytes = memory_bytes(child(root, "memory"));
    dev = child(root, "devices");
    if (copy_text(child(dev, "emulator"), out->emulator,
                  sizeof(out->emulator))) {
        mp_msg(msg, msg_len, "<emulator>: longer than %zu bytes",
               sizeof(out->emulator) - 1);
        return -EBADMSG;
    }
    mb = child(root, "memoryBacking");
    if (mb) {
        xmlNode *acc = child(mb, "access");
        xmlChar *mode = acc ? xmlGetProp(acc, (const xmlChar *)"mode") : NULL;
        out->ram_shareable = mode && strcmp((char *)mode, "shared") == 0;
        xmlFree(mode);
    }
    md = child(root, "metadata");
    for (xmlNode *c = md ? md->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && in_ns(c, MP_DECISION_NS) &&
            is_elem(c, "decision")) {
            parse_marker(c, &out->marker);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE || !in_ns(c, MP_POLICY_NS)) {
            continue;
        }
        if (is_elem(c, "policy")) {
            int err;
            if (out->has_policy) {
                mp_msg(msg, msg_len, "<metadata>: more than one <mp:policy>");
                return -EINVAL;
            }
            out->has_policy = 1;
            err = parse_policy_elem(c, &out->tags, msg, msg_len);
            if (err) {
                return err;
            }
        } else {
            mp_msg(msg, msg_len, "<metadata>: unknown element <mp:%s> in "
                   "the policy namespace (known: policy)",
                   (const char *)c->name);
            return -EINVAL;
        }
    }
    return 0;
}

int mp_domain_parse_xml(const char *xml, size_t len, mp_domain *out,
                        char *msg, size_t msg_len)
{
    int err;
    xmlDoc *doc = read_xml(xml, len, &err, msg, msg_len);

    if (!doc) {
        memset(out, 0, sizeof(*out));
        return err;
    }
    err = parse_domain_doc(doc, out, msg, msg_len);
    xmlFreeDoc(doc);
    return err;
}

/* ------------------------------------------------------------------ */
/* Fleet policy files                                                  */

/*
 * Write an origin.  By construction it fits: a path of at most
 * MP_POLICY_PATH_MAX bytes, ":LINE [label=PATTERN]" with a pattern under
 * 256 bytes, and at most 60 bytes of words around one of those.
 */
_Static_assert(MP_POLICY_ORIGIN_MAX >= MP_POLICY_PATH_MAX + 24 + 256 + 100,
               "an origin must hold a path, a selector and its note");
static void origin_set(char *dst, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void origin_set(char *dst, const char *fmt, ...)
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
            if (f != MP_PF_LABEL && strcmp(t, field_names[f]) == 0) {
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
                       "not set", field_names[f]);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/*
 * Open a policy file for reading without blocking on a FIFO or a device:
 * only a regular file of at most FLEET_FILE_MAX bytes.
 */
static FILE *open_regular(const char *path, size_t max, int *err, char *msg,
                          size_t msg_len)
{
    struct stat st;
    FILE *fp;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        *err = -errno;
        mp_msg(msg, msg_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        *err = -EINVAL;
        mp_msg(msg, msg_len, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        *err = -EFBIG;
        mp_msg(msg, msg_len, "%s: larger than %zu bytes", path, max);
        close(fd);
        return NULL;
    }
    fp = fdopen(fd, "r");
    if (!fp) {
        *err = -errno;
        mp_msg(msg, msg_len, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return fp;
}

int mp_fleet_load_file(mp_fleet *f, const char *path, char *msg,
                       size_t msg_len)
{
    char line[1024], sub[MP_POLICY_MSG_MAX];
    size_t first = f->n;
    unsigned lineno = 0;
    fleet_rule cur;
    bool in_section = false;
    long total = 0;
    int err = 0;
    FILE *fp;

    /* The origin of every value names the file: it must fit whole. */
    if (strlen(path) > MP_POLICY_PATH_MAX) {
        mp_msg(msg, msg_len, "%.64s...: policy file path longer than %u "
               "bytes", path, MP_POLICY_PATH_MAX);
        return -ENAMETOOLONG;
    }
    fp = open_regular(path, FLEET_FILE_MAX, &err, msg, msg_len);
    if (!fp) {
        return err;
    }
    memset(&cur, 0, sizeof(cur));
    while (fgets(line, sizeof(line), fp)) {
        char *s, *eq, *key, *val;
        size_t n = strlen(line);

        lineno++;
        total += (long)n;
        if (total > (long)FLEET_FILE_MAX) {
            mp_msg(msg, msg_len, "%s: larger than %u bytes", path,
                   FLEET_FILE_MAX);
            err = -EINVAL;
            break;
        }
        if (n && line[n - 1] != '\n' && !feof(fp)) {
            mp_msg(msg, msg_len, "%s:%u: line too long", path, lineno);
            err = -EINVAL;
            break;
        }
        if (strlen(line) != n || (n && memchr(line, '\0', n))) {
            mp_msg(msg, msg_len, "%s:%u: NUL byte", path, lineno);
            err = -EINVAL;
            break;
        }
        s = trim(line);
        for (const char *q = s; *q; q++) {
            if ((unsigned char)*q < 0x20 && *q != '\t') {
                mp_msg(msg, msg_len, "%s:%u: control character 0x%02x",
                       path, lineno, (unsigned char)*q);
                err = -EINVAL;
                break;
            }
        }
        if (err) {
            break;
        }
        if (!*s || *s == '#' || *s == ';') {
            continue;
        }
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (in_section &&
                ((err = fleet_close_section(&cur, sub, sizeof(sub))) ||
                 (err = fleet_push(f, &cur)))) {
                if (err != -ENOMEM) {
                    mp_msg(msg, msg_len, "%s [section ending before line "
                           "%u]: %s", cur.origin, lineno, sub);
                }
                break;
            }
            memset(&cur, 0, sizeof(cur));
            cur.tenant_veto = -1;
            if (!e || e[1]) {
                mp_msg(msg, msg_len, "%s:%u: malformed section header "
                       "(expected [*], [name=GLOB] or [label=NAME] alone on "
                       "its line)", path, lineno);
                err = -EINVAL;
                break;
            }
            *e = 0;
            if (parse_selector(trim(s + 1), &cur)) {
                mp_msg(msg, msg_len, "%s:%u: unknown selector '%s' (expected "
                       "*, name=GLOB or label=NAME)", path, lineno,
                       trim(s + 1));
                err = -EINVAL;
                break;
            }
            origin_set(cur.origin, "%s:%u [%s%s]", path, lineno,
                       cur.kind == SEL_ANY ? "*" :
                       cur.kind == SEL_LABEL ? "label=" : "name=",
                       cur.pattern);
            in_section = true;
            continue;
        }
        if (!in_section) {
            mp_msg(msg, msg_len, "%s:%u: setting outside a section", path,
                   lineno);
            err = -EINVAL;
            break;
        }
        eq = strchr(s, '=');
        if (!eq) {
            mp_msg(msg, msg_len, "%s:%u: expected 'key = value'", path,
                   lineno);
            err = -EINVAL;
            break;
        }
        *eq = 0;
        key = trim(s);
        val = trim(eq + 1);
        if (strcmp(key, "label") == 0) {
            mp_msg(msg, msg_len, "%s:%u: 'label' is a per-VM tag; select "
                   "labelled VMs with [label=NAME]", path, lineno);
            err = -EINVAL;
            break;
        }
        if (strcmp(key, "enforce") == 0) {
            if (cur.have_enforce) {
                mp_msg(msg, msg_len, "%s:%u: enforce given twice in this "
                       "section", path, lineno);
                err = -EINVAL;
                break;
            }
            if (parse_enforce(val, &cur, sub, sizeof(sub))) {
                mp_msg(msg, msg_len, "%s:%u: %s", path, lineno, sub);
                err = -EINVAL;
                break;
            }
            continue;
        }
        if (strcmp(key, "tenant-veto") == 0) {
            if (cur.tenant_veto >= 0) {
                mp_msg(msg, msg_len, "%s:%u: tenant-veto given twice in "
                       "this section", path, lineno);
                err = -EINVAL;
                break;
            }
            if (strcmp(val, "yes") && strcmp(val, "no")) {
                mp_msg(msg, msg_len, "%s:%u: tenant-veto: '%s' is not yes "
                       "or no", path, lineno, val);
                err = -EINVAL;
                break;
            }
            cur.tenant_veto = val[0] == 'y';
            continue;
        }
        {
            int fi;
            for (fi = 0; fi < MP_PF__COUNT; fi++) {
                if (strcmp(key, field_names[fi]) == 0) {
                    break;
                }
            }
            if (fi < MP_PF__COUNT && (cur.p.set & (1u << fi))) {
                mp_msg(msg, msg_len, "%s:%u: %s given twice in this section",
                       path, lineno, key);
                err = -EINVAL;
                break;
            }
        }
        if (mp_policy_set_field(&cur.p, key, val, sub, sizeof(sub))) {
            mp_msg(msg, msg_len, "%s:%u: %s", path, lineno, sub);
            err = -EINVAL;
            break;
        }
    }
    if (!err && ferror(fp)) {
        err = -EIO;
        mp_msg(msg, msg_len, "%s: read error", path);
    }
    if (!err && in_section) {
        err = fleet_close_section(&cur, sub, sizeof(sub));
        if (err) {
            mp_msg(msg, msg_len, "%s: %s", cur.origin, sub);
        } else {
            err = fleet_push(f, &cur);
        }
    }
    fclose(fp);
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
    origin_set(out->origin[f], "%s", origin);
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
            origin_set(out->tenant_veto_origin, "%s", r->origin);
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
            origin_set(out->origin[f], "tag, tighter than enforced %s", was);
        } else if (t < 0) {
            out->tag_ignored |= 1u << f;
            origin_set(out->origin[f], "%s, enforced; tag '%s' ignored", was,
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
    origin_set(out->origin[MP_PF_POSTCOPY], "malformed tags, tenant-veto = "
               "no (%s)", out->tenant_veto_origin);
    mp_msg(msg, msg_len, "malformed policy tags ignored (tenant-veto = no, "
           "%s): %s; post-copy forbidden", out->tenant_veto_origin,
           parse_msg ? parse_msg : "");
    return 1;
}

/* ------------------------------------------------------------------ */
/* Chooser                                                             */

static double mib(uint64_t bytes)
{
    return (double)bytes / 1048576.0;
}

static void add_reason(mp_choice_row *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_reason(mp_choice_row *r, const char *fmt, ...)
{
    size_t off = strlen(r->reason);
    va_list ap;

    if (off && off + 2 < sizeof(r->reason)) {
        strcpy(r->reason + off, "; ");
        off += 2;
    }
    va_start(ap, fmt);
    vsnprintf(r->reason + off, sizeof(r->reason) - off, fmt, ap);
    va_end(ap);
}

static void predict_zero_copy(mp_sim_result *res)
{
    double xfer_ms = ZERO_COPY_DEVICE_BYTES / ZERO_COPY_BYTES_PER_S * 1000;

    memset(res, 0, sizeof(*res));
    res->converged = 1;
    res->switch_time_ms = -1;
    res->setup_time_ms = ZERO_COPY_SETUP_MS;
    res->downtime_ms = ZERO_COPY_SWITCHOVER_MS + xfer_ms;
    res->total_time_ms = ZERO_COPY_SETUP_MS + res->downtime_ms;
    res->bytes_total = ZERO_COPY_DEVICE_BYTES;
    res->bytes_downtime = ZERO_COPY_DEVICE_BYTES;
}

/* Figures a candidate is judged on (M_SCORE: balanced, M_PAUSE: the
 * downtime objective). */
enum { M_DOWNTIME, M_TOTAL, M_BYTES, M_EXPOSURE, M_SCORE, M_PAUSE,
       M__COUNT };

/* QEMU's CPU_THROTTLE_TIMESLICE_NS (migration/cpu-throttle.c), ms. */
#define CPU_THROTTLE_SLICE_MS 10.0

/*
 * The pause the guest sees: STOP -> RESUME, the auto-converge throttle's
 * sleeps, and in post-copy the time its vCPU waits for remote pages.  QEMU's downtime of a post-copy
 * migration is only the switch (6-35 ms measured), but the guest's
 * heartbeat stopped for 0.5-1.1 s while its pages were pulled (vCPU
 * blocktime 0.6-1.1 s, wh64 and even idle at 125 MB/s, 0-50 ms RTT):
 * an owner who asks for the least downtime means the latter.
 */
double mp_choice_pause_ms(const mp_sim_result *r)
{
    double pause = r->downtime_ms;

    /* Auto-converge: at throttle p QEMU's cpu_throttle_thread() puts the
     * vCPU to sleep p / (1 - p) x its 10 ms timeslice at a stretch (990 ms
     * at 99 %): the guest's heartbeat stopped 0.98-1.04 s (wh256, 99 %)
     * and 55-188 ms (wh64, 90 % predicted). */
    if (r->throttle_pct > 0 && r->throttle_pct < 100) {
        pause = fmax(pause, r->throttle_pct / (100 - r->throttle_pct) *
                            CPU_THROTTLE_SLICE_MS);
    }
    /* Post-copy: all of the vCPU's waits, an upper bound of the longest
     * one (measured 0.15-1 x the total). */
    return pause + (r->switched ? r->blocktime_ms : 0);
}

static void metrics(const mp_sim_result *r, double m[M__COUNT])
{
    m[M_DOWNTIME] = r->downtime_ms;
    m[M_TOTAL] = r->total_time_ms;
    m[M_BYTES] = (double)r->bytes_total;
    m[M_EXPOSURE] = r->exposure_ms;
    m[M_SCORE] = 0;
    m[M_PAUSE] = mp_choice_pause_ms(r);
}

/*
 * How each objective picks: the primary figure decides unless two
 * candidates are within its tolerance (max(abs, rel x best)) of the best;
 * among those the tie-breakers decide in order.  The tolerances are the
 * model's resolution, not preferences: a switchover alone measured
 * 6.4-10.7 ms (docs/cost-model.md) and short pre-copy downtimes are the
 * model's least accurate figure, so a downtime 10 ms shorter must not buy
 * seconds of post-copy exposure; totals vary 10-25 % run to run (notes),
 * 5 % is the least difference worth a choice; bytes agree within 6 %
 * (validation), 2 % keeps near-equal traffic from deciding.
 */
static const struct objective_rule {
    int primary;
    double tol_abs, tol_rel;
    int tie[3];
} objective_rules[] = {
    [MP_OBJECTIVE_DOWNTIME] = { M_PAUSE, 10.0 /* ms */, 0.10,
                                { M_EXPOSURE, M_TOTAL, M_BYTES } },
    /* Equal totals: no exposure first (as for downtime): the idle guest's
     * post-copy and pre-copy were predicted equal (0.91 s) and measured
     * 0.70-1.11 s against 0.52-0.65 s (docs/policy-regret.md). */
    [MP_OBJECTIVE_TOTAL_TIME] = { M_TOTAL, 100.0 /* ms */, 0.05,
                                  { M_EXPOSURE, M_DOWNTIME, M_BYTES } },
    [MP_OBJECTIVE_TRAFFIC] = { M_BYTES, 1048576.0 /* B */, 0.02,
                               { M_TOTAL, M_DOWNTIME, M_EXPOSURE } },
    /* balanced: mean of the four figures over their largest value. */
    [MP_OBJECTIVE_BALANCED] = { M_SCORE, 0.02, 0.0,
                                { M_EXPOSURE, M_DOWNTIME, M_TOTAL } },
};

int mp_policy_choose(const mp_policy *policy, const mp_choose_input *in,
                     mp_choice *out)
{
    mp_sim_input si = in->sim;
    double max[4] = { 0, 0, 0, 0 };
    double limit;

    memset(out, 0, sizeof(*out));
    out->policy = *policy;
    out->objective = policy->objective ? policy->objective :
                     MP_OBJECTIVE_BALANCED;
    out->chosen = -1;
    limit = si.downtime_limit_ms > 0 ? si.downtime_limit_ms :
            MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS;
    /* QEMU's downtime-limit is what pre-copy aims at: a tighter policy
     * limit becomes QEMU's limit. */
    if (policy->max_downtime_ms > 0 && policy->max_downtime_ms < limit) {
        limit = policy->max_downtime_ms;
    }
    si.downtime_limit_ms = limit;
    out->downtime_limit_ms = limit;

    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        mp_choice_row *r = &out->rows[s];
        int err;

        r->strategy = (mp_strategy)s;
        r->verdict = MP_VERDICT_ELIGIBLE;
        if (s == MP_STRATEGY_ZERO_COPY) {
            if (!in->same_host) {
                add_reason(r, "destination is another host (zero-copy "
                           "leaves RAM in place: same host only)");
            }
            if (!in->ram_shareable) {
                add_reason(r, "guest RAM is not shareable (needs "
                           "<memoryBacking><access mode='shared'/>)");
            }
            if (r->reason[0]) {
                r->verdict = MP_VERDICT_UNAVAILABLE;
                continue;
            }
            predict_zero_copy(&r->sim);
            r->predicted = 1;
        } else {
            si.strategy = (mp_sim_strategy)mp_strategy_sim((mp_strategy)s);
            err = mp_sim_run(&si, &r->sim);
            if (err) {
                return err;
            }
            r->predicted = 1;
            if (s == MP_STRATEGY_PREDICTIVE && !in->phase_sched) {
                r->verdict = MP_VERDICT_UNAVAILABLE;
                add_reason(r, "source QEMU lacks the x-phase-sched "
                           "capability");
                continue;
            }
        }
        if (!r->sim.converged) {
            add_reason(r, "does not complete before the %.0f s timeout",
                       (si.timeout_s > 0 ? si.timeout_s :
                        MP_SIM_DEFAULT_TIMEOUT_S));
        }
        if (mp_strategy_uses_postcopy((mp_strategy)s) &&
            policy->postcopy == MP_POSTCOPY_FORBIDDEN) {
            add_reason(r, "post-copy forbidden (%s)",
                       policy->origin[MP_PF_POSTCOPY]);
        }
        if (policy->max_downtime_ms > 0 &&
            r->sim.downtime_ms > policy->max_downtime_ms) {
            add_reason(r, "downtime %.0f ms > max-downtime-ms %g (%s)",
                       r->sim.downtime_ms, policy->max_downtime_ms,
                       policy->origin[MP_PF_MAX_DOWNTIME]);
        }
        if (policy->max_traffic_mib > 0 &&
            mib(r->sim.bytes_total) > policy->max_traffic_mib) {
            add_reason(r, "traffic %.0f MiB > max-traffic-mib %g (%s)",
                       mib(r->sim.bytes_total), policy->max_traffic_mib,
                       policy->origin[MP_PF_MAX_TRAFFIC]);
        }
        if (r->reason[0]) {
            r->verdict = MP_VERDICT_DROPPED;
            continue;
        }
        max[0] = fmax(max[0], r->sim.downtime_ms);
        max[1] = fmax(max[1], r->sim.total_time_ms);
        max[2] = fmax(max[2], (double)r->sim.bytes_total);
        max[3] = fmax(max[3], r->sim.exposure_ms);
    }
    {
        const struct objective_rule *rule = &objective_rules[out->objective];
        double m[MP_STRATEGY__COUNT][M__COUNT], best = INFINITY, tol;

        for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
            mp_choice_row *r = &out->rows[s];
            if (r->verdict != MP_VERDICT_ELIGIBLE) {
                continue;
            }
            metrics(&r->sim, m[s]);
            for (int i = 0; i < M_SCORE; i++) {
                m[s][M_SCORE] += max[i] > 0 ? m[s][i] / max[i] / 4 : 0;
            }
            r->score = m[s][rule->primary];
            best = fmin(best, r->score);
        }
        tol = fmax(rule->tol_abs, rule->tol_rel * best);
        for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
            int c = out->chosen;
            if (out->rows[s].verdict != MP_VERDICT_ELIGIBLE ||
                out->rows[s].score > best + tol) {
                continue;
            }
            if (c < 0) {
                out->chosen = s;
                continue;
            }
            /* Strictly better only: ties keep the earlier (simpler)
             * strategy. */
            for (int k = 0; k < 3; k++) {
                int i = rule->tie[k];
                if (m[s][i] != m[c][i]) {
                    if (m[s][i] < m[c][i]) {
                        out->chosen = s;
                    }
                    break;
                }
            }
        }
    }
    if (out->chosen < 0) {
        return -ENOENT;
    }
    out->rows[out->chosen].verdict = MP_VERDICT_CHOSEN;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Hook and marker                                                     */

static int dump_doc(xmlDoc *doc, char **out)
{
    xmlBuffer *buf = xmlBufferCreate();
    xmlSaveCtxt *ctx;
    int err = 0;

    *out = NULL;
    if (!buf) {
        return -ENOMEM;
    }
    ctx = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL);
    if (!ctx) {
        xmlBufferFree(buf);
        return -ENOMEM;
    }
    if (xmlSaveDoc(ctx, doc) < 0) {
        err = -ENOMEM;
    }
    xmlSaveClose(ctx);
    if (!err) {
        *out = strdup((const char *)xmlBufferContent(buf));
        if (!*out) {
            err = -ENOMEM;
        }
    }
    xmlBufferFree(buf);
    return err;
}

/* Remove every <mpd:decision> under <metadata>; returns how many. */
static int remove_markers(xmlNode *root)
{
    xmlNode *md = child(root, "metadata"), *c, *next;
    int n = 0;

    for (c = md ? md->children : NULL; c; c = next) {
        next = c->next;
        if (is_elem(c, "decision") && in_ns(c, MP_DECISION_NS)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            n++;
        }
    }
    return n;
}

/* The arguments the hook adds for our fork: the capability needs
 * postcopy-ram at QEMU start (migration_object_check()). */
static const char *const phase_sched_args[] = {
    "-global", "migration.x-postcopy-ram=on",
    "-global", "migration.x-phase-sched=on",
};

static bool is_injected_arg(const xmlNode *n, size_t *idx)
{
    xmlChar *v;
    bool hit = false;

    if (!is_elem(n, "arg") || !in_ns(n, QEMU_NS)) {
        return false;
    }
    v = xmlGetProp(n, (const xmlChar *)"value");
    for (size_t i = 1; v && i < NELEM(phase_sched_args); i += 2) {
        if (strcmp((char *)v, phase_sched_args[i]) == 0) {
            *idx = i;
            hit = true;
        }
    }
    xmlFree(v);
    return hit;
}

/*
 * Remove the arguments inject_args() adds (each "-global" with its value)
 * from <qemu:commandline>, and the element if nothing is left in it: a
 * pre-copy migration must not start the destination with x-phase-sched on
 * (libvirt sets postcopy-ram=false there and the fork refuses).  Returns
 * the number of arguments removed.
 */
/*
 * Remove a qemu:commandline <arg> and the "-global" <arg> before it (its
 * previous element sibling), if that is one.
 */
static void remove_global_arg(xmlNode *a)
{
    xmlNode *g = a->prev;

    while (g && g->type != XML_ELEMENT_NODE) {
        g = g->prev;
    }
    if (g && is_elem(g, "arg")) {
        xmlChar *gv = xmlGetProp(g, (const xmlChar *)"value");
        bool is_global = gv && strcmp((char *)gv, "-global") == 0;

        xmlFree(gv);
        if (is_global) {
            xmlUnlinkNode(g);
            xmlFreeNode(g);
        }
    }
    xmlUnlinkNode(a);
    xmlFreeNode(a);
}

static int strip_injected_args(xmlNode *root)
{
    int removed = 0;

    for (xmlNode *cl = root->children, *ncl; cl; cl = ncl) {
        bool left = false;
        ncl = cl->next;
        if (!is_elem(cl, "commandline") || !in_ns(cl, QEMU_NS)) {
            continue;
        }
        for (xmlNode *a = cl->children, *next; a; a = next) {
            size_t idx;
            next = a->next;
            if (is_injected_arg(a, &idx)) {
                remove_global_arg(a);
                removed++;
            }
        }
        for (xmlNode *a = cl->children; a; a = a->next) {
            left = left || a->type == XML_ELEMENT_NODE;
        }
        if (!left && removed) {
            xmlUnlinkNode(cl);
            xmlFreeNode(cl);
        }
    }
    return removed;
}

/* The -global the hook owns for the downtime limit. */
#define DOWNTIME_LIMIT_PREFIX "migration.x-downtime-limit="

/*
 * QEMU downtime-limit (ms) that carries the policy's max-downtime-ms:
 * only a limit tighter than QEMU's default, as 'migpolicy migrate' applies
 * it; 0 = none.
 */
static uint64_t carried_downtime_limit(const mp_policy *p)
{
    if (p->max_downtime_ms > 0 &&
        p->max_downtime_ms < MP_SIM_DEFAULT_DOWNTIME_LIMIT_MS) {
        uint64_t ms = (uint64_t)floor(p->max_downtime_ms);
        return ms ? ms : 1;
    }
    return 0;
}

/*
 * Make <qemu:commandline> hold "-global migration.x-downtime-limit=@ms"
 * (@ms > 0) or no such argument (@ms == 0): an existing one is replaced
 * or removed with its "-global".  Returns 1 if the XML changed, 0 if not,
 * -ENOMEM.
 */
static int set_downtime_limit_arg(xmlNode *root, uint64_t ms)
{
    char want[64];
    bool found = false;
    int changed = 0;

    snprintf(want, sizeof(want), DOWNTIME_LIMIT_PREFIX "%llu",
             (unsigned long long)ms);
    for (xmlNode *cl = root->children, *ncl; cl; cl = ncl) {
        bool removed = false, left = false;
        ncl = cl->next;
        if (!is_elem(cl, "commandline") || !in_ns(cl, QEMU_NS)) {
            continue;
        }
        for (xmlNode *a = cl->children, *next; a; a = next) {
            xmlChar *v;
            bool ours, same;
            next = a->next;
            if (!is_elem(a, "arg") || !in_ns(a, QEMU_NS)) {
                continue;
            }
            v = xmlGetProp(a, (const xmlChar *)"value");
            ours = v && strncmp((char *)v, DOWNTIME_LIMIT_PREFIX,
                                strlen(DOWNTIME_LIMIT_PREFIX)) == 0;
            same = ours && strcmp((char *)v, want) == 0;
            xmlFree(v);
            if (!ours || (same && ms && !found)) {
                found = found || same;
                continue;
            }
            remove_global_arg(a);
            changed = 1;
            removed = true;
        }
        /* Nothing left in it: remove the element too. */
        for (xmlNode *a = cl->children; a; a = a->next) {
            left = left || a->type == XML_ELEMENT_NODE;
        }
        if (removed && !left) {
            xmlUnlinkNode(cl);
            xmlFreeNode(cl);
        }
    }
    if (ms && !found) {
        const char *args[] = { "-global", want };
        xmlNode *cl = NULL;
        for (xmlNode *c = root->children; c; c = c->next) {
            if (is_elem(c, "commandline") && in_ns(c, QEMU_NS)) {
                cl = c;
                break;
            }
        }
        if (!cl) {
            xmlNs *ns;
            cl = xmlNewChild(root, NULL, (const xmlChar *)"commandline",
                             NULL);
            ns = cl ? xmlNewNs(cl, (const xmlChar *)QEMU_NS,
                               (const xmlChar *)"qemu") : NULL;
            if (!ns) {
                return -ENOMEM;
            }
            xmlSetNs(cl, ns);
        }
        for (size_t i = 0; i < 2; i++) {
            xmlNode *a = xmlNewChild(cl, cl->ns, (const xmlChar *)"arg",
                                     NULL);
            if (!a || !xmlSetProp(a, (const xmlChar *)"value",
                                  (const xmlChar *)args[i])) {
                return -ENOMEM;
            }
        }
        changed = 1;
    }
    return changed;
}

int mp_policy_traffic_exceeded(const mp_policy *policy, uint64_t bytes_sent,
                               char *msg, size_t msg_len)
{
    if (!(policy->max_traffic_mib > 0) ||
        mib(bytes_sent) <= policy->max_traffic_mib) {
        return 0;
    }
    if (msg) {
        mp_msg(msg, msg_len, "sent %.1f MiB > max-traffic-mib %g (%s)",
               mib(bytes_sent), policy->max_traffic_mib,
               policy->origin[MP_PF_MAX_TRAFFIC]);
    }
    return 1;
}

/* Is field @f's value the tenant's own (a tag)? */
static bool tenant_field(const mp_policy *p, mp_policy_field f)
{
    return p->from_tag & (1u << f);
}

/*
 * Parse the incoming XML and resolve its policy, failing closed: 0 (and
 * @warn may hold a warning), or 1 with @res vetoed.
 */
static int hook_resolve(const char *xml, size_t len, const mp_fleet *fleet,
                        mp_domain *dom, mp_hook_result *res, char *warn,
                        size_t warn_len)
{
    char msg[MP_POLICY_MSG_MAX];
    int err, rr;

    err = mp_domain_parse_xml(xml, len, dom, msg, sizeof(msg));
    if (err == -ENOMEM) {
        return err;
    }
    if (err && err != -EINVAL) {
        res->veto = 1;
        mp_msg(res->reason, sizeof(res->reason), "migpolicy: refusing "
               "the incoming domain: %s", msg);
        mp_msg(res->log, sizeof(res->log), "%s veto: %s",
               dom->name[0] ? dom->name : "?", msg);
        return 1;
    }
    rr = mp_policy_resolve_domain(fleet, dom, err, msg, &res->policy, warn,
                                  warn_len);
    if (rr < 0) {
        res->veto = 1;
        mp_msg(res->reason, sizeof(res->reason), "migpolicy: refusing "
               "migration of '%s': malformed policy: %s", dom->name, msg);
        mp_msg(res->log, sizeof(res->log), "%s veto: malformed policy: %s",
               dom->name, msg);
        return 1;
    }
    return 0;
}

int mp_hook_migrate_begin(const char *xml, size_t len, const mp_fleet *fleet,
                          const mp_hook_options *opt, mp_hook_result *res)
{
    mp_domain dom;
    mp_marker *m = &dom.marker;
    mp_policy *p = &res->policy;
    char msg[MP_POLICY_MSG_MAX], warn[MP_POLICY_MSG_MAX] = "";
    char mwhy[160], ewhy[MP_POLICY_MSG_MAX] = "", how[MP_POLICY_MSG_MAX];
    bool marked;
    int err;

    memset(res, 0, sizeof(*res));
    err = hook_resolve(xml, len, fleet, &dom, res, warn, sizeof(warn));
    if (err) {
        return err < 0 ? err : 0;
    }
    marked = mp_marker_check(m, opt->now_unix_s, mwhy, sizeof(mwhy)) ==
             MP_MARKER_VALID;
    snprintf(how, sizeof(how), "postcopy=%s", mp_postcopy_rule_name(p->postcopy));

    if (p->postcopy == MP_POSTCOPY_FORBIDDEN) {
        res->enforced = opt->emulator_enforces &&
                        opt->emulator_enforces(dom.emulator, opt->opaque,
                                               ewhy, sizeof(ewhy)) == 1;
        if (!opt->emulator_enforces) {
            snprintf(ewhy, sizeof(ewhy), "no emulator check");
        }
        if (marked && m->postcopy) {
            res->veto = 1;
            mp_msg(res->reason, sizeof(res->reason), "migpolicy: refusing "
                   "migration of '%s': post-copy is forbidden (%s) and this "
                   "migration is marked post-copy (strategy %s)", dom.name,
                   p->origin[MP_PF_POSTCOPY], m->strategy);
        } else if (res->enforced) {
            snprintf(how, sizeof(how), "postcopy=forbidden (enforced: the "
                     "emulator wrapper disables userfaultfd)");
        } else if (marked) {
            snprintf(how, sizeof(how), "postcopy=forbidden (not enforced: "
                     "%s; the marker declares pre-copy)", ewhy);
        } else if (opt->unmarked == MP_HOOK_UNMARKED_ALLOW) {
            snprintf(how, sizeof(how), "postcopy=forbidden (not enforced: "
                     "%s; unmarked = allow)", ewhy);
        } else if (tenant_field(p, MP_PF_POSTCOPY) && !p->tenant_veto) {
            snprintf(how, sizeof(how), "postcopy=forbidden (not enforced: "
                     "%s; the tenant's prohibition, tenant-veto = no)", ewhy);
        } else {
            res->veto = 1;
            mp_msg(res->reason, sizeof(res->reason), "migpolicy: refusing "
                   "migration of '%s': post-copy is forbidden (%s) and this "
                   "host cannot enforce it (%s), nor can libvirt tell hooks "
                   "whether a migration uses post-copy; run the domain with "
                   "the migpolicy emulator wrapper, or migrate it with "
                   "'migpolicy migrate'%s%s%s", dom.name,
                   p->origin[MP_PF_POSTCOPY], ewhy,
                   m->present ? " (" : "", m->present ? mwhy : "",
                   m->present ? ")" : "");
        }
        if (res->veto) {
            mp_msg(res->log, sizeof(res->log), "%s veto: postcopy=forbidden "
                   "(%s), %s, %s", dom.name, p->origin[MP_PF_POSTCOPY],
                   res->enforced ? "enforced" : ewhy,
                   marked ? m->strategy : mwhy);
            return 0;
        }
    }

    /* This host's limits (its fleet files may be stricter than the
     * source's) against the source's prediction. */
    if (marked) {
        int f = -1;
        if (p->max_traffic_mib > 0 && m->traffic_mib > p->max_traffic_mib) {
            f = MP_PF_MAX_TRAFFIC;
            mp_msg(msg, sizeof(msg), "strategy %s is predicted to send %.0f "
                   "MiB, over max-traffic-mib %g (%s)", m->strategy,
                   m->traffic_mib, p->max_traffic_mib,
                   p->origin[MP_PF_MAX_TRAFFIC]);
        } else if (p->max_downtime_ms > 0 &&
                   m->downtime_ms > p->max_downtime_ms) {
            f = MP_PF_MAX_DOWNTIME;
            mp_msg(msg, sizeof(msg), "strategy %s is predicted to pause the "
                   "guest %.0f ms, over max-downtime-ms %g (%s)", m->strategy,
                   m->downtime_ms, p->max_downtime_ms,
                   p->origin[MP_PF_MAX_DOWNTIME]);
        }
        if (f >= 0 && tenant_field(p, (mp_policy_field)f) && !p->tenant_veto) {
            size_t o = strlen(warn);
            mp_msg(warn + o, sizeof(warn) - o, "%s%s; not vetoed: the "
                   "tenant's limit, tenant-veto = no", o ? "; " : "", msg);
        } else if (f >= 0) {
            res->veto = 1;
            mp_msg(res->reason, sizeof(res->reason), "migpolicy: refusing "
                   "migration of '%s': %s", dom.name, msg);
            mp_msg(res->log, sizeof(res->log), "%s veto: %s, marker=%s",
                   dom.name, msg, m->strategy);
            return 0;
        }
    }
    mp_msg(res->log, sizeof(res->log), "%s accept: objective=%s %s "
           "marker=%s%s%s", dom.name, mp_objective_name(p->objective), how,
           marked ? m->strategy : m->present ? mwhy : "none",
           warn[0] ? "; warning: " : "", warn);
    return 0;
}

int mp_hook_prepare(const char *xml, size_t len, const mp_fleet *fleet,
                    const char *fleet_error, mp_hook_prepared *out)
{
    mp_domain dom;
    char msg[MP_POLICY_MSG_MAX], warn[MP_POLICY_MSG_MAX] = "";
    int err, rr;

    memset(out, 0, sizeof(*out));
    err = mp_domain_parse_xml(xml, len, &dom, msg, sizeof(msg));
    if (err == -ENOMEM) {
        return err;
    }
    snprintf(out->name, sizeof(out->name), "%s", dom.name);
    snprintf(out->uuid, sizeof(out->uuid), "%s", dom.uuid);
    if (!dom.uuid[0]) {
        mp_msg(out->log, sizeof(out->log), "%s prepare: %s", dom.name[0] ?
               dom.name : "?", err ? msg : "no <uuid>");
        return -EBADMSG;
    }
    /* Fail closed, but let the VM start: without a readable policy it
     * starts with post-copy forbidden. */
    if (fleet_error || (err && err != -EINVAL)) {
        mp_policy_resolve(NULL, dom.name, NULL, &out->policy);
        out->policy.postcopy = MP_POSTCOPY_FORBIDDEN;
        origin_set(out->policy.origin[MP_PF_POSTCOPY], "policy unreadable: "
                   "%s", fleet_error ? fleet_error : msg);
        mp_msg(out->log, sizeof(out->log), "%s prepare: postcopy=forbidden "
               "(%s)", dom.name, out->policy.origin[MP_PF_POSTCOPY]);
        return 0;
    }
    rr = mp_policy_resolve_domain(fleet, &dom, err, msg, &out->policy, warn,
                                  sizeof(warn));
    if (rr < 0) {
        /* Malformed tags the tenant may veto with: the start still
         * happens, without post-copy; migrations are vetoed. */
        out->policy.postcopy = MP_POSTCOPY_FORBIDDEN;
        out->policy.from_tag |= 1u << MP_PF_POSTCOPY;
        origin_set(out->policy.origin[MP_PF_POSTCOPY], "malformed tags: %s",
                   msg);
    }
    out->downtime_limit_ms = carried_downtime_limit(&out->policy);
    {
        char dl[24] = "default";
        if (out->downtime_limit_ms) {
            snprintf(dl, sizeof(dl), "%llu",
                     (unsigned long long)out->downtime_limit_ms);
        }
        mp_msg(out->log, sizeof(out->log), "%s prepare: postcopy=%s (%s) "
               "downtime-limit=%s%s%s", dom.name,
               mp_postcopy_rule_name(out->policy.postcopy),
               out->policy.origin[MP_PF_POSTCOPY], dl,
               warn[0] ? "; warning: " : "", warn);
    }
    return 0;
}

int mp_marker_add_xml(const char *xml, size_t len, mp_strategy strategy,
                      const mp_sim_result *pred, int64_t expires_unix_s,
                      char **out)
{
    xmlNode *root, *md, *d;
    xmlNs *ns;
    char ex[32], dt[32], tr[32];
    int err;
    xmlDoc *doc = read_xml(xml, len, &err, NULL, 0);

    *out = NULL;
    if (!doc) {
        return err;
    }
    root = xmlDocGetRootElement(doc);
    if (!is_elem(root, "domain") || (unsigned)strategy >= MP_STRATEGY__COUNT) {
        xmlFreeDoc(doc);
        return -EBADMSG;
    }
    remove_markers(root);
    /* What earlier hooks put into <qemu:commandline> (and what tainted the
     * domain custom-argv): the emulator wrapper applies it now. */
    strip_injected_args(root);
    if (set_downtime_limit_arg(root, 0) < 0) {
        xmlFreeDoc(doc);
        return -ENOMEM;
    }
    md = child(root, "metadata");
    if (!md) {
        md = xmlNewChild(root, NULL, (const xmlChar *)"metadata", NULL);
    }
    d = md ? xmlNewChild(md, NULL, (const xmlChar *)"decision", NULL) : NULL;
    ns = d ? xmlNewNs(d, (const xmlChar *)MP_DECISION_NS,
                      (const xmlChar *)"mpd") : NULL;
    snprintf(ex, sizeof(ex), "%lld", (long long)expires_unix_s);
    if (!ns ||
        !xmlSetProp(d, (const xmlChar *)"strategy",
                    (const xmlChar *)mp_strategy_name(strategy)) ||
        !xmlSetProp(d, (const xmlChar *)"postcopy",
                    (const xmlChar *)(mp_strategy_uses_postcopy(strategy) ?
                                      "yes" : "no")) ||
        !xmlSetProp(d, (const xmlChar *)"expires", (const xmlChar *)ex)) {
        xmlFreeDoc(doc);
        return -ENOMEM;
    }
    if (pred) {
        snprintf(dt, sizeof(dt), "%.1f", pred->downtime_ms);
        snprintf(tr, sizeof(tr), "%.1f", mib(pred->bytes_total));
        if (!xmlSetProp(d, (const xmlChar *)"downtime-ms",
                        (const xmlChar *)dt) ||
            !xmlSetProp(d, (const xmlChar *)"traffic-mib",
                        (const xmlChar *)tr)) {
            xmlFreeDoc(doc);
            return -ENOMEM;
        }
    }
    xmlSetNs(d, ns);
    err = dump_doc(doc, out);
    xmlFreeDoc(doc);
    return err;
}
