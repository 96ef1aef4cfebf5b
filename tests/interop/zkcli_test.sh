#!/usr/bin/env bash
# Interop test: drive a ZooKeeper-compatible server with the Java client's
# shell, zkCli.sh (Debian package zookeeper).
#
# Usage: tests/interop/zkcli_test.sh HOST:PORT
#
# One-shot mode (`zkCli.sh -server ADDR CMD ARGS...`) runs one command in its
# own session and exits 1 if the command failed, 0 otherwise. Multi-command
# sessions (addauth + get, watches) are fed on stdin (JLine is not installed
# on Debian, so zkCli reads plain lines and prints no prompt).
# Output notes (ZooKeeper 3.8): "Created /path" and error messages such as
# "Node does not exist: /path" go to stderr, data/stat/ls output to stdout;
# this script merges both and drops the connection banner and SLF4J noise.
#
# Each check prints "PASS: ..." or "FAIL: ..."; the last line is
# "zkcli_test: N passed, M failed"; exit status is non-zero if M > 0.
set -uo pipefail

ADDR="${1:?usage: zkcli_test.sh HOST:PORT}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
R="/interop-zkcli-$$-$(date +%s)"
# digest of alice:secret = base64(sha1("alice:secret"))
ALICE_DIGEST='alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zkcli_test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
# zkCli.sh sources zkEnv.sh; Debian's version hard-codes ZOO_LOG_DIR, but with
# no SLF4J binding on the classpath nothing is logged to files anyway. Extra
# JVM flags only make the JVM start faster.
export ZOO_LOG_DIR="$WORK"
export CLIENT_JVMFLAGS="${CLIENT_JVMFLAGS:--Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $1"
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/    | /'; fi
}

[ -x "$ZKCLI" ] || { echo "FAIL: $ZKCLI not found (apt-get install zookeeper)"; echo "zkcli_test: 0 passed, 1 failed"; exit 1; }

NOISE='^SLF4J:|^$|^WATCHER::$|^WatchedEvent state:SyncConnected type:None path:null$|^Connecting to |^Welcome to ZooKeeper!$|^JLine support is disabled$'

# zk ARGS... : one-shot command; sets OUT (filtered output) and RC
zk() {
    local raw
    raw=$(timeout 60 "$ZKCLI" -server "$ADDR" "$@" 2>&1)
    RC=$?
    OUT=$(printf '%s\n' "$raw" | grep -v -E "$NOISE")
}

# session CMDS : multi-command session, commands on stdin; sets OUT and RC
session() {
    local raw
    raw=$(printf '%s\nquit\n' "$1" | timeout 60 "$ZKCLI" -server "$ADDR" 2>&1)
    RC=$?
    OUT=$(printf '%s\n' "$raw" | grep -v -E "$NOISE")
}

has() { grep -qF -- "$1" <<<"$OUT"; }
# the output must be exactly this (after noise filtering)
is() { [ "$OUT" = "$1" ]; }

# expect NAME WANT_RC TEXT... -- every TEXT must occur in OUT
expect() {
    local name="$1" want_rc="$2"
    shift 2
    if [ "$want_rc" != any ] && [ "$RC" != "$want_rc" ]; then
        fail "$name: exit status $RC, expected $want_rc" "$OUT"
        return
    fi
    local t
    for t in "$@"; do
        if ! has "$t"; then
            fail "$name: missing '$t'" "$OUT"
            return
        fi
    done
    pass "$name"
}

# expect_exact NAME WANT_RC TEXT -- OUT must equal TEXT
expect_exact() {
    if [ "$RC" = "$2" ] && is "$3"; then
        pass "$1"
    else
        fail "$1: exit status $RC (want $2), output:" "$OUT
--- expected:
$3"
    fi
}

echo "zkcli_test: server $ADDR, test root $R"

zk ls /
if [ "$RC" != 0 ] || ! has "zookeeper"; then
    fail "connect: 'ls /' against $ADDR must list 'zookeeper'" "$OUT"
    echo "zkcli_test: $PASSED passed, $FAILED failed"
    exit 1
fi
pass "connect: ls / lists zookeeper"

zk create "$R" root;                 expect_exact "create" 0 "Created $R"
zk create "$R/a" hello;              expect_exact "create with data" 0 "Created $R/a"
zk create "$R/a" again;              expect_exact "create existing fails" 1 "Node already exists: $R/a"
zk create "$R/x/y" z;                expect_exact "create without parent fails" 1 "Node does not exist: $R/x/y"
zk create -s "$R/s-" seq;            expect_exact "create -s (sequential)" 0 "Created $R/s-0000000001"
zk create -e "$R/e" eph;             expect_exact "create -e (ephemeral)" 0 "Created $R/e"

