#!/usr/bin/env python3
"""Checks that every include in src/ and include/cairn/ runs down the layers:

    base -> log -> cqrs -> domain -> http, interop, kafka (side by side) -> cli

and kafkalog (the log on a Kafka cluster) on log, beside cqrs, used by cli only.

The build already refuses a private header of a layer above (src/layers/, see src/meson.build);
this test also covers the public headers in include/cairn/, which every layer can see, and
includes that climb out with "../". Usage: layering_test.py SOURCE_ROOT
"""
import pathlib
import re
import sys

# What each layer may include, itself among them.
BELOW = {
    "base": {"base"},
    "log": {"base", "log"},
    "cqrs": {"base", "log", "cqrs"},
    "domain": {"base", "log", "cqrs", "domain"},
    "http": {"base", "log", "cqrs", "domain", "http"},
    "interop": {"base", "log", "cqrs", "domain", "interop"},
    "kafka": {"base", "log", "cqrs", "domain", "kafka"},
    "kafkalog": {"base", "log", "kafkalog"},
    "cli": {"base", "log", "cqrs", "domain", "http", "interop", "kafka", "kafkalog", "cli"},
}

# The layer each public header belongs to, by its path under include/cairn/. A new public header
# must be added here.
PUBLIC = {
    "status.h": "base",
    "types.h": "base",
    "store.h": "log",
    "log.h": "log",
    "kafka_log.h": "kafkalog",
    "projection.h": "cqrs",
    "engine.h": "cqrs",
    "domain_spec.h": "cqrs",
    "db.h": "domain",
    "orders.h": "domain",
    "orders/actor.h": "domain",
    "orders/values.h": "domain",
    "orders/commands.h": "domain",
    "orders/events.h": "domain",
    "orders/aggregate.h": "domain",
    "orders/service.h": "domain",
    "orders/projections.h": "domain",
    "orders/views.h": "domain",
    "orders/queries.h": "domain",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of_include(path: str):
    """The layer an include names, or None for one outside Cairn (generated headers)."""
    if path.startswith("cairn/"):
        return PUBLIC.get(path[len("cairn/"):], "unknown public header")
    head = path.split("/", 1)[0]
    return head if head in BELOW else None


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    problems = []
    files = [(p, p.relative_to(root / "src").parts[0]) for p in (root / "src").rglob("*")
             if p.suffix in (".h", ".cc") and "layers" not in p.parts]
    public_root = root / "include" / "cairn"
    files += [(p, PUBLIC.get(p.relative_to(public_root).as_posix(), "unknown public header"))
              for p in public_root.rglob("*.h")]
    checked = 0
    for path, layer in files:
        if layer not in BELOW:
            problems.append(f"{path}: {layer} (add it to PUBLIC in this test)")
            continue
        for include in INCLUDE.findall(path.read_text()):
            checked += 1
            if ".." in include.split("/"):
                problems.append(f"{path}: includes {include} by a relative path")
                continue
            target = layer_of_include(include)
            if target is None:
                continue
            if target not in BELOW:
                problems.append(f"{path}: includes {include} ({target})")
            elif target not in BELOW[layer]:
                problems.append(f"{path} ({layer}) includes {include} ({target}), a layer above it")
    for p in problems:
        print("layering:", p)
    print(f"layering: {len(files)} files, {checked} includes checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
