/* test_errors.c -- bad inputs, each with its exact message and exit code.
 *
 * One table (cases[] below) says, for every bad input: the files it needs,
 * the command line, the one line the command must print on stderr and its
 * exit status.  The suite runs every row in-process (tests/harness.h's
 * th_run, in a private folder so paths print short) and checks both, then
 * checks that docs/errors.md is the table as `--doc` prints it:
 *
 *   build/tests/test_errors            run the rows and the doc check
 *   build/tests/test_errors --doc      print docs/errors.md
 *   build/tests/test_errors --actual   print what each row gives now
 *
 * So the doc and the test cannot drift: change a message, then regenerate
 * the doc with --doc (the failure says so).
 *
 * The files are written once, by the group setup; binary ones (gzip,
 * packed) are built byte by byte here -- stored deflate blocks, fixed
 * headers -- so every byte offset a message names is the same with any
 * zlib. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "harness.h"
#include "base/buf.h"
#include "cli/cmds.h"

/* ---- the files ------------------------------------------------------------------------- */

/* A request line: session s, turn t, arrival ts (text), 2 input and 1
 * output tokens. */
#define REQ(s, t, ts)                                                                                        \
    "{\"session_id\": " #s ", \"turn_id\": " #t ", \"ts\": " ts ", \"num_input_tokens\": 2, "               \
    "\"num_output_tokens\": 1, \"input_tokens\": [1, 2], \"output_tokens\": [3]}"

typedef struct efile {
    const char *name; /* in the test's folder */
    const char *what; /* the doc's words for it */
    const char *text; /* its bytes, or NULL: made by make() */
    void (*make)(const char *path);
} efile;

/* out += a gzip member holding text[0..n) in stored (uncompressed) deflate
 * blocks: its size is 10 + 5 per 65535 bytes + n + 8, whatever the zlib. */
static size_t gz_stored(unsigned char *out, const char *text, size_t n) {
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    size_t o = 0;
    memcpy(out, hdr, 10);
    o = 10;
    size_t i = 0;
    do {
        size_t k = n - i > 65535 ? 65535 : n - i;
        out[o++] = i + k == n; /* BFINAL on the last block, BTYPE 00 */
        out[o++] = (unsigned char)k;
        out[o++] = (unsigned char)(k >> 8);
        out[o++] = (unsigned char)~k;
        out[o++] = (unsigned char)(~k >> 8);
        memcpy(out + o, text + i, k);
        o += k;
        i += k;
    } while (i < n);
    uint32_t c = (uint32_t)crc32(0, (const Bytef *)text, (uInt)n), len = (uint32_t)n;
    for (int b = 0; b < 4; b++) out[o++] = (unsigned char)(c >> (8 * b));
    for (int b = 0; b < 4; b++) out[o++] = (unsigned char)(len >> (8 * b));
    return o;
}

