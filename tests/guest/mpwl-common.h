/*
 * mpwl-common.h - serial protocol shared by the guest workloads.
 *
 * Every line a workload prints goes to its stdout (the guest's ttyS0,
 * wired up by /init) and starts with "MPWL ".  Commands arrive on stdin,
 * one per line ("\n" or "\r" terminated); a thread started by
 * mpwl_commands_start() reads them and dispatches.  The protocol itself is
 * described in tests/guest/README.md.
 */
#ifndef MPWL_COMMON_H
#define MPWL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Heartbeat period: the harness derives rates and pause lengths from it. */
#define MPWL_HEARTBEAT_PERIOD_NS 100000000LL   /* 100 ms */

/* Runtime mismatch reports are rate-limited to one line per this period. */
#define MPWL_ERROR_PERIOD_NS 1000000000LL      /* 1 s */

/* Longest command line accepted; longer lines are rejected whole. */
#define MPWL_COMMAND_MAX_BYTES 256

/* What a workload answers to; callbacks run on the command thread. */
typedef struct MpwlOps {
    const char *name;                 /* workload name, as in "READY <name>" */
    void (*verify)(void *opaque);     /* "verify": arrange for a VERIFY line */
    void (*stats)(void *opaque);      /* "stats": print one STATS line */
    void *opaque;
} MpwlOps;

/*
 * mpwl_console_init - prepare stdin/stdout for the protocol.
 *
 * Puts stdin in raw mode without echo when it is a tty (output keeps
 * "\n" -> "\r\n" translation), ignores SIGHUP/SIGPIPE.
 * Returns: 0 or -errno.
 */
int mpwl_console_init(void);

/* Print one protocol line: "MPWL " + formatted text + "\n", atomically. */
void mpwl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * mpwl_report_mismatch - count one runtime mismatch (@fmt describes it) and
 * print "MPWL ERROR mismatch count=<total> new=<since last line>
 * first=<first of those>" at most once per MPWL_ERROR_PERIOD_NS; mismatches
 * held back are reported by the heartbeat thread once the period is over.
 * Thread-safe.
 */
void mpwl_report_mismatch(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Runtime mismatches counted by mpwl_report_mismatch() so far. */
uint64_t mpwl_mismatch_count(void);

/* Add to the cumulative work units printed in every heartbeat. */
void mpwl_units_add(uint64_t units);

/* Current cumulative work units. */
uint64_t mpwl_units(void);

/*
 * mpwl_heartbeat_start - start the "MPWL HB <seq> <units>" thread
 * (seq from 0, one line every MPWL_HEARTBEAT_PERIOD_NS of CLOCK_MONOTONIC).
 * Returns: 0 or -errno.
 */
int mpwl_heartbeat_start(void);

/*
 * mpwl_commands_start - start the thread reading command lines from stdin.
 * @ops must stay valid for the life of the process.
 * Returns: 0 or -errno.
 */
int mpwl_commands_start(const MpwlOps *ops);

/*
 * mpwl_rt_threads - try to make the heartbeat and command threads
 * SCHED_FIFO so that a busy worker on one vCPU cannot delay them.
 * Call before starting them.  Failure is harmless (falls back to normal).
 */
void mpwl_rt_threads(bool enable);

/* A parameter of the form key=<unsigned decimal>. */
typedef struct MpwlParam {
    const char *key;
    uint64_t value;        /* default on entry, parsed value on return */
    bool given;            /* set when the key was present */
} MpwlParam;

/*
 * mpwl_params_parse - parse "k=v,k=v" (may be empty) into @params.
 * Unknown keys, repeated keys, empty or non-decimal values and overflow
 * are errors; a description is written to @err.
 * Returns: 0 or -EINVAL.
 */
int mpwl_params_parse(const char *text, MpwlParam *params, size_t n_params,
                      char *err, size_t err_size);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t mpwl_now_ns(void);

/* Sleep until the CLOCK_MONOTONIC instant @deadline_ns. */
void mpwl_sleep_until_ns(int64_t deadline_ns);

/* Print the ERROR line for an unusable argv and return the exit code 2. */
int mpwl_usage_error(const char *prog, const char *why);

#endif /* MPWL_COMMON_H */
