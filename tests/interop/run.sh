#!/usr/bin/env bash
# Run all interop suites against a ZooKeeper-compatible server.
#
# Usage: tests/interop/run.sh HOST:PORT
#
# Suites: kazoo (Python client, run with Debian's /usr/bin/python3),
# zkCli.sh (Java client shell) and cli_mt (C client shell). Their output is
# shown as it runs. Every "PASS: ..." line counts as one passed check and
# every "FAIL: ..." line as one failed check; a suite that exits non-zero
# without printing any FAIL line (crash, timeout) counts as one failure.
# The last line is exactly "interop: N passed, M failed"; the exit status is
# non-zero if M > 0.
#
# Environment: PYTHON_KAZOO (interpreter with kazoo; default: /usr/bin/python3
# if it can import kazoo), INTEROP_TIMEOUT (seconds per suite, default 600),
# INTEROP_ONLY (space-separated subset of: kazoo zkcli cli_mt).
set -uo pipefail

ADDR="${1:?usage: run.sh HOST:PORT}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TIMEOUT="${INTEROP_TIMEOUT:-600}"
ONLY="${INTEROP_ONLY:-kazoo zkcli cli_mt}"

find_python() {
    local py
    for py in "${PYTHON_KAZOO:-}" /usr/bin/python3 python3; do
        [ -n "$py" ] || continue
        if "$py" -c 'import kazoo' >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

TOTAL_PASS=0
TOTAL_FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/interop.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

run_suite() {
    local name="$1"
    shift
    local out="$WORK/$name.out" rc p f
    echo "=== interop suite: $name ($*)"
    timeout "$TIMEOUT" "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    p=$(grep -c '^PASS: ' "$out" || true)
    f=$(grep -c '^FAIL: ' "$out" || true)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        if [ "$rc" -eq 124 ]; then
            echo "FAIL: suite $name timed out after ${TIMEOUT}s"
        else
            echo "FAIL: suite $name exited with status $rc without reporting a failed check"
        fi
        f=1
    fi
    echo "=== interop suite: $name: $p passed, $f failed (exit status $rc)"
    TOTAL_PASS=$((TOTAL_PASS + p))
    TOTAL_FAIL=$((TOTAL_FAIL + f))
}

for suite in $ONLY; do
    case "$suite" in
        kazoo)
            if py=$(find_python); then
                run_suite kazoo "$py" "$HERE/kazoo_test.py" "$ADDR"
            else
                echo "FAIL: no python interpreter can import kazoo (apt-get install python3-kazoo; it is for /usr/bin/python3)"
                TOTAL_FAIL=$((TOTAL_FAIL + 1))
            fi
            ;;
        zkcli) run_suite zkcli "$HERE/zkcli_test.sh" "$ADDR" ;;
        cli_mt) run_suite cli_mt "$HERE/cli_mt_test.sh" "$ADDR" ;;
        *)
            echo "FAIL: unknown suite '$suite' in INTEROP_ONLY"
            TOTAL_FAIL=$((TOTAL_FAIL + 1))
            ;;
    esac
done

echo "interop: $TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
