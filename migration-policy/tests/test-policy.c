/*
 * test-policy.c - policy tags, fleet files and precedence, the chooser
 * and the hook's decision, on golden inputs in tests/policy/
 *
 * SPDX-License-Identifier: GPL-2.0-or-later

 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migpolicy.h"

#include "mp-test.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double mp_test_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK_STR(got, want)                                              \
    do {                                                                  \
        if (strcmp((got), (want)) != 0) {                                 \
            fprintf(stderr, "%s:%d: got '%s'\n%*swant '%s'\n", __FILE__,  \
                    __LINE__, (got), (int)strlen(__FILE__) + 8, "",       \
                    (want));                                              \
            failures++;                                                   \
        }                                                                 \
    } while (0)

#define DATA MP_TEST_DATA "/policy/"

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    FILE *fp;
    char *buf;
    long n;

    snprintf(path, sizeof(path), DATA "%s", name);
    fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        exit(1);
    }
    buf[n] = 0;
    fclose(fp);
    if (len) {
        *len = (size_t)n;
    }
    return buf;
}

static int parse(const char *name, mp_domain *d, char *msg, size_t len)
{
    size_t n;
    char *xml = slurp(name, &n);
    int err = mp_domain_parse_xml(xml, n, d, msg, len);

    free(xml);
    return err;
}

static void test_tags(void)
{
    mp_domain d;
    char msg[MP_POLICY_MSG_MAX];

    CHECK(parse("tags-virsh.xml", &d, msg, sizeof(msg)) == 0);
    CHECK_STR(d.name, "web-1");
    CHECK(d.has_policy);
    CHECK(d.memory_bytes == 256u << 20);
    CHECK_STR(d.emulator, "/nonexistent/qemu-system-x86_64");
    CHECK(d.tags.objective == MP_OBJECTIVE_DOWNTIME);
    CHECK(d.tags.postcopy == MP_POSTCOPY_ALLOWED);
    CHECK(d.tags.max_downtime_ms == 200);
    CHECK_STR(d.tags.label, "gold");
    CHECK(d.tags.set == ((1u << MP_PF_OBJECTIVE) | (1u << MP_PF_POSTCOPY) |
                         (1u << MP_PF_MAX_DOWNTIME) | (1u << MP_PF_LABEL)));
    CHECK(!d.marker.present);

    /* Prefixed children, surrounding white space, a foreign namespace
     * with a same-named child ignored. */
    CHECK(parse("tags-prefixed.xml", &d, msg, sizeof(msg)) == 0);
    CHECK(d.tags.objective == MP_OBJECTIVE_TRAFFIC);
    CHECK(d.tags.postcopy == MP_POSTCOPY_FORBIDDEN);
    CHECK(d.tags.max_traffic_mib == 900);
    CHECK(d.tags.tier == MP_TIER_FOG);

    CHECK(parse("no-tags.xml", &d, msg, sizeof(msg)) == 0);
    CHECK(!d.has_policy && d.tags.set == 0);
}

static void test_bad_tags(void)
{
    static const struct { const char *file; int err; const char *msg; } t[] = {
        { "bad-downtime-unit.xml", -EINVAL, "<mp:policy>: <max-downtime-ms>: "
          "'200ms' is not a positive number of milliseconds (decimal, no "
          "unit)" },
        { "bad-objective.xml", -EINVAL, "<mp:policy>: <objective>: 'fastest' "
          "is not one of downtime, total-time, traffic or balanced" },
        { "bad-postcopy.xml", -EINVAL, "<mp:policy>: <postcopy>: 'no' is not "
          "allowed or forbidden" },
        { "bad-unknown.xml", -EINVAL, "<mp:policy>: unknown element "
          "<max-dowtime-ms> (known: objective, postcopy, max-downtime-ms, "
          "max-traffic-mib, tier, label)" },
        { "bad-duplicate.xml", -EINVAL, "<mp:policy>/<tier>: given twice" },
        { "bad-nested.xml", -EINVAL, "<mp:policy>/<objective>: expected "
          "text, found element <x>" },
        { "bad-two-policies.xml", -EINVAL, "<metadata>: more than one "
          "<mp:policy>" },
        { "bad-traffic-negative.xml", -EINVAL, "<mp:policy>: "
          "<max-traffic-mib>: '-5' is not a positive number of MiB "
          "(decimal, no unit)" },
        { "bad-not-xml.xml", -EBADMSG, "not well-formed XML" },
        /* An internal entity was expanded: &a; read as "allowed". */
        { "bad-entity.xml", -EBADMSG, "domain XML with a <!DOCTYPE> (DTDs "
          "and entities are not accepted)" },
        { "bad-doctype-system.xml", -EBADMSG, "domain XML with a "
          "<!DOCTYPE> (DTDs and entities are not accepted)" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mp_domain d;
        char msg[MP_POLICY_MSG_MAX] = "";
        int err = parse(t[i].file, &d, msg, sizeof(msg));
        if (err != t[i].err) {
            fprintf(stderr, "%s: err %d, want %d\n", t[i].file, err,
                    t[i].err);
            failures++;
        }
        CHECK_STR(msg, t[i].msg);
    }
}

/* Numbers are decimal with the unit the docs name, exactly: no hex
 * ("0x10" was read as 16), no exponent ("1e15" lifted any cap), no
 * trailing text, bounded. */
static void test_numbers(void)
{
    static const struct { const char *key, *value; double want; } t[] = {
        { "max-traffic-mib", "16", 16 },
        { "max-traffic-mib", "  2.5 ", 2.5 },
        { "max-traffic-mib", "0010", 10 },
        { "max-traffic-mib", "1000000000", 1e9 },
        { "max-downtime-ms", "2000000", 2e6 },
        { "max-downtime-ms", "0.001", 0.001 },
        { "max-traffic-mib", "0x10", -1 },
        { "max-traffic-mib", "1e15", -1 },
        { "max-traffic-mib", "1E3", -1 },
        { "max-traffic-mib", "1000000001", -1 },
        { "max-traffic-mib", "inf", -1 },
        { "max-traffic-mib", "nan", -1 },
        { "max-traffic-mib", "16.", -1 },
        { "max-traffic-mib", ".5", -1 },
        { "max-traffic-mib", "1 2", -1 },
        { "max-traffic-mib", "+5", -1 },
        { "max-traffic-mib", "0", -1 },
        { "max-traffic-mib", "0.0", -1 },
        { "max-traffic-mib", "", -1 },
        { "max-downtime-ms", "2000001", -1 },
        { "max-downtime-ms", "1234567890123456", -1 },
        { "max-downtime-ms", "1.0000000001", -1 },
    };
    char msg[MP_POLICY_MSG_MAX];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mp_policy p;
        int err;

        memset(&p, 0, sizeof(p));
        err = mp_policy_set_field(&p, t[i].key, t[i].value, msg, sizeof(msg));
        if (t[i].want < 0) {
            if (err != -EINVAL) {
                fprintf(stderr, "%s = '%s' accepted\n", t[i].key,
                        t[i].value);
                failures++;
            }
        } else if (err || (t[i].key[4] == 't' ? p.max_traffic_mib :
                           p.max_downtime_ms) != t[i].want) {
            fprintf(stderr, "%s = '%s': %d %s\n", t[i].key, t[i].value, err,
                    msg);
            failures++;
        }
    }
    {
        mp_policy p;
        memset(&p, 0, sizeof(p));
        CHECK(mp_policy_set_field(&p, "max-traffic-mib", "0x10", msg,
                                  sizeof(msg)) == -EINVAL);
        CHECK_STR(msg, "<max-traffic-mib>: '0x10' is not a positive number "
                  "of MiB (decimal, no unit)");
        CHECK(mp_policy_set_field(&p, "max-downtime-ms", "2000001", msg,
                                  sizeof(msg)) == -EINVAL);
        CHECK_STR(msg, "<max-downtime-ms>: '2000001' is not in 0 < ms <= "
                  "2000000");
    }
}

/* Text from outside reaches logs and terminals escaped: no newline, no
 * terminal escape, no C1 control, no invalid UTF-8; never cut silently. */
