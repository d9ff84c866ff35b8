/* sweep_journal.c -- DIR/.journal[SUFFIX]: what lets an interrupted sweep
 * pick up where it stopped.
 *
 *   marconi-sweep 0123456789abcdef     the grid's fingerprint, in hex
 *   C 7 <runs.csv row>                 a record a finished run: each line
 *   J 7 <runs.jsonl line>              of its rows tagged with its file's
 *   B 7 <buckets.csv row>              letter (sw_files[].tag) and its grid
 *   ...                                index,
 *   E 7                                then its end
 *
 * Records are appended and flushed as runs finish, in completion order
 * (which is why the regression check ignores this file).  A session started
 * again over the same grid takes up every whole record and runs the rest; a
 * record without its E, or a last line without its newline (a crash
 * mid-write), is dropped.  A journal of another grid is started over.
 */
#define _GNU_SOURCE /* getline */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/sweep.h"

/* ---- writing ------------------------------------------------------------------------- */

/* Each line of text as "TAG IDX line". */
static void put_lines(FILE *f, char tag, size_t idx, const char *text) {
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "%c %zu %.*s\n", tag, idx, n, p);
        p += n + (nl != NULL);
    }
}

void sw_journal_put(sweep *s, size_t idx) {
    if (!s->journal) return;
    for (int k = 0; k < SW_NKIND; k++) put_lines(s->journal, sw_files[k].tag, idx, s->out[idx].text[k]);
    fprintf(s->journal, "E %zu\n", idx);
    fflush(s->journal); /* a record is on disk before the next run starts it */
}

void sw_journal_close(sweep *s) {
    if (s->journal) fclose(s->journal);
    s->journal = NULL;
}

/* ---- reading -------------------------------------------------------------------------- */

/* The record being read. */
typedef struct record {
    size_t idx;             /* its grid index, or (size_t)-1 between records */
    mu_buf text[SW_NKIND];  /* its lines so far, by file */
    int oom;                /* a line did not fit in memory: the record is dropped */
} record;

static void record_clear(record *r, size_t idx) {
    r->idx = idx;
    r->oom = 0;
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

/* At E: the record into s->out when it is whole and new.  Returns 1 when
 * it was taken up. */
static int record_take(sweep *s, const record *r) {
    sw_out o = {0};
    if (r->oom || s->out[r->idx].done) return 0;
    for (int k = 0; k < SW_NKIND; k++) {
        if (sw_files[k].per_run && r->text[k].len == 0) return 0;
        if (!(o.text[k] = strdup(r->text[k].p ? r->text[k].p : ""))) {
            sw_out_free(&o);
            return 0;
        }
    }
    o.done = 1;
    s->out[r->idx] = o;
    return 1;
}

/* Read the records after the first line; returns the runs taken up. */
static size_t read_records(sweep *s, FILE *f) {
    record r = {.idx = (size_t)-1};
    char *line = NULL;
    size_t cap = 0, got = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* cut short */
        char tag = line[0], *end;
        int kind = tag_kind(tag);
        if ((kind < 0 && tag != 'E') || n < 3 || line[1] != ' ') break;
        size_t idx = strtoull(line + 2, &end, 10);
        if (idx >= s->ngrid || *end != (tag == 'E' ? '\n' : ' ')) break;
        if (idx != r.idx) record_clear(&r, idx); /* a record without its end: dropped */
        if (tag == 'E') {
            got += (size_t)record_take(s, &r);
            record_clear(&r, (size_t)-1);
        } else if (mu_buf_put(&r.text[kind], end + 1, strlen(end + 1))) {
            r.oom = 1;
        }
    }
    for (int k = 0; k < SW_NKIND; k++) free(r.text[k].p);
    free(line);
    return got;
}

/* Take up what a journal of the same grid holds; returns the runs. */
static size_t journal_load(sweep *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL, want[64];
    size_t cap = 0, got = 0;
    snprintf(want, sizeof want, "marconi-sweep %016" PRIx64 "\n", s->fp);
    if (getline(&line, &cap, f) > 0) {
        if (strcmp(line, want) == 0) got = read_records(s, f);
        else fprintf(stderr, "marconi: sweep: %s belongs to another grid: starting over\n", path);
    }
    free(line);
    fclose(f);
    return got;
}

int sw_journal_open(sweep *s) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.journal%s", s->dir, s->suffix);
    s->resumed = journal_load(s, path);
    /* rewritten with what it held: records cut short go, the header is this
     * grid's */
    s->journal = fopen(path, "w");
    if (!s->journal) return mu_err(MU_EXIT_USAGE, "%s:0: cannot write: %s", path, strerror(errno));
    fprintf(s->journal, "marconi-sweep %016" PRIx64 "\n", s->fp);
    for (size_t i = 0; i < s->ngrid; i++)
        if (s->out[i].done) sw_journal_put(s, i);
    return MU_EXIT_OK;
}
