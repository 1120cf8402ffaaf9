/*
 * test-uffd.c - uffd_deny_install(): userfaultfd(2) and /dev/userfaultfd's
 * USERFAULTFD_IOC_NEW fail with EPERM in the filtered process and its
 * exec'ed children, and nothing else changes
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Exit 77 (skipped) where the kernel has no seccomp filters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "uffd-deny.h"

#include "mp-test.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW 0xaa00
#endif

/* Run in a child: 0 if every check holds, 77 if seccomp is missing. */
static int child(void)
{
    int fd, p[2], n = 0, err;

    err = uffd_deny_install();
    if (err == -ENOTSUP) {
        return 77;
    }
    CHECK(err == 0);
    errno = 0;
    CHECK(syscall(__NR_userfaultfd, O_CLOEXEC) == -1 && errno == EPERM);
    fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        errno = 0;
        CHECK(ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC) == -1 &&
              errno == EPERM);
        close(fd);
    }
    /* Everything else as before: another ioctl, ordinary calls. */
    CHECK(pipe(p) == 0);
    CHECK(ioctl(p[0], FIONREAD, &n) == 0 && n == 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK(ioctl(p[0], FIONREAD, &n) == 0 && n == 1);
    CHECK(getpid() > 0);
    /* A child still runs normally under the filter. */
    {
        pid_t pid = fork();
        int st = 0;
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
            _exit(127);
        }
        CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
              WEXITSTATUS(st) == 0);
    }
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    pid_t pid;
    int st = 0;

    if (argc == 2 && !strcmp(argv[1], "--exec-check")) {
        /* Re-exec'ed under the filter: still denied. */
        return syscall(__NR_userfaultfd, O_CLOEXEC) == -1 && errno == EPERM ?
               0 : 1;
    }
    pid = fork();
    if (pid == 0) {
        int rc = child();
        if (rc == 0) {
            execl("/proc/self/exe", argv[0], "--exec-check", (char *)NULL);
            _exit(126);
        }
        _exit(rc);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
        fprintf(stderr, "child died\n");
        return 1;
    }
    if (WEXITSTATUS(st) == 77) {
        printf("uffd: skipped (no seccomp filters)\n");
        return 77;
    }
    if (WEXITSTATUS(st) != 0) {
        fprintf(stderr, "uffd: failed (child exit %d)\n", WEXITSTATUS(st));
        return 1;
    }
    /* Unfiltered, the parent is untouched. */
    printf("uffd: all checks passed\n");
    return 0;
}
