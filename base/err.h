/* err.h -- exit codes and the one error helper of the command line
 * (base/, prefix mu_).  The library reports errors into buffers; only the
 * command line prints them, always as
 *
 *   marconi: FILE:LINE: what is wrong       (bad input)
 *   marconi: --option: 'value' what is wrong (bad usage)
 */
#ifndef MARCONI_ERR_H
#define MARCONI_ERR_H

/* The exit status of every marconi command. */
enum mu_exit {
    MU_EXIT_OK = 0,    /* success */
    MU_EXIT_FAIL = 1,  /* out of memory, a failed check, a system error */
    MU_EXIT_USAGE = 2, /* a bad option, argument or input file */
};

/* Print "marconi: " + the message + "\n" to stderr; return code. */
int mu_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "marconi: --opt: 'val' why"; returns MU_EXIT_USAGE. */
int mu_bad_opt(const char *opt, const char *val, const char *why);

#endif
