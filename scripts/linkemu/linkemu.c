/*
 * linkemu: a userspace TCP relay that emulates a network link.
 *
 * There is no sch_netem on the test machines, so the migration harness puts
 * this relay between the source and the destination QEMU.  Every byte read
 * from one side is held for a one-way delay before it is written to the
 * other side.  Both directions are modelled as one shared link each
 * (all connections of all routes share them, as on a real wire), so the
 * post-copy preempt channel queues behind the bulk stream exactly as it
 * would behind a NIC queue.
 *
 * Link model, per direction:
 *   - optional serialisation at --rate-mbps (a chunk occupies the wire for
 *     len * 8 / rate seconds, chunks leave in arrival order);
 *   - then propagation for --delay-ms;
 *   - bytes in flight (read from the sender, not yet handed to the receiver)
 *     are bounded: rate * delay + --queue-bytes when a rate is set, otherwise
 *     --window-bytes.  When the bound is reached the relay stops reading, so
 *     the sender's TCP stream backs up instead of the relay buffering without
 *     limit (an unbounded relay keeps bulk transfer bandwidth-bound and hides
 *     the RTT).
 *
 * Single-threaded: epoll (level-triggered) + a timerfd armed at the next
 * delivery time + a signalfd for SIGTERM/SIGINT.
 *
 * Exit codes: 0 success (terminated by signal), 1 runtime failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LE_MAX_ROUTES 8
/* 64 KiB: one read per readiness event; at 1 Gb/s this is 0.5 ms of wire time. */
#define LE_READ_CHUNK_BYTES (64 * 1024)
/* Default serialisation queue when a rate is set: 1 MiB is ~8 ms at 1 Gb/s. */
#define LE_DEFAULT_QUEUE_BYTES (1024 * 1024)
/* Default in-flight window without a rate: 8 MiB, i.e. 335 MB/s at 25 ms. */
#define LE_DEFAULT_WINDOW_BYTES (8 * 1024 * 1024)
/* Bytes delivered to a receiver that has not read them yet, per endpoint. */
#define LE_OUTQ_LIMIT_BYTES (4 * 1024 * 1024)

enum le_dir { LE_UP = 0, LE_DOWN = 1 }; /* UP: accepted side -> upstream */

struct le_pair;

struct le_chunk {
    struct le_chunk *next;
    struct le_pair *pair;
    int to;                 /* endpoint index (0 client, 1 upstream) to write */
    uint64_t deliver_ns;
    uint32_t len, off;
    bool fin;
    char data[];
};

struct le_endpoint {
    struct le_pair *pair;   /* owner (the endpoint is embedded in it) */
    int idx;                /* 0: accepted client, 1: upstream */
    int fd;
    uint32_t events;        /* current epoll interest */
    bool registered;        /* fd is in the epoll set (events != 0) */
    bool connecting;
    bool read_eof;          /* peer sent FIN, it is queued on the link */
    bool fin_sent;          /* shutdown(SHUT_WR) done on this fd */
    struct le_chunk *outq_head, *outq_tail;
    uint64_t outq_bytes;
};

struct le_pair {
    struct le_pair *next;
    int id;
    struct le_endpoint ep[2];
    bool dead;
};

struct le_link {
    struct le_chunk *head, *tail;   /* FIFO ordered by deliver_ns */
    uint64_t inflight_bytes;
    uint64_t limit_bytes;
    uint64_t free_ns;               /* when the serialiser becomes idle */
    uint64_t total_bytes;
};

struct le_route {
    struct sockaddr_in listen_addr, connect_addr;
    int listen_fd;
};

/* epoll tags: small integers for the fixed fds, pointers for endpoints */
#define LE_TAG_TIMER ((uint64_t)1)
#define LE_TAG_SIGNAL ((uint64_t)2)
#define LE_TAG_LISTEN_BASE ((uint64_t)16)

