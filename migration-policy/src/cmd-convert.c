/*
 * cmd-convert.c - migpolicy convert: between binary and text traces;
 * synthetic traces
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"

#include "cli-options.h"
#include "cli-trace.h"
#include "cli-util.h"
#include "commands.h"

#define CMD "convert"

/* The output form unless --to says otherwise. */
#define CONVERT_TO_DEFAULT MP_TRACE_BINARY

static const char *format_name(mp_trace_format f)
{
    return f == MP_TRACE_BINARY ? "binary" : "text";
}

static void convert_default(int val, char *buf, size_t len)
{
    switch (val) {
    case 't':
        snprintf(buf, len, "%s", format_name(CONVERT_TO_DEFAULT));
        break;
    case 'c':
        snprintf(buf, len, "auto");     /* mp_trace_create(): 0 */
        break;
    }
}

static const cli_option convert_options[] = {
    { "to", 't', "FORMAT", "output form: binary or text", convert_default },
    { "synthetic", 's', "SPEC", "generate instead of reading INPUT; SPEC is\n"
      "key=value,... with keys blocks, intervals,\nseed, write, read, p_hot, "
      "noise, phase,\ndrift (see docs/trace-format.md)", NULL },
    { "description", 'd', "TEXT", "replace the source description", NULL },
    { "chunk-intervals", 'c', "N", "binary: intervals per chunk",
      convert_default },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section convert_sections[] = {
    { "Options:", convert_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void convert_help(void)
{
    printf("Usage: migpolicy convert [OPTIONS] INPUT OUTPUT\n"
           "       migpolicy convert [OPTIONS] --synthetic SPEC OUTPUT\n"
           "Convert a trace between the binary and the text form (the input\n"
           "form is detected), or write a synthetic trace.\n");
    cli_print_options(convert_sections, ARRAY_SIZE(convert_sections));
    printf("\nText form: a 'format=migpolicy-text-1' line, key=value header "
           "lines,\n"
           "then one line per interval with one character per block:\n"
           "'.' clean, 'r' read, 'w' write.\n");
}

int cmd_convert(int argc, char **argv)
{
    cli_getopt g;
    mp_trace_format to = CONVERT_TO_DEFAULT;
    const char *synth_spec = NULL, *desc = NULL, *in = NULL, *outp;
    unsigned chunk = 0;
    mp_trace_reader *r = NULL;
    mp_trace_writer *w = NULL;
    mp_synth *syn = NULL;
    mp_synth_params sp;
    mp_trace_info info;
    uint64_t *sw = NULL, *sa = NULL, n = 0;
    char msg[256];
    int c, err, rc = 1;

    cli_getopt_build(&g, convert_sections, ARRAY_SIZE(convert_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case 't':
            if (!strcmp(optarg, "binary")) {
                to = MP_TRACE_BINARY;
            } else if (!strcmp(optarg, "text")) {
                to = MP_TRACE_TEXT;
            } else {
                return cli_usage(CMD, "--to: '%s' is not 'binary' "
                                   "or 'text'", optarg);
            }
            break;
        case 's':
            synth_spec = optarg;
            break;
        case 'd':
            desc = optarg;
            break;
        case 'c':
            if (cli_positive_option(CMD, "--chunk-intervals", optarg,
                               MP_TRACE_MAX_CHUNK_INTERVALS, &chunk)) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            convert_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    if (argc - optind != (synth_spec ? 1 : 2)) {
        return cli_usage(CMD, synth_spec ?
                           "with --synthetic, expected OUTPUT only" :
                           "expected INPUT and OUTPUT");
    }
    if (!synth_spec) {
        in = argv[optind++];
    }
    outp = argv[optind];
    if (desc && strlen(desc) > MP_TRACE_DESC_MAX) {
        return cli_usage(CMD, "--description: longer than %u bytes",
                           MP_TRACE_DESC_MAX);
    }

    if (synth_spec) {
        mp_synth_params_default(&sp);
        if (mp_synth_params_parse(&sp, synth_spec, msg, sizeof(msg))) {
            return cli_usage(CMD, "--synthetic: %s", msg);
        }
        err = mp_synth_new(&syn, &sp);
        if (err) {
            cli_error(CMD, "--synthetic: %s", mp_strerror(err));
            return 1;
        }
        mp_trace_info_init(&info, sp.nblocks);
        snprintf(info.description, sizeof(info.description),
                 "synthetic: %s", synth_spec);
        sw = calloc((sp.nblocks + 63) / 64, 8);
        sa = calloc((sp.nblocks + 63) / 64, 8);
        if (!sw || !sa) {
            cli_error(CMD, "%s", mp_strerror(-ENOMEM));
            goto out;
        }
    } else {
        r = cli_trace_open(CMD, in);
        if (!r) {
            goto out;
        }
        info = *mp_trace_reader_info(r);
    }
    if (desc) {
        snprintf(info.description, sizeof(info.description), "%s", desc);
    }
    w = mp_trace_writer_new();
    if (!w) {
        cli_error(CMD, "%s", mp_strerror(-ENOMEM));
        goto out;
    }
    err = mp_trace_create(w, outp, &info, to, chunk);
    if (err) {
        cli_error(CMD, "%s: %s", outp, mp_trace_writer_error(w));
        goto out;
    }
    for (;;) {
        const uint64_t *pw, *pa;
        if (syn) {
            if (n == sp.intervals) {
                break;
            }
            mp_synth_next(syn, sw, sa);
            pw = sw;
            pa = sa;
        } else {
            int got = mp_trace_read(r, &pw, &pa);
            if (got < 0) {
                cli_trace_read_error(CMD, in, r, got);
                goto out;
            }
            if (got == 0) {
                break;
            }
        }
        err = mp_trace_write(w, pw, pa);
        if (err) {
            cli_error(CMD, "%s: %s", outp, mp_trace_writer_error(w));
            goto out;
        }
        n++;
    }
    err = mp_trace_finish(w);
    if (err) {
        cli_error(CMD, "%s: %s", outp, mp_trace_writer_error(w));
        goto out;
    }
    printf("%s: %" PRIu64 " intervals of %" PRIu64 " blocks written (%s)\n",
           outp, n, info.nblocks, format_name(to));
    rc = 0;
out:
    mp_trace_writer_free(w);
    mp_trace_reader_free(r);
    mp_synth_free(syn);
    free(sw);
    free(sa);
    return rc;
}
