#!/usr/bin/env python3
# tests/lint/layout.py (`make test-layout`, part of `make test`): the source
# tree keeps the shape docs/LAYOUT.md describes.
#  1. Folders include only lower layers (LAYERS below); no folder includes a
#     folder of its own layer, so no cycle can form between folders.
#  2. No include cycle between files (inside a folder).
#  3. No function longer than MAX_FUNC_LINES outside tests/.
#  4. Every source file starts with a comment that says what it does.
#  5. Every number shared by BPF and user space is defined once: a #define in
#     include/ztgate/ is not defined again anywhere else.
# Prints one line per finding and exits 1 if there is any.
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAX_FUNC_LINES = 120

# Lower number = lower layer. A folder may include its own files and those
# of strictly lower layers only.
LAYERS = {
    "ztgate": 0,        # include/ztgate/: contracts shared with BPF
    "lib": 1,           # lib/: shared user space
    "tunnel": 2,        # daemon/tunnel/: Noise, keys, the tunnel engine
    "dataplane": 2,     # daemon/dataplane/: BPF loaders
    "relay": 3,         # daemon/relay/: relay server, client, STUN (keys from tunnel/)
    "policy": 3,        # daemon/policy/: model, document, store, compiler
    "controlplane": 3,  # daemon/controlplane/: node <-> controller protocol, tokens
    "dns": 4,           # daemon/dns/: codec, cache, server, fake IPs, resolvers
    "netdev": 4,        # daemon/netdev/: TUN, offloads, NAT, flows
    "path": 4,          # daemon/path/: NAT traversal over the tunnel and relays
    "forward": 5,       # daemon/forward/: client and connector packet paths
    "controller": 5,    # daemon/controller/: model, storage, views, enrollment, audit
    "agent": 5,         # daemon/agent/: a node's session with its controller
    "core": 6,          # daemon/core/: lifecycle, control socket, events
    "roles": 7,         # daemon/roles/: options and role operations
    "daemon": 8,        # daemon/main.c
    "cli": 8,           # cli/: the ztgate CLI
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in ("lib", "daemon", "cli", "include", "bpf"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), ROOT)


def folder_of(path):
    parts = path.split("/")
    if parts[0] == "daemon":
        return parts[1] if len(parts) > 2 else "daemon"
    if parts[0] == "include":
        return "ztgate"
    return parts[0]


def resolve(inc, including):
    """The file an include names, as a path from ROOT (None: system or generated)."""
    for base in (os.path.dirname(including), ".", "daemon", "include", "bpf"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(os.path.join(ROOT, cand)):
            return cand
    return None


def check_layers(files, graph, findings):
    for f in files:
        if f.startswith("bpf/"):
            continue
        src = folder_of(f)
        for dep in graph[f]:
            dst = folder_of(dep)
            if dep.startswith("bpf/"):
                findings.append(f"{f}: includes BPF-only {dep} (shared contracts live in include/ztgate/)")
                continue
            if src == dst or src not in LAYERS or dst not in LAYERS:
                continue
            if LAYERS[dst] >= LAYERS[src]:
                findings.append(f"{f}: {src}/ (layer {LAYERS[src]}) includes {dep} "
                                f"({dst}/, layer {LAYERS[dst]}): only lower layers")


def check_cycles(files, graph, findings):
    state = {}

    def visit(f, stack):
        state[f] = 1
        stack.append(f)
        for dep in graph.get(f, ()):
            if state.get(dep) == 1:
                cyc = stack[stack.index(dep):] + [dep]
                findings.append("include cycle: " + " -> ".join(cyc))
            elif dep in graph and not state.get(dep):
                visit(dep, stack)
        stack.pop()
        state[f] = 2

    for f in files:
        if not state.get(f):
            visit(f, [])


def check_functions(path, text, findings):
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if line == "{" and start is None:
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            m = re.findall(r"(\w+)\s*\(", lines[j])
            start = (i, m[0] if m else "?")
        elif line == "}" and start is not None:
            n = i - start[0] - 1
            if n > MAX_FUNC_LINES:
                findings.append(f"{path}:{start[0] + 1}: {start[1]} is {n} lines (at most {MAX_FUNC_LINES})")
            start = None


def has_header_comment(text):
    """The licence line, then a comment saying what the file does."""
    lines = text.split("\n")
    return "SPDX" in lines[0] and any(l.startswith("/*") for l in lines[1:3])


def check_header_comment(path, texts, findings):
    if has_header_comment(texts[path]):
        return
    # A module's .c may leave it to its header, which says it for both.
    sibling = path[:-2] + ".h"
    if path.endswith(".c") and sibling in texts and has_header_comment(texts[sibling]):
        return
    findings.append(f"{path}: no header comment saying what the file does")


def check_shared_defines(files, texts, findings):
    shared = {}
    for f in files:
        if f.startswith("include/ztgate/"):
            for name in re.findall(r"^#define\s+(\w+)", texts[f], re.M):
                shared[name] = f
    for f in files:
        if f.startswith("include/ztgate/"):
            continue
        for name in re.findall(r"^\s*#\s*define\s+(\w+)", texts[f], re.M):
            if name in shared and not name.endswith("_H"):
                findings.append(f"{f}: defines {name} again (defined in {shared[name]})")


def main():
    files = list(sources())
    texts = {f: open(os.path.join(ROOT, f), encoding="utf-8").read() for f in files}
    graph = {}
    for f in files:
        deps = []
        for inc in INCLUDE.findall(texts[f]):
            r = resolve(inc, f)
            if r and r != f:
                deps.append(r)
        graph[f] = deps
    findings = []
    check_layers(files, graph, findings)
    check_cycles(files, graph, findings)
    for f in files:
        if f.endswith(".c") or f.startswith("bpf/"):
            check_functions(f, texts[f], findings)
        check_header_comment(f, texts, findings)
    check_shared_defines(files, texts, findings)
    for line in findings:
        print("layout: " + line)
    print(f"layout: {len(files)} files, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
