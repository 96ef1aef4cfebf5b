#!/usr/bin/python3
"""Interop test: drive a ZooKeeper-compatible server with kazoo (Python).

Usage: /usr/bin/python3 tests/interop/kazoo_test.py HOST:PORT

Run it with Debian's /usr/bin/python3: that is the interpreter for which the
python3-kazoo package is installed (a pyenv python3 on PATH will not have it).

Each check prints "PASS: name" or "FAIL: name: reason"; the last line is
"kazoo_test: N passed, M failed" and the exit status is non-zero if M > 0.
Everything is created under a fresh /interop-kazoo-<pid>-<time> node, which
is removed at the end, so the script can be run repeatedly against the same
server.

A few checks speak the ZooKeeper wire protocol directly (RawSession below):
kazoo 2.8 has no API for persistent watches (addWatch, opcode 106), and a
raw session is the most reliable way to make a session go silent (no pings,
no closeSession) so that the server must expire it.
"""

import os
import socket
import struct
import sys
import threading
import time
import traceback

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import (
        AuthFailedError,
        BadVersionError,
        ConnectionLoss,
        NoAuthError,
        NoChildrenForEphemeralsError,
        NodeExistsError,
        NoNodeError,
        NotEmptyError,
        RolledBackError,
        RuntimeInconsistency,
    )
    from kazoo.protocol.states import EventType, KazooState
    from kazoo.security import (
        OPEN_ACL_UNSAFE,
        Permissions,
        make_acl,
        make_digest_acl,
    )
except ImportError as e:  # pragma: no cover
    print("FAIL: import kazoo: %s (run with /usr/bin/python3; apt-get install python3-kazoo)" % e)
    print("kazoo_test: 0 passed, 1 failed")
    sys.exit(1)

if len(sys.argv) < 2 or ":" not in sys.argv[1]:
    print("usage: %s HOST:PORT" % sys.argv[0], file=sys.stderr)
    sys.exit(2)

ADDR = sys.argv[1]
HOST, PORT = ADDR.rsplit(":", 1)
PORT = int(PORT)
ROOT = "/interop-kazoo-%d-%d" % (os.getpid(), int(time.time()))

# Silence kazoo's own logging (it warns on every intentional connection drop).
import logging  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)

PASSED = 0
FAILED = 0
CLIENTS = []


class CheckFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def expect_eq(got, want, what):
    if got != want:
        raise CheckFailed("%s: expected %r, got %r" % (what, want, got))


def expect_raises(exc_type, fn, *args, **kwargs):
    try:
        r = fn(*args, **kwargs)
    except exc_type as e:
        return e
    except Exception as e:
        raise CheckFailed(
            "%s: expected %s, got %s(%s)"
            % (getattr(fn, "__name__", fn), exc_type.__name__, type(e).__name__, e)
        )
    raise CheckFailed(
        "%s: expected %s, but it succeeded with %r"
        % (getattr(fn, "__name__", fn), exc_type.__name__, r)
    )


# kazoo's synchronous calls wait forever for a reply; a watchdog turns a
# request the server never answers into a failed check instead of a hang.
CHECK_TIMEOUT = float(os.environ.get("KAZOO_TEST_CHECK_TIMEOUT", "90"))


def check(name):
    """Decorator: run the function as one named check, record PASS/FAIL."""

    def wrap(fn):
        global PASSED, FAILED
        t0 = time.time()
        outcome = {}

        def runner():
            try:
                fn()
                outcome["ok"] = True
            except BaseException as e:  # noqa: B902 - reported below
                outcome["exc"] = e
                outcome["tb"] = traceback.format_exc()

        t = threading.Thread(target=runner, name="check: " + name, daemon=True)
        t.start()
        t.join(CHECK_TIMEOUT)
        e = outcome.get("exc")
        if t.is_alive():
            FAILED += 1
            print("FAIL: %s: timed out after %.0fs (a request got no reply?)" % (name, CHECK_TIMEOUT), flush=True)
        elif isinstance(e, CheckFailed):
            FAILED += 1
            print("FAIL: %s: %s" % (name, e), flush=True)
        elif e is not None:
            FAILED += 1
            print("FAIL: %s: unexpected %s: %s" % (name, type(e).__name__, e), flush=True)
            print(outcome["tb"], end="", flush=True)
        else:
            PASSED += 1
            print("PASS: %s (%.2fs)" % (name, time.time() - t0), flush=True)
        return fn

    return wrap


