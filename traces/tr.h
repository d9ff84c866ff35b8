/* tr.h -- request traces: the reference artifact's JSONL format, in memory.
 *
 * A trace is a list of requests, each one turn of a session: its arrival time
 * and its input and output token IDs.  On disk it is the artifact's JSONL
 * (plain or gzip), one object a line:
 *
 *   {"session_id": 3, "turn_id": 1, "ts": 2.5, "num_input_tokens": 4,
 *    "num_output_tokens": 2, "input_tokens": [...], "output_tokens": [...]}
 *
 * In memory, a session's turns repeat their history, so a request is kept as
 * a reference to an earlier request plus the tokens that are new:
 *
 *   req 0 (s0,t0)  base -1          [a b c d | e f]      pool: a b c d e f
 *   req 1 (s0,t1)  base 0, shared 6 [a b c d e f g h | i] pool: g h i
 *   req 2 (s0,t2)  base 1, shared 4 [a b c d x | y]       pool: x y
 *
 * "shared" is the longest common prefix of this request's full sequence
 * (input + output) and its base's full sequence; the pool holds the rest.
 * The pool is laid out session by session, and a request's tokens may start
 * inside what its session stored before: an agent that drops an old
 * observation re-sends the rest of its history, which is stored once.
 * Memory grows with each request's new tokens, not with its whole history.
 * tr_tokens() rebuilds a full sequence into a caller buffer by following the
 * chain (at most one hop per earlier turn as built; a packed trace's bases
 * cross sessions, and its loader shortens the chains so that every hop
 * copies tokens: tr_chains_shorten).
 *
 * Errors: every loader reports "FILE:LINE: message" in a tr_err and returns
 * -1; nothing is kept of a trace that failed to load.
 */
#ifndef MARCONI_TR_H
#define MARCONI_TR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"

#define TR_ERR_MAX 512
#define TR_TOKEN_MAX 0x7fffffff /* token IDs are integers in [0, 2^31) */

typedef struct tr_err {
    char msg[TR_ERR_MAX]; /* "FILE:LINE: message", or "" */
} tr_err;

typedef struct tr_req {
    int64_t session_id; /* session the request belongs to */
    int64_t turn_id;    /* turn within the session, from the file */
    double ts;          /* arrival time, seconds from the trace's start (>= 0) */
    uint32_t n_in;      /* input tokens */
    uint32_t n_out;     /* output tokens (excluding the input) */
    int64_t base;       /* index of an earlier request this one shares a prefix
                           with, or -1 */
    uint32_t n_shared;  /* tokens 0..n_shared-1 are base's tokens 0..n_shared-1 */
    uint64_t off;       /* tokens n_shared..n_in+n_out-1 are pool[off..] */
} tr_req;

typedef struct tr_trace {
    tr_req *req;        /* requests in file order */
    size_t n;           /* number of requests */
    int32_t *pool;      /* new tokens of all requests, concatenated */
    uint64_t pool_len;  /* tokens in pool */
    uint32_t max_len;   /* longest n_in + n_out, to size tr_tokens() buffers */
    uint64_t total_in;  /* sum of n_in */
    uint64_t total_out; /* sum of n_out */
    size_t n_sessions;  /* distinct session_ids */
    char *path;         /* file it came from (owned), or NULL */
} tr_trace;

/* Read a JSONL trace (plain or gzip; tr_json.c); tr_load() calls it. */
int tr_load_jsonl(const char *path, tr_trace *t, tr_err *err);

/* Load a trace, detecting its format from its first bytes (tr_load.c):
 * packed (see tr_pack.h, magic "MTRACE"), else JSONL, gzip'd (1f 8b) or
 * plain.  Returns 0, or -1 with err set; *t is zeroed on failure. */
int tr_load(const char *path, tr_trace *t, tr_err *err);

/* Free everything a loaded or built trace owns; t is left zeroed. */
void tr_free(tr_trace *t);

/* Rebuild request i's full sequence (input then output) into buf, which
 * holds at least t->max_len tokens.  Returns n_in + n_out. */
uint32_t tr_tokens(const tr_trace *t, size_t i, int32_t *buf);

/* The chains tr_tokens() follows (tr_chain.c).  tr_chains_measure counts,
 * over one rebuild of every request, the requests visited (steps) and the
 * visits that copied tokens (copies); steps - copies are hops that only
 * pass a prefix through.  tr_chains_shorten re-bases every request on the
 * nearest ancestor of its chain that copies tokens (the same tokens come
 * out, each hop then copies at least one), in place, allocating nothing;
 * it returns the requests re-based.  It needs t's invariants: every base
 * earlier, n_shared no longer than the base's sequence.  tr_pack_load
 * calls it; the builder's bases (the session's previous turn) are left as
 * they are: their chains are at most one hop per earlier turn. */
