/* eng_opts.h -- the engines' switches on the command line (marconi sim):
 * SGLang's and vLLM's own flag names where they have one, and
 * --explain-system, which prints what an engine derives for the model
 * (block size B, C, pools, paddings).  The library half is cache.h's
 * cache_eng_cfg; docs/engine-sglang.md and docs/engine-vllm.md. */
#ifndef MARCONI_CLI_ENG_OPTS_H
#define MARCONI_CLI_ENG_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "sim/sim.h"

/* getopt_long ids of these options (below cli/live.h's 900). */
#define CLI_ENG_FIRST 800

typedef struct cli_eng {
    cache_eng_cfg e;     /* the switches as given (0: the engine's default) */
    int explain;         /* --explain-system */
    long long block;     /* --block-size given for a vllm:* system: B, or 0 */
} cli_eng;

void cli_eng_init(cli_eng *o);
/* Append the options to a getopt table (cap entries, {0}-terminated).  0,
 * or -1 when cap is too small. */
int cli_eng_table(struct option *all, size_t cap);
/* 1 it was one of these options, 0 it was not, MU_EXIT_USAGE a bad value
 * (printed). */
int cli_eng_parse(cli_eng *o, int c, const char *arg);
/* The options' lines of --help. */
void cli_eng_usage(FILE *f);
/* Put the switches into cfg (after cli_opts_apply: a --chunk given and no
 * --chunk-budget makes the budget the DES chunk). */
void cli_eng_apply(const cli_eng *o, sim_cfg *cfg);
/* --explain-system: what cfg's engine derives, a line a value. */
void cli_eng_explain(FILE *f, const sim_cfg *cfg);

#endif
