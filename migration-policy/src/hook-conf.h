/*
 * hook-conf.h - the libvirt hook's configuration, migpolicy.conf
 * (hook-conf.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Read exactly (mp_conf_parse() of migpolicy.h): a missing file, an unknown key, a value that
 * is not one of the key's values, a key given twice are errors, so that a
 * typo cannot silently let a migration through.
 */
#ifndef MIGPOLICY_HOOK_CONF_H
#define MIGPOLICY_HOOK_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "migpolicy.h"

/* Fleet policy files read when no --policy-dir (policy-dir) is given. */
#define DEFAULT_POLICY_DIR "/etc/migpolicy/policy.d"

/* Largest migpolicy.conf, bytes: a dozen lines. */
#define HOOK_CONF_MAX 65536

typedef struct hook_conf {
    char policy_dir[1024];       /* "" = none */
    char log[1024];
    char state_dir[256];
    bool phase_sched;
    mp_hook_options opt;
    unsigned seen;               /* bit per key given */
} hook_conf;

/**
 * hook_conf_parse() - the defaults, then @len bytes of migpolicy.conf text
 * @name: the file's name, for messages
 *
 * Returns: 0, or -EINVAL with "NAME:LINE: ..." in @msg.
 */
int hook_conf_parse(const char *name, const char *text, size_t len,
                    hook_conf *hc, char *msg, size_t msg_len);

/**
 * hook_conf_load() - hook_conf_parse() on the file at @path (a regular
 * file of at most HOOK_CONF_MAX bytes, opened without blocking)
 *
 * Returns: 0 or a negative errno with a message in @msg.
 */
int hook_conf_load(const char *path, hook_conf *hc, char *msg,
                   size_t msg_len);

#endif /* MIGPOLICY_HOOK_CONF_H */
