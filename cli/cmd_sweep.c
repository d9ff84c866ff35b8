/* cmd_sweep.c -- `marconi sweep`: its options, and its steps in order.
 * The work is in cli/sweep_*.c; cli/sweep.h says which file does what.
 *
 * Every check that can refuse a sweep (options, axes, models, capacities,
 * the shard, the output folder) comes before the first run, so a bad grid
 * costs no run and leaves no file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cache/cache.h"
#include "cli/cli.h"
#include "cli/cmds.h"
#include "cli/opts.h"
#include "cli/sweep.h"

static void usage(FILE *f) {
    char presets[256] = "";
    for (int i = 0; fl_preset_names[i]; i++) {
        if (i) strcat(presets, ", ");
        strcat(presets, fl_preset_names[i]);
    }
    fprintf(f,
            "usage: marconi sweep --trace T [--trace T ...] --capacity LIST [options]\n"
            "       marconi sweep --merge DIR\n"
            "\n"
            "Run a grid of simulations and write tidy results into DIR:\n"
            "  runs.csv (one row a run, every parameter and metric a column), runs.jsonl\n"
            "  (the same, plus tuner scores and length buckets), buckets.csv (hit rate and\n"
            "  TTFT by input length), composition.csv (with --composition).\n"
            "\n"
            "grid:\n"
            "  --trace T         a trace file (or a comma-separated list), or a generator\n"
            "                    spec whose values may be lists, e.g.\n"
            "                    lmsys:sps=0.25,0.5,1,2,5,10 or swebench:sps=1,art=5,7.5,10\n"
            "                    (marconi gen --help lists the knobs); repeatable\n"
            "  --systems LIST    vllm+,sglang+,marconi,marconi-static (default: the first three)\n"
            "  --alpha LIST      alphas of marconi-static (default 0,0.1,...,2); also\n"
            "                    marconi's starting alpha (the first value)\n"
            "  --capacity LIST   bytes: 1e9,3GB,2.5GiB (required)\n"
            "  --block-size LIST block sizes of block admission (vllm+) (default 32)\n"
            "  --model LIST      presets (%s) or model JSON files\n"
            "                    (default hybrid-7b)\n"
            "\n"
            "every run: --timing, --ttft-model, --mfu, --gpus, --tpot, --chunk, --no-vanilla,\n"
            "  --buckets, --bootstrap, --retune, --score-last, --tuner, --horizon, --epoch,\n"
            "  --ghost-stride, --ghost-sample, --compat, --quirks, --composition:\n"
            "  as in marconi sim (default --timing des; logical with --compat reference)\n"
            "  --bound           add the offline bounds' columns (bound_hit_tokens,\n"
            "                    bound_flops_saved, belady_*; as sim --bound, docs/bounds.md)\n"
            "\n"
            "execution:\n"
            "  -j N              threads (default: the cores online); results do not depend on it\n"
            "  -o DIR            output folder (default results)\n"
            "  --shard K/N       run grid indices i with i mod N == K (0 <= K < N), into\n"
            "                    files named *.shardK-of-N.*; then marconi sweep --merge DIR\n"
            "  --merge DIR       join the shards' files in DIR into runs.csv, runs.jsonl,\n"
            "                    ..., after checking that they hold every run once\n"
            "  --dry-run         print the grid's size (traces x models x capacities x the\n"
            "                    runs each: systems, marconi-static once per alpha, vllm+\n"
            "                    once per block size) and exit\n"
            "\n"
            "An interrupted sweep, started again with the same grid and -o, skips the runs\n"
            "it already finished (DIR/.journal, each record checksummed); a trace, model\n"
            "file or profile whose contents changed makes another grid, which starts over.\n"
            "A progress bar shows on a terminal; the summary line goes to stdout.\n",
            presets);
}

/* parse_args's answer when the command goes on. */
enum { GO_ON = -1 };

/* The options, as given. */
typedef struct sweep_args {
    cli_opts so;                /* the options every run shares */
    const char *axis[SW_NAXIS]; /* --systems, --alpha, --capacity (NULL: not given), --block-size, --model */
    const char *out;            /* -o */
    const char *merge;          /* --merge DIR, or NULL */
    long long threads;          /* -j */
    long long shard, nshards;   /* --shard K/N */
    int dry;                    /* --dry-run */
} sweep_args;

static void args_init(sweep_args *a) {
    memset(a, 0, sizeof *a);
    cli_opts_init(&a->so);
    a->axis[SW_AXIS_SYSTEMS] = "vllm+,sglang+,marconi";
    a->axis[SW_AXIS_ALPHA] = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9,2";
    a->axis[SW_AXIS_BLOCK] = "32";
    a->axis[SW_AXIS_MODEL] = "hybrid-7b";
    a->out = "results";
    a->threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (a->threads < 1) a->threads = 1;
    a->nshards = 1;
}

