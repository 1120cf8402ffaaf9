/*
 * cmd-list.c - migpolicy list: the library's strategy and workload
 * registries, as a table or as the JSON the harness checks itself against
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "migpolicy.h"

#include "cli-options.h"
#include "cli-util.h"
#include "commands.h"
#include "json-read.h"

#define CMD "list"

enum { OPT_LIST_JSON = 0x100 };

static const cli_option list_options[] = {
    { "json", OPT_LIST_JSON, NULL, "one JSON object: {\"strategies\": [...], "
      "\"workloads\":\n[...], \"workload_aliases\": {...}}", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section list_sections[] = {
    { "Options:", list_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void list_help(void)
{
    printf("Usage: migpolicy list [--json]\n"
           "Print the migration strategies and the guest workloads the "
           "library knows:\n"
           "per strategy whether the cost model models it, the chooser "
           "compares it,\n"
           "it may enter post-copy, it needs the fork's x-phase-sched, it "
           "runs on\n"
           "one host only; per workload its parameters and how long its "
           "guest program\n"
           "may take to answer verify; the workload aliases.  The harness\n"
           "(scripts/migbench) reads all of these from --json.\n");
    cli_print_options(list_sections, ARRAY_SIZE(list_sections));
}

static const char *yes(int b)
{
    return b ? "yes" : "-";
}

static const char *json_bool(int b)
{
    return b ? "true" : "false";
}

static void print_json(void)
{
    size_t ns, nw, na;
    const mp_strategy_info *s = mp_strategy_registry(&ns);
    const mp_workload_info *w = mp_workload_registry(&nw);
    const mp_workload_alias *a = mp_workload_aliases(&na);

    printf("{\"strategies\":[");
    for (size_t i = 0; i < ns; i++) {
        printf("%s{\"name\":", i ? "," : "");
        json_write_str(stdout, s[i].name);
        printf(",\"description\":");
        json_write_str(stdout, s[i].description);
        printf(",\"modelled\":%s,\"candidate\":%s,\"postcopy\":%s,"
               "\"needs_fork\":%s,\"same_host\":%s}",
               json_bool(s[i].sim >= 0), json_bool(s[i].candidate >= 0),
               json_bool(s[i].postcopy), json_bool(s[i].needs_fork),
               json_bool(s[i].same_host));
    }
    printf("],\"workloads\":[");
    for (size_t i = 0; i < nw; i++) {
        const char *p = w[i].params;
        printf("%s{\"name\":", i ? "," : "");
        json_write_str(stdout, w[i].name);
        printf(",\"params\":[");
        for (int first = 1; *p; first = 0) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            printf("%s\"%.*s\"", first ? "" : ",", (int)n, p);
            p += n + (end ? 1 : 0);
        }
        printf("],\"description\":");
        json_write_str(stdout, w[i].description);
        printf(",\"verify_timeout_s\":%u}", w[i].verify_s);
    }
    printf("],\"workload_aliases\":{");
    for (size_t i = 0; i < na; i++) {
        printf("%s", i ? "," : "");
        json_write_str(stdout, a[i].alias);
        putchar(':');
        json_write_str(stdout, a[i].spec);
    }
    printf("}}\n");
}

static void print_table(void)
{
    size_t ns, nw, na;
    const mp_strategy_info *s = mp_strategy_registry(&ns);
    const mp_workload_info *w = mp_workload_registry(&nw);
    const mp_workload_alias *a = mp_workload_aliases(&na);

    printf("%-24s %-8s %-9s %-8s %-4s %-9s %s\n", "strategy", "modelled",
           "candidate", "postcopy", "fork", "same-host", "description");
    for (size_t i = 0; i < ns; i++) {
        printf("%-24s %-8s %-9s %-8s %-4s %-9s %s\n", s[i].name,
               yes(s[i].sim >= 0), yes(s[i].candidate >= 0),
               yes(s[i].postcopy), yes(s[i].needs_fork), yes(s[i].same_host),
               s[i].description);
    }
    printf("\n%-24s %-26s %-8s %s\n", "workload", "parameters", "verify s",
           "description");
    for (size_t i = 0; i < nw; i++) {
        printf("%-24s %-26s %-8u %s\n", w[i].name,
               w[i].params[0] ? w[i].params : "-", w[i].verify_s,
               w[i].description);
    }
    printf("\n%-24s %s\n", "alias", "workload");
    for (size_t i = 0; i < na; i++) {
        printf("%-24s %s\n", a[i].alias, a[i].spec);
    }
}

int cmd_list(int argc, char **argv)
{
    cli_getopt g;
    int c, json = 0;

    cli_getopt_build(&g, list_sections, ARRAY_SIZE(list_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_LIST_JSON:
            json = 1;
            break;
        case 'h':
            list_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (optind != argc) {
        return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    }
    if (json) {
        print_json();
    } else {
        print_table();
    }
    return 0;
}
