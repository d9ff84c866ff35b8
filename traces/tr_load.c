/* tr_load.c -- the one entry point that reads any trace file: it looks at
 * the first bytes and hands the file to the reader of its format.
 *
 *   "MTRACE" ...   packed trace       tr_pack_load  (tr_pack.c)
 *   1f 8b ...      gzip'd JSONL       tr_load_jsonl (tr_json.c)
 *   anything else  plain JSONL        tr_load_jsonl (tr_json.c)
 *
 * It lives apart from both readers so that neither depends on the other:
 * the JSONL reader knows nothing of packed traces, and the packed reader
 * nothing of JSON.  Only this file names both.
 */
#include <stdio.h>

#include "tr.h"
#include "tr_pack.h"

int tr_load(const char *path, tr_trace *t, tr_err *err) {
    /* Packed traces announce themselves with their magic.  Everything else
     * goes to the JSONL reader, whose gzopen reads gzip and plain text
     * alike, so gzip needs no test here.  A file that cannot be opened also
     * goes there: the JSONL reader reports why ("cannot open: ..."). */
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t k = fread(head, 1, sizeof head, f);
        fclose(f);
        if (tr_pack_sniff(head, k)) return tr_pack_load(path, t, err);
    }
    return tr_load_jsonl(path, t, err);
}
