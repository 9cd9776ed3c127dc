#!/usr/bin/env python3
"""Lines of code of Rust sources, the way issue 17 counts them.

    benches/scripts/loc.py [--files] DIR...

Counts the lines that are neither blank nor comments (`//`, `///`, `//!`, `/* */`),
and leaves out `#[cfg(test)]` (and `#[cfg(all(test, ...))]`) modules. Attributes,
braces and `use` lines count, as in tokei's "code". With --files, one line per file.
"""
import os
import re
import sys


def count(path):
    n = 0
    depth = 0
    skip_depth = None
    pending_test = False
    in_block = False
    for line in open(path, encoding="utf-8").read().split("\n"):
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*"):
            if "*/" not in s:
                in_block = True
            continue
        if skip_depth is not None:
            depth += line.count("{") - line.count("}")
            if depth <= skip_depth:
                skip_depth = None
            continue
        if re.match(r"#\[cfg\((all\()?test", s):
            pending_test = True
            continue
        if pending_test and re.match(r"(pub(\(crate\))? )?mod .*\{$", s):
            skip_depth = depth
            depth += 1
            pending_test = False
            continue
        if s and not s.startswith("#"):
            pending_test = False
        depth += line.count("{") - line.count("}")
        if not s or s.startswith("//"):
            continue
        n += 1
    return n


def main():
    args = sys.argv[1:]
    files = "--files" in args
    total = 0
    for root in (a for a in args if a != "--files"):
        for dirpath, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                if name.endswith(".rs"):
                    path = os.path.join(dirpath, name)
                    c = count(path)
                    total += c
                    if files:
                        print(c, path)
    print(total)


if __name__ == "__main__":
    main()
