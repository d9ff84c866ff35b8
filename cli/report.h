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

#define RP_FIELDS_MAX 160

typedef struct rp_row {
    const char *name[RP_FIELDS_MAX]; /* field names (static strings) */
    char *val[RP_FIELDS_MAX];        /* JSON literals (owned) */
    int raw[RP_FIELDS_MAX];          /* 1: JSON only (not a CSV column) */
    int n;                           /* fields */
    int oom;                         /* an allocation failed */
} rp_row;

void rp_str(rp_row *r, const char *name, const char *s); /* NULL: null */
void rp_num(rp_row *r, const char *name, double v);      /* shortest round-trip */
void rp_int(rp_row *r, const char *name, int64_t v);
void rp_uint(rp_row *r, const char *name, uint64_t v);
void rp_i128(rp_row *r, const char *name, fl_i128 v);
void rp_null(rp_row *r, const char *name);
/* A number given as text ("0.25"); a string if it does not read as one. */
void rp_numtext(rp_row *r, const char *name, const char *text);
void rp_raw(rp_row *r, const char *name, const char *json); /* copied */
void rp_free(rp_row *r);

/* The JSON object, one line with "\n". Returns malloc'd text or NULL. */
char *rp_json(const rp_row *r);
/* The CSV header and row (no raw fields), with "\n". Malloc'd or NULL. */
char *rp_csv_header(const rp_row *r);
char *rp_csv(const rp_row *r);

/* Every field of a run: configuration, counters, hit rates, FLOPs, tuner,
 * reuse, TTFT (DES), buckets and tuning scores (raw). */
void sim_report(rp_row *row, const char *trace, const sim_cfg *cfg, const sim_result *res);
/* The composition samples as a raw JSON array. */
void sim_report_composition(rp_row *row, const sim_result *res);

#endif
