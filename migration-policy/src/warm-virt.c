/*
 * warm-virt.c - the page-cache warm-up of a migrating libvirt domain
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * At the source, before the migration: the domain's file disks (and
 * backing chains) from its XML, their hot list (mp_warm_recorder, one
 * sample: the migration should not wait), written to a temporary file
 * that becomes the standard input of the --warm-apply command, which runs
 * "migpolicy warm apply -" on the destination host however the site
 * reaches it (ssh, a libvirt hook, a local call on a same-host test).
 * The command runs in its own process group, in parallel with the
 * migration; its output is collected and printed afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migpolicy.h"

#include "warm-virt.h"

static const char *apply_cmd;

struct warm_virt {
    pid_t pid;
    int out_fd;             /* the command's stdout+stderr (a temp file) */
};

void warm_virt_option(const char *cmd)
{
    apply_cmd = cmd;
}

static int tmpfile_fd(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/migpolicy-warm-XXXXXX",
             dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd >= 0) {
        unlink(path);
    }
    return fd;
}

static void warn(const char *what, const char *detail)
{
    fprintf(stderr, "migpolicy migrate: warning: warm-up: %s%s; migrating "
            "without it\n", what, detail);
}

warm_virt *warm_virt_start(virDomainPtr dom)
{
    mp_warm_record_opts ro = { .samples = 1 };
    mp_warm_recorder *r = NULL;
    mp_warm_record_stats st;
    mp_warm_list *l = NULL;
    mp_warm_list_info in;
    warm_virt *w = NULL;
    char *xml = NULL, **paths = NULL;
    size_t npaths = 0;
    int list_fd = -1, out_fd = -1, rc;
    pid_t pid;

    if (!apply_cmd) {
        return NULL;
    }
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml || mp_warm_domain_disks(xml, strlen(xml), &paths, &npaths)) {
        warn("cannot read the domain's disks", "");
        goto out;
    }
    r = mp_warm_recorder_new(&ro);
    if (!r) {
        goto out;
    }
    for (size_t i = 0; i < npaths; i++) {
        if ((rc = mp_warm_recorder_add_path(r, paths[i]))) {
            fprintf(stderr, "migpolicy migrate: warning: warm-up: %s: %s\n",
                    paths[i], mp_strerror(rc));
        }
    }
    if ((rc = mp_warm_recorder_run(r, &l, &st))) {
        warn("recording failed: ", mp_strerror(rc));
        goto out;
    }
    list_fd = tmpfile_fd();
    out_fd = tmpfile_fd();
    if (list_fd < 0 || out_fd < 0 || mp_warm_list_write_fd(l, list_fd) ||
        lseek(list_fd, 0, SEEK_SET) != 0) {
        warn("cannot write the hot list: ", strerror(errno));
        goto out;
    }
    mp_warm_list_get_info(l, &in);
    pid = fork();
    if (pid < 0) {
        warn("cannot start the command: ", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(list_fd, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
        execl("/bin/sh", "sh", "-c", apply_cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    w = calloc(1, sizeof(*w));
    if (!w) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto out;
    }
    w->pid = pid;
    w->out_fd = out_fd;
    out_fd = -1;
    printf("warm-up: %zu disk file(s), hot list of %.1f MiB in %llu "
           "range(s) (%.2f s), applying: %s\n", npaths,
           (double)in.pages * in.page_size / 1048576.0,
           (unsigned long long)in.nranges, st.elapsed_s, apply_cmd);
    fflush(stdout);
out:
    if (list_fd >= 0) {
        close(list_fd);
    }
    if (out_fd >= 0) {
        close(out_fd);
    }
    mp_warm_list_free(l);
    mp_warm_recorder_free(r);
    mp_warm_paths_free(paths, npaths);
    free(xml);
    return w;
}

int warm_virt_finish(warm_virt *w, double timeout_s)
{
    struct timespec tick = { 0, 100000000 };    /* 100 ms */
    char buf[4096];
    int status = 0, rc = -1, at_line = 1;
    ssize_t n;
    double waited = 0;

    if (!w) {
        return -1;
    }
    for (;;) {
        pid_t got = waitpid(w->pid, &status, WNOHANG);
        if (got == w->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            break;
        }
        if (got < 0 && errno != EINTR) {
            break;
        }
        if (waited >= timeout_s) {
            fprintf(stderr, "migpolicy migrate: warning: warm-up still "
                    "running after %.0f s: stopped\n", timeout_s);
            kill(-w->pid, SIGTERM);
            waitpid(w->pid, &status, 0);
            break;
        }
        nanosleep(&tick, NULL);
        waited += 0.1;
    }
    lseek(w->out_fd, 0, SEEK_SET);
    while ((n = read(w->out_fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (at_line) {
                fputs("  warm-up| ", stdout);
            }
            putchar(buf[i]);
            at_line = buf[i] == '\n';
        }
    }
    if (!at_line) {
        putchar('\n');
    }
    printf("warm-up command exited with status %d\n", rc);
    close(w->out_fd);
    free(w);
    return rc;
}
