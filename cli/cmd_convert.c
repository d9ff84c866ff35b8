/* cmd_convert.c -- `marconi convert`: real conversation logs (ShareGPT,
 * LMSys, agent trajectories) to traces, by the reference artifact's rules
 * (traces/tr_convert.h), and Mooncake's block-hash traces to token traces
 * (traces/tr_mooncake.h).  The summary says what was left out: turns cut
 * by the caps, message keys dropped, and a warning when the replies came
 * out far longer than their visible text. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmds.h"
#include "base/util.h"
#include "traces/tr_convert.h"
#include "traces/tr_mooncake.h"
#include "traces/tr_pack.h"

static void convert_usage(FILE *f) {
    fprintf(f,
            "usage: marconi convert FORMAT FILE... -o TRACE [options]\n"
            "       marconi convert mooncake FILE -o TRACE [--block N] [--vocab V] [--seed S]\n"
            "                       [--requests N] [--no-chain]\n"
            "\n"
            "Turn conversation logs into a trace (JSONL, .gz, or packed .mtrace by the\n"
            "name of TRACE) the way the reference artifact builds its traces: each message\n"
            "tokenised as json.dumps(message) with BOS; a request's input is the session's\n"
            "history plus the new message(s), its output the reply.  FORMAT is one of:\n"
            "  sharegpt  [{\"conversations\": [{\"from\", \"value\"}, ...]}, ...] (array or JSONL)\n"
            "  lmsys     {\"conversation\": [{\"content\", \"role\"}, ...]} per line (or an array)\n"
            "  agent     one trajectory per FILE: [{\"role\", \"content\"}, ...], or an object\n"
            "            with \"messages\" (mini-swe-agent) or \"history\" (SWE-agent); a FILE\n"
            "            that is a folder stands for every *.traj.json under it, recursively,\n"
            "            sorted by path (as LC_ALL=C sort does)\n"
            "  mooncake  Mooncake FAST'25 traces: {\"timestamp\" (ms), \"input_length\",\n"
            "            \"output_length\", \"hash_ids\"} per line, one hash per block of input:\n"
            "            a hash becomes the same block of token IDs wherever it occurs, the\n"
            "            last block cut to input_length; outputs are fresh tokens; ts in s\n"
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
            "  --fields K1,K2|all    keep only these keys of each agent message before\n"
            "                        dumping it; all: every key (the artifact).  Default:\n"
            "                        role,content for mini-swe-agent trajectories (their\n"
            "                        \"extra\" holds the raw provider reply), else all\n"
            "  --no-bos              no BOS token before each message\n"
            "  -h, --help            this text\n"
            "\n"
            "mooncake options (of those above, only -o applies):\n"
            "  --block N             tokens a hash stands for (512)\n"
            "  --vocab V             token IDs are drawn from [3, V) (32000)\n"
            "  --seed S              seed of the token draws (1)\n"
            "  --requests N          convert the first N requests (all)\n"
            "  --no-chain            each request its own session; by default a request\n"
            "                        continues the session of an earlier request whose\n"
            "                        full blocks (2 or more) begin its hash_ids and whose\n"
            "                        input + output fit in its input (a chat's next turn)\n"
            "\n"
            "The summary (stdout) of a log says how many turns became requests and why the\n"
            "others did not, which message keys were dropped, and how the replies compare\n"
            "with their role and content alone; a warning (stderr) when they are more than\n"
            "1.5 times as long.\n"
            "\n"
            "Errors: 'marconi: FILE:LINE: message' or 'marconi: --option: message', exit 2\n"
            "(exit 1 when a write fails); no output file is left behind.\n");
}

/* Write t to out by its name (.mtrace packed, else JSONL); the exit status. */
static int write_trace(const tr_trace *t, const char *out) {
    tr_err e;
    size_t n = strlen(out);
    int packed = n > 7 && !strcmp(out + n - 7, ".mtrace");
    if ((packed ? tr_pack_write(t, out, NULL, &e) : tr_write_jsonl(t, out, &e)) == 0) return 0;
    /* "-:0: why" reads better as "stdout: why"; a failed write is exit 1 */
    int st = strstr(e.msg, ": write failed: ") ? MU_EXIT_FAIL : MU_EXIT_USAGE;
    if (!strncmp(e.msg, "-:0: ", 5)) return mu_err(st, "stdout: %s", e.msg + 5);
    return mu_err(st, "%s", e.msg);
}

