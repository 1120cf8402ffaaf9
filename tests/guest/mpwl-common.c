/*
 * mpwl-common.c - serial protocol shared by the guest workloads:
 * line output, heartbeat thread, command thread, parameter parsing.
 */
#include "mpwl-common.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Longest protocol line we print, including "MPWL " and "\n". */
#define MPWL_LINE_MAX_BYTES 512

/* SCHED_FIFO priority of the heartbeat/command threads (any low value). */
#define MPWL_RT_PRIORITY 10

/* Serialises whole lines on stdout; owned by mpwl_say(). */
static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

/* Cumulative work units; written by the worker, read by the heartbeat. */
static _Atomic uint64_t work_units;

/* Runtime mismatch accounting; guarded by mismatch_lock. */
static pthread_mutex_t mismatch_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mismatch_total;
static uint64_t mismatch_unreported;       /* since the last ERROR line */
static char mismatch_first[MPWL_LINE_MAX_BYTES / 2];  /* first of those */
static int64_t mismatch_last_print_ns = INT64_MIN / 2;

static bool rt_threads_wanted;

int64_t mpwl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void mpwl_sleep_until_ns(int64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = deadline_ns / 1000000000LL,
        .tv_nsec = deadline_ns % 1000000000LL,
    };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        /* retry: a signal is no reason to shorten the sleep */
    }
}

int mpwl_console_init(void)
{
    struct termios tio;

    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    if (!isatty(STDIN_FILENO)) {
        return 0;               /* a pipe: nothing to configure */
    }
    if (tcgetattr(STDIN_FILENO, &tio) < 0) {
        return -errno;
    }
    /* Raw input, no echo, no signals, no flow control; output untouched. */
    tio.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
                     ICRNL | IXON | IXOFF);
    tio.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(CSIZE | PARENB);
    tio.c_cflag |= CS8 | CREAD | CLOCAL;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) < 0) {
        return -errno;
    }
    return 0;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t done = write(fd, buf, len);

        if (done < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return;             /* nowhere left to report it */
        }
        buf += done;
        len -= (size_t)done;
    }
}

static void say_va(const char *fmt, va_list ap)
{
    char line[MPWL_LINE_MAX_BYTES];
    int len = snprintf(line, sizeof(line), "MPWL ");
    int body = vsnprintf(line + len, sizeof(line) - (size_t)len - 1, fmt, ap);

    if (body < 0) {
        body = 0;
    }
    len += body;
    if (len > (int)sizeof(line) - 2) {
        len = (int)sizeof(line) - 2;        /* truncated */
    }
    line[len++] = '\n';

    pthread_mutex_lock(&say_lock);
    write_all(STDOUT_FILENO, line, (size_t)len);
    pthread_mutex_unlock(&say_lock);
}

void mpwl_say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    say_va(fmt, ap);
    va_end(ap);
}

/* Print the pending mismatch summary if due; caller holds mismatch_lock
 * and must print *line (when it returns true) after dropping the lock. */
static bool mismatch_line_due(int64_t now_ns, char *line, size_t size)
{
    if (mismatch_unreported == 0 ||
        now_ns - mismatch_last_print_ns < MPWL_ERROR_PERIOD_NS) {
        return false;
    }
    snprintf(line, size, "ERROR mismatch count=%llu new=%llu first=%s",
             (unsigned long long)mismatch_total,
             (unsigned long long)mismatch_unreported, mismatch_first);
    mismatch_unreported = 0;
    mismatch_last_print_ns = now_ns;
    return true;
}

void mpwl_report_mismatch(const char *fmt, ...)
{
    char line[MPWL_LINE_MAX_BYTES];
    bool print;
    va_list ap;

    pthread_mutex_lock(&mismatch_lock);
    mismatch_total++;
    if (mismatch_unreported++ == 0) {
        va_start(ap, fmt);
        vsnprintf(mismatch_first, sizeof(mismatch_first), fmt, ap);
        va_end(ap);
    }
    print = mismatch_line_due(mpwl_now_ns(), line, sizeof(line));
    pthread_mutex_unlock(&mismatch_lock);
    if (print) {
        mpwl_say("%s", line);
    }
}

/* Called by the heartbeat: report mismatches held back by the rate limit. */
static void mismatch_flush(void)
{
    char line[MPWL_LINE_MAX_BYTES];
    bool print;

    pthread_mutex_lock(&mismatch_lock);
    print = mismatch_line_due(mpwl_now_ns(), line, sizeof(line));
    pthread_mutex_unlock(&mismatch_lock);
    if (print) {
        mpwl_say("%s", line);
    }
}

uint64_t mpwl_mismatch_count(void)
{
    uint64_t total;

    pthread_mutex_lock(&mismatch_lock);
    total = mismatch_total;
    pthread_mutex_unlock(&mismatch_lock);
    return total;
}

void mpwl_units_add(uint64_t units)
{
    atomic_fetch_add_explicit(&work_units, units, memory_order_relaxed);
}

uint64_t mpwl_units(void)
{
    return atomic_load_explicit(&work_units, memory_order_relaxed);
}

void mpwl_rt_threads(bool enable)
{
    rt_threads_wanted = enable;
}