static void put_bytes(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* 34 requests, one a line. */
static char *lines34(void) {
    static char text[34 * 200];
    text[0] = '\0';
    for (int i = 0; i < 34; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "{\"session_id\": %d, \"turn_id\": 0, \"ts\": %d, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
                 "\"input_tokens\": [%d], \"output_tokens\": []}\n",
                 i, i, i + 1);
    return text;
}

static unsigned char gzbuf[1 << 17];

static void make_gz_garbage(const char *path) {
    const char *t = REQ(0, 0, "0.0") "\n";
    size_t n = gz_stored(gzbuf, t, strlen(t));
    memcpy(gzbuf + n, "not gzip", 8);
    put_bytes(path, gzbuf, n + 8);
}

static void make_gz_tail(const char *path) {
    const char *t = lines34();
    size_t n = gz_stored(gzbuf, t, strlen(t));
    static const unsigned char more[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}; /* a second member's header */
    memcpy(gzbuf + n, more, sizeof more);
    put_bytes(path, gzbuf, n + sizeof more);
}

/* three short lines, then one of 3000 tokens: cut in the middle of it */
static void make_gz_cut(const char *path) {
    static char t[40000];
    snprintf(t, sizeof t, "%s\n%s\n%s\n{\"session_id\": 1, \"turn_id\": 1, \"ts\": 3, \"num_input_tokens\": 3000, "
             "\"num_output_tokens\": 0, \"input_tokens\": [", REQ(0, 0, "0"), REQ(0, 1, "1"), REQ(1, 0, "2"));
    for (int i = 0; i < 3000; i++) snprintf(t + strlen(t), sizeof t - strlen(t), "%s%d", i ? ", " : "", 1000 + i);
    strcat(t, "], \"output_tokens\": []}\n");
    size_t n = gz_stored(gzbuf, t, strlen(t));
    put_bytes(path, gzbuf, n - 8000);
}

static void make_gz_crc(const char *path) {
    const char *t = REQ(0, 0, "0.0") "\n";
    size_t n = gz_stored(gzbuf, t, strlen(t));
    gzbuf[n - 8] ^= 0x01; /* the CRC-32 */
    put_bytes(path, gzbuf, n);
}

static void make_gz_header(const char *path) {
    static const unsigned char h[3] = {0x1f, 0x8b, 8};
    put_bytes(path, h, sizeof h);
}

static void make_mtrace_short(const char *path) { put_bytes(path, (const unsigned char *)"MTRACE\1\0\140\0\0\0\0\0\0\0", 16); }

static void make_mtrace_sum(const char *path) {
    unsigned char h[96] = "MTRACE\1\0\140";
    put_bytes(path, h, sizeof h); /* its CRC-32 (bytes 92..95) is 0: wrong */
}

static void make_mtrace_version(const char *path) {
    unsigned char h[96] = "MTRACE\2\0\140";
    uint32_t c = (uint32_t)crc32(0, h, 92);
    for (int b = 0; b < 4; b++) h[92 + b] = (unsigned char)(c >> (8 * b));
    put_bytes(path, h, sizeof h);
}

static void make_dir(const char *path) { assert_int_equal(mkdir(path, 0755), 0); }

static void make_tok_short(const char *path) {
    static const unsigned char t[8] = {4, 0, 0, 0, 0, 0, 0, 0}; /* max_token_length 4, half a token */
    put_bytes(path, t, sizeof t);
}

static const efile files[] = {
    {"good.jsonl", "two requests of one session, in order", REQ(0, 0, "0.0") "\n" REQ(0, 1, "1.0") "\n", NULL},
    {"ts01.jsonl", "`\"ts\": 01` (a leading zero)", REQ(0, 0, "01") "\n", NULL},
    {"ts0dot.jsonl", "`\"ts\": 0.` (no digit after the point)", REQ(0, 0, "0.") "\n", NULL},
    {"back.jsonl", "the second request arrives before the first", REQ(0, 0, "5.0") "\n" REQ(1, 0, "2.5") "\n", NULL},
    {"again.jsonl", "session 0 turn 0 twice", REQ(0, 0, "0.0") "\n" REQ(0, 0, "1.0") "\n", NULL},
    {"turnback.jsonl", "session 0's turn 1, then its turn 0", REQ(0, 1, "0.0") "\n" REQ(0, 0, "1.0") "\n", NULL},
    {"bom.jsonl", "a UTF-8 byte-order mark, then a request", "\xef\xbb\xbf" REQ(0, 0, "0.0") "\n", NULL},
    {"bom2.jsonl", "a request, then a byte-order mark before the second",
     REQ(0, 0, "0.0") "\n\xef\xbb\xbf" REQ(0, 1, "1.0") "\n", NULL},
    {"zwsp.jsonl", "a zero-width space (U+200B) after `\"session_id\":`",
     "{\"session_id\":\xe2\x80\x8b 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
     "\"input_tokens\": [1], \"output_tokens\": []}\n", NULL},
    {"ctrl.jsonl", "a control character (0x01) where a value should be",
     "{\"session_id\": \x01, \"turn_id\": 0}\n", NULL},
    {"nots.jsonl", "a request without `ts`",
     "{\"session_id\": 0, \"turn_id\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, \"input_tokens\": [1], "
     "\"output_tokens\": []}\n", NULL},
    {"sid.jsonl", "`\"session_id\": \"a\"`",
     "{\"session_id\": \"a\", \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 0, "
     "\"input_tokens\": [1], \"output_tokens\": []}\n", NULL},
    {"negts.jsonl", "`\"ts\": -1.5`", REQ(0, 0, "-1.5") "\n", NULL},
    {"bigtok.jsonl", "an output token of 2^31",
     "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, \"num_output_tokens\": 1, "
     "\"input_tokens\": [1], \"output_tokens\": [2147483648]}\n", NULL},
    {"count.jsonl", "`num_input_tokens` 3 with 2 input tokens",
     "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 3, \"num_output_tokens\": 0, "
     "\"input_tokens\": [1, 2], \"output_tokens\": []}\n", NULL},
    {"noin.jsonl", "a request with no input token",
     "{\"session_id\": 0, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 0, \"num_output_tokens\": 0, "
     "\"input_tokens\": [], \"output_tokens\": []}\n", NULL},
    {"array.jsonl", "a line that is a JSON array", "[1, 2]\n", NULL},
    {"dupkey.jsonl", "`session_id` twice in one request",
     "{\"session_id\": 0, \"session_id\": 1, \"turn_id\": 0, \"ts\": 0, \"num_input_tokens\": 1, "
     "\"num_output_tokens\": 0, \"input_tokens\": [1], \"output_tokens\": []}\n", NULL},
    {"blank.jsonl", "blank lines only", "\n  \n\n", NULL},
    {"dir", "a directory", NULL, make_dir},
    {"garbage.jsonl.gz", "a gzip member (one request), then the bytes `not gzip`", NULL, make_gz_garbage},
    {"tail.jsonl.gz", "a gzip member of 34 lines, then the 10-byte header of a second member and nothing more",
     NULL, make_gz_tail},
    {"cut.jsonl.gz", "a gzip member of 4 lines cut 8,000 bytes before its end (inside line 4)", NULL, make_gz_cut},
    {"crc.jsonl.gz", "a gzip member with one bit of its CRC-32 flipped", NULL, make_gz_crc},
    {"header.jsonl.gz", "the bytes 1f 8b 08: the start of a gzip header", NULL, make_gz_header},
    {"short.mtrace", "`MTRACE` and 10 more bytes", NULL, make_mtrace_short},
    {"sum.mtrace", "a 96-byte packed header whose CRC-32 is wrong", NULL, make_mtrace_sum},
    {"v2.mtrace", "a packed header of version 2, its CRC-32 right", NULL, make_mtrace_version},
    {"name.json", "`{\"name\": \"x\"}`", "{\"name\": \"x\"}\n", NULL},
    {"empty.json", "`{}`", "{}\n", NULL},
    {"colour.json", "a model file with `\"colour\"` on line 3", "{\n  \"name\": \"x\",\n  \"colour\": 1\n}\n", NULL},
    {"negd.json", "a model file with `\"d\": -4` on line 3", "{\n  \"name\": \"x\",\n  \"d\": -4\n}\n", NULL},
    {"dupd.json", "`\"d\"` twice", "{\"d\": 1024, \"d\": 2048}\n", NULL},
    {"bom.json", "a byte-order mark, then a model", "\xef\xbb\xbf{\"n\": 16}\n", NULL},
    {"nothing.json", "an empty file", "", NULL},
    {"broken.json", "`{\"d\": 4` (unfinished)", "{\"d\": 4", NULL},
    {"base.json", "`{\"base\": \"gpt\"}`", "{\"base\": \"gpt\"}\n", NULL},
    {"pattern.json", "layer counts that the pattern contradicts", "{\"n_attn\": 1, \"pattern\": \"M-M-\"}\n", NULL},
    {"heads.json", "`\"d\": 1024, \"n_heads\": 3`", "{\"d\": 1024, \"n_heads\": 3}\n", NULL},
    {"mono.csv", "a profile whose row 4 has fewer tokens than row 3",
     "new_tokens,cached_tokens,ms\n1,0,1\n4,0,3\n2,0,2\n", NULL},
    {"cell.csv", "a profile row with an empty cached_tokens cell", "new_tokens,cached_tokens,ms\n1,,1\n", NULL},
    {"cols.csv", "a profile row with 4 cells under a 3-column header", "new_tokens,cached_tokens,ms\n1,0,1,4\n", NULL},
    {"hex.csv", "`0x10` as a latency", "new_tokens,ms\n1,0x10\n", NULL},
    {"frac.csv", "`1.5` new tokens", "new_tokens,ms\n1.5,2\n", NULL},
    {"huge.csv", "a latency of 1e12 ms", "new_tokens,ms\n1,1e12\n", NULL},
    {"bom.csv", "a byte-order mark, then a profile", "\xef\xbb\xbfnew_tokens,ms\n1,2\n", NULL},
    {"nothing.csv", "an empty file", "", NULL},
    {"header.csv", "a header without `ms`", "new_tokens,latency\n1,2\n", NULL},
    {"twice.csv", "a header naming `ms` twice", "new_tokens,ms,ms\n1,2,3\n", NULL},
    {"only.csv", "a header and no row", "new_tokens,ms\n", NULL},
    {"bom.lmsys.jsonl", "a byte-order mark, then an LMSys conversation",
     "\xef\xbb\xbf{\"conversation\": [{\"content\": \"hi\", \"role\": \"user\"}]}\n", NULL},
    {"zwsp.traj.json", "an agent trajectory with a zero-width space (U+200B) before a value",
     "[{\"role\": \"user\",\n  \"content\":\xe2\x80\x8b \"hi\"}]\n", NULL},
    {"noconv.sharegpt.json", "a ShareGPT list whose element has no `conversations`",
     "[{\"id\": \"a\", \"turns\": []}]\n", NULL},
    {"short.tok", "8 bytes: max_token_length 4, then half a token", NULL, make_tok_short},
    {"blocks.mooncake.jsonl", "a Mooncake request of 1,000 tokens with one block hash (512-token blocks need 2)",
     "{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 5, \"hash_ids\": [7]}\n", NULL},
    {"back.mooncake.jsonl", "two Mooncake requests, the second 2 ms before the first",
     "{\"timestamp\": 10, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [7]}\n"
     "{\"timestamp\": 8, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [7]}\n", NULL},
};

/* ---- the table ------------------------------------------------------------------------- */

typedef struct ecase {
    const char *what;               /* the bad input, in words */
    int (*cmd)(int, char **);       /* the subcommand */
    const char *argv[16];           /* its arguments, argv[0] first, NULL-terminated */
    const char *msg;                /* the one line on stderr */
    int rc;                         /* the exit status */
} ecase;

#define SIM(...) cmd_sim, { "sim", __VA_ARGS__, NULL }
#define GOOD "good.jsonl", "--capacity", "1GB"

static const ecase cases[] = {
    /* ---- traces (JSONL) */
    {"a JSON number with a leading zero", SIM("ts01.jsonl", "--capacity", "1GB"),
     "marconi: ts01.jsonl:1: invalid JSON at column 39: invalid token near '0' (a JSON number has no leading zeros and "
     "digits on both sides of its '.')", 2},
    {"a JSON number ending in '.'", SIM("ts0dot.jsonl", "--capacity", "1GB"),
     "marconi: ts0dot.jsonl:1: invalid JSON at column 40: invalid token near '0.' (a JSON number has no leading zeros "
     "and digits on both sides of its '.')", 2},
    {"requests out of arrival order", SIM("back.jsonl", "--capacity", "1GB"),
     "marconi: back.jsonl:2: \"ts\" 2.5 is earlier than line 1's 5.0: requests must be in arrival order (ts never "
     "decreasing)", 2},
    {"a (session, turn) repeated", SIM("again.jsonl", "--capacity", "1GB"),
     "marconi: again.jsonl:2: session 0 turn 0 again (line 1 has it): a (session_id, turn_id) appears once", 2},
    {"a session's turns out of order", SIM("turnback.jsonl", "--capacity", "1GB"),
     "marconi: turnback.jsonl:2: session 0 turn 0 comes after its turn 1 (line 1): a session's turn_ids must increase",
     2},
    {"a byte-order mark at the start", SIM("bom.jsonl", "--capacity", "1GB"),
     "marconi: bom.jsonl:1: a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one", 2},
    {"a byte-order mark at the start of line 2", SIM("bom2.jsonl", "--capacity", "1GB"),
     "marconi: bom2.jsonl:2: a UTF-8 byte-order mark (bytes EF BB BF) starts the line: remove it", 2},
    {"an invisible character", SIM("zwsp.jsonl", "--capacity", "1GB"),
     "marconi: zwsp.jsonl:1: invalid JSON at column 15: invalid token near 'U+200B (a zero-width space)'", 2},
    {"a control character", SIM("ctrl.jsonl", "--capacity", "1GB"),
     "marconi: ctrl.jsonl:1: invalid JSON at column 16: invalid token near '\\x01'", 2},
    {"a missing field", SIM("nots.jsonl", "--capacity", "1GB"), "marconi: nots.jsonl:1: missing field \"ts\"", 2},
    {"a field of the wrong type", SIM("sid.jsonl", "--capacity", "1GB"),
     "marconi: sid.jsonl:1: \"session_id\" must be an integer", 2},
    {"a negative ts", SIM("negts.jsonl", "--capacity", "1GB"),
     "marconi: negts.jsonl:1: \"ts\" must be a finite number >= 0, not -1.5", 2},
    {"a token ID out of range", SIM("bigtok.jsonl", "--capacity", "1GB"),
     "marconi: bigtok.jsonl:1: output_tokens[0] is not an integer in [0, 2^31)", 2},
    {"a token count that disagrees", SIM("count.jsonl", "--capacity", "1GB"),
     "marconi: count.jsonl:1: num_input_tokens is 3 but input_tokens has 2", 2},
    {"a request without input", SIM("noin.jsonl", "--capacity", "1GB"),
     "marconi: noin.jsonl:1: a request needs at least one input token", 2},
    {"a line that is not an object", SIM("array.jsonl", "--capacity", "1GB"),
     "marconi: array.jsonl:1: a request must be a JSON object", 2},
    {"a repeated key", SIM("dupkey.jsonl", "--capacity", "1GB"),
     "marconi: dupkey.jsonl:1: invalid JSON at column 30: duplicate object key near '\"session_id\"'", 2},
    {"no request at all", SIM("blank.jsonl", "--capacity", "1GB"),
     "marconi: blank.jsonl:3: the trace holds no requests", 2},
    {"a directory as the trace", SIM("dir", "--capacity", "1GB"), "marconi: dir:0: is a directory, not a trace", 2},
    {"a trace that is not there", SIM("none.jsonl", "--capacity", "1GB"),
     "marconi: none.jsonl:0: cannot open: No such file or directory", 2},
    {"the same, to `stats`", cmd_stats, {"stats", "back.jsonl", NULL},
     "marconi: back.jsonl:2: \"ts\" 2.5 is earlier than line 1's 5.0: requests must be in arrival order (ts never "
     "decreasing)", 2},
    /* ---- gzip */
    {"bytes after the gzip stream", SIM("garbage.jsonl.gz", "--capacity", "1GB"),
     "marconi: garbage.jsonl.gz:1: trailing garbage: 8 bytes after the end of the gzip stream (from byte 159) are not "
     "gzip", 2},
    {"a gzip-looking tail after 34 whole lines", SIM("tail.jsonl.gz", "--capacity", "1GB"),
     "marconi: tail.jsonl.gz:34: truncated gzip stream: the file ends after line 34, in the first bytes of gzip member "
     "2 (from byte 4516)", 2},
    {"a gzip stream cut inside a line", SIM("cut.jsonl.gz", "--capacity", "1GB"),
     "marconi: cut.jsonl.gz:4: truncated gzip stream: the file ends inside line 4", 2},
    {"a gzip checksum that fails", SIM("crc.jsonl.gz", "--capacity", "1GB"),
     "marconi: crc.jsonl.gz:1: corrupt gzip stream at byte 155: incorrect data check", 2},
    {"a gzip header cut short", SIM("header.jsonl.gz", "--capacity", "1GB"),
     "marconi: header.jsonl.gz:0: truncated gzip stream: the file ends inside its gzip header", 2},
    {"the same, to `pack`", cmd_pack, {"pack", "garbage.jsonl.gz", "-o", "out.mtrace", NULL},
     "marconi: garbage.jsonl.gz:1: trailing garbage: 8 bytes after the end of the gzip stream (from byte 159) are not "
     "gzip", 2},
    /* ---- packed traces */
    {"a packed trace shorter than its header", SIM("short.mtrace", "--capacity", "1GB"),
     "marconi: short.mtrace:0: truncated packed trace: 16 bytes, not even a header", 2},
    {"a packed header that fails its checksum", SIM("sum.mtrace", "--capacity", "1GB"),
     "marconi: sum.mtrace:0: corrupt packed trace: header checksum mismatch", 2},
    {"a packed trace of another version", SIM("v2.mtrace", "--capacity", "1GB"),
     "marconi: v2.mtrace:0: packed trace version 2 is not one this build reads (1)", 2},
    /* ---- model files */
    {"a model file that sets only its name", SIM(GOOD, "--model-file", "name.json"),
     "marconi: name.json:1: no model field (the file sets only \"name\"): give the shape (n_attn, n_ssm, n_mlp or "
     "pattern, d, n, ...), or \"base\": \"hybrid-7b\" to rename that preset", 2},
    {"an empty model object", cmd_model, {"model", "--model-file", "empty.json", NULL},
     "marconi: empty.json:1: no model field (the object is empty): give the shape (n_attn, n_ssm, n_mlp or pattern, "
     "d, n, ...), or \"base\": \"hybrid-7b\" to rename that preset", 2},
    {"an unknown field, on its line", SIM(GOOD, "--model-file", "colour.json"),
     "marconi: colour.json:3: unknown field \"colour\"", 2},
    {"a bad value, on its line", SIM(GOOD, "--model-file", "negd.json"),
     "marconi: negd.json:3: \"d\" must be an integer in [1, 1048576]", 2},
    {"a field given twice", SIM(GOOD, "--model-file", "dupd.json"),
     "marconi: dupd.json:1: duplicate object key near '\"d\"'", 2},
    {"a byte-order mark in a model file", SIM(GOOD, "--model-file", "bom.json"),
     "marconi: bom.json:1: a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one", 2},
    {"an empty model file", SIM(GOOD, "--model-file", "nothing.json"),
     "marconi: nothing.json:1: the file is empty; a model file is a JSON object", 2},
    {"a model file cut short", SIM(GOOD, "--model-file", "broken.json"),
     "marconi: broken.json:1: '}' expected near end of file", 2},
    {"an unknown base", SIM(GOOD, "--model-file", "base.json"),
     "marconi: base.json:1: \"base\" must name a preset (hybrid-7b, tiny, tiny-gqa)", 2},
    {"counts the pattern contradicts", SIM(GOOD, "--model-file", "pattern.json"),
     "marconi: pattern.json:1: pattern has 0 attention, 2 SSM, 2 MLP layers; the counts say 1, 24, 28", 2},
    {"heads that do not divide d", SIM(GOOD, "--model-file", "heads.json"),
     "marconi: heads.json:1: n_heads must divide d", 2},
    {"a directory as the model file", SIM(GOOD, "--model-file", "dir"),
     "marconi: dir:0: is a directory, not a model file", 2},
    {"a model file that is not there", cmd_model, {"model", "--model-file", "none.json", NULL},
     "marconi: none.json:0: cannot open: No such file or directory", 2},
    /* ---- prefill profiles (--ttft-model profile:FILE) */
    {"a profile that is not monotone", SIM(GOOD, "--ttft-model", "profile:mono.csv"),
     "marconi: mono.csv:4: not monotone at cached_tokens 0: new_tokens must increase and ms must not decrease (line "
     "3 has 4 tokens, 3 ms; this one 2 tokens, 2 ms)", 2},
    {"an empty cell", SIM(GOOD, "--ttft-model", "profile:cell.csv"),
     "marconi: cell.csv:2: column 2 (cached_tokens) is empty", 2},
    {"a row wider than the header", SIM(GOOD, "--ttft-model", "profile:cols.csv"),
     "marconi: cols.csv:2: 4 columns; the header has 3", 2},
    {"a cell that is not a decimal number", SIM(GOOD, "--ttft-model", "profile:hex.csv"),
     "marconi: hex.csv:2: column 2 (ms) is '0x10', not a number of ms in [0, 1e9]", 2},
    {"a fraction of a token", SIM(GOOD, "--ttft-model", "profile:frac.csv"),
     "marconi: frac.csv:2: column 1 (new_tokens) is '1.5', not a token count (an integer in [0, 2^40])", 2},
    {"a latency out of range", SIM(GOOD, "--ttft-model", "profile:huge.csv"),
     "marconi: huge.csv:2: column 2 (ms) is '1e12', not a number of ms in [0, 1e9]", 2},
    {"a byte-order mark in a profile", SIM(GOOD, "--ttft-model", "profile:bom.csv"),
     "marconi: bom.csv:1: a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one", 2},
    {"an empty profile", SIM(GOOD, "--ttft-model", "profile:nothing.csv"),
     "marconi: nothing.csv:1: the file is empty; its first line is the header new_tokens,cached_tokens,ms", 2},
    {"a header without ms", SIM(GOOD, "--ttft-model", "profile:header.csv"),
     "marconi: header.csv:1: the header needs columns new_tokens and ms (and optionally cached_tokens), as in "
     "new_tokens,cached_tokens,ms", 2},
    {"a column named twice", SIM(GOOD, "--ttft-model", "profile:twice.csv"),
     "marconi: twice.csv:1: the header names ms twice (columns 2 and 3)", 2},
    {"a header and nothing else", SIM(GOOD, "--ttft-model", "profile:only.csv"),
     "marconi: only.csv:1: no measurements: the header is all there is", 2},
    {"a directory as the profile", SIM(GOOD, "--ttft-model", "profile:dir"),
     "marconi: dir:0: is a directory, not a profile CSV", 2},
    /* ---- the replay options sim and sweep share (cli/opts.c) */
    {"an unknown timing", SIM(GOOD, "--timing", "fast"), "marconi: --timing: 'fast' is not a timing (des, logical)", 2},
    {"an unknown prefill model", SIM(GOOD, "--ttft-model", "b200"),
     "marconi: --ttft-model: 'b200' is not a TTFT model (a100, h100, jamba-a100, profile:FILE.csv)", 2},
    {"an MFU of 0", SIM(GOOD, "--mfu", "0"), "marconi: --mfu: '0' is not a number in (0, 1]", 2},
    {"an MFU above 1", SIM(GOOD, "--mfu", "1.5"), "marconi: --mfu: '1.5' is not a number in (0, 1]", 2},
    {"no GPU", SIM(GOOD, "--gpus", "0"), "marconi: --gpus: '0' is not a GPU count in [1, 4096]", 2},
    {"GPUs for a measured profile", SIM(GOOD, "--ttft-model", "jamba-a100", "--gpus", "2"),
     "marconi: --gpus: 'jamba-a100' is a measured profile: --gpus scales roofline models only", 2},
    {"a negative decode time", SIM(GOOD, "--tpot", "-1"), "marconi: --tpot: '-1' is not a number of ms in [0, 1e6]", 2},
    {"a chunk of 0 tokens", SIM(GOOD, "--chunk", "0"), "marconi: --chunk: '0' is not a token count in [1, 2^30]", 2},
    {"a bootstrap of 0", SIM(GOOD, "--bootstrap", "0"),
     "marconi: --bootstrap: '0' is not an integer in [1, 1000000]", 2},
    {"a negative scoring window", SIM(GOOD, "--score-last", "-1"),
     "marconi: --score-last: '-1' is not a request count in [0, 2^40] (0: all of them)", 2},
    {"an unknown compatibility mode", SIM(GOOD, "--compat", "python"),
     "marconi: --compat: 'python' is not a mode (none, reference)", 2},
    {"an unknown quirk", SIM(GOOD, "--quirks", "nonesuch"),
     "marconi: --quirks: 'nonesuch' names an unknown quirk (marconi sim --help)", 2},
    {"buckets that decrease", SIM(GOOD, "--buckets", "5,1"),
     "marconi: --buckets: '5,1' is not an increasing list of token counts (e.g. 0,4000,inf)", 2},
    {"the same options, to `sweep`", cmd_sweep, {"sweep", "--trace", "good.jsonl", "--score-last", "x", NULL},
     "marconi: --score-last: 'x' is not a request count in [0, 2^40] (0: all of them)", 2},
    /* ---- conversation logs and tokenizers (convert) */
    {"a directory as a log", cmd_convert, {"convert", "sharegpt", "dir", "-o", "out.jsonl", NULL},
     "marconi: dir:0: is a directory, not a conversation log", 2},
    {"a byte-order mark in a log", cmd_convert, {"convert", "lmsys", "bom.lmsys.jsonl", "-o", "out.jsonl", NULL},
     "marconi: bom.lmsys.jsonl:1: a UTF-8 byte-order mark (bytes EF BB BF) starts the file: save it without one", 2},
    {"an invisible character in a log", cmd_convert, {"convert", "agent", "zwsp.traj.json", "-o", "out.jsonl", NULL},
     "marconi: zwsp.traj.json:2: invalid JSON: invalid token near 'U+200B (a zero-width space)'", 2},
    {"a conversation without its messages", cmd_convert,
     {"convert", "sharegpt", "noconv.sharegpt.json", "-o", "out.jsonl", NULL},
     "marconi: noconv.sharegpt.json:1: conversation 0 has no \"conversations\" array", 2},
    {"a directory as the tokenizer", cmd_convert,
     {"convert", "lmsys", "bom.lmsys.jsonl", "--tokenizer", "dir", "-o", "out.jsonl", NULL},
     "marconi: --tokenizer: dir:0: is a directory, not a tokenizer", 2},
    {"a tokenizer cut short", cmd_convert,
     {"convert", "lmsys", "bom.lmsys.jsonl", "--tokenizer", "short.tok", "-o", "out.jsonl", NULL},
     "marconi: --tokenizer: short.tok:0: truncated tokenizer: token 0 at byte 4 has no score and length", 2},
    {"a folder without trajectories", cmd_convert, {"convert", "agent", "dir", "-o", "out.jsonl", NULL},
     "marconi: dir:0: holds no *.traj.json file", 2},
    /* ---- Mooncake traces (convert mooncake) */
    {"a directory as a Mooncake trace", cmd_convert, {"convert", "mooncake", "dir", "-o", "out.mtrace", NULL},
     "marconi: dir:0: is a directory, not a Mooncake trace", 2},
    {"too few block hashes", cmd_convert, {"convert", "mooncake", "blocks.mooncake.jsonl", "-o", "out.mtrace", NULL},
     "marconi: blocks.mooncake.jsonl:1: \"hash_ids\" has 1 blocks, but input_length 1000 needs 2 of 512 tokens", 2},
    {"Mooncake requests out of order", cmd_convert,
     {"convert", "mooncake", "back.mooncake.jsonl", "-o", "out.mtrace", NULL},
     "marconi: back.mooncake.jsonl:2: \"timestamp\" 8 is earlier than line 1's 10: requests must be in arrival order", 2},
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ---- running a row ------------------------------------------------------------------------ */

static char origin[4096]; /* where the suite started (the repository root) */

static int group_setup(void **state) {
    if (!getcwd(origin, sizeof origin)) return -1;
    if (th_setup(state)) return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i].text) {
            if (!th_write(files[i].name, files[i].text)) return -1;
        } else {
            files[i].make(th_path(files[i].name));
        }
    }
    return chdir(th_dir);
}

