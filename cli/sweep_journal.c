/* sweep_journal.c -- DIR/.journal[SUFFIX]: what lets an interrupted sweep
 * pick up where it stopped.
 *
 *   marconi-sweep-journal 2 grid 0123456789abcdef runs 30 shard 0/1
 *   C 7 <runs.csv row>                 a record a finished run: each line
 *   J 7 <runs.jsonl line>              of its rows tagged with its file's
 *   B 7 <buckets.csv row>              letter (sw_files[].tag) and its grid
 *   ...                                index, then its end with the CRC-32
 *   E 7 1a2b3c4d                       of the record's lines before it
 *
 * The first line names the format (2), the grid's fingerprint
 * (sw_fingerprint: the traces' bytes, the models, the profile, every
 * option that shapes a row), the grid's size and the shard; --merge reads
 * it to know how many runs the shards must hold between them.
 *
 * Records are appended and flushed as runs finish, in completion order
 * (which is why the regression check ignores this file).  A session started
 * again over the same grid takes up every whole record whose checksum
 * holds and runs the rest: a last record cut short (a crash mid-write) is
 * dropped quietly, a damaged one (a checksum that fails, a line that is no
 * record's, a record broken off in the middle) with a note.  A journal of
 * another grid, or of the older format without checksums, is started over,
 * with a note.
 */
#define _GNU_SOURCE /* getline */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/sweep.h"

#define JOURNAL_MAGIC "marconi-sweep-journal 2 "

/* ---- the header ------------------------------------------------------------------------ */

static int header_text(const sweep *s, char *buf, size_t len) {
    return snprintf(buf, len, JOURNAL_MAGIC "grid %016" PRIx64 " runs %zu shard %lld/%lld\n", s->fp, s->ngrid,
                    s->shard, s->nshards);
}

int sw_journal_header(const char *line, sw_journal_head *h) {
    unsigned long long fp, n;
    long long k, nk;
    int end = 0;
    if (strncmp(line, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC))) return -1;
    if (sscanf(line + strlen(JOURNAL_MAGIC), "grid %16llx runs %llu shard %lld/%lld%n", &fp, &n, &k, &nk, &end) != 4)
        return -1;
    const char *rest = line + strlen(JOURNAL_MAGIC) + end;
    if (*rest != '\n' && *rest != '\0') return -1;
    *h = (sw_journal_head){(uint64_t)fp, (size_t)n, k, nk};
    return 0;
}

/* ---- writing ------------------------------------------------------------------------- */

/* Each line of text as "TAG IDX line" into b. */
static int put_lines(mu_buf *b, char tag, size_t idx, const char *text) {
    char head[48];
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        int hn = snprintf(head, sizeof head, "%c %zu ", tag, idx);
        if (mu_buf_put(b, head, (size_t)hn) || mu_buf_put(b, p, n) || mu_buf_put(b, "\n", 1)) return -1;
        p += n + (nl != NULL);
    }
    return 0;
}

void sw_journal_put(sweep *s, size_t idx) {
    if (!s->journal) return;
    mu_buf b = {0};
    int bad = 0;
    for (int k = 0; k < SW_NKIND && !bad; k++) bad = put_lines(&b, sw_files[k].tag, idx, s->out[idx].text[k]);
    if (!bad) { /* out of memory: no record, the run is only not resumable */
        uLong crc = crc32(0L, (const Bytef *)b.p, (uInt)b.len);
        fwrite(b.p, 1, b.len, s->journal);
        fprintf(s->journal, "E %zu %08lx\n", idx, (unsigned long)crc);
        fflush(s->journal); /* a record is on disk before the next run starts it */
    }
    free(b.p);
}

void sw_journal_close(sweep *s) {
    if (s->journal) fclose(s->journal);
    s->journal = NULL;
}

/* ---- reading -------------------------------------------------------------------------- */

/* The record being read. */
typedef struct record {
    size_t idx;             /* its grid index, or (size_t)-1 between records */
    mu_buf text[SW_NKIND];  /* its lines so far, by file, without tags */
    uLong crc;              /* CRC-32 of its lines as written, tags and all */
    size_t lines;           /* how many */
    int bad;                /* a line of it was damaged, or did not fit in memory: dropped */
} record;

static void record_clear(record *r, size_t idx) {
    r->idx = idx;
    r->bad = 0;
    r->lines = 0;
    r->crc = crc32(0L, Z_NULL, 0);
    for (int k = 0; k < SW_NKIND; k++) {
        r->text[k].len = 0;
        if (r->text[k].p) r->text[k].p[0] = '\0';
    }
}

