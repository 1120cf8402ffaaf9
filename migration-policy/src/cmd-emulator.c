/*
 * cmd-emulator.c - migpolicy emulator: libvirt's <emulator> for QEMU with
 * the migration policy
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libvirt runs the wrapper script install.sh writes as the domain's
 * <emulator>; the script execs `migpolicy emulator --qemu REAL -- ARGS`.
 * For a real domain start (ARGS has -uuid) this reads the policy the hook
 * wrote on "prepare begin" (emulator-state.h) and, before exec'ing the
 * real QEMU with ARGS:
 *
 *   - post-copy allowed and phase-sched on, and REAL has x-phase-sched:
 *     adds -global migration.x-postcopy-ram=on -global
 *     migration.x-phase-sched=on, so that a plain 'virsh migrate --live
 *     --postcopy' from this QEMU runs the phase scheduler;
 *   - post-copy forbidden (or no valid policy file: fail closed): takes
 *     userfaultfd away from QEMU (uffd-deny.h), so that as a migration's
 *     destination it refuses post-copy and a pre-copy migration goes on;
 *     where REAL has x-postcopy-blocker, also -global
 *     migration.x-postcopy-blocker=REASON, so that the refusal names the
 *     policy (userfaultfd stays the enforcement);
 *   - a max-downtime-ms under QEMU's 300 ms: -global
 *     migration.x-downtime-limit=MS;
 *   - a second QMP monitor on STATE-DIR/UUID.qmp, for migpolicy's own
 *     queries and statistics (libvirt does not know it: no custom-monitor
 *     taint);
 *
 * none of which libvirt sees: the domain's XML is untouched, nothing is
 * tainted.  Anything else (libvirt's capability probe, -machine none) is
 * exec'ed unchanged.  Messages go to stderr, i.e. the domain's log.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-options.h"
#include "cli-print.h"
#include "cli-util.h"
#include "commands.h"
#include "emulator-state.h"
#include "file-replace.h"
#include "sched-record.h"
#include "uffd-deny.h"

#define CMD "emulator"

/* Arguments we may add: 4 (scheduler) + 2 (downtime) + 4 (side monitor)
 * + 4 (the recorder's monitor) + 2 (post-copy blocker). */
#define EXTRA_ARGS_MAX 16

/* The side monitors' chardev ids: not ones libvirt uses. */
#define SIDE_MONITOR_ID "migpolicy-qmp"
#define RECORDER_MONITOR_ID "migpolicy-rec"

enum { OPT_QEMU = 0x100, OPT_STATE_DIR };

static void emulator_default(int val, char *buf, size_t len)
{
    if (val == OPT_STATE_DIR) {
        snprintf(buf, len, "%s", STATE_DIR_DEFAULT);
    }
}

static const cli_option emulator_options[] = {
    { "qemu", OPT_QEMU, "PATH", "the QEMU binary to run (absolute)", NULL },
    { "state-dir", OPT_STATE_DIR, "DIR", "where the hook left UUID.policy",
      emulator_default },
    { NULL, 0, NULL, NULL, NULL },
};

static const cli_option_section emulator_sections[] = {
    { "Options:", emulator_options, 0 },
    { NULL, cli_help_options, 0 },
};

static void emulator_help(void)
{
    printf("Usage: migpolicy emulator --qemu PATH [--state-dir DIR] -- "
           "QEMU-ARGS...\n"
           "Run QEMU for libvirt with the policy the migpolicy hook prepared\n"
           "(DIR/UUID.policy): the phase scheduler on when post-copy is\n"
           "allowed, userfaultfd taken away when it is forbidden (such a\n"
           "QEMU refuses post-copy as a migration's destination), a\n"
           "max-downtime-ms under 300 ms as QEMU's downtime-limit, and a\n"
           "second QMP monitor on DIR/UUID.qmp for migpolicy.  Without -uuid\n"
           "in QEMU-ARGS (libvirt's capability probe) QEMU runs unchanged.\n"
           "See docs/policy.md, \"The emulator wrapper\".\n");
    cli_print_options(emulator_sections, ARRAY_SIZE(emulator_sections));
}

static void emu_msg(const char *domain, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emu_msg(const char *domain, const char *fmt, ...)
{
    char prefix[320];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "migpolicy emulator: %s: ",
             domain ? cli_esc(domain) : "?");
    va_start(ap, fmt);
    cli_vmessage(stderr, prefix, fmt, ap);
    va_end(ap);
}

/* The value after @opt in @args, or NULL. */
static const char *arg_after(int n, char **args, const char *opt)
{
    for (int i = 0; i + 1 < n; i++) {
        if (!strcmp(args[i], opt)) {
            return args[i + 1];
        }
    }
    return NULL;
}

/* The domain name from "-name guest=NAME,debug-threads=on" (QEMU doubles
 * a comma inside a value). */
