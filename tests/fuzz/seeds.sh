#!/usr/bin/env bash
# seeds.sh -- how the seed corpus in tests/fuzz/corpus/ was made (run once;
# the files are kept in the repository, so this is a record, not a build
# step).  Findings of `make fuzz` are added to corpus/TARGET/ by hand, named
# after what they found.
#
#   tests/fuzz/seeds.sh build/marconi
set -euo pipefail
M="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
C="$here/corpus"
R="$here/../regress/inputs"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mkdir -p "$C"/{jsonl,jsonl_gz,packed,model,profile,sharegpt,lmsys,agent,tokenizer}
cd "$tmp"
# traces: small ones, every kind
"$M" gen lmsys --sessions 2 --seed 1 --max-tokens 300 --min-turns 2 --vocab 40 -o lm.jsonl >/dev/null
"$M" gen swebench --sessions 1 --seed 2 --max-tokens 2000 --max-turns 2 --system-tokens 20 -o sw.jsonl >/dev/null
"$M" gen shared-prefix --sessions 4 --groups 2 --system-tokens 8 --seed 3 -o sp.jsonl >/dev/null
cp lm.jsonl sw.jsonl sp.jsonl "$C/jsonl/"
L='{"session_id": 0, "turn_id": 0, "ts": 0.0, "num_input_tokens": 3, "num_output_tokens": 2, "input_tokens": [1, 2, 3], "output_tokens": [4, 5]}'
L1='{"session_id": 0, "turn_id": 1, "ts": 1.5, "num_input_tokens": 6, "num_output_tokens": 0, "input_tokens": [1, 2, 3, 4, 5, 6], "output_tokens": []}'
J="$C/jsonl"
printf '%s\n%s\n' "$L" "$L1" > "$J/two_turns.jsonl"
printf '{"session_id":0,"turn_id":0,"ts":0.0,"num_input_tokens":3,"num_output_tokens":2,"input_tokens":[1,2,3],"output_tokens":[4,5]}\r\n\n{ "output_tokens" : [ 6 ] , "input_tokens" : [ 1 , 2 , 3 , 4 , 5 ], "num_output_tokens": 1, "num_input_tokens": 5, "ts": 1e1, "turn_id": 1, "session_id": 0, "model": "x"}\n{"session_id": 7, "turn_id": 0, "ts": 12, "num_input_tokens": 1, "num_output_tokens": 0, "input_tokens": [2147483647], "output_tokens": []}' > "$J/odd_but_good.jsonl"
printf '%s\n' "${L/\"ts\": 0.0/\"ts\": 01}" > "$J/ts_leading_zero.jsonl"
printf '%s\n' "${L/\"ts\": 0.0/\"ts\": 0.}" > "$J/ts_trailing_dot.jsonl"
printf '%s\n%s\n' "$L1" "$L" > "$J/ts_decreasing.jsonl"
printf '%s\n%s\n' "$L" "$L" > "$J/turn_repeated.jsonl"
printf '\xef\xbb\xbf%s\n' "$L" > "$J/bom.jsonl"
printf '%s\n' "${L/\"ts\": 0.0/\"ts\": 0.0, \"session_id\": 1}" > "$J/duplicate_key.jsonl"
printf '%s\n' "${L/\[4, 5\]/[4, 2147483648]}" > "$J/token_too_big.jsonl"
printf '{"session_id": 0, "turn_id": 0, "ts": 0, "num_input_tokens": 1, "num_output_tokens": 0, "input_tokens": [7], "output_tokens": []}\n' > "$J/no_output.jsonl"
# gzip: the mode byte of fuzz_jsonl_gz.c, then the payload
G="$C/jsonl_gz"
gzip -c lm.jsonl > lm.jsonl.gz
{ printf '\x00'; cat lm.jsonl.gz; } > "$G/raw_gzip"
{ printf '\x00'; cat lm.jsonl.gz; printf 'garbage'; } > "$G/raw_trailing_garbage"
{ printf '\x00'; cat lm.jsonl.gz; head -c 12 lm.jsonl.gz; } > "$G/raw_cut_second_member"
{ printf '\x00'; head -c 400 lm.jsonl.gz; } > "$G/raw_truncated"
{ printf '\x00'; head -n 3 lm.jsonl | gzip -c; tail -n +4 lm.jsonl | gzip -c; } > "$G/raw_two_members"
{ printf '\x01'; cat "$J/two_turns.jsonl"; } > "$G/one_member"
{ printf '\x02\x80'; cat "$J/two_turns.jsonl"; } > "$G/two_members"
{ printf '\x03\x90'; cat "$J/two_turns.jsonl"; } > "$G/member_and_tail"
{ printf '\x01'; cat "$J/odd_but_good.jsonl"; } > "$G/one_member_odd"
# packed: the mode byte of fuzz_packed.c, then a file
P="$C/packed"
"$M" pack lm.jsonl -o lm.mtrace >/dev/null
"$M" pack sw.jsonl -o sw.mtrace --keep-bases --level 1 >/dev/null
"$M" pack "$J/odd_but_good.jsonl" -o odd.mtrace >/dev/null
for f in lm sw odd; do { printf '\x00'; cat $f.mtrace; } > "$P/raw_$f"; { printf '\x01'; cat $f.mtrace; } > "$P/sums_$f"; done
# mode 2: header fields, a record block length byte, records, pool
python3 - "$P/built_one" <<'PY'
import struct, sys
h = bytes([0, 0, 0, 0]) + struct.pack('<III', 3, 2, 5) + bytes(24)   # 1 request, 1 session; in 3, out 2, max 5
rec = bytes([0, 0]) + struct.pack('<d', 0.5) + bytes([3, 2, 0, 0, 0])  # s0 t0 ts .5, 3 in 2 out, no base, off 0
pool = struct.pack('<5i', 1, 2, 3, 4, 5)
open(sys.argv[1], 'wb').write(b'\x02' + h + bytes([len(rec)]) + rec + pool)
PY
# model files
Mo="$C/model"
cp "$R/model.json" "$Mo/mini_mix.json"
echo '{"base": "tiny", "name": "tiny-32k", "vocab": 32000}' > "$Mo/base_tiny.json"
echo '{"name": "x", "pattern": "M-A-M-"}' > "$Mo/pattern.json"
printf '{\n  "name": "gqa",\n  "d": 1024,\n  "n": 64,\n  "n_heads": 8,\n  "n_kv_heads": 2,\n  "n_attn": 2, "n_ssm": 6, "n_mlp": 8\n}\n' > "$Mo/multiline.json"
echo '{"name": "x"}' > "$Mo/only_name.json"
echo '{"d": 4096, "d": 2048}' > "$Mo/duplicate_key.json"
printf '\xef\xbb\xbf{"n": 16}' > "$Mo/bom.json"
echo '{"n_attn": 5, "n_ssm": 30, "n_mlp": 35, "n": 64}' > "$Mo/counts.json"
# profile CSVs
Pr="$C/profile"
printf 'new_tokens,cached_tokens,ms\n1,0,1\n1001,0,1001\n' > "$Pr/two_points.csv"
printf 'new_tokens,cached_tokens,ms\n100,0,10\n200,0,20\n100,1000,30\n200,1000,40\n' > "$Pr/two_rows.csv"
printf 'new_tokens,ms\n32,1.5\n' > "$Pr/no_cached.csv"
printf ' ms , new_tokens , extra\r\n 2.5 , 8 , x\r\n\r\n' > "$Pr/spaces_crlf.csv"
printf 'new_tokens,cached_tokens,ms\n1,0,1\n4,0,3\n2,0,2\n' > "$Pr/not_monotone.csv"
printf 'new_tokens,cached_tokens,ms\n1,,1\n' > "$Pr/empty_cell.csv"
printf '\xef\xbb\xbfnew_tokens,ms\n1,2\n' > "$Pr/bom.csv"
# converters: the settings byte of fuzz_convert.h, then a log
for f in sharegpt lmsys agent; do :; done
python3 - "$R" "$C" <<'PY'
import json, sys
R, C = sys.argv[1], sys.argv[2]
sg = json.load(open(R + '/sharegpt.json'))
open(C + '/sharegpt/array', 'wb').write(b'\x01' + json.dumps(sg[:2], indent=1).encode())
open(C + '/sharegpt/jsonl', 'wb').write(b'\x11\x40' + ('\n'.join(json.dumps(c) for c in sg[:3]) + '\n').encode())
open(C + '/sharegpt/short_and_odd', 'wb').write(b'\x03' + json.dumps([{"conversations": [{"from": "human", "value": "caf\u00e9 \ud83d\ude00 \"q\"\n"}, {"from": "gpt", "value": ""}]}, {"id": 3}]).encode())
lm = open(R + '/lmsys.jsonl').read().splitlines()
open(C + '/lmsys/jsonl', 'wb').write(b'\x01' + ('\n'.join(lm[:3]) + '\n').encode())
open(C + '/lmsys/array', 'wb').write(b'\x02' + json.dumps([json.loads(l) for l in lm[:2]]).encode())
open(C + '/lmsys/non_ascii', 'wb').write(b'\x00' + json.dumps({"conversation": [{"content": "\u00e9\u00e9\u00e9 \u20ac", "role": "user"}, {"content": "ok", "role": "assistant"}]}).encode() + b'\n')
for i in range(3):
    t = json.load(open(R + '/agent%d.traj.json' % i))
    open(C + '/agent/traj%d' % i, 'wb').write(bytes([0x41 + i]) + json.dumps(t).encode())
