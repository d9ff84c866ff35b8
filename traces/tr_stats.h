/* tr_stats.h -- what a trace holds: sizes, length percentiles, arrival
 * rate, and the oracle token hit rate -- the share of input tokens that an
 * infinite cache keeping every earlier request's input and output could
 * serve, which no real cache can beat.
 *
 * Oracle, per request r (in file order, which is arrival order):
 *
 *   hit(r) = max over r' < r of LCP(input(r), input(r') + output(r'))
 *
 * (never more than n_in(r)).  The hit goes to "same session" (input and
 * output reuse: the conversation's own history) when an earlier request of
 * r's session reaches that length, else to "cross session" (purely-input
 * reuse: a shared system prompt, a shared document).
 *
 * It is computed with a compressed prefix tree over the full sequences
 * (tr_ptrie below): a request's input is matched, then its full sequence is
 * inserted.  Edge labels point into the trace's token pool, never copied,
 * so the tree costs a few dozen bytes per request whatever the lengths.
 */
#ifndef MARCONI_TR_STATS_H
#define MARCONI_TR_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "traces/tr.h"

/* A distribution summary; percentiles interpolate linearly between the
 * sorted values (numpy's default), so they compare with the artifact's
 * numbers. */
typedef struct tr_dist {
    uint64_t n;        /* values */
    double mean, sd;   /* mean and (population) standard deviation */
    double min;        /* smallest */
    double p5, p50, p95, p99;
    double max;        /* largest */
} tr_dist;

typedef struct tr_stats {
    uint64_t requests;        /* requests */
    uint64_t sessions;        /* distinct session_ids */
    tr_dist turns;            /* requests per session */
    tr_dist in;               /* input tokens per request */
    tr_dist out;              /* output tokens per request */
    tr_dist first_in;         /* input tokens of each session's first request */
    tr_dist new_in;           /* later requests: n_in minus the session's previous
                                 request's n_in + n_out (the new message; negative
                                 where history was dropped) */
    double ts_first, ts_last; /* earliest and latest arrival, s */
    double span;              /* ts_last - ts_first, s */
    double req_rate;          /* requests per second over the span (0 if no span) */
    double sess_rate;         /* sessions per second over the span */
    uint64_t total_in;        /* sum of n_in */
    uint64_t total_out;       /* sum of n_out */
    uint64_t unique_tokens;   /* tokens in the prefix tree of all full sequences:
                                 what an infinite prefix cache would hold */
    uint64_t distinct_ids;    /* distinct token IDs */
    uint64_t hit;             /* oracle hit tokens */
    uint64_t hit_same;        /* ... from the same session (input and output reuse) */
    uint64_t hit_cross;       /* ... from other sessions (purely-input reuse) */
    double hit_rate;          /* hit / total_in */
    double same_rate;         /* hit_same / total_in */
    double cross_rate;        /* hit_cross / total_in */
    double seconds;           /* time to compute all this */
} tr_stats;

/* Compute everything.  Returns 0, or -1 with err set on out-of-memory. */
int tr_stats_compute(const tr_trace *t, tr_stats *s, tr_err *err);

/* Print as a table, or as one JSON object (keys: trace, requests, sessions,
 * oracle_token_hit_rate, ... see docs/traces.md). */
void tr_stats_print(FILE *f, const tr_trace *t, const tr_stats *s);
void tr_stats_print_json(FILE *f, const tr_trace *t, const tr_stats *s);

/* Summarise n values (sorted in place). */
void tr_dist_of(double *v, uint64_t n, tr_dist *d);

/* ---- the prefix tree ---------------------------------------------------------- *
 * A radix tree over token sequences, holding any number of separate trees
 * (roots).  Nodes remember the latest request inserted through them.
 * Labels are borrowed: an insert says where its tokens live for good
 * (segments), and only tokens no segment covers are copied. */
typedef struct tr_ptrie tr_ptrie;

typedef struct tr_seg {
    uint32_t from;      /* first position of the sequence this covers */
    uint32_t len;       /* tokens */
    const int32_t *tok; /* tok[k] is the sequence's token from + k, for good */
} tr_seg;

/* A new, empty set of trees; NULL on OOM. */
tr_ptrie *tr_ptrie_new(void);
void tr_ptrie_free(tr_ptrie *p);

/* Start a new empty tree; returns its root, or -1 on OOM. */
int64_t tr_ptrie_root(tr_ptrie *p);

/* Length of the longest prefix of seq[0..n) in tree `root`; *who (if not
 * NULL) gets the latest request inserted through that point, -1 when the
 * match is empty. */
uint32_t tr_ptrie_match(const tr_ptrie *p, int64_t root, const int32_t *seq, uint32_t n, int64_t *who);

/* Insert seq[0..n) as request `who`.  seg[0..nseg) (sorted by from, not
 * overlapping) say where its tokens live for good.  Returns the tokens the
 * tree grew by, or -1 on OOM (the tree stays valid and may hold a prefix of
 * seq). */
int64_t tr_ptrie_insert(tr_ptrie *p, int64_t root, const int32_t *seq, uint32_t n, const tr_seg *seg, uint32_t nseg,
                        int64_t who);

/* The segments of seq's path in tree `root` (seq must be in it, e.g. just
 * inserted): labels that stay valid as long as the tree.  *seg is grown as
 * needed (realloc); returns their count, or -1 on OOM. */
int64_t tr_ptrie_path(const tr_ptrie *p, int64_t root, const int32_t *seq, uint32_t n, tr_seg **seg, uint32_t *cap);

#endif
