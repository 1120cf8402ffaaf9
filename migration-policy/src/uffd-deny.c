/*
 * uffd-deny.c - take userfaultfd away from a process and its children
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "uffd-deny.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW 0xaa00   /* _IO(0xAA, 0x00), Linux 6.1 */
#endif

#if defined(__x86_64__)
#define UD_ARCH AUDIT_ARCH_X86_64
/* x32 system calls are __X32_SYSCALL_BIT | nr under the same arch. */
#define UD_X32_BIT 0x40000000u
#elif defined(__aarch64__)
#define UD_ARCH AUDIT_ARCH_AARCH64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UD_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define UD_ARCH AUDIT_ARCH_S390X
#endif

#define LOW32(field) (offsetof(struct seccomp_data, field) + \
                      (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4))

int uffd_deny_install(void)
{
#if defined(UD_ARCH) && defined(__NR_userfaultfd)
    struct sock_filter f[] = {
        /* Another ABI (i386 on x86-64): nothing QEMU uses; refuse it all
         * rather than let userfaultfd through under another number. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UD_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef UD_X32_BIT
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, UD_X32_BIT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_userfaultfd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* ioctl(fd, USERFAULTFD_IOC_NEW, ...): the kernel reads the
         * request as 32 bits, so its low word decides. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LOW32(args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, USERFAULTFD_IOC_NEW, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof(f) / sizeof(f[0])),
        .filter = f,
    };

    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0) {
        return 0;
    }
    if (errno == EACCES) {
        /* Without CAP_SYS_ADMIN a filter needs no_new_privs (QEMU run by
         * libvirt as an unprivileged user gains no privileges anyway). */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
            syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0) {
            return 0;
        }
    }
    return errno == ENOSYS || errno == EINVAL ? -ENOTSUP : -errno;
#else
    return -ENOTSUP;
#endif
}
