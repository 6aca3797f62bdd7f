/*
 * loadgen: the load-generating WebSocket client of the tickgate benchmarks.
 *
 * One thread, one epoll loop, many connections. Each connection does the HTTP upgrade, sends its
 * subscription text(s), then parses every server frame. Payloads carry their creation time in
 * nanoseconds since the epoch under a JSON key (default "22"), so latency is "tick created" to
 * "bytes read by this process" (both on CLOCK_REALTIME of the same machine). An optional per-conid
 * sequence key (default "23") checks for lost and reordered updates per connection and conid.
 *
 * Modes:
 *   ws    tickgate's seed dialect (or anything sending the same JSON frames): text subscriptions.
 *   nats  NATS over WebSocket: CONNECT/SUB/PING, MSG parsing. With --pub HOST:PORT the loadgen
 *         also publishes the firehose itself over a plain NATS TCP connection, keeping at most
 *         --pub-window messages in flight to the slowest subscriber (the publisher is pumped
 *         every few socket events, so the server never waits long for input).
 *
 * --parse-every N: only every Nth message of a connection is parsed (error, latency, sequence);
 * the others are only framed and counted. Used where the server's ceiling is wanted and the
 * client's per-message parsing would otherwise be the limit; sequence checks are off then.
 * --pub-rate R: the publisher sends R messages per second (paced by the clock, batches of at most
 * --pub-batch) instead of keeping --pub-window in flight: the latency-bound search (issue 16).
 * --sources N: connection i binds its local end to 127.0.0.(2 + i mod N) before connecting, so more
 * connections than one address has ephemeral ports (~28k) can be opened (100,000 idle sockets).
 * --stall N stops reading N connections as soon as they are subscribed; --stall-rcvbuf B gives
 * them a B-byte SO_RCVBUF (set before connect), so the backlog cannot hide in this side's kernel
 * buffer. Their local ports are reported ("stalled_ports") so the server side can be matched.
 *
 * --wait-go 1: after "phase connected", wait for a line on stdin before the warm-up starts.
 * --slice S: latency and message counts per S seconds from the feed's start ("slices").
 *
 * Phases: connect all (at most --inflight handshakes at once) -> warmup -> measure -> report.
 * Phase changes are printed on stdout ("phase connected|measure|end") so the driver can sample
 * the server's /proc at the same moments; the final line is one JSON object.
 *
 * Build: gcc -O2 -o loadgen loadgen.c -lssl -lcrypto   (or -DNO_TLS without OpenSSL)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef NO_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define RBUF_SIZE (1 << 20)
#define MAX_SUBS 64
#define HIST_SUB 64
#define HIST_BUCKETS (48 * HIST_SUB)

enum { S_CONNECTING, S_TLS, S_UPGRADING, S_OPEN, S_CLOSED };
enum { M_WS, M_NATS };

typedef struct {
    long conid;
    long last_seq;
} seqent;

typedef struct {
    int fd, state, idx, stalled, ready;
    void *ssl;
    char *carry; /* unparsed bytes of a partial frame (or HTTP response) */
    size_t carry_len, carry_cap;
    char *nbuf; /* NATS protocol bytes not yet parsed (payloads of several ws frames) */
    size_t nlen, ncap;
    char *out; /* bytes waiting to be written (handshake, subscriptions, pongs) */
    size_t out_len, out_off;
    int nsubs;
    seqent subs[MAX_SUBS];
    uint64_t frames;
    uint64_t msgs;     /* data messages in the measured window, with a timestamp or not */
    uint64_t received; /* messages since start, measured or not (publisher window) */
    int local_port;
} conn;

typedef struct {
    const char *host, *path, *sub, *subs_file, *pub, *subject, *ts_key, *seq_key;
    int port, conns, inflight, tls, stall, mode, pub_batch, pub_window, parse_every, stall_rcvbuf;
    double warmup, duration, pub_rate, slice;
    int sources, wait_go;
} options;

static options opt = {"127.0.0.1", "/v1/portal/ws", NULL, NULL, NULL, "md.265598", "\"22\":\"",
                      "\"23\":\"", 5000, 1, 100, 0, 0, M_WS, 64, 4096, 1, 0, 1.0, 3.0, 0.0, 0.25, 0, 0};