# zkCli's one-shot mode exits WITHOUT closing its session: the ephemeral node
# stays until the session expires (30 s), so it is still listed here.
zk ls "$R"
expect_exact "ls (sorted; ephemeral of the exited one-shot session still there)" 0 "[a, e, s-0000000001]"
zk stat "$R/e"
owner=$(printf '%s\n' "$OUT" | sed -n 's/^ephemeralOwner = //p')
if [ "$RC" = 0 ] && [ -n "$owner" ] && [ "$owner" != 0x0 ]; then pass "stat of ephemeral: ephemeralOwner $owner"; else fail "stat of ephemeral" "$OUT"; fi

zk ls -s "$R"
# 3 child creations, 3 children: reported cversion = 2*creations - numChildren = 3
expect "ls -s (children + stat)" 0 "[a, e, s-0000000001]" "cversion = 3" "dataVersion = 0" \
    "aclVersion = 0" "ephemeralOwner = 0x0" "dataLength = 4" "numChildren = 3"

zk stat "$R/a"
expect "stat" 0 "cZxid = 0x" "ctime = " "mZxid = 0x" "mtime = " "pZxid = 0x" "cversion = 0" \
    "dataVersion = 0" "aclVersion = 0" "ephemeralOwner = 0x0" "dataLength = 5" "numChildren = 0"
if [ "$(printf '%s\n' "$OUT" | wc -l)" -eq 11 ]; then pass "stat prints exactly 11 lines"; else fail "stat line count" "$OUT"; fi
czxid=$(printf '%s\n' "$OUT" | sed -n 's/^cZxid = //p')
mzxid=$(printf '%s\n' "$OUT" | sed -n 's/^mZxid = //p')
if [ -n "$czxid" ] && [ "$czxid" = "$mzxid" ]; then pass "stat: cZxid == mZxid for a fresh node"; else fail "stat: cZxid '$czxid' vs mZxid '$mzxid'" "$OUT"; fi

zk stat "$R/missing";                expect_exact "stat missing" 1 "Node does not exist: $R/missing"
zk get "$R/a";                       expect_exact "get" 0 "hello"
zk get -s "$R/a";                    expect "get -s" 0 "hello" "dataVersion = 0" "dataLength = 5" "cZxid = $czxid"
zk get "$R/missing";                 expect_exact "get missing" 1 "Node does not exist: $R/missing"
zk set "$R/a" world;                 expect_exact "set (prints nothing)" 0 ""
zk get -s "$R/a";                    expect "get after set" 0 "world" "dataVersion = 1" "dataLength = 5"
zk set -v 1 "$R/a" again;            expect_exact "set -v with matching version" 0 ""
zk set -v 1 "$R/a" nope;             expect_exact "set -v with wrong version" 1 "version No is not valid : $R/a"
zk get "$R/a";                       expect_exact "data after set -v" 0 "again"
zk delete "$R";                      expect_exact "delete non-empty fails" 1 "Node not empty: $R"
zk delete "$R/missing";              expect_exact "delete missing fails" 1 "Node does not exist: $R/missing"
zk delete -v 0 "$R/a";               expect_exact "delete -v with wrong version" 1 "version No is not valid : $R/a"
zk delete "$R/a";                    expect_exact "delete" 0 ""
zk get "$R/a";                       expect_exact "get deleted" 1 "Node does not exist: $R/a"

zk create "$R/t";   zk create "$R/t/u"; zk create "$R/t/u/v" deep; zk create "$R/t/w"
zk ls -R "$R/t"
sorted=$(printf '%s\n' "$OUT" | sort | tr '\n' ' ')
if [ "$RC" = 0 ] && [ "$sorted" = "$R/t $R/t/u $R/t/u/v $R/t/w " ]; then pass "ls -R"; else fail "ls -R" "$OUT"; fi
zk deleteall "$R/t";                 expect_exact "deleteall" 0 ""
zk stat "$R/t";                      expect_exact "deleteall removed the subtree" 1 "Node does not exist: $R/t"
zk sync "$R";                        expect_exact "sync" 0 "Sync is OK"

