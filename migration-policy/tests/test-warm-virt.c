/*
 * test-warm-virt.c - migpolicy migrate --warm-apply's plumbing
 * (src/warm-virt.c) against libvirt's in-process test driver: the hot list
 * of a domain's disk reaches the command's standard input, the command's
 * output is collected, a command past its time is stopped.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "migpolicy.h"
#include "mp-test.h"
#include "warm-virt.h"

static void quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

int main(void)
{
    char disk[4096], out[4096], xml[8192], cmd[8400], msg[256], cwd[4000];
    virConnectPtr c;
    virDomainPtr dom;
    warm_virt *w;
    mp_warm_list *l = NULL;
    mp_warm_file f;
    char buf[65536];
    struct timespec t0, t1;
    int fd;

    virSetErrorFunc(NULL, quiet);
    if (!getcwd(cwd, sizeof(cwd))) {
        return 1;
    }
    snprintf(disk, sizeof(disk), "%s/test-warm-virt-disk.img", cwd);
    snprintf(out, sizeof(out), "%s/test-warm-virt-out.hot", cwd);
    fd = open(disk, O_RDWR | O_CREAT | O_TRUNC, 0644);
    memset(buf, 1, sizeof(buf));
    for (int i = 0; i < 16; i++) {
        CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
    }
    close(fd);                          /* cached: just written */
    c = virConnectOpen("test:///default");
    if (!c) {
        printf("libvirt test driver unavailable: skipped\n");
        unlink(disk);
        return 77;
    }
    snprintf(xml, sizeof(xml),
             "<domain type='test'><name>warm-virt</name>"
             "<memory>65536</memory><os><type>hvm</type></os><devices>"
             "<disk type='file' device='disk'><source file='%s'/>"
             "<target dev='vda'/></disk></devices></domain>", disk);
    dom = virDomainDefineXML(c, xml);
    CHECK(dom != NULL);

    /* No --warm-apply: nothing happens. */
    CHECK(warm_virt_start(dom) == NULL);
    CHECK(warm_virt_finish(NULL, 1) == -1);

    snprintf(cmd, sizeof(cmd), "cat > '%s'; echo applied", out);
    warm_virt_option(cmd);
    w = warm_virt_start(dom);
    CHECK(w != NULL);
    CHECK(warm_virt_finish(w, 10) == 0);
    CHECK(mp_warm_list_load(out, &l, msg, sizeof(msg)) == 0);
    if (l) {
        CHECK(mp_warm_list_file(l, 0, &f) == 0 && strcmp(f.path, disk) == 0);
        CHECK(f.pages == 16 * sizeof(buf) / 4096);
    }
    mp_warm_list_free(l);

    /* A command past its time is stopped, not waited for. */
    warm_virt_option("sleep 30");
    w = warm_virt_start(dom);
    CHECK(w != NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(warm_virt_finish(w, 0.3) == -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(t1.tv_sec - t0.tv_sec < 3);

    virDomainUndefine(dom);
    virDomainFree(dom);
    virConnectClose(c);
    unlink(disk);
    unlink(out);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("warm-virt: all checks passed\n");
    return 0;
}