/* K/N with 0 <= K < N.  Returns 0 or -1. */
static int parse_shard(const char *arg, sweep_args *a) {
    const char *slash = strchr(arg, '/');
    char k[32];
    snprintf(k, sizeof k, "%.*s", slash ? (int)(slash - arg) : 0, arg);
    if (!slash || mu_parse_long(k, 0, 1 << 20, &a->shard) || mu_parse_long(slash + 1, 1, 1 << 20, &a->nshards))
        return -1;
    return a->shard < a->nshards ? 0 : -1;
}

/* The options into a (traces straight into s, checked as they come).
 * Returns GO_ON, or the exit status (--help, or a message printed). */
static int parse_args(sweep *s, sweep_args *a, int argc, char **argv) {
    enum { O_TRACE = 256, O_SYSTEMS, O_ALPHA, O_CAP, O_BLOCK, O_MODEL, O_SHARD, O_MERGE, O_DRY, O_BOUND };
    static const struct option own[] = {
        {"trace", required_argument, 0, O_TRACE},      {"systems", required_argument, 0, O_SYSTEMS},
        {"alpha", required_argument, 0, O_ALPHA},      {"capacity", required_argument, 0, O_CAP},
        {"block-size", required_argument, 0, O_BLOCK}, {"model", required_argument, 0, O_MODEL},
        {"shard", required_argument, 0, O_SHARD},      {"merge", required_argument, 0, O_MERGE},
        {"dry-run", no_argument, 0, O_DRY},            {"help", no_argument, 0, 'h'},
        {"bound", no_argument, 0, O_BOUND},
        {0, 0, 0, 0}};
    struct option opts[64];
    char err[1024];
    int c, handled;
    cli_opts_table(own, opts, sizeof opts / sizeof opts[0]);
    args_init(a);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hj:o:", opts, NULL)) != -1) {
        if ((handled = cli_opts_parse(&a->so, c, optarg))) {
            if (handled == 2) return MU_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'h': usage(stdout); return MU_EXIT_OK;
        case 'j':
            if (mu_parse_long(optarg, 1, 4096, &a->threads))
                return mu_err(MU_EXIT_USAGE, "-j: '%s' is not a thread count in [1, 4096]", optarg);
            break;
        case 'o': a->out = optarg; break;
        case O_TRACE:
            if (sw_add_traces(s, optarg, err, sizeof err)) return mu_err(MU_EXIT_USAGE, "%s", err);
            break;
        case O_SYSTEMS: a->axis[SW_AXIS_SYSTEMS] = optarg; break;
        case O_ALPHA: a->axis[SW_AXIS_ALPHA] = optarg; break;
        case O_CAP: a->axis[SW_AXIS_CAPACITY] = optarg; break;
        case O_BLOCK: a->axis[SW_AXIS_BLOCK] = optarg; break;
        case O_MODEL: a->axis[SW_AXIS_MODEL] = optarg; break;
        case O_SHARD:
            if (parse_shard(optarg, a)) return mu_bad_opt("shard", optarg, "is not K/N with 0 <= K < N");
            break;
        case O_MERGE: a->merge = optarg; break;
        case O_DRY: a->dry = 1; break;
        case O_BOUND: s->bound = 1; break;
        default: return cli_bad_option("sweep", c, argv);
        }
    }
    if (optind != argc) return mu_err(MU_EXIT_USAGE, "sweep: unexpected '%s' (marconi sweep --help)", argv[optind]);
    return GO_ON;
}

/* Everything that can refuse the grid, then the grid.  Returns MU_EXIT_OK
 * or the exit status, the message printed. */
static int plan(sweep *s, const sweep_args *a) {
    if (!s->ntr) return mu_err(MU_EXIT_USAGE, "--trace: required (a file or a generator spec such as lmsys:sps=0.5)");
    if (!a->axis[SW_AXIS_CAPACITY]) return mu_err(MU_EXIT_USAGE, "--capacity: required (e.g. --capacity 1e9,3e9)");
    sim_default_cfg(&s->base, "marconi", 1e9);
    if (cli_opts_apply(&a->so, &s->base)) return MU_EXIT_USAGE;
    s->composition = a->so.composition;
    if (s->bound && s->base.cache.quirks)
        return mu_err(MU_EXIT_USAGE, "--bound: the offline bound holds for the cache without reference quirks (--compat none)");
    int rc;
    if ((rc = sw_axes_parse(&s->ax, a->axis)) || (rc = sw_models_load(s)) || (rc = sw_capacity_check(s)))
        return rc;
    return sw_grid_expand(s, a->shard, a->nshards);
}

/* Load the traces, take up what a journal holds, run the baselines and
 * the runs left, write the files. */
