"""Fails when a locked dependency needs a newer Rust than Cargo.toml's rust-version promises.

Cargo checks each package's rust-version against the compiler that builds it, never against the
root's: a lock file update can raise what the crate really needs without anything failing here.
Reads `cargo metadata` (every feature, dev-dependencies included) on stdin.
"""
import json
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.load(sys.stdin)
root = meta["resolve"]["root"]
packages = {p["id"]: p for p in meta["packages"]}
ours = packages[root]["rust_version"]
if not ours:
    sys.exit("Cargo.toml has no rust-version")
newer = sorted(
    (version(p["rust_version"]), p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] != root and p.get("rust_version") and version(p["rust_version"]) > version(ours)
)
for _, name, ver, needs in newer:
    print(f"{name} {ver} needs Rust {needs}; Cargo.toml says rust-version = {ours}")
if newer:
    sys.exit(1)
print(f"rust-version {ours}: every locked dependency builds with it")
