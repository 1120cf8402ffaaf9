/*
 * mp-hook.c - the libvirt qemu hook's decisions and the domain XML it rewrites
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * XML is written with libxml2.  Nothing here prints.
 */
#include "mp-internal.h"
#include "mp-policy-internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxml/xmlsave.h>

/* libvirt's namespace of <qemu:commandline>. */
#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

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
    xmlNode *md = mp_xml_child(root, "metadata"), *c, *next;
    int n = 0;

    for (c = md ? md->children : NULL; c; c = next) {
        next = c->next;
        if (mp_xml_is_elem(c, "decision") && mp_xml_in_ns(c, MP_DECISION_NS)) {
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

    if (!mp_xml_is_elem(n, "arg") || !mp_xml_in_ns(n, QEMU_NS)) {
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
    if (g && mp_xml_is_elem(g, "arg")) {
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
        if (!mp_xml_is_elem(cl, "commandline") || !mp_xml_in_ns(cl, QEMU_NS)) {
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
        if (!mp_xml_is_elem(cl, "commandline") || !mp_xml_in_ns(cl, QEMU_NS)) {
            continue;
        }
        for (xmlNode *a = cl->children, *next; a; a = next) {
            xmlChar *v;
            bool ours, same;
            next = a->next;
            if (!mp_xml_is_elem(a, "arg") || !mp_xml_in_ns(a, QEMU_NS)) {
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
            if (mp_xml_is_elem(c, "commandline") && mp_xml_in_ns(c, QEMU_NS)) {
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
    snprintf(how, sizeof(how), "postcopy=%s",
             mp_postcopy_rule_name(p->postcopy));

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
        mp_origin_set(out->policy.origin[MP_PF_POSTCOPY], "policy unreadable: "
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
        mp_origin_set(out->policy.origin[MP_PF_POSTCOPY], "malformed tags: %s",
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
    xmlDoc *doc = mp_xml_read(xml, len, &err, NULL, 0);

    *out = NULL;
    if (!doc) {
        return err;
    }
    root = xmlDocGetRootElement(doc);
    if (!mp_xml_is_elem(root, "domain") ||
        (unsigned)strategy >= MP_STRATEGY__COUNT) {
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
    md = mp_xml_child(root, "metadata");
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
        snprintf(tr, sizeof(tr), "%.1f", mp_mib(pred->bytes_total));
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