static void test_escape(void)
{
    static const struct { const char *in, *out; } t[] = {
        { "web-1", "web-1" },
        { "a\nb\rc\td", "a\\nb\\rc\\td" },
        { "\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07" },
        { "back\\slash", "back\\\\slash" },
        { "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
        { "c1 \xc2\x9b" "31m", "c1 \\xc2\\x9b31m" },    /* U+009B CSI */
        { "bad \xff\xc3(", "bad \\xff\\xc3(" },
        { "overlong \xc0\xaf", "overlong \\xc0\\xaf" },
        { "del \x7f", "del \\x7f" },
    };
    char out[64];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK_STR(mp_escape_text(t[i].in, out, sizeof(out)), t[i].out);
    }
    /* Too long: ends in "...", at a character boundary. */
    CHECK_STR(mp_escape_text("0123456789abcdef", out, 12), "01234567...");
    CHECK_STR(mp_escape_text("\n\n\n\n\n\n", out, 12), "\\n\\n\\n\\n...");
    CHECK_STR(mp_escape_text("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", out,
                             12), "\xe2\x82\xac\xe2\x82\xac...");
}

/* Entity amplification and size: refused before any work, quickly. */
static void test_xml_bounds(void)
{
    const size_t ent = 100000, uses = 10000;
    size_t cap = ent + uses * 4 + 4096, n = 0;
    char *xml = malloc(cap), msg[MP_POLICY_MSG_MAX];
    mp_domain d;
    double t0;

    if (!xml) {
        exit(1);
    }
    n += (size_t)snprintf(xml + n, cap - n, "<!DOCTYPE domain [<!ENTITY e \"");
    memset(xml + n, 'x', ent);
    n += ent;
    n += (size_t)snprintf(xml + n, cap - n, "\">]><domain><name>big</name>"
                          "<description>");
    for (size_t i = 0; i < uses; i++) {
        memcpy(xml + n, "&e;", 3);
        n += 3;
    }
    n += (size_t)snprintf(xml + n, cap - n, "</description></domain>");
    t0 = mp_test_now_s();
    CHECK(mp_domain_parse_xml(xml, n, &d, msg, sizeof(msg)) == -EBADMSG);
    CHECK(strstr(msg, "<!DOCTYPE>") != NULL);
    /* It took 5.3 s and 993 MB before; now nothing is expanded. */
    CHECK(mp_test_now_s() - t0 < 0.5);
    free(xml);

    /* A name or emulator path that does not fit is refused, not cut (a
     * cut path names another file). */
    {
        char big[2048], path[1100];
        memset(path, 'p', sizeof(path) - 1);
        path[sizeof(path) - 1] = 0;
        snprintf(big, sizeof(big), "<domain><name>x</name><devices>"
                 "<emulator>/%s</emulator></devices></domain>", path);
        CHECK(mp_domain_parse_xml(big, strlen(big), &d, msg,
                                  sizeof(msg)) == -EBADMSG);
        CHECK_STR(msg, "<emulator>: longer than 1023 bytes");
        path[300] = 0;
        snprintf(big, sizeof(big), "<domain><name>%s</name></domain>", path);
        CHECK(mp_domain_parse_xml(big, strlen(big), &d, msg,
                                  sizeof(msg)) == -EBADMSG);
        CHECK_STR(msg, "<name>: longer than 255 bytes");
    }

    /* Larger than libvirt can send: refused unread. */
    xml = malloc(MP_DOMAIN_XML_MAX + 2);
    if (!xml) {
        exit(1);
    }
    memset(xml, ' ', MP_DOMAIN_XML_MAX + 1);
    memcpy(xml, "<domain>", 8);
    CHECK(mp_domain_parse_xml(xml, MP_DOMAIN_XML_MAX + 1, &d, msg,
                              sizeof(msg)) == -EFBIG);
    CHECK(strstr(msg, "over the limit of 4194304 bytes") != NULL);
    free(xml);
}

static mp_fleet *fleet(void)
{
    mp_fleet *f = mp_fleet_new();
    char msg[MP_POLICY_MSG_MAX];

    if (!f || mp_fleet_load_file(f, DATA "fleet.conf", msg, sizeof(msg))) {
        fprintf(stderr, "fleet.conf: %s\n", msg);
        exit(1);
    }
    return f;
}

static void test_precedence(void)
{
    mp_fleet *f = fleet();
    mp_domain d;
    mp_policy p, tags;
    char msg[MP_POLICY_MSG_MAX];

    /* Tags beat every file rule; unset fields come from the files. */
    CHECK(parse("tags-virsh.xml", &d, msg, sizeof(msg)) == 0);
    mp_policy_resolve(f, d.name, &d.tags, &p);
    CHECK(p.objective == MP_OBJECTIVE_DOWNTIME);
    CHECK_STR(p.origin[MP_PF_OBJECTIVE], "tag");
    CHECK(p.max_downtime_ms == 200);
    CHECK(p.max_traffic_mib == 4096);
    CHECK_STR(p.origin[MP_PF_MAX_TRAFFIC], DATA "fleet.conf:2 [*]");

    /* No tags: the longer glob wins over the shorter, which wins over *. */
    mp_policy_resolve(f, "web-12", NULL, &p);
    CHECK(p.objective == MP_OBJECTIVE_TOTAL_TIME);
    CHECK_STR(p.origin[MP_PF_OBJECTIVE], DATA "fleet.conf:6 [name=web-*]");
    CHECK(p.max_downtime_ms == 400);
    CHECK_STR(p.origin[MP_PF_MAX_DOWNTIME], DATA "fleet.conf:10 "
              "[name=web-1*]");
    mp_policy_resolve(f, "web-2", NULL, &p);
    CHECK(p.max_downtime_ms == 500);
    CHECK(p.postcopy == MP_POSTCOPY_ALLOWED);
    CHECK_STR(p.origin[MP_PF_POSTCOPY], "default");

    /* label= beats globs, an exact name beats label=. */
    CHECK(parse("label-only.xml", &d, msg, sizeof(msg)) == 0);
    mp_policy_resolve(f, d.name, &d.tags, &p);
    CHECK(p.objective == MP_OBJECTIVE_TRAFFIC);
    CHECK(p.postcopy == MP_POSTCOPY_FORBIDDEN);
    CHECK_STR(p.origin[MP_PF_POSTCOPY], DATA "fleet.conf:13 [label=batch]");
    CHECK(p.max_traffic_mib == 2048);
    CHECK_STR(p.origin[MP_PF_MAX_TRAFFIC], DATA "fleet.conf:17 "
              "[name=batch-7]");

    /* The same VM without its label: the label rule does not apply. */
    mp_policy_resolve(f, "batch-7", NULL, &p);
    CHECK(p.postcopy == MP_POSTCOPY_ALLOWED);

    /* tier fog makes traffic the default objective; a rule or tag that
     * names an objective still wins. */
    memset(&tags, 0, sizeof(tags));
    CHECK(mp_policy_set_field(&tags, "tier", "fog", msg, sizeof(msg)) == 0);
    mp_policy_resolve(NULL, "x", &tags, &p);
    CHECK(p.objective == MP_OBJECTIVE_TRAFFIC);
    CHECK_STR(p.origin[MP_PF_OBJECTIVE], "tier fog");
    mp_policy_resolve(f, "web-3", &tags, &p);
    CHECK(p.objective == MP_OBJECTIVE_TOTAL_TIME);

    CHECK(mp_policy_set_field(&tags, "colour", "red", msg, sizeof(msg)) ==
          -ENOENT);
    mp_fleet_free(f);
}

