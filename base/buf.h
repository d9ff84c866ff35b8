/* buf.h -- a growing byte buffer (base/, prefix mu_): CSV and JSON output,
 * JSONL lines, journal records.  The text is always NUL-terminated.
 *
 *   mu_buf b = {0};            p = NULL, len = cap = 0
 *   mu_buf_put(&b, "ab", 2);   p = "ab\0...", len 2, cap 4096
 *   free(b.p);                 the caller owns p
 */
#ifndef MARCONI_BUF_H
#define MARCONI_BUF_H

#include <stddef.h>

typedef struct mu_buf {
    char *p;    /* bytes, NUL-terminated after len (NULL until the first put) */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
} mu_buf;

/* Append s[0..n).  Returns 0, or -1 when out of memory (b unchanged). */
int mu_buf_put(mu_buf *b, const char *s, size_t n);

#endif
