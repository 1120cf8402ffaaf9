/*
 * cmd-hook-qemu.c - migpolicy hook-qemu: libvirt's qemu hook (docs/policy.md;
 * installed by libvirt-hooks/install.sh)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy.h"

#include "cli-print.h"
#include "emulator-state.h"
#include "cli-policy.h"
#include "cli-util.h"
#include "commands.h"

#define CMD "hook-qemu"

/* The hook's configuration when MIGPOLICY_HOOK_CONF is not set. */
#define DEFAULT_HOOK_CONF "/etc/libvirt/hooks/migpolicy.conf"

/*
 * The hook must never stall libvirt (libvirt puts no timeout on hooks):
 * whatever it waits on, it gives up after this many seconds and, for a
 * migration, refuses it.
 */
#define HOOK_TIMEOUT_S 10

/* mp_hook_options.emulator_enforces: the domain's emulator on this host
 * is the wrapper (it disables userfaultfd for a forbidden post-copy). */
static int emulator_enforces(const char *emulator, void *opaque, char *why,
                             size_t why_len)
{
    (void)opaque;
    return emulator_wrapper_check(emulator, NULL, 0, why, why_len) == 1;
}

static void hook_log(const hook_conf *hc, const char *line)
{
    FILE *fp;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    int fd = open(hc->log, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
                  O_NOCTTY | O_CLOEXEC, 0640);

    if (fd < 0 || !(fp = fdopen(fd, "a"))) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* The line holds the domain's name, the marker's and the policy's
     * text: escaped, one decision cannot forge another line. */
    fprintf(fp, "%s migpolicy-hook: %s\n", ts, cli_esc(line));
    fclose(fp);
}

static const char *hook_domain;     /* for the alarm's message */

static void hook_timeout(int sig)
{
    static const char m1[] = "migpolicy hook-qemu: refusing: no decision "
                             "within ";
    char m2[64];
    int n;

    (void)sig;
    n = snprintf(m2, sizeof(m2), "%d s (a file that blocks?)\n",
                 HOOK_TIMEOUT_S);
    /* async-signal-safe: write(2) only */
    if (write(STDERR_FILENO, m1, sizeof(m1) - 1) < 0 ||
        write(STDERR_FILENO, m2, (size_t)n) < 0) {
        /* nothing more to do */
    }
    (void)hook_domain;
    _exit(1);
}

/* "prepare begin": the policy the wrapper applies to the QEMU about to
 * start.  Never refuses the start for a policy problem (it fails closed:
 * post-copy forbidden); refuses only if the old file cannot be removed
 * (it could apply otherwise). */
static int hook_prepare(hook_conf *hc, const char *xml, size_t len,
                        const mp_fleet *fleet, const char *fleet_error)
{
    mp_hook_prepared pr;
    char msg[MP_POLICY_MSG_MAX];
    int err;

    err = mp_hook_prepare(xml, len, fleet, fleet_error, &pr);
    if (err == -ENOMEM) {
        cli_error(CMD, "%s", mp_strerror(err));
        return 1;
    }
    if (err) {
        hook_log(hc, pr.log);
        return 0;       /* no UUID: the wrapper fails closed by itself */
    }
    err = state_policy_write(hc->state_dir, &pr, hc->phase_sched,
                             (int64_t)time(NULL), msg, sizeof(msg));
    if (err) {
        char line[MP_POLICY_MSG_MAX * 2];
        snprintf(line, sizeof(line), "%s prepare: cannot write the "
                 "policy for the emulator wrapper: %s", pr.name, msg);
        hook_log(hc, line);
        cli_error(CMD, "%s", line);
        return 1;
    }
    {
        char line[MP_POLICY_MSG_MAX * 3];
        snprintf(line, sizeof(line), "%s phase-sched=%s", pr.log,
                 hc->phase_sched ? "on" : "off");
        hook_log(hc, line);
    }
    return 0;
}

/* "release end": the domain's QEMU is gone; its policy files go too (the
 * recorded migration figures stay, for sched-stats). */
static void hook_release(const hook_conf *hc, const char *xml, size_t len)
{
    mp_domain d;
    char path[1100];

    if (mp_domain_parse_xml(xml, len, &d, NULL, 0) != 0 && !d.uuid[0]) {
        return;
    }
    if (d.uuid[0] &&
        !state_path(path, sizeof(path), hc->state_dir, d.uuid, ".policy")) {
        unlink(path);
    }
    if (d.uuid[0] &&
        !state_path(path, sizeof(path), hc->state_dir, d.uuid, ".applied")) {
        unlink(path);
    }
}

