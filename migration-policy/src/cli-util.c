/*
 * cli-util.c - exit codes and "migpolicy CMD: " messages for every command
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli-parse.h"
#include "cli-print.h"
#include "cli-util.h"

void cli_verror(const char *cmd, const char *fmt, va_list ap)
{
    char prefix[64];

    snprintf(prefix, sizeof(prefix), "migpolicy %s: ", cmd);
    cli_vmessage(stderr, prefix, fmt, ap);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_verror(cmd, fmt, ap);
    va_end(ap);
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_verror(cmd, fmt, ap);
    va_end(ap);
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_verror(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'migpolicy %s --help'.\n", cmd);
    return EXIT_USAGE;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *opt = argv[optind - 1];

    if (c == ':') {
        return cli_usage(cmd, "option '%s' needs an argument", opt);
    }
    return cli_usage(cmd, "unknown option '%s'", opt);
}

int cli_positive_option(const char *cmd, const char *opt, const char *s,
                        unsigned max, unsigned *out)
{
    int err = cli_parse_positive(s, max, out);

    if (err) {
        return cli_usage(cmd, "%s: '%s' is not a positive integer%s", opt, s,
                         cli_positive_error(err));
    }
    return 0;
}

void cli_print_commands(const cli_command *cmds, size_t n)
{
    int col = 0;

    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(cmds[i].name);
        col = w > col ? w : col;
    }
    for (size_t i = 0; i < n; i++) {
        printf("  %-*s  ", col, cmds[i].name);
        for (const char *s = cmds[i].summary; *s; s++) {
            putchar(*s);
            if (*s == '\n') {
                printf("%*s", col + 4, "");
            }
        }
        putchar('\n');
    }
}

int cli_dispatch(const char *parent, const cli_command *cmds, size_t n,
                 int argc, char **argv, void (*help)(void))
{
    const char *name = argc > 1 ? argv[1] : NULL;

    if (!name) {
        help();
        return EXIT_USAGE;
    }
    if (!strcmp(name, "-h") || !strcmp(name, "--help") ||
        !strcmp(name, "help")) {
        help();
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(name, cmds[i].name)) {
            return cmds[i].run(argc - 1, argv + 1);
        }
    }
    if (!parent) {
        fprintf(stderr, "migpolicy: unknown command '%s'\nTry 'migpolicy "
                "--help'.\n", cli_esc(name));
        return EXIT_USAGE;
    }
    return cli_usage(parent, "unknown command '%s'", name);
}
