/*
 * emulator-state.h - what the hook hands the emulator wrapper, and how
 * the hook recognises the wrapper (emulator-state.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * On "DOMAIN prepare begin -" (every start and incoming migration) the
 * hook resolves the domain's policy on this host and writes
 * STATE-DIR/UUID.policy ("key = value", mp_conf_parse() of migpolicy.h); the wrapper
 * (`migpolicy emulator`, libvirt's <emulator>) reads it when libvirt
 * starts QEMU and applies it on QEMU's command line, where libvirt does
 * not see it (no taint).  docs/policy.md, "The emulator wrapper".
 */
#ifndef MIGPOLICY_EMULATOR_STATE_H
#define MIGPOLICY_EMULATOR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migpolicy.h"

/* Where the hook and the wrapper keep their files by default. */
#define STATE_DIR_DEFAULT "/run/libvirt/migpolicy"

/*
 * A policy file is used only this long after the hook wrote it, s: libvirt
 * starts QEMU within seconds of "prepare begin"; a file from an earlier
 * start must never apply to a later one (the hook also removes the old
 * file before writing, and the wrapper renames it away once read).
 */
#define STATE_POLICY_MAX_AGE_S 600

/* The first lines of the wrapper script install.sh writes. */
#define WRAPPER_MAGIC "# migpolicy-emulator-wrapper 1"

/* Largest wrapper script read, bytes. */
#define WRAPPER_MAX 65536

typedef struct state_policy {
    char domain[256];
    char uuid[37];
    int64_t written_unix_s;
    bool postcopy_allowed;
    char postcopy_origin[MP_POLICY_ORIGIN_MAX];
    bool phase_sched;            /* the hook's phase-sched = on */
    uint64_t downtime_limit_ms;  /* 0 = QEMU's default */
} state_policy;

/* "DIR/UUID.SUFFIX" into @out; -ENAMETOOLONG if it does not fit. */
int state_path(char *out, size_t len, const char *dir, const char *uuid,
               const char *suffix);

/**
 * state_policy_write() - replace DIR/UUID.policy (old file removed first,
 * new one written to a temporary name and renamed: never a partial file)
 *
 * Returns: 0 or a negative errno, @msg says what failed.
 */
int state_policy_write(const char *dir, const mp_hook_prepared *p,
                       bool phase_sched, int64_t now_unix_s, char *msg,
                       size_t msg_len);

/**
 * state_policy_parse() - read a policy file's text exactly
 * @uuid: the domain's UUID; the file must name it
 * @now_unix_s: the file must be at most STATE_POLICY_MAX_AGE_S old
 *
 * Returns: 0, or -EINVAL / -ESTALE with @msg.
 */
int state_policy_parse(const char *name, const char *text, size_t len,
                       const char *uuid, int64_t now_unix_s,
                       state_policy *out, char *msg, size_t msg_len);

/** state_policy_read() - state_policy_parse() on DIR/UUID.policy */
int state_policy_read(const char *dir, const char *uuid, int64_t now_unix_s,
                      state_policy *out, char *msg, size_t msg_len);

/**
 * emulator_wrapper_check() - is @path the migpolicy emulator wrapper?
 * @real: set to the QEMU it runs (from its "# qemu: PATH" line), or NULL
 *
 * Opens without blocking (a FIFO or device is refused, never read), and
 * reads at most WRAPPER_MAX bytes of a regular, executable file.
 *
 * Returns: 1 (it is), 0 (it is not: @why says why), or a negative errno.
 */
int emulator_wrapper_check(const char *path, char *real, size_t real_len,
                           char *why, size_t why_len);

/**
 * file_has_string() - does a regular file (at most 1 GiB) contain @needle?
 * Opened with O_NONBLOCK, fstat()-checked, mapped read-only.
 *
 * Returns: 1, 0, or a negative errno with @why.
 */
int file_has_string(const char *path, const char *needle, char *why,
                    size_t why_len);

#endif /* MIGPOLICY_EMULATOR_STATE_H */
