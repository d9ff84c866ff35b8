/* cmd_model.c -- `marconi model`: what a model costs, in the simulator's
 * terms: bytes of an SSM checkpoint and of a token's KV (the paper's
 * formulas and the real Mamba2 tensors), FLOPs per token, and FLOP
 * efficiency (FLOPs a cached prefix saves per byte of its states) by
 * sequence length -- the paper's Fig. 5. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "flops/fl.h"
#include "cli/cmds.h"
#include "base/util.h"

/* The header of --csv: the help names these very columns. */
static const char CSV_HEADER[] = "model,n_attn,n_ssm,n_mlp,d,n,length,flops,state_bytes,efficiency";

static void usage(FILE *f) {
    fprintf(f,
            "usage: marconi model [--model NAME | --model-file F.json]... [options]\n"
            "\n"
            "Print a model's state bytes and FLOPs, and its FLOP efficiency (FLOPs a cached\n"
            "prefix of L tokens saves per byte of its states) at several lengths.\n"
            "\n"
            "  --model NAME        hybrid-7b (default), tiny, tiny-gqa; repeatable\n"
            "  --model-file F      a JSON model; repeatable\n"
            "  --lengths LIST      sequence lengths (default 1,10,100,1000,2000,4000,8000,16000,32000)\n"
            "  --csv               one CSV table, a row a model and length (columns below)\n"
            "  -h, --help          this text\n"
            "\n"
            "--csv columns: %s\n",
            CSV_HEADER);
}

static void report(const fl_model *m, const int64_t *len, int nlen, int csv, int first) {
    int64_t S = fl_ssm_state_bytes(m), K = fl_kv_bytes_per_token(m);
    if (csv) {
        if (first) printf("%s\n", CSV_HEADER);
        for (int i = 0; i < nlen; i++) {
            char f[48], e[48];
            fl_i128 fl = fl_total(fl_prefix_flops(m, len[i]));
            printf("%s,%d,%d,%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%" PRId64 ",%s\n", m->name, m->n_attn, m->n_ssm,
                   m->n_mlp, m->d, m->n, len[i], fl_i128_str(fl, f), S + K * len[i],
                   mu_fmt_double(fl_efficiency(m, len[i]), e));
        }
        return;
    }
    printf("%s: %d attention, %d SSM, %d MLP layers; d %" PRId64 ", N %" PRId64 ", %d bytes an element\n", m->name,
           m->n_attn, m->n_ssm, m->n_mlp, m->d, m->n, m->bytes_per_elem);
    printf("  layer order          %s\n", m->pattern);
    printf("  SSM checkpoint       %" PRId64 " bytes (paper formula: %" PRId64 " a layer); real Mamba2 tensors %" PRId64
           " (%" PRId64 " a layer)\n",
           S, fl_ssm_layer_bytes(m), (int64_t)m->n_ssm * fl_real_ssm_layer_bytes(m), fl_real_ssm_layer_bytes(m));
    printf("  KV of one token      %" PRId64 " bytes (paper formula); real %" PRId64 " (%d KV heads)\n", K,
           (int64_t)m->n_attn * fl_real_kv_layer_bytes_per_token(m), m->n_kv_heads);
    printf("  one checkpoint = KV of %.0f tokens\n", K ? (double)S / (double)K : 0);
    printf("  %10s %14s %14s %12s\n", "length", "FLOPs", "state bytes", "FLOPs/byte");
    for (int i = 0; i < nlen; i++)
        printf("  %10" PRId64 " %14.4g %14.4g %12.4g\n", len[i], (double)fl_total(fl_prefix_flops(m, len[i])),
               (double)(S + K * len[i]), fl_efficiency(m, len[i]));
}

int cmd_model(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"model-file", required_argument, 0, 'f'},
                                         {"lengths", required_argument, 0, 'l'},
                                         {"csv", no_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    fl_model models[64];
    int nm = 0, csv = 0, c;
    int64_t len[64];
    int nlen = 0;
    const char *lengths = "1,10,100,1000,2000,4000,8000,16000,32000";
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MU_EXIT_OK;
        case 'm':
            if (nm == 64 || fl_preset(optarg, &models[nm])) {
                return mu_err(MU_EXIT_USAGE, "--model: '%s' is not a model preset (hybrid-7b, tiny, tiny-gqa)", optarg);
            }
            nm++;
            break;
        case 'f': {
            char err[600];
            if (nm == 64 || fl_load_json(optarg, &models[nm], err, sizeof err)) {
                return mu_err(MU_EXIT_USAGE, "%s", nm == 64 ? "too many models" : err);
            }
            nm++;
            break;
        }
        case 'l': lengths = optarg; break;
        case 'c': csv = 1; break;
        default:
            return mu_err(MU_EXIT_USAGE, "model: bad option '%s' (marconi model --help)", argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return mu_err(MU_EXIT_USAGE, "model: unexpected '%s' (marconi model --help)", argv[optind]);
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", lengths);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long long v;
        if (nlen == 64 || mu_parse_long(t, 1, 1LL << 40, &v)) {
            return mu_err(MU_EXIT_USAGE, "--lengths: '%s' is not a list of token counts >= 1", lengths);
        }
        len[nlen++] = v;
    }
    if (nm == 0) fl_preset("hybrid-7b", &models[nm++]);
    for (int i = 0; i < nm; i++) {
        if (i && !csv) putchar('\n');
        report(&models[i], len, nlen, csv, i == 0);
    }
    return MU_EXIT_OK;
}