static struct {
    uint64_t delay_ns;
    double rate_bytes_per_s;        /* 0: no serialisation */
    uint64_t queue_bytes, window_bytes;
    bool verbose;
    struct le_route routes[LE_MAX_ROUTES];
    int n_routes;
    int epfd, tfd, sfd;
    struct le_link link[2];
    struct le_pair *pairs;
    int next_id;
    uint64_t armed_ns;
} le;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    va_list ap;
    fputs("linkemu: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: linkemu --listen HOST:PORT --connect HOST:PORT [options]\n"
        "\n"
        "TCP relay emulating a link: each direction is delayed by a one-way\n"
        "delay, optionally serialised at a rate, with bounded bytes in flight.\n"
        "All connections (and all routes) share one link per direction.\n"
        "\n"
        "  --listen HOST:PORT     accept here (repeatable; the i-th --listen\n"
        "                         relays to the i-th --connect). IPv4 only.\n"
        "  --connect HOST:PORT    upstream to connect to for each accepted conn\n"
        "  --delay-ms D           one-way delay per direction, ms (float; RTT = 2D)\n"
        "  --rate-mbps R          serialise each direction at R Mbit/s (1e6 bit/s);\n"
        "                         default: no rate limit\n"
        "  --queue-bytes N        with --rate-mbps: queue in front of the wire;\n"
        "                         in-flight bound = R*D + N (default %d)\n"
        "  --window-bytes N       in-flight bound per direction, overrides the\n"
        "                         computed one (default without rate: %d)\n"
        "  --verbose              log connections and byte counts to stderr\n"
        "  --help                 this text\n"
        "\n"
        "Prints 'linkemu: ready ...' on stdout once listening. SIGTERM/SIGINT\n"
        "exit cleanly with status 0. Exit 1 on runtime errors, 2 on bad usage.\n"
        "Sizes accept K/M/G suffixes (powers of 1024).\n",
        LE_DEFAULT_QUEUE_BYTES, LE_DEFAULT_WINDOW_BYTES);
}

static bool parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s) {
        return false;
    }
    memcpy(host, s, colon - s);
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        return false;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') {
        return false;
    }
    switch (*end) {
    case 0: break;
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: return false;
    }
    if (*end) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0) {
        return false;
    }
    *out = v;
    return true;
}

/*
 * An endpoint with no interest is removed from the epoll set altogether:
 * EPOLLHUP/EPOLLERR are reported whatever the mask, and a hung-up socket we
 * cannot read yet (link full) would otherwise wake the loop continuously.
 */
static void ep_set_events(struct le_endpoint *ep, uint32_t events)
{
    if (ep->fd < 0 || (ep->registered && ep->events == events)) {
        return;
    }
    if (!ep->registered && events == 0) {
        return;
    }
    struct epoll_event ev = { .events = events, .data.ptr = ep };
    int op = events == 0 ? EPOLL_CTL_DEL
             : ep->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(le.epfd, op, ep->fd, &ev) < 0) {
        logmsg("epoll_ctl: %s", strerror(errno));
        return;
    }
    ep->registered = events != 0;
    ep->events = events;
}

static void free_queue(struct le_chunk *c)
{
    while (c) {
        struct le_chunk *n = c->next;
        free(c);
        c = n;
    }
}

static void pair_close(struct le_pair *p, const char *why)
{
    if (p->dead) {
        return;
    }
    if (le.verbose) {
        logmsg("conn %d closed (%s)", p->id, why);
    }
    p->dead = true;
    for (int i = 0; i < 2; i++) {
        struct le_endpoint *ep = &p->ep[i];
        if (ep->fd >= 0) {
            if (ep->registered) {
                epoll_ctl(le.epfd, EPOLL_CTL_DEL, ep->fd, NULL);
            }
            close(ep->fd);
            ep->fd = -1;
        }
        free_queue(ep->outq_head);
        ep->outq_head = ep->outq_tail = NULL;
        ep->outq_bytes = 0;
    }
    /* drop this pair's chunks still on the wire */
    for (int d = 0; d < 2; d++) {
        struct le_link *l = &le.link[d];
        struct le_chunk **pp = &l->head, *last = NULL;
        while (*pp) {
            struct le_chunk *c = *pp;
            if (c->pair == p) {
                *pp = c->next;
                l->inflight_bytes -= c->len;
                free(c);
            } else {
                last = c;
                pp = &c->next;
            }
        }
        l->tail = last;
    }
}