static conn *conns;
static char **sub_lines; /* per connection: subscription messages separated by '|' */
static int epfd, measuring, fed; /* fed: the server's feed runs (after "phase connected") */
static uint64_t hist[HIST_BUCKETS], frames_total, frames_no_ts, bytes_total, error_frames;
static uint64_t seq_checked, seq_gaps, seq_lost, seq_reordered, closed_by_server;
static int64_t lat_max;
static void *ssl_ctx;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

/* ---- latency histogram: 64 linear sub-buckets per power of two (about 1.6% resolution) ---- */

static int hist_index(uint64_t v) {
    if (v < HIST_SUB) return (int)v;
    int k = 63 - __builtin_clzll(v);
    int idx = (k - 5) * HIST_SUB + (int)((v >> (k - 6)) & (HIST_SUB - 1));
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_value(int idx) {
    if (idx < HIST_SUB) return (uint64_t)idx;
    int k = idx / HIST_SUB + 5;
    uint64_t sub = (uint64_t)(idx % HIST_SUB);
    return ((uint64_t)1 << k) + (sub << (k - 6)) + ((uint64_t)1 << (k - 7)); /* mid-bucket */
}

static double percentile_of(const uint64_t *h, double p) {
    uint64_t n = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) n += h[i];
    if (n == 0) return -1;
    uint64_t rank = (uint64_t)(p * (double)n);
    if (rank >= n) rank = n - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h[i];
        if (seen > rank) return (double)hist_value(i);
    }
    return -1;
}

static double hist_percentile(double p) { return percentile_of(hist, p); }

/* ---- time slices: latency and message counts per --slice seconds, from the feed's start ----
 * They show whether a run reached a steady state (a start-up burst, a server still working
 * through subscriptions, a machine that stole the core for a moment) and let the driver judge
 * the steady part only. Warm-up slices are kept too, marked as such. */

#define MAX_SLICES 4096

typedef struct {
    double end_s;
    uint64_t msgs, timed;
    double p50_us, p99_us, max_us;
    int measured;
} slice;

static uint64_t slice_hist[HIST_BUCKETS], slice_msgs, slice_timed;
static int64_t slice_max, slice_t0, slice_next;
static slice slices[MAX_SLICES];
static int nslices;

static void slice_close(int64_t now_mono) {
    double last_end = nslices ? slices[nslices - 1].end_s : 0.0;
    int empty = slice_msgs == 0 && (double)(now_mono - slice_t0) / 1e9 - last_end < 0.01;
    if (nslices < MAX_SLICES && !empty) {
        slices[nslices++] = (slice){(double)(now_mono - slice_t0) / 1e9,
                                    slice_msgs,
                                    slice_timed,
                                    percentile_of(slice_hist, 0.50) / 1e3,
                                    percentile_of(slice_hist, 0.99) / 1e3,
                                    (double)slice_max / 1e3,
                                    measuring};
    }
    memset(slice_hist, 0, sizeof slice_hist);
    slice_msgs = slice_timed = 0;
    slice_max = 0;
}

static void slice_tick(void) {
    if (!fed || opt.slice <= 0) return;
    int64_t t = mono_ns();
    if (t < slice_next) return;
    slice_close(t);
    slice_next += (int64_t)(opt.slice * 1e9);
    if (slice_next < t) slice_next = t + (int64_t)(opt.slice * 1e9);
}

/* ---- buffers ---- */

static void buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n > *cap) {
        size_t want = *cap ? *cap : 256;
        while (want < *len + n) want *= 2;
        *buf = realloc(*buf, want);
        if (!*buf) die("realloc");
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

static void queue_out(conn *c, const char *data, size_t n) {
    size_t cap = c->out_len; /* out is exactly sized; grow by re-allocating */
    char *grown = realloc(c->out, c->out_len + n);
    if (!grown) die("realloc");
    (void)cap;
    c->out = grown;
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

/* A masked client frame (RFC 6455 §5.3) with a fixed mask: the server must accept any mask. */
static void queue_frame(conn *c, int opcode, const char *payload, size_t n) {
    unsigned char hdr[14];
    size_t h = 0;
    const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        hdr[h++] = (unsigned char)(0x80 | n);
    } else {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(n >> 8);
        hdr[h++] = (unsigned char)n;
    }
    memcpy(hdr + h, mask, 4);
    h += 4;
    queue_out(c, (const char *)hdr, h);
    char *masked = malloc(n + 1);
    for (size_t i = 0; i < n; i++) masked[i] = (char)(payload[i] ^ mask[i & 3]);
    queue_out(c, masked, n);
    free(masked);
}

/* ---- socket I/O (plain or TLS) ---- */

static ssize_t conn_read(conn *c, char *buf, size_t n) {
#ifndef NO_TLS
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, (int)n);
        if (r > 0) return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        return 0;
    }
