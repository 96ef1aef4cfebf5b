import socket, struct
class Raw:
    def __init__(self, port=21810, timeout=30000):
        self.s = socket.create_connection(('127.0.0.1', port))
        body = struct.pack('>iqiq', 0, 0, timeout, 0) + struct.pack('>i', 16) + b'\0'*16 + b'\0'
        self.send(body)
        r = self.recv()
        self.sid = struct.unpack('>q', r[8:16])[0]
        self.xid = 0
    def send(self, b): self.s.sendall(struct.pack('>i', len(b)) + b)
    def recvn(self, n):
        d = b''
        while len(d) < n:
            c = self.s.recv(n - len(d))
            if not c: raise EOFError
            d += c
        return d
    def recv(self):
        n = struct.unpack('>i', self.recvn(4))[0]
        return self.recvn(n)
    def req(self, op, body):
        self.xid += 1
        self.send(struct.pack('>ii', self.xid, op) + body)
        while True:
            r = self.recv()
            xid, zxid, err = struct.unpack('>iqi', r[:16])
            if xid == -1: 
                continue  # watch event
            return err, r[16:]
def s(x):
    if x is None: return struct.pack('>i', -1)
    b = x.encode() if isinstance(x, str) else x
    return struct.pack('>i', len(b)) + b
def acl_open(): return struct.pack('>i', 1) + struct.pack('>i', 31) + s('world') + s('anyone')
def acls(lst): return struct.pack('>i', len(lst)) + b''.join(struct.pack('>i', p) + s(sc) + s(i) for p, sc, i in lst)
def create(path, data=b'', flags=0, acl=None): return s(path) + s(data) + (acl or acl_open()) + struct.pack('>i', flags)
def create_ttl(path, data=b'', flags=5, ttl=1000, acl=None): return create(path, data, flags, acl) + struct.pack('>q', ttl)
def stat(b):
    f = struct.unpack('>qqqqiiiqiiq', b[:68])
    return dict(zip('czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren pzxid'.split(), f))
def mh(op, done=False, err=-1): return struct.pack('>i?i', op, done, err)