# quotas: stored under /zookeeper/quota, usage kept up to date by the server
zk create "$R/q"
zk setquota -n 5 "$R/q";             expect_exact "setquota -n" 0 ""
zk create "$R/q/c1" abc
zk create "$R/q/c2" de
zk listquota "$R/q"
expect_exact "listquota (count limit, usage count=3 bytes=5)" 0 "absolute path is /zookeeper/quota$R/q/zookeeper_limits
Output quota for $R/q count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1
Output stat for $R/q count=3,bytes=5"
zk setquota -b 100 "$R/q";           expect_exact "setquota -b" 0 ""
zk delete "$R/q/c2"
zk listquota "$R/q"
expect "listquota after setquota -b and a delete" 0 \
    "Output quota for $R/q count=5,bytes=100=;byteHardLimit=-1;countHardLimit=-1" \
    "Output stat for $R/q count=2,bytes=3"
zk get "/zookeeper/quota$R/q/zookeeper_limits"
expect_exact "quota limits node content (written by zkCli)" 0 "count=5,bytes=100=;byteHardLimit=-1;countHardLimit=-1"
zk get "/zookeeper/quota$R/q/zookeeper_stats"
expect_exact "quota stats node content (maintained by the server)" 0 "count=2,bytes=3"
zk delquota "$R/q";                  expect_exact "delquota" 0 ""
zk listquota "$R/q"
expect "listquota after delquota" 0 "quota for $R/q does not exist."

# ACLs
zk getAcl "$R";                      expect_exact "getAcl (world:anyone)" 0 "'world,'anyone
: cdrwa"
zk create "$R/sec" topsecret
zk setAcl "$R/sec" "digest:$ALICE_DIGEST:cdrwa"
expect_exact "setAcl digest" 0 ""
zk get "$R/sec";                     expect_exact "get without auth" 1 "Insufficient permission : $R/sec"
zk getAcl "$R/sec";                  expect_exact "getAcl without auth" 1 "Insufficient permission : $R/sec"
zk setAcl "$R/sec" "ip:not.an.ip:r"; expect_exact "setAcl with an invalid ip ACL (server-side InvalidACL)" 1 "Acl is not valid : $R/sec"
zk setAcl "$R/sec" "digest:nocolon:cdrwa"; expect_exact "setAcl with an invalid digest id" 1 "Acl is not valid : $R/sec"
zk create "$R/noauth" x "auth::cdrwa"
expect "create with 'auth' ACL but no authenticated id" 1 "KeeperErrorCode = InvalidACL for $R/noauth"
session "addauth digest alice:secret
get $R/sec
getAcl $R/sec"
expect "addauth digest + get + getAcl in one session" any "topsecret" "'digest,'$ALICE_DIGEST" ": cdrwa"
session "addauth digest alice:wrong
get $R/sec"
expect "addauth with wrong password + get" any "Insufficient permission : $R/sec"
zk create "$R/ro" r "world:anyone:r"
zk set "$R/ro" x;                    expect_exact "set on read-only ACL" 1 "Insufficient permission : $R/ro"
zk getAcl "$R/ro";                   expect_exact "getAcl read-only node" 0 "'world,'anyone
: r"

# watches in a stdin-fed session
session "create $R/w v
get -w $R/w
set $R/w v2
ls -w $R
create $R/w2
stat -w $R/w3
create $R/w3
delete $R/w3"
expect "one-shot watches (data, child, exists) in a session" any \
    "Created $R/w" \
    "WatchedEvent state:SyncConnected type:NodeDataChanged path:$R/w" \
    "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:$R" \
    "Node does not exist: $R/w3" \
    "WatchedEvent state:SyncConnected type:NodeCreated path:$R/w3"
n=$(printf '%s\n' "$OUT" | grep -c 'type:NodeDataChanged' || true)
if [ "$n" = 1 ]; then pass "data watch fired exactly once"; else fail "data watch fired $n times" "$OUT"; fi

# ephemeral + its owner within one session
session "create -e $R/eph x
stat $R/eph
close"
owner=$(printf '%s\n' "$OUT" | sed -n 's/^ephemeralOwner = //p')
if [ -n "$owner" ] && [ "$owner" != 0x0 ]; then pass "ephemeralOwner set in session ($owner)"; else fail "ephemeralOwner not set" "$OUT"; fi
zk stat "$R/eph";                    expect_exact "ephemeral removed after close" 1 "Node does not exist: $R/eph"

# cleanup: the digest-protected node first (deleteall needs READ to list it)
zk delete "$R/sec";                  expect_exact "delete protected node (DELETE is checked on the parent)" 0 ""
zk deleteall "$R";                   expect_exact "deleteall test root" 0 ""
zk deleteall "/zookeeper/quota$R" # quota bookkeeping nodes outlive the quota'd path
zk ls /
if [ "$RC" = 0 ] && ! has "${R#/}"; then pass "test root gone"; else fail "test root still listed" "$OUT"; fi

echo "zkcli_test: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
