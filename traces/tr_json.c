/* tr_json.c -- the JSONL trace reader (plain or gzip).
 *
 * Two parsers read each line.  The fast one knows the artifact's seven
 * fields and reads token arrays with a tight integer loop; it accepts only
 * lines it fully understands.  Anything else (an unknown field, an escape in
 * a key, a malformed value) goes to jansson, which either reads the line
 * (unknown fields are ignored) or yields the exact error.  So every error
 * message comes from one place, validate(), and the fast path never decides
 * that a line is bad.
 *
 * Decompression runs on a second thread that fills a ring of chunks while
 * this one parses, so gzip and parsing overlap on two cores.
 *
 * The line parsers are in tr_json_line.c.  tr_load (tr_load.c) sends every
 * file that is not a packed trace here.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/tr_json_int.h"

/* ---- decompression thread --------------------------------------------------- *
 *
 * The thread reads the file with read(2) and, when it begins with the gzip
 * magic (1f 8b), inflates it itself rather than through gzread: gzread
 * stops quietly at bytes that are not gzip after a member, and cannot say
 * where a stream is cut.  Members follow one another (concatenated gzip
 * files are one stream, as gzip -d reads them); anything else after a
 * member is trailing garbage, an error.  The thread says how the file
 * ended in r->fail and the fields beside it; the parser words the message,
 * since only it knows the line. */

#define RING 4
#define CHUNK (4u << 20)
#define IN_CAP (1u << 20)

enum { RD_OK = 0, RD_IO, RD_OOM, RD_TRUNC, RD_CORRUPT, RD_TRAIL };

typedef struct chunk {
    char *p;    /* cap bytes */
    size_t n;   /* bytes filled; 0 at end */
    int state;  /* 0 empty, 1 full */
} chunk;

typedef struct reader {
    int fd;            /* input */
    size_t cap;        /* bytes a chunk holds */
    size_t in_cap;     /* bytes of the compressed-input buffer */
    chunk ring[RING];  /* filled by the thread, drained by the parser */
    int head, tail;    /* next chunk to fill / to drain */
    int stop;          /* parser asks the thread to stop */
    /* how the input ended (set before the last, empty chunk) */
    int fail;          /* RD_* */
    int errnum;        /* RD_IO: errno */
    char zmsg[128];    /* RD_CORRUPT: zlib's words */
    uint64_t at;       /* byte offset of the problem (RD_CORRUPT, RD_TRAIL), or where the cut member starts */
    uint64_t trail;    /* RD_TRAIL: bytes after the stream */
    unsigned member;   /* gzip member of the problem, from 1 */
    uint64_t member_out; /* bytes that member gave before it */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} reader;

