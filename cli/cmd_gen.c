/* cmd_gen.c -- `marconi gen`: write a synthetic trace (traces/tr_gen.h), or
 * with --paper DIR the whole set the paper's experiments replay: LMSys- and
 * ShareGPT-like at 6 arrival rates, SWE-bench-like at 6 rates x 3 response
 * times, named as the artifact names its traces. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmds.h"
#include "base/util.h"
#include "traces/tr_gen.h"
#include "traces/tr_pack.h"

static void gen_usage(FILE *f) {
    fprintf(f,
            "usage: marconi gen KIND [options] -o FILE\n"
            "       marconi gen --paper DIR [--sessions N] [--seed S] [--format F] [--jobs N]\n"
            "\n"
            "Write a synthetic trace in the reference artifact's JSONL format (plain,\n"
            ".gz, or packed when FILE ends in .mtrace).  KIND is one of:\n"
            "  lmsys          LMSys-Chat-like conversations (>= 10 rounds, typing delays)\n"
            "  sharegpt       ShareGPT-like conversations\n"
            "  swebench       SWE-bench-agent-like sessions (shared system prompt,\n"
            "                 Poisson gaps, old observations dropped)\n"
            "  shared-prefix  groups of single requests sharing long prompts (SGLang's\n"
            "                 generated-shared-prefix)\n"
            "The same settings and seed give the same bytes on any machine.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE   where to write (required; - for stdout, as JSONL)\n");
    for (int i = 0; i < tr_gen_knob_count(); i++) {
        unsigned kinds;
        const char *help, *name = tr_gen_knob_info(i, &kinds, &help);
        char opt[64], which[80] = "";
        snprintf(opt, sizeof opt, "--%s X", name);
        if (kinds != (1u << TR_GEN_NKINDS) - 1) {
            for (int k = 0; k < TR_GEN_NKINDS; k++)
                if (kinds & (1u << k)) {
                    strcat(which, which[0] ? "," : " [");
                    strcat(which, tr_gen_kind_name((tr_gen_kind)k));
                }
            strcat(which, "]");
        }
        fprintf(f, "  %-19s %s%s\n", opt, help, which);
    }
    fprintf(f,
            "  --paper DIR         write the paper's 30 traces into DIR, made if missing\n"
            "                      (100 sessions each):\n"
            "                      lmsys_sps=R_nums=100, sharegpt_sps=R_nums=100 and\n"
            "                      swebench_sps=R_art=A_nums=100 for R in 0.25 0.5 1 2 5 10,\n"
            "                      A in 5 7.5 10\n"
            "  --format F          with --paper: jsonl (default), jsonl.gz or mtrace\n"
            "  --jobs N            with --paper: traces written at once (default: cores)\n"
            "  -h, --help          this text\n"
            "\n"
            "Defaults per kind: marconi gen KIND --show.  Spec strings for other commands:\n"
            "\"lmsys:sps=0.5,sessions=100,seed=1\".  docs/traces.md has the models.\n"
            "Errors: 'marconi: --option: message' or 'marconi: FILE:0: message', exit 2\n"
            "(exit 1 when a write fails).  Temp files (FILE.tmp.PID) of runs that died are\n"
            "removed on start; an interrupted run (SIGINT, SIGTERM) removes its own.\n");
}

/* The exit status of a failed write: 1 when the writing itself failed (a
 * full disk), 2 when the path was the problem. */
static int write_status(const char *msg) { return strstr(msg, ": write failed: ") ? MU_EXIT_FAIL : MU_EXIT_USAGE; }

/* Remove path's temp files left by processes that died (mu_atomic_clean),
 * with a note. */
static void clean_stale(const char *path) {
    char first[4200];
    int n = mu_atomic_clean(path, first, sizeof first);
    if (n) mu_err(MU_EXIT_OK, "gen: removed %d stale temp file%s of a process gone: %s%s", n, n > 1 ? "s" : "", first, n > 1 ? ", ..." : "");
}

/* Write a trace to path by its extension; 0 or -1 with err set. */
static int write_trace(const tr_trace *t, const char *path, tr_err *err) {
    size_t n = strlen(path);
    if (n > 7 && !strcmp(path + n - 7, ".mtrace")) return tr_pack_write(t, path, NULL, err);
    return tr_write_jsonl(t, path, err);
}

static void show_cfg(FILE *f, const tr_gen_cfg *c) {
    fprintf(f, "%s", tr_gen_kind_name(c->kind));
    char sep = ':';
    for (int i = 0; i < tr_gen_knob_count(); i++) {
        unsigned kinds;
        const char *name = tr_gen_knob_info(i, &kinds, NULL);
        if (!(kinds & (1u << c->kind))) continue;
        char v[48];
        if (tr_gen_get(c, name, v)) continue;
        fprintf(f, "%c%s=%s", sep, name, v);
        sep = ',';
    }
    fputc('\n', f);
}

