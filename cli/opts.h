/* opts.h -- the replay options `marconi sim` and `marconi sweep` share:
 * timing and prefill model, tuner, reference compatibility, buckets.  One
 * table, one parser, one place that turns them into a sim_cfg. */
#ifndef MARCONI_OPTS_H
#define MARCONI_OPTS_H

#include <getopt.h>
#include <stddef.h>

#include "sim/sim.h"

typedef struct cli_opts {
    int timing;          /* SIM_DES, SIM_LOGICAL, or -1: des unless the reference's quirks are on */
    const char *ttft;    /* --ttft-model */
    double mfu;          /* --mfu, or -1: the model's own */
    long long gpus;      /* --gpus */
    double tpot_ms;      /* --tpot, ms per output token */
    long long chunk;     /* --chunk, tokens a prefill step (0: whole requests) */
    int vanilla;         /* 0 with --no-vanilla */
    const char *buckets; /* --buckets */
    long long boot;      /* --bootstrap */
    int retune;          /* --retune */
    long long score;     /* --score-last (0: score over every request so far) */
    unsigned quirks;     /* --compat / --quirks: CQ_ bits */
    int composition;     /* --composition */
    const tun_method *tuner; /* --tuner, or NULL: CLI_TUNER_DEFAULT (once with --compat reference) */
    long long horizon;   /* --horizon: the shadow's / bandit's decay horizon in requests */
    long long stride;    /* --ghost-stride: the shadow's ghosts at every stride-th alpha */
    long long sample;    /* --ghost-sample: the shadow's ghosts replay 1 session in this many (0: auto) */
    long long epoch;     /* --epoch: requests between the shadow's leader checks / a bandit arm's play */
} cli_opts;

/* marconi's tuner when --tuner is not given (and not --compat reference). */
#define CLI_TUNER_DEFAULT (&tun_shadow)

/* getopt_long ids of the shared options start here: a command's own ids
 * must stay below. */
#define CLI_OPT_FIRST 1000

void cli_opts_init(cli_opts *o);
/* Copy a command's own options, then the shared ones, into all (cap
 * entries, {0}-terminated).  Returns 0, or -1 when cap is too small. */
int cli_opts_table(const struct option *own, struct option *all, size_t cap);
/* Handle getopt_long's c with its argument: 1 it was a shared option, 0 it
 * was not, 2 a bad value ("marconi: --NAME: ..." printed: exit 2). */
int cli_opts_parse(cli_opts *o, int c, const char *arg);
/* Fill cfg's timing, prefill model, tuner, quirks, buckets and baseline
 * from o.  Returns 0, or 2 with a message printed. */
int cli_opts_apply(const cli_opts *o, sim_cfg *cfg);
/* Is the whole reference compatibility on? */
int cli_opts_compat(const cli_opts *o);

#endif
