#!/usr/bin/env python3
"""Drives and reads a ZooKeeper-protocol server for crates/rzk/tests/migrate.rs.

  zk_tree.py workload ADDR         scripted writes, then prints "READY <sid> <pw>"
                                   and keeps a session with an ephemeral alive
                                   until killed
  zk_tree.py dump ADDR             every znode, one JSON object a line, sorted:
                                   path, data (hex), every Stat field, ACL
  zk_tree.py write ADDR PATH       creates PATH, prints its czxid
  zk_tree.py resume ADDR SID PW    resumes session SID (hex) with password PW
                                   (hex), prints the ephemerals it owns
"""
import json
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.protocol.serialization import Create
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl, make_acl


class CreateContainer(Create):
    """createContainer (opcode 19), which kazoo 2.8 has no call for; its
    reply starts with the path, all Create.deserialize reads."""
    type = 19


def create_container(zk, path):
    result = zk.handler.async_result()
    zk._call(CreateContainer(path, b"", OPEN_ACL_UNSAFE, 4), result)
    return result.get(timeout=30)

AUTH = ("digest", "alice:secret")
STAT_FIELDS = ["czxid", "mzxid", "ctime", "mtime", "version", "cversion",
               "aversion", "ephemeralOwner", "dataLength", "numChildren", "pzxid"]


def client(addr, **kw):
    c = KazooClient(hosts=addr, timeout=30.0, auth_data=[AUTH], **kw)
    c.start(timeout=30)
    return c


def workload(addr):
    zk = client(addr)
    zk.create("/app", b"root of the app")
    for i in range(60):
        zk.create("/app/item-%03d" % i, b"v%d" % i)
    for i in range(0, 60, 3):
        zk.set("/app/item-%03d" % i, b"changed")
        zk.set("/app/item-%03d" % i, b"changed twice")
    for i in range(0, 60, 4):
        zk.delete("/app/item-%03d" % i)
    for _ in range(5):
        zk.create("/app/seq-", b"s", sequence=True)
    acl = [make_digest_acl("alice", "secret", all=True),
           make_acl("world", "anyone", read=True)]
    zk.create("/secret", b"hidden", acl=acl)
    zk.set("/secret", b"hidden v1")
    zk.set_acls("/secret", acl + [make_acl("ip", "127.0.0.1", read=True)])
    create_container(zk, "/jobs")
    zk.create("/jobs/job-", b"j", sequence=True)
    zk.create("/jobs/job-", b"j", sequence=True)
    zk.delete("/jobs/job-0000000000")
    t = zk.transaction()
    t.create("/multi", b"m")
    t.create("/multi/a", b"a")
    t.set_data("/app", b"set in a multi")
    t.delete("/app/item-001")
    t.commit()
    zk.create("/deep/er/path", b"x", makepath=True)
    for i in range(60):
        zk.set("/deep/er/path", b"round %d" % i)
    # A session that dies with ZooKeeper: its ephemerals must survive.
    zk.create("/live", b"")
    zk.create("/live/eph", b"mine", ephemeral=True)
    zk.create("/live/eph-seq-", b"", ephemeral=True, sequence=True)
    # A closed session: its ephemeral is gone and /live's pzxid moved.
    other = client(addr)
    other.create("/live/short", b"", ephemeral=True)
    other.stop()
    other.close()
    sid, pw = zk.client_id
    print("READY %x %s" % (sid, pw.hex()), flush=True)
    sys.stdin.read()  # until killed


def dump(addr):
    zk = client(addr)
    out = []
    stack = ["/"]
    while stack:
        path = stack.pop()
        row = {"path": path}
        try:
            data, stat = zk.get(path)
            row["data"] = (data or b"").hex()
        except NoAuthError:
            row["data"] = "NoAuth"
            stat = zk.exists(path)
        row["stat"] = {f: getattr(stat, f) for f in STAT_FIELDS}
        acls, _ = zk.get_acls(path)
        row["acl"] = sorted("%d %s:%s" % (a.perms, a.id.scheme, a.id.id) for a in acls)
        for child in zk.get_children(path):
            stack.append(path.rstrip("/") + "/" + child)
        out.append(row)
    for row in sorted(out, key=lambda r: r["path"]):
        print(json.dumps(row, sort_keys=True))
    zk.stop()


def write(addr, path):
    zk = client(addr)
    zk.create(path, b"written after import")
    print("%d" % zk.exists(path).czxid)
    zk.stop()


def resume(addr, sid, pw):
    zk = KazooClient(hosts=addr, timeout=30.0,
                     client_id=(int(sid, 16), bytes.fromhex(pw)))
    zk.start(timeout=30)
    if zk.client_id[0] != int(sid, 16):
        print("NEW SESSION %x" % zk.client_id[0])
        return
    mine = [c for c in zk.get_children("/live")
            if zk.exists("/live/" + c).ephemeralOwner == int(sid, 16)]
    print("RESUMED %s" % " ".join(sorted(mine)))


if __name__ == "__main__":
    cmd, addr = sys.argv[1], sys.argv[2]
    {"workload": lambda: workload(addr),
     "dump": lambda: dump(addr),
     "write": lambda: write(addr, sys.argv[3]),
     "resume": lambda: resume(addr, sys.argv[3], sys.argv[4])}[cmd]()