/* ---- --paper --------------------------------------------------------------------- */

typedef struct pjob {
    tr_gen_cfg cfg;  /* what to generate */
    char path[4096]; /* where */
    int rc;          /* 0, or 1 when it failed (msg set) */
    char msg[TR_ERR_MAX + 64];
} pjob;

typedef struct pool {
    pjob *job;            /* all jobs */
    int n;                /* their count */
    int next;             /* next to start */
    pthread_mutex_t mu;   /* guards next */
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n) return NULL;
        pjob *j = &p->job[i];
        tr_trace t;
        tr_err e = {{0}};
        if (tr_gen(&j->cfg, &t, &e) != 0 || write_trace(&t, j->path, &e) != 0) {
            j->rc = 1;
            snprintf(j->msg, sizeof j->msg, "%s", e.msg);
        }
        tr_free(&t);
    }
}

static int run_paper(const char *dir, const tr_gen_cfg *over, const char *fmt, long long jobs) {
    static const double sps[] = {0.25, 0.5, 1, 2, 5, 10};
    static const double art[] = {5, 7.5, 10};
    if (!dir[0]) return mu_bad_opt("paper", dir, "is empty: name a folder");
    if (mu_mkdirs(dir) != 0) return mu_err(MU_EXIT_USAGE, "--paper: cannot make the folder '%s': %s", dir, strerror(errno));
    pool p = {calloc(30, sizeof(pjob)), 0, 0, PTHREAD_MUTEX_INITIALIZER};
    if (!p.job) {
        return mu_err(MU_EXIT_FAIL, "out of memory");
    }
    /* the big agent traces first, so the workers finish together */
    static const int kinds[3] = {TR_GEN_SWEBENCH, TR_GEN_SHAREGPT, TR_GEN_LMSYS};
    for (int ki = 0; ki < 3; ki++)
        for (int r = 0, kind = kinds[ki]; r < 6; r++)
            for (int a = 0; a < (kind == TR_GEN_SWEBENCH ? 3 : 1); a++) {
                pjob *j = &p.job[p.n++];
                tr_gen_defaults((tr_gen_kind)kind, &j->cfg);
                j->cfg.sessions = over->sessions;
                j->cfg.seed = over->seed;
                j->cfg.sps = sps[r];
                char name[128];
                if (kind == TR_GEN_SWEBENCH) {
                    j->cfg.art = art[a];
                    snprintf(name, sizeof name, "swebench_sps=%g_art=%g_nums=%u.%s", sps[r], art[a], over->sessions, fmt);
                } else {
                    snprintf(name, sizeof name, "%s_sps=%g_nums=%u.%s", tr_gen_kind_name((tr_gen_kind)kind), sps[r],
                             over->sessions, fmt);
                }
                snprintf(j->path, sizeof j->path, "%s/%s", dir, name);
                clean_stale(j->path);
            }
    double t0 = mu_now();
    int nt = (int)(jobs < p.n ? jobs : p.n);
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nt && i < 64; i++)
        if (pthread_create(&th[i], NULL, worker, &p) == 0) started++;
    if (!started) worker(&p);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    int rc = MU_EXIT_OK;
    for (int i = 0; i < p.n; i++)
        if (p.job[i].rc) rc = mu_err(write_status(p.job[i].msg), "%s", p.job[i].msg);
    if (!rc) printf("wrote %d traces to %s in %.1f s (%d at once)\n", p.n, dir, mu_now() - t0, started ? started : 1);
    free(p.job);
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