#endif
    return read(c->fd, buf, n);
}

static ssize_t conn_write(conn *c, const char *buf, size_t n) {
#ifndef NO_TLS
    if (c->ssl) {
        int r = SSL_write(c->ssl, buf, (int)n);
        if (r > 0) return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        errno = EPIPE;
        return -1;
    }
#endif
    return write(c->fd, buf, n);
}

static void set_events(conn *c, int want_write) {
    struct epoll_event ev = {.events = (c->stalled ? 0 : EPOLLIN) | (want_write ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush_out(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = conn_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EAGAIN) {
                set_events(c, 1);
                return;
            }
            c->state = S_CLOSED;
            return;
        }
        c->out_off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    set_events(c, 0);
}

/* ---- payload parsing ---- */

static int parse_long(const char *p, const char *end, long *out) {
    long v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    *out = v;
    return digits;
}

static const char *find_key(const char *p, size_t n, const char *key) {
    const char *hit = memmem(p, n, key, strlen(key));
    return hit ? hit + strlen(key) : NULL;
}

static void check_sequence(conn *c, const char *p, size_t n) {
    const char *s = find_key(p, n, opt.seq_key), *t = find_key(p, n, "\"topic\":\"md+");
    long seq, conid;
    if (!s || !t || !parse_long(s, p + n, &seq) || !parse_long(t, p + n, &conid)) return;
    int i = 0;
    while (i < c->nsubs && c->subs[i].conid != conid) i++;
    if (i == c->nsubs) {
        if (c->nsubs == MAX_SUBS) return;
        c->subs[c->nsubs++] = (seqent){conid, seq};
        return;
    }
    long last = c->subs[i].last_seq;
    if (measuring) {
        seq_checked++;
        if (seq <= last) {
            seq_reordered++;
        } else if (seq != last + 1) {
            seq_gaps++;
            seq_lost += (uint64_t)(seq - last - 1);
        }
    }
    if (seq > last) c->subs[i].last_seq = seq;
}

static void on_message(conn *c, const char *p, size_t n, int64_t now) {
    c->received++;
    if (fed) slice_msgs++;
    if (opt.parse_every > 1 && c->received % (uint64_t)opt.parse_every) {
        if (measuring) { /* framed and counted, not parsed */
            frames_total++;
            bytes_total += n;
            c->frames++;
            c->msgs++;
        }
        return;
    }
    if (memmem(p, n < 16 ? n : 16, "\"error\"", 7)) {
        if (error_frames++ < 5) fprintf(stderr, "loadgen: error frame: %.*s\n", (int)n, p);
        if (fed) slice_msgs--;
        return;
    }
    if (opt.seq_key[0] && opt.parse_every <= 1) check_sequence(c, p, n);
    if (measuring) c->msgs++;
    if (!measuring && !fed) return;
    const char *t = find_key(p, n, opt.ts_key);
    long ts;
    if (!t || parse_long(t, p + n, &ts) < 10) {
        if (measuring) frames_no_ts++;
        return;
    }
    int64_t lat = now - ts;
    if (lat < 0) lat = 0;
    if (fed) {
        slice_timed++;
        slice_hist[hist_index((uint64_t)lat)]++;
        if (lat > slice_max) slice_max = lat;
    }
    if (!measuring) return;
    if (lat > lat_max) lat_max = lat;
    hist[hist_index((uint64_t)lat)]++;
    frames_total++;
    bytes_total += n;
    c->frames++;
}

/* Parse NATS protocol lines in buf[0..len); returns the bytes consumed (whole messages only). */
static size_t parse_nats(conn *c, const char *buf, size_t len, int64_t now) {
    size_t off = 0;
    while (off < len) {
        const char *line = buf + off;
        const char *eol = memmem(line, len - off, "\r\n", 2);
        if (!eol) break;
        size_t line_len = (size_t)(eol - line);
        if (line_len >= 4 && memcmp(line, "MSG ", 4) == 0) {
            const char *sp = eol; /* the size is the last token of the line */
            while (sp > line && sp[-1] != ' ') sp--;
            long size;
            parse_long(sp, eol, &size);
            size_t need = line_len + 2 + (size_t)size + 2;
            if (len - off < need) break;
            on_message(c, eol + 2, (size_t)size, now);
            off += need;
            continue;
        }
        if (line_len >= 4 && memcmp(line, "PING", 4) == 0) {
            queue_frame(c, 2, "PONG\r\n", 6);
            flush_out(c);
        } else if (line_len >= 4 && memcmp(line, "PONG", 4) == 0) {
            c->ready = 1; /* our SUB was processed before this PONG */
        } else if (line_len >= 4 && memcmp(line, "-ERR", 4) == 0) {
            if (error_frames++ < 5) fprintf(stderr, "loadgen: %.*s\n", (int)line_len, line);
        }
        off += line_len + 2;
    }
    return off;
}

/* NATS protocol over the WebSocket byte stream: MSG, PING, PONG, INFO, +OK, -ERR. A payload is
 * parsed where it lies; only a partial message at its end is copied, to be completed by the
 * next WebSocket frame. */
static void on_nats_bytes(conn *c, const char *p, size_t n, int64_t now) {
    if (c->nlen == 0) {
        size_t used = parse_nats(c, p, n, now);
        buf_append(&c->nbuf, &c->nlen, &c->ncap, p + used, n - used);
        return;
    }
    buf_append(&c->nbuf, &c->nlen, &c->ncap, p, n);
    size_t off = parse_nats(c, c->nbuf, c->nlen, now);
    memmove(c->nbuf, c->nbuf + off, c->nlen - off);
    c->nlen -= off;
}

static void send_subscriptions(conn *c) {
    if (opt.mode == M_NATS) {
        char msg[512];
        int n = snprintf(msg, sizeof msg,
                         "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n"
                         "SUB %s %d\r\nPING\r\n",
                         opt.subject, c->idx + 1);
        queue_frame(c, 2, msg, (size_t)n);
        return;
    }
    const char *all = sub_lines ? sub_lines[c->idx] : opt.sub;
    while (all && *all) {
        const char *bar = strchr(all, '|');
        size_t n = bar ? (size_t)(bar - all) : strlen(all);
        queue_frame(c, 1, all, n);
        all += n + (bar ? 1 : 0);
    }
    c->ready = 1;
}

/* Parse complete frames from buf; returns the number of bytes consumed. */
static size_t parse_frames(conn *c, char *buf, size_t len, int64_t now) {
    size_t off = 0;
    while (len - off >= 2) {
        unsigned char *h = (unsigned char *)buf + off;
        int opcode = h[0] & 0x0f, masked = h[1] & 0x80;
        uint64_t plen = h[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (len - off < 4) break;
            plen = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (plen == 127) {
            if (len - off < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = (plen << 8) | h[2 + i];
            hl = 10;
        }
        if (masked) hl += 4;
        if (len - off < hl + plen) break;
        char *payload = buf + off + hl;
        if (masked)
            for (uint64_t i = 0; i < plen; i++) payload[i] ^= (char)h[hl - 4 + (i & 3)];
        if (opcode == 9) {
            queue_frame(c, 10, payload, (size_t)plen);
            flush_out(c);
        } else if (opcode == 8) {
            closed_by_server++;
            c->state = S_CLOSED;
            return len;
        } else if (opt.mode == M_NATS) {
            on_nats_bytes(c, payload, (size_t)plen, now);
        } else if (opcode == 1 || opcode == 2 || opcode == 0) {
            on_message(c, payload, (size_t)plen, now);
        }
        off += hl + plen;
    }
    return off;
}

static size_t on_upgrade(conn *c, char *buf, size_t len) {
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return 0;
    if (len < 12 || memcmp(buf + 9, "101", 3) != 0) {
        fprintf(stderr, "loadgen: upgrade refused: %.*s\n", (int)(len < 200 ? len : 200), buf);
        c->state = S_CLOSED;
        return len;
    }
    c->state = S_OPEN;
    send_subscriptions(c);
    flush_out(c);
    return (size_t)(end + 4 - buf);
}

static void on_readable(conn *c, char *rbuf) {
    for (int rounds = 0; rounds < 8 && c->state != S_CLOSED; rounds++) {
        size_t have = c->carry_len;
        memcpy(rbuf, c->carry, have);
        ssize_t r = conn_read(c, rbuf + have, RBUF_SIZE - have);
        if (r <= 0) {
            if (r < 0 && errno == EAGAIN) return;
            c->state = S_CLOSED;
            return;
        }
        int64_t now = now_ns();
        size_t len = have + (size_t)r, used = 0;
        if (c->state == S_UPGRADING) used = on_upgrade(c, rbuf, len);
        if (c->state == S_OPEN) used += parse_frames(c, rbuf + used, len - used, now);
        c->carry_len = 0;
        buf_append(&c->carry, &c->carry_len, &c->carry_cap, rbuf + used, len - used);
    }
}

/* ---- connection set-up ---- */

static int open_socket(const char *host, int port, int rcvbuf, int source) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source > 0) { /* 127.0.0.(1 + source): each loopback address has its own port range */
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
        local.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)source);
        if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind source address");
    }
    /* before connect, so the window advertised in the handshake is already the small one */
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
        die("SO_RCVBUF");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) die("connect");
    return fd;
}