static void test_bad_fleet(void)
{
    static const struct { const char *file; const char *msg; } t[] = {
        { "bad-fleet-value.conf", DATA "bad-fleet-value.conf:2: <objective>: "
          "'speed' is not one of downtime, total-time, traffic or balanced" },
        { "bad-fleet-nosection.conf", DATA "bad-fleet-nosection.conf:1: "
          "setting outside a section" },
        { "bad-fleet-selector.conf", DATA "bad-fleet-selector.conf:1: "
          "unknown selector 'host=a' (expected *, name=GLOB or label=NAME)" },
        { "missing.conf", DATA "missing.conf: No such file or directory" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        mp_fleet *f = mp_fleet_new();
        char path[1024], msg[MP_POLICY_MSG_MAX] = "";
        mp_policy p;
        snprintf(path, sizeof(path), DATA "%s", t[i].file);
        CHECK(mp_fleet_load_file(f, path, msg, sizeof(msg)) < 0);
        CHECK_STR(msg, t[i].msg);
        /* Nothing of a bad file is kept. */
        mp_policy_resolve(f, "web-1", NULL, &p);
        CHECK_STR(p.origin[MP_PF_OBJECTIVE], "default");
        mp_fleet_free(f);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* A policy directory: *.conf only, in name order; a missing one is empty. */
static void test_fleet_dir(void)
{
    char dir[] = "/tmp/test-policy.XXXXXX", path[64], msg[MP_POLICY_MSG_MAX];
    mp_fleet *f = mp_fleet_new();
    mp_policy p;

    /* Missing or misspelt: an error, not "no fleet rules". */
    CHECK(mp_fleet_load_dir(f, "/nonexistent/policy.d", msg,
                            sizeof(msg)) == -ENOENT);
    CHECK_STR(msg, "policy directory /nonexistent/policy.d: No such file or "
              "directory");
    mp_policy_resolve(f, "vm", NULL, &p);
    CHECK_STR(p.origin[MP_PF_OBJECTIVE], "default");
    if (!mkdtemp(dir)) {
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/20-late.conf", dir);
    write_file(path, "[*]\nobjective = traffic\n");
    snprintf(path, sizeof(path), "%s/10-early.conf", dir);
    write_file(path, "[*]\nobjective = downtime\ntier = cloud\n");
    snprintf(path, sizeof(path), "%s/30-ignored.conf.bak", dir);
    write_file(path, "[*]\nobjective = bogus\n");
    CHECK(mp_fleet_load_dir(f, dir, msg, sizeof(msg)) == 0);
    mp_policy_resolve(f, "vm", NULL, &p);
    CHECK(p.objective == MP_OBJECTIVE_TRAFFIC);   /* the later file */
    CHECK(p.tier == MP_TIER_CLOUD);
    snprintf(path, sizeof(path), "%s/20-late.conf", dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/10-early.conf", dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/30-ignored.conf.bak", dir);
    remove(path);
    remove(dir);
    mp_fleet_free(f);
}

/* A fleet from @text, in a temporary file; @path gets its name. */
static mp_fleet *fleet_text(const char *text, char *path, size_t len)
{
    mp_fleet *f = mp_fleet_new();
    char msg[MP_POLICY_MSG_MAX];
    int fd;

    snprintf(path, len, "/tmp/test-fleet.XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || !f) {
        exit(1);
    }
    close(fd);
    write_file(path, text);
    if (mp_fleet_load_file(f, path, msg, sizeof(msg))) {
        fprintf(stderr, "fleet: %s\n", msg);
        failures++;
    }
    return f;
}

static mp_policy tags_of(const char *kv[][2], size_t n)
{
    mp_policy tags;
    char msg[MP_POLICY_MSG_MAX];

    memset(&tags, 0, sizeof(tags));
    for (size_t i = 0; i < n; i++) {
        if (mp_policy_set_field(&tags, kv[i][0], kv[i][1], msg, sizeof(msg))) {
            fprintf(stderr, "%s\n", msg);
            exit(1);
        }
    }
    return tags;
}

/*
 * Two levels: an operator's enforced rule may be tightened by a tenant's
 * tag, never loosened (before, <postcopy>allowed</postcopy> and
 * <max-traffic-mib>1e15</...> lifted a fleet's "forbidden" and cap).
 * One case per row of docs/policy.md's precedence table.
 */
static void test_enforce(void)
{
    char path[64], want[256];
    mp_fleet *f = fleet_text(
        "[*]\n"
        "postcopy = forbidden\n"
        "max-traffic-mib = 100\n"
        "max-downtime-ms = 200\n"
        "objective = traffic\n"
        "tier = cloud\n"
        "enforce = all\n"
        "\n"
        "[name=free-*]\n"                 /* line 9: an operator exception */
        "postcopy = allowed\n"
        "max-traffic-mib = 5000\n"
        "\n"
        "[name=open-*]\n"                 /* line 13: not enforced */
        "objective = downtime\n"
        "\n"
        "[label=gold]\n"                  /* line 16 */
        "max-downtime-ms = 50\n"
        "enforce = max-downtime-ms\n", path, sizeof(path));
    const char *loosen[][2] = { { "postcopy", "allowed" },
                                { "max-traffic-mib", "1000000000" },
                                { "max-downtime-ms", "500" },
                                { "objective", "downtime" },
                                { "tier", "fog" } };
    const char *tighten[][2] = { { "max-traffic-mib", "50" },
                                 { "max-downtime-ms", "100" } };
    const char *same[][2] = { { "postcopy", "forbidden" },
                              { "max-traffic-mib", "100" } };
    const char *pc_forbid[][2] = { { "postcopy", "forbidden" } };
    const char *gold[][2] = { { "label", "gold" },
                              { "max-downtime-ms", "500" } };
    mp_policy t, p;

    /* Loosening tags are ignored, each field, and say so. */
    t = tags_of(loosen, 5);
    mp_policy_resolve(f, "vm", &t, &p);
    CHECK(p.postcopy == MP_POSTCOPY_FORBIDDEN);
    snprintf(want, sizeof(want), "%s:1 [*], enforced; tag 'allowed' ignored",
             path);
    CHECK_STR(p.origin[MP_PF_POSTCOPY], want);
    CHECK(p.max_traffic_mib == 100);
    snprintf(want, sizeof(want), "%s:1 [*], enforced; tag '1e+09' ignored",
             path);
    CHECK_STR(p.origin[MP_PF_MAX_TRAFFIC], want);
    CHECK(p.max_downtime_ms == 200);
    CHECK(p.objective == MP_OBJECTIVE_TRAFFIC);
    CHECK(p.tier == MP_TIER_CLOUD);
    CHECK(p.tag_ignored == ((1u << MP_PF_POSTCOPY) | (1u << MP_PF_MAX_TRAFFIC) |
                            (1u << MP_PF_MAX_DOWNTIME) |
                            (1u << MP_PF_OBJECTIVE) | (1u << MP_PF_TIER)));

    /* Tightening tags apply. */
    t = tags_of(tighten, 2);
    mp_policy_resolve(f, "vm", &t, &p);
    CHECK(p.max_traffic_mib == 50 && p.max_downtime_ms == 100);
    snprintf(want, sizeof(want), "tag, tighter than enforced %s:1 [*]", path);
    CHECK_STR(p.origin[MP_PF_MAX_TRAFFIC], want);
    CHECK(p.tag_ignored == 0);

    /* Equal: the operator's origin stays, nothing ignored. */
    t = tags_of(same, 2);
    mp_policy_resolve(f, "vm", &t, &p);
    snprintf(want, sizeof(want), "%s:1 [*]", path);
    CHECK_STR(p.origin[MP_PF_POSTCOPY], want);
    CHECK(p.tag_ignored == 0);

    /* A more specific operator rule is the operator's own exception; not
     * enforced, a tag may change it either way. */
    t = tags_of(loosen, 2);
    mp_policy_resolve(f, "free-1", &t, &p);
    CHECK(p.postcopy == MP_POSTCOPY_ALLOWED);
    CHECK_STR(p.origin[MP_PF_POSTCOPY], "tag");
    CHECK(p.max_traffic_mib == 1e9);
    t = tags_of(pc_forbid, 1);
    mp_policy_resolve(f, "free-1", &t, &p);
    CHECK(p.postcopy == MP_POSTCOPY_FORBIDDEN);
    mp_policy_resolve(f, "free-1", NULL, &p);
    CHECK(p.postcopy == MP_POSTCOPY_ALLOWED && !(p.enforced &
                                                 (1u << MP_PF_POSTCOPY)));
    /* ...and what it does not set stays enforced from [*]. */
    CHECK(p.enforced & (1u << MP_PF_MAX_DOWNTIME));

    /* Not enforced anywhere: the tag wins, as before. */
    t = tags_of(loosen + 3, 1);
    mp_policy_resolve(f, "open-1", &t, &p);
    CHECK(p.objective == MP_OBJECTIVE_DOWNTIME);
    CHECK_STR(p.origin[MP_PF_OBJECTIVE], "tag");

    /* An enforced tier keeps a fog tag from changing the default
     * objective either. */
    {
        mp_fleet *g;
        char path2[64];
        const char *fog[][2] = { { "tier", "fog" } };
        g = fleet_text("[*]\ntier = cloud\nenforce = tier\n", path2,
                       sizeof(path2));
        t = tags_of(fog, 1);
        mp_policy_resolve(g, "vm", &t, &p);
        CHECK(p.tier == MP_TIER_CLOUD && p.objective == MP_OBJECTIVE_BALANCED);
        mp_fleet_free(g);
        remove(path2);
    }

    /* A label rule binds only while the VM carries the label. */
    t = tags_of(gold, 2);
    mp_policy_resolve(f, "open-2", &t, &p);
    CHECK(p.max_downtime_ms == 50);
    t = tags_of(gold + 1, 1);
    mp_policy_resolve(f, "open-2", &t, &p);
    CHECK(p.max_downtime_ms == 200);        /* [*]'s, enforced */
    mp_fleet_free(f);
    remove(path);
}

/* Errors of the fleet-only keys and of the file itself. */
static void test_fleet_keys(void)
{
    static const struct { const char *text, *msg; } t[] = {
        { "[*]\nenforce = postcopy\n",
          ":1 [*]: enforce names postcopy, which this section does not set" },
        { "[*]\npostcopy = forbidden\nenforce = speed\n",
          ":3: enforce: 'speed' is not a policy key (objective, postcopy, "
          "max-downtime-ms, max-traffic-mib, tier, or all)" },
        { "[*]\npostcopy = forbidden\nenforce = label\n",
          ":3: enforce: 'label' is not a policy key (objective, postcopy, "
          "max-downtime-ms, max-traffic-mib, tier, or all)" },
        { "[*]\ntenant-veto = maybe\n",
          ":2: tenant-veto: 'maybe' is not yes or no" },
        { "[*]\npostcopy = forbidden\npostcopy = allowed\n",
          ":3: postcopy given twice in this section" },
        { "[*] # every VM\n",
          ":1: malformed section header (expected [SELECTOR] alone on its "
          "line)" },
        { "[*]\nobjective = traffic\x1b[2J\n",
          ":2: control character 0x1b" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char path[64], msg[MP_POLICY_MSG_MAX] = "";
        mp_fleet *f = mp_fleet_new();
        int fd;

        snprintf(path, sizeof(path), "/tmp/test-fleet.XXXXXX");
        fd = mkstemp(path);
        if (fd < 0 || !f) {
            exit(1);
        }
        close(fd);
        write_file(path, t[i].text);
        CHECK(mp_fleet_load_file(f, path, msg, sizeof(msg)) == -EINVAL);
        if (strncmp(msg, path, strlen(path)) != 0 ||
            strcmp(msg + strlen(path), t[i].msg) != 0) {
            fprintf(stderr, "fleet '%s': got '%s'\n  want '%s%s'\n",
                    t[i].text, msg, path, t[i].msg);
            failures++;
        }
        mp_fleet_free(f);
        remove(path);
    }
    /* A FIFO (or any non-regular file) is refused without blocking. */
    {
        char dir[] = "/tmp/test-fleet-fifo.XXXXXX", path[64];
        char msg[MP_POLICY_MSG_MAX];
        mp_fleet *f = mp_fleet_new();
        if (!mkdtemp(dir)) {
            exit(1);
        }
        snprintf(path, sizeof(path), "%s/10-fifo.conf", dir);
        CHECK(mkfifo(path, 0600) == 0);
        CHECK(mp_fleet_load_dir(f, dir, msg, sizeof(msg)) == -EINVAL);
        CHECK(strstr(msg, "10-fifo.conf: not a regular file") != NULL);
        remove(path);
        remove(dir);
        mp_fleet_free(f);
    }
}

/* tenant-veto = no: malformed tags are ignored, post-copy forbidden, the
 * VM can still be moved; by default they refuse. */
static void test_tenant_veto(void)
{
    char path[64], msg[MP_POLICY_MSG_MAX], pmsg[MP_POLICY_MSG_MAX];
    mp_fleet *f = fleet_text("[*]\nmax-traffic-mib = 4096\n\n"
                             "[name=bad*]\ntenant-veto = no\n", path,
                             sizeof(path));
    mp_domain d;
    mp_policy p;
    int err;

    err = parse("bad-objective.xml", &d, pmsg, sizeof(pmsg));
    CHECK(err == -EINVAL && strcmp(d.name, "bad2") == 0);
    CHECK(mp_policy_resolve_domain(f, &d, err, pmsg, &p, msg,
                                   sizeof(msg)) == 1);
    CHECK(p.postcopy == MP_POSTCOPY_FORBIDDEN);
    CHECK(p.max_traffic_mib == 4096);
    CHECK(strstr(msg, "malformed policy tags ignored (tenant-veto = no, ") &&
          strstr(msg, ":4 [name=bad*]): <mp:policy>: <objective>: "
                 "'fastest' is not one of"));
    mp_fleet_free(f);
    remove(path);
    /* Default: they refuse. */
    CHECK(mp_policy_resolve_domain(NULL, &d, err, pmsg, &p, msg,
                                   sizeof(msg)) == -EINVAL);
    CHECK(p.tenant_veto == 1);
    CHECK(parse("tags-virsh.xml", &d, pmsg, sizeof(pmsg)) == 0);
    CHECK(mp_policy_resolve_domain(NULL, &d, 0, pmsg, &p, msg,
                                   sizeof(msg)) == 0);
    CHECK(p.objective == MP_OBJECTIVE_DOWNTIME);
}

/* 1 GiB guest, 64 MiB write-hot rewritten flat out: pre-copy never
 * converges at 125 MB/s (the measured wh64). */
static mp_choose_input hot_guest(void)
{
    mp_choose_input in;

    memset(&in, 0, sizeof(in));
    mp_sim_input_default(&in.sim);
    in.sim.workload.touched_bytes = 200u << 20;
    in.sim.workload.write_hot_bytes = 64u << 20;
    in.sim.workload.dirty_pages_per_s = 100e3;
    in.sim.timeout_s = 60;
    return in;
}

static mp_policy policy_of(const char *kv[][2], size_t n)
{
    mp_policy tags, p;
    char msg[MP_POLICY_MSG_MAX];

    memset(&tags, 0, sizeof(tags));
    for (size_t i = 0; i < n; i++) {
        if (mp_policy_set_field(&tags, kv[i][0], kv[i][1], msg, sizeof(msg))) {
            fprintf(stderr, "%s\n", msg);
            exit(1);
        }
    }
    mp_policy_resolve(NULL, "vm", &tags, &p);
    return p;
}

static void test_chooser(void)
{
    mp_choose_input in = hot_guest();
    mp_choice c;
    const char *forbid[][2] = { { "postcopy", "forbidden" } };
    const char *down[][2] = { { "objective", "downtime" } };
    const char *traffic[][2] = { { "objective", "traffic" } };
    const char *tight[][2] = { { "max-downtime-ms", "1" } };
    const char *cheap[][2] = { { "max-traffic-mib", "250" },
                               { "objective", "total-time" } };
    mp_policy p;

    /* Post-copy forbidden: every post-copy strategy (predictive too) is
     * dropped; pre-copy does not converge; auto-converge remains. */
    p = policy_of(forbid, 1);
    in.phase_sched = 1;
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.chosen == MP_STRATEGY_PRECOPY_AUTOCONVERGE);
    CHECK(c.rows[MP_STRATEGY_PRECOPY].verdict == MP_VERDICT_DROPPED);
    CHECK(strstr(c.rows[MP_STRATEGY_PRECOPY].reason, "does not complete"));
    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        if (mp_strategy_uses_postcopy((mp_strategy)s)) {
            CHECK(c.rows[s].verdict == MP_VERDICT_DROPPED);
            CHECK(strstr(c.rows[s].reason, "post-copy forbidden (tag)"));
        }
    }
    CHECK(c.rows[MP_STRATEGY_ZERO_COPY].verdict == MP_VERDICT_UNAVAILABLE);
    CHECK_STR(c.rows[MP_STRATEGY_ZERO_COPY].reason, "destination is another "
              "host (zero-copy leaves RAM in place: same host only); guest "
              "RAM is not shareable (needs <memoryBacking><access "
              "mode='shared'/>)");

    /* Downtime is the pause the guest sees: post-copy's 8 ms switch plus
     * the vCPU's wait for 64 MiB of hot pages is longer than
     * auto-converge's stop-and-copy, which wins. */
    p = policy_of(down, 1);
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.chosen == MP_STRATEGY_PRECOPY_AUTOCONVERGE);
    CHECK(c.rows[MP_STRATEGY_POSTCOPY].sim.downtime_ms <
          c.rows[MP_STRATEGY_PRECOPY_AUTOCONVERGE].sim.downtime_ms);
    CHECK(mp_choice_pause_ms(&c.rows[MP_STRATEGY_POSTCOPY].sim) ==
          c.rows[MP_STRATEGY_POSTCOPY].sim.downtime_ms +
          c.rows[MP_STRATEGY_POSTCOPY].sim.blocktime_ms);
    /* Auto-converge: the longer of its stop-and-copy and one throttle
     * sleep (p / (1 - p) x 10 ms). */
    {
        const mp_sim_result *ac = &c.rows[MP_STRATEGY_PRECOPY_AUTOCONVERGE].sim;
        mp_sim_result t = *ac;
        double pct = ac->throttle_pct;
        CHECK(pct > 0 && pct < 100);
        CHECK(mp_choice_pause_ms(ac) ==
              fmax(ac->downtime_ms, pct / (100 - pct) * 10.0));
        t.throttle_pct = 99;
        t.downtime_ms = 20;
        CHECK(fabs(mp_choice_pause_ms(&t) - 990) < 1e-9);
        t.throttle_pct = 0;
        CHECK(mp_choice_pause_ms(&t) == 20);
    }
    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        if (c.rows[s].verdict == MP_VERDICT_ELIGIBLE) {
            CHECK(mp_choice_pause_ms(&c.rows[s].sim) >=
                  mp_choice_pause_ms(&c.rows[c.chosen].sim));
        }
    }

    /* Traffic: the fewest bytes among the allowed. */
    p = policy_of(traffic, 1);
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
        if (c.rows[s].verdict == MP_VERDICT_ELIGIBLE) {
            CHECK(c.rows[s].sim.bytes_total >=
                  c.rows[c.chosen].sim.bytes_total);
        }
    }

    /* Predictive needs the fork on the source. */
    in.phase_sched = 0;
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.rows[MP_STRATEGY_PREDICTIVE].verdict == MP_VERDICT_UNAVAILABLE);
    CHECK_STR(c.rows[MP_STRATEGY_PREDICTIVE].reason, "source QEMU lacks the "
              "x-phase-sched capability");

    /* A limit nothing meets: -ENOENT, table still filled. */
    p = policy_of(tight, 1);
    CHECK(mp_policy_choose(&p, &in, &c) == -ENOENT);
    CHECK(c.chosen == -1);
    CHECK(c.downtime_limit_ms == 1);
    CHECK(strstr(c.rows[MP_STRATEGY_POSTCOPY].reason,
                 "> max-downtime-ms 1 (tag)"));

    /* A traffic cap drops the strategies that resend. */
    p = policy_of(cheap, 2);
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.rows[c.chosen].sim.bytes_total <= 250u << 20);
    CHECK(c.rows[MP_STRATEGY_PRECOPY_AUTOCONVERGE].verdict ==
          MP_VERDICT_DROPPED);

    /* Limits drop exactly the candidates whose prediction breaks them,
     * whatever the objective, and the pick respects both. */
    {
        const char *both[][2] = { { "max-downtime-ms", "20" },
                                  { "max-traffic-mib", "230" },
                                  { "objective", "total-time" } };
        p = policy_of(both, 3);
        in.phase_sched = 1;
        CHECK(mp_policy_choose(&p, &in, &c) == 0);
        CHECK(c.downtime_limit_ms == 20);
        for (int s = 0; s < MP_STRATEGY__COUNT; s++) {
            const mp_choice_row *r = &c.rows[s];
            bool breaks = r->predicted && r->sim.converged &&
                          (r->sim.downtime_ms > 20 ||
                           r->sim.bytes_total > (uint64_t)230 << 20);
            if (r->verdict == MP_VERDICT_UNAVAILABLE || !r->sim.converged) {
                continue;
            }
            CHECK(breaks == (r->verdict == MP_VERDICT_DROPPED));
        }
        CHECK(c.rows[MP_STRATEGY_PRECOPY_AUTOCONVERGE].verdict ==
              MP_VERDICT_DROPPED);
        CHECK(strstr(c.rows[MP_STRATEGY_PRECOPY_AUTOCONVERGE].reason,
                     "> max-downtime-ms 20 (tag)"));
        CHECK(c.rows[MP_STRATEGY_POSTCOPY_AFTER_PRECOPY].verdict ==
              MP_VERDICT_DROPPED);
        CHECK(strstr(c.rows[MP_STRATEGY_POSTCOPY_AFTER_PRECOPY].reason,
                     "> max-traffic-mib 230 (tag)"));
        CHECK(c.chosen == MP_STRATEGY_POSTCOPY ||
              c.chosen == MP_STRATEGY_PREDICTIVE);
        CHECK(c.rows[c.chosen].sim.downtime_ms <= 20 &&
              c.rows[c.chosen].sim.bytes_total <= (uint64_t)230 << 20);
    }

    /* Same host with shared RAM: zero-copy is the least downtime. */
    p = policy_of(down, 1);
    in.same_host = 1;
    in.ram_shareable = 1;
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.rows[MP_STRATEGY_ZERO_COPY].verdict != MP_VERDICT_UNAVAILABLE);
    CHECK(c.rows[MP_STRATEGY_ZERO_COPY].sim.bytes_total == 1u << 20);

    /* An idle guest: every strategy completes; balanced picks one. */
    in = hot_guest();
    in.sim.workload.write_hot_bytes = 1u << 20;
    in.sim.workload.dirty_pages_per_s = 100;
    /* Downtime: pre-copy's 14 ms and post-copy's 8 ms are within the
     * model's resolution (10 ms); the one without exposure wins. */
    p = policy_of(down, 1);
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.chosen == MP_STRATEGY_PRECOPY);
    CHECK(c.rows[MP_STRATEGY_POSTCOPY].sim.downtime_ms <
          c.rows[MP_STRATEGY_PRECOPY].sim.downtime_ms);
    p = policy_of(NULL, 0);
    CHECK(p.objective == MP_OBJECTIVE_BALANCED);
    CHECK(mp_policy_choose(&p, &in, &c) == 0);
    CHECK(c.rows[MP_STRATEGY_PRECOPY].verdict <= MP_VERDICT_ELIGIBLE);
}

