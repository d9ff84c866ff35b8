/* cache_opts.c -- the cache options of sim and explain (see cache_opts.h). */
#include "cli/cache_opts.h"

#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"

enum { CO_SYSTEM = CLI_CACHE_FIRST, CO_CAP, CO_ADM, CO_EV, CO_ALPHA, CO_THREADS, CO_BLOCK, CO_MODEL, CO_MODELF,
       CO_CHECK };

static const struct option cache_opts[] = {
    {"system", required_argument, 0, CO_SYSTEM},    {"capacity", required_argument, 0, CO_CAP},
    {"admission", required_argument, 0, CO_ADM},    {"eviction", required_argument, 0, CO_EV},
    {"alpha", required_argument, 0, CO_ALPHA},      {"threads", required_argument, 0, CO_THREADS},
    {"block-size", required_argument, 0, CO_BLOCK}, {"model", required_argument, 0, CO_MODEL},
    {"model-file", required_argument, 0, CO_MODELF}, {"check", no_argument, 0, CO_CHECK},
    {0, 0, 0, 0}};

void cli_cache_init(cli_cache *o) {
    memset(o, 0, sizeof *o);
    o->system = "marconi";
    o->capacity = -1;
    o->threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->threads < 1) o->threads = 1;
    o->block = 32;
}

int cli_cache_table(struct option *all, size_t cap) { return cli_table_append(all, cap, cache_opts); }

int cli_cache_parse(cli_cache *o, int c, const char *arg) {
    switch (c) {
    case CO_SYSTEM:
        if (cli_check_system("system", arg)) return MU_EXIT_USAGE;
        o->system = arg;
        return 1;
    case CO_CAP:
        if (mu_parse_bytes(arg, &o->capacity) || !(o->capacity > 0))
            return mu_bad_opt("capacity", arg, "is not a positive byte count (3e9, 3GB, 2.5GiB)");
        return 1;
    case CO_ADM:
        if (!adm_find(arg)) return mu_bad_opt("admission", arg, "is not an admission policy (judicious, leaf, block)");
        o->adm = arg;
        return 1;
    case CO_EV:
        if (cli_check_eviction("eviction", arg)) return MU_EXIT_USAGE;
        o->ev = arg;
        return 1;
    case CO_ALPHA:
        if (mu_parse_double(arg, &o->alpha) || !(o->alpha >= 0) || o->alpha > 1e6)
            return mu_bad_opt("alpha", arg, "is not a number in [0, 1e6]");
        return 1;
    case CO_THREADS:
        if (mu_parse_long(arg, 1, 4096, &o->threads)) return mu_bad_opt("threads", arg, "is not an integer in [1, 4096]");
        return 1;
    case CO_BLOCK:
        if (mu_parse_long(arg, 1, 1 << 20, &o->block)) return mu_bad_opt("block-size", arg, "is not an integer in [1, 2^20]");
        o->block_given = 1;
        return 1;
    case CO_MODEL: o->model = arg; return 1;
    case CO_MODELF: o->model_file = arg; return 1;
    case CO_CHECK: o->check = 1; return 1;
    }
    return 0;
}

int cli_cache_model(const cli_cache *o, fl_model *m) {
    char err[600];
    if (o->model && fl_preset(o->model, m) != 0)
        return mu_bad_opt("model", o->model, "is not a model preset (hybrid-7b, tiny, tiny-gqa)");
    if (o->model_file && fl_load_json(o->model_file, m, err, sizeof err) != 0) return mu_err(MU_EXIT_USAGE, "%s", err);
    return 0;
}

int cli_cache_apply(const cli_cache *o, sim_cfg *cfg) {
    int rc = cli_cache_model(o, &cfg->cache.model);
    if (rc) return rc;
    if (o->adm) cfg->cache.adm = adm_find(o->adm);
    if (o->ev) cfg->cache.ev = evict_find(o->ev);
    cfg->cache.alpha = o->alpha;
    cfg->cache.block_size = (uint32_t)o->block;
    cfg->tuner.threads = (int)o->threads;
    cfg->check = o->check;
    return 0;
}

int cli_cache_load(const sim_cfg *cfg, const char *path, tr_trace *tr) {
    char err[600];
    if (cache_cfg_check(&cfg->cache, err, sizeof err) != 0) return mu_err(MU_EXIT_USAGE, "--capacity: %s", err);
    tr_err terr;
    if (tr_load(path, tr, &terr) != 0) return mu_err(MU_EXIT_USAGE, "%s", terr.msg);
    return 0;
}
