/*
 * hook-conf.c - the libvirt hook's configuration, migpolicy.conf
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "emulator-state.h"
#include "hook-conf.h"



enum { HK_POLICY_DIR, HK_LOG, HK_UNMARKED, HK_STATE_DIR, HK_PHASE_SCHED,
       HK_INJECT, HK__COUNT };
static const char *const hook_conf_keys[HK__COUNT] = {
    [HK_POLICY_DIR] = "policy-dir", [HK_LOG] = "log",
    [HK_UNMARKED] = "unmarked", [HK_STATE_DIR] = "state-dir",
    [HK_PHASE_SCHED] = "phase-sched", [HK_INJECT] = "inject",
};

static int hook_conf_path(const char *key, const char *val, char *dst,
                          size_t dlen, bool none_ok, char *msg, size_t len)
{
    if (none_ok && !strcmp(val, "none")) {
        dst[0] = 0;
        return 0;
    }
    if (val[0] != '/') {
        snprintf(msg, len, "%s: '%.200s' is not an absolute path%s", key, val,
                 none_ok ? " (or none)" : "");
        return -EINVAL;
    }
    if (strlen(val) >= dlen) {
        snprintf(msg, len, "%s: longer than %zu bytes", key, dlen - 1);
        return -EINVAL;
    }
    memcpy(dst, val, strlen(val) + 1);
    return 0;
}

static int hook_conf_setting(const mp_conf_item *it, void *opaque, char *msg,
                             size_t len)
{
    const char *key = it->key, *val = it->value;
    hook_conf *hc = opaque;
    int k;

    for (k = 0; k < HK__COUNT && strcmp(key, hook_conf_keys[k]); k++) {
    }
    if (k == HK__COUNT) {
        snprintf(msg, len, "unknown setting '%.64s' (known: policy-dir, log, "
                 "unmarked, state-dir, phase-sched)", key);
        return -EINVAL;
    }
    if (hc->seen & (1u << k)) {
        snprintf(msg, len, "%s given twice", key);
        return -EINVAL;
    }
    hc->seen |= 1u << k;
    switch (k) {
    case HK_POLICY_DIR:
        return hook_conf_path(key, val, hc->policy_dir,
                              sizeof(hc->policy_dir), true, msg, len);
    case HK_LOG:
        return hook_conf_path(key, val, hc->log, sizeof(hc->log), false, msg,
                              len);
    case HK_STATE_DIR:
        return hook_conf_path(key, val, hc->state_dir, sizeof(hc->state_dir),
                              false, msg, len);
    case HK_UNMARKED:
        if (!strcmp(val, "veto") || !strcmp(val, "allow")) {
            hc->opt.unmarked = val[0] == 'v' ? MP_HOOK_UNMARKED_VETO :
                               MP_HOOK_UNMARKED_ALLOW;
            return 0;
        }
        snprintf(msg, len, "%s: '%.64s' is not veto or allow", key, val);
        return -EINVAL;
    case HK_PHASE_SCHED:
        if (!strcmp(val, "on") || !strcmp(val, "off")) {
            hc->phase_sched = val[1] == 'n';
            return 0;
        }
        snprintf(msg, len, "%s: '%.64s' is not on or off", key, val);
        return -EINVAL;
    default:
        /* The hook no longer edits the domain's XML (that tainted it
         * custom-argv); the emulator wrapper applies the settings. */
        snprintf(msg, len, "inject: no longer exists: the emulator wrapper "
                 "turns the scheduler on (phase-sched = on|off; "
                 "libvirt-hooks/install.sh rewrites old files)");
        return -EINVAL;
    }
}

static void hook_conf_defaults(hook_conf *hc)
{
    memset(hc, 0, sizeof(*hc));
    snprintf(hc->policy_dir, sizeof(hc->policy_dir), "%s", DEFAULT_POLICY_DIR);
    snprintf(hc->log, sizeof(hc->log), "/var/log/libvirt/migpolicy-hook.log");
    snprintf(hc->state_dir, sizeof(hc->state_dir), "%s", STATE_DIR_DEFAULT);
    hc->phase_sched = true;
    hc->opt.unmarked = MP_HOOK_UNMARKED_VETO;
}

int hook_conf_parse(const char *name, const char *text, size_t len,
                    hook_conf *hc, char *msg, size_t msg_len)
{
    hook_conf_defaults(hc);
    return mp_conf_parse(name, text, len, 0, hook_conf_setting, hc, msg,
                         msg_len);
}

int hook_conf_load(const char *path, hook_conf *hc, char *msg,
                   size_t msg_len)
{
    hook_conf_defaults(hc);
    return mp_conf_read(path, HOOK_CONF_MAX, 0, hook_conf_setting, hc, msg,
                        msg_len);
}