/* Reap dead pairs (outside any iteration that may still hold pointers). */
static void reap_pairs(void)
{
    struct le_pair **pp = &le.pairs;
    while (*pp) {
        struct le_pair *p = *pp;
        if (p->dead) {
            *pp = p->next;
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

static void maybe_finish(struct le_pair *p)
{
    if (p->ep[0].read_eof && p->ep[1].read_eof &&
        p->ep[0].fin_sent && p->ep[1].fin_sent) {
        pair_close(p, "both directions finished");
    }
}

/* Write as much of ep's out queue as the socket takes. */
static void ep_flush(struct le_pair *p, struct le_endpoint *ep)
{
    while (!p->dead && !ep->connecting && ep->outq_head) {
        struct le_chunk *c = ep->outq_head;
        if (c->fin) {
            shutdown(ep->fd, SHUT_WR);
            ep->fin_sent = true;
        } else {
            ssize_t n = send(ep->fd, c->data + c->off, c->len - c->off,
                             MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    return;
                }
                pair_close(p, strerror(errno));
                return;
            }
            c->off += (uint32_t)n;
            ep->outq_bytes -= (uint64_t)n;
            if (c->off < c->len) {
                return;
            }
        }
        ep->outq_head = c->next;
        if (!ep->outq_head) {
            ep->outq_tail = NULL;
        }
        free(c);
    }
    if (!p->dead) {
        maybe_finish(p);
    }
}

/* Move chunks whose delivery time has come to their receiver's out queue. */
static void deliver_due(uint64_t now)
{
    for (int d = 0; d < 2; d++) {
        struct le_link *l = &le.link[d];
        while (l->head && l->head->deliver_ns <= now) {
            struct le_chunk *c = l->head;
            l->head = c->next;
            if (!l->head) {
                l->tail = NULL;
            }
            l->inflight_bytes -= c->len;
            c->next = NULL;
            struct le_endpoint *ep = &c->pair->ep[c->to];
            ep->outq_bytes += c->len;
            if (ep->outq_tail) {
                ep->outq_tail->next = c;
            } else {
                ep->outq_head = c;
            }
            ep->outq_tail = c;
            ep_flush(c->pair, ep);
        }
    }
}

static void link_enqueue(struct le_pair *p, int from, const char *buf,
                         uint32_t len, bool fin, uint64_t now)
{
    struct le_link *l = &le.link[from == 0 ? LE_UP : LE_DOWN];
    struct le_chunk *c = malloc(sizeof(*c) + len);
    if (!c) {
        pair_close(p, "out of memory");
        return;
    }
    c->next = NULL;
    c->pair = p;
    c->to = !from;
    c->len = len;
    c->off = 0;
    c->fin = fin;
    memcpy(c->data, buf, len);
    uint64_t depart = now;
    if (le.rate_bytes_per_s > 0) {
        uint64_t start = l->free_ns > now ? l->free_ns : now;
        depart = start + (uint64_t)((double)len * 1e9 / le.rate_bytes_per_s);
        l->free_ns = depart;
    }
    c->deliver_ns = depart + le.delay_ns;
    /* a zero-length FIN may not overtake data: keep the FIFO monotonic */
    if (l->tail && c->deliver_ns < l->tail->deliver_ns) {
        c->deliver_ns = l->tail->deliver_ns;
    }
    if (l->tail) {
        l->tail->next = c;
    } else {
        l->head = c;
    }
    l->tail = c;
    l->inflight_bytes += len;
    l->total_bytes += len;
}

static void ep_read(struct le_pair *p, int from, uint64_t now)
{
    static char buf[LE_READ_CHUNK_BYTES];
    struct le_endpoint *ep = &p->ep[from];
    struct le_link *l = &le.link[from == 0 ? LE_UP : LE_DOWN];
    if (l->inflight_bytes >= l->limit_bytes) {
        return;
    }
    uint64_t room = l->limit_bytes - l->inflight_bytes;
    size_t want = room < sizeof(buf) ? (size_t)room : sizeof(buf);
    ssize_t n = recv(ep->fd, buf, want, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            pair_close(p, strerror(errno));
        }
        return;
    }
    if (n == 0) {
        ep->read_eof = true;
        link_enqueue(p, from, buf, 0, true, now);
        return;
    }
    link_enqueue(p, from, buf, (uint32_t)n, false, now);
}

/* Recompute the epoll interest of every endpoint from the link state. */
static void update_interest(void)
{
    for (struct le_pair *p = le.pairs; p; p = p->next) {
        if (p->dead) {
            continue;
        }
        for (int i = 0; i < 2; i++) {
            struct le_endpoint *ep = &p->ep[i];
            struct le_endpoint *peer = &p->ep[!i];
            struct le_link *l = &le.link[i == 0 ? LE_UP : LE_DOWN];
            uint32_t ev = 0;
            if (ep->connecting) {
                ev = EPOLLOUT;
            } else {
                if (!ep->read_eof && l->inflight_bytes < l->limit_bytes &&
                    peer->outq_bytes < LE_OUTQ_LIMIT_BYTES) {
                    ev |= EPOLLIN;
                }
                if (ep->outq_head) {
                    ev |= EPOLLOUT;
                }
            }
            ep_set_events(ep, ev);
        }
    }
}

static void arm_timer(void)
{
    uint64_t next = UINT64_MAX;
    for (int d = 0; d < 2; d++) {
        if (le.link[d].head && le.link[d].head->deliver_ns < next) {
            next = le.link[d].head->deliver_ns;
        }
    }
    if (next == le.armed_ns) {
        return;
    }
    struct itimerspec its = { 0 };
    if (next != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(next / 1000000000ull);
        its.it_value.tv_nsec = (long)(next % 1000000000ull);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
            its.it_value.tv_nsec = 1;
        }
    }
    timerfd_settime(le.tfd, TFD_TIMER_ABSTIME, &its, NULL);
    le.armed_ns = next;
}

