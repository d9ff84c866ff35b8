/* cli.h -- helpers every subcommand of the command line shares (cli/ is
 * the only room that sees argv; the library reports into buffers). */
#ifndef MARCONI_CLI_H
#define MARCONI_CLI_H

#include "base/err.h"

/* getopt_long (its optstring starting with ':') returned c, '?' or ':',
 * for command cmd: print "marconi: CMD: --opt needs a value" (':'),
 * "marconi: CMD: unknown option '-x'" (a short option) or "marconi: CMD:
 * bad option '--xyz'" (a long one), each with "(marconi CMD --help)".
 * Returns MU_EXIT_USAGE. */
int cli_bad_option(const char *cmd, int c, char **argv);

#endif