/* emulator_enforces: the wrapper at one path only. */
static int probe_yes(const char *emulator, void *opaque, char *why,
                     size_t len)
{
    (void)opaque;
    if (strcmp(emulator, "/nonexistent/qemu-system-x86_64") == 0) {
        return 1;
    }
    snprintf(why, len, "emulator %s is not the wrapper", emulator);
    return 0;
}

static int probe_no(const char *emulator, void *opaque, char *why,
                    size_t len)
{
    (void)opaque;
    snprintf(why, len, "emulator %s is not the migpolicy emulator wrapper",
             emulator);
    return 0;
}

static void hook(const char *file, const mp_hook_options *opt,
                 mp_hook_result *res)
{
    size_t n;
    char *xml = slurp(file, &n);

    if (mp_hook_migrate_begin(xml, n, NULL, opt, res)) {
        fprintf(stderr, "%s: hook failed\n", file);
        exit(1);
    }
    free(xml);
}

static void test_hook(void)
{
    mp_hook_options opt = { .now_unix_s = 1800000000,
                            .emulator_enforces = probe_no };
    mp_hook_result r;
    size_t n;

    /* Marked post-copy, post-copy forbidden: veto, enforced or not. */
    hook("marked-postcopy.xml", &opt, &r);
    CHECK(r.veto);
    CHECK_STR(r.reason, "migpolicy: refusing migration of 'db-1': post-copy "
              "is forbidden (tag) and this migration is marked post-copy "
              "(strategy postcopy)");
    opt.emulator_enforces = probe_yes;
    hook("marked-postcopy.xml", &opt, &r);
    CHECK(r.veto);

    /* Post-copy forbidden, unmarked, and the destination enforces it (the
     * emulator wrapper): accepted -- plain pre-copy 'virsh migrate' of
     * such a VM works, a post-copy one is refused by QEMU.  Before, every
     * plain migration of such a VM was vetoed (host evacuation blocked). */
    hook("tags-prefixed.xml", &opt, &r);
    CHECK(!r.veto && r.enforced);
    CHECK(strstr(r.log, "postcopy=forbidden (enforced: the emulator wrapper "
                 "disables userfaultfd)") != NULL);

    /* Not enforceable here: vetoed by default, naming why. */
    opt.emulator_enforces = probe_no;
    hook("tags-prefixed.xml", &opt, &r);
    CHECK(r.veto && !r.enforced);
    CHECK(strstr(r.reason, "post-copy is forbidden (tag) and this host "
                 "cannot enforce it (emulator /nonexistent/qemu-system-x86_64 "
                 "is not the migpolicy emulator wrapper)") != NULL);
    hook("marked-expired.xml", &opt, &r);
    CHECK(r.veto && strstr(r.reason, "(marker expired 1799999000 s ago)"));
    opt.unmarked = MP_HOOK_UNMARKED_ALLOW;
    hook("tags-prefixed.xml", &opt, &r);
    CHECK(!r.veto && strstr(r.log, "unmarked = allow"));
    opt.unmarked = MP_HOOK_UNMARKED_VETO;

    /* Marked pre-copy, not enforceable: accepted (a declaration). */
    hook("marked-precopy.xml", &opt, &r);
    CHECK(!r.veto);
    CHECK_STR(r.log, "db-1 accept: objective=balanced postcopy=forbidden "
              "(not enforced: emulator /nonexistent/qemu-system-x86_64 is not "
              "the migpolicy emulator wrapper; the marker declares pre-copy) "
              "marker=precopy");

    /* Allowed post-copy: accepted, the XML never rewritten (nothing to
     * free: the result has no XML any more). */
    hook("marked-predictive.xml", &opt, &r);
    CHECK(!r.veto);
    CHECK_STR(r.log, "web-1 accept: objective=balanced postcopy=allowed "
              "marker=predictive");
    hook("no-tags.xml", &opt, &r);
    CHECK(!r.veto);

    /* The marker's source side removes what earlier hooks injected. */
    {
        char *xml = slurp("legacy-injected.xml", &n), *out = NULL;
        CHECK(mp_marker_add_xml(xml, n, MP_STRATEGY_PREDICTIVE, NULL, 1,
                                &out) == 0);
        CHECK(out && !strstr(out, "commandline") &&
              strstr(out, "postcopy=\"yes\""));
        free(out);
        free(xml);
        xml = slurp("marked-precopy-injected.xml", &n);
        CHECK(mp_marker_add_xml(xml, n, MP_STRATEGY_PRECOPY, NULL, 1,
                                &out) == 0);
        /* Other arguments stay. */
        CHECK(out && strstr(out, "timestamp=on") &&
              !strstr(out, "x-phase-sched"));
        free(out);
        free(xml);
    }

    /* A fleet rule forbids post-copy for an untagged VM: veto naming it. */
    {
        char dir[] = "/tmp/test-policy.XXXXXX", path[64], *xml;
        mp_fleet *f = mp_fleet_new();
        char msg[MP_POLICY_MSG_MAX];
        if (!mkdtemp(dir)) {
            exit(1);
        }
        snprintf(path, sizeof(path), "%s/fleet.conf", dir);
        write_file(path, "# fleet\n[name=pla*]\npostcopy = forbidden\n");
        CHECK(mp_fleet_load_file(f, path, msg, sizeof(msg)) == 0);
        xml = slurp("no-tags.xml", &n);
        CHECK(mp_hook_migrate_begin(xml, n, f, &opt, &r) == 0);
        CHECK(r.veto);
        CHECK(strstr(r.reason, "post-copy is forbidden (") &&
              strstr(r.reason, "fleet.conf:2 [name=pla*])"));
        free(xml);
        mp_fleet_free(f);
        remove(path);
        remove(dir);
    }

    /* An entity that would say "allowed": the XML is refused. */
    hook("bad-entity.xml", &opt, &r);
    CHECK(r.veto);
    CHECK_STR(r.reason, "migpolicy: refusing the incoming domain: domain "
              "XML with a <!DOCTYPE> (DTDs and entities are not accepted)");

    /* Malformed tags: veto naming the element. */
    hook("bad-objective.xml", &opt, &r);
    CHECK(r.veto);
    CHECK_STR(r.reason, "migpolicy: refusing migration of 'bad2': malformed "
              "policy: <mp:policy>: <objective>: 'fastest' is not one of "
              "downtime, total-time, traffic or balanced");

    /* ...unless tenants may not veto: accepted, post-copy forbidden (and
     * enforced by the wrapper). */
    {
        char path[64], *xml;
        mp_fleet *f = fleet_text("[*]\ntenant-veto = no\n", path,
                                 sizeof(path));
        opt.emulator_enforces = probe_yes;
        xml = slurp("bad-objective.xml", &n);
        CHECK(mp_hook_migrate_begin(xml, n, f, &opt, &r) == 0);
        CHECK(!r.veto && r.policy.postcopy == MP_POSTCOPY_FORBIDDEN);
        CHECK(strstr(r.log, "warning: malformed policy tags ignored"));
        /* A tenant's prohibition that cannot be enforced does not veto
         * either: the operator said tenants cannot block a move. */
        opt.emulator_enforces = probe_no;
        CHECK(mp_hook_migrate_begin(xml, n, f, &opt, &r) == 0);
        CHECK(!r.veto && strstr(r.log, "the tenant's prohibition, "
                                "tenant-veto = no"));
        free(xml);
        mp_fleet_free(f);
        remove(path);
    }

    /* The marker source side: add, read back. */
    {
        char *xml = slurp("tags-virsh.xml", &n), *out = NULL;
        mp_domain d;
        char msg[MP_POLICY_MSG_MAX];
        CHECK(mp_marker_add_xml(xml, n, MP_STRATEGY_PRECOPY, NULL, 1800000100,
                                &out) == 0);
        CHECK(out && mp_domain_parse_xml(out, strlen(out), &d, msg,
                                         sizeof(msg)) == 0);
        CHECK(d.marker.present && d.marker.valid && !d.marker.postcopy);
        CHECK_STR(d.marker.strategy, "precopy");
        CHECK(d.marker.expires_unix_s == 1800000100);
        CHECK(d.tags.objective == MP_OBJECTIVE_DOWNTIME);
        free(out);
        /* Replacing: still one marker. */
        CHECK(mp_marker_add_xml(xml, n, MP_STRATEGY_POSTCOPY, NULL, 1, &out) == 0);
        {
            char *xml2 = out;
            CHECK(xml2 && mp_marker_add_xml(xml2, strlen(xml2),
                                            MP_STRATEGY_PREDICTIVE, NULL, 2,
                                            &out) == 0);
            CHECK(out && strstr(out, "<mpd:decision") &&
                  !strstr(strstr(out, "<mpd:decision") + 5, "<mpd:decision"));
            CHECK(out && strstr(out, "strategy=\"predictive\""));
            free(xml2);
        }
        free(out);
        free(xml);
    }
}