static int set_nonblock_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static void accept_conn(struct le_route *r)
{
    for (;;) {
        int cfd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                logmsg("accept: %s", strerror(errno));
            }
            return;
        }
        set_nonblock_nodelay(cfd);
        int ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ufd < 0) {
            logmsg("socket: %s", strerror(errno));
            close(cfd);
            continue;
        }
        set_nonblock_nodelay(ufd);
        bool connecting = false;
        if (connect(ufd, (struct sockaddr *)&r->connect_addr,
                    sizeof(r->connect_addr)) < 0) {
            if (errno != EINPROGRESS) {
                char a[32];
                inet_ntop(AF_INET, &r->connect_addr.sin_addr, a, sizeof(a));
                logmsg("connect %s:%d: %s", a, ntohs(r->connect_addr.sin_port),
                       strerror(errno));
                close(ufd);
                close(cfd);
                continue;
            }
            connecting = true;
        }
        struct le_pair *p = calloc(1, sizeof(*p));
        if (!p) {
            close(ufd);
            close(cfd);
            continue;
        }
        p->id = le.next_id++;
        p->ep[0].fd = cfd;
        p->ep[1].fd = ufd;
        p->ep[1].connecting = connecting;
        for (int i = 0; i < 2; i++) {
            p->ep[i].pair = p;
            p->ep[i].idx = i;     /* registered by update_interest() */
        }
        p->next = le.pairs;
        le.pairs = p;
        if (le.verbose) {
            char a[32];
            inet_ntop(AF_INET, &r->connect_addr.sin_addr, a, sizeof(a));
            logmsg("conn %d accepted on route %d -> %s:%d", p->id,
                   (int)(r - le.routes), a, ntohs(r->connect_addr.sin_port));
        }
    }
}

static int setup(void)
{
    le.epfd = epoll_create1(EPOLL_CLOEXEC);
    le.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    le.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (le.epfd < 0 || le.tfd < 0 || le.sfd < 0) {
        logmsg("setup: %s", strerror(errno));
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LE_TAG_TIMER };
    epoll_ctl(le.epfd, EPOLL_CTL_ADD, le.tfd, &ev);
    ev.data.u64 = LE_TAG_SIGNAL;
    epoll_ctl(le.epfd, EPOLL_CTL_ADD, le.sfd, &ev);
    le.armed_ns = UINT64_MAX;

    for (int i = 0; i < le.n_routes; i++) {
        struct le_route *r = &le.routes[i];
        r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(r->listen_fd, (struct sockaddr *)&r->listen_addr,
                 sizeof(r->listen_addr)) < 0 || listen(r->listen_fd, 16) < 0) {
            char a[32];
            inet_ntop(AF_INET, &r->listen_addr.sin_addr, a, sizeof(a));
            logmsg("cannot listen on %s:%d: %s", a, ntohs(r->listen_addr.sin_port),
                   strerror(errno));
            return -1;
        }
        ev.data.u64 = LE_TAG_LISTEN_BASE + (uint64_t)i;
        epoll_ctl(le.epfd, EPOLL_CTL_ADD, r->listen_fd, &ev);
    }
    return 0;
}