static void start_conn(conn *c) {
    int source = opt.sources > 0 ? 1 + c->idx % opt.sources : 0;
    c->fd = open_socket(opt.host, opt.port, c->idx < opt.stall ? opt.stall_rcvbuf : 0, source);
    struct sockaddr_in local;
    socklen_t ll = sizeof local;
    if (getsockname(c->fd, (struct sockaddr *)&local, &ll) == 0) c->local_port = ntohs(local.sin_port);
    c->state = S_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void queue_upgrade(conn *c) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.host, opt.port);
    queue_out(c, req, (size_t)n);
    c->state = S_UPGRADING;
    flush_out(c);
}

static void on_connected(conn *c) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
        c->state = S_CLOSED;
        return;
    }
#ifndef NO_TLS
    if (opt.tls) {
        c->ssl = SSL_new(ssl_ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_connect_state(c->ssl);
        c->state = S_TLS;
        return;
    }
#endif
    queue_upgrade(c);
}

static void on_tls_step(conn *c) {
#ifndef NO_TLS
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        queue_upgrade(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) set_events(c, 0);
    else if (e == SSL_ERROR_WANT_WRITE) set_events(c, 1);
    else {
        ERR_print_errors_fp(stderr);
        c->state = S_CLOSED;
    }
#else
    (void)c;
#endif
}

