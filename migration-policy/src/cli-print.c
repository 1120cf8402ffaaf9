/*
 * cli-print.c - messages and untrusted text on the terminal
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"

#include "cli-print.h"

void cli_vmessage(FILE *fp, const char *prefix, const char *fmt, va_list ap)
{
    char *raw = NULL, *esc;
    int n = vasprintf(&raw, fmt, ap);

    if (n < 0) {
        fprintf(fp, "%s(out of memory formatting a message)\n", prefix);
        return;
    }
    /* At most 4 bytes of escape per byte, plus the NUL. */
    esc = malloc((size_t)n * 4 + 1);
    if (!esc) {
        fprintf(fp, "%s(out of memory formatting a message)\n", prefix);
        free(raw);
        return;
    }
    mp_escape_text(raw, esc, (size_t)n * 4 + 1);
    fprintf(fp, "%s%s\n", prefix, esc);
    free(esc);
    free(raw);
}

void cli_message(FILE *fp, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_vmessage(fp, prefix, fmt, ap);
    va_end(ap);
}

const char *cli_esc(const char *s)
{
    static char *bufs[8];
    static unsigned next;
    size_t need = (s ? strlen(s) : 0) * 4 + 1;
    char **b = &bufs[next++ % 8];
    char *p = realloc(*b, need);

    if (!p) {
        return "(out of memory)";
    }
    *b = p;
    return mp_escape_text(s, p, need);
}
