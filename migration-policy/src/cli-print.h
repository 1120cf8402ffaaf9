/*
 * cli-print.h - messages and untrusted text on the terminal (cli-print.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Everything migpolicy prints that may hold text from outside (a domain
 * name, a file name, QEMU's or libvirt's error text) goes through these,
 * so that a newline or a terminal escape in it cannot forge a line or
 * drive the terminal (mp_escape_text()).
 */
#ifndef MIGPOLICY_CLI_PRINT_H
#define MIGPOLICY_CLI_PRINT_H

#include <stdarg.h>
#include <stdio.h>

/* "@prefix" + the formatted message, escaped, + "\n" on @fp. */
void cli_vmessage(FILE *fp, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void cli_message(FILE *fp, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * @s escaped, in one of 8 rotating buffers (so that a printf may use
 * several): valid until the 8th next call.  Single-threaded use only.
 */
const char *cli_esc(const char *s);

#endif /* MIGPOLICY_CLI_PRINT_H */