/* prepare: what the wrapper applies; fails closed without refusing. */
static void test_prepare(void)
{
    mp_hook_prepared pr;
    size_t n;
    char *xml = slurp("tags-virsh.xml", &n);   /* max-downtime-ms 200 */

    CHECK(mp_hook_prepare(xml, n, NULL, NULL, &pr) == 0);
    CHECK_STR(pr.name, "web-1");
    CHECK_STR(pr.uuid, "6d3b7c1e-2f7a-4c55-9a38-1c0a7f6b2e01");
    CHECK(pr.policy.postcopy == MP_POSTCOPY_ALLOWED);
    CHECK(pr.downtime_limit_ms == 200);
    CHECK_STR(pr.log, "web-1 prepare: postcopy=allowed (tag) "
              "downtime-limit=200");
    /* An unreadable fleet: post-copy forbidden, saying why. */
    CHECK(mp_hook_prepare(xml, n, NULL, "policy directory /x: No such file "
                          "or directory", &pr) == 0);
    CHECK(pr.policy.postcopy == MP_POSTCOPY_FORBIDDEN);
    CHECK_STR(pr.policy.origin[MP_PF_POSTCOPY], "policy unreadable: policy "
              "directory /x: No such file or directory");
    free(xml);
    /* Malformed tags: forbidden. */
    xml = slurp("bad-objective.xml", &n);
    CHECK(mp_hook_prepare(xml, n, NULL, NULL, &pr) == 0);
    CHECK(pr.policy.postcopy == MP_POSTCOPY_FORBIDDEN);
    CHECK(strstr(pr.policy.origin[MP_PF_POSTCOPY], "malformed tags: "));
    free(xml);
    /* No UUID: nothing to prepare. */
    CHECK(mp_hook_prepare("<domain><name>x</name></domain>", 31, NULL, NULL,
                          &pr) == -EBADMSG);
    /* An entity: refused, no policy. */
    xml = slurp("bad-entity.xml", &n);
    CHECK(mp_hook_prepare(xml, n, NULL, NULL, &pr) == -EBADMSG);
    free(xml);
}