static void on_event(conn *c, uint32_t events, char *rbuf) {
    if (c->state == S_CONNECTING) {
        on_connected(c);
        if (c->state == S_TLS) on_tls_step(c);
        return;
    }
    if (c->state == S_TLS) {
        on_tls_step(c);
        return;
    }
    if ((events & EPOLLOUT) && c->out_len) flush_out(c);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c, rbuf);
}

/* ---- the NATS publisher (plain TCP) ---- */

typedef struct {
    int fd, want_out, started;
    char *buf;
    size_t len, off;
    long seq;
} publisher;

static publisher pub;
static long pub_seq_measured; /* messages published in the measured window */

static void pub_fill(int count) {
    static const char *prices[] = {"\"31\":\"101.25\",\"84\":\"101.24\",\"86\":\"101.26\"",
                                   "\"31\":\"101.26\",\"84\":\"101.25\",\"86\":\"101.27\""};
    size_t cap = (size_t)opt.pub_batch * 256;
    if (!pub.buf) pub.buf = malloc(cap);
    pub.len = pub.off = 0;
    for (int i = 0; i < count; i++) {
        char payload[200];
        pub.seq++;
        int n = snprintf(payload, sizeof payload, "{%s,\"22\":\"%lld\",\"23\":\"%ld\",\"topic\":\"md+265598\"}",
                         prices[pub.seq & 1], (long long)now_ns(), pub.seq);
        pub.len += (size_t)snprintf(pub.buf + pub.len, cap - pub.len, "PUB %s %d\r\n%s\r\n",
                                    opt.subject, n, payload);
    }
}