/* The file kind of a line's tag, or -1. */
static int tag_kind(char tag) {
    for (int k = 0; k < SW_NKIND; k++)
        if (sw_files[k].tag == tag) return k;
    return -1;
}

/* At E with checksum crc: the record into s->out when it is whole, sound
 * and new.  Returns 1 taken, 0 not (a run already taken up), -1 damaged. */
static int record_take(sweep *s, const record *r, unsigned long crc) {
    sw_out o = {0};
    if (r->bad || r->crc != crc) return -1;
    if (s->out[r->idx].done) return 0;
    for (int k = 0; k < SW_NKIND; k++) {
        if (sw_files[k].per_run && r->text[k].len == 0) return -1;
        if (!(o.text[k] = strdup(r->text[k].p ? r->text[k].p : ""))) {
            sw_out_free(&o);
            return 0;
        }
    }
    o.done = 1;
    s->out[r->idx] = o;
    return 1;
}

/* Read the records after the first line; returns the runs taken up, the
 * damaged records into *damaged. */
static size_t read_records(sweep *s, FILE *f, size_t *damaged) {
    record r = {.idx = (size_t)-1};
    char *line = NULL;
    size_t cap = 0, got = 0;
    ssize_t n;
    record_clear(&r, (size_t)-1);
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* cut short: the crash was here */
        char tag = line[0], *end = NULL;
        int kind = tag_kind(tag);
        size_t idx = (size_t)-1;
        int ok = (kind >= 0 || tag == 'E') && n >= 4 && line[1] == ' ' && line[2] >= '0' && line[2] <= '9';
        if (ok) {
            idx = strtoull(line + 2, &end, 10);
            ok = idx < s->ngrid && *end == ' ';
        }
        if (!ok) { /* no record's line: whatever record it broke into is damaged */
            r.bad = 1;
            continue;
        }
        if (idx != r.idx) { /* a record broken off by another (an E lost or damaged) */
            if (r.idx != (size_t)-1 && r.lines) ++*damaged;
            record_clear(&r, idx);
        }
        if (tag == 'E') {
            char *cend;
            unsigned long crc = strtoul(end + 1, &cend, 16);
            int t = cend == end + 9 && *cend == '\n' ? record_take(s, &r, crc) : -1;
            if (t > 0) got++;
            if (t < 0) ++*damaged;
            record_clear(&r, (size_t)-1);
            continue;
        }
        r.crc = crc32(r.crc, (const Bytef *)line, (uInt)n);
        r.lines++;
        if (mu_buf_put(&r.text[kind], end + 1, strlen(end + 1))) r.bad = 1;
    }
    for (int k = 0; k < SW_NKIND; k++) free(r.text[k].p);
    free(line);
    return got;
}

/* Take up what a journal of the same grid holds; returns the runs. */
static size_t journal_load(sweep *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL, want[160];
    size_t cap = 0, got = 0, damaged = 0;
    header_text(s, want, sizeof want);
    if (getline(&line, &cap, f) > 0) {
        sw_journal_head h;
        if (strcmp(line, want) == 0) {
            got = read_records(s, f, &damaged);
            if (damaged)
                mu_err(MU_EXIT_OK, "sweep: %s: %zu damaged record%s (checksum or format): running %s again", path,
                       damaged, damaged > 1 ? "s" : "", damaged > 1 ? "those runs" : "that run");
        } else if (!strncmp(line, "marconi-sweep ", 14)) {
            mu_err(MU_EXIT_OK, "sweep: %s is of an older format (records without checksums): starting over", path);
        } else if (sw_journal_header(line, &h) == 0) {
            mu_err(MU_EXIT_OK,
                   "sweep: %s belongs to another grid (other options, or a trace, model file or profile whose "
                   "contents changed): starting over",
                   path);
        } else {
            mu_err(MU_EXIT_OK, "sweep: %s is not a sweep journal: starting over", path);
        }
    }
    free(line);
    fclose(f);
    return got;
}

int sw_journal_open(sweep *s) {
    char path[4200], head[160];
    snprintf(path, sizeof path, "%s/.journal%s", s->dir, s->suffix);
    s->resumed = journal_load(s, path);
    /* rewritten with what it held: records cut short or damaged go, the
     * header is this grid's */
    s->journal = fopen(path, "w");
    if (!s->journal) return mu_err(MU_EXIT_USAGE, "%s:0: cannot write: %s", path, strerror(errno));
    header_text(s, head, sizeof head);
    fputs(head, s->journal);
    for (size_t i = 0; i < s->ngrid; i++)
        if (s->out[i].done) sw_journal_put(s, i);
    fflush(s->journal);
    return MU_EXIT_OK;
}
