#!/usr/bin/env bash
# Build cost (issue 6, item 6): a cold `cargo build --release` of this library (default
# features, the committed HEAD) against a minimal crate using the same reqwest/TLS features
# without the generator (the library's own lines for reqwest, rustls and its verifier, and for
# serde and serde_json, which a hand-written client needs to send and read JSON; nothing else),
# plus the time build.rs takes to compile and to run (cargo --timings).
#
# Slow: minutes of CPU on 2 cores. `cargo bench` runs it only with BENCH_BUILD=1; it can also be
# run by hand: `bash benches/build_cost.sh`. Each build gets a fresh CARGO_TARGET_DIR under a
# temporary directory that is removed afterwards, so builds are truly cold; crates come from the
# registry already downloaded (--offline). Nothing is written to the repository.
#
# Environment: BUILD_COST_RUNS (default 1) makes that many pairs of builds, plain and library
# back to back (alternating which goes first), and reports medians; BUILD_COST_JOBS sets cargo's
# -j (default: cargo's own, all cores). The ratios are the median of each pair's own ratio, not
# the ratio of the medians: the machine's speed drifts by a fifth or more between pairs, and a
# pair's two builds share the machine's state, so its ratio cancels the drift that medians taken
# side by side would mix in.
#
# Last line on stdout, for scripts:
#   build_cost: lib_s=.. plain_s=.. ratio=.. lib_cpu_s=.. plain_cpu_s=.. cpu_ratio=..
#               pair_ratios=..,.. build_rs_compile_s=.. build_rs_run_s=.. generator_units_s=..
#               runtime_deps_units_s=.. crate_units_s=.. plain_units_s=..   (one line)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${BUILD_COST_RUNS:-1}
jobs=()
if [[ -n "${BUILD_COST_JOBS:-}" ]]; then jobs=(-j "$BUILD_COST_JOBS"); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/graph-meetings-build-cost.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A nested cargo must not inherit the outer one's target dir, wrapper or flags for this package.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER \
  RUSTC_WORKSPACE_WRAPPER CARGO_ENCODED_RUSTFLAGS OUT_DIR CARGO_MANIFEST_DIR CARGO_PRIMARY_PACKAGE

# The library as committed (others' uncommitted edits do not change the measurement).
mkdir "$work/lib"
git -C "$repo" archive HEAD | tar -x -C "$work/lib"

# The plain crate: the library's own dependency lines for these crates, copied verbatim so the
# features stay identical, and the library's lockfile so the versions do too.
mkdir -p "$work/plain/src"
deps=$(awk '
  /^\[/ { section = $0; next }
  section == "[dependencies]" && /^(reqwest|rustls|rustls-platform-verifier|serde|serde_json) *=/ { print }
' "$work/lib/Cargo.toml")
if [[ $(grep -c . <<<"$deps") -ne 5 ]]; then
  echo "build_cost.sh: expected 5 dependency lines in Cargo.toml, found:" >&2
  echo "$deps" >&2
  exit 1
fi
cat >"$work/plain/Cargo.toml" <<EOF
[package]
name = "plain-graph-http"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
$deps

[profile.release]
debug = false
EOF
cp "$work/lib/Cargo.lock" "$work/plain/Cargo.lock"
# What a hand-written client needs of that stack: the same TLS setup and a typed body.
cat >"$work/plain/src/lib.rs" <<'EOF'
use std::{sync::Arc, time::Duration};

use rustls_platform_verifier::BuilderVerifierExt;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    pub id: Option<String>,
    pub external_id: Option<String>,
    pub subject: Option<String>,
    pub start_date_time: Option<String>,
    pub end_date_time: Option<String>,
}

pub fn client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| e.to_string())?
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())
}