msgs = json.load(open(R + '/agent0.traj.json'))['messages']
open(C + '/agent/messages_array', 'wb').write(b'\x00' + json.dumps(msgs[:6]).encode())
open(C + '/agent/history', 'wb').write(b'\x04' + json.dumps({"history": msgs[:5]}).encode())
PY
# tokenizers (llama2.c tokenizer.bin)
python3 - "$C/tokenizer" <<'PY'
import struct, sys
d = sys.argv[1]
def tok(words, path):
    out = struct.pack('<i', max(len(w) for w, _ in words))
    for w, s in words:
        b = w.encode()
        out += struct.pack('<fi', s, len(b)) + b
    open(path, 'wb').write(out)
base = [('<unk>', 0.0), ('<s>', 0.0), ('</s>', 0.0)] + [('<0x%02X>' % i, 0.0) for i in range(256)]
tok(base + [(' ', -1.0), ('h', -2.0), ('e', -2.0), ('l', -2.0), ('o', -2.0), ('he', -1.5), ('ll', -1.2), ('hell', -1.0), (' hello', -0.5), ('dead', -2e10)], d + '/small.bin')
tok([('a', 0.0), ('b', -1.0), ('ab', 0.5), ('a', 1.0)], d + '/tiny_repeat.bin')
open(d + '/truncated.bin', 'wb').write(struct.pack('<i', 4) + struct.pack('<f', 0.0))
PY
# mooncake: the settings byte of fuzz_mooncake.c, then the trace
K="$C/mooncake"
mkdir -p "$K"
printf '\x09{"timestamp": 0, "input_length": 1100, "output_length": 50, "hash_ids": [1, 2, 3]}\n{"timestamp": 1500, "input_length": 1500, "output_length": 50, "hash_ids": [1, 2, 7]}\n{"timestamp": 1500, "input_length": 1200, "output_length": 7, "hash_ids": [1, 2, 8]}\n{"timestamp": 3000, "input_length": 1600, "output_length": 20, "hash_ids": [1, 2, 3, 10]}\n' > "$K/chained"
printf '\x02{"timestamp": 0, "input_length": 9, "output_length": 1, "hash_ids": [0, 1, 2]}\n{"timestamp": 0.5, "input_length": 10, "output_length": 0, "hash_ids": [0, 1, 5]}\n' > "$K/block4"
printf '\x19{"timestamp": 5, "input_length": 3, "output_length": 1, "hash_ids": [1]}\n{"timestamp": 4, "input_length": 3, "output_length": 1, "hash_ids": [1]}\n' > "$K/ts_decreasing"
printf '\x01{"timestamp": 0, "input_length": 3, "output_length": 1, "hash_ids": [1]}\n' > "$K/wrong_block_count"
echo "seeds: $(find "$C" -type f | wc -l) files in $C"
