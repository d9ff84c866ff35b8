/* cli.h -- helpers every subcommand of the command line shares (cli/ is
 * the only room that sees argv; the library reports into buffers). */
#ifndef MARCONI_CLI_H
#define MARCONI_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "base/err.h"

/* getopt_long (its optstring starting with ':') returned c, '?' or ':',
 * for command cmd: print "marconi: CMD: --opt needs a value" (':'),
 * "marconi: CMD: unknown option '-x'" (a short option) or "marconi: CMD:
 * bad option '--xyz'" (a long one), each with "(marconi CMD --help)".
 * Returns MU_EXIT_USAGE. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Does arg name a system (sim_systems) / an eviction policy
 * (evict_policies)?  0 if it does; else "marconi: --OPT: 'ARG' is not a
 * system (vllm+, sglang+, ...)" printed, every registered name listed, and
 * MU_EXIT_USAGE returned.  One check for every command that takes them. */
int cli_check_system(const char *opt, const char *arg);
int cli_check_eviction(const char *opt, const char *arg);

/* Append the {0}-terminated options more to the getopt table all (cap
 * entries, {0}-terminated): each option group's *_table is this call.  0,
 * or -1 when cap is too small. */
int cli_table_append(struct option *all, size_t cap, const struct option *more);

#endif