/* A marker is honoured only as 'migpolicy migrate' writes it, with a
 * bounded expiry: a hand-made postcopy="no" without expires= let a
 * post-copy-forbidden VM through forever. */
static void test_marker_expiry(void)
{
    static const struct { const char *attrs; mp_marker_state want;
                          const char *why; } t[] = {
        { "strategy='precopy' postcopy='no' expires='1800000100'",
          MP_MARKER_VALID, "marker precopy" },
        { "strategy='precopy' postcopy='no' expires='1800000180'",
          MP_MARKER_VALID, "marker precopy" },
        { "strategy='precopy' postcopy='no'", MP_MARKER_REJECTED,
          "marker rejected: no expiry (expires=)" },
        { "strategy='precopy' postcopy='no' expires='soon'",
          MP_MARKER_REJECTED, "marker rejected: expires is not a decimal "
          "Unix time" },
        { "strategy='precopy' postcopy='no' expires='0x6b49d200'",
          MP_MARKER_REJECTED, "marker rejected: expires is not a decimal "
          "Unix time" },
        { "strategy='precopy' postcopy='no' expires='-1'",
          MP_MARKER_REJECTED, "marker rejected: expires is not a decimal "
          "Unix time" },
        { "strategy='precopy' postcopy='no' expires='1800000181'",
          MP_MARKER_REJECTED, "marker rejected: expires 181 s from now, "
          "more than 180" },
        { "strategy='precopy' postcopy='no' expires='99999999999999999999'",
          MP_MARKER_REJECTED, "marker rejected: expires is not a decimal "
          "Unix time" },
        { "strategy='precopy' postcopy='no' expires='1799999999'",
          MP_MARKER_EXPIRED, "marker expired 1 s ago" },
        { "strategy='precopy' postcopy='maybe' expires='1800000100'",
          MP_MARKER_REJECTED, "marker rejected: postcopy is not yes or no" },
        { "strategy='postcopy' postcopy='no' expires='1800000100'",
          MP_MARKER_REJECTED, "marker rejected: postcopy=no contradicts "
          "strategy postcopy" },
        { "strategy='teleport' postcopy='no' expires='1800000100'",
          MP_MARKER_REJECTED, "marker rejected: unknown strategy" },
        { "postcopy='no' expires='1800000100'", MP_MARKER_REJECTED,
          "marker rejected: no strategy" },
        { "strategy='precopy' postcopy='no' expires='1800000100' "
          "traffic-mib='1e3'", MP_MARKER_REJECTED,
          "marker rejected: traffic-mib is not a decimal number" },
        { "strategy='precopy' postcopy='no' expires='1800000100' "
          "colour='red'", MP_MARKER_REJECTED,
          "marker rejected: unknown attribute colour" },
    };
    mp_hook_options opt = { .now_unix_s = 1800000000,
                            .emulator_enforces = probe_no };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char xml[1024], msg[MP_POLICY_MSG_MAX], why[160];
        mp_domain d;
        mp_hook_result r;

        snprintf(xml, sizeof(xml), "<domain><name>db-1</name><metadata>"
                 "<mp:policy xmlns:mp='" MP_POLICY_NS "'><postcopy>forbidden"
                 "</postcopy></mp:policy><mpd:decision xmlns:mpd='"
                 MP_DECISION_NS "' %s/></metadata></domain>", t[i].attrs);
        CHECK(mp_domain_parse_xml(xml, strlen(xml), &d, msg,
                                  sizeof(msg)) == 0);
        if (mp_marker_check(&d.marker, opt.now_unix_s, why, sizeof(why)) !=
            t[i].want) {
            fprintf(stderr, "marker %s: state %d, want %d (%s)\n",
                    t[i].attrs, (int)mp_marker_check(&d.marker,
                    opt.now_unix_s, NULL, 0), (int)t[i].want, why);
            failures++;
        }
        CHECK_STR(why, t[i].why);
        /* Only a valid marker lets the forbidding VM's pre-copy through. */
        CHECK(mp_hook_migrate_begin(xml, strlen(xml), NULL, &opt, &r) == 0);
        CHECK(r.veto == (t[i].want != MP_MARKER_VALID));
    }
}

