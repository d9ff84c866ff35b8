/* tr_pack.h -- packed traces (.mtrace): the in-memory form of tr.h on disk,
 * compressed, checksummed, and loaded without any parsing of token text.
 *
 * Each request is stored as in memory: a reference to an earlier request
 * (base) and the length of the prefix it shares with it, plus the offset of
 * its remaining tokens in a token pool.  The writer makes both smaller than
 * the JSONL reader's builder does:
 *
 *   - base: the earlier request with the longest common prefix, in any
 *     session (found with the prefix tree of tr_stats.h), not just the
 *     previous turn -- a shared system prompt is stored once;
 *   - pool: laid out session by session, and a request whose new tokens
 *     begin with the tail of what its session already stored points back
 *     into it (regions overlap).  An agent that drops an old observation
 *     re-sends the rest of its history: those tokens are already there.
 *
 *   session 7's pool region:  [ obs0 act0 obs1 act1 obs2 act2 ... ]
 *   request t   new tokens:              ^-------------------^
 *   request t+1 new tokens:                   ^-----------------------^ + new turn
 *
 * File layout (all integers little-endian):
 *
 *   offset size  header
 *   0      6     magic "MTRACE"
 *   6      2     version (1)
 *   8      4     header bytes (96)
 *   12     4     flags: bit 0 set = pool tokens stored in 2 bytes (all < 65536)
 *   16     8     requests
 *   24     8     sessions
 *   32     8     pool tokens
 *   40     8     total input tokens
 *   48     8     total output tokens
 *   56     4     longest request, tokens (max_len)
 *   60     4     record blocks
 *   64     4     pool blocks
 *   68     4     0
 *   72     8     file bytes
 *   80     12    0
 *   92     4     CRC-32 of bytes 0..91
 *   96           record blocks, then pool blocks, each:
 *     0    4     kind: 1 records, 2 pool
 *     4    4     items (requests or tokens)
 *     8    4     raw bytes
 *     12   4     stored bytes C
 *     16   4     CRC-32 of the C stored bytes
 *     20   4     CRC-32 of bytes 0..19 of this block header
 *     24   C     zlib stream of the raw bytes
 *
 *   a record (raw, LEB128 varints; z = zigzag for signed values):
 *     z session_id, z turn_id, 8-byte ts (IEEE double), n_in, n_out,
 *     i - base (0 = no base), n_shared, z (off - previous record's off)
 *
 * Loading checks every checksum, every count against the header, and every
 * record against the trace's invariants (base earlier, shared prefix no
 * longer than either sequence, tokens inside the pool and in [0, 2^31)) --
 * a damaged or truncated file is reported, never trusted.
 */
#ifndef MARCONI_TR_PACK_H
#define MARCONI_TR_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "traces/tr.h"

#define TR_PACK_MAGIC "MTRACE"
#define TR_PACK_VERSION 1

typedef struct tr_pack_opts {
    int level;             /* zlib level 0-9, -1 for zlib's default */
    uint32_t block_tokens; /* pool tokens per block (0: 1 Mi) */
    int keep_bases;        /* 1: keep the trace's bases (no cross-request search) */
} tr_pack_opts;

/* What tr_pack_write did, for reports. */
typedef struct tr_pack_info {
    uint64_t pool_in;    /* pool tokens of the trace given */
    uint64_t pool_out;   /* pool tokens written */
    uint64_t rebased;    /* requests given a different base */
    uint64_t file_bytes; /* size of the file */
} tr_pack_info;

/* Write t to path (atomically: temp file then rename).  opts may be NULL
 * (defaults); info may be NULL.  Returns 0, or -1 with err set
 * ("path:0: ...") on a write failure or out-of-memory. */
int tr_pack_write_info(const tr_trace *t, const char *path, const tr_pack_opts *opts, tr_pack_info *info,
                       tr_err *err);
int tr_pack_write(const tr_trace *t, const char *path, const tr_pack_opts *opts, tr_err *err);

/* Load a packed trace.  Returns 0, or -1 with err set ("path:0: ...",
 * naming the damaged block and its byte offset, or out of memory); *t is
 * zeroed on failure.  The chains are shortened once, in place
 * (tr_chains_shorten: every request re-based on the nearest ancestor that
 * copies tokens), so rebuilding a request costs O(its tokens) however long
 * the trace; the file is read as it is (any version-1 pack, whoever wrote
 * it).  tr_pack_load_as_stored keeps the bases the file holds (the tests
 * and the bench compare the two). */
int tr_pack_load(const char *path, tr_trace *t, tr_err *err);
int tr_pack_load_as_stored(const char *path, tr_trace *t, tr_err *err);

/* Whether the first n bytes of a file begin like a packed trace. */
int tr_pack_sniff(const void *head, size_t n);

/* Bytes a loaded trace holds: requests plus pool (what the bench reports). */
uint64_t tr_trace_bytes(const tr_trace *t);

#endif
