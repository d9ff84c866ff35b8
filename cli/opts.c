/* opts.c -- the shared replay options (see opts.h). */
#include "base/err.h"
#include "cli/opts.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

enum { SO_TIMING = CLI_OPT_FIRST, SO_TTFT, SO_MFU, SO_GPUS, SO_TPOT, SO_CHUNK, SO_NOVAN, SO_BUCKETS, SO_BOOT,
       SO_RETUNE, SO_SCORE, SO_COMPAT, SO_QUIRKS, SO_COMP, SO_TUNER, SO_HORIZON, SO_EPOCH, SO_STRIDE,
       SO_SAMPLE };

static const struct option shared[] = {
    {"timing", required_argument, 0, SO_TIMING},  {"ttft-model", required_argument, 0, SO_TTFT},
    {"mfu", required_argument, 0, SO_MFU},        {"gpus", required_argument, 0, SO_GPUS},
    {"tpot", required_argument, 0, SO_TPOT},      {"chunk", required_argument, 0, SO_CHUNK},
    {"no-vanilla", no_argument, 0, SO_NOVAN},     {"buckets", required_argument, 0, SO_BUCKETS},
    {"bootstrap", required_argument, 0, SO_BOOT}, {"retune", no_argument, 0, SO_RETUNE},
    {"score-last", required_argument, 0, SO_SCORE}, {"compat", required_argument, 0, SO_COMPAT},
    {"quirks", required_argument, 0, SO_QUIRKS},  {"composition", no_argument, 0, SO_COMP},
    {"tuner", required_argument, 0, SO_TUNER},    {"horizon", required_argument, 0, SO_HORIZON},
    {"epoch", required_argument, 0, SO_EPOCH},    {"ghost-stride", required_argument, 0, SO_STRIDE},
    {"ghost-sample", required_argument, 0, SO_SAMPLE},
    {0, 0, 0, 0}};

void cli_opts_init(cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->timing = -1;
    o->ttft = "h100";
    o->mfu = -1;
    o->gpus = 1;
    o->tpot_ms = 20;
    o->vanilla = 1;
    o->buckets = "0,1000,2000,4000,8000,16000,32000,inf";
    o->boot = 5;
    o->score = 500;
    o->horizon = 0;
    o->epoch = 0;
    o->stride = 0;
}

int cli_opts_table(const struct option *own, struct option *all, size_t cap) {
    size_t n = 0;
    for (const struct option *p = own; p->name; p++) {
        if (n + 1 >= cap) return -1;
        all[n++] = *p;
    }
    for (const struct option *p = shared; p->name; p++) {
        if (n + 1 >= cap) return -1;
        all[n++] = *p;
    }
    memset(&all[n], 0, sizeof all[n]);
    return 0;
}

