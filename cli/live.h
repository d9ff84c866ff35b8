/* live.h -- the command line's side of a replay through the executor
 * (`marconi replay`, `marconi sim --backend`): its options, building the
 * executor behind the cache, and its lines in the table, the JSON object
 * and the per-request CSV (which `marconi sim --per-request` writes too,
 * with the model's times, so the two files diff).
 */
#ifndef MARCONI_CLI_LIVE_H
#define MARCONI_CLI_LIVE_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/report.h"
#include "sim/sim.h"

enum { CLI_BACKEND_NULL = -1 }; /* no executor: times from the TTFT model */

typedef struct cli_live {
    int backend;             /* CLI_BACKEND_NULL, GPU_BACKEND_CPU or GPU_BACKEND_CUDA */
    int bytes;               /* CACHE_BYTES_FORMULA or CACHE_BYTES_REAL */
    int bytes_given;         /* --bytes was given */
    sim_exec_cfg exec;       /* seed, dtype, pool sizes, --check-equivalence */
    const char *per_request; /* --per-request FILE.csv, or NULL */
} cli_live;

/* getopt_long ids of these options; a command's own must stay below. */
#define CLI_LIVE_FIRST 900

/* Defaults: backend as given (replay: GPU_BACKEND_CPU; sim: none). */
void cli_live_init(cli_live *l, int backend);
/* Append the options to a getopt table (cap entries, {0}-terminated).  0,
 * or -1 when cap is too small. */
int cli_live_table(struct option *all, size_t cap);
/* 1 it was one of these options, 0 it was not, MU_EXIT_USAGE a bad value
 * (printed). */
int cli_live_parse(cli_live *l, int c, const char *arg);
/* The options' lines of --help. */
void cli_live_usage(FILE *f);

/* Check the options against the configuration and build the executor for
 * trace tr into cfg (cfg->exec, the cache's store, its byte accounting),
 * and the per-request rows.  Returns MU_EXIT_OK, or an exit code with a
 * message printed. */
int cli_live_start(const cli_live *l, sim_cfg *cfg, const tr_trace *tr, int quirks);
/* Free what cli_live_start made (cfg->exec, cfg->per_request). */
void cli_live_end(sim_cfg *cfg);

/* The replay's lines of the table, and its fields of the JSON object. */
void cli_live_print(FILE *f, const sim_cfg *cfg, const sim_result *r);
void cli_live_report(cli_row *row, const cli_live *l, const sim_cfg *cfg, const sim_result *r);

/* Write cfg->per_request as l->per_request (atomically).  Returns
 * MU_EXIT_OK, or an exit code with a message printed. */
int cli_live_write_rows(const cli_live *l, const sim_cfg *cfg, const tr_trace *tr);

#endif
