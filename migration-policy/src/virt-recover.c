/*
 * virt-recover.c - resume a failed post-copy through QEMU's own commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See virt-recover.h.  Every monitor command goes through libvirt
 * (virDomainQemuMonitorCommand(), which marks the domain tainted
 * "custom-monitor") in a thread of its own, so that a monitor that does
 * not answer cannot block the caller: QEMU serves migrate-recover in band
 * there, and a destination whose main loop waits cannot take it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "cli-clock.h"
#include "json-read.h"
#include "virt-recover.h"

/* libvirt's default migration port range (qemu.conf migration_port_*). */
#define RECOVER_PORT_MIN 49152
#define RECOVER_PORT_MAX 49215
#define RECOVER_POLL_MS 200
/*
 * libvirt waits this long for a domain's job before it gives up on a
 * command (VIR_JOB_WAIT_TIME); mon() waits a little longer, so that
 * libvirt's own answer says whether the command reached QEMU at all.
 */
#define RECOVER_LIBVIRT_JOB_WAIT_S 30
#define RECOVER_LIBVIRT_GRACE_S 5

static void errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static void recover_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

static const char *virt_last_err(void)
{
    virErrorPtr e = virGetLastError();

    return e && e->message ? e->message : "unknown libvirt error";
}

typedef struct mon_call {
    virDomainPtr dom;
    char cmd[512];
    char *reply;
    int rc;
    int code;
    char err[512];
} mon_call;

static void *mon_call_run(void *opaque)
{
    mon_call *c = opaque;

    c->rc = virDomainQemuMonitorCommand(c->dom, c->cmd, &c->reply, 0);
    if (c->rc < 0) {
        virErrorPtr e = virGetLastError();

        c->code = e ? e->code : 0;
        snprintf(c->err, sizeof(c->err), "%s", virt_last_err());
    }
    return NULL;
}

/*
 * Run one QMP command on @dom's monitor through libvirt, waiting at most
 * @timeout_s (and longer than libvirt waits for the domain's job).
 * Returns 0 with the parsed reply in *@out (free with
 * json_free()), -1 (libvirt refused: @err), -2 (no answer in time: the
 * call is left running in its thread), -3 (libvirt timed out waiting for
 * the domain's job: a job running on it, such as the incoming migration's,
 * admits no monitor command).
 */