/* The next empty chunk (n = 0), or NULL when the parser stopped. */
static chunk *get_empty(reader *r) {
    pthread_mutex_lock(&r->mu);
    while (r->ring[r->head].state == 1 && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
    chunk *c = r->stop ? NULL : &r->ring[r->head];
    pthread_mutex_unlock(&r->mu);
    if (c) c->n = 0;
    return c;
}

static void put_full(reader *r, chunk *c) {
    pthread_mutex_lock(&r->mu);
    c->state = 1;
    r->head = (r->head + 1) % RING;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* read(2) up to n bytes, retrying EINTR; -1 on error (errno set). */
static ssize_t read_some(int fd, void *p, size_t n) {
    for (;;) {
        ssize_t k = read(fd, p, n);
        if (k >= 0 || errno != EINTR) return k;
    }
}

/* The compressed input: buf[pos..len) unread, buf[0] at file offset off. */
typedef struct inbuf {
    unsigned char *buf;
    size_t pos, len, cap;
    uint64_t off;
    int eof;
} inbuf;

/* Make at least `want` unread bytes available (fewer at the end of the
 * file).  0, or -1 on a read error. */
static int in_fill(reader *r, inbuf *in, size_t want) {
    while (in->len - in->pos < want && !in->eof) {
        if (in->pos > 0) { /* keep what is unread at the front */
            memmove(in->buf, in->buf + in->pos, in->len - in->pos);
            in->off += in->pos;
            in->len -= in->pos;
            in->pos = 0;
        }
        ssize_t k = read_some(r->fd, in->buf + in->len, in->cap - in->len);
        if (k < 0) return -1;
        if (k == 0) in->eof = 1;
        in->len += (size_t)k;
    }
    return 0;
}

static void *reader_main(void *arg) {
    reader *r = arg;
    inbuf in = {malloc(r->in_cap), 0, 0, r->in_cap, 0, 0};
    chunk *c = get_empty(r);
    z_stream z;
    int zinit = 0;
    if (!c) goto done;
    if (!in.buf) {
        r->fail = RD_OOM;
        goto end;
    }
    if (in_fill(r, &in, 2)) goto io;
    if (in.len < 2 || in.buf[0] != 0x1f || in.buf[1] != 0x8b) {
        /* plain text: what was read, then straight into the chunks */
        memcpy(c->p, in.buf, in.len);
        c->n = in.len;
        for (;;) {
            if (c->n == r->cap) {
                put_full(r, c);
                if (!(c = get_empty(r))) goto done;
            }
            ssize_t k = read_some(r->fd, c->p + c->n, r->cap - c->n);
            if (k < 0) goto io;
            if (k == 0) goto end;
            c->n += (size_t)k;
        }
    }
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        r->fail = RD_OOM;
        goto end;
    }
    zinit = 1;
    r->member = 1;
    r->at = 0;
    r->member_out = 0;
    for (;;) {
        if (c->n == r->cap) {
            put_full(r, c);
            if (!(c = get_empty(r))) goto done;
        }
        if (in.pos == in.len && in_fill(r, &in, 1)) goto io;
        z.next_in = in.buf + in.pos;
        z.avail_in = (uInt)(in.len - in.pos);
        z.next_out = (Bytef *)c->p + c->n;
        z.avail_out = (uInt)(r->cap - c->n);
        int zr = inflate(&z, Z_NO_FLUSH);
        size_t got = (r->cap - c->n) - z.avail_out;
        c->n += got;
        r->member_out += got;
        in.pos = (size_t)(z.next_in - in.buf);
        if (zr == Z_BUF_ERROR && in.pos == in.len && in.eof) { /* no progress, no input left: cut */
            r->fail = RD_TRUNC;
            goto end;
        }
        if (zr == Z_OK || zr == Z_BUF_ERROR) continue; /* more input or more room */
        if (zr == Z_MEM_ERROR) {
            r->fail = RD_OOM;
            goto end;
        }
        if (zr != Z_STREAM_END) {
            r->fail = RD_CORRUPT;
            r->at = in.off + in.pos;
            snprintf(r->zmsg, sizeof r->zmsg, "%s", z.msg ? z.msg : "bad data");
            goto end;
        }
        /* a member ended: another, or the end of the file */
        if (in_fill(r, &in, 2)) goto io;
        size_t left = in.len - in.pos;
        if (left == 0) goto end;
        uint64_t here = in.off + in.pos;
        if (left >= 2 && in.buf[in.pos] == 0x1f && in.buf[in.pos + 1] == 0x8b) {
            inflateReset(&z);
            r->member++;
            r->at = here;
            r->member_out = 0;
            continue;
        }
        if (left == 1 && in.buf[in.pos] == 0x1f) { /* the first byte of a member, cut */
            r->fail = RD_TRUNC;
            r->member++;
            r->at = here;
            r->member_out = 0;
            goto end;
        }
        r->fail = RD_TRAIL;
        r->at = here;
        r->trail = left;
        for (in.pos = in.len = 0; !in.eof;) { /* count the rest */
            ssize_t k = read_some(r->fd, in.buf, in.cap);
            if (k <= 0) break;
            r->trail += (uint64_t)k;
        }
        goto end;
    }
io:
    r->fail = RD_IO;
    r->errnum = errno;
end:
    /* what was filled, then the empty chunk that says "the end" */
    if (c && c->n) {
        put_full(r, c);
        c = get_empty(r);
    }
    if (c) put_full(r, c);
done:
    if (zinit) inflateEnd(&z);
    free(in.buf);
    return NULL;
}

/* ---- the loader -------------------------------------------------------------- */

static int handle_line(const char *p, const char *e, line *L, tr_builder *b, tr_order *ord, const char *path,
                       uint64_t ln, tr_err *err) {
    const char *q = p;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
    if (q == e) return 0; /* blank line */
    if (tr_json_fast_line(p, e, L) != 0 && tr_json_slow_line(p, (size_t)(e - p), L, path, ln, err) != 0) return -1;
    char why[TR_ERR_MAX];
    if (tr_order_check(ord, L->session_id, L->turn_id, L->ts, ln, "line", why, sizeof why)) {
        tr_errf(err, path, ln, "%s", why);
        return -1;
    }
    return tr_builder_add(b, L->session_id, L->turn_id, L->ts, L->in.v, L->in.n, L->out.v, L->out.n, err);
}

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1 << 16;
    while (nc < need) nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb) return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

/* The message for how the input ended (r->fail, RD_*), after ln whole lines and
 * blen bytes of an unfinished one. */
