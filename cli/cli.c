/* cli.c -- see cli.h. */
#include "cli/cli.h"

#include <getopt.h>

int cli_bad_option(const char *cmd, int c, char **argv) {
    if (c == ':') return mu_err(MU_EXIT_USAGE, "%s: %s needs a value (marconi %s --help)", cmd, argv[optind - 1], cmd);
    if (optopt && optopt < 256) return mu_err(MU_EXIT_USAGE, "%s: unknown option '-%c' (marconi %s --help)", cmd, optopt, cmd);
    return mu_err(MU_EXIT_USAGE, "%s: bad option '%s' (marconi %s --help)", cmd, argv[optind - 1], cmd);
}