static int group_teardown(void **state) {
    if (chdir(origin)) return -1;
    return th_teardown(state);
}

/* Run row c: its exit status, and its stderr in th_err. */
static int run_row(const ecase *c) {
    char *argv[16];
    int argc = 0;
    while (c->argv[argc]) {
        argv[argc] = (char *)c->argv[argc];
        argc++;
    }
    argv[argc] = NULL;
    return run_captured_out(c->cmd, argc, argv, th_dir, th_err, sizeof th_err, th_out, sizeof th_out);
}

static void test_row(void **state) {
    const ecase *c = *state;
    int rc = run_row(c);
    char want[2048];
    snprintf(want, sizeof want, "%s\n", c->msg);
    if (strcmp(th_err, want) != 0 || rc != c->rc)
        fail_msg("marconi %s ...: exit %d, stderr\n  %s\nwanted exit %d,\n  %s\n", c->argv[0], rc, th_err, c->rc,
                 want);
}

/* ---- the doc ----------------------------------------------------------------------------- */

/* s with | escaped, into b. */
static void cell(mu_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|') mu_buf_put(b, "\\|", 2);
        else mu_buf_put(b, s, 1);
    }
}

static void bputs(mu_buf *b, const char *s) { mu_buf_put(b, s, strlen(s)); }

