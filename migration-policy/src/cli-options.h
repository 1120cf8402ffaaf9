/*
 * cli-options.h - option tables: one entry per option gives getopt_long()
 * its parsing and --help its line (cli-options.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A command lists its options in one or more cli_option groups (its own,
 * and shared ones such as the link and workload groups of cli-workload.h);
 * cli_getopt_build() turns the groups into getopt_long()'s arrays and
 * cli_print_options() prints them for --help, with each default taken
 * from the code (the entry's dflt callback), never written in the text.
 */
#ifndef MIGPOLICY_CLI_OPTIONS_H
#define MIGPOLICY_CLI_OPTIONS_H

#include <getopt.h>
#include <stddef.h>

typedef struct cli_option {
    const char *name;   /* long name without "--"; NULL ends a group */
    int val;            /* short letter, or a code >= 0x100 */
    const char *arg;    /* the argument's name in the help; NULL: none */
    const char *help;   /* "\n" between lines; NULL: not in the help */
    /* Writes the default of option @val into @buf (one function serves a
     * group: a switch on @val); NULL, or an empty @buf: none shown. */
    void (*dflt)(int val, char *buf, size_t len);
} cli_option;

/* One titled group of options in the help ("Link and limits"). */
typedef struct cli_option_section {
    const char *title;  /* NULL: no title line */
    const cli_option *opts;
    /* The command sets these otherwise (advise measures the workload):
     * print no "(default: ...)". */
    int no_defaults;
} cli_option_section;

/* -h, --help: every command's last group. */
extern const cli_option cli_help_options[];

/* Longest option list and short-option string cli_getopt_build() fills. */
#define CLI_MAX_OPTIONS 64
#define CLI_MAX_SHORTOPTS 64

/* getopt_long()'s arguments, built from the groups. */
typedef struct cli_getopt {
    struct option longopts[CLI_MAX_OPTIONS + 1];
    char shortopts[CLI_MAX_SHORTOPTS];
} cli_getopt;

/*
 * Fill @g from @nsec sections: every option of every group, the short
 * letters with ':' where they take an argument, a leading ':' so that a
 * missing argument is reported as ':'; and restart getopt (optind = 1).
 * Groups beyond CLI_MAX_OPTIONS or CLI_MAX_SHORTOPTS are a programming
 * error (every command's table runs in tests/cli's golden help): abort().
 */
void cli_getopt_build(cli_getopt *g, const cli_option_section *sec,
                      size_t nsec);

/* getopt_long() on @g's arrays: the next option's value, or -1. */
int cli_getopt_next(const cli_getopt *g, int argc, char **argv);

/*
 * Print @nsec sections of options on stdout: each title after a blank
 * line, then one "  -x, --name ARG   help" line per option (help lines
 * aligned in one column for all sections), " (default: D)" after the
 * last help line (or on a line of its own where it would pass column 79)
 * where the entry has a default.
 */
void cli_print_options(const cli_option_section *sec, size_t nsec);

#endif /* MIGPOLICY_CLI_OPTIONS_H */
