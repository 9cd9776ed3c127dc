#!/usr/bin/env python3
"""Prints the tables of docs/performance.md from criterion's saved results.

Usage: benches/scripts/table.py [CRITERION_DIR]   (default: $CARGO_TARGET_DIR/criterion
or target/criterion). Reads every `new/benchmark.json` + `new/estimates.json` and prints
one Markdown table per benchmark group: one row per input size, first the ratios (each
tidings variant against the best peer, and against the limit where the group has one),
then every implementation's throughput (median), with the time per message where an
iteration handles a batch of messages.
"""
import json
import os
import sys
from collections import defaultdict

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")

groups = defaultdict(lambda: defaultdict(dict))  # group -> param -> function -> data
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    ns = est["median"]["point_estimate"]
    tp = bench.get("throughput") or {}
    param = bench.get("value_str") or "-"
    groups[bench["group_id"]][param][bench["function_id"]] = (ns, tp)


def rate(ns, tp):
    if "Bytes" in tp:
        return tp["Bytes"] / ns, "GB/s"
    if "Elements" in tp:
        return tp["Elements"] / ns * 1e3, "M/s"
    return 1e3 / ns, "M/s"


def cell(ns, tp, param):
    r, unit = rate(ns, tp)
    text = f"{r:.3g} {unit}"
    if "Bytes" in tp and param.isdigit():
        n = tp["Bytes"] // int(param)
        if n > 1:
            text += f" ({ns / n:.1f} ns/msg)"
    return text


def kind(f):
    if f.startswith("tidings"):
        return 0
    if f.startswith("limit"):
        return 2
    return 1


def size_key(p):
    return int(p) if p.isdigit() else 0


for group in sorted(groups):
    params = sorted(groups[group], key=size_key)
    funcs = sorted({f for p in params for f in groups[group][p]}, key=lambda f: (kind(f), f))
    ours = [f for f in funcs if kind(f) == 0]
    peers = [f for f in funcs if kind(f) == 1]
    limits = [f for f in funcs if kind(f) == 2]
    ratio_cols = []
    for o in ours:
        if peers:
            ratio_cols.append((o, "best peer"))
        for l in limits:
            ratio_cols.append((o, l))
    head = ["size"] + [f"{o} ÷ {w}" for o, w in ratio_cols] + funcs
    print(f"\n**{group}**\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for p in params:
        row = groups[group][p]
        cells = [p]
        for o, w in ratio_cols:
            if o not in row:
                cells.append("")
                continue
            mine = rate(*row[o])[0]
            if w == "best peer":
                best = [rate(*row[f])[0] for f in peers if f in row]
                cells.append(f"**{mine / max(best):.2f}x**" if best else "")
            else:
                cells.append(f"{mine / rate(*row[w])[0]:.2f}x" if w in row else "")
        for f in funcs:
            cells.append(cell(*row[f], p) if f in row else "")
        print("| " + " | ".join(cells) + " |")