int cmd_hook_qemu(int argc, char **argv)
{
    const char *conf_path = getenv("MIGPOLICY_HOOK_CONF");
    char msg[MP_POLICY_MSG_MAX], *xml = NULL;
    const char *fleet_error = NULL;
    mp_hook_result res;
    mp_fleet *fleet;
    hook_conf hc;
    size_t len;
    int err, rc;
    bool migrate, prepare, release;

    /* libvirt: qemu.d/NAME DOMAIN OP SUBOP EXTRA, XML on stdin. */
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("Usage: migpolicy hook-qemu DOMAIN OP SUBOP EXTRA < XML\n"
               "libvirt's qemu hook (see libvirt-hooks/README.md).  Acts on\n"
               "  DOMAIN migrate begin -  (destination) vetoes (exit 1, reason\n"
               "                          on stderr) a migration the policy\n"
               "                          forbids; never rewrites the XML\n"
               "  DOMAIN prepare begin -  writes the policy the emulator\n"
               "                          wrapper applies to the QEMU starting\n"
               "  DOMAIN release end -    removes it\n"
               "and logs each decision.\n"
               "Configuration: $MIGPOLICY_HOOK_CONF (default %s).\n",
               DEFAULT_HOOK_CONF);
        return 0;
    }
    if (argc != 5) {
        return cli_usage(CMD, "expected DOMAIN OP SUBOP EXTRA");
    }
    migrate = !strcmp(argv[2], "migrate") && !strcmp(argv[3], "begin");
    prepare = !strcmp(argv[2], "prepare") && !strcmp(argv[3], "begin");
    release = !strcmp(argv[2], "release") && !strcmp(argv[3], "end");
    if (!migrate && !prepare && !release) {
        return 0;   /* libvirt ignores unread input for other events */
    }
    hook_domain = argv[1];
    signal(SIGALRM, hook_timeout);
    alarm(HOOK_TIMEOUT_S);
    msg[0] = 0;
    err = hook_conf_load(conf_path ? conf_path : DEFAULT_HOOK_CONF, &hc, msg,
                         sizeof(msg));
    if (err) {
        /* Without its configuration the hook cannot know this host's
         * rules: refuse a migration rather than guess.  A start goes on:
         * with no policy file the wrapper forbids post-copy. */
        cli_error(CMD, "%s'%s': configuration %s",
                    migrate ? "refusing migration of " : "cannot prepare ",
                    argv[1], msg[0] ? msg : mp_strerror(err));
        return migrate ? 1 : 0;
    }
    err = cli_read_all(stdin, MP_DOMAIN_XML_MAX, &xml, &len);
    if (err) {
        cli_error(CMD, "reading the domain XML: %s",
                    mp_strerror(err));
        return migrate ? 1 : 0;
    }
    if (release) {
        hook_release(&hc, xml, len);
        free(xml);
        return 0;
    }
    fleet = mp_fleet_new();
    if (!fleet) {
        free(xml);
        return 1;
    }
    if (hc.policy_dir[0] &&
        mp_fleet_load_dir(fleet, hc.policy_dir, msg, sizeof(msg))) {
        /* A broken fleet file must not let forbidden migrations through. */
        if (migrate) {
            cli_error(CMD, "refusing migration of "
                        "'%s': %s%s", argv[1], strncmp(msg, "policy "
                        "directory ", 17) ? "policy file " : "", msg);
            hook_log(&hc, msg);
            mp_fleet_free(fleet);
            free(xml);
            return 1;
        }
        fleet_error = msg;
    }
    if (prepare) {
        rc = hook_prepare(&hc, xml, len, fleet, fleet_error);
        mp_fleet_free(fleet);
        free(xml);
        return rc;
    }
    hc.opt.now_unix_s = (int64_t)time(NULL);
    hc.opt.emulator_enforces = emulator_enforces;
    err = mp_hook_migrate_begin(xml, len, fleet, &hc.opt, &res);
    mp_fleet_free(fleet);
    free(xml);
    if (err) {
        cli_error(CMD, "%s", mp_strerror(err));
        return 1;
    }
    hook_log(&hc, res.log);
    if (res.veto) {
        cli_message(stderr, "", "%s", res.reason);
        return 1;
    }
    /* Nothing on stdout: the XML is unchanged (an edited one would taint
     * the domain "hook-script"). */
    return 0;
}
