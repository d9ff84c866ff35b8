/* cli.c -- see cli.h. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>

#include "sim/sim.h"

int cli_bad_option(const char *cmd, int c, char **argv) {
    if (c == ':') return mu_err(MU_EXIT_USAGE, "%s: %s needs a value (marconi %s --help)", cmd, argv[optind - 1], cmd);
    if (optopt && optopt < 256) return mu_err(MU_EXIT_USAGE, "%s: unknown option '-%c' (marconi %s --help)", cmd, optopt, cmd);
    return mu_err(MU_EXIT_USAGE, "%s: bad option '%s' (marconi %s --help)", cmd, argv[optind - 1], cmd);
}

int cli_table_append(struct option *all, size_t cap, const struct option *more) {
    size_t n = 0;
    while (all[n].name) n++;
    for (size_t i = 0; more[i].name; i++) {
        if (n + 1 >= cap) return -1;
        all[n++] = more[i];
    }
    all[n] = (struct option){0, 0, 0, 0};
    return 0;
}

/* "is not a KIND (a, b, c)" from the n names name(i) into buf. */
static const char *not_one_of(char *buf, size_t cap, const char *kind, const char *(*name)(int i)) {
    size_t at = (size_t)snprintf(buf, cap, "is not %s (", kind);
    for (int i = 0; name(i) && at < cap; i++) at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", name(i));
    if (at < cap) snprintf(buf + at, cap - at, ")");
    return buf;
}

static const char *system_name(int i) { return sim_systems[i].name; }
static const char *eviction_name(int i) { return evict_policies[i] ? evict_policies[i]->name : NULL; }

int cli_check_system(const char *opt, const char *arg) {
    char why[512];
    return sim_find_system(arg) ? 0 : mu_bad_opt(opt, arg, not_one_of(why, sizeof why, "a system", system_name));
}

int cli_check_eviction(const char *opt, const char *arg) {
    char why[512];
    return evict_find(arg) ? 0 : mu_bad_opt(opt, arg, not_one_of(why, sizeof why, "an eviction policy", eviction_name));
}
