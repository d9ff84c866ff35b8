#!/usr/bin/env python3
"""Measure the reference quirks' effect on the golden configurations.

usage: scripts/quirk_effects.py [--bin build/marconi] [--dir ../shared/golden]

For every row of DIR/expected.jsonl, runs `marconi sim --timing logical` in default mode,
with --compat reference, and with each quirk alone (--quirks NAME), and
prints a Markdown table: token hit rate and FLOPs saved, default vs
reference, and how much each quirk alone moves the token hit rate.
"""
import argparse, concurrent.futures as cf, json, os, subprocess

p = argparse.ArgumentParser()
p.add_argument("--bin", default="build/marconi")
p.add_argument("--dir", default="../shared/golden")
a = p.parse_args()
QUIRKS = ["leaf-bytes", "mlp-parent-attn", "match-past-partial", "estimated-bytes",
          "evict-own-path", "heapq-ties", "block-partial-no-touch"]
rows = [json.loads(l) for l in open(os.path.join(a.dir, "expected.jsonl"))]


def run(r, extra):
    cmd = [a.bin, "sim", os.path.join(a.dir, r["trace"]), "--system", r["system"], "--capacity",
           repr(r["capacity"]), "--timing", "logical", "--json"] + extra
    if r["alpha"] is not None:
        cmd += ["--alpha", repr(r["alpha"])]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def one(r):
    d = run(r, [])
    c = run(r, ["--compat", "reference"])
    q = {name: run(r, ["--quirks", name])["token_hit_rate"] - d["token_hit_rate"] for name in QUIRKS}
    return r, d, c, q


with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
    res = list(ex.map(one, rows))
print("| trace | system | capacity | alpha | token hit (default) | token hit (reference) | FLOPs saved (default / reference) | final alpha (default / reference) |")
print("|---|---|---|---|---|---|---|---|")
for r, d, c, q in res:
    fa = lambda x: "-" if x["final_alpha"] is None else f"{x['final_alpha']:g}"
    al = "-" if r["alpha"] is None else f"{r['alpha']:g}"
    print(f"| {r['trace']} | {r['system']} | {r['capacity']/1e9:g} GB | {al} | {d['token_hit_rate']*100:.2f}% | "
          f"{c['token_hit_rate']*100:.2f}% | {d['flops_saved']/c['flops_saved']:.4f} | {fa(d)} / {fa(c)} |")
print()
print("| quirk (alone, on top of default) | rows it changes | mean change in token hit rate | largest change |")
print("|---|---|---|---|")
for name in QUIRKS:
    ds = [q[name] for _, _, _, q in res]
    changed = sum(1 for x in ds if x != 0)
    big = max(ds, key=abs)
    print(f"| {name} | {changed} of {len(ds)} | {sum(ds)/len(ds)*100:+.3f} pp | {big*100:+.2f} pp |")