/* Limits end to end: the marker carries the source's prediction, the
 * destination's (stricter) policy vetoes it, the traffic check of a
 * running migration. */
static void test_limits(void)
{
    mp_hook_options opt = { .now_unix_s = 1800000000,
                            .emulator_enforces = probe_no };
    mp_hook_result r;
    mp_sim_result pred;
    mp_policy p;
    mp_domain d;
    char msg[MP_POLICY_MSG_MAX], *xml, *marked = NULL, *out;
    size_t n;
    const char *lim[][2] = { { "max-traffic-mib", "100" } };

    /* The marker: prediction attributes written and read back. */
    memset(&pred, 0, sizeof(pred));
    pred.downtime_ms = 42.5;
    pred.bytes_total = 300u << 20;
    xml = slurp("tags-virsh.xml", &n);     /* max-downtime-ms 200 */
    CHECK(mp_marker_add_xml(xml, n, MP_STRATEGY_PRECOPY, &pred, 1800000100,
                            &marked) == 0);
    CHECK(marked && mp_domain_parse_xml(marked, strlen(marked), &d, msg,
                                        sizeof(msg)) == 0);
    CHECK(d.marker.downtime_ms == 42.5 && d.marker.traffic_mib == 300);

    /* Accepted: 42.5 ms fits 200 ms. */
    CHECK(mp_hook_migrate_begin(marked, strlen(marked), NULL, &opt, &r) == 0);
    CHECK(!r.veto);

    /* This host's fleet is stricter on traffic: veto naming both. */
    {
        char dir[] = "/tmp/test-limits.XXXXXX", path[64];
        mp_fleet *f = mp_fleet_new();
        if (!mkdtemp(dir)) {
            exit(1);
        }
        snprintf(path, sizeof(path), "%s/fleet.conf", dir);
        write_file(path, "[*]\nmax-traffic-mib = 256\n");
        CHECK(mp_fleet_load_file(f, path, msg, sizeof(msg)) == 0);
        CHECK(mp_hook_migrate_begin(marked, strlen(marked), f, &opt,
                                    &r) == 0);
        CHECK(r.veto);
        CHECK(strstr(r.reason, "migpolicy: refusing migration of 'web-1': "
                     "strategy precopy is predicted to send 300 MiB, over "
                     "max-traffic-mib 256 (") &&
              strstr(r.reason, "fleet.conf:1 [*])"));
        CHECK(strstr(r.log, "web-1 veto: strategy precopy"));
        mp_fleet_free(f);
        remove(path);
        remove(dir);
    }
    /* Predicted downtime over the tag: veto; with tenant-veto = no the
     * tenant's own limit only warns. */
    pred.downtime_ms = 250;
    CHECK(mp_marker_add_xml(xml, n, MP_STRATEGY_PRECOPY, &pred, 1800000100,
                            &out) == 0);
    CHECK(out && mp_hook_migrate_begin(out, strlen(out), NULL, &opt,
                                       &r) == 0);
    CHECK(r.veto && strstr(r.reason, "predicted to pause the guest 250 ms, "
                           "over max-downtime-ms 200 (tag)"));
    {
        char path[64];
        mp_fleet *f = fleet_text("[*]\ntenant-veto = no\n", path,
                                 sizeof(path));
        CHECK(mp_hook_migrate_begin(out, strlen(out), f, &opt, &r) == 0);
        CHECK(!r.veto && strstr(r.log, "over max-downtime-ms 200 (tag); not "
                                "vetoed: the tenant's limit, tenant-veto = "
                                "no"));
        mp_fleet_free(f);
        remove(path);
    }
    free(out);
    free(marked);
    free(xml);

    /* The running migration's traffic. */
    p = policy_of(lim, 1);
    CHECK(mp_policy_traffic_exceeded(&p, 100u << 20, msg, sizeof(msg)) == 0);
    CHECK(mp_policy_traffic_exceeded(&p, (100u << 20) + 4096, msg,
                                     sizeof(msg)) == 1);
    CHECK_STR(msg, "sent 100.0 MiB > max-traffic-mib 100 (tag)");
    p = policy_of(NULL, 0);
    CHECK(mp_policy_traffic_exceeded(&p, UINT64_MAX, NULL, 0) == 0);
}

