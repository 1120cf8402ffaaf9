/*
 * cli-util.h - what every migpolicy command shares (cli-util.c): exit
 * codes, the command table's entry, the "migpolicy CMD: " messages
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each cmd-*.c file runs one command (or a family under one name, such
 * as "warm") and names it once, in its CMD macro; every message it prints
 * goes through cli_error(), cli_fail() or cli_usage() with that name, so
 * that each line says which command wrote it.  The library never prints.
 */
#ifndef MIGPOLICY_CLI_UTIL_H
#define MIGPOLICY_CLI_UTIL_H

#include <stdarg.h>

/* Exit status: 0 success, 1 failure (EXIT_FAILURE), 2 bad usage. */
#define EXIT_USAGE 2

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One entry of a command table: main.c's, or a command's subcommands. */
typedef struct cli_command {
    const char *name;
    /* One line or more for the help, each after the name's column;
     * continuation lines start with "\n". */
    const char *summary;
    /* argv[0] is the command's name; returns the exit status. */
    int (*run)(int argc, char **argv);
} cli_command;

/*
 * Print @n commands' names and summaries, "  NAME  SUMMARY", the summaries
 * in one column two spaces after the longest name.
 */
void cli_print_commands(const cli_command *cmds, size_t n);

/*
 * Run the command argv[1] names from @cmds with argv shifted by one.  No
 * argument: @help and EXIT_USAGE; -h, --help, help: @help and 0; an
 * unknown name: a usage error of @parent ("migpolicy PARENT: unknown
 * command"; NULL: the program itself).
 */
int cli_dispatch(const char *parent, const cli_command *cmds, size_t n,
                 int argc, char **argv, void (*help)(void));

/* "migpolicy @cmd: " + the message, escaped (cli_vmessage()), on stderr. */
void cli_verror(const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_error(), then returns 1 (failure). */
int cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_error() + "Try 'migpolicy @cmd --help'.", then returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * getopt_long()'s '?' or ':' (@c) as a usage error naming the option
 * (argv[optind - 1]); returns EXIT_USAGE.
 */
int cli_bad_option(const char *cmd, int c, char **argv);

/*
 * @s as a positive integer at most @max into *@out for option @opt.
 * Returns 0, or EXIT_USAGE after a usage error naming @opt.
 */
int cli_positive_option(const char *cmd, const char *opt, const char *s,
                        unsigned max, unsigned *out);

#endif /* MIGPOLICY_CLI_UTIL_H */