static void name_from_arg(const char *v, char *out, size_t len)
{
    size_t o = 0;

    out[0] = 0;
    if (!v) {
        return;
    }
    if (!strncmp(v, "guest=", 6)) {
        v += 6;
    } else if (strchr(v, '=')) {
        return;
    }
    for (; *v && o + 1 < len; v++) {
        if (*v == ',') {
            if (v[1] != ',') {
                break;
            }
            v++;
        }
        out[o++] = *v;
    }
    out[o] = 0;
}

static bool valid_uuid(const char *s)
{
    if (!s || strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i])) {
            return false;
        }
    }
    return true;
}

/* A listening unix socket at @path for QEMU's second monitor: the fd
 * (inherited by QEMU), or -1 with @why. */
static int side_socket(const char *path, char *why, size_t why_len)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(why, why_len, "%.200s...: path too long for a socket", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);      /* no CLOEXEC: for QEMU */
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    unlink(path);       /* a socket left by a QEMU that died */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
        listen(fd, 4)) {
        snprintf(why, why_len, "%.300s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

/* What was applied, for 'migpolicy sched-stats' (DIR/UUID.applied). */
static void write_applied(const char *dir, const char *uuid,
                          const char *domain, const state_policy *sp,
                          const char *policy_from, bool enforced,
                          const char *sched, const char *qmp)
{
    char path[1100];
    file_replace fr;

    if (state_path(path, sizeof(path), dir, uuid, ".applied") ||
        file_replace_open(&fr, path)) {
        return;
    }
    fprintf(fr.fp, "# written by migpolicy emulator when QEMU started\n"
            "version = 1\nuuid = %s\ndomain = %s\nstarted = %" PRId64 "\n"
            "policy = %s\npostcopy = %s\npostcopy-origin = %s\n"
            "enforcement = %s\nphase-sched = %s\ndowntime-limit-ms = %"
            PRIu64 "\nqmp = %s\n", uuid, cli_esc(domain),
            (int64_t)time(NULL), cli_esc(policy_from),
            sp->postcopy_allowed ? "allowed" : "forbidden",
            cli_esc(sp->postcopy_origin[0] ? sp->postcopy_origin : "default"),
            enforced ? "userfaultfd-disabled" : "none", cli_esc(sched),
            sp->downtime_limit_ms, qmp[0] ? qmp : "none");
    file_replace_commit(&fr, false);
}

int cmd_emulator(int argc, char **argv)
{
    const char *qemu = NULL, *dir = STATE_DIR_DEFAULT, *uuid, *name_arg;
    char domain[256], msg[MP_POLICY_MSG_MAX], why[MP_POLICY_MSG_MAX];
    char sched[MP_POLICY_MSG_MAX * 2], policy_from[MP_POLICY_MSG_MAX * 2];
    char qmp[1100] = "", path[1100], extra_buf[EXTRA_ARGS_MAX][160];
    char blocker[MP_POLICY_MSG_MAX + 400];
    char **qargs, **nargv;
    state_policy sp;
    int i, c, nq, nextra = 0, err, side_fd = -1;
    cli_getopt g;
    bool enforced = false;

    cli_getopt_build(&g, emulator_sections, ARRAY_SIZE(emulator_sections));
    while ((c = cli_getopt_next(&g, argc, argv)) != -1) {
        switch (c) {
        case OPT_QEMU:
            qemu = optarg;
            break;
        case OPT_STATE_DIR:
            dir = optarg;
            break;
        case 'h':
            emulator_help();
            return 0;
        default:
            return cli_bad_option(CMD, c, argv);
        }
    }
    i = optind;
    if (!qemu || qemu[0] != '/') {
        return cli_usage(CMD, "--qemu PATH (absolute) is required");
    }
    qargs = argv + i;
    nq = argc - i;
    nargv = calloc((size_t)nq + EXTRA_ARGS_MAX + 2, sizeof(*nargv));
    if (!nargv) {
        fprintf(stderr, "migpolicy emulator: out of memory\n");
        return 1;
    }
    nargv[0] = (char *)qemu;
    for (int k = 0; k < nq; k++) {
        nargv[1 + k] = qargs[k];
    }
    uuid = arg_after(nq, qargs, "-uuid");
    if (!uuid) {
        /* Not a domain: libvirt's capability probe, or by hand. */
        execv(qemu, nargv);
        cli_message(stderr, "migpolicy emulator: ", "cannot run %s: %s",
                    qemu, strerror(errno));
        return 127;
    }
    name_arg = arg_after(nq, qargs, "-name");
    name_from_arg(name_arg, domain, sizeof(domain));
    if (!valid_uuid(uuid)) {
        emu_msg(domain, "-uuid '%s' is not a UUID: refusing to start", uuid);
        return 1;
    }

    /* The hook's policy, or fail closed. */
    err = state_policy_read(dir, uuid, (int64_t)time(NULL), &sp, msg,
                            sizeof(msg));
    if (err) {
        memset(&sp, 0, sizeof(sp));
        sp.postcopy_allowed = false;
        sp.phase_sched = false;
        snprintf(sp.postcopy_origin, sizeof(sp.postcopy_origin), "no policy "
                 "from the hook");
        snprintf(policy_from, sizeof(policy_from), "none (%s): post-copy "
                 "forbidden, fail closed", msg);
    } else {
        snprintf(policy_from, sizeof(policy_from), "hook");
        if (sp.domain[0] && domain[0] && strcmp(sp.domain, domain)) {
            emu_msg(domain, "policy file names domain '%s'", sp.domain);
        }
        /* Used once: it must not apply to a later start. */
        if (!state_path(path, sizeof(path), dir, uuid, ".policy")) {
            unlink(path);
        }
    }

    /* The scheduler: only where post-copy may run, and QEMU has it. */
    if (!sp.postcopy_allowed) {
        snprintf(sched, sizeof(sched), "off (post-copy forbidden)");
    } else if (!sp.phase_sched) {
        snprintf(sched, sizeof(sched), "off (phase-sched = off)");
    } else if ((err = file_has_string(qemu, "x-phase-sched", why,
                                      sizeof(why))) != 1) {
        snprintf(sched, sizeof(sched), "off (%s)", err < 0 ? why :
                 "QEMU has no x-phase-sched");
    } else {
        snprintf(sched, sizeof(sched), "on");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-global");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                 "migration.x-postcopy-ram=on");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-global");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                 "migration.x-phase-sched=on");
    }
    if (sp.downtime_limit_ms) {
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-global");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                 "migration.x-downtime-limit=%" PRIu64, sp.downtime_limit_ms);
    }
    if (!state_path(qmp, sizeof(qmp), dir, uuid, ".qmp")) {
        side_fd = side_socket(qmp, why, sizeof(why));
    }
    if (side_fd >= 0) {
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-chardev");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                 "socket,id=" SIDE_MONITOR_ID ",fd=%d,server=on,wait=off",
                 side_fd);
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-mon");
        snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                 "chardev=" SIDE_MONITOR_ID ",mode=control");
    } else {
        emu_msg(domain, "no side monitor (%s): migpolicy cannot query this "
                "QEMU", why);
        qmp[0] = 0;
    }

    /* Post-copy forbidden: this QEMU gets no userfaultfd.  If that cannot
     * be done, the prohibition cannot be enforced: do not start. */
    if (!sp.postcopy_allowed) {
        err = uffd_deny_install();
        if (err) {
            emu_msg(domain, "post-copy is forbidden (%s) but userfaultfd "
                    "cannot be taken away from QEMU (%s): refusing to start",
                    sp.postcopy_origin, strerror(-err));
            return 1;
        }
        enforced = true;
        err = file_has_string(qemu, "x-postcopy-blocker", why, sizeof(why));
        if (err == 1) {
            snprintf(blocker, sizeof(blocker), "migration.x-postcopy-blocker="
                     "post-copy of '%s' is forbidden by its migration policy "
                     "(%s): migrate it with pre-copy",
                     cli_esc(domain[0] ? domain : uuid),
                     cli_esc(sp.postcopy_origin[0] ? sp.postcopy_origin :
                             "default"));
            snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-global");
            nargv[1 + nq + nextra++] = blocker;
        }
    }
    /* The recorder of the scheduler's figures (sched-record.h), on the
     * side monitor. */
    {
        int rec_fd = -1;
        err = sched_recorder_start(&rec_fd, qmp, dir,
                                   domain[0] ? domain : uuid, uuid,
                                   arg_after(nq, qargs, "-incoming") != NULL);
        if (err) {
            emu_msg(domain, "no recorder of the scheduler's figures: %s",
                    strerror(-err));
        } else {
            snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-chardev");
            snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                     "socket,id=" RECORDER_MONITOR_ID ",fd=%d", rec_fd);
            snprintf(extra_buf[nextra++], sizeof(extra_buf[0]), "-mon");
            snprintf(extra_buf[nextra++], sizeof(extra_buf[0]),
                     "chardev=" RECORDER_MONITOR_ID ",mode=control");
        }
    }
    for (int k = 0; k < nextra; k++) {
        if (!nargv[1 + nq + k]) {
            nargv[1 + nq + k] = extra_buf[k];
        }
    }
    nargv[1 + nq + nextra] = NULL;
    write_applied(dir, uuid, domain, &sp, policy_from, enforced, sched, qmp);
    {
        char dl[32] = "default";
        if (sp.downtime_limit_ms) {
            snprintf(dl, sizeof(dl), "%" PRIu64 " ms", sp.downtime_limit_ms);
        }
        emu_msg(domain, "policy %s; post-copy %s (%s)%s; phase scheduler "
                "%s; downtime-limit %s", policy_from,
                sp.postcopy_allowed ? "allowed" : "forbidden",
                sp.postcopy_origin, enforced ? ", userfaultfd disabled" : "",
                sched, dl);
    }
    fflush(stderr);
    execv(qemu, nargv);
    emu_msg(domain, "cannot run %s: %s", qemu, strerror(errno));
    return 127;
}
