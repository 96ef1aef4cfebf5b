#!/usr/bin/env bash
# Interop test: drive a ZooKeeper-compatible server with the ZooKeeper C
# client's shell, cli_mt (Debian package zookeeper-bin).
#
# Usage: tests/interop/cli_mt_test.sh HOST:PORT
#
# cli_mt is used in two ways:
#   * batch mode: `cli_mt -h ADDR -c "CMD"` connects, runs one asynchronous
#     command, prints its completion and exits (only get/set/ls/ls2/create/
#     create2/delete/sync finish on their own in batch mode);
#   * interactive mode: commands are written one by one into a FIFO on its
#     stdin and we wait for the expected completion text before sending the
#     next one (cli_mt exits on EOF, possibly before async replies arrive,
#     so plain piping is not reliable).
# Everything cli_mt prints goes to stderr except `myid`. Exit status is 0
# even when a request fails, so the checks parse the "rc = N" lines
# (ZOK 0, ZNONODE -101, ZNOAUTH -102, ZNODEEXISTS -110, ZNOTEMPTY -111).
#
# Each check prints "PASS: ..." or "FAIL: ..."; the last line is
# "cli_mt_test: N passed, M failed"; exit status is non-zero if M > 0.
# Note: session resumption via `cli_mt -m FILE` cannot be tested: cli_mt
# 3.8.0 never reads the id file back correctly (it compares fread()'s item
# count with sizeof), so every run gets a new session.
set -uo pipefail

ADDR="${1:?usage: cli_mt_test.sh HOST:PORT}"
CLI_MT="${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
R="/interop-climt-$$-$(date +%s)"
# digest of alice:secret = base64(sha1("alice:secret"))
ALICE_DIGEST='alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='

PASSED=0
FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cli_mt_test.XXXXXX")
SESSION_PID=""

cleanup() {
    if [ -n "$SESSION_PID" ] && kill -0 "$SESSION_PID" 2>/dev/null; then
        kill "$SESSION_PID" 2>/dev/null || true
        wait "$SESSION_PID" 2>/dev/null || true
    fi
    exec 4>&- 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $1"
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/    | /'; fi
}

[ -x "$CLI_MT" ] || { echo "FAIL: $CLI_MT not found (apt-get install zookeeper-bin)"; echo "cli_mt_test: 0 passed, 1 failed"; exit 1; }

# batch CMD -> sets OUT to everything cli_mt printed
batch() {
    OUT=$(timeout 20 "$CLI_MT" -h "$ADDR" -c "$1" 2>&1)
    local rc=$?
    if [ $rc -eq 124 ]; then OUT="$OUT
(cli_mt timed out after 20s)"; fi
    return 0
}

# contains TEXT: is TEXT (fixed string) a line fragment of OUT?
contains() { grep -qF -- "$1" <<<"$OUT"; }

# check NAME CMD TEXT... : run CMD in batch mode and require every TEXT
check() {
    local name="$1" cmd="$2"
    shift 2
    batch "$cmd"
    local t
    for t in "$@"; do
        if ! contains "$t"; then
            fail "$name [cli_mt -c '$cmd']: missing '$t'" "$OUT"
            return
        fi
    done
    pass "$name"
}

echo "cli_mt_test: server $ADDR, test root $R"

# children: the tab-indented lines of OUT without '=' (stat lines have one),
# sorted, space separated
children() { printf '%s\n' "$OUT" | grep $'^\t' | grep -v '=' | sed $'s/^\t//' | sort | tr '\n' ' '; }

# ---------------------------------------------------------------- batch mode
batch "ls /"
if contains "/: rc = 0" && contains "	zookeeper"; then
    pass "connect: ls / lists zookeeper"
else
    fail "connect: 'ls /' against $ADDR must list zookeeper" "$OUT"
    echo "cli_mt_test: $PASSED passed, $FAILED failed"
    exit 1
fi
check "create" "create $R" "[$R]: rc = 0" "name = $R"
check "create existing -> ZNODEEXISTS" "create $R" "[$R]: rc = -110"
check "create +s (sequential)" "create +s $R/s-" "[$R/s-]: rc = 0" "name = $R/s-0000000000"
check "create +e (ephemeral)" "create +e $R/e" "[$R/e]: rc = 0" "name = $R/e"
check "ephemeral gone after its session closed" "get $R/e" "$R/e: rc = -101"
check "create2 returns stat" "create2 $R/c2" "[$R/c2]: rc = 0" "name = $R/c2" "version=0	aversion=0" "ephemeralOwner = 0"
check "get" "get $R/c2" "$R/c2: rc = 0" "value_len = 3" "new"
check "set" "set $R/c2 hello" "$R/c2: rc = 0 Stat:" "version=1	aversion=0"
check "get after set" "get $R/c2" "$R/c2: rc = 0" "value_len = 5" "hello" "version=1"

batch "ls $R"
kids=$(children)
if contains "$R: rc = 0" && [ "$kids" = "c2 s-0000000000 " ]; then
    pass "ls"
else
    fail "ls: expected children 'c2 s-0000000000', got '$kids'" "$OUT"
