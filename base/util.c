/* util.c -- see util.h. */
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t mu_lcp32(const int32_t *a, const int32_t *b, size_t n) {
    size_t i = 0;
    /* long equal runs are the common case (a turn repeats its session's
     * history): let the C library's vectorised memcmp skip whole blocks */
    while (i + 64 <= n && memcmp(a + i, b + i, 256) == 0) i += 64;
    /* then two tokens a step: the first differing 64-bit word names the token */
    while (i + 2 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return i + ((uint32_t)x == (uint32_t)y);
        i += 2;
    }
    if (i < n && a[i] == b[i]) i++;
    return i;
}

char *mu_fmt_double(double v, char *buf) {
    if (isnan(v)) return strcpy(buf, "NaN");
    if (isinf(v)) return strcpy(buf, v > 0 ? "Infinity" : "-Infinity");
    if (v == 0) return strcpy(buf, signbit(v) ? "-0.0" : "0.0");
    /* Python's repr: the fewest significant digits that read back as v,
     * fixed notation for exponents in [-4, 16), scientific otherwise */
    char e[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    int exp10 = atoi(strchr(e, 'e') + 1);
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = p - 1 - exp10;
        snprintf(buf, 40, "%.*f", decimals > 0 ? decimals : 0, v);
        if (!strchr(buf, '.')) strcat(buf, ".0");
        return buf;
    }
    char mant[24];
    int mlen = (int)(strchr(e, 'e') - e); /* "d.ddd", at most 18 characters */
    snprintf(mant, sizeof mant, "%.*s", mlen < 23 ? mlen : 23, e);
    snprintf(buf, 40, "%se%c%02d", mant, exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    return buf;
}

int mu_parse_double(const char *s, double *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || end == s) return -1;
    *out = v;
    return 0;
}

int mu_parse_long(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || end == s || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int mu_parse_bytes(const char *s, double *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v)) return -1;
    while (*end == ' ') end++;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"kb", 1e3},
                 {"mb", 1e6},
                 {"gb", 1e9},
                 {"tb", 1e12},
                 {"k", 1e3},
                 {"m", 1e6},
                 {"g", 1e9},
                 {"t", 1e12},
                 {"kib", 1024.0},
                 {"mib", 1048576.0},
                 {"gib", 1073741824.0},
                 {"tib", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) == 0) {
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

double mu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int mu_atomic_open(mu_atomic_file *af, const char *path, char *err, size_t errlen) {
    memset(af, 0, sizeof *af);
    if (strlen(path) + 32 >= sizeof af->path) {
        snprintf(err, errlen, "path is too long");
        return -1;
    }
    strcpy(af->path, path);
    /* the temp name sits beside the target so rename() stays in one file system */
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    int is_gz = ends_with(path, ".gz");
    FILE *f = fopen(af->tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    if (is_gz) {
        int fd = dup(fileno(f));
        fclose(f);
        af->gz = fd >= 0 ? gzdopen(fd, "wb1") : NULL; /* level 1: several times faster than 6, a little larger */
        if (!af->gz) {
            if (fd >= 0) close(fd);
            unlink(af->tmp);
            snprintf(err, errlen, "cannot open a gzip stream");
            return -1;
        }
        gzbuffer(af->gz, 1 << 17);
    } else {
        af->f = f;
    }
    return 0;
}

int mu_atomic_write(mu_atomic_file *af, const void *p, size_t n, char *err, size_t errlen) {
    if (n == 0) return 0;
    if (af->gz) {
        const char *c = p;
        while (n > 0) { /* gzwrite takes an unsigned count */
            unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
            if (gzwrite(af->gz, c, chunk) != (int)chunk) {
                int zerr;
                snprintf(err, errlen, "write failed: %s", gzerror(af->gz, &zerr));
                return -1;
            }
            c += chunk;
            n -= chunk;
        }
        return 0;
    }
    if (fwrite(p, 1, n, af->f) != n) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int mu_atomic_commit(mu_atomic_file *af, char *err, size_t errlen) {
    int bad = 0;
    if (af->gz) bad = gzclose(af->gz) != Z_OK;
    else if (af->f) bad = fflush(af->f) != 0 || fsync(fileno(af->f)) != 0 || fclose(af->f) != 0;
    af->gz = NULL;
    af->f = NULL;
    if (bad) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        unlink(af->tmp);
        return -1;
    }
    if (rename(af->tmp, af->path) != 0) {
        snprintf(err, errlen, "cannot rename into place: %s", strerror(errno));
        unlink(af->tmp);
        return -1;
    }
    return 0;
}

void mu_atomic_abort(mu_atomic_file *af) {
    if (af->gz) gzclose(af->gz);
    if (af->f) fclose(af->f);
    af->gz = NULL;
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}
