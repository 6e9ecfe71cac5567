#!/usr/bin/env python3
"""Finds import circles between the files of src/ (run by scripts/test.sh).

Each file is a node. A `use crate::a::b::X` or `use super::X` (also inside braces, and
`crate::a::b::f(...)` paths in code) is an edge to the file that defines what the path names:
the deepest module file the path reaches. A module's own `mod` declarations and its `pub use`
re-exports of its children are not edges (they are how a folder presents itself). Tests
(`#[cfg(test)]` modules and `tests.rs` files) are left out. Prints every circle and exits 1 if
there is one.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_files():
    """Maps a module path (tuple of names) to its file."""
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        parts = () if rel == "." else tuple(rel.split(os.sep))
        for f in files:
            if not f.endswith(".rs"):
                continue
            name = f[:-3]
            if parts == () and name in ("lib", "main"):
                mods[()] = os.path.join(dirpath, f) if name == "lib" else mods.get(())
                continue
            if name == "mod":
                mods[parts] = os.path.join(dirpath, f)
            else:
                mods[parts + (name,)] = os.path.join(dirpath, f)
    return {k: v for k, v in mods.items() if v}


def strip_tests(src):
    """Drops `#[cfg(test)] mod x { ... }` blocks and comments."""
    src = re.sub(r"//[^\n]*", "", src)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", src):
        if m.start() < i:
            continue
        out.append(src[i : m.start()])
        depth, j = 1, m.end()
        while j < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            j += 1
        i = j
    out.append(src[i:])
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d}}` → ["a::b", "a::c::d"]."""
    tree = tree.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", tree, re.S)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    res = []
    for p in parts:
        if p.strip():
            res.extend(prefix + e for e in expand(p.strip()))
    return res


def main():
    mods = module_files()
    by_file = {v: k for k, v in mods.items()}
    edges = {f: set() for f in by_file}
    for f, me in by_file.items():
        if f.endswith("tests.rs") or f.endswith("main.rs"):
            continue
        src = strip_tests(open(f, encoding="utf-8").read())
        is_mod_file = f.endswith("mod.rs") or f.endswith("lib.rs")
        paths = []
        for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", src):
            reexport = bool(m.group(1))
            for p in expand(m.group(2)):
                paths.append((p.split(" as ")[0].strip(), reexport))
        for m in re.finditer(r"\b(crate(?:::\w+)+)", src):
            paths.append((m.group(1), False))
        for p, reexport in paths:
            segs = [s for s in p.split("::") if s]
            if not segs:
                continue
            if segs[0] == "crate":
                base, rest = (), segs[1:]
            elif segs[0] == "super":
                base = me[:-1]
                rest = segs[1:]
                while rest and rest[0] == "super":
                    base, rest = base[:-1], rest[1:]
            elif segs[0] == "self":
                base, rest = me, segs[1:]
            elif is_mod_file and (me + (segs[0],)) in mods:
                base, rest = me, segs
            else:
                continue
            target = base
            for s in rest:
                if target + (s,) in mods:
                    target = target + (s,)
                else:
                    break
            if target not in mods or target == me:
                continue
            # a folder's mod.rs presenting its own children is not an edge
            if is_mod_file and target[: len(me)] == me:
                continue
            edges[f].add(mods[target])
    # Tarjan's strongly connected components
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    if comps:
        for c in comps:
            names = sorted(os.path.relpath(x, ROOT) for x in c)
            print("import circle: " + " <-> ".join(names))
        return 1
    print(f"no import circle among {len(edges)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