static int mon(virDomainPtr dom, const char *cmd, int timeout_s,
               json_value **out, char *err, size_t len)
{
    int wait_s = (timeout_s > RECOVER_LIBVIRT_JOB_WAIT_S ?
                  timeout_s : RECOVER_LIBVIRT_JOB_WAIT_S) +
                 RECOVER_LIBVIRT_GRACE_S;
    mon_call *c = calloc(1, sizeof(*c));
    struct timespec until;
    pthread_t th;
    int rc;

    if (!c) {
        errf(err, len, "out of memory");
        return -1;
    }
    c->dom = dom;
    snprintf(c->cmd, sizeof(c->cmd), "%s", cmd);
    if (pthread_create(&th, NULL, mon_call_run, c)) {
        free(c);
        errf(err, len, "cannot start a thread");
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_s;
    if (pthread_timedjoin_np(th, NULL, &until)) {
        pthread_detach(th);     /* @c stays with the thread */
        errf(err, len, "QEMU's monitor did not answer '%s' in %d s", cmd,
             wait_s);
        return -2;
    }
    rc = c->rc;
    if (rc < 0 && c->code == VIR_ERR_OPERATION_TIMEOUT) {
        errf(err, len, "libvirt did not pass '%s' to QEMU: %s", cmd, c->err);
        free(c);
        return -3;
    }
    if (rc < 0) {
        errf(err, len, "%s", c->err);
    } else if (json_parse(c->reply, strlen(c->reply), out, NULL, 0)) {
        errf(err, len, "unreadable QMP reply: %.200s", c->reply);
        rc = -1;
    }
    free(c->reply);
    free(c);
    return rc < 0 ? -1 : 0;
}

/* The QMP error of a reply, or NULL if it succeeded. */
static const char *qmp_err(const json_value *r)
{
    const json_value *e = json_get(r, "error");

    if (!e) {
        return NULL;
    }
    return json_get_str(e, "desc") ? json_get_str(e, "desc") : "error";
}

/*
 * query-migrate's status into @status and the RAM sent so far into
 * *@sent.  Returns 0, or mon()'s -1 / -2.
 */
static int migrate_status(virDomainPtr dom, int timeout_s, char *status,
                          size_t slen, int64_t *sent, char *err, size_t len)
{
    json_value *r = NULL;
    const json_value *ret;
    int rc = mon(dom, "{\"execute\":\"query-migrate\"}", timeout_s, &r, err,
                 len);

    if (rc) {
        return rc;
    }
    if (qmp_err(r)) {
        errf(err, len, "query-migrate: %s", qmp_err(r));
        json_free(r);
        return -1;
    }
    ret = json_get(r, "return");
    snprintf(status, slen, "%s",
             json_get_str(ret, "status") ? json_get_str(ret, "status")
                                         : "none");
    if (sent && json_get_int(json_get(ret, "ram"), "transferred", sent)) {
        *sent = 0;
    }
    json_free(r);
    return 0;
}

bool virt_recover_broken_libvirt(virConnectPtr dconn, char *why, size_t len)
{
    unsigned long v = 0;

    if (virConnectGetLibVersion(dconn, &v) < 0) {
        errf(why, len, "libvirt's version unknown (%s)", virt_last_err());
        return false;
    }
    errf(why, len, "the destination runs libvirt %lu.%lu.%lu", v / 1000000,
         v / 1000 % 1000, v % 1000);
    return v >= 11002000 && v < 11004000;
}

/* Wait until the destination's half is paused too (or says otherwise). */
static int wait_dest_paused(virDomainPtr ddom, int stall_s, char *err,
                            size_t len)
{
    double until = cli_mono_s() + stall_s;
    char st[64];
    int rc;

    for (;;) {
        rc = migrate_status(ddom, stall_s, st, sizeof(st), NULL, err, len);
        if (rc) {
            return rc;
        }
        if (!strcmp(st, "postcopy-paused")) {
            return 0;
        }
        if (strcmp(st, "postcopy-active") && strcmp(st, "postcopy-recover")) {
            errf(err, len, "the destination's migration is '%s', not paused "
                 "in post-copy", st);
            return -1;
        }
        if (cli_mono_s() > until) {
            errf(err, len, "the destination's migration stayed '%s' for %d s",
                 st, stall_s);
            return 1;
        }
        recover_sleep_ms(RECOVER_POLL_MS);
    }
}

/*
 * Run @command with the argument uri "tcp:@host:@port" (an IPv6 address in
 * brackets) and the further JSON members @more ("" or ",\"k\":v"), as mon().
 */
static int mon_uri(virDomainPtr dom, const char *command, const char *more,
                   const char *host, int port, int timeout_s, json_value **out,
                   char *err, size_t len)
{
    bool v6 = strchr(host, ':') != NULL;
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\",\"arguments\":"
             "{\"uri\":\"tcp:%s%s%s:%d\"%s}}", command, v6 ? "[" : "", host,
             v6 ? "]" : "", port, more);
    return mon(dom, cmd, timeout_s, out, err, len);
}

/* migrate-recover on a free port of the range; the port into *@port. */
static int dest_listen(virDomainPtr ddom, const char *host, int stall_s,
                       int *port, char *err, size_t len)
{
    for (int p = RECOVER_PORT_MAX; p >= RECOVER_PORT_MIN; p--) {
        json_value *r = NULL;
        const char *e;
        int rc = mon_uri(ddom, "migrate-recover", "", host, p, stall_s, &r,
                         err, len);

        if (rc) {
            return rc;
        }
        e = qmp_err(r);
        if (!e) {
            json_free(r);
            *port = p;
            return 0;
        }
        if (!strstr(e, "in use")) {
            errf(err, len, "migrate-recover on the destination: %s", e);
            json_free(r);
            return -1;
        }
        json_free(r);
    }
    errf(err, len, "no free port in %d-%d on the destination",
         RECOVER_PORT_MIN, RECOVER_PORT_MAX);
    return -1;
}