def new_client(**kwargs):
    kwargs.setdefault("timeout", 10.0)
    c = KazooClient(hosts=ADDR, **kwargs)
    c.start(timeout=15)
    CLIENTS.append(c)
    return c


def close_client(c):
    try:
        c.stop()
        c.close()
    except Exception:
        pass


def p(*parts):
    return "/".join((ROOT,) + parts)


class Collector:
    """Thread-safe list of watch events with a blocking wait."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, n, timeout=10.0):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.events) < n:
                left = deadline - time.time()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.events)


# ---------------------------------------------------------------------------
# Minimal raw ZooKeeper session (wire protocol), used where kazoo 2.8 cannot.
# ---------------------------------------------------------------------------

OP_CREATE = 1
OP_EXISTS = 3
OP_REMOVE_WATCHES = 18
OP_ADD_WATCH = 106
ADD_WATCH_PERSISTENT = 0
ADD_WATCH_PERSISTENT_RECURSIVE = 1
EV_CREATED, EV_DELETED, EV_CHANGED, EV_CHILD = 1, 2, 3, 4


def _jstr(s):
    b = s.encode()
    return struct.pack("!i", len(b)) + b


def _jbuf(b):
    return struct.pack("!i", len(b)) + b


OPEN_ACL_WIRE = struct.pack("!i", 1) + struct.pack("!i", 31) + _jstr("world") + _jstr("anyone")


class RawSession:
    def __init__(self, timeout_ms=30000, session_id=0, passwd=b"\0" * 16):
        self.sock = socket.create_connection((HOST, PORT), timeout=10)
        self.xid = 0
        body = struct.pack("!iqiq", 0, 0, timeout_ms, session_id) + _jbuf(passwd) + b"\0"
        self._send(body)
        r = self.read_frame()
        _proto, self.timeout_ms, self.session_id = struct.unpack_from("!iiq", r, 0)
        (n,) = struct.unpack_from("!i", r, 16)
        self.passwd = r[20 : 20 + n]

    def _send(self, body):
        self.sock.sendall(struct.pack("!i", len(body)) + body)

    def _recv_exact(self, n, timeout):
        self.sock.settimeout(timeout)
        buf = b""
        while len(buf) < n:
            d = self.sock.recv(n - len(buf))
            if not d:
                raise EOFError("server closed the connection")
            buf += d
        return buf

    def read_frame(self, timeout=10.0):
        (n,) = struct.unpack("!i", self._recv_exact(4, timeout))
        return self._recv_exact(n, timeout)

    def request(self, op, body):
        """Send a request; return (err, body). Watch events that arrive in
        the meantime are queued in self.pending_events."""
        self.xid += 1
        self._send(struct.pack("!ii", self.xid, op) + body)
        while True:
            r = self.read_frame()
            xid, _zxid, err = struct.unpack_from("!iqi", r, 0)
            if xid == -1:
                self.pending_events.append(self._parse_event(r))
                continue
            if xid != self.xid:
                raise CheckFailed("raw session: expected xid %d, got %d" % (self.xid, xid))
            return err, r[16:]

    pending_events = None

    @staticmethod
    def _parse_event(r):
        typ, _state = struct.unpack_from("!ii", r, 16)
        (n,) = struct.unpack_from("!i", r, 24)
        return (typ, r[28 : 28 + n].decode())

    def events(self, want, timeout=10.0):
        """Collect watch events until `want` have arrived (or timeout), then
        keep listening briefly to catch unexpected extra events."""
        out = list(self.pending_events or [])
        self.pending_events = []
        deadline = time.time() + timeout
        while len(out) < want and time.time() < deadline:
            try:
                r = self.read_frame(timeout=max(0.05, deadline - time.time()))
            except socket.timeout:
                break
            out.append(self._parse_event(r))
        # grace period for extra (unexpected) events
        while True:
            try:
                r = self.read_frame(timeout=0.5)
            except socket.timeout:
                break
            out.append(self._parse_event(r))
        return out

    def create(self, path, data=b"", flags=0):
        return self.request(OP_CREATE, _jstr(path) + _jbuf(data) + OPEN_ACL_WIRE + struct.pack("!i", flags))

    def add_watch(self, path, mode):
        return self.request(OP_ADD_WATCH, _jstr(path) + struct.pack("!i", mode))

    def remove_watches(self, path, wtype):
        return self.request(OP_REMOVE_WATCHES, _jstr(path) + struct.pack("!i", wtype))

    def abandon(self):
        """Drop the TCP connection without sending closeSession."""
        try:
            self.sock.close()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

print("kazoo_test: server %s, test root %s" % (ADDR, ROOT), flush=True)

try:
    zk = new_client()
except Exception as e:
    print("FAIL: connect to %s: %s: %s" % (ADDR, type(e).__name__, e))
    print("kazoo_test: 0 passed, 1 failed")
    sys.exit(1)
try:
    zk.create_async(ROOT, b"root").get(timeout=30)
except Exception as e:
    print("FAIL: create test root %s: %s: %s" % (ROOT, type(e).__name__, e))
    print("kazoo_test: 0 passed, 1 failed")
    os._exit(1)


@check("four-letter words ruok/srvr via kazoo")
def _():
    expect_eq(zk.command(b"ruok"), "imok", "ruok")
    srvr = zk.command(b"srvr")
    expect("Zookeeper version:" in srvr, "srvr output lacks 'Zookeeper version:': %r" % srvr)


@check("CRUD: create/get/set/delete with versions and stat")
def _():
    path = p("crud")
    created = zk.create(path, b"v0")
    expect_eq(created, path, "create returned path")
    data, st = zk.get(path)
    expect_eq(data, b"v0", "data after create")
    expect_eq((st.version, st.cversion, st.aversion, st.numChildren, st.dataLength, st.ephemeralOwner),
              (0, 0, 0, 0, 2, 0), "stat after create (version,cversion,aversion,numChildren,dataLength,ephemeralOwner)")
    expect_eq(st.czxid, st.mzxid, "czxid == mzxid after create")
    expect_eq(st.czxid, st.pzxid, "czxid == pzxid after create")
    st2 = zk.set(path, b"v1", version=0)
    expect_eq(st2.version, 1, "version after set")
    expect(st2.mzxid > st.mzxid, "mzxid grows on set")
    expect_eq(st2.czxid, st.czxid, "czxid unchanged by set")
    expect_raises(BadVersionError, zk.set, path, b"v2", version=0)
    expect_raises(NodeExistsError, zk.create, path, b"again")
    expect_raises(NoNodeError, zk.get, p("crud-missing"))
    expect_raises(NoNodeError, zk.create, p("no", "parent"))
    expect_eq(zk.exists(p("crud-missing")), None, "exists on missing node")
    # empty and None data
    zk.create(p("crud", "empty"))
    expect_eq(zk.get(p("crud", "empty"))[0], b"", "empty data")
    zk.create(p("crud", "child2"), b"x")
    _, pst = zk.get(path)
    expect_eq(pst.numChildren, 2, "numChildren")
    expect_eq(pst.cversion, 2, "parent cversion after two creates")
    expect_eq(sorted(zk.get_children(path)), ["child2", "empty"], "children")
    ch, cst = zk.get_children(path, include_data=True)
    expect_eq(cst.numChildren, 2, "getChildren2 stat numChildren")
    expect_raises(NotEmptyError, zk.delete, path)
    expect_raises(BadVersionError, zk.delete, p("crud", "empty"), version=5)
    zk.delete(p("crud", "empty"), version=0)
    zk.delete(p("crud", "child2"))
    _, pst2 = zk.get(path)
    expect_eq(pst2.numChildren, 0, "numChildren after deletes")
    # ZooKeeper stores only the number of child creations and reports
    # cversion = 2 * creations - numChildren ("every create has a delete").
    expect_eq(pst2.cversion, 4, "parent cversion after 2 creates + 2 deletes")
    expect(pst2.pzxid > pst.pzxid, "pzxid grows on child delete")
    zk.delete(path, version=1)
    expect_eq(zk.exists(path), None, "exists after delete")
    expect_raises(NoNodeError, zk.delete, path)
    # root and /zookeeper exist
    expect("zookeeper" in zk.get_children("/"), "/zookeeper in children of /")


@check("sequential nodes: counter is the number of child creations")
def _():
    base = p("seq")
    zk.create(base)
    a = zk.create(base + "/s-", b"", sequence=True)
    b = zk.create(base + "/s-", b"", sequence=True)
    expect_eq((a, b), (base + "/s-0000000000", base + "/s-0000000001"), "first two sequential names")
    zk.create(base + "/plain")
    zk.delete(base + "/plain")
    # reported cversion counts the delete (2*3 creates - 2 children = 4) but
    # the sequence counter does not: it is the number of creations so far.
    expect_eq(zk.exists(base).cversion, 4, "reported parent cversion after 3 creates + 1 delete")
    c = zk.create(base + "/other-", b"", sequence=True)
    expect_eq(c, base + "/other-0000000003", "sequence after a plain create+delete")
    d = zk.create(base + "/e-", b"", sequence=True, ephemeral=True)
    expect_eq(d, base + "/e-0000000004", "ephemeral sequential name")
    expect_eq(zk.exists(d).ephemeralOwner, zk.client_id[0], "ephemeral sequential owner")
    # a name that looks like a path prefix: sequence suffix appended to the leaf
    e = zk.create(base + "/", b"", sequence=True)
    expect_eq(e, base + "/0000000005", "sequential node with empty prefix")


@check("ephemeral nodes: owner, no children, removed on close")
def _():
    c2 = new_client()
    path = p("eph")
    c2.create(path, b"e", ephemeral=True)
    st = zk.exists(path)
    expect(st is not None, "ephemeral visible to other session")
    expect_eq(st.ephemeralOwner, c2.client_id[0], "ephemeralOwner == creator session id")
    expect_raises(NoChildrenForEphemeralsError, c2.create, path + "/child")
    coll = Collector()
    zk.exists(path, watch=coll)
    close_client(c2)
    expect_eq(zk.exists(path), None, "ephemeral gone after its session closed")
    evs = coll.wait_for(1)
    expect_eq([(e.type, e.path) for e in evs], [(EventType.DELETED, path)], "watch on ephemeral")


@check("multi: successful transaction")
def _():
    base = p("multi")
    zk.create(base, b"")
    zk.create(base + "/gone", b"")
    t = zk.transaction()
    t.create(base + "/a", b"1")
    t.set_data(base + "/a", b"2")
    t.check(base + "/a", 1)
    t.delete(base + "/gone")
    t.create(base + "/s-", b"", sequence=True)
    res = t.commit()
    expect_eq(len(res), 5, "number of results")
    expect_eq(res[0], base + "/a", "create result")
    expect_eq(res[1].version, 1, "setData result stat version")
    expect_eq(res[2:4], [True, True], "check/delete results")
    expect_eq(res[4], base + "/s-0000000002", "sequential create in multi")
    expect_eq(zk.get(base + "/a")[0], b"2", "data after multi")
    expect_eq(zk.exists(base + "/gone"), None, "deleted in multi")


@check("multi: failing transaction is atomic and reports per-op errors")
def _():
    base = p("multi")
    t = zk.transaction()
    t.create(base + "/b", b"1")
    t.check(base + "/a", 99)
    t.create(base + "/c", b"1")
    res = t.commit()
    kinds = [type(r) for r in res]
    expect_eq(kinds, [RolledBackError, BadVersionError, RuntimeInconsistency],
              "result types (ops before the failure: RolledBack, failing op: its error, "
              "ops after it: RuntimeInconsistency)")
    expect_eq(zk.exists(base + "/b"), None, "no partial effects (/b)")
    expect_eq(zk.exists(base + "/c"), None, "no partial effects (/c)")
    t = zk.transaction()
    t.set_data(base + "/a", b"x")
    t.delete(base + "/missing")
    res = t.commit()
    expect_eq([type(r) for r in res], [RolledBackError, NoNodeError], "set then delete-missing")
    expect_eq(zk.get(base + "/a")[0], b"2", "data unchanged after failed multi")


@check("one-shot watches: data, exists, child; fire once")
def _():
    base = p("watch")
    zk.create(base, b"0")
    data_w, exists_w, child_w, gone_w = Collector(), Collector(), Collector(), Collector()
    zk.get(base, watch=data_w)
    zk.exists(base + "/new", watch=exists_w)
    zk.get_children(base, watch=child_w)
    other = new_client()
    other.set(base, b"1")
    other.set(base, b"2")  # must not fire again (one-shot)
    other.create(base + "/new", b"")
    evs = data_w.wait_for(1)
    expect_eq([(e.type, e.path) for e in evs], [(EventType.CHANGED, base)], "data watch")
    evs = exists_w.wait_for(1)
    expect_eq([(e.type, e.path) for e in evs], [(EventType.CREATED, base + "/new")], "exists watch")
    evs = child_w.wait_for(1)
    expect_eq([(e.type, e.path) for e in evs], [(EventType.CHILD, base)], "child watch")
    # deleting a node fires data watches (DELETED) and the parent's child watch
    zk.get(base + "/new", watch=gone_w)
    child_w2 = Collector()
    zk.get_children(base, watch=child_w2)
    other.delete(base + "/new")
    evs = gone_w.wait_for(1)
    expect_eq([(e.type, e.path) for e in evs], [(EventType.DELETED, base + "/new")], "data watch on delete")
    evs = child_w2.wait_for(1)
    expect_eq([(e.type, e.path) for e in evs], [(EventType.CHILD, base)], "child watch on child delete")
    time.sleep(0.5)
    expect_eq(len(data_w.events), 1, "data watch fired exactly once")
    expect_eq(len(child_w.events), 1, "child watch fired exactly once")
    # setting data on a child does not fire the parent's child watch
    zk.create(base + "/c", b"")
    cw = Collector()
    zk.get_children(base, watch=cw)
    other.set(base + "/c", b"z")
    time.sleep(0.5)
    expect_eq(cw.events, [], "child watch must not fire on child data change")
    close_client(other)


@check("persistent watch (addWatch mode PERSISTENT, raw protocol)")
def _():
    base = p("pw")
    zk.create(base, b"")
    raw = RawSession()
    try:
        err, body = raw.add_watch(base, ADD_WATCH_PERSISTENT)
        expect_eq(err, 0, "addWatch error code")
        zk.set(base, b"1")
        zk.create(base + "/c", b"")
        zk.set(base, b"2")
        zk.set(base + "/c", b"x")  # not under a non-recursive watch
        zk.delete(base + "/c")
        zk.delete(base)
        zk.create(base, b"")  # still watched after delete
        evs = raw.events(6)
        expect_eq(evs, [(EV_CHANGED, base), (EV_CHILD, base), (EV_CHANGED, base),
                        (EV_CHILD, base), (EV_DELETED, base), (EV_CREATED, base)],
                  "persistent watch events (type, path)")
        err, _ = raw.remove_watches(base, 3)  # WatcherType.Any
        expect_eq(err, 0, "removeWatches(Any) error code")
        zk.set(base, b"3")
        expect_eq(raw.events(0, timeout=0.5), [], "events after removeWatches")
        err, _ = raw.remove_watches(base, 3)
        expect_eq(err, -121, "removeWatches on unwatched path (NoWatcher)")
    finally:
        raw.abandon()


@check("persistent recursive watch (addWatch mode PERSISTENT_RECURSIVE, raw protocol)")
def _():
    base = p("rw")
    zk.create(base, b"")
    raw = RawSession()
    try:
        err, _ = raw.add_watch(base, ADD_WATCH_PERSISTENT_RECURSIVE)
        expect_eq(err, 0, "addWatch error code")
        zk.create(base + "/a", b"")
        zk.create(base + "/a/b", b"")
        zk.set(base + "/a/b", b"1")
        zk.delete(base + "/a/b")
        zk.set(base, b"x")
        zk.create(p("rw-sibling"), b"")  # outside the watched subtree
        evs = raw.events(5)
        expect_eq(evs, [(EV_CREATED, base + "/a"), (EV_CREATED, base + "/a/b"),
                        (EV_CHANGED, base + "/a/b"), (EV_DELETED, base + "/a/b"),
                        (EV_CHANGED, base)],
                  "recursive watch events (no NodeChildrenChanged, nothing outside subtree)")
    finally:
        raw.abandon()


def exists_needs_read():
    """True for servers that check READ on exists: rzk, and ZooKeeper 3.8.4+."""
    banner = zk.command(b"srvr")
    if "rzk" in banner:
        return True
    version = banner.split("Zookeeper version: ", 1)[1].split("-", 1)[0]
    major, minor, patch = (int(x) for x in version.split(".")[:3])
    return (major, minor, patch) >= (3, 8, 4)


@check("digest auth and ACLs")
def _():
    secret = p("secret")
    owner = new_client(auth_data=[("digest", "alice:secret")])
    owner.create(secret, b"hidden", acl=[make_digest_acl("alice", "secret", all=True)])
    acls, st = owner.get_acls(secret)
    expect_eq(len(acls), 1, "number of ACL entries")
    expect_eq((acls[0].perms, acls[0].id.scheme, acls[0].id.id),
              (Permissions.ALL, "digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="), "stored digest ACL")
    # no auth: read, write, getAcl, child create are refused; exists works
    expect_raises(NoAuthError, zk.get, secret)
    expect_raises(NoAuthError, zk.set, secret, b"x")
    expect_raises(NoAuthError, zk.get_acls, secret)
    expect_raises(NoAuthError, zk.create, secret + "/child")
    # exists: ZooKeeper up to 3.8.3 needs no permission; 3.8.4+ and 3.9 need READ,
    # and rzk follows them (docs/DIFFERENTIAL.md).
    if exists_needs_read():
        expect_raises(NoAuthError, zk.exists, secret)
    else:
        expect(zk.exists(secret) is not None, "exists needs no permission")
    # wrong password
    wrong = new_client(auth_data=[("digest", "alice:wrong")])
    expect_raises(NoAuthError, wrong.get, secret)
    close_client(wrong)
    # late add_auth on an existing session
    late = new_client()
    expect_raises(NoAuthError, late.get, secret)
    late.add_auth("digest", "alice:secret")
    expect_eq(late.get(secret)[0], b"hidden", "read after add_auth")
    close_client(late)
    # read-only ACL for world
    ro = p("readonly")
    owner.create(ro, b"ro", acl=[make_acl("world", "anyone", read=True),
                                 make_digest_acl("alice", "secret", all=True)])
    expect_eq(zk.get(ro)[0], b"ro", "world read on read-only node")
    expect_raises(NoAuthError, zk.set, ro, b"x")
    expect_raises(NoAuthError, zk.create, ro + "/child")  # CREATE not granted to world
    owner.set(ro, b"ro2")
    # setACL with version check
    st = owner.set_acls(ro, OPEN_ACL_UNSAFE, version=0)
    expect_eq(st.aversion, 1, "aversion after setACL")
    expect_raises(BadVersionError, owner.set_acls, ro, OPEN_ACL_UNSAFE, version=0)
    zk.set(ro, b"now-open")
    # 'auth' scheme: ACL for all ids authenticated in the session
    au = p("authscheme")
    owner.create(au, b"a", acl=[make_acl("auth", "", all=True)])
    acls, _ = owner.get_acls(au)
    expect_eq([(a.id.scheme, a.id.id) for a in acls], [("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=")],
              "'auth' ACL is expanded to the session's digest id")
    expect_raises(NoAuthError, zk.get, au)
    # DELETE permission is checked on the parent (the open test root), so a
    # session without auth may delete the protected node itself.
    zk.delete(au)
    owner.delete(secret)
    close_client(owner)


@check("unknown auth scheme -> AuthFailed")
def _():
    c = new_client()
    expect_raises(AuthFailedError, c.add_auth, "nosuchscheme", "x")
    close_client(c)


@check("session resumed by a second connection with session id + password")
def _():
    raw = RawSession(timeout_ms=20000)
    path = p("resume-eph")
    err, _ = raw.create(path, b"r", flags=1)  # EPHEMERAL
    expect_eq(err, 0, "raw ephemeral create")
    sid, pw = raw.session_id, raw.passwd
    raw.abandon()  # connection gone, session alive
    time.sleep(0.5)
    st = zk.exists(path)
    expect(st is not None, "ephemeral survives a dropped connection")
    expect_eq(st.ephemeralOwner, sid, "ephemeralOwner")
    resumed = KazooClient(hosts=ADDR, timeout=20.0, client_id=(sid, pw))
    resumed.start(timeout=15)
    try:
        expect_eq(resumed.client_id[0], sid, "resumed session id")
        expect_eq(resumed.get(path)[0], b"r", "read via resumed session")
        resumed.create(path + "-2", b"", ephemeral=True)
        expect_eq(zk.exists(path + "-2").ephemeralOwner, sid, "new ephemeral owned by resumed session")
    finally:
        resumed.stop()
        resumed.close()
    expect_eq(zk.exists(path), None, "ephemeral removed after the resumed session is closed")
    expect_eq(zk.exists(path + "-2"), None, "second ephemeral removed too")


@check("session survives a cut TCP connection (kazoo reconnects, same session)")
def _():
    c = new_client()
    states = []
    c.add_listener(lambda s: states.append(s))
    sid = c.client_id[0]
    path = p("cut-eph")
    c.create(path, b"", ephemeral=True)
    c._connection._socket.shutdown(socket.SHUT_RDWR)
    deadline = time.time() + 15
    while time.time() < deadline and not (KazooState.SUSPENDED in states and c.state == KazooState.CONNECTED):
        time.sleep(0.05)
    expect(KazooState.SUSPENDED in states, "expected SUSPENDED after cutting the socket, states=%r" % states)
    expect_eq(c.state, KazooState.CONNECTED, "state after reconnect")
    expect(KazooState.LOST not in states, "session must not be LOST, states=%r" % states)
    expect_eq(c.client_id[0], sid, "session id after reconnect")
    expect_eq(zk.exists(path).ephemeralOwner, sid, "ephemeral still owned by the session")
    close_client(c)


@check("session expiry removes ephemerals and fires watches on another session")
def _():
    raw = RawSession(timeout_ms=4000)
    expect(raw.timeout_ms >= 4000, "negotiated timeout %d" % raw.timeout_ms)
    path = p("expire-eph")
    err, _ = raw.create(path, b"", flags=1)
    expect_eq(err, 0, "raw ephemeral create")
    w = Collector()
    st = zk.exists(path, watch=w)
    expect(st is not None and st.ephemeralOwner == raw.session_id, "ephemeral present, owned by raw session")
    t0 = time.time()
    # the raw session now goes silent: no pings, no closeSession, socket open
    time.sleep(1.0)
    expect(zk.exists(path) is not None, "ephemeral must survive 1s of silence (timeout %dms)" % raw.timeout_ms)
    evs = w.wait_for(1, timeout=raw.timeout_ms / 1000.0 + 10)
    waited = time.time() - t0
    expect_eq([(e.type, e.path) for e in evs], [(EventType.DELETED, path)], "watch event on expiry")
    expect(waited >= raw.timeout_ms / 1000.0 * 0.5, "expired too early (%.1fs)" % waited)
    expect_eq(zk.exists(path), None, "ephemeral removed")
    # the server closes the expired session's connection
    try:
        raw.read_frame(timeout=5)
        raise CheckFailed("expected the expired session's connection to be closed")
    except (EOFError, ConnectionResetError):
        pass
    except socket.timeout:
        raise CheckFailed("connection of expired session still open after 5s")
    # reconnecting with the expired session id is refused: timeout 0, id 0
    again = RawSession(timeout_ms=4000, session_id=raw.session_id, passwd=raw.passwd)
    expect_eq((again.timeout_ms, again.session_id), (0, 0), "connect response for an expired session")
    again.abandon()
    raw.abandon()
    print("  (session expired after %.1fs)" % waited)


@check("large payloads: 512 KiB ok, 2 MiB -> ConnectionLoss, session survives")
def _():
    c = new_client()
    sid = c.client_id[0]
    big = p("big")
    c.create(big, b"x" * (512 * 1024))
    expect_eq(c.exists(big).dataLength, 512 * 1024, "dataLength of 512 KiB node")
    expect_eq(len(c.get(big)[0]), 512 * 1024, "read back 512 KiB")
    expect_raises(ConnectionLoss, c.create, p("huge"), b"x" * (2 * 1024 * 1024))
    deadline = time.time() + 15
    while time.time() < deadline and c.state != KazooState.CONNECTED:
        time.sleep(0.05)
    expect_eq(c.state, KazooState.CONNECTED, "reconnected after the oversized request")
    expect_eq(c.client_id[0], sid, "same session after the oversized request")
    expect_eq(c.exists(p("huge")), None, "oversized node not created")
    c.delete(big)
    close_client(c)


@check("cleanup: recursive delete of the test root")
def _():
    zk.delete(ROOT, recursive=True)
    expect_eq(zk.exists(ROOT), None, "test root removed")


def _close_all():
    for c in CLIENTS:
        close_client(c)


# closing may itself hang if the server stopped answering
closer = threading.Thread(target=_close_all, daemon=True)
closer.start()
closer.join(15)

print("kazoo_test: %d passed, %d failed" % (PASSED, FAILED), flush=True)
sys.stdout.flush()
# os._exit: do not wait for client threads stuck on an unresponsive server
os._exit(1 if FAILED else 0)