fi

batch "ls2 $R"
kids=$(children)
if contains "$R: rc = 0" && contains "ephemeralOwner = 0" && [ "$kids" = "c2 s-0000000000 " ]; then
    pass "ls2 (children + stat)"
else
    fail "ls2: expected children 'c2 s-0000000000' and a stat, got '$kids'" "$OUT"
fi

check "delete non-empty -> ZNOTEMPTY" "delete $R" "$R: rc = -111"
check "delete" "delete $R/c2" "$R/c2: rc = 0"
check "get deleted -> ZNONODE" "get $R/c2" "$R/c2: rc = -101" "null"
check "delete missing -> ZNONODE" "delete $R/c2" "$R/c2: rc = -101"
check "sync" "sync $R" "[$R]: rc = 0"

# ----------------------------------------------------------- interactive mode
LOG="$WORK/session.log"
mkfifo "$WORK/in"
# stdbuf: `myid` prints to stdout, which would otherwise be block-buffered
stdbuf -oL -eL "$CLI_MT" -h "$ADDR" < "$WORK/in" > "$LOG" 2>&1 &
SESSION_PID=$!
exec 4> "$WORK/in"

send() { printf '%s\n' "$1" >&4; }
# wait_for TEXT [TIMEOUT]: wait until the session log contains TEXT
wait_for() {
    local deadline=$((SECONDS + ${2:-10}))
    while ! grep -qF -- "$1" "$LOG" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then return 1; fi
        if ! kill -0 "$SESSION_PID" 2>/dev/null; then
            grep -qF -- "$1" "$LOG" 2>/dev/null
            return
        fi
        sleep 0.05
    done
}
# icheck NAME CMD TEXT: send CMD to the interactive session, wait for TEXT
icheck() {
    local name="$1" cmd="$2" text="$3"
    if [ -n "$cmd" ]; then send "$cmd"; fi
    if wait_for "$text"; then pass "$name"; else fail "$name: '$cmd' -> no '$text' in session output" "$(cat "$LOG")"; fi
}

if wait_for "Got a new session id: 0x" 15; then
    SID=$(grep -o 'Got a new session id: 0x[0-9a-f]*' "$LOG" | head -n1 | sed 's/.*0x//')
    pass "interactive session connected (session 0x$SID)"
else
    SID=""
    fail "interactive session did not connect" "$(cat "$LOG")"
fi

icheck "myid prints the session id" "myid" "session Id = ${SID:-(no session)}"
icheck "interactive create +e" "create +e $R/eph" "[$R/eph]: rc = 0"
check "ephemeralOwner is the creating session" "get $R/eph" "$R/eph: rc = 0" "ephemeralOwner = $SID"

# wexists (synchronous in cli_mt) leaves a watch; another client creates the node
send "wexists $R/w"
sleep 0.5
batch "create $R/w"
icheck "exists watch fires CREATED_EVENT" "" "Watcher CREATED_EVENT state = CONNECTED_STATE for path $R/w"

icheck "get (with watch) in session" "get $R/w" "$R/w: rc = 0"
batch "set $R/w changed"
icheck "data watch fires CHANGED_EVENT" "" "Watcher CHANGED_EVENT state = CONNECTED_STATE for path $R/w"

icheck "ls (with watch) in session" "ls $R" "$R: rc = 0"
batch "create $R/z"
icheck "child watch fires CHILD_EVENT" "" "Watcher CHILD_EVENT state = CONNECTED_STATE for path $R"

# digest ACL: the node is created by zkCli (cli_mt always uses OPEN_ACL_UNSAFE)
ZOO_LOG_DIR="$WORK" CLIENT_JVMFLAGS="-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC" \
    timeout 60 "$ZKCLI" -server "$ADDR" create "$R/sec" topsecret "digest:$ALICE_DIGEST:cdrwa" > "$WORK/zkcli.out" 2>&1
if grep -qF "Created $R/sec" "$WORK/zkcli.out"; then
    icheck "get without auth -> ZNOAUTH" "get $R/sec" "$R/sec: rc = -102"
    send "addauth digest alice:secret"
    send "get $R/sec"
    if wait_for "topsecret"; then
        pass "get after addauth digest"
    else
        fail "get after addauth digest: no data" "$(cat "$LOG")"
    fi
else
    fail "setup: zkCli create with digest ACL failed" "$(cat "$WORK/zkcli.out")"
fi

# clean up from the session (it may hold the digest auth), then quit
for n in "$R/sec" "$R/z" "$R/w" "$R/s-0000000000"; do
    send "delete $n"
    wait_for "$n: rc = 0" 5 || true
done
send "quit"
for _ in $(seq 1 100); do kill -0 "$SESSION_PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$SESSION_PID" 2>/dev/null; then
    fail "quit: cli_mt did not exit"
else
    pass "quit closes the session"
fi
wait "$SESSION_PID" 2>/dev/null
SESSION_PID=""
check "ephemeral removed when the interactive session quit" "get $R/eph" "$R/eph: rc = -101"
check "delete test root" "delete $R" "$R: rc = 0"

echo "cli_mt_test: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