static int execute(sweep *s, const sweep_args *a) {
    int threads = (int)a->threads, rc, failed;
    char err[1024];
    if ((rc = sw_out_dir(s, a->out, a->shard, a->nshards))) return rc;
    s->header = sw_csv_header(s);
    s->out = calloc(s->ngrid, sizeof *s->out);
    s->vanilla = calloc(s->ntr * s->nmo, sizeof *s->vanilla);
    s->vanilla_prefill = calloc(s->ntr * s->nmo, sizeof *s->vanilla_prefill);
    if (!s->header || !s->out || !s->vanilla || !s->vanilla_prefill) return mu_err(MU_EXIT_FAIL, "out of memory");
    s->t0 = mu_now();
    /* traces first: every run needs them, and a bad one should fail early */
    if (sw_pool_run(s, SW_LOAD, s->ntr, threads)) return mu_err(MU_EXIT_USAGE, "%s", s->err);
    s->fp = sw_fingerprint(s);
    if ((rc = sw_journal_open(s))) return rc;
    sw_schedule(s);
    if (s->resumed)
        fprintf(stderr, "marconi: sweep: resuming: %zu runs already done, %zu to go\n", s->resumed, s->nleft);
    if (s->base.timing == SIM_DES && s->base.vanilla && sw_pool_run(s, SW_VANILLA, s->ntr * s->nmo, threads))
        return mu_err(MU_EXIT_FAIL, "%s", s->err);
    failed = sw_pool_run(s, SW_RUNS, s->nleft, threads);
    /* what finished is written even when a run failed */
    if (sw_write_outputs(s, err, sizeof err))
        return mu_err(strstr(err, ": write failed: ") ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s", err);
    sw_journal_close(s);
    if (failed) return mu_err(MU_EXIT_FAIL, "%s", s->err);
    printf("%zu runs in %.1f s on %d thread%s -> %s/runs%s.csv\n", s->total, mu_now() - s->t0, threads,
           threads == 1 ? "" : "s", a->out, s->suffix);
    return MU_EXIT_OK;
}

/* --dry-run: the grid's size with every factor shown, e.g. "60 runs in
 * the grid: 2 traces x 1 model x 2 capacities x 15 runs each (vllm+,
 * sglang+, marconi, marconi-static x 12 alphas); 60 in this shard". */
static void dry_run(const sweep *s) {
    const sw_axes *ax = &s->ax;
    int nal = ax->text[SW_AXIS_ALPHA].n, nbl = ax->text[SW_AXIS_BLOCK].n, ncap = ax->text[SW_AXIS_CAPACITY].n, each = 0;
    char what[2048];
    size_t len = 0;
    what[0] = '\0';
    for (int i = 0; i < ax->text[SW_AXIS_SYSTEMS].n && len < sizeof what - 64; i++) {
        const sim_system *sys = ax->sys[i];
        /* as the grid walks it (sweep_grid.c): a block size past the first
         * for block admission only, an alpha for marconi-static only */
        int blocks = sys->adm->layout == RT_BLOCK ? nbl : 1, alphas = !strcmp(sys->name, "marconi-static") ? nal : 1;
        each += blocks * alphas;
        len += (size_t)snprintf(what + len, sizeof what - len, "%s%.40s", i ? ", " : "", sys->name);
        if (alphas > 1) len += (size_t)snprintf(what + len, sizeof what - len, " x %d alphas", alphas);
        if (blocks > 1) len += (size_t)snprintf(what + len, sizeof what - len, " x %d block sizes", blocks);
    }
    printf("%zu run%s in the grid: %zu trace%s x %zu model%s x %d capacit%s x %d run%s each (%s); %zu in this shard\n",
           s->ngrid, s->ngrid == 1 ? "" : "s", s->ntr, s->ntr == 1 ? "" : "s", s->nmo, s->nmo == 1 ? "" : "s", ncap,
           ncap == 1 ? "y" : "ies", each, each == 1 ? "" : "s", what, s->nruns);
}

static int run(sweep *s, const sweep_args *a) {
    if (a->merge) return sw_merge(a->merge);
    int rc = plan(s, a);
    if (rc != MU_EXIT_OK) return rc;
    if (a->dry) {
        dry_run(s);
        return MU_EXIT_OK;
    }
    return execute(s, a);
}

static void sweep_free(sweep *s) {
    for (size_t i = 0; i < s->ntr; i++) tr_free(&s->tr[i].tr);
    free(s->tr);
    free(s->mo);
    sw_axes_free(&s->ax);
    free(s->runs);
    for (size_t i = 0; s->out && i < s->ngrid; i++) sw_out_free(&s->out[i]);
    free(s->out);
    free(s->vanilla);
    free(s->vanilla_prefill);
    free(s->header);
    sim_cfg_free(&s->base);
    sw_journal_close(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int cmd_sweep(int argc, char **argv) {
    sweep *s = calloc(1, sizeof *s);
    if (!s) return mu_err(MU_EXIT_FAIL, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    sweep_args a;
    int rc = parse_args(s, &a, argc, argv);
    if (rc == GO_ON) rc = run(s, &a);
    sweep_free(s);
    return rc;
}
