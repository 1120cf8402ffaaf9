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

int cli_parse_number(const char *s, double *out)
{
    char *end;

    if (!*s || *s == '-' || *s == '+') {
        return -1;
    }
    *out = strtod(s, &end);
    return *end || !isfinite(*out) || *out < 0 ? -1 : 0;
}

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


mp_fleet *cli_load_fleet(const char *cmd, const cli_fleet_opts *fo)
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

void cli_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            printf("\\%c", *s);
        } else if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            printf("\\u%04x", (unsigned char)*s);
        } else {
            putchar(*s);
        }
    }
    putchar('"');
}

void cli_print_choice_json(const mp_choice *c)
{
    printf("\"objective\":\"%s\",\"downtime_limit_ms\":%.0f,\"choice\":",
           mp_objective_name(c->objective), c->downtime_limit_ms);
    if (c->chosen >= 0) {
        cli_json_str(mp_strategy_name((mp_strategy)c->chosen));
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
        cli_json_str(r->reason);
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

int cli_link_option(const char *cmd, int c, mp_choose_input *in,
                       cli_workload_opts *w)
{
    double d;

    switch (c) {
    case 'b':
        if (cli_parse_rate(optarg, &in->sim.bandwidth_bytes_per_s)) {
            cli_usage(cmd, "--bandwidth: '%s' is not a rate (e.g. 1gbit, "
                  "100MB/s, unlimited)", optarg);
            return -1;
        }
        return 1;
    case OPT_RTT:
        if (cli_parse_number(optarg, &in->sim.rtt_ms)) {
            cli_usage(cmd, "--rtt-ms: '%s' is not a number", optarg);
            return -1;
        }
        w->have_rtt = 1;
        return 1;
    case OPT_LIMIT:
        if (cli_parse_number(optarg, &d) || d <= 0) {
            cli_usage(cmd, "--downtime-limit-ms: '%s' is not a positive number",
                  optarg);
            return -1;
        }
        in->sim.downtime_limit_ms = d;
        return 1;
    case OPT_TIMEOUT:
        if (cli_parse_number(optarg, &d) || d <= 0) {
            cli_usage(cmd, "--timeout-s: '%s' is not a positive "
                      "number", optarg);
            return -1;
        }
        in->sim.timeout_s = d;
        return 1;
    case OPT_CAP_ONLY:
        in->sim.bandwidth_cap_only = 1;
        return 1;
    case OPT_WORKLOAD:
        w->spec = optarg;
        return 1;
    case OPT_RAM:
    case OPT_TOUCHED:
    case OPT_WHOT: {
        uint64_t v;
        if (cli_parse_size(optarg, &v)) {
            cli_usage(cmd, "'%s' is not a size (e.g. 64MiB)", optarg);
            return -1;
        }
        if (c == OPT_RAM) {
            w->ram = v;
            w->have_ram = 1;
        } else if (c == OPT_TOUCHED) {
            w->touched = v;
            w->have_touched = 1;
        } else {
            w->whot = v;
            w->have_whot = 1;
        }
        return 1;
    }
    case OPT_DIRTY:
        if (cli_parse_number(optarg, &w->dirty)) {
            cli_usage(cmd, "--dirty-rate: '%s' is not a number of pages/s",
                  optarg);
            return -1;
        }
        w->have_dirty = 1;
        return 1;
    default:
        return 0;
    }
}

/* Build the workload: a spec first, then the explicit sizes over it. */
int cli_apply_workload(const char *cmd, const cli_workload_opts *w,
                          mp_choose_input *in)
{
    mp_sim_workload *wl = &in->sim.workload;
    char msg[256];

    if (w->have_ram) {
        wl->guest_ram_bytes = w->ram;
    }
    if (w->spec && mp_sim_workload_from_spec(wl, w->spec, wl->guest_ram_bytes,
                                             0, msg, sizeof(msg))) {
        cli_usage(cmd, "--workload: %s", msg);
        return -1;
    }
    if (w->have_touched) {
        wl->touched_bytes = w->touched;
    }
    if (w->have_whot) {
        wl->write_hot_bytes = w->whot;
    }
    if (w->have_dirty) {
        wl->dirty_pages_per_s = w->dirty;
    }
    if (wl->touched_bytes > wl->guest_ram_bytes) {
        wl->touched_bytes = wl->guest_ram_bytes;
    }
    if (wl->write_hot_bytes + wl->read_hot_bytes > wl->touched_bytes) {
        cli_usage(cmd, "the hot sets (%" PRIu64 " B) exceed the touched memory "
              "(%" PRIu64 " B)", wl->write_hot_bytes + wl->read_hot_bytes,
              wl->touched_bytes);
        return -1;
    }
    return 0;
}
