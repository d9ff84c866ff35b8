/* main.c -- the marconi command: dispatch to a subcommand (cli/cmds.h). */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "cli/cmds.h"

static const struct {
    const char *name;             /* subcommand */
    int (*fn)(int argc, char **argv);
    const char *summary;          /* one line for --help */
} cmds[] = {
    {.name = "sim", .fn = cmd_sim, .summary = "replay a trace through a prefix cache and report what it saved"},
    {.name = "replay", .fn = cmd_replay, .summary = "the same replay with the model really running behind the cache (CPU or CUDA)"},
    {.name = "profile", .fn = cmd_profile, .summary = "measure the executor's prefill latency by new x cached tokens (a --ttft-model profile)"},
    {.name = "gen", .fn = cmd_gen, .summary = "generate an LMSys-, ShareGPT-, SWE-bench-like or shared-prefix trace"},
    {.name = "stats", .fn = cmd_stats, .summary = "describe a trace: lengths, rates, oracle token hit rate"},
    {.name = "pack", .fn = cmd_pack, .summary = "write a trace in the packed form (.mtrace): fast to load, checksummed"},
    {.name = "convert", .fn = cmd_convert, .summary = "turn ShareGPT / LMSys / agent conversation logs into a trace"},
    {.name = "sweep", .fn = cmd_sweep, .summary = "run a grid of simulations (traces x systems x alphas x capacities) into tidy CSV"},
    {.name = "model", .fn = cmd_model, .summary = "a model's state bytes, FLOPs and FLOP efficiency by length"},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: marconi COMMAND [options]   (marconi COMMAND --help for each)\n"
            "\n"
            "Prefix caching for hybrid (Attention + SSM) LLMs: the Marconi cache, its\n"
            "baselines, and the tools to study them.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return MU_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return MU_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    return mu_err(MU_EXIT_USAGE, "unknown command '%s' (marconi --help lists them)", argv[1]);
}