/* A file's bytes as the doc shows them: text in a code span, a newline as
 * ⏎, other bytes that would not show as \xNN. */
static void show_text(mu_buf *b, const char *t) {
    if (!*t) {
        bputs(b, "(0 bytes)");
        return;
    }
    bputs(b, "`");
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        char x[8];
        if (*p == '\n') bputs(b, "⏎");
        else if (*p == '|') bputs(b, "\\|");
        else if (*p < 0x20 || *p >= 0x7f) {
            snprintf(x, sizeof x, "\\x%02X", *p);
            bputs(b, x);
        } else mu_buf_put(b, (const char *)p, 1);
    }
    bputs(b, "`");
}

static void make_doc(mu_buf *b) {
    char n[32];
    bputs(b,
          "# Bad inputs: the message and the exit code of each\n"
          "\n"
          "Every row is a test: `make test` runs it (`tests/test_errors.c`, the command\n"
          "in-process, in a folder holding the files below) and checks that stderr is\n"
          "exactly the message shown and the exit code the one shown.  This page is\n"
          "printed from that test's table (`build/tests/test_errors --doc >\n"
          "docs/errors.md`), and the test fails when the page differs, so the two\n"
          "cannot drift.\n"
          "\n"
          "Messages are `marconi: FILE:LINE: what is wrong` for a bad file (LINE 0:\n"
          "the file as a whole) and `marconi: --option: 'value' what is wrong` for a bad\n"
          "option; both exit 2.  The rules behind the trace rows are in\n"
          "[traces.md](traces.md#what-a-trace-file-must-be).\n"
          "\n"
          "## The files\n"
          "\n"
          "| file | holds |\n"
          "|---|---|\n");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        bputs(b, "| `");
        bputs(b, files[i].name);
        bputs(b, "` | ");
        cell(b, files[i].what);
        if (files[i].text) {
            bputs(b, ": ");
            show_text(b, files[i].text);
        }
        bputs(b, " |\n");
    }
    bputs(b,
          "\n"
          "`⏎` is a newline, `\\xNN` a byte that would not show.\n"
          "\n"
          "## The rows\n"
          "\n"
          "| # | bad input | command | message (stderr) | exit |\n"
          "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NCASES; i++) {
        const ecase *c = &cases[i];
        snprintf(n, sizeof n, "| %zu | ", i + 1);
        bputs(b, n);
        cell(b, c->what);
        bputs(b, " | `marconi");
        for (int k = 0; c->argv[k]; k++) {
            bputs(b, " ");
            cell(b, c->argv[k]);
        }
        bputs(b, "` | `");
        cell(b, c->msg);
        snprintf(n, sizeof n, "` | %d |\n", c->rc);
        bputs(b, n);
    }
    snprintf(n, sizeof n, "%zu", NCASES);
    bputs(b, "\n");
    bputs(b, n);
    bputs(b, " rows.\n");
}