int cmd_gen(int argc, char **argv) {
    enum { O_PAPER = 256, O_FORMAT, O_JOBS, O_SHOW, O_KNOB = 1000 };
    int nk = tr_gen_knob_count();
    struct option *opts = calloc((size_t)nk + 8, sizeof *opts);
    const char **val = calloc((size_t)nk, sizeof *val);
    if (!opts || !val) {
        free(opts);
        free(val);
        return mu_err(MU_EXIT_FAIL, "out of memory");
    }
    int no = 0;
    for (int i = 0; i < nk; i++) opts[no++] = (struct option){tr_gen_knob_info(i, NULL, NULL), required_argument, 0, O_KNOB + i};
    opts[no++] = (struct option){"output", required_argument, 0, 'o'};
    opts[no++] = (struct option){"paper", required_argument, 0, O_PAPER};
    opts[no++] = (struct option){"format", required_argument, 0, O_FORMAT};
    opts[no++] = (struct option){"jobs", required_argument, 0, O_JOBS};
    opts[no++] = (struct option){"show", no_argument, 0, O_SHOW};
    opts[no++] = (struct option){"help", no_argument, 0, 'h'};
    const char *out = NULL, *paper = NULL, *fmt = "jsonl";
    long long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int show = 0, c, rc = MU_EXIT_USAGE;
    if (jobs < 1) jobs = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c >= O_KNOB && c < O_KNOB + nk) {
            val[c - O_KNOB] = optarg;
            continue;
        }
        switch (c) {
        case 'h': gen_usage(stdout); rc = MU_EXIT_OK; goto done;
        case 'o': out = optarg; break;
        case O_PAPER: paper = optarg; break;
        case O_FORMAT:
            if (strcmp(optarg, "jsonl") && strcmp(optarg, "jsonl.gz") && strcmp(optarg, "mtrace")) {
                rc = mu_err(MU_EXIT_USAGE, "--format: '%s' is not jsonl, jsonl.gz or mtrace", optarg);
                goto done;
            }
            fmt = optarg;
            break;
        case O_JOBS:
            if (mu_parse_long(optarg, 1, 64, &jobs)) {
                rc = mu_err(MU_EXIT_USAGE, "--jobs: '%s' is not an integer in [1, 64]", optarg);
                goto done;
            }
            break;
        case O_SHOW: show = 1; break;
        default:
            rc = cli_bad_option("gen", c, argv);
            goto done;
        }
    }
    tr_err e = {{0}};
    if (paper) {
        if (optind != argc || out) {
            rc = mu_err(MU_EXIT_USAGE, "--paper: takes no KIND and no --output (the names are fixed)");
            goto done;
        }
        tr_gen_cfg over;
        tr_gen_defaults(TR_GEN_LMSYS, &over);
        for (int i = 0; i < nk; i++) {
            if (!val[i]) continue;
            const char *name = tr_gen_knob_info(i, NULL, NULL);
            if (strcmp(name, "sessions") && strcmp(name, "seed")) {
                rc = mu_err(MU_EXIT_USAGE, "--%s: not with --paper (only --sessions and --seed)", name);
                goto done;
            }
            if (tr_gen_set(&over, name, val[i], &e)) {
                rc = mu_err(MU_EXIT_USAGE, "--%s", e.msg);
                goto done;
            }
        }
        rc = run_paper(paper, &over, fmt, jobs);
        goto done;
    }
    if (optind >= argc) {
        rc = mu_err(MU_EXIT_USAGE, "gen: which kind? lmsys, sharegpt, swebench or shared-prefix (marconi gen --help)");
        goto done;
    }
    if (optind + 1 != argc) {
        rc = mu_err(MU_EXIT_USAGE, "gen: one kind at a time; '%s' is extra (marconi gen --help)", argv[optind + 1]);
        goto done;
    }
    int kind = tr_gen_kind_parse(argv[optind]);
    if (kind < 0) {
        rc = mu_err(MU_EXIT_USAGE, "gen: '%s' is not a kind (lmsys, sharegpt, swebench, shared-prefix)", argv[optind]);
        goto done;
    }
    tr_gen_cfg cfg;
    tr_gen_defaults((tr_gen_kind)kind, &cfg);
    for (int i = 0; i < nk; i++)
        if (val[i] && tr_gen_set(&cfg, tr_gen_knob_info(i, NULL, NULL), val[i], &e)) {
            rc = mu_err(MU_EXIT_USAGE, "--%s", e.msg);
            goto done;
        }
    if (tr_gen_check(&cfg, &e)) {
        rc = mu_err(MU_EXIT_USAGE, "--%s", e.msg);
        goto done;
    }
    if (show) {
        show_cfg(stdout, &cfg);
        rc = MU_EXIT_OK;
        goto done;
    }
    if (!out) {
        rc = mu_err(MU_EXIT_USAGE, "--output: required (e.g. -o trace.jsonl.gz)");
        goto done;
    }
    if (!*out) {
        rc = mu_bad_opt("output", out, "is empty: name a file, or - for stdout");
        goto done;
    }
    clean_stale(out);
    tr_trace t;
    if (tr_gen(&cfg, &t, &e) != 0) {
        int oom = !strncmp(e.msg, "out of memory", 13);
        rc = mu_err(oom ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s%s", oom ? "" : "--", e.msg);
        goto done;
    }
    if (write_trace(&t, out, &e) != 0) {
        /* "-:0: why" reads better as "stdout: why" */
        rc = mu_err(write_status(e.msg), "%s%s", !strncmp(e.msg, "-:0: ", 5) ? "stdout: " : "",
                    !strncmp(e.msg, "-:0: ", 5) ? e.msg + 5 : e.msg);
        tr_free(&t);
        goto done;
    }
    tr_free(&t);
    rc = MU_EXIT_OK;
done:
    free(opts);
    free(val);
    return rc;
}
