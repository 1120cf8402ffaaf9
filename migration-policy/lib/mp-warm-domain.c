/*
 * mp-warm-domain.c - the files a libvirt domain reads through the page
 * cache: its file disks and their backing chains
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mp-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

static int is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE &&
           strcmp((const char *)n->name, name) == 0;
}

static int add_path(char ***paths, size_t *n, const char *p)
{
    char **np;

    if (!p || p[0] != '/') {
        return 0;
    }
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*paths)[i], p) == 0) {
            return 0;
        }
    }
    np = realloc(*paths, (*n + 1) * sizeof(*np));
    if (!np) {
        return -ENOMEM;
    }
    *paths = np;
    np[*n] = strdup(p);
    if (!np[*n]) {
        return -ENOMEM;
    }
    (*n)++;
    return 0;
}

/* <source file=...> of a disk or backingStore of type 'file', then its
 * <backingStore> chain. */
static int walk(const xmlNode *d, char ***paths, size_t *n, unsigned depth)
{
    xmlChar *type;
    int rc = 0, is_file;

    if (depth > 64) {                   /* a chain that long is a loop */
        return 0;
    }
    type = xmlGetProp(d, (const xmlChar *)"type");
    is_file = type && strcmp((const char *)type, "file") == 0;
    xmlFree(type);
    for (const xmlNode *c = d->children; c && !rc; c = c->next) {
        if (is_file && is_elem(c, "source")) {
            xmlChar *f = xmlGetProp(c, (const xmlChar *)"file");
            rc = add_path(paths, n, (const char *)f);
            xmlFree(f);
        } else if (is_elem(c, "backingStore")) {
            rc = walk(c, paths, n, depth + 1);
        }
    }
    return rc;
}

int mp_warm_domain_disks(const char *xml, size_t len, char ***paths,
                         size_t *n)
{
    xmlDoc *doc;
    xmlNode *root;
    int rc = 0;

    *paths = NULL;
    *n = 0;
    if (len > INT32_MAX) {
        return -EBADMSG;
    }
    doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!is_elem(root, "domain")) {
        xmlFreeDoc(doc);
        return -EBADMSG;
    }
    for (xmlNode *dev = root->children; dev && !rc; dev = dev->next) {
        if (!is_elem(dev, "devices")) {
            continue;
        }
        for (xmlNode *d = dev->children; d && !rc; d = d->next) {
            if (is_elem(d, "disk")) {
                rc = walk(d, paths, n, 0);
            }
        }
    }
    xmlFreeDoc(doc);
    if (rc) {
        mp_warm_paths_free(*paths, *n);
        *paths = NULL;
        *n = 0;
    }
    return rc;
}

void mp_warm_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(paths[i]);
    }
    free(paths);
}
