/* tr_conv_dir.c -- folders of trajectories to lists of files (see
 * tr_conv_expand in tr_convert.h).
 *
 *   marconi convert agent trajs/ a.traj.json -o t.jsonl
 *
 *   trajs/                              files, in this order:
 *     astropy__astropy-12907/             trajs/astropy__astropy-12907/astropy__astropy-12907.traj.json
 *       astropy__astropy-12907.traj.json  trajs/django__django-10097/django__django-10097.traj.json
 *     django__django-10097/               ...
 *       django__django-10097.traj.json    a.traj.json
 *     preds.json          (not *.traj.json: skipped)
 *
 * A folder is walked whole first, then its files are sorted by strcmp of
 * the whole path: the order readdir gives differs from one file system to
 * the next, and `--sessions 100` must mean the same 100 trajectories
 * everywhere.  Sorting whole paths (not each folder's entries as it is
 * walked) is what `find DIR -name '*.traj.json' | LC_ALL=C sort` prints,
 * so a shell user can list the same files.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "traces/tr_convert.h"

/* A growing list of owned paths. */
typedef struct plist {
    char **v;     /* paths (owned) */
    size_t n, cap; /* used, allocated */
} plist;

static int plist_add(plist *l, const char *a, const char *b) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *p = malloc(la + lb + 2);
    if (!p) return -1;
    memcpy(p, a, la);
    if (b) {
        /* "dir" + "/" + "name", without doubling a trailing slash */
        size_t k = la;
        if (!k || p[k - 1] != '/') p[k++] = '/';
        memcpy(p + k, b, lb + 1);
    } else {
        p[la] = '\0';
    }
    l->v[l->n++] = p;
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

/* Every file under dir whose name ends in suf, appended to l (unsorted). */
static int walk(const char *dir, const char *suf, plist *l, tr_err *err) {
    DIR *d = opendir(dir);
    if (!d) {
        tr_errf(err, dir, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    plist sub = {0}; /* subfolders, walked after this folder is closed */
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (plist_add(&sub, dir, e->d_name)) {
            tr_errf(err, dir, 0, "out of memory listing the folder");
            rc = -1;
            break;
        }
        errno = 0;
    }
    if (!rc && errno) {
        tr_errf(err, dir, 0, "cannot read: %s", strerror(errno));
        rc = -1;
    }
    closedir(d);
    for (size_t i = 0; i < sub.n && !rc; i++) {
        struct stat st;
        const char *p = sub.v[i];
        if (lstat(p, &st) != 0) {
            tr_errf(err, p, 0, "cannot read: %s", strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(p, suf, l, err);
        } else if (ends_with(p, suf) && (S_ISREG(st.st_mode) || (S_ISLNK(st.st_mode) && !stat(p, &st) && S_ISREG(st.st_mode)))) {
            if (plist_add(l, p, NULL)) {
                tr_errf(err, dir, 0, "out of memory listing the folder");
                rc = -1;
            }
        }
    }
    tr_conv_expand_free(sub.v, sub.n);
    return rc;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int tr_conv_expand(char *const *paths, size_t n, const char *suffix, char ***out, size_t *n_out, tr_err *err) {
    plist l = {0};
    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            /* a file, or nothing: the reader says what is wrong with it */
            if (plist_add(&l, paths[i], NULL)) goto oom;
            continue;
        }
        size_t from = l.n;
        if (walk(paths[i], suffix, &l, err)) goto fail;
        if (l.n == from) {
            tr_errf(err, paths[i], 0, "holds no *%s file", suffix);
            goto fail;
        }
        qsort(l.v + from, l.n - from, sizeof *l.v, cmp_path);
    }
    *out = l.v;
    *n_out = l.n;
    return 0;
oom:
    tr_errf(err, n ? paths[0] : "-", 0, "out of memory listing the files");
fail:
    tr_conv_expand_free(l.v, l.n);
    return -1;
}

void tr_conv_expand_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
