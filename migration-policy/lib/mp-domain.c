/*
 * mp-domain.c - a libvirt domain XML: its <mp:policy> tags and decision marker
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * XML is read with libxml2: no network, no DTD, no entity expansion.
 */
#include "mp-internal.h"
#include "mp-policy-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

/* ------------------------------------------------------------------ */
/* Domain XML                                                          */

bool mp_xml_is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE &&
           strcmp((const char *)n->name, name) == 0;
}

bool mp_xml_in_ns(const xmlNode *n, const char *href)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, href) == 0;
}

xmlNode *mp_xml_child(const xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next) {
        if (mp_xml_is_elem(c, name) && !c->ns) {
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
        char *s = mp_trim((char *)t);
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
        if (c->ns && !mp_xml_in_ns(c, MP_POLICY_NS)) {
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
            if (strcmp((const char *)c->name, mp_policy_field_keys[f]) == 0) {
                break;
            }
        }
        if (f < MP_PF__COUNT && (p->set & (1u << f))) {
            mp_msg(msg, msg_len, "<mp:policy>/<%s>: given twice",
                   mp_policy_field_keys[f]);
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

xmlDoc *mp_xml_read(const char *xml, size_t len, int *err, char *msg,
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
    if (!mp_xml_is_elem(root, "domain")) {
        mp_msg(msg, msg_len, "not a libvirt domain XML (root element is "
               "not <domain>)");
        return -EBADMSG;
    }
    if (copy_text(mp_xml_child(root, "name"), out->name, sizeof(out->name))) {
        mp_msg(msg, msg_len, "<name>: longer than %zu bytes",
               sizeof(out->name) - 1);
        return -EBADMSG;
    }
    if (copy_text(mp_xml_child(root, "uuid"), out->uuid, sizeof(out->uuid)) ||
        (out->uuid[0] && !is_uuid(out->uuid))) {
        mp_msg(msg, msg_len, "<uuid>: not a UUID");
        return -EBADMSG;
    }
    out->memory_bytes = memory_bytes(mp_xml_child(root, "memory"));
    dev = mp_xml_child(root, "devices");
    if (copy_text(mp_xml_child(dev, "emulator"), out->emulator,
                  sizeof(out->emulator))) {
        mp_msg(msg, msg_len, "<emulator>: longer than %zu bytes",
               sizeof(out->emulator) - 1);
        return -EBADMSG;
    }
    mb = mp_xml_child(root, "memoryBacking");
    if (mb) {
        xmlNode *acc = mp_xml_child(mb, "access");
        xmlChar *mode = acc ? xmlGetProp(acc, (const xmlChar *)"mode") : NULL;
        out->ram_shareable = mode && strcmp((char *)mode, "shared") == 0;
        xmlFree(mode);
    }
    md = mp_xml_child(root, "metadata");
    for (xmlNode *c = md ? md->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && mp_xml_in_ns(c, MP_DECISION_NS) &&
            mp_xml_is_elem(c, "decision")) {
            parse_marker(c, &out->marker);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE || !mp_xml_in_ns(c, MP_POLICY_NS)) {
            continue;
        }
        if (mp_xml_is_elem(c, "policy")) {
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
    xmlDoc *doc = mp_xml_read(xml, len, &err, msg, msg_len);

    if (!doc) {
        memset(out, 0, sizeof(*out));
        return err;
    }
    err = parse_domain_doc(doc, out, msg, msg_len);
    xmlFreeDoc(doc);
    return err;
}
