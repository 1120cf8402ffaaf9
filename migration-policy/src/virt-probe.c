/*
 * virt-probe.c - what advise and migrate measure before they choose: the
 * RTT to the destination, the guest's dirty rate, the QEMU it runs in
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "cli-clock.h"
#include "emulator-state.h"
#include "json-read.h"
#include "virt-probe.h"

/* TCP connects timed for the RTT: the median of this many. */
#define RTT_PROBES 5
/* Longest wait for one connect, ms. */
#define RTT_CONNECT_TIMEOUT_MS 1000
/* libvirt's TCP ports (qemu+tcp, qemu+tls) and ssh. */
#define LIBVIRT_TCP_PORT "16509"
#define LIBVIRT_TLS_PORT "16514"

/* Host and port of a libvirt URI "qemu+tcp://host[:port]/system"; host ""
 * for a local URI (qemu:///system, qemu+unix://...). */
void probe_uri_host_port(const char *uri, char *host, size_t hlen,
                         char *port, size_t plen)
{
    const char *p = strstr(uri, "://"), *e, *colon;
    size_t n;

    host[0] = 0;
    snprintf(port, plen, "%s", strstr(uri, "+tls") ? LIBVIRT_TLS_PORT :
             strstr(uri, "+ssh") ? "22" : LIBVIRT_TCP_PORT);
    if (!p || strncmp(uri, "qemu+unix", 9) == 0) {
        return;
    }
    p += 3;
    e = p + strcspn(p, "/?");
    {
        const char *at = memchr(p, '@', (size_t)(e - p));
        if (at) {
            p = at + 1;
        }
    }
    if (*p == '[') {    /* [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(e - p));
        if (!rb) {
            return;
        }
        n = (size_t)(rb - p - 1);
        snprintf(host, hlen, "%.*s", (int)n, p + 1);
        if (rb[1] == ':') {
            snprintf(port, plen, "%.*s", (int)(e - rb - 2), rb + 2);
        }
        return;
    }
    colon = memchr(p, ':', (size_t)(e - p));
    n = (size_t)((colon ? colon : e) - p);
    snprintf(host, hlen, "%.*s", (int)n, p);
    if (colon) {
        snprintf(port, plen, "%.*s", (int)(e - colon - 1), colon + 1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median time of RTT_PROBES TCP connects (SYN -> SYN/ACK = one RTT), ms;
 * -1 if none succeeded. */
double probe_rtt_ms(const char *host, const char *port, int *ok)
{
    struct addrinfo hints, *ai = NULL;
    double t[RTT_PROBES];
    int n = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    *ok = 0;
    if (getaddrinfo(host, port, &hints, &ai) || !ai) {
        return -1;
    }
    for (int i = 0; i < RTT_PROBES; i++) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
                        SOCK_CLOEXEC, 0);
        struct pollfd pfd;
        double t0;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if (fd < 0) {
            continue;
        }
        t0 = cli_mono_s();
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
            close(fd);
            continue;
        }
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, RTT_CONNECT_TIMEOUT_MS) == 1 &&
            !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr) {
            t[n++] = (cli_mono_s() - t0) * 1000;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    *ok = n;
    if (!n) {
        return -1;
    }
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return t[n / 2];
}

bool probe_host_is_local(const char *host)
{
    char me[256];

    if (!*host || !strcmp(host, "localhost") || !strncmp(host, "127.", 4) ||
        !strcmp(host, "::1")) {
        return true;
    }
    return !gethostname(me, sizeof(me)) && !strcmp(me, host);
}