pub async fn create_or_get(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    client_request_id: &str,
    meeting: &Meeting,
) -> Result<Meeting, String> {
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("client-request-id", client_request_id)
        .json(meeting)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
EOF

# One cold build of the crate in $1; prints "wall cpu" seconds; keeps cargo's timing report.
cold_build() {
  local dir=$1 name=$2 target="$work/target-$2"
  rm -rf "$target"
  local start end times
  start=$(date +%s.%N)
  # `time` of bash: user and sys of cargo and every rustc/build script it ran.
  times=$( { TIMEFORMAT='%U %S'; time (cd "$dir" && CARGO_TARGET_DIR="$target" \
    cargo build --release --lib --offline --timings "${jobs[@]}" >"$work/$name.log" 2>&1); } 2>&1 ) || {
    echo "build_cost.sh: cold build of $name failed:" >&2
    tail -20 "$work/$name.log" >&2
    exit 1
  }
  end=$(date +%s.%N)
  # Newer cargo names the report cargo-timing-<time>.html; older ones cargo-timing.html.
  cp "$(ls -t "$target"/cargo-timings/cargo-timing*.html | head -1)" "$work/$name-timing.html"
  read -r user sys <<<"$times"
  awk -v s="$start" -v e="$end" -v u="$user" -v y="$sys" 'BEGIN { printf "%.1f %.1f\n", e - s, u + y }'
}

# Plain first on odd runs, library first on even ones: drift cancels over pairs.
lib_wall=() lib_cpu=() plain_wall=() plain_cpu=()
for ((i = 1; i <= runs; i++)); do
  order=(plain lib)
  if ((i % 2 == 0)); then order=(lib plain); fi
  for which in "${order[@]}"; do
    echo "build_cost.sh: run $i/$runs: cold release build of the $which crate..." >&2
    read -r wall cpu < <(cold_build "$work/$which" "$which")
    echo "build_cost.sh:   $which: ${wall} s wall, ${cpu} s CPU" >&2
    if [[ $which == lib ]]; then lib_wall+=("$wall") lib_cpu+=("$cpu"); else plain_wall+=("$wall") plain_cpu+=("$cpu"); fi
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# From cargo's timing data (seconds of rustc per unit, summed; on a busy 2-core build this is
# close to CPU time): compiling graph-meetings' build.rs and running it; what the generator
# costs, i.e. every unit only the library's build has that is no normal dependency of it
# (progenitor, typify, their build-deps, build.rs) plus the host copies of crates both builds
# have (build-dependencies are built without optimisation, so serde_json and the like are
# compiled twice); the library's other runtime dependencies the plain crate lacks (chrono,
# tracing, async-trait, ...); the library crate itself; and the plain build's total.
timings() {
  (cd "$work/lib" && cargo tree --offline -e normal --prefix none -f '{p}') >"$work/tree.txt"
  sed 's/ (\*)$//; s/ (proc-macro)$//' "$work/tree.txt" | sort -u >"$work/normal-deps.txt"
  # Without the list every unit would count as the generator's: better no split than a wrong one.
  grep -q '^reqwest v' "$work/normal-deps.txt" || { echo "cargo tree listed no reqwest" >&2; return 1; }
  python3 - "$work/lib-timing.html" "$work/plain-timing.html" "$work/normal-deps.txt" <<'PY'
import json, re, sys
from collections import defaultdict
def units(path):
    html = open(path).read()
    return json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
lib, plain = units(sys.argv[1]), units(sys.argv[2])
ours = [u for u in lib if u["name"] == "graph-meetings"]
run = sum(u["duration"] for u in ours if u.get("mode") == "run-custom-build")
compile_ = sum(u["duration"] for u in ours
               if u.get("mode") != "run-custom-build" and u.get("target", "").strip() == "build-script")
crate = sum(u["duration"] for u in ours
            if u.get("mode") != "run-custom-build" and u.get("target", "").strip() == "")
key = lambda u: (u["name"], u["version"], u.get("mode"), u.get("target", "").strip())
def by_key(us):
    seen = defaultdict(list)
    for u in us:
        seen[key(u)].append(u["duration"])
    return seen
lib_k, plain_k = by_key(lib), by_key(plain)
normal = {line.strip() for line in open(sys.argv[3]) if line.strip()}
generator = runtime = 0.0
for k, durations in lib_k.items():
    if k[0] == "graph-meetings" and k[3] == "":
        continue  # the crate, reported on its own
    if k not in plain_k and f"{k[0]} v{k[1]}" in normal:
        # A second copy is a host one, for build.rs (the first, optimised, the longer).
        runtime += max(durations)
        generator += sum(durations) - max(durations)
    elif k not in plain_k:
        generator += sum(durations)
    elif len(durations) > len(plain_k[k]):
        # A host copy: the extra copy's time, taken as the difference of the sums.
        generator += max(0.0, sum(durations) - sum(plain_k[k]))
plain_total = sum(u["duration"] for u in plain)
print(f"{compile_:.1f} {run:.2f} {generator:.1f} {runtime:.1f} {crate:.1f} {plain_total:.1f}")
PY
}
read -r build_rs_compile build_rs_run generator_units runtime_units crate_units plain_units \
  < <(timings 2>"$work/timings.err" || echo "? ? ? ? ? ?")
if [[ $build_rs_compile == "?" ]]; then
  echo "build_cost.sh: reading cargo's timings failed (the unit split is left out):" >&2
  tail -5 "$work/timings.err" >&2
fi
if [[ -n "${BUILD_COST_KEEP:-}" ]]; then
  mkdir -p "$BUILD_COST_KEEP"
  cp "$work"/*-timing.html "$work"/*.log "$BUILD_COST_KEEP"/
fi

lw=$(median "${lib_wall[@]}") pw=$(median "${plain_wall[@]}")
lc=$(median "${lib_cpu[@]}") pc=$(median "${plain_cpu[@]}")
pair_wall=() pair_cpu=()
for ((i = 0; i < runs; i++)); do
  pair_wall+=("$(awk -v l="${lib_wall[i]}" -v p="${plain_wall[i]}" 'BEGIN { printf "%.4f", l / p }')")
  pair_cpu+=("$(awk -v l="${lib_cpu[i]}" -v p="${plain_cpu[i]}" 'BEGIN { printf "%.4f", l / p }')")
done
ratio=$(median "${pair_wall[@]}") cpu_ratio=$(median "${pair_cpu[@]}")
pairs=$(printf '%s\n' "${pair_wall[@]}" | awk '{ printf "%s%.2f", (NR > 1 ? "," : ""), $1 }')
awk -v lw="$lw" -v pw="$pw" -v lc="$lc" -v pc="$pc" -v r="$ratio" -v cr="$cpu_ratio" -v pr="$pairs" \
  -v bc="$build_rs_compile" -v br="$build_rs_run" \
  -v gu="$generator_units" -v ru="$runtime_units" -v cu="$crate_units" -v pu="$plain_units" 'BEGIN {
  printf "build_cost: lib_s=%.1f plain_s=%.1f ratio=%.2f lib_cpu_s=%.1f plain_cpu_s=%.1f cpu_ratio=%.2f pair_ratios=%s build_rs_compile_s=%s build_rs_run_s=%s generator_units_s=%s runtime_deps_units_s=%s crate_units_s=%s plain_units_s=%s\n",
    lw, pw, r, lc, pc, cr, pr, bc, br, gu, ru, cu, pu
}'
