/* cmd_stats.c -- `marconi stats`: what a trace holds (traces/tr_stats.h):
 * sizes, length percentiles, arrival rate and the oracle token hit rate. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmds.h"
#include "traces/tr_stats.h"

static void stats_usage(FILE *f) {
    fprintf(f,
            "usage: marconi stats TRACE... [--json]\n"
            "\n"
            "Describe each TRACE (JSONL, .gz or packed .mtrace): requests, sessions, turns\n"
            "per session, input / output / first-input / new-input-per-turn lengths (mean,\n"
            "P5, P50, P95, P99, max), arrival span and rate, total and unique tokens, and\n"
            "the oracle token hit rate: for each request the longest prefix it shares with\n"
            "any earlier request's input + output -- the ceiling no cache can beat --\n"
            "split into same-session (input and output) and cross-session (input-only)\n"
            "reuse.\n"
            "\n"
            "options:\n"
            "  --json      one JSON object per trace on stdout (keys: trace, requests,\n"
            "              sessions, oracle_token_hit_rate, ... -- docs/traces.md)\n"
            "  -h, --help  this text\n"
            "\n"
            "Errors: 'marconi: FILE:LINE: message', exit 2.\n");
}

int cmd_stats(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': stats_usage(stdout); return MU_EXIT_OK;
        case 'j': json = 1; break;
        default:
            return cli_bad_option("stats", c, argv);
        }
    }
    if (optind >= argc) {
        return mu_err(MU_EXIT_USAGE, "stats: which trace? (marconi stats --help)");
    }
    for (int i = optind; i < argc; i++) {
        tr_trace t;
        tr_err e;
        tr_stats s;
        if (tr_load(argv[i], &t, &e) != 0) {
            return mu_err(MU_EXIT_USAGE, "%s", e.msg);
        }
        if (tr_stats_compute(&t, &s, &e) != 0) {
            tr_free(&t);
            return mu_err(MU_EXIT_FAIL, "%s", e.msg);
        }
        if (json) tr_stats_print_json(stdout, &t, &s);
        else {
            if (i > optind) fputc('\n', stdout);
            tr_stats_print(stdout, &t, &s);
        }
        tr_free(&t);
    }
    return MU_EXIT_OK;
}
