/* cmd_pack.c -- `marconi pack`: convert a trace to the packed form
 * (traces/tr_pack.h), which every command reads transparently. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/cmds.h"
#include "base/util.h"
#include "traces/tr_pack.h"

static void pack_usage(FILE *f) {
    fprintf(f,
            "usage: marconi pack TRACE -o FILE.mtrace [options]\n"
            "\n"
            "Write TRACE (JSONL, .gz, or packed) as a packed trace: each request is a\n"
            "reference to the earlier request sharing its longest prefix plus its new\n"
            "tokens, in zlib-compressed blocks with CRC-32 checksums.  Every command\n"
            "reads packed traces; they load an order of magnitude faster than .jsonl.gz.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE   where to write (required; not .gz; - for stdout, the\n"
            "                      summary line then goes to stderr)\n"
            "  --level N           zlib level 0-9 (default 6)\n"
            "  --block-tokens N    pool tokens per compressed block (default 1048576)\n"
            "  --keep-bases        keep each request's base as loaded (the session's\n"
            "                      previous request) instead of searching all requests\n"
            "  --verify            reload the file and compare every request's tokens\n"
            "  -h, --help          this text\n"
            "\n"
            "Errors: 'marconi: FILE:LINE: message' or 'marconi: --option: message', exit 2\n"
            "(exit 1 when a write fails).\n");
}

/* "-:0: why" (the stdout output's) reads better as "stdout: why"; a failed
 * write is exit 1, a bad path or input exit 2. */
static int out_err(const char *msg) {
    int st = strstr(msg, ": write failed: ") ? MU_EXIT_FAIL : MU_EXIT_USAGE;
    if (!strncmp(msg, "-:0: ", 5)) return mu_err(st, "stdout: %s", msg + 5);
    return mu_err(st, "%s", msg);
}

static int verify(const tr_trace *a, const char *path) {
    tr_trace b;
    tr_err e;
    if (tr_load(path, &b, &e) != 0) {
        return mu_err(MU_EXIT_FAIL, "--verify: %s", e.msg);
    }
    int bad = a->n != b.n || a->n_sessions != b.n_sessions || a->total_in != b.total_in || a->total_out != b.total_out;
    int32_t *x = malloc(((size_t)a->max_len + 1) * 4), *y = malloc(((size_t)a->max_len + 1) * 4);
    if (!x || !y) bad = 1;
    for (size_t i = 0; i < a->n && !bad; i++) {
        const tr_req *p = &a->req[i], *q = &b.req[i];
        bad = p->session_id != q->session_id || p->turn_id != q->turn_id || memcmp(&p->ts, &q->ts, sizeof p->ts) ||
              p->n_in != q->n_in || p->n_out != q->n_out;
        if (!bad) {
            uint32_t n = tr_tokens(a, i, x);
            tr_tokens(&b, i, y);
            bad = memcmp(x, y, (size_t)n * 4) != 0;
        }
        if (bad) mu_err(MU_EXIT_FAIL, "--verify: %s: request %zu differs from the source", path, i);
    }
    free(x);
    free(y);
    tr_free(&b);
    return bad;
}

int cmd_pack(int argc, char **argv) {
    enum { O_LEVEL = 256, O_BLOCK, O_KEEP, O_VERIFY };
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},  {"level", required_argument, 0, O_LEVEL},
                                         {"block-tokens", required_argument, 0, O_BLOCK},
                                         {"keep-bases", no_argument, 0, O_KEEP}, {"verify", no_argument, 0, O_VERIFY},
                                         {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *out = NULL;
    long long level = 6, block = 1 << 20;
    int keep = 0, check = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': pack_usage(stdout); return MU_EXIT_OK;
        case 'o': out = optarg; break;
        case O_LEVEL:
            if (mu_parse_long(optarg, 0, 9, &level)) {
                return mu_err(MU_EXIT_USAGE, "--level: '%s' is not an integer in [0, 9]", optarg);
            }
            break;
        case O_BLOCK:
            if (mu_parse_long(optarg, 1024, 1 << 28, &block)) {
                return mu_err(MU_EXIT_USAGE, "--block-tokens: '%s' is not an integer in [1024, 2^28]", optarg);
            }
            break;
        case O_KEEP: keep = 1; break;
        case O_VERIFY: check = 1; break;
        default:
            return cli_bad_option("pack", c, argv);
        }
    }
    if (optind != argc - 1) {
        return mu_err(MU_EXIT_USAGE, optind >= argc ? "pack: which trace? (marconi pack --help)"
                                                    : "pack: one trace at a time (marconi pack --help)");
    }
    if (!out) {
        return mu_err(MU_EXIT_USAGE, "--output: required (e.g. -o trace.mtrace)");
    }
    if (!*out) return mu_bad_opt("output", out, "is empty: name a file, or - for stdout");
    struct stat st;
    if (check && (!strcmp(out, "-") || mu_is_stdout(out) || (stat(out, &st) == 0 && !S_ISREG(st.st_mode))))
        return mu_bad_opt("output", out, "is not a regular file: --verify reads the output back");
    tr_trace t;
    tr_err e;
    double t0 = mu_now();
    if (tr_load(argv[optind], &t, &e) != 0) {
        return mu_err(MU_EXIT_USAGE, "%s", e.msg);
    }
    double t1 = mu_now();
    tr_pack_opts o = {(int)level, (uint32_t)block, keep};
    tr_pack_info info;
    if (tr_pack_write_info(&t, out, &o, &info, &e) != 0) {
        tr_free(&t);
        return out_err(e.msg);
    }
    double t2 = mu_now();
    if (check && verify(&t, out)) {
        tr_free(&t);
        return MU_EXIT_FAIL;
    }
    long long in_bytes = stat(argv[optind], &st) == 0 ? (long long)st.st_size : -1;
    /* the packed bytes on stdout: the summary may not go there too */
    fprintf(mu_is_stdout(out) ? stderr : stdout, "%s: %zu requests, %zu sessions; pool %llu -> %llu tokens (%llu requests rebased); %llu bytes (source %lld "
           "bytes); read %.2f s, packed %.2f s%s\n",
           out, t.n, t.n_sessions, (unsigned long long)info.pool_in, (unsigned long long)info.pool_out,
           (unsigned long long)info.rebased, (unsigned long long)info.file_bytes, in_bytes, t1 - t0, t2 - t1,
           check ? "; verified" : "");
    tr_free(&t);
    return MU_EXIT_OK;
}
