/*
 * cmd-sched-stats.c - migpolicy sched-stats: the phase scheduler's
 * figures of a domain's last migration from this host (the records
 * sched-record.c keeps)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-options.h"
#include "cli-print.h"
#include "emulator-state.h"
#include "qmp-client.h"
#include "sched-record.h"
#include "cli-util.h"
#include "commands.h"

#define CMD "sched-stats"

enum { OPT_SCHED_STATE_DIR = 0x100, OPT_SCHED_JSON };

static void sched_default(int val, char *buf, size_t len)
{
    if (val == OPT_SCHED_STATE_DIR) {
        snprintf(buf, len, "%s", STATE_DIR_DEFAULT);
    }
}

static const cli_option sched_options[] = {
    { "state-dir", OPT_SCHED_STATE_DIR, "DIR", "the emulator wrapper's state "
      "directory", sched_default },
    { "json", OPT_SCHED_JSON, NULL, "print only the record, as it is (JSON)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section sched_sections[] = {
    { "Options:", sched_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void sched_help(void)
{
    printf("Usage: migpolicy sched-stats [--state-dir DIR] [--json] DOMAIN\n"
           "Print the phase scheduler's decision and figures of DOMAIN's last\n"
           "outgoing migration from this host, as the emulator wrapper's\n"
           "recorder kept them (DIR/DOMAIN.migration.json), and how the\n"
           "wrapper runs DOMAIN's QEMU here now, if it does.\n"
           "Reads files only: nothing goes through libvirt, nothing is\n"
           "tainted.  Run it on the migration's source host.\n");
    cli_print_options(sched_sections, ARRAY_SIZE(sched_sections));
    printf("\nExit status 1 when there is neither a record nor a QEMU the "
           "wrapper\nruns for DOMAIN.\n");
}

static void print_kv_number(const json_value *o, const char *key,
                            const char *label, const char *unit)
{
    const json_value *v = json_get(o, key);

    if (v && v->type == JSON_NUMBER) {
        printf("  %-26s %.0f%s\n", label, v->num, unit);
    }
}

int sched_record_print(const char *path, bool json)
{
    char *text, msg[512], pmsg[256];
    size_t len;
    json_value *v = NULL;
    const json_value *fig, *ps;
    bool b;

    if (mp_conf_read_file(path, SCHED_RECORD_MAX, &text, &len, msg,
                          sizeof(msg))) {
        return -1;
    }
    if (json_parse(text, len, &v, pmsg, sizeof(pmsg)) ||
        v->type != JSON_OBJECT) {
        cli_error(CMD, "%s: not a record "
                    "(%s)", path, pmsg);
        free(text);
        json_free(v);
        return -1;
    }
    if (json) {
        fwrite(text, 1, len, stdout);
        free(text);
        json_free(v);
        return 0;
    }
    free(text);
    fig = json_get(v, "figures");
    ps = json_get(v, "phase-sched");
    {
        const json_value *t = json_get(v, "recorded-unix-s");
        char ts[32] = "?";
        if (t && t->type == JSON_NUMBER) {
            time_t tt = (time_t)t->i;
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        printf("last outgoing migration recorded here (%s):\n", ts);
    }
    printf("  %-26s %s%s\n", "status", cli_esc(json_get_str(v, "status")),
           json_get_bool(v, "final", &b) == 0 && b ? "" :
           " (not its end)");
    if (json_get_str(v, "note") && *json_get_str(v, "note")) {
        printf("  %-26s %s\n", "note", cli_esc(json_get_str(v, "note")));
    }
    printf("  %-26s postcopy-ram %s, x-phase-sched %s\n", "capabilities",
           json_get_bool(v, "postcopy-ram", &b) == 0 && b ? "on" : "off",
           json_get_bool(v, "x-phase-sched", &b) == 0 && b ? "on" : "off");
    if (fig) {
        print_kv_number(fig, "total-time-ms", "total time", " ms");
        print_kv_number(fig, "downtime-ms", "downtime", " ms");
        print_kv_number(fig, "transferred-bytes", "transferred", " bytes");
        print_kv_number(fig, "precopy-bytes", "  pre-copy", " bytes");
        print_kv_number(fig, "downtime-bytes", "  stop-and-copy", " bytes");
        print_kv_number(fig, "postcopy-bytes", "  post-copy", " bytes");
        print_kv_number(fig, "postcopy-requests", "post-copy requests", "");
    }
    if (ps && ps->type == JSON_OBJECT) {
        printf("phase scheduler:\n");
        printf("  %-26s %s\n", "switched to post-copy",
               json_get_bool(ps, "switched-to-postcopy", &b) == 0 && b ?
               "yes, by itself" : "no");
        printf("  %-26s %s\n", "access source",
               cli_esc(json_get_str(ps, "access-source")));
        print_kv_number(ps, "intervals", "intervals sampled", "");
        print_kv_number(ps, "deferred-blocks", "deferred blocks", "");
        print_kv_number(ps, "deferred-pages", "deferred pages", "");
        print_kv_number(ps, "pushed-read-pages", "pushed read pages", "");
        print_kv_number(ps, "pushed-clean-pages", "pushed clean pages", "");
        print_kv_number(ps, "pushed-write-pages", "pushed write pages", "");
        print_kv_number(ps, "pushed-unpredicted-pages",
                        "pushed unpredicted pages", "");
        print_kv_number(ps, "pulled-background-pages",
                        "pulled in the background", " pages");
        print_kv_number(ps, "pulled-fault-pages", "pulled on faults",
                        " pages");
        print_kv_number(ps, "mispredict-pushed-pages",
                        "mispredicted, pushed", " pages");
        print_kv_number(ps, "mispredict-deferred-pages",
                        "mispredicted, deferred", " pages");
        print_kv_number(ps, "sample-time", "sampling time", " us");
    } else {
        printf("phase scheduler: not in this migration (x-phase-sched was "
               "off)\n");
    }
    json_free(v);
    return 0;
}

int sched_record_figures(const char *path, double *total_ms, double *bytes)
{
    char *text, msg[256];
    size_t len;
    json_value *v = NULL;
    const json_value *fig, *t, *b;
    int rc = -1;

    if (mp_conf_read_file(path, SCHED_RECORD_MAX, &text, &len, msg,
                          sizeof(msg))) {
        return -1;
    }
    if (!json_parse(text, len, &v, msg, sizeof(msg))) {
        fig = json_get(v, "figures");
        t = json_get(fig, "total-time-ms");
        b = json_get(fig, "transferred-bytes");
        if (t && t->type == JSON_NUMBER && b && b->type == JSON_NUMBER) {
            *total_ms = t->num;
            *bytes = b->num;
            rc = 0;
        }
    }
    json_free(v);
    free(text);
    return rc;
}

void sched_record_wait(const char *path, int64_t since_unix_s,
                       unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 100) {
        char *text, msg[256];
        size_t len;
        json_value *v = NULL;
        const json_value *t;
        bool fresh = false, final = false;

        if (!mp_conf_read_file(path, SCHED_RECORD_MAX, &text, &len, msg,
                               sizeof(msg))) {
            if (!json_parse(text, len, &v, msg, sizeof(msg))) {
                t = json_get(v, "started-unix-s");
                fresh = t && t->type == JSON_NUMBER && t->i >= since_unix_s - 1;
                json_get_bool(v, "final", &final);
            }
            json_free(v);
            free(text);
        }
        if ((fresh && final) || waited >= timeout_ms) {
            return;
        }
        usleep(100000);
    }
}

/* The wrapper's DIR/UUID.applied of a QEMU named @name, if it runs here. */
static int print_applied(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = -1, seen = 0;

    if (!d) {
        return -1;
    }
    while ((de = readdir(d)) && seen++ < 100000) {
        size_t l = strlen(de->d_name);
        char path[1200], *text, msg[512];
        size_t len;

        if (l < 9 || strcmp(de->d_name + l - 8, ".applied")) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (mp_conf_read_file(path, 8192, &text, &len, msg, sizeof(msg))) {
            continue;
        }
        {
            char want[320];
            snprintf(want, sizeof(want), "\ndomain = %s\n", name);
            if (strstr(text, want)) {
                const char *keys[] = { "postcopy", "postcopy-origin",
                                       "enforcement", "phase-sched",
                                       "downtime-limit-ms", "policy" };
                printf("now, as the emulator wrapper started its QEMU:\n");
                for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                    char pat[64];
                    const char *p, *e;
                    snprintf(pat, sizeof(pat), "\n%s = ", keys[k]);
                    p = strstr(text, pat);
                    if (p) {
                        p += strlen(pat);
                        e = strchr(p, '\n');
                        printf("  %-26s %.*s\n", keys[k],
                               (int)(e ? e - p : (long)strlen(p)), p);
                    }
                }
                found = 0;
            }
        }
        free(text);
        if (found == 0) {
            break;
        }
    }
    closedir(d);
    return found;
}

int cmd_sched_stats(int argc, char **argv)
{
    cli_getopt g;
    const char *dir = STATE_DIR_DEFAULT;
    bool json = false;
    char path[1100];
    int c, rec, app = -1;

    cli_getopt_build(&g, sched_sections, ARRAY_SIZE(sched_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_SCHED_STATE_DIR:
            dir = optarg;
            break;
        case OPT_SCHED_JSON:
            json = true;
            break;
        case 'h':
            sched_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (optind != argc - 1) {
        return cli_usage(CMD, "expected one DOMAIN");
    }
    if (sched_record_path(path, sizeof(path), dir, argv[optind])) {
        cli_error(CMD, "'%s' cannot be a "
                    "domain's record", argv[optind]);
        return 1;
    }
    if (!json) {
        printf("domain %s\n", cli_esc(argv[optind]));
    }
    rec = sched_record_print(path, json);
    if (!json) {
        if (rec) {
            printf("no outgoing migration recorded here (%s)\n",
                   cli_esc(path));
        }
        app = print_applied(dir, argv[optind]);
    }
    return rec == 0 || app == 0 ? 0 : 1;
}
