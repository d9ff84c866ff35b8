/* tr_json_int.h -- what the JSONL reader's two files share, private to
 * traces/: tr_json_line.c parses one line (a fast path for the artifact's
 * seven fields, jansson for everything else and for every error message),
 * tr_json.c reads the file (plain or gzip, inflated on a second thread) and
 * builds the trace. */
#ifndef MARCONI_TR_JSON_INT_H
#define MARCONI_TR_JSON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "traces/tr.h"

enum { F_SESSION = 1, F_TURN = 2, F_TS = 4, F_NIN = 8, F_NOUT = 16, F_IN = 32, F_OUT = 64, F_ALL = 127 };

/* A growing array of token IDs. */
typedef struct ivec {
    int32_t *v;   /* values */
    uint32_t n;   /* used */
    uint32_t cap; /* allocated */
} ivec;

/* One parsed line. */
typedef struct line {
    int64_t session_id, turn_id, n_in, n_out;
    double ts;
    ivec in, out;
} line;

/* Append x; 0, or -1 on out of memory. */
int tr_ivec_push(ivec *a, int32_t x);

/* The fast parser: 0 with *L filled when it fully understands line
 * [p, e), else -1 (never an error: the line goes to the slow one). */
int tr_json_fast_line(const char *p, const char *e, line *L);

/* The general parser (jansson): 0 with *L filled, or -1 with err set to
 * "path:ln: what is wrong". */
int tr_json_slow_line(const char *p, size_t n, line *L, const char *path, uint64_t ln, tr_err *err);

#endif
