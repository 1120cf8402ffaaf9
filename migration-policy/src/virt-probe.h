/*
 * virt-probe.h - what advise and migrate measure before they choose: the
 * RTT to the destination, the guest's dirty rate, the QEMU it runs in
 * (virt-probe.c; with libvirt only)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MIGPOLICY_VIRT_PROBE_H
#define MIGPOLICY_VIRT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <libvirt/libvirt.h>

#include "qmp-client.h"

/* Dirty-rate sampling period, s: libvirt's domdirtyrate-calc default. */
#define PROBE_DIRTY_CALC_S 1
/* The short sampling window, ms (mp_dirty_estimate()). */
#define PROBE_DIRTY_SHORT_MS 100
/* The longer window beside PROBE_DIRTY_CALC_S: how far the written set
 * moves (mp_dirty_motion()). */
#define PROBE_DIRTY_MOTION_S 3

/* Host and port of a libvirt URI "qemu+tcp://host[:port]/system" (the
 * port libvirt's transport implies where it names none); host "" for a
 * local URI (qemu:///system, qemu+unix://...). */
void probe_uri_host_port(const char *uri, char *host, size_t hlen,
                         char *port, size_t plen);

/* Whether @host ("" included) is this host. */
bool probe_host_is_local(const char *host);

/* Median time of a few TCP connects to @host:@port (SYN -> SYN/ACK = one
 * RTT), ms; -1 if none succeeded.  @ok: how many succeeded. */
double probe_rtt_ms(const char *host, const char *port, int *ok);

/* Dirty rate, MiB/s, by libvirt's page sampling over @seconds
 * (PROBE_DIRTY_CALC_S, PROBE_DIRTY_MOTION_S); -1 if unavailable. */
double probe_dirty_mibps(virDomainPtr dom, int seconds);

/* The emulator wrapper's side monitor of @dom (STATE-DIR/UUID.qmp): QMP
 * that libvirt does not see, so nothing asked taints the domain.  NULL,
 * with @why, when the domain does not run under the wrapper. */
qmp_client *probe_side_open(const char *state_dir, virDomainPtr dom,
                            char *why, size_t why_len);

/* The short window of the dirty-rate pair (mp_dirty_estimate()): QEMU's
 * calc-dirty-rate over PROBE_DIRTY_SHORT_MS through the side monitor @q.
 * MiB/s, or -1 (no monitor, unsupported, failed). */
double probe_dirty_short_mibps(qmp_client *q);

/* Whether the QEMU behind @q has the x-phase-sched capability (1; @on: it
 * is set) or not (0); -1: cannot tell. */
int probe_phase_sched_cap(qmp_client *q, bool *on);

#endif /* MIGPOLICY_VIRT_PROBE_H */
