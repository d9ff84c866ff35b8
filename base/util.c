/* util.c -- see util.h. */
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
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

/* ---- folders and hashes --------------------------------------------------------------- */

int mu_mkdirs(const char *dir) {
    char p[4096];
    struct stat st;
    if (!dir[0]) return errno = ENOENT, -1;
    if (strlen(dir) >= sizeof p) return errno = ENAMETOOLONG, -1;
    strcpy(p, dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/' && c[-1] != '/') {
            *c = '\0';
            if (mkdir(p, 0777) && errno != EEXIST) return -1;
            *c = '/';
        }
    if (mkdir(p, 0777) && errno != EEXIST) return -1;
    if (stat(p, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return errno = ENOTDIR, -1;
    return 0;
}

uint64_t mu_hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    h ^= 0x9e3779b97f4a7c15ULL;
    for (; n >= 8; n -= 8, c += 8) {
        uint64_t w;
        memcpy(&w, c, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, c, n);
    return mu_hash64(h ^ w ^ ((uint64_t)n << 56));
}

int mu_hash_file(const char *path, uint64_t *out, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return snprintf(err, errlen, "cannot read: %s", strerror(errno)), -1;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    uint64_t h = 0, size = 0;
    ssize_t n = 0;
    while (buf && (n = read(fd, buf, CHUNK)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        h = mu_hash_bytes(h, buf, (size_t)n); /* chunks of a fixed size: the same file, the same hash */
        size += (uint64_t)n;
    }
    int e = errno;
    free(buf);
    close(fd);
    if (!buf) return snprintf(err, errlen, "out of memory"), -1;
    if (n < 0) return snprintf(err, errlen, "cannot read: %s", strerror(e)), -1;
    *out = mu_hash64(h ^ size);
    return 0;
}

/* ---- temp files removed on a fatal signal ---------------------------------------------- */

/* A slot is free (0), being filled (1) or holds a temp file's name (2); the
 * handler reads only the names of slots at 2. */
enum { TMP_SLOTS = 128 };
static struct {
    atomic_int state;
    char path[4096];
} tmp_reg[TMP_SLOTS];

static const int fatal_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

/* unlink and signal are async-signal-safe; then the signal again, at its
 * default action, ends the process the way it would have ended. */
static void on_fatal(int sig) {
    int saved = errno;
    for (int i = 0; i < TMP_SLOTS; i++)
        if (atomic_load(&tmp_reg[i].state) == 2) unlink(tmp_reg[i].path);
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

static void install_handlers(void) {
    for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++) {
        struct sigaction old, sa;
        /* a signal ignored (nohup) or handled by someone else stays so */
        if (sigaction(fatal_sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < sizeof fatal_sigs / sizeof fatal_sigs[0]; k++) sigaddset(&sa.sa_mask, fatal_sigs[k]);
        sigaction(fatal_sigs[i], &sa, NULL);
    }
}

/* Register path; returns its slot, or -1 when the registry is full (the
 * file is then only not removed on a signal). */
static int tmp_register(const char *path) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_handlers);
    for (int i = 0; i < TMP_SLOTS; i++) {
        int want = 0;
        if (atomic_compare_exchange_strong(&tmp_reg[i].state, &want, 1)) {
            snprintf(tmp_reg[i].path, sizeof tmp_reg[i].path, "%s", path);
            atomic_store(&tmp_reg[i].state, 2);
            return i;
        }
    }
    return -1;
}

static void tmp_unregister(mu_atomic_file *af) {
    if (af->slot >= 0) atomic_store(&tmp_reg[af->slot].state, 0);
    af->slot = -1;
}

/* ---- atomic output files ---------------------------------------------------------------- */

/* The descriptor a path names outright ("-", /dev/stdout, /dev/fd/N, ...),
 * or -1. */
static int named_fd(const char *path) {
    if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout")) return 1;
    if (!strcmp(path, "/dev/stderr")) return 2;
    const char *num = !strncmp(path, "/dev/fd/", 8) ? path + 8 : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
    long long fd;
    if (num && mu_parse_long(num, 0, INT_MAX, &fd) == 0) return (int)fd;
    return -1;
}

int mu_is_stdout(const char *path) {
    int fd = named_fd(path);
    if (fd >= 0) return fd == 1;
    struct stat a, b;
    return stat(path, &a) == 0 && fstat(1, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Follow path's symbolic links (a chain of them, a dangling one too) to the
 * name that is no link, into out.  Returns 0, or -1 with errno set. */
static int resolve_links(const char *path, char *out, size_t outlen) {
    char cur[4096], link[4096];
    if (strlen(path) >= sizeof cur) return errno = ENAMETOOLONG, -1;
    strcpy(cur, path);
    for (int hop = 0; hop < 40; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            if (strlen(cur) >= outlen) return errno = ENAMETOOLONG, -1;
            strcpy(out, cur);
            return 0;
        }
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) return -1;
        link[n] = '\0';
        if (link[0] == '/') {
            strcpy(cur, link);
        } else { /* relative to the link's own folder */
            char *slash = strrchr(cur, '/');
            size_t keep = slash ? (size_t)(slash - cur) + 1 : 0;
            if (keep + (size_t)n >= sizeof cur) return errno = ENAMETOOLONG, -1;
            memcpy(cur + keep, link, (size_t)n + 1);
        }
    }
    return errno = ELOOP, -1;
}

/* The folder part of path ("." when none) into dir, the rest into base. */
static void split_path(const char *path, char *dir, size_t dirlen, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dirlen, ".");
        *base = path;
    } else {
        snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* The stream over descriptor fd (taken over: closed on failure). */
static int open_stream(mu_atomic_file *af, int fd, int is_gz, char *err, size_t errlen) {
    if (is_gz) {
        af->gz = gzdopen(fd, "wb1"); /* level 1: several times faster than 6, a little larger */
        if (!af->gz) {
            close(fd);
            return snprintf(err, errlen, "cannot open a gzip stream"), -1;
        }
        gzbuffer(af->gz, 1 << 17);
    } else if (!(af->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        return snprintf(err, errlen, "cannot write: %s", strerror(e)), -1;
    }
    return 0;
}

int mu_atomic_open(mu_atomic_file *af, const char *path, char *err, size_t errlen) {
    memset(af, 0, sizeof *af);
    af->slot = -1;
    if (!path[0]) return snprintf(err, errlen, "the output path is empty (name a file, or - for stdout)"), -1;
    if (strlen(path) + 32 >= sizeof af->path) return snprintf(err, errlen, "path is too long"), -1;
    strcpy(af->path, path);
    int is_gz = ends_with(path, ".gz") && strcmp(path, "-"), fd = named_fd(path), d;
    struct stat st;
    if (fd >= 0) { /* a descriptor: whatever was printed to it before goes first */
        if (fd == 1) fflush(stdout);
        if (fd == 2) fflush(stderr);
        if ((d = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) return snprintf(err, errlen, "cannot write: %s", strerror(errno)), -1;
        af->direct = 1;
        return open_stream(af, d, is_gz, err, errlen);
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return snprintf(err, errlen, "is a folder, not a file"), -1;
        /* a device, a FIFO, a socket: written through, never replaced */
        if ((d = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0)
            return snprintf(err, errlen, "cannot write: %s", strerror(errno)), -1;
        af->direct = 1;
        return open_stream(af, d, is_gz, err, errlen);
    }
    /* a regular file or a new one: a link's target gets the temp file beside it */
    if (resolve_links(path, af->path, sizeof af->path - 32) != 0)
        return snprintf(err, errlen, "cannot write: %s", strerror(errno)), -1;
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", af->path, (long)getpid());
    af->slot = tmp_register(af->tmp);
    d = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (d < 0 && errno == EEXIST && unlink(af->tmp) == 0) /* this pid's: left by an earlier process */
        d = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (d < 0) {
        int e = errno;
        tmp_unregister(af);
        af->tmp[0] = '\0';
        return snprintf(err, errlen, "cannot write: %s", strerror(e)), -1;
    }
    if (lstat(af->path, &st) == 0 && S_ISREG(st.st_mode)) fchmod(d, st.st_mode & 0777); /* the file keeps its mode */
    if (open_stream(af, d, is_gz, err, errlen)) {
        unlink(af->tmp);
        tmp_unregister(af);
        af->tmp[0] = '\0';
        return -1;
    }
    return 0;
}

/* gzerror's text without its "<fd:N>: " prefix. */
static const char *gz_msg(gzFile gz) {
    int zerr;
    const char *m = gzerror(gz, &zerr);
    const char *c = !strncmp(m, "<fd:", 4) ? strstr(m, ": ") : NULL;
    return c ? c + 2 : m;
}

int mu_atomic_write(mu_atomic_file *af, const void *p, size_t n, char *err, size_t errlen) {
    if (n == 0) return 0;
    if (af->gz) {
        const char *c = p;
        while (n > 0) { /* gzwrite takes an unsigned count */
            unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
            if (gzwrite(af->gz, c, chunk) != (int)chunk) return snprintf(err, errlen, "write failed: %s", gz_msg(af->gz)), -1;
            c += chunk;
            n -= chunk;
        }
        return 0;
    }
    if (!af->f) return snprintf(err, errlen, "write failed: the file is not open"), -1;
    if (fwrite(p, 1, n, af->f) != n) return snprintf(err, errlen, "write failed: %s", strerror(errno)), -1;
    return 0;
}

/* Close the stream; returns 0, or errno's value when something failed. */
static int close_stream(mu_atomic_file *af) {
    int e = 0;
    if (af->gz) {
        errno = 0;
        if (gzclose(af->gz) != Z_OK) e = errno ? errno : EIO;
    } else if (af->f) {
        if (fflush(af->f) != 0 || ferror(af->f)) e = errno ? errno : EIO;
        /* fsync makes the rename safe across a crash; a device or a pipe
         * has nothing to sync */
        if (!e && !af->direct && fsync(fileno(af->f)) != 0) e = errno;
        if (fclose(af->f) != 0 && !e) e = errno;
    }
    af->gz = NULL;
    af->f = NULL;
    return e;
}

int mu_atomic_commit(mu_atomic_file *af, char *err, size_t errlen) {
    int e = close_stream(af), rc = 0;
    struct stat st;
    if (e) {
        snprintf(err, errlen, "write failed: %s", strerror(e));
        rc = -1;
    } else if (af->direct) {
        rc = 0;
    } else if (lstat(af->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* it turned into something else meanwhile: never renamed over */
        snprintf(err, errlen, "is no longer a regular file: not replaced");
        rc = -1;
    } else if (rename(af->tmp, af->path) != 0) {
        snprintf(err, errlen, "cannot rename into place: %s", strerror(errno));
        rc = -1;
    }
    if (rc && af->tmp[0]) unlink(af->tmp);
    tmp_unregister(af);
    af->tmp[0] = '\0';
    return rc;
}

void mu_atomic_abort(mu_atomic_file *af) {
    close_stream(af);
    if (af->tmp[0]) unlink(af->tmp); /* never the file itself: a written-through one has no temp */
    tmp_unregister(af);
    af->tmp[0] = '\0';
}

/* ---- stale temp files ------------------------------------------------------------------- */

int mu_clean_stale(const char *dir, const char *prefix, char *first, size_t firstlen) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t lp = strlen(prefix);
    int removed = 0;
    for (struct dirent *de; (de = readdir(d));) {
        const char *name = de->d_name;
        long long pid;
        if (strncmp(name, prefix, lp) || mu_parse_long(name + lp, 1, INT_MAX, &pid) || !isdigit((unsigned char)name[lp]))
            continue;
        /* a live process's file stays (EPERM: alive, someone else's) */
        if ((pid_t)pid != getpid() && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH)) continue;
        char p[4096 + 256];
        struct stat st;
        snprintf(p, sizeof p, "%s%s%s", strcmp(dir, ".") ? dir : "", strcmp(dir, ".") ? "/" : "", name);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || unlink(p) != 0) continue;
        if (removed++ == 0 && first) snprintf(first, firstlen, "%s", p);
    }
    closedir(d);
    return removed;
}

int mu_atomic_clean(const char *path, char *first, size_t firstlen) {
    char target[4096], dir[4096], prefix[4200];
    const char *base;
    if (!path[0] || named_fd(path) >= 0 || resolve_links(path, target, sizeof target) != 0) return 0;
    split_path(target, dir, sizeof dir, &base);
    if (!base[0]) return 0;
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    return mu_clean_stale(dir, prefix, first, firstlen);
}
