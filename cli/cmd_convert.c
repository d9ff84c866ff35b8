/* cmd_convert.c -- `marconi convert`: real conversation logs (ShareGPT,
 * LMSys, agent trajectories) to traces, by the reference artifact's rules
 * (traces/tr_convert.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmds.h"
#include "base/util.h"
#include "traces/tr_convert.h"
#include "traces/tr_pack.h"

static void convert_usage(FILE *f) {
    fprintf(f,
            "usage: marconi convert FORMAT FILE... -o TRACE [options]\n"
            "\n"
            "Turn conversation logs into a trace (JSONL, .gz, or packed .mtrace by the\n"
            "name of TRACE) the way the reference artifact builds its traces: each message\n"
            "tokenised as json.dumps(message) with BOS; a request's input is the session's\n"
            "history plus the new message(s), its output the reply.  FORMAT is one of:\n"
            "  sharegpt  [{\"conversations\": [{\"from\", \"value\"}, ...]}, ...] (array or JSONL)\n"
            "  lmsys     {\"conversation\": [{\"content\", \"role\"}, ...]} per line (or an array)\n"
            "  agent     one trajectory per FILE: [{\"role\", \"content\"}, ...], or an object\n"
            "            with \"messages\" (mini-swe-agent) or \"history\" (SWE-agent)\n"
            "\n"
            "options:\n"
            "  -o, --output TRACE    where to write (required; - for stdout, as JSONL: the\n"
            "                        summary line then goes to stderr)\n"
            "  --tokenizer T         builtin (default: words, digits, punctuation; ~1.3\n"
            "                        tokens/word) or a llama2.c tokenizer.bin file\n"
            "  --sps R               sessions per second: session k starts at k/R s (1)\n"
            "  --sessions N          keep the first N conversations that qualify (all)\n"
            "  --min-turns N         skip conversations with fewer rounds (chat 10, agent 0)\n"
            "  --max-tokens N        a session stops before a turn past N tokens (32768)\n"
            "  --max-turns N         most turns per session (agent 51, chat unlimited)\n"
            "  --wpm W               chat: typing speed for the gap before a turn (90)\n"
            "  --max-non-ascii F     lmsys: skip conversations more than F non-ASCII (0.5)\n"
            "  --art S               agent: mean seconds between turns, Poisson (7.5)\n"
            "  --keep-obs N          agent: an observation leaves the history N turns\n"
            "                        later (5; 0 never)\n"
            "  --seed S              agent: seed of the Poisson gaps (1)\n"
            "  --fields K1,K2        keep only these keys of each agent message before\n"
            "                        dumping it (default: all, as the artifact)\n"
            "  --no-bos              no BOS token before each message\n"
            "  -h, --help            this text\n"
            "\n"
            "Errors: 'marconi: FILE:LINE: message' or 'marconi: --option: message', exit 2\n"
            "(exit 1 when a write fails); no output file is left behind.\n");
}

int cmd_convert(int argc, char **argv) {
    enum { O_TOK = 256, O_SPS, O_SESS, O_MINT, O_MAXTOK, O_MAXT, O_WPM, O_NA, O_ART, O_KEEP, O_SEED, O_FIELDS, O_NOBOS };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},          {"tokenizer", required_argument, 0, O_TOK},
        {"sps", required_argument, 0, O_SPS},           {"sessions", required_argument, 0, O_SESS},
        {"min-turns", required_argument, 0, O_MINT},    {"max-tokens", required_argument, 0, O_MAXTOK},
        {"max-turns", required_argument, 0, O_MAXT},    {"wpm", required_argument, 0, O_WPM},
        {"max-non-ascii", required_argument, 0, O_NA},  {"art", required_argument, 0, O_ART},
        {"keep-obs", required_argument, 0, O_KEEP},     {"seed", required_argument, 0, O_SEED},
        {"fields", required_argument, 0, O_FIELDS},     {"no-bos", no_argument, 0, O_NOBOS},
        {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0}};
    /* the format comes first; options may come anywhere */
    const char *out = NULL, *tokp = "builtin";
    const char *sv[O_NOBOS - O_TOK + 1] = {0};
    int nobos = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            convert_usage(stdout);
            return MU_EXIT_OK;
        } else if (c == 'o') {
            out = optarg;
        } else if (c == O_TOK) {
            tokp = optarg;
        } else if (c == O_NOBOS) {
            nobos = 1;
        } else if (c > O_TOK && c < O_NOBOS) {
            sv[c - O_TOK] = optarg;
        } else {
            return cli_bad_option("convert", c, argv);
        }
    }
    if (optind >= argc) {
        return mu_err(MU_EXIT_USAGE, "convert: which format? sharegpt, lmsys or agent (marconi convert --help)");
    }
    int fmt = tr_conv_fmt_parse(argv[optind]);
    if (fmt < 0) {
        return mu_err(MU_EXIT_USAGE, "convert: '%s' is not a format (sharegpt, lmsys, agent)", argv[optind]);
    }
    if (optind + 1 >= argc) {
        return mu_err(MU_EXIT_USAGE, "convert: which files? (marconi convert --help)");
    }
    if (!out) {
        return mu_err(MU_EXIT_USAGE, "--output: required (e.g. -o trace.jsonl.gz)");
    }
    if (!*out) return mu_bad_opt("output", out, "is empty: name a file, or - for stdout");
    tr_conv_cfg cfg;
    tr_conv_defaults((tr_conv_fmt)fmt, &cfg);
    long long v;
    double d;
    const char *s;
    if ((s = sv[O_SPS - O_TOK]) && (mu_parse_double(s, &d) || !(d > 0) || d > 1e9)) return mu_bad_opt("sps", s, "is not a number > 0");
    if (s) cfg.sps = d;
    if ((s = sv[O_SESS - O_TOK]) && mu_parse_long(s, 0, 100000000, &v)) return mu_bad_opt("sessions", s, "is not an integer >= 0");
    if (s) cfg.sessions = (uint32_t)v;
    if ((s = sv[O_MINT - O_TOK]) && mu_parse_long(s, 0, 1000000, &v)) return mu_bad_opt("min-turns", s, "is not an integer >= 0");
    if (s) cfg.min_turns = (uint32_t)v;
    if ((s = sv[O_MAXTOK - O_TOK]) && mu_parse_long(s, 1, 1 << 30, &v)) return mu_bad_opt("max-tokens", s, "is not an integer in [1, 2^30]");
    if (s) cfg.max_tokens = (uint32_t)v;
    if ((s = sv[O_MAXT - O_TOK]) && mu_parse_long(s, 0, 100000000, &v)) return mu_bad_opt("max-turns", s, "is not an integer >= 0");
    if (s) cfg.max_turns = (uint32_t)v;
    if ((s = sv[O_WPM - O_TOK]) && (mu_parse_double(s, &d) || !(d > 0) || d > 1e9)) return mu_bad_opt("wpm", s, "is not a number > 0");
    if (s) cfg.wpm = d;
    if ((s = sv[O_NA - O_TOK]) && (mu_parse_double(s, &d) || !(d >= 0) || d > 1)) return mu_bad_opt("max-non-ascii", s, "is not a number in [0, 1]");
    if (s) cfg.max_non_ascii = d;
    if ((s = sv[O_ART - O_TOK]) && (mu_parse_double(s, &d) || !(d >= 0) || d > 1e6)) return mu_bad_opt("art", s, "is not a number >= 0");
    if (s) cfg.art = d;
    if ((s = sv[O_KEEP - O_TOK]) && mu_parse_long(s, 0, 1000000, &v)) return mu_bad_opt("keep-obs", s, "is not an integer >= 0");
    if (s) cfg.keep_obs = (uint32_t)v;
    if ((s = sv[O_SEED - O_TOK]) && mu_parse_long(s, 0, 0x7fffffffffffffffLL, &v)) return mu_bad_opt("seed", s, "is not an integer >= 0");
    if (s) cfg.seed = (uint64_t)v;
    if ((s = sv[O_FIELDS - O_TOK]) && !*s) return mu_bad_opt("fields", s, "names no key");
    cfg.fields = s;
    cfg.bos = !nobos;
    tr_tok *tok = NULL;
    tr_err e;
    if (!strcmp(tokp, "builtin")) {
        tok = tr_tok_builtin();
        if (!tok) {
            return mu_err(MU_EXIT_FAIL, "out of memory");
        }
    } else if (tr_tok_load_llama2(tokp, &tok, &e) != 0) {
        return mu_err(MU_EXIT_USAGE, "--tokenizer: %s", e.msg);
    }
    cfg.tok = tok;
    tr_trace t;
    tr_conv_info info;
    double t0 = mu_now();
    int rc = 0;
    if (tr_convert(&cfg, argv + optind + 1, (size_t)(argc - optind - 1), &t, &info, &e) != 0) {
        rc = mu_err(strstr(e.msg, "out of memory") ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s", e.msg);
    } else {
        size_t n = strlen(out);
        int packed = n > 7 && !strcmp(out + n - 7, ".mtrace");
        if ((packed ? tr_pack_write(&t, out, NULL, &e) : tr_write_jsonl(&t, out, &e)) != 0) {
            /* "-:0: why" reads better as "stdout: why"; a failed write is exit 1 */
            int st = strstr(e.msg, ": write failed: ") ? MU_EXIT_FAIL : MU_EXIT_USAGE;
            if (!strncmp(e.msg, "-:0: ", 5)) rc = mu_err(st, "stdout: %s", e.msg + 5);
            else rc = mu_err(st, "%s", e.msg);
        } else {
            /* the trace on stdout: the summary may not go there too */
            fprintf(mu_is_stdout(out) ? stderr : stdout, "%s: %zu requests in %zu sessions (%llu conversations read, %llu kept, %llu too short, %llu mostly "
                   "non-ASCII); %llu messages, %llu tokens, %.2f tokens/word (%s tokenizer); %.2f s\n",
                   out, t.n, t.n_sessions, (unsigned long long)info.read, (unsigned long long)info.kept,
                   (unsigned long long)info.short_, (unsigned long long)info.non_ascii,
                   (unsigned long long)info.messages, (unsigned long long)info.tokens,
                   info.words ? (double)info.tokens / (double)info.words : 0.0, tr_tok_kind(tok), mu_now() - t0);
        }
        tr_free(&t);
    }
    tr_tok_free(tok);
    return rc;
}
