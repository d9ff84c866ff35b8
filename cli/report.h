/* report.h -- one place that turns a run into named fields, written as a
 * JSON object (`marconi sim --json`, sweep runs.jsonl) or a CSV row (sweep
 * runs.csv), so the two never disagree.
 *
 * A row is an ordered list of (name, value) where the value is already a
 * JSON literal; "raw" fields (arrays, objects) go to JSON only. */
#ifndef MARCONI_REPORT_H
#define MARCONI_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"

#define CLI_ROW_FIELDS_MAX 160

typedef struct cli_row {
    const char *name[CLI_ROW_FIELDS_MAX]; /* field names (static strings) */
    char *val[CLI_ROW_FIELDS_MAX];        /* JSON literals (owned) */
    int raw[CLI_ROW_FIELDS_MAX];          /* 1: JSON only (not a CSV column) */
    int n;                           /* fields */
    int oom;                         /* an allocation failed */
} cli_row;

void cli_row_str(cli_row *r, const char *name, const char *s); /* NULL: null */
void cli_row_num(cli_row *r, const char *name, double v);      /* shortest round-trip */
void cli_row_int(cli_row *r, const char *name, int64_t v);
void cli_row_uint(cli_row *r, const char *name, uint64_t v);
void cli_row_i128(cli_row *r, const char *name, fl_i128 v);
void cli_row_null(cli_row *r, const char *name);
/* A number given as text ("0.25"); a string if it does not read as one. */
void cli_row_numtext(cli_row *r, const char *name, const char *text);
void cli_row_raw(cli_row *r, const char *name, const char *json); /* copied */
void cli_row_free(cli_row *r);

/* The JSON object, one line with "\n". Returns malloc'd text or NULL. */
char *cli_row_json(const cli_row *r);
/* The CSV header and row (no raw fields), with "\n". Malloc'd or NULL. */
char *cli_row_csv_header(const cli_row *r);
char *cli_row_csv(const cli_row *r);

/* Every field of a run: configuration, counters, hit rates, FLOPs, tuner,
 * reuse, TTFT (DES), buckets and tuning scores (raw). */
void cli_report(cli_row *row, const char *trace, const sim_cfg *cfg, const sim_result *res);
/* The miss explanation (res->explained): "misses" and "misses_flops"
 * objects by class, "miss_causes" (capacity and in-flight tokens by what
 * removed their state), the plain and the system's infinite-cache oracle
 * hits (docs/explain.md). */
void cli_report_misses(cli_row *row, const sim_result *res);

/* The offline bounds of a run (sim --bound, sweep --bound; docs/bounds.md). */
typedef struct cli_bounds {
    int on;                     /* computed (--bound) */
    uint64_t hit_tokens;        /* sim_bound's upper bound on hit tokens */
    fl_i128 flops_saved;        /* ... on FLOPs saved */
    uint64_t belady_hit_tokens; /* a belady replay of the same configuration */
    fl_i128 belady_flops;       /* its FLOPs saved */
} cli_bounds;
/* The bound of cfg on tr and a belady replay (logical timing, no
 * executor) into *bd.  Returns 0, or -1 with err set (quirks, OOM). */
int cli_bounds_run(const tr_trace *tr, const sim_cfg *cfg, cli_bounds *bd, char *err, size_t errlen);
/* bound_hit_tokens, bound_token_hit_rate, bound_flops_saved, then belady's
 * three, rates over res's input tokens. */
void cli_report_bounds(cli_row *row, const cli_bounds *bd, const sim_result *res);
/* The composition samples as a raw JSON array. */
void cli_report_composition(cli_row *row, const sim_result *res);

#endif