/* Start a detached thread, SCHED_FIFO if wanted and allowed. */
static int start_thread(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t tid;
    int ret;

    if (rt_threads_wanted) {
        struct sched_param sp = { .sched_priority = MPWL_RT_PRIORITY };

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
        pthread_attr_setschedparam(&attr, &sp);
        ret = pthread_create(&tid, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        if (ret == 0) {
            return 0;
        }
        /* EPERM without CAP_SYS_NICE: fall back to a normal thread */
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ret = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return -ret;
}

static void *heartbeat_main(void *arg)
{
    int64_t next_ns = mpwl_now_ns() + MPWL_HEARTBEAT_PERIOD_NS;
    uint64_t seq = 0;

    (void)arg;
    for (;;) {
        int64_t now_ns;

        mpwl_sleep_until_ns(next_ns);
        mpwl_say("HB %llu %llu", (unsigned long long)seq++,
                 (unsigned long long)mpwl_units());
        mismatch_flush();
        next_ns += MPWL_HEARTBEAT_PERIOD_NS;
        now_ns = mpwl_now_ns();
        if (now_ns - next_ns > MPWL_HEARTBEAT_PERIOD_NS) {
            next_ns = now_ns + MPWL_HEARTBEAT_PERIOD_NS;  /* no catch-up burst */
        }
    }
    return NULL;
}

int mpwl_heartbeat_start(void)
{
    return start_thread(heartbeat_main, NULL);
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
        *--end = '\0';
    }
    return s;
}

static void dispatch(const MpwlOps *ops, char *line)
{
    char *cmd = trim(line);

    if (*cmd == '\0') {
        return;
    }
    if (strcmp(cmd, "verify") == 0) {
        ops->verify(ops->opaque);
    } else if (strcmp(cmd, "stats") == 0) {
        ops->stats(ops->opaque);
    } else if (strcmp(cmd, "ping") == 0) {
        mpwl_say("PONG");
    } else if (strncmp(cmd, "ping", 4) == 0 && (cmd[4] == ' ' || cmd[4] == '\t')) {
        mpwl_say("PONG %s", trim(cmd + 5));
    } else {
        mpwl_say("ERROR unknown command %s", cmd);
    }
}

static void *commands_main(void *arg)
{
    const MpwlOps *ops = arg;
    char line[MPWL_COMMAND_MAX_BYTES];
    size_t len = 0;
    bool overlong = false;

    for (;;) {
        char buf[64];
        ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return NULL;        /* EOF (host pipe) or a dead console */
        }
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];

            if (c == '\n' || c == '\r') {
                if (overlong) {
                    mpwl_say("ERROR command longer than %d bytes ignored",
                             MPWL_COMMAND_MAX_BYTES - 1);
                } else {
                    line[len] = '\0';
                    dispatch(ops, line);
                }
                len = 0;
                overlong = false;
            } else if (len + 1 < sizeof(line)) {
                line[len++] = c;
            } else {
                overlong = true;
            }
        }
    }
}

int mpwl_commands_start(const MpwlOps *ops)
{
    return start_thread(commands_main, (void *)ops);
}

static MpwlParam *find_param(MpwlParam *params, size_t n_params,
                             const char *key, size_t key_len)
{
    for (size_t i = 0; i < n_params; i++) {
        if (strlen(params[i].key) == key_len &&
            memcmp(params[i].key, key, key_len) == 0) {
            return &params[i];
        }
    }
    return NULL;
}

int mpwl_params_parse(const char *text, MpwlParam *params, size_t n_params,
                      char *err, size_t err_size)
{
    const char *item = text;

    while (*item != '\0') {
        const char *end = strchr(item, ',');
        size_t item_len = end ? (size_t)(end - item) : strlen(item);
        const char *eq = memchr(item, '=', item_len);
        MpwlParam *param;
        uint64_t value = 0;

        if (!eq) {
            snprintf(err, err_size, "parameter '%.*s' is not key=value",
                     (int)item_len, item);
            return -EINVAL;
        }
        param = find_param(params, n_params, item, (size_t)(eq - item));
        if (!param) {
            snprintf(err, err_size, "unknown parameter '%.*s'",
                     (int)(eq - item), item);
            return -EINVAL;
        }
        if (param->given) {
            snprintf(err, err_size, "parameter '%s' given twice", param->key);
            return -EINVAL;
        }
        if (eq + 1 == item + item_len) {
            snprintf(err, err_size, "parameter '%s' has no value", param->key);
            return -EINVAL;
        }
        for (const char *p = eq + 1; p < item + item_len; p++) {
            if (*p < '0' || *p > '9') {
                snprintf(err, err_size,
                         "parameter '%s' value '%.*s' is not an unsigned integer",
                         param->key, (int)(item + item_len - eq - 1), eq + 1);
                return -EINVAL;
            }
            if (value > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
                snprintf(err, err_size, "parameter '%s' value too large",
                         param->key);
                return -EINVAL;
            }
            value = value * 10 + (uint64_t)(*p - '0');
        }
        param->value = value;
        param->given = true;
        if (!end) {
            break;
        }
        item = end + 1;
        if (*item == '\0') {
            snprintf(err, err_size, "trailing ',' in parameters");
            return -EINVAL;
        }
    }
    return 0;
}

int mpwl_usage_error(const char *prog, const char *why)
{
    mpwl_say("ERROR %s: %s", prog, why);
    return 2;
}