static void end_error(const reader *r, const char *path, uint64_t ln, size_t blen, tr_err *err) {
    uint64_t cur = ln + (blen > 0);
    switch (r->fail) {
    case RD_IO: tr_errf(err, path, ln + 1, "cannot read: %s", strerror(r->errnum)); break;
    case RD_OOM: tr_errf(err, path, ln + 1, "out of memory"); break;
    case RD_CORRUPT:
        tr_errf(err, path, cur, "corrupt gzip stream at byte %llu: %s", (unsigned long long)r->at, r->zmsg);
        break;
    case RD_TRAIL:
        tr_errf(err, path, cur,
                "trailing garbage: %llu bytes after the end of the gzip stream (from byte %llu) are not gzip",
                (unsigned long long)r->trail, (unsigned long long)r->at);
        break;
    case RD_TRUNC:
        if (r->member == 1 && r->member_out == 0)
            tr_errf(err, path, 0, "truncated gzip stream: the file ends inside its gzip header");
        else if (r->member_out == 0) /* the cut member gave nothing: its header (or less) is all there is */
            tr_errf(err, path, cur,
                    "truncated gzip stream: the file ends after line %llu, in the first bytes of gzip member %u "
                    "(from byte %llu)",
                    (unsigned long long)cur, r->member, (unsigned long long)r->at);
        else if (blen)
            tr_errf(err, path, cur, "truncated gzip stream: the file ends inside line %llu", (unsigned long long)cur);
        else
            tr_errf(err, path, ln, "truncated gzip stream: the file ends after line %llu, inside gzip member %u",
                    (unsigned long long)ln, r->member);
        break;
    }
}

int tr_load_jsonl(const char *path, tr_trace *t, tr_err *err) {
    memset(t, 0, sizeof *t);
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = open(path, O_RDONLY);
    if (r.fd < 0) {
        tr_errf(err, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (tr_check_fd(r.fd, path, "a trace", err)) {
        close(r.fd);
        return -1;
    }
    /* small files get small buffers (tests, fuzzing): any size works, lines
     * may span chunks */
    r.cap = CHUNK;
    r.in_cap = IN_CAP;
    struct stat st;
    if (fstat(r.fd, &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t sz = (uint64_t)st.st_size;
        if (sz * 8 + 4096 < r.cap) r.cap = (size_t)(sz * 8 + 4096);
        if (sz + 4096 < r.in_cap) r.in_cap = (size_t)(sz + 4096);
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int rc = -1, started = 0;
    pthread_t th;
    tr_builder *b = tr_builder_new();
    tr_order ord;
    memset(&ord, 0, sizeof ord);
    char *buf = NULL; /* the current line when it spans chunks */
    size_t blen = 0, bcap = 0;
    line L;
    memset(&L, 0, sizeof L);
    uint64_t ln = 0; /* lines completed */
    for (int i = 0; i < RING; i++)
        if (!(r.ring[i].p = malloc(r.cap))) b = (tr_builder_free(b), NULL);
    if (!b) {
        tr_errf(err, path, 0, "out of memory");
        goto out;
    }
    pthread_attr_t attr; /* the thread needs little stack (zlib's state is on the heap) */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    int ok = pthread_create(&th, &attr, reader_main, &r) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        tr_errf(err, path, 0, "cannot start the reader thread");
        goto out;
    }
    started = 1;
    for (;;) {
        pthread_mutex_lock(&r.mu);
        while (r.ring[r.tail].state != 1) pthread_cond_wait(&r.cv, &r.mu);
        chunk *c = &r.ring[r.tail];
        pthread_mutex_unlock(&r.mu);
        if (c->n == 0) break;
        const char *p = c->p, *e = c->p + c->n;
        while (p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            const char *end = nl ? nl : e;
            if (blen || !nl) { /* the line spans chunks: gather it in buf */
                if (grow(&buf, &bcap, blen + (size_t)(end - p))) {
                    tr_errf(err, path, ln + 1, "out of memory");
                    goto out;
                }
                memcpy(buf + blen, p, (size_t)(end - p));
                blen += (size_t)(end - p);
                if (!nl) break;
                ln++;
                int hr = handle_line(buf, buf + blen, &L, b, &ord, path, ln, err);
                blen = 0;
                if (hr) goto out;
            } else {
                ln++;
                if (handle_line(p, nl, &L, b, &ord, path, ln, err)) goto out;
            }
            p = nl + 1;
        }
        pthread_mutex_lock(&r.mu);
        c->state = 0;
        r.tail = (r.tail + 1) % RING;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
    }
    if (r.fail != RD_OK) {
        end_error(&r, path, ln, blen, err);
        goto out;
    }
    if (blen) { /* a last line without a newline */
        ln++;
        if (handle_line(buf, buf + blen, &L, b, &ord, path, ln, err)) goto out;
    }
    if (tr_builder_count(b) == 0) {
        tr_errf(err, path, ln, "the trace holds no requests");
        goto out;
    }
    rc = tr_builder_finish(b, t, path, err);
    b = NULL;
out:
    if (started) {
        pthread_mutex_lock(&r.mu);
        r.stop = 1;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
        pthread_join(th, NULL);
    }
    for (int i = 0; i < RING; i++) free(r.ring[i].p);
    close(r.fd);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    tr_builder_free(b);
    tr_order_free(&ord);
    free(buf);
    free(L.in.v);
    free(L.out.v);
    if (rc != 0) memset(t, 0, sizeof *t);
    return rc;
}