/* Messages published but not yet received by the slowest reading connection. */
static uint64_t pub_in_flight(void) {
    uint64_t slowest = UINT64_MAX;
    for (int i = 0; i < opt.conns; i++)
        if (!conns[i].stalled && conns[i].state == S_OPEN && conns[i].received < slowest)
            slowest = conns[i].received;
    return slowest == UINT64_MAX ? 0 : (uint64_t)pub.seq - slowest;
}

/* Publish while fewer than --pub-window messages are in flight: as fast as the server delivers,
 * like a feed inside the server that runs once per event-loop turn, instead of flooding the
 * server until it disconnects its subscribers as slow consumers. */
static int64_t pub_t0;

/* With --pub-rate: messages due by now, less those published. */
static long pub_due(void) {
    if (!pub_t0) pub_t0 = mono_ns();
    return (long)((double)(mono_ns() - pub_t0) * opt.pub_rate / 1e9) - pub.seq;
}

static void pub_pump(void) {
    for (int rounds = 0; rounds < 4; rounds++) {
        if (pub.off == pub.len) {
            if (opt.pub_rate > 0) {
                long due = pub_due();
                if (due <= 0) break;
                pub_fill(due < opt.pub_batch ? (int)due : opt.pub_batch);
            } else {
                if (pub_in_flight() >= (uint64_t)opt.pub_window) break;
                pub_fill(opt.pub_batch);
            }
        }
        ssize_t w = write(pub.fd, pub.buf + pub.off, pub.len - pub.off);
        if (w <= 0) break;
        pub.off += (size_t)w;
    }
    int want_out = pub.off < pub.len;
    if (want_out != pub.want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = &pub};
        epoll_ctl(epfd, EPOLL_CTL_MOD, pub.fd, &ev);
        pub.want_out = want_out;
    }
}

static void pub_start(void) {
    char host[64];
    const char *colon = strrchr(opt.pub, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - opt.pub), opt.pub);
    pub.fd = open_socket(host, atoi(colon + 1), 0, 0);
    /* wait for the connection, then say CONNECT; the server's INFO/PING are drained below */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &pub};
    epoll_ctl(epfd, EPOLL_CTL_ADD, pub.fd, &ev);
    pub.started = 1;
    const char *hello = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    int tries = 0;
    while (write(pub.fd, hello, strlen(hello)) < 0 && tries++ < 1000) usleep(1000);
}

static void pub_readable(void) {
    char buf[4096];
    ssize_t r = read(pub.fd, buf, sizeof buf);
    if (r > 0 && memmem(buf, (size_t)r, "PING", 4)) {
        /* queue a PONG ahead of the next batch */
        if (write(pub.fd, "PONG\r\n", 6) < 0) return;
    }
}

/* ---- main ---- */

