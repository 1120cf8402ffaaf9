/*
 * warm-virt.h - the page-cache warm-up of a migrating libvirt domain, for
 * "migpolicy migrate --warm-apply CMD" (warm-virt.c, docs/warm-up.md)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Kept apart from cmd-migrate.c, which calls it at two points: before the
 * migration starts and after it ended.  A warm-up that cannot start or
 * fails only warns: it never fails or delays the migration itself.
 */
#ifndef MIGPOLICY_WARM_VIRT_H
#define MIGPOLICY_WARM_VIRT_H

#include <libvirt/libvirt.h>

/*
 * How long migrate waits for the warm-up command once the migration has
 * ended: the guest runs at the destination by then, and 2 minutes read
 * 14 GiB at 1 Gbit/s; a longer warm-up should bound itself (--deadline).
 */
#define WARM_VIRT_WAIT_S 120.0


/**
 * warm_virt_option() - remember --warm-apply's command
 * @cmd: the command, run later by warm_virt_start()
 */
void warm_virt_option(const char *cmd);

typedef struct warm_virt warm_virt;

/**
 * warm_virt_start() - record the hot list of @dom's file disks and start
 * the --warm-apply command with it on its standard input
 * @dom: the domain about to migrate
 *
 * Prints one line saying what it recorded, or a warning.
 *
 * Returns: the running warm-up, or NULL (no --warm-apply, or it could not
 * start: warned).
 */
warm_virt *warm_virt_start(virDomainPtr dom);

/**
 * warm_virt_finish() - wait for the command (at most @timeout_s; then it
 * is killed), print its output indented, free
 * @w: from warm_virt_start(), or NULL
 * @timeout_s: seconds
 *
 * Returns: the command's exit status, -1 if killed or not started.
 */
int warm_virt_finish(warm_virt *w, double timeout_s);

#endif /* MIGPOLICY_WARM_VIRT_H */