/* What the conversion left out, after the summary line. */
static void conv_report(FILE *f, const tr_conv_cfg *cfg, const tr_conv_info *in, const tr_trace *t) {
    fprintf(f, "  turns: %zu of %llu became requests", t->n, (unsigned long long)in->turns);
    const char *sep = " (";
    if (in->cut_tokens) {
        fprintf(f, "%s%llu cut: the session reached the %u-token cap", sep, (unsigned long long)in->cut_tokens,
                cfg->max_tokens);
        sep = "; ";
    }
    if (in->cut_turns) {
        fprintf(f, "%s%llu past %u turns", sep, (unsigned long long)in->cut_turns, cfg->max_turns);
        sep = "; ";
    }
    if (in->cut_empty) {
        fprintf(f, "%s%llu after a turn with no new input", sep, (unsigned long long)in->cut_empty);
        sep = "; ";
    }
    fprintf(f, "%s\n", *sep == ';' ? ")" : "");
    if (cfg->fmt != TR_CONV_AGENT) return;
    fprintf(f, "  messages: ");
    if (cfg->all_fields) fprintf(f, "every key kept (--fields all)");
    else if (cfg->fields) fprintf(f, "kept %s (--fields)", cfg->fields);
    else if (in->mswea == in->read) fprintf(f, "mini-swe-agent trajectories (%llu): kept role, content", (unsigned long long)in->mswea);
    else if (in->mswea) fprintf(f, "%llu of %llu trajectories mini-swe-agent: kept their role, content; every key of the others",
                                (unsigned long long)in->mswea, (unsigned long long)in->read);
    else fprintf(f, "every key kept (not mini-swe-agent)");
    for (int k = 0; k < TR_CONV_DROPS && in->drop[k].n; k++)
        fprintf(f, "%s%s (%llu messages)", k ? ", " : "; dropped ", in->drop[k].name, (unsigned long long)in->drop[k].n);
    if (in->drop_other) fprintf(f, " and %llu more", (unsigned long long)in->drop_other);
    fprintf(f, "\n  outputs: %llu tokens, %.2fx what their role and content alone give (%llu)\n",
            (unsigned long long)in->out_tokens, in->out_visible ? (double)in->out_tokens / (double)in->out_visible : 1.0,
            (unsigned long long)in->out_visible);
    if (in->out_visible && (double)in->out_tokens > 1.5 * (double)in->out_visible)
        fprintf(stderr,
                "marconi: warning: the outputs are %.2fx as long as their messages' role and content alone: other "
                "keys are kept (a raw provider reply?); --fields role,content keeps only those\n",
                (double)in->out_tokens / (double)in->out_visible);
}

/* marconi convert mooncake FILE -o OUT ... */
static int convert_mooncake(char **files, int nfiles, const char *out, const char *const *mv, int nochain) {
    if (nfiles != 1) return mu_err(MU_EXIT_USAGE, "convert: mooncake takes one trace file, not %d", nfiles);
    tr_mc_cfg c;
    tr_mc_defaults(&c);
    long long v;
    const char *s;
    if ((s = mv[0]) && mu_parse_long(s, 1, 1 << 20, &v)) return mu_bad_opt("block", s, "is not an integer in [1, 2^20]");
    if (s) c.block = (uint32_t)v;
    if ((s = mv[1]) && mu_parse_long(s, 4, TR_TOKEN_MAX, &v)) return mu_bad_opt("vocab", s, "is not an integer in [4, 2^31)");
    if (s) c.vocab = (uint32_t)v;
    if ((s = mv[2]) && mu_parse_long(s, 0, 0x7fffffffffffffffLL, &v)) return mu_bad_opt("requests", s, "is not an integer >= 0");
    if (s) c.requests = (uint64_t)v;
    if ((s = mv[3]) && mu_parse_long(s, 0, 0x7fffffffffffffffLL, &v)) return mu_bad_opt("seed", s, "is not an integer >= 0");
    if (s) c.seed = (uint64_t)v;
    c.chain = !nochain;
    tr_trace t;
    tr_mc_info in;
    tr_err e;
    double t0 = mu_now();
    if (tr_mooncake(&c, files[0], &t, &in, &e))
        return mu_err(strstr(e.msg, "out of memory") ? MU_EXIT_FAIL : MU_EXIT_USAGE, "%s", e.msg);
    int rc = write_trace(&t, out);
    if (!rc)
        fprintf(mu_is_stdout(out) ? stderr : stdout,
                "%s: %zu requests in %zu sessions (%llu continue an earlier request's session%s); %llu blocks of %u "
                "tokens, %llu distinct prefixes; %llu input tokens, %.1f %% of them an earlier request's prefix; "
                "%llu output tokens; %.2f s\n",
                out, t.n, t.n_sessions, (unsigned long long)in.chained, c.chain ? "" : ": --no-chain",
                (unsigned long long)in.blocks, c.block, (unsigned long long)in.distinct,
                (unsigned long long)t.total_in, t.total_in ? 100.0 * (double)in.shared / (double)t.total_in : 0.0,
                (unsigned long long)t.total_out, mu_now() - t0);
    tr_free(&t);
    return rc;
}

