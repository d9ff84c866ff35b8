/* cache_opts.h -- the cache options `marconi sim` (and replay) and
 * `marconi explain` share: the system, its capacity, admission and
 * eviction overrides, alpha, tuner threads, block size, the model and
 * --check.  One table, one parser (the same messages in every command),
 * one place that puts them into a sim_cfg. */
#ifndef MARCONI_CLI_CACHE_OPTS_H
#define MARCONI_CLI_CACHE_OPTS_H

#include <getopt.h>
#include <stddef.h>

#include "sim/sim.h"

/* getopt_long ids of these options (below cli/eng_opts.h's 800): a
 * command's own ids must stay below. */
#define CLI_CACHE_FIRST 700

typedef struct cli_cache {
    const char *system;     /* --system (default marconi) */
    double capacity;        /* --capacity in bytes, or -1: not given */
    const char *adm, *ev;   /* --admission, --eviction, or NULL: the preset's */
    double alpha;           /* --alpha */
    long long threads;      /* --threads (default: the cores online) */
    long long block;        /* --block-size */
    int block_given;        /* --block-size was given (an engine's B follows it) */
    const char *model;      /* --model, or NULL: the preset's */
    const char *model_file; /* --model-file, or NULL */
    int check;              /* --check */
} cli_cache;

void cli_cache_init(cli_cache *o);
/* Append the options to a getopt table (cap entries, {0}-terminated).  0,
 * or -1 when cap is too small. */
int cli_cache_table(struct option *all, size_t cap);
/* 1 it was one of these options, 0 it was not, MU_EXIT_USAGE a bad value
 * ("marconi: --NAME: ..." printed). */
int cli_cache_parse(cli_cache *o, int c, const char *arg);
/* Load --model, then --model-file, into m.  0, or MU_EXIT_USAGE with a
 * message printed. */
int cli_cache_model(const cli_cache *o, fl_model *m);
/* The model, the overrides, alpha, block size, threads and --check into
 * cfg (made by sim_default_cfg for o->system).  0, or MU_EXIT_USAGE with a
 * message printed. */
int cli_cache_apply(const cli_cache *o, sim_cfg *cfg);
/* The last checks before a replay, in the order the commands report them:
 * cfg's cache as a whole (cache_cfg_check: "--capacity: why"), then the
 * trace at path loaded into tr.  0, or MU_EXIT_USAGE with a message
 * printed (tr is then the caller's to free either way). */
int cli_cache_load(const sim_cfg *cfg, const char *path, tr_trace *tr);

#endif
