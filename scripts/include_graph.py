#!/usr/bin/python3
"""The include graph of src/conmand: one node per module (foo.c with its
foo.h), an edge A -> B when A.c or A.h includes B.h, and every include
circle (a strongly connected set of two or more modules). Reads the working
tree, or a commit: scripts/include_graph.py [REV]. Exits 1 when there is a
circle."""
import re
import subprocess
import sys
from collections import defaultdict

INCLUDE = re.compile(r'^\s*#\s*include\s+"(conmand/[^"]+)\.h"', re.M)


def sources(rev):
    if rev:
        names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "src/conmand"],
                               capture_output=True, text=True, check=True).stdout.split()
        read = lambda n: subprocess.run(["git", "show", f"{rev}:{n}"], capture_output=True,
                                        text=True, check=True).stdout
    else:
        names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                                "src/conmand"], capture_output=True, text=True,
                               check=True).stdout.split()
        read = lambda n: open(n, encoding="utf-8").read()
    for n in names:
        if n.endswith((".c", ".h")):
            yield n, read(n)


def graph(rev):
    edges = defaultdict(set)
    for name, text in sources(rev):
        module = name[len("src/"):].rsplit(".", 1)[0]
        edges[module]
        for dep in INCLUDE.findall(text):
            if dep != module:
                edges[module].add(dep)
    return edges


def circles(edges):
    """Tarjan's strongly connected components of two or more modules."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else None
    edges = graph(rev)
    for m in sorted(edges):
        deps = ", ".join(d.replace("conmand/", "") for d in sorted(edges[m]))
        print(f"{m.replace('conmand/', '')} -> {deps or '(none)'}")
    found = circles(edges)
    if not found:
        print("include circles: none")
        return 0
    for comp in found:
        print("include circle: " + " <-> ".join(c.replace("conmand/", "") for c in comp))
    return 1


if __name__ == "__main__":
    sys.exit(main())