static int run(void)
{
    struct epoll_event evs[64];
    for (;;) {
        deliver_due(now_ns());
        reap_pairs();
        update_interest();
        arm_timer();
        int n = epoll_wait(le.epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            logmsg("epoll_wait: %s", strerror(errno));
            return 1;
        }
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == LE_TAG_TIMER) {
                uint64_t exp;
                if (read(le.tfd, &exp, sizeof(exp)) < 0) {
                    /* EAGAIN: spurious */
                }
                le.armed_ns = UINT64_MAX;
                continue;
            }
            if (tag == LE_TAG_SIGNAL) {
                struct signalfd_siginfo si;
                if (read(le.sfd, &si, sizeof(si)) == sizeof(si) && le.verbose) {
                    logmsg("signal %u, exiting", si.ssi_signo);
                }
                return 0;
            }
            if (tag >= LE_TAG_LISTEN_BASE &&
                tag < LE_TAG_LISTEN_BASE + (uint64_t)le.n_routes) {
                accept_conn(&le.routes[tag - LE_TAG_LISTEN_BASE]);
                continue;
            }
            struct le_endpoint *ep = evs[i].data.ptr;
            struct le_pair *p = ep->pair;
            int idx = ep->idx;
            if (p->dead) {
                continue;
            }
            if (ep->connecting) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    int err = 0;
                    socklen_t sl = sizeof(err);
                    getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
                    if (err) {
                        logmsg("upstream connect failed: %s", strerror(err));
                        pair_close(p, "connect failed");
                        continue;
                    }
                    ep->connecting = false;
                    ep_flush(p, ep);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                ep_flush(p, ep);
            }
            if (!p->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                if (ep->events & EPOLLIN) {
                    ep_read(p, idx, now);
                } else if (evs[i].events & EPOLLERR) {
                    pair_close(p, "socket error");
                }
            }
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "connect", required_argument, NULL, 'c' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "rate-mbps", required_argument, NULL, 'r' },
        { "queue-bytes", required_argument, NULL, 'q' },
        { "window-bytes", required_argument, NULL, 'w' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { 0 }
    };
    int n_listen = 0, n_connect = 0;
    double delay_ms = 0, rate_mbps = 0;
    bool have_queue = false, have_window = false;
    le.queue_bytes = LE_DEFAULT_QUEUE_BYTES;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
        case 'c': {
            int *cnt = o == 'l' ? &n_listen : &n_connect;
            if (*cnt >= LE_MAX_ROUTES) {
                logmsg("at most %d routes", LE_MAX_ROUTES);
                return 2;
            }
            struct sockaddr_in *sa = o == 'l' ? &le.routes[*cnt].listen_addr
                                              : &le.routes[*cnt].connect_addr;
            if (!parse_addr(optarg, sa)) {
                logmsg("bad address '%s' (want IPv4 HOST:PORT)", optarg);
                return 2;
            }
            (*cnt)++;
            break;
        }
        case 'd':
            if (!parse_double(optarg, &delay_ms) || delay_ms > 60000) {
                logmsg("bad --delay-ms '%s' (0..60000)", optarg);
                return 2;
            }
            break;
        case 'r':
            if (!parse_double(optarg, &rate_mbps) || rate_mbps == 0) {
                logmsg("bad --rate-mbps '%s' (positive Mbit/s)", optarg);
                return 2;
            }
            break;
        case 'q':
            if (!parse_size(optarg, &le.queue_bytes)) {
                logmsg("bad --queue-bytes '%s'", optarg);
                return 2;
            }
            have_queue = true;
            break;
        case 'w':
            if (!parse_size(optarg, &le.window_bytes) || le.window_bytes == 0) {
                logmsg("bad --window-bytes '%s'", optarg);
                return 2;
            }
            have_window = true;
            break;
        case 'v':
            le.verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        logmsg("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (n_listen == 0 || n_listen != n_connect) {
        logmsg("need matching --listen and --connect (got %d and %d); see --help",
               n_listen, n_connect);
        return 2;
    }
    if (have_queue && rate_mbps == 0 && !have_window) {
        /* without a rate there is no serialisation queue: treat it as window */
        le.window_bytes = le.queue_bytes;
        have_window = true;
    }
    le.n_routes = n_listen;
    le.delay_ns = (uint64_t)(delay_ms * 1e6);
    le.rate_bytes_per_s = rate_mbps * 1e6 / 8.0;
    uint64_t limit;
    if (have_window) {
        limit = le.window_bytes;
    } else if (rate_mbps > 0) {
        limit = (uint64_t)(le.rate_bytes_per_s * delay_ms / 1000.0) + le.queue_bytes;
    } else {
        limit = LE_DEFAULT_WINDOW_BYTES;
    }
    if (limit == 0) {
        limit = 1;
    }
    le.link[LE_UP].limit_bytes = le.link[LE_DOWN].limit_bytes = limit;

    if (setup() < 0) {
        return 1;
    }
    printf("linkemu: ready routes=%d delay_ms=%.3f rate_mbps=%.3f inflight_limit_bytes=%llu\n",
           le.n_routes, delay_ms, rate_mbps, (unsigned long long)limit);
    fflush(stdout);
    int rc = run();
    if (le.verbose) {
        logmsg("exit: %d connections, bytes up=%llu down=%llu", le.next_id,
               (unsigned long long)le.link[LE_UP].total_bytes,
               (unsigned long long)le.link[LE_DOWN].total_bytes);
    }
    for (struct le_pair *p = le.pairs; p; p = p->next) {
        pair_close(p, "exit");
    }
    reap_pairs();
    return rc;
}
