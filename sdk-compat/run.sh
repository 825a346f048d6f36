#!/usr/bin/env bash
# Microsoft's own Graph SDKs against the emulator (issue 5: "it must work with Microsoft's own
# SDKs pointed at it"). Installs the pinned SDKs into throwaway places, builds and starts
# `graph-meetings emulator --port 0`, runs sdk-compat/js/check.mjs, check-kiota.mjs and
# sdk-compat/python/check.py against it, stops it and exits with the checks' status.
#
# Everything goes to 127.0.0.1 only. When a package registry cannot be reached at all, that
# SDK's checks are skipped with a `SKIPPED:` line (exit 0 if nothing could be installed); an
# install that fails while the registry answers, and any failed check, fail the run.
#
# Environment: CARGO (default cargo), PYTHON (default python3.11, else python3),
# SDK_COMPAT_VENV (default target/sdk-compat/python-venv; reused while requirements match).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SDK=$ROOT/sdk-compat
started_at=$(date +%s)
work=$(mktemp -d)
emulator_pid=

cleanup() {
  if [[ -n $emulator_pid ]] && kill -0 "$emulator_pid" 2>/dev/null; then
    kill "$emulator_pid" 2>/dev/null
    wait "$emulator_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '== sdk-compat [%3d s]: %s\n' "$(($(date +%s) - started_at))" "$*"; }

# Loopback never goes through a proxy.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

# --- install the SDKs --------------------------------------------------------------------
skipped=()
js_ready=false
py_ready=false

# A missing tool is a broken machine, not an unreachable registry: fail, do not skip.
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is not installed; the JavaScript SDK checks need Node.js and npm" >&2
    exit 1
  fi
done

say "installing the JavaScript SDKs (npm ci, sdk-compat/js/package-lock.json)"
if (cd "$SDK/js" && timeout 240 npm ci --no-audit --no-fund --loglevel=error --fetch-retries=2 --fetch-retry-maxtimeout=15000 >"$work/npm.log" 2>&1); then
  js_ready=true
elif timeout 30 npm ping --fetch-retries=0 >"$work/npm-ping.log" 2>&1; then
  cat "$work/npm.log" >&2
  echo "FAIL: npm ci failed although the npm registry answers (see above)" >&2
  exit 1
else
  skipped+=("JavaScript SDK checks: the npm registry cannot be reached (npm ci failed, npm ping failed)")
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${SDK_COMPAT_VENV:-$ROOT/target/sdk-compat/python-venv}
stamp="$("$PYTHON" -c 'import sys; print(sys.version)' 2>/dev/null) $(sha256sum "$SDK/python/requirements.txt" | cut -d' ' -f1)"
say "installing the Python SDKs ($("$PYTHON" --version 2>&1), venv $VENV)"
if [[ -x $VENV/bin/python && -f $VENV/.sdk-compat-stamp && "$(cat "$VENV/.sdk-compat-stamp")" == "$stamp" ]]; then
  py_ready=true
else
  rm -rf "$VENV"
  if "$PYTHON" -m venv "$VENV" >"$work/venv.log" 2>&1 &&
    timeout 420 "$VENV/bin/python" -m pip install --disable-pip-version-check --retries 2 --timeout 30 \
      --no-compile --only-binary=:all: \
      -q -r "$SDK/python/requirements.txt" >"$work/pip.log" 2>&1; then
    echo "$stamp" >"$VENV/.sdk-compat-stamp"
    py_ready=true
  elif [[ ! -x $VENV/bin/python ]]; then
    cat "$work/venv.log" >&2
    echo "FAIL: could not make a Python venv with $PYTHON" >&2
    exit 1
  elif timeout 60 "$VENV/bin/python" -m pip download --disable-pip-version-check --retries 0 --timeout 20 \
    --no-deps --only-binary=:all: \
    -d "$work/probe" msgraph-core==1.5.2 >"$work/pip-probe.log" 2>&1; then
    cat "$work/pip.log" >&2
    echo "FAIL: pip install failed although the package index answers (see above)" >&2
    rm -rf "$VENV"
    exit 1
  else
    rm -rf "$VENV"
    skipped+=("Python SDK checks: the package index cannot be reached (pip install failed, pip download failed)")
  fi
fi

for reason in "${skipped[@]}"; do
  echo "SKIPPED: $reason"
done
if ! $js_ready && ! $py_ready; then
  echo "SKIPPED: no SDK could be installed; nothing was checked"
  exit 0
fi

# --- build and start the emulator -------------------------------------------------------
# --all-features, as CI's tests build the crate. Not a no-op after them: a test build also unifies
# the dev-dependencies' features (tokio's `full`), so a plain build recompiles a score of crates.
say "building graph-meetings"
if ! "${CARGO:-cargo}" build --quiet --all-features --bin graph-meetings --message-format=json-render-diagnostics \
  >"$work/build.json"; then
  echo "FAIL: cargo build failed" >&2
  exit 1
fi
binary=$(sed -n 's/.*"executable":"\([^"]*graph-meetings[^"]*\)".*/\1/p' "$work/build.json" | tail -n 1)
if [[ ! -x $binary ]]; then
  echo "FAIL: cargo did not report the graph-meetings binary" >&2
  exit 1
fi

"$binary" emulator --port 0 >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
url=
for _ in $(seq 1 300); do
  url=$(head -n 1 "$work/emulator.out" 2>/dev/null | sed -n 's#^listening on \(http://127\.0\.0\.1:[0-9][0-9]*\)$#\1#p')
  [[ -n $url ]] && break
  kill -0 "$emulator_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $url ]]; then
  cat "$work/emulator.out" "$work/emulator.err" >&2
  echo "FAIL: the emulator did not print 'listening on http://127.0.0.1:PORT'" >&2
  exit 1
fi
say "emulator at $url (pid $emulator_pid)"
export GRAPH_EMULATOR_URL=$url

# --- run the checks ---------------------------------------------------------------------
status=0
run_check() {
  local name=$1
  shift
  say "$name"
  timeout 300 "$@" 2>"$work/$name.err" | tee -a "$work/checks.log"
  local rc=${PIPESTATUS[0]}
  if [[ $rc -ne 0 ]]; then
    status=1
    echo "FAIL: $name exited with status $rc; its stderr:"
    sed 's/^/    /' "$work/$name.err" | tail -n 60
  fi
}

if $js_ready; then
  run_check js-core-client node "$SDK/js/check.mjs"
  run_check js-kiota node "$SDK/js/check-kiota.mjs"
fi
if $py_ready; then
  run_check python "$VENV/bin/python" "$SDK/python/check.py"
fi

if ! kill -0 "$emulator_pid" 2>/dev/null; then
  status=1
  echo "FAIL: the emulator exited during the checks; its stderr:"
  tail -n 40 "$work/emulator.err"
fi

passed=$(grep -c '^ok ' "$work/checks.log" 2>/dev/null)
failed=$(grep -c '^FAIL ' "$work/checks.log" 2>/dev/null)
say "done in $(($(date +%s) - started_at)) s"
echo "sdk-compat: ${passed:-0} passed, ${failed:-0} failed"
exit $status
