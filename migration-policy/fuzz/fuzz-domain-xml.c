/*
 * fuzz-domain-xml.c - libFuzzer target: a domain XML with policy tags and
 * a decision marker, as the hook reads it (lib/mp-policy.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The XML comes from the source host, i.e. from a tenant who can edit its
 * domain's <metadata>: libvirt runs the hook as root on it.  The input is
 * parsed (mp_domain_parse_xml()), resolved against a fixed fleet that
 * enforces rules (mp_policy_resolve_domain()), its marker checked, and
 * handed to one of (by its last byte) the hook's two entry points
 * (migrate begin with and without an enforcing emulator, prepare begin)
 * and mp_marker_add_xml(), whose output must parse again with a valid
 * marker.  Any crash,
 * sanitizer report, leak or allocation over -malloc_limit_mb is a bug.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "migpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fleet: enforced limits, a glob, a label rule, tenant-veto = no. */
static const char fleet_text[] =
    "[*]\nobjective = balanced\nmax-traffic-mib = 4096\n"
    "postcopy = forbidden\nenforce = postcopy, max-traffic-mib\n"
    "[name=web-*]\nmax-downtime-ms = 500\npostcopy = allowed\n"
    "[label=batch]\ntenant-veto = no\nmax-downtime-ms = 200\n"
    "enforce = max-downtime-ms\n";

static mp_fleet *fleet;

static void fleet_init(void)
{
    char path[64], msg[512];
    int fd = memfd_create("fleet", 0);

    fleet = mp_fleet_new();
    if (fd < 0 || !fleet ||
        write(fd, fleet_text, sizeof(fleet_text) - 1) !=
            (ssize_t)(sizeof(fleet_text) - 1)) {
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (mp_fleet_load_file(fleet, path, msg, sizeof(msg))) {
        fprintf(stderr, "fuzz-domain-xml: fleet: %s\n", msg);
        abort();
    }
    close(fd);
}

static int enforces(const char *emulator, void *opaque, char *why,
                    size_t why_len)
{
    (void)opaque;
    snprintf(why, why_len, "test: %s", emulator);
    return emulator[0] == '/' && emulator[1] == 'w';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mp_domain d;          /* large: off the stack */
    static mp_policy p;
    static mp_hook_result res;
    static mp_hook_prepared pr;
    char msg[MP_POLICY_MSG_MAX], warn[MP_POLICY_MSG_MAX];
    mp_hook_options opt = { .now_unix_s = 1763800000 };
    const char *xml = (const char *)data;
    char *out = NULL;
    unsigned last = size ? data[size - 1] : 0;
    int err;

    if (!fleet) {
        fleet_init();
    }
    err = mp_domain_parse_xml(xml, size, &d, msg, sizeof(msg));
    if (err != -ENOMEM) {
        mp_policy_resolve_domain(fleet, &d, err, msg, &p, warn,
                                 sizeof(warn));
        mp_marker_check(&d.marker, opt.now_unix_s, msg, sizeof(msg));
    }
    /* One of the hook's paths per input (each parses again), picked by
     * the last byte: a quarter of the work, four times the inputs. */
    switch (last % 4) {
    case 0:
    case 1:
        opt.unmarked = size % 2 ? MP_HOOK_UNMARKED_ALLOW :
                       MP_HOOK_UNMARKED_VETO;
        opt.emulator_enforces = last % 4 ? enforces : NULL;
        mp_hook_migrate_begin(xml, size, size % 3 ? fleet : NULL, &opt,
                              &res);
        break;
    case 2:
        mp_hook_prepare(xml, size, fleet, size % 2 ? "fleet unreadable" :
                        NULL, &pr);
        break;
    default:
        if (mp_marker_add_xml(xml, size, MP_STRATEGY_PRECOPY, NULL,
                              opt.now_unix_s + 120, &out) == 0) {
            /* What migrate sends must be what the hook reads. */
            if (mp_domain_parse_xml(out, strlen(out), &d, msg,
                                    sizeof(msg)) == 0 &&
                mp_marker_check(&d.marker, opt.now_unix_s, msg,
                                sizeof(msg)) != MP_MARKER_VALID) {
                fprintf(stderr, "marker written but not valid: %s\n", msg);
                abort();
            }
            free(out);
        }
        break;
    }
    return 0;
}