int cli_opts_parse(cli_opts *o, int c, const char *arg) {
    switch (c) {
    case SO_TIMING:
        if (!strcmp(arg, "des")) o->timing = SIM_DES;
        else if (!strcmp(arg, "logical")) o->timing = SIM_LOGICAL;
        else return mu_bad_opt("timing", arg, "is not a timing (des, logical)");
        return 1;
    case SO_TTFT: o->ttft = arg; return 1;
    case SO_MFU:
        if (mu_parse_double(arg, &o->mfu) || !(o->mfu > 0) || o->mfu > 1) return mu_bad_opt("mfu", arg, "is not a number in (0, 1]");
        return 1;
    case SO_GPUS:
        if (mu_parse_long(arg, 1, 4096, &o->gpus)) return mu_bad_opt("gpus", arg, "is not a GPU count in [1, 4096]");
        return 1;
    case SO_TPOT:
        if (mu_parse_double(arg, &o->tpot_ms) || !(o->tpot_ms >= 0) || o->tpot_ms > 1e6)
            return mu_bad_opt("tpot", arg, "is not a number of ms in [0, 1e6]");
        return 1;
    case SO_CHUNK:
        if (mu_parse_long(arg, 1, 1LL << 30, &o->chunk)) return mu_bad_opt("chunk", arg, "is not a token count in [1, 2^30]");
        return 1;
    case SO_NOVAN: o->vanilla = 0; return 1;
    case SO_BUCKETS: o->buckets = arg; return 1;
    case SO_BOOT:
        if (mu_parse_long(arg, 1, 1000000, &o->boot)) return mu_bad_opt("bootstrap", arg, "is not an integer in [1, 1000000]");
        return 1;
    case SO_RETUNE: o->retune = 1; return 1;
    case SO_TUNER:
        if (!(o->tuner = tun_find_method(arg))) return mu_bad_opt("tuner", arg, "is not a tuner (once, retune, shadow, bandit)");
        return 1;
    case SO_HORIZON:
        if (mu_parse_long(arg, 1, 1LL << 40, &o->horizon))
            return mu_bad_opt("horizon", arg, "is not a request count in [1, 2^40]");
        return 1;
    case SO_EPOCH:
        if (mu_parse_long(arg, 1, 1000000, &o->epoch)) return mu_bad_opt("epoch", arg, "is not an integer in [1, 1000000]");
        return 1;
    case SO_STRIDE:
        if (mu_parse_long(arg, 1, TUN_GRID_MAX, &o->stride)) return mu_bad_opt("ghost-stride", arg, "is not an integer in [1, 256]");
        return 1;
    case SO_SAMPLE:
        if (!strcmp(arg, "auto")) o->sample = 0;
        else if (mu_parse_long(arg, 1, 1 << 20, &o->sample))
            return mu_bad_opt("ghost-sample", arg, "is not auto or an integer in [1, 2^20]");
        return 1;
    case SO_SCORE:
        /* 0 is defined: score over every request replayed so far (the
         * tuner's cache_window_flops(.., 0)), as a count >= the replay's
         * length does */
        if (mu_parse_long(arg, 0, 1LL << 40, &o->score))
            return mu_bad_opt("score-last", arg, "is not a request count in [0, 2^40] (0: all of them)");
        return 1;
    case SO_COMPAT:
        if (!strcmp(arg, "reference")) o->quirks = CQ_REFERENCE;
        else if (!strcmp(arg, "none")) o->quirks = 0;
        else return mu_bad_opt("compat", arg, "is not a mode (none, reference)");
        return 1;
    case SO_QUIRKS:
        if (cache_parse_quirks(arg, &o->quirks)) return mu_bad_opt("quirks", arg, "names an unknown quirk (marconi sim --help)");
        return 1;
    case SO_COMP: o->composition = 1; return 1;
    }
    return 0;
}

int cli_opts_compat(const cli_opts *o) { return o->quirks == CQ_REFERENCE; }

int cli_opts_apply(const cli_opts *o, sim_cfg *cfg) {
    cfg->cache.quirks = o->quirks;
    cfg->timing = o->timing >= 0 ? o->timing : cli_opts_compat(o) ? SIM_LOGICAL : SIM_DES;
    cfg->tpot = o->tpot_ms / 1e3;
    cfg->chunk = (uint32_t)o->chunk;
    cfg->vanilla = o->vanilla;
    cfg->tuner.multiplier = (int)o->boot;
    cfg->tuner.retune = o->retune;
    cfg->tuner.score_last = (size_t)o->score;
    cfg->tuner.horizon = (size_t)o->horizon;
    cfg->tuner.epoch = (size_t)o->epoch;
    cfg->tuner.stride = (int)o->stride;
    cfg->tuner.sample = (int)o->sample;
    /* the reference tunes once; otherwise the default adaptive method */
    cfg->tuner.method = o->tuner ? o->tuner : o->retune ? &tun_retune : cli_opts_compat(o) ? &tun_once : CLI_TUNER_DEFAULT;
    if (sim_parse_buckets(o->buckets, cfg))
        return mu_bad_opt("buckets", o->buckets, "is not an increasing list of token counts (e.g. 0,4000,inf)");
    char err[600];
    ttft_free(&cfg->ttft);
    if (ttft_load(o->ttft, &cfg->ttft, err, sizeof err) != 0) {
        /* a profile's own errors name its FILE:LINE already */
        if (!strncmp(o->ttft, "profile:", 8)) return mu_err(MU_EXIT_USAGE, "%s", err);
        return mu_err(MU_EXIT_USAGE, "--ttft-model: %s", err);
    }
    if (o->mfu > 0) cfg->ttft.mfu = o->mfu;
    if (o->gpus > 1 && ttft_scale(&cfg->ttft, (int)o->gpus))
        return mu_bad_opt("gpus", o->ttft, "is a measured profile: --gpus scales roofline models only");
    return 0;
}