/* Two dirty-rate windows: a saturated set gives its size and the short
 * window's rate; a slow writer the long window's. */
static void test_dirty(void)
{
    double hot, rate;
    const double mib = 1048576.0;

    /* 64 MiB rewritten flat out: both windows saw the whole set. */
    CHECK(mp_dirty_estimate(64, 1, 640, 0.1, &hot, &rate) == 1);
    CHECK(hot == 64 * mib && rate == 640 * mib);
    /* 10 MiB/s into a large set: the short window saw a tenth. */
    CHECK(mp_dirty_estimate(10, 1, 10, 0.1, &hot, &rate) == 0);
    CHECK(hot == 10 * mib && rate == 10 * mib);
    /* No short window (stock QEMU before 8.2): the long one alone. */
    CHECK(mp_dirty_estimate(64, 1, -1, 0, &hot, &rate) == 0);
    CHECK(hot == 64 * mib && rate == 64 * mib);
    /* An idle guest: nothing seen in the short window. */
    CHECK(mp_dirty_estimate(1, 1, 0, 0.1, &hot, &rate) == 0);
    CHECK(rate == 1 * mib);
    CHECK(mp_dirty_estimate(-1, 1, 0, 0.1, &hot, &rate) == -EINVAL);
    CHECK(mp_dirty_estimate(1, 0, 0, 0.1, &hot, &rate) == -EINVAL);
}

static void test_dirty_motion(void)
{
    double move;
    const double mib = 1048576.0;

    /* A 64 MiB window sweeping at 160 MiB/s: 224 MiB seen in 1 s, 544
     * MiB in 3 s. */
    CHECK(mp_dirty_motion(224, 1, 544.0 / 3, 3, &move) == 1);
    CHECK(fabs(move - 160 * mib) < 1);
    /* A set that stays: the same 64 MiB in both (rates 64 and 21.3). */
    CHECK(mp_dirty_motion(64, 1, 64.0 / 3, 3, &move) == 0 && move == 0);
    /* Within sampling noise (a fifth more): still a set that stays. */
    CHECK(mp_dirty_motion(64, 1, 76.8 / 3, 3, &move) == 0 && move == 0);
    /* A 26 MiB set seen as 42 MiB in 3 s: 13 against 21 samples of 2 MiB,
     * inside twice their spread (measured so on a set that stays). */
    CHECK(mp_dirty_motion(26, 1, 42.0 / 3, 3, &move) == 0 && move == 0);
    /* A 128 MiB window sliding at 48 MiB/s: 176 MiB in 1 s, 272 in 3 s. */
    CHECK(mp_dirty_motion(176, 1, 272.0 / 3, 3, &move) == 1);
    CHECK(fabs(move - 48 * mib) < 1);
    /* Nothing written at all. */
    CHECK(mp_dirty_motion(0, 1, 0, 3, &move) == 0 && move == 0);
    CHECK(mp_dirty_motion(64, 1, 20, 1, &move) == -EINVAL);
    CHECK(mp_dirty_motion(-1, 1, 20, 3, &move) == -EINVAL);
    CHECK(mp_dirty_motion(64, 0, 20, 3, &move) == -EINVAL);
}

/* mp_conf_parse(): the events in file order, and its messages. */
typedef struct conf_log {
    char text[1024];
    const char *fail_key;   /* fail on this key, or on the end of "[fail]" */
} conf_log;

static int conf_log_item(const mp_conf_item *it, void *opaque, char *msg,
                         size_t len)
{
    conf_log *l = opaque;
    size_t n = strlen(l->text);

    snprintf(l->text + n, sizeof(l->text) - n, "%u:%s%s%s%s%s%s;", it->line,
             it->end ? "end " : "", it->section ? it->section : "-",
             it->key ? " " : "", it->key ? it->key : "",
             it->value ? "=" : "", it->value ? it->value : "");
    if (l->fail_key &&
        ((it->key && !strcmp(it->key, l->fail_key)) ||
         (it->end && !strcmp(it->section, l->fail_key)))) {
        snprintf(msg, len, "no");
        return -EINVAL;
    }
    return 0;
}

static void test_conf(void)
{
    static const char text[] =
        "# comment\r\n ; another\n\na = b c \n[ name=x ]\nk-1=v\n[*]\n";
    static const struct { const char *text; unsigned flags; const char *msg; }
    bad[] = {
        { "[*]\n", 0, "f:1: this file has no [sections]" },
        { "[*\n", MP_CONF_SECTIONS, "f:1: malformed section header "
          "(expected [SELECTOR] alone on its line)" },
        { "[a]b]\n", MP_CONF_SECTIONS, "f:1: malformed section header "
          "(expected [SELECTOR] alone on its line)" },
        { "a\n", 0, "f:1: expected 'key = value'" },
        { "A = 1\n", 0, "f:1: 'A' is not a key (a-z, 0-9, '-')" },
        { " = 1\n", 0, "f:1: '' is not a key (a-z, 0-9, '-')" },
        { "\na =  \n", 0, "f:2: a: empty value" },
        { "a = \x01\n", 0, "f:1: control character 0x01" },
        { "bad = 1\n", 0, "f:1: no" },
        { "x = 1\n[fail]\ny = 2\n[*]\n", MP_CONF_SECTIONS,
          "f:2 [fail]: no" },
    };
    char msg[256], longline[MP_CONF_LINE_MAX + 8];
    conf_log l;

    memset(&l, 0, sizeof(l));
    CHECK(mp_conf_parse("f", text, strlen(text), MP_CONF_SECTIONS,
                        conf_log_item, &l, msg, sizeof(msg)) == 0);
    CHECK_STR(l.text, "4:- a=b c;5:name=x;6:name=x k-1=v;5:end name=x;"
              "7:*;7:end *;");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&l, 0, sizeof(l));
        l.fail_key = strstr(bad[i].text, "fail") ? "fail" : "bad";
        msg[0] = 0;
        CHECK(mp_conf_parse("f", bad[i].text, strlen(bad[i].text),
                            bad[i].flags, conf_log_item, &l, msg,
                            sizeof(msg)) == -EINVAL);
        CHECK_STR(msg, bad[i].msg);
    }
    memset(longline, 'a', sizeof(longline));
    memcpy(longline, "a = ", 4);
    longline[MP_CONF_LINE_MAX + 1] = '\n';
    memset(&l, 0, sizeof(l));
    CHECK(mp_conf_parse("f", longline, MP_CONF_LINE_MAX + 2, 0,
                        conf_log_item, &l, msg, sizeof(msg)) == -EINVAL);
    CHECK_STR(msg, "f:1: line longer than 1024 bytes");
    CHECK(mp_conf_parse("f", longline, MP_CONF_LINE_MAX, 0, conf_log_item,
                        &l, msg, sizeof(msg)) == 0);
}

int main(void)
{
    test_tags();
    test_bad_tags();
    test_numbers();
    test_escape();
    test_xml_bounds();
    test_precedence();
    test_bad_fleet();
    test_conf();
    test_fleet_dir();
    test_enforce();
    test_fleet_keys();
    test_tenant_veto();
    test_chooser();
    test_hook();
    test_prepare();
    test_marker_expiry();
    test_limits();
    test_dirty();
    test_dirty_motion();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("policy: all checks passed\n");
    return 0;
}