static void load_subs_file(void) {
    FILE *f = fopen(opt.subs_file, "r");
    if (!f) die(opt.subs_file);
    sub_lines = calloc((size_t)opt.conns, sizeof *sub_lines);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < opt.conns; i++) {
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0) break;
        if (line[n - 1] == '\n') line[n - 1] = 0;
        sub_lines[i] = strdup(line);
    }
    free(line);
    fclose(f);
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--host")) opt.host = v;
        else if (!strcmp(k, "--port")) opt.port = atoi(v);
        else if (!strcmp(k, "--path")) opt.path = v;
        else if (!strcmp(k, "--conns")) opt.conns = atoi(v);
        else if (!strcmp(k, "--inflight")) opt.inflight = atoi(v);
        else if (!strcmp(k, "--sub")) opt.sub = v;
        else if (!strcmp(k, "--subs-file")) opt.subs_file = v;
        else if (!strcmp(k, "--mode")) opt.mode = strcmp(v, "nats") ? M_WS : M_NATS;
        else if (!strcmp(k, "--subject")) opt.subject = v;
        else if (!strcmp(k, "--pub")) opt.pub = v;
        else if (!strcmp(k, "--pub-batch")) opt.pub_batch = atoi(v);
        else if (!strcmp(k, "--pub-window")) opt.pub_window = atoi(v);
        else if (!strcmp(k, "--pub-rate")) opt.pub_rate = atof(v);
        else if (!strcmp(k, "--sources")) opt.sources = atoi(v);
        else if (!strcmp(k, "--tls")) opt.tls = atoi(v);
        else if (!strcmp(k, "--stall")) opt.stall = atoi(v);
        else if (!strcmp(k, "--stall-rcvbuf")) opt.stall_rcvbuf = atoi(v);
        else if (!strcmp(k, "--parse-every")) opt.parse_every = atoi(v);
        else if (!strcmp(k, "--warmup")) opt.warmup = atof(v);
        else if (!strcmp(k, "--duration")) opt.duration = atof(v);
        else if (!strcmp(k, "--slice")) opt.slice = atof(v);
        else if (!strcmp(k, "--wait-go")) opt.wait_go = atoi(v);
        else if (!strcmp(k, "--ts-key")) opt.ts_key = v;
        else if (!strcmp(k, "--seq-key")) opt.seq_key = v;
        else {
            fprintf(stderr, "loadgen: unknown option %s\n", k);
            exit(2);
        }
    }
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void report(double connect_s, int open_count, double measured_s, double cpu_s) {
    uint64_t fmin = UINT64_MAX, fmax = 0, mmin = UINT64_MAX, mmax = 0, msgs_total = 0;
    for (int i = 0; i < opt.conns; i++) {
        msgs_total += conns[i].msgs;
        if (conns[i].stalled || conns[i].state != S_OPEN) continue;
        if (conns[i].frames < fmin) fmin = conns[i].frames;
        if (conns[i].frames > fmax) fmax = conns[i].frames;
        if (conns[i].msgs < mmin) mmin = conns[i].msgs;
        if (conns[i].msgs > mmax) mmax = conns[i].msgs;
    }
    if (fmin == UINT64_MAX) fmin = 0;
    if (mmin == UINT64_MAX) mmin = 0;
    int still_open = 0;
    for (int i = 0; i < opt.conns; i++) still_open += conns[i].state == S_OPEN;
    printf("{\"conns\":%d,\"opened\":%d,\"open_at_end\":%d,\"closed_by_server\":%llu,"
           "\"connect_s\":%.4f,\"duration_s\":%.4f,\"frames\":%llu,\"frames_per_s\":%.1f,"
           "\"bytes\":%llu,\"frames_without_ts\":%llu,\"error_frames\":%llu,"
           "\"per_conn_frames_min\":%llu,\"per_conn_frames_max\":%llu,"
           "\"per_conn_msgs_min\":%llu,\"per_conn_msgs_max\":%llu,\"msgs\":%llu,"
           "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
           "\"loadgen_cpu_s\":%.4f,\"loadgen_cpu_frac\":%.3f,"
           "\"parse_every\":%d,\"published_per_s\":%.1f,"
           "\"seq\":{\"checked\":%llu,\"gaps\":%llu,\"lost\":%llu,\"reordered\":%llu},",
           opt.conns, open_count, still_open, (unsigned long long)closed_by_server, connect_s,
           measured_s, (unsigned long long)frames_total, frames_total / measured_s,
           (unsigned long long)bytes_total, (unsigned long long)frames_no_ts,
           (unsigned long long)error_frames, (unsigned long long)fmin, (unsigned long long)fmax,
           (unsigned long long)mmin, (unsigned long long)mmax, (unsigned long long)msgs_total,
           hist_percentile(0.50) / 1e3, hist_percentile(0.99) / 1e3, lat_max / 1e3, cpu_s,
           cpu_s / measured_s, opt.parse_every, pub_seq_measured / measured_s, (unsigned long long)seq_checked, (unsigned long long)seq_gaps,
           (unsigned long long)seq_lost, (unsigned long long)seq_reordered);
    /* [seconds since the feed started at the slice's end, messages, timed messages, p50 us,
     * p99 us, max us, 1 if measured] */
    printf("\"slice_s\":%g,\"slices\":[", opt.slice);
    for (int i = 0; i < nslices; i++)
        printf("%s[%.3f,%llu,%llu,%.1f,%.1f,%.1f,%d]", i ? "," : "", slices[i].end_s,
               (unsigned long long)slices[i].msgs, (unsigned long long)slices[i].timed,
               slices[i].p50_us, slices[i].p99_us, slices[i].max_us, slices[i].measured);
    printf("],");
    printf("\"stalled_ports\":[");
    for (int i = 0; i < opt.stall && i < opt.conns; i++)
        printf("%s%d", i ? "," : "", conns[i].local_port);
    printf("]}\n");
    fflush(stdout);
}

