#!/usr/bin/env python3
"""Fails when the top-level modules of a Rust crate import each other in a cycle.

    python3 .ci/module_cycles.py src

Reads every `.rs` file under the directory, takes the module it belongs to (its first path
component), and collects the modules it names through `crate::MODULE` in code (comments and
`#[cfg(test)] mod tests` blocks left out; `use crate::{a::x, b::y}` groups included). Prints the
dependency graph, then every strongly connected component of more than one module. Exit 1 if
there is one.
"""
import os
import re
import sys
from collections import defaultdict


def code_of(text):
    """The text without `#[cfg(test)] mod tests { ... }` (last in a file) and comments."""
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def named_modules(code, modules):
    """Top-level modules named by `crate::` paths in the code."""
    found = set(re.findall(r"crate::(\w+)", code))
    for group in re.findall(r"use crate::\{([^;]*)\}", code, flags=re.S):
        found.update(re.findall(r"(?:^|[\s,{])(\w+)(?=::|\s*[,}]|\s*$)", group))
    return {m for m in found if m in modules}


def strongly_connected(graph):
    """Tarjan's algorithm: the strongly connected components of `graph`."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def main(root):
    files = defaultdict(list)
    for directory, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path, root).split(os.sep)[0].removesuffix(".rs")
                if module not in ("lib", "main"):
                    files[module].append(path)
    modules = set(files)
    graph = {m: set() for m in modules}
    for module, paths in files.items():
        for path in paths:
            with open(path, encoding="utf-8") as f:
                graph[module] |= named_modules(code_of(f.read()), modules) - {module}
    for module in sorted(graph):
        print(f"{module} -> {' '.join(sorted(graph[module])) or '(leaf)'}")
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    for cycle in cycles:
        print(f"cycle: {' <-> '.join(cycle)}")
    print("no cycles" if not cycles else f"{len(cycles)} cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))
