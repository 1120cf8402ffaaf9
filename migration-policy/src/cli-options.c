/*
 * cli-options.c - option tables: getopt_long()'s arrays and --help lines
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-options.h"

const cli_option cli_help_options[] = {
    { "help", 'h', NULL, "show this help", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

/* A short letter: what getopt_long() returns for "-x". */
static int is_short(int val)
{
    return val > ' ' && val < 0x7f;
}

void cli_getopt_build(cli_getopt *g, const cli_option_section *sec,
                      size_t nsec)
{
    size_t n = 0, s = 0;

    memset(g, 0, sizeof(*g));
    g->shortopts[s++] = ':';
    for (size_t i = 0; i < nsec; i++) {
        for (const cli_option *o = sec[i].opts; o->name; o++) {
            if (n == CLI_MAX_OPTIONS || s + 3 >= CLI_MAX_SHORTOPTS) {
                fprintf(stderr, "migpolicy: option table beyond "
                        "CLI_MAX_OPTIONS at --%s\n", o->name);
                abort();
            }
            g->longopts[n].name = o->name;
            g->longopts[n].has_arg = o->arg ? required_argument :
                                     no_argument;
            g->longopts[n].val = o->val;
            n++;
            if (is_short(o->val)) {
                g->shortopts[s++] = (char)o->val;
                if (o->arg) {
                    g->shortopts[s++] = ':';
                }
            }
        }
    }
    optind = 1;
}

int cli_getopt_next(const cli_getopt *g, int argc, char **argv)
{
    return getopt_long(argc, argv, g->shortopts, g->longopts, NULL);
}

/* "  -b, --bandwidth RATE" into @buf; returns its length. */
static int option_head(const cli_option *o, char *buf, size_t len)
{
    char sh[8] = "    ";

    if (is_short(o->val)) {
        snprintf(sh, sizeof(sh), "-%c, ", o->val);
    }
    return snprintf(buf, len, "  %s--%s%s%s", sh, o->name, o->arg ? " " : "",
                    o->arg ? o->arg : "");
}

/* Widest head that still leaves room for the help beside it. */
#define HEAD_MAX 30
/* Help lines end by this column (an 80-column terminal). */
#define LINE_MAX_COLS 79

/* @text from column @col (the cursor is there), wrapped at spaces before
 * LINE_MAX_COLS onto lines that start at @col, then a newline. */
static void print_wrapped(int col, const char *text)
{
    int at = col;

    while (*text) {
        const char *sp = strchr(text, ' ');
        int n = sp ? (int)(sp - text) : (int)strlen(text);

        if (at > col && at + 1 + n > LINE_MAX_COLS) {
            printf("\n%*s", col, "");
            at = col;
        } else if (at > col) {
            putchar(' ');
            at++;
        }
        printf("%.*s", n, text);
        at += n;
        text += n;
        while (*text == ' ') {
            text++;
        }
    }
    putchar('\n');
}

void cli_print_options(const cli_option_section *sec, size_t nsec)
{
    char head[128], dflt[256], line[300];
    int col = 0;

    for (size_t i = 0; i < nsec; i++) {
        for (const cli_option *o = sec[i].opts; o->name; o++) {
            int w = option_head(o, head, sizeof(head));
            if (o->help && w <= HEAD_MAX && w > col) {
                col = w;
            }
        }
    }
    col += 2;      /* two spaces before the help, as in the command lists */
    for (size_t i = 0; i < nsec; i++) {
        if (sec[i].title) {
            printf("\n%s\n", sec[i].title);
        }
        for (const cli_option *o = sec[i].opts; o->name; o++) {
            const char *h = o->help, *nl;
            int w;

            if (!h) {
                continue;
            }
            w = option_head(o, head, sizeof(head));
            if (w < col) {
                printf("%-*s", col, head);
            } else {
                printf("%s\n%*s", head, col, "");
            }
            dflt[0] = '\0';
            if (o->dflt && !sec[i].no_defaults) {
                o->dflt(o->val, dflt, sizeof(dflt));
            }
            while ((nl = strchr(h, '\n'))) {
                printf("%.*s\n%*s", (int)(nl - h), h, col, "");
                h = nl + 1;
            }
            if (!dflt[0]) {
                printf("%s\n", h);
            } else if (col + strlen(h) + strlen(dflt) + 12 <= LINE_MAX_COLS) {
                printf("%s (default: %s)\n", h, dflt);
            } else {
                printf("%s\n%*s", h, col, "");
                snprintf(line, sizeof(line), "(default: %s)", dflt);
                print_wrapped(col, line);
            }
        }
    }
}