static void test_doc(void **state) {
    mu_buf want = {0};
    make_doc(&want);
    char path[4200];
    snprintf(path, sizeof path, "%s/docs/errors.md", origin);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s is missing: build/tests/test_errors --doc > docs/errors.md", path);
    mu_buf got = {0};
    char tmp[4096];
    for (size_t k; (k = fread(tmp, 1, sizeof tmp, f)) > 0;) mu_buf_put(&got, tmp, k);
    fclose(f);
    int same = got.len == want.len && !memcmp(got.p, want.p, got.len);
    free(got.p);
    free(want.p);
    if (!same) fail_msg("docs/errors.md is not the table of tests/test_errors.c: build/tests/test_errors --doc > docs/errors.md");
}

int main(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--doc") || !strcmp(argv[1], "--actual"))) {
        if (!strcmp(argv[1], "--doc")) {
            mu_buf b = {0};
            make_doc(&b);
            fwrite(b.p, 1, b.len, stdout);
            free(b.p);
            return 0;
        }
        void *st = NULL;
        if (group_setup(&st)) return 1;
        for (size_t i = 0; i < NCASES; i++) {
            int rc = run_row(&cases[i]);
            char want[2048];
            snprintf(want, sizeof want, "%s\n", cases[i].msg);
            printf("%s %zu %s: exit %d\n%s", strcmp(th_err, want) || rc != cases[i].rc ? "DIFF" : "same", i + 1,
                   cases[i].what, rc, th_err);
        }
        return group_teardown(&st) ? 1 : 0;
    }
    static struct CMUnitTest tests[NCASES + 1];
    static char names[NCASES][64];
    for (size_t i = 0; i < NCASES; i++) {
        snprintf(names[i], sizeof names[i], "row %zu", i + 1);
        tests[i] = (struct CMUnitTest){names[i], test_row, NULL, NULL, (void *)&cases[i]};
    }
    tests[NCASES] = (struct CMUnitTest){"docs/errors.md is the table", test_doc, NULL, NULL, NULL};
    return _cmocka_run_group_tests("errors", tests, NCASES + 1, group_setup, group_teardown);
}