int cmd_convert(int argc, char **argv) {
    enum {
        O_TOK = 256, O_SPS, O_SESS, O_MINT, O_MAXTOK, O_MAXT, O_WPM, O_NA, O_ART, O_KEEP, O_FIELDS, O_NOBOS,
        /* mooncake's (O_SEED is both's) */
        O_BLOCK, O_VOCAB, O_REQS, O_SEED, O_NOCHAIN
    };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},          {"tokenizer", required_argument, 0, O_TOK},
        {"sps", required_argument, 0, O_SPS},           {"sessions", required_argument, 0, O_SESS},
        {"min-turns", required_argument, 0, O_MINT},    {"max-tokens", required_argument, 0, O_MAXTOK},
        {"max-turns", required_argument, 0, O_MAXT},    {"wpm", required_argument, 0, O_WPM},
        {"max-non-ascii", required_argument, 0, O_NA},  {"art", required_argument, 0, O_ART},
        {"keep-obs", required_argument, 0, O_KEEP},     {"seed", required_argument, 0, O_SEED},
        {"fields", required_argument, 0, O_FIELDS},     {"no-bos", no_argument, 0, O_NOBOS},
        {"block", required_argument, 0, O_BLOCK},       {"vocab", required_argument, 0, O_VOCAB},
        {"requests", required_argument, 0, O_REQS},     {"no-chain", no_argument, 0, O_NOCHAIN},
        {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0}};
    /* the format comes first; options may come anywhere */
    const char *out = NULL, *tokp = NULL;
    const char *sv[O_NOCHAIN - O_TOK + 1] = {0};
    const char *conv_only = NULL, *mc_only = NULL; /* an option of one kind, to refuse with the other */
    int nobos = 0, nochain = 0, c, li = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, &li)) != -1) {
        if (c == 'h') {
            convert_usage(stdout);
            return MU_EXIT_OK;
        } else if (c == 'o') {
            out = optarg;
        } else if (c == O_TOK) {
            tokp = optarg;
            conv_only = "tokenizer";
        } else if (c == O_NOBOS) {
            nobos = 1;
            conv_only = "no-bos";
        } else if (c == O_NOCHAIN) {
            nochain = 1;
            mc_only = "no-chain";
        } else if (c > O_TOK && c <= O_SEED) {
            sv[c - O_TOK] = optarg;
            if (c < O_NOBOS) conv_only = opts[li].name;
            else if (c != O_SEED) mc_only = opts[li].name;
        } else {
            return cli_bad_option("convert", c, argv);
        }
    }
    if (optind >= argc) {
        return mu_err(MU_EXIT_USAGE, "convert: which format? sharegpt, lmsys, agent or mooncake (marconi convert --help)");
    }
    int is_mc = !strcmp(argv[optind], "mooncake");
    int fmt = is_mc ? 0 : tr_conv_fmt_parse(argv[optind]);
    if (fmt < 0) {
        return mu_err(MU_EXIT_USAGE, "convert: '%s' is not a format (sharegpt, lmsys, agent, mooncake)", argv[optind]);
    }
    if (optind + 1 >= argc) {
        return mu_err(MU_EXIT_USAGE, "convert: which files? (marconi convert --help)");
    }
    if (!out) {
        return mu_err(MU_EXIT_USAGE, "--output: required (e.g. -o trace.jsonl.gz)");
    }
    if (!*out) return mu_bad_opt("output", out, "is empty: name a file, or - for stdout");
    if (is_mc && conv_only)
        return mu_err(MU_EXIT_USAGE, "--%s: not an option of convert mooncake (marconi convert --help)", conv_only);
    if (!is_mc && mc_only)
        return mu_err(MU_EXIT_USAGE, "--%s: only convert mooncake takes it (marconi convert --help)", mc_only);
    if (is_mc) {
        const char *mv[4] = {sv[O_BLOCK - O_TOK], sv[O_VOCAB - O_TOK], sv[O_REQS - O_TOK], sv[O_SEED - O_TOK]};
        return convert_mooncake(argv + optind + 1, argc - optind - 1, out, mv, nochain);
    }
    if (!tokp) tokp = "builtin";
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
    if (s && !strcmp(s, "all")) cfg.all_fields = 1;
    else cfg.fields = s;
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
        if (!(rc = write_trace(&t, out))) {
            /* the trace on stdout: the summary may not go there too */
            FILE *f = mu_is_stdout(out) ? stderr : stdout;
            fprintf(f, "%s: %zu requests in %zu sessions (%llu conversations read, %llu kept, %llu too short, %llu mostly "
                   "non-ASCII); %llu messages, %llu tokens, %.2f tokens/word (%s tokenizer); %.2f s\n",
                   out, t.n, t.n_sessions, (unsigned long long)info.read, (unsigned long long)info.kept,
                   (unsigned long long)info.short_, (unsigned long long)info.non_ascii,
                   (unsigned long long)info.messages, (unsigned long long)info.tokens,
                   info.words ? (double)info.tokens / (double)info.words : 0.0, tr_tok_kind(tok), mu_now() - t0);
            conv_report(f, &cfg, &info, &t);
        }
        tr_free(&t);
    }
    tr_tok_free(tok);
    return rc;
}
