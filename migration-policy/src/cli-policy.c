/*
 * cli-policy.c - what the policy commands share: the fleet and the
 * link/workload option groups, reading a domain XML, printing a policy
 * and a choice
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-parse.h"
#include "cli-policy.h"
#include "cli-print.h"
#include "cli-util.h"
#include "json-read.h"

static void fleet_default(int val, char *buf, size_t len)
{
    if (val == OPT_POLICY_DIR) {
        snprintf(buf, len, "%s", DEFAULT_POLICY_DIR);
    }
}

const cli_option cli_fleet_options[] = {
    { "fleet", OPT_FLEET, "FILE", "add a fleet policy file (repeatable)",
      NULL },
    { "policy-dir", OPT_POLICY_DIR, "DIR", "fleet policy files *.conf "
      "(missing is an\nerror)", fleet_default },
    { "no-policy-dir", OPT_NO_POLICY_DIR, NULL, "read no policy directory",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};


/* All of @fp, at most @max bytes (-EFBIG beyond), NUL-terminated. */
int cli_read_all(FILE *fp, size_t max, char **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);

    if (!buf) {
        return -ENOMEM;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            char *p;
            if (cap > max) {
                free(buf);
                return -EFBIG;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            p = realloc(buf, cap + 1);
            if (!p) {
                free(buf);
                return -ENOMEM;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(fp)) {
        free(buf);
        return -EIO;
    }
    if (n > max) {
        free(buf);
        return -EFBIG;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int cli_read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
    int err;

    if (!fp) {
        return -errno;
    }
    err = cli_read_all(fp, MP_DOMAIN_XML_MAX, out, len);
    if (fp != stdin) {
        fclose(fp);
    }
    return err;
}


/* The fleet @fo names, or NULL after the message. */
static mp_fleet *load_fleet(const char *cmd, const cli_fleet_opts *fo)
{
    mp_fleet *f = mp_fleet_new();
    char msg[MP_POLICY_MSG_MAX];

    if (!f) {
        cli_fail(cmd, "%s", mp_strerror(-ENOMEM));
        return NULL;
    }
    if (!fo->no_dir &&
        mp_fleet_load_dir(f, fo->dir ? fo->dir : DEFAULT_POLICY_DIR, msg,
                          sizeof(msg))) {
        if (!strncmp(msg, "policy directory ", 17)) {
            cli_fail(cmd, "%s (give --policy-dir DIR, or --no-policy-dir to "
                 "use no fleet rules)", msg);
        } else {
            cli_fail(cmd, "policy file %s", msg);
        }
        mp_fleet_free(f);
        return NULL;
    }
    for (int i = 0; i < fo->nfiles; i++) {
        if (mp_fleet_load_file(f, fo->files[i], msg, sizeof(msg))) {
            cli_fail(cmd, "policy file %s", msg);
            mp_fleet_free(f);
            return NULL;
        }
    }
    return f;
}

int cli_resolve_policy(const char *cmd, const cli_fleet_opts *fo,
                       const mp_domain *dom, mp_policy *pol)
{
    mp_fleet *fleet = load_fleet(cmd, fo);

    if (!fleet) {
        return -1;
    }
    mp_policy_resolve(fleet, dom->name, dom->has_policy ? &dom->tags : NULL,
                      pol);
    mp_fleet_free(fleet);
    return 0;
}

int cli_read_domain(const char *cmd, const char *path, mp_domain *dom)
{
    char msg[MP_POLICY_MSG_MAX], *xml;
    size_t len;
    int err = cli_read_file(path, &xml, &len);

    if (err) {
        cli_fail(cmd, "%s: %s", path, mp_strerror(err));
        return -1;
    }
    err = mp_domain_parse_xml(xml, len, dom, msg, sizeof(msg));
    free(xml);
    if (err) {
        cli_fail(cmd, "%s: %s", path, msg);
        return -1;
    }
    return 0;
}

void cli_print_policy(const mp_policy *p)
{
    char v[64];

    for (int f = 0; f < MP_PF__COUNT; f++) {
        switch ((mp_policy_field)f) {
        case MP_PF_OBJECTIVE:
            snprintf(v, sizeof(v), "%s", mp_objective_name(p->objective));
            break;
        case MP_PF_POSTCOPY:
            snprintf(v, sizeof(v), "%s", mp_postcopy_rule_name(p->postcopy));
            break;
        case MP_PF_MAX_DOWNTIME:
            if (p->max_downtime_ms > 0) {
                snprintf(v, sizeof(v), "%g", p->max_downtime_ms);
            } else {
                snprintf(v, sizeof(v), "none");
            }
            break;
        case MP_PF_MAX_TRAFFIC:
            if (p->max_traffic_mib > 0) {
                snprintf(v, sizeof(v), "%g", p->max_traffic_mib);
            } else {
                snprintf(v, sizeof(v), "none");
            }
            break;
        case MP_PF_TIER:
            snprintf(v, sizeof(v), "%s", mp_tier_name(p->tier));
            break;
        case MP_PF_LABEL:
            snprintf(v, sizeof(v), "%s", p->label[0] ? p->label : "none");
            break;
        default:
            continue;
        }
        printf("  %-16s %-10s (%s)\n", mp_policy_field_name((mp_policy_field)f),
               v, cli_esc(p->origin[f]));
    }
    printf("  %-16s %-10s (%s)\n", "tenant-veto", p->tenant_veto ? "yes" : "no",
           cli_esc(p->tenant_veto_origin));
}

const char *cli_verdict_name(mp_verdict v)
{
    static const char *const n[] = { "CHOSEN", "eligible", "dropped",
                                     "n/a" };
    return (unsigned)v < 4 ? n[v] : "?";
}

void cli_print_choice(const mp_choice *c)
{
    printf("%-23s %-8s %9s %9s %9s %9s %9s  %s\n", "strategy", "verdict",
           "down_ms", "pause_ms", "total_s", "MiB", "expo_ms", "why");
    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        const mp_choice_row *r = &c->rows[s];
        if (r->predicted) {
            printf("%-23s %-8s %9.0f %9.0f %9.2f %9.1f %9.0f  %s\n",
                   mp_strategy_name(r->strategy), cli_verdict_name(r->verdict),
                   r->sim.downtime_ms, mp_choice_pause_ms(&r->sim),
                   r->sim.total_time_ms / 1000,
                   (double)r->sim.bytes_total / 1048576.0, r->sim.exposure_ms,
                   cli_esc(r->reason));
        } else {
            printf("%-23s %-8s %9s %9s %9s %9s %9s  %s\n",
                   mp_strategy_name(r->strategy), cli_verdict_name(r->verdict),
                   "-", "-", "-", "-", "-", cli_esc(r->reason));
        }
    }
    if (c->chosen >= 0) {
        printf("choice: %s (objective %s, downtime-limit %.0f ms)\n",
               mp_strategy_name((mp_strategy)c->chosen),
               mp_objective_name(c->objective), c->downtime_limit_ms);
    } else {
        printf("choice: none (no strategy satisfies the policy)\n");
    }
}

void cli_print_choice_json(const mp_choice *c)
{
    printf("\"objective\":\"%s\",\"downtime_limit_ms\":%.0f,\"choice\":",
           mp_objective_name(c->objective), c->downtime_limit_ms);
    if (c->chosen >= 0) {
        json_write_str(stdout, mp_strategy_name((mp_strategy)c->chosen));
    } else {
        printf("null");
    }
    printf(",\"candidates\":[");
    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        const mp_choice_row *r = &c->rows[s];
        printf("%s{\"strategy\":\"%s\",\"verdict\":\"%s\"", s ? "," : "",
               mp_strategy_name(r->strategy), cli_verdict_name(r->verdict));
        if (r->predicted) {
            printf(",\"downtime_ms\":%.1f,\"pause_ms\":%.1f,"
                   "\"total_time_ms\":%.1f,"
                   "\"bytes_total\":%" PRIu64 ",\"exposure_ms\":%.1f,"
                   "\"converged\":%d", r->sim.downtime_ms,
                   mp_choice_pause_ms(&r->sim),
                   r->sim.total_time_ms, r->sim.bytes_total,
                   r->sim.exposure_ms, r->sim.converged);
        }
        printf(",\"reason\":");
        json_write_str(stdout, r->reason);
        putchar('}');
    }
    printf("]");
}


int cli_fleet_option(const char *cmd, int c, cli_fleet_opts *fo)
{
    if (c == OPT_NO_POLICY_DIR || c == OPT_POLICY_DIR) {
        if ((c == OPT_NO_POLICY_DIR && fo->dir) ||
            (c == OPT_POLICY_DIR && fo->no_dir)) {
            return cli_usage(cmd, "--policy-dir and --no-policy-dir exclude "
                         "each other");
        }
        if (c == OPT_NO_POLICY_DIR) {
            fo->no_dir = true;
            return 0;
        }
    }
    if (c == OPT_FLEET) {
        if (fo->nfiles == MAX_FLEET_FILES) {
            return cli_usage(cmd, "too many --fleet files (at most %d)",
                         MAX_FLEET_FILES);
        }
        fo->files[fo->nfiles++] = optarg;
        return 0;
    }
    fo->dir = optarg;
    return 0;
}