/* Dirty rate, MiB/s, by libvirt's page sampling; -1 if unavailable. */
double probe_dirty_mibps(virDomainPtr dom, int seconds)
{
    virDomainPtr doms[2] = { dom, NULL };
    double deadline;

    if (virDomainStartDirtyRateCalc(dom, seconds,
                                    VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING)) {
        return -1;
    }
    deadline = cli_mono_s() + seconds + 5;
    cli_sleep_ms(seconds * 1000);
    while (cli_mono_s() < deadline) {
        virDomainStatsRecordPtr *recs = NULL;
        int status = -1;
        long long mbps = -1;
        if (virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &recs,
                                  0) == 1) {
            virTypedParamsGetInt(recs[0]->params, recs[0]->nparams,
                                 VIR_DOMAIN_STATS_DIRTYRATE_CALC_STATUS,
                                 &status);
            virTypedParamsGetLLong(recs[0]->params, recs[0]->nparams,
                            VIR_DOMAIN_STATS_DIRTYRATE_MEGABYTES_PER_SECOND,
                            &mbps);
        }
        virDomainStatsRecordListFree(recs);
        if (status == VIR_DOMAIN_DIRTYRATE_MEASURED) {
            return (double)mbps;
        }
        cli_sleep_ms(200);
    }
    return -1;
}

/*
 * The wrapper's side monitor (STATE-DIR/UUID.qmp, cmd-emulator.c): QMP that
 * libvirt does not know, so that nothing migpolicy asks QEMU taints the
 * domain (virDomainQemuMonitorCommand() marks it custom-monitor).  NULL,
 * with @why, when the domain does not run under the wrapper.
 */
#define SIDE_QMP_TIMEOUT_MS 10000

qmp_client *probe_side_open(const char *state_dir, virDomainPtr dom,
                            char *why, size_t why_len)
{
    char uuid[VIR_UUID_STRING_BUFLEN], path[1100];
    qmp_client *q = NULL;

    if (virDomainGetUUIDString(dom, uuid) ||
        state_path(path, sizeof(path), state_dir, uuid, ".qmp")) {
        snprintf(why, why_len, "no UUID");
        return NULL;
    }
    if (qmp_connect(&q, path, SIDE_QMP_TIMEOUT_MS)) {
        snprintf(why, why_len, "no side monitor %.300s (%s): not run by the "
                 "migpolicy emulator wrapper?", path, qmp_error(q));
        qmp_close(q);
        return NULL;
    }
    return q;
}

/*
 * The short window of the dirty-rate pair (mp_dirty_estimate()): QEMU's
 * calc-dirty-rate in milliseconds (QEMU >= 8.2) through the side monitor;
 * libvirt's API takes whole seconds.  Returns MiB/s, or -1 (no side
 * monitor, unsupported, failed).
 */
double probe_dirty_short_mibps(qmp_client *q)
{
    char args[160];
    json_value *r = NULL;
    double deadline;

    if (!q) {
        return -1;
    }
    snprintf(args, sizeof(args), "{\"calc-time\": %d, \"calc-time-unit\": "
             "\"millisecond\", \"mode\": \"page-sampling\"}",
             PROBE_DIRTY_SHORT_MS);
    if (qmp_execute(q, "calc-dirty-rate", args, NULL)) {
        return -1;
    }
    cli_sleep_ms(PROBE_DIRTY_SHORT_MS);
    deadline = cli_mono_s() + 3;
    while (cli_mono_s() < deadline) {
        const char *st;
        const json_value *rate;
        if (qmp_execute(q, "query-dirty-rate", "{\"calc-time-unit\": "
                        "\"millisecond\"}", &r)) {
            return -1;
        }
        st = json_get_str(r, "status");
        rate = json_get(r, "dirty-rate");
        if (st && !strcmp(st, "measured") && rate &&
            rate->type == JSON_NUMBER) {
            double mibps = rate->num;
            json_free(r);
            return mibps >= 0 ? mibps : -1;
        }
        json_free(r);
        r = NULL;
        cli_sleep_ms(50);
    }
    return -1;
}

/* Does the running QEMU have the x-phase-sched capability (and is it on)?
 * Through the side monitor only; -1 = cannot tell. */
int probe_phase_sched_cap(qmp_client *q, bool *on)
{
    json_value *r = NULL;
    int has = 0;

    *on = false;
    if (!q || qmp_execute(q, "query-migrate-capabilities", NULL, &r) ||
        !r || r->type != JSON_ARRAY) {
        json_free(r);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        const char *c = json_get_str(r->items[i], "capability");
        bool st = false;
        if (c && !strcmp(c, "x-phase-sched")) {
            has = 1;
            json_get_bool(r->items[i], "state", &st);
            *on = st;
        }
    }
    json_free(r);
    return has;
}
