#!/usr/bin/env python3
"""Checks vsp's includes against its layers: a file in src/<layer>/ or include/vsp/<layer>/ may
include "vsp/<other>/..." only when <other> is its own layer or one below it, and the base headers
(vsp/error.hpp, vsp/values.hpp) from anywhere. The layers, lowest first:

    config  io  text  models  sampling  attention  pipeline  app

One line per include against the order, and exit 1; exit 0 when there is none.

    scripts/check_layers.py [root]      (scripts/test.sh runs it in its build stage)
"""
import re
import sys
from pathlib import Path

LAYERS = ["config", "io", "text", "models", "sampling", "attention", "pipeline", "app"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"vsp/([a-z_]+)/[^"]+"', re.M)


def layer_of(path, root):
    parts = path.relative_to(root).parts
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[:2] == ("include", "vsp") and len(parts) > 3:
        return parts[2]
    return None


def violations(root):
    found = []
    for path in sorted([*root.glob("src/**/*.[ch]pp"), *root.glob("include/vsp/**/*.hpp")]):
        layer = layer_of(path, root)
        if layer not in LAYERS:
            continue
        text = path.read_text(encoding="utf-8")
        for match in INCLUDE.finditer(text):
            target = match.group(1)
            if target in LAYERS and LAYERS.index(target) > LAYERS.index(layer):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(root)}:{line}: {layer} includes {match.group(0).split()[-1]}, "
                             f"a layer above it ({' < '.join(LAYERS)})")
    return found


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    found = violations(root)
    for line in found:
        print(line)
    print(f"check_layers: {len(found)} include(s) against the layer order" if found else
          "check_layers: every include follows the layer order")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