/* Resume the source into the destination's port. */
static int src_resume(virDomainPtr src, const char *host, int port,
                      int stall_s, char *err, size_t len)
{
    json_value *r = NULL;
    int rc = mon_uri(src, "migrate", ",\"resume\":true", host, port, stall_s,
                     &r, err, len);

    if (rc) {
        return rc;
    }
    if (qmp_err(r)) {
        errf(err, len, "migrate (resume) on the source: %s", qmp_err(r));
        rc = -1;
    }
    json_free(r);
    return rc;
}

/*
 * Follow the resumed migration on the source until QEMU completes it
 * (or libvirt has already ended the source's QEMU after completion).
 */
static int watch_src(virDomainPtr src, int stall_s, char *err, size_t len)
{
    double moved_at = cli_mono_s();
    int64_t sent = -1, now = 0;
    bool resumed = false;
    char st[64];
    int rc;

    for (;;) {
        if (virDomainIsActive(src) == 0) {
            return 0;           /* libvirt finished and ended it */
        }
        rc = migrate_status(src, stall_s, st, sizeof(st), &now, err, len);
        if (rc == -1 && virDomainIsActive(src) == 0) {
            return 0;
        }
        if (rc) {
            return rc;
        }
        if (!strcmp(st, "completed")) {
            return 0;
        }
        if (!strcmp(st, "postcopy-active") || !strcmp(st, "postcopy-recover")) {
            resumed = true;
        } else if (!strcmp(st, "postcopy-paused") && resumed) {
            errf(err, len, "the resumed post-copy was interrupted again");
            return 1;
        } else if (strcmp(st, "postcopy-paused") &&
                   strcmp(st, "postcopy-recover-setup")) {
            errf(err, len, "the source's migration went to '%s'", st);
            return -1;
        }
        if (now != sent) {
            sent = now;
            moved_at = cli_mono_s();
        } else if (cli_mono_s() - moved_at > stall_s) {
            errf(err, len, "the resumed post-copy sent nothing for %d s "
                 "(source '%s')", stall_s, st);
            return strcmp(st, "postcopy-paused") ? -1 : 1;
        }
        recover_sleep_ms(RECOVER_POLL_MS);
    }
}

/* libvirt finishes the completed migration on the destination by itself. */
static int wait_dest_running(virDomainPtr ddom, int stall_s, char *err,
                             size_t len)
{
    double until = cli_mono_s() + stall_s;
    int state = 0, reason = 0;

    while (cli_mono_s() < until) {
        if (virDomainGetState(ddom, &state, &reason, 0) == 0 &&
            state == VIR_DOMAIN_RUNNING && reason != VIR_DOMAIN_RUNNING_POSTCOPY &&
            reason != VIR_DOMAIN_RUNNING_POSTCOPY_FAILED) {
            return 0;
        }
        recover_sleep_ms(RECOVER_POLL_MS);
    }
    errf(err, len, "QEMU completed the migration but libvirt on the "
         "destination did not finish it in %d s (state %d, reason %d)",
         stall_s, state, reason);
    return -1;
}

int virt_recover_qmp(virDomainPtr src, virConnectPtr dconn, const char *host,
                     int stall_s, char *err, size_t len)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    const char *side;
    virDomainPtr ddom;
    int port = 0, rc;

    if (virDomainGetUUID(src, uuid)) {
        errf(err, len, "%s", virt_last_err());
        return -1;
    }
    ddom = virDomainLookupByUUID(dconn, uuid);
    if (!ddom) {
        errf(err, len, "the destination has no such domain: %s",
             virt_last_err());
        return -1;
    }
    side = "destination";
    rc = wait_dest_paused(ddom, stall_s, err, len);
    if (!rc) {
        rc = dest_listen(ddom, host, stall_s, &port, err, len);
    }
    if (!rc) {
        side = "source";
        rc = src_resume(src, host, port, stall_s, err, len);
    }
    if (!rc) {
        rc = watch_src(src, stall_s, err, len);
    }
    if (!rc) {
        side = "destination";
        rc = wait_dest_running(ddom, stall_s, err, len);
    }
    if (rc == -3) {
        char what[512];

        snprintf(what, sizeof(what), "%s", err);
        errf(err, len, "the %s: %s", side, what);
    }
    if (rc != -2) {
        virDomainFree(ddom);    /* no monitor call left running with it */
    }
    return rc;
}