typedef struct tr_chains {
    uint64_t steps;     /* requests visited, all requests rebuilt once */
    uint64_t copies;    /* of them, visits that copied tokens */
    uint64_t max_steps; /* most visits for one request */
    uint64_t tokens;    /* tokens rebuilt (sum of n_in + n_out) */
} tr_chains;
void tr_chains_measure(const tr_trace *t, tr_chains *c);
uint64_t tr_chains_shorten(tr_trace *t);

/* Building a trace request by request (the JSONL reader, the packed reader
 * and the generators use this).  tr_builder_add copies tokens; it finds the
 * base (the session's previous request) and stores only the new tokens.
 * Returns 0, or -1 on out-of-memory (err set). */
typedef struct tr_builder tr_builder;
tr_builder *tr_builder_new(void);
int tr_builder_add(tr_builder *b, int64_t session_id, int64_t turn_id, double ts, const int32_t *in,
                   uint32_t n_in, const int32_t *out, uint32_t n_out, tr_err *err);
/* Requests added so far. */
size_t tr_builder_count(const tr_builder *b);
/* Move the result into *t (the builder is freed either way). */
int tr_builder_finish(tr_builder *b, tr_trace *t, const char *path, tr_err *err);
void tr_builder_free(tr_builder *b);

/* Write a trace as JSONL (gzip when path ends in ".gz"), via a temp file in
 * the same folder renamed into place, so a failed write leaves no partial
 * file.  Returns 0, or -1 with err set. */
int tr_write_jsonl(const tr_trace *t, const char *path, tr_err *err);

/* Format one request as a JSONL line (no newline) into a growing buffer;
 * used by tr_write_jsonl and the generators. Returns 0 or -1 on OOM. */
int tr_format_req(mu_buf *b, int64_t session_id, int64_t turn_id, double ts, const int32_t *in,
                  uint32_t n_in, const int32_t *out, uint32_t n_out);

/* Set err to "path:line: fmt..." */
void tr_errf(tr_err *err, const char *path, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- what the readers share (tr_json.c, tr_pack.c, tr_convert.c, tr_tok.c) ---- */

/* Arrival order.  A trace lists its requests as they arrive: ts never
 * decreases from one request to the next, and within a session turn_id
 * increases (so no (session_id, turn_id) repeats).  The readers enforce it
 * (the builder takes a session's previous request as its base, and the
 * replay takes requests in file order: a trace out of order would replay
 * differently from what its ts say).  tr_order_check is given each request
 * with where it is (a line of a JSONL file, an index of a packed one, named
 * by unit: "line", "request"); it returns 0, or -1 with why set ("\"ts\" 1.5
 * is earlier than line 4's 7: ...").  tr_order_free releases its table. */
typedef struct tr_order {
    double ts;             /* the latest ts, and where it was */
    uint64_t ts_at;
    int any;               /* a request was seen */
    struct tr_order_s *s;  /* sessions: last turn and where (open addressing) */
    size_t n, cap;         /* sessions, slots */
} tr_order;
int tr_order_check(tr_order *o, int64_t session_id, int64_t turn_id, double ts, uint64_t at, const char *unit,
                   char *why, size_t whylen);
void tr_order_free(tr_order *o);

/* Is the whole trace in arrival order (as above)?  The writers check, so
 * that nothing is written that the readers would refuse.  0, or -1 with
 * err set ("path:0: request 5: ..."). */
int tr_check_order(const tr_trace *t, const char *path, tr_err *err);

/* Is fd (opened on path) something a reader can read?  0, or -1 with err
 * set: "path:0: is a directory, not WHAT". */
int tr_check_fd(int fd, const char *path, const char *what, tr_err *err);

/* Does p[0..n) begin with a UTF-8 byte-order mark (EF BB BF)?  The readers
 * name it (TR_BOM_MSG) rather than report an invisible character. */
int tr_has_bom(const void *p, size_t n);
#define TR_BOM_MSG "a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one"

/* Copy s into out (outlen bytes, NUL-terminated), with what a terminal
 * would not show spelled out: control bytes as \xNN, invisible code points
 * as U+XXXX and their name (U+200B (a zero-width space)), so an error
 * quoting a bad token shows what is there. */
void tr_visible(const char *s, char *out, size_t outlen);

/* For the tests and the fuzz targets: parse one JSONL line with both
 * parsers of tr_json.c.  Returns 1 when the fast parser takes it (and then
 * jansson must read the same values), 0 when it leaves it to jansson, -1
 * when they disagree (a bug). */
int tr_jsonl_line_selfcheck(const char *p, size_t n);

#endif