static void poll_once(char *rbuf, int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(epfd, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        /* keep the server fed while this loop reads: a publisher that waits for a whole
         * batch of reads leaves the server idle between batches */
        if (pub.started && i && (i & 15) == 0) pub_pump();
        if (evs[i].data.ptr == &pub) {
            if (evs[i].events & EPOLLIN) pub_readable();
            if (evs[i].events & EPOLLOUT) pub_pump();
            continue;
        }
        conn *c = evs[i].data.ptr;
        if (c->state == S_CLOSED) continue;
        on_event(c, evs[i].events, rbuf);
        if (c->state == S_CLOSED) {
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
        }
    }
    if (pub.started) pub_pump();
}

static int connect_all(char *rbuf) {
    int started = 0, settled = 0;
    while (settled < opt.conns) {
        int busy = 0;
        settled = 0;
        for (int i = 0; i < started; i++) {
            if (conns[i].state == S_CLOSED || (conns[i].state == S_OPEN && conns[i].ready)) settled++;
            else busy++;
        }
        while (started < opt.conns && busy < opt.inflight) {
            start_conn(&conns[started++]);
            busy++;
        }
        poll_once(rbuf, 10);
    }
    int open_count = 0;
    for (int i = 0; i < opt.conns; i++) open_count += conns[i].state == S_OPEN;
    return open_count;
}

/* --wait-go: keep serving the sockets (pings) until the driver writes a line on stdin, which
 * it does once the server has applied every subscription and its feed has started: warm-up
 * and measurement then count from the feed's start, however long the subscriptions took. */
static void wait_for_go(char *rbuf) {
    struct pollfd in = {.fd = 0, .events = POLLIN};
    while (poll(&in, 1, 0) == 0) poll_once(rbuf, 5);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return; /* the driver went away: run on */
}

static void run_for(char *rbuf, double seconds) {
    int64_t until = mono_ns() + (int64_t)(seconds * 1e9);
    /* a paced publisher needs the loop back often, or it would publish in 5 ms bursts */
    while (mono_ns() < until) {
        poll_once(rbuf, opt.pub_rate > 0 ? 1 : 5);
        slice_tick();
    }
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (opt.subs_file) load_subs_file();
#ifndef NO_TLS
    if (opt.tls) {
        ssl_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL); /* the server's cert is self-signed */
    }
#endif
    epfd = epoll_create1(0);
    conns = calloc((size_t)opt.conns, sizeof *conns);
    for (int i = 0; i < opt.conns; i++) conns[i].idx = i;
    char *rbuf = malloc(RBUF_SIZE + 65536);
    int64_t t0 = mono_ns();
    int open_count = connect_all(rbuf);
    double connect_s = (mono_ns() - t0) / 1e9;
    printf("phase connected %d %.4f\n", open_count, connect_s);
    if (opt.wait_go) wait_for_go(rbuf);
    fed = 1; /* the driver starts the server's feed on that line (or before its "go") */
    slice_t0 = mono_ns();
    slice_next = slice_t0 + (int64_t)(opt.slice * 1e9);
    for (int i = 0; i < opt.stall && i < opt.conns; i++) {
        conns[i].stalled = 1; /* stops reading: the kernel buffers fill, then the server's */
        if (conns[i].state == S_OPEN) set_events(&conns[i], 0);
    }
    if (opt.pub) pub_start();
    run_for(rbuf, opt.warmup);
    for (int i = 0; i < opt.conns; i++) conns[i].frames = 0;
    if (opt.slice > 0) { /* the warm-up's last partial slice ends here: slices never straddle */
        slice_close(mono_ns());
        slice_next = mono_ns() + (int64_t)(opt.slice * 1e9);
    }
    measuring = 1;
    long pub_seq0 = pub.seq;
    double cpu0 = cpu_seconds();
    int64_t m0 = mono_ns();
    printf("phase measure\n");
    run_for(rbuf, opt.duration);
    if (opt.slice > 0) slice_close(mono_ns());
    pub_seq_measured = pub.seq - pub_seq0;
    measuring = 0;
    double measured = (mono_ns() - m0) / 1e9, cpu = cpu_seconds() - cpu0;
    printf("phase end\n");
    report(connect_s, open_count, measured, cpu);
    return 0;
}
