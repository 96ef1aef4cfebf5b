import sys; sys.path.insert(0, __import__('os').path.dirname(__file__))
from raw import *
import struct
c = Raw()
print('session', hex(c.sid))
def p(label, r):
    err, body = r
    print(label, 'err', err, 'body', body.hex()[:200])
p('create /p', c.req(1, create('/p2')))
# multi failing: create /p/a ok, create /p (exists), setData /nope
body = mh(1) + create('/p2/a') + mh(1) + create('/p2') + mh(5) + s('/nope') + s(b'x') + struct.pack('>i', -1) + mh(-1, True, -1)
p('multi fail', c.req(14, body))
print('exists /p/a', c.req(3, s('/p2/a') + b'\0')[0])
# empty multi
p('empty multi', c.req(14, mh(-1, True, -1)))
# check standalone op 13
c2 = Raw(); print('check bad', c2.req(13, s('/p') + struct.pack('>i', 5))); c2=Raw(); print('check nonode', c2.req(13, s('/nope') + struct.pack('>i', -1)))
# container & TTL ephemeralOwner
err, b = c.req(19, create('/cont', b'd', 4)); print('container', err, b[:20], stat(b[4+len('/cont'):]) if err == 0 else '')
err, b = c.req(21, create_ttl('/ttl', b'', 5, 5000)); print('ttl', err, stat(b[4+len('/ttl'):]) if err == 0 else '')
# delete system nodes
for path in ['/zookeeper', '/', '/zookeeper/quota', '/zookeeper/config', 'abc', '', '/p/']:
    print('delete', repr(path), c.req(2, s(path) + struct.pack('>i', -1))[0])
for path in ['/p/', 'abc', '/nope/', '/p/./x', '']:
    print('create', repr(path), c.req(1, create(path))[0])
print('create flags 7', c.req(1, create('/f7', flags=7))[0])
print('create op1 flags container', c.req(1, create('/c1', flags=4)))
err, b = c.req(3, s('/c1') + b'\0'); print('c1 stat', stat(b))
print('createContainer flags 0', c.req(19, create('/c2', flags=0))[0])
print('createTTL flags 0 ttl 100', c.req(21, create_ttl('/t0', flags=0, ttl=100))[0])
print('createTTL flags 5 ttl 0', c.req(21, create_ttl('/t1', flags=5, ttl=0))[0])
print('create flags 5', c.req(1, create('/t2', flags=5))[0])
print('getAllChildrenNumber /', c.req(104, s('/')))
print('getAllChildrenNumber empty', c.req(104, s('')))
print('getAllChildrenNumber /zookeeper', c.req(104, s('/zookeeper')))
print('getData empty', c.req(4, s('') + b'\0')[0])
print('exists empty', c.req(3, s('') + b'\0')[0])
print('getChildren empty', c.req(8, s('') + b'\0'))
c.req(1, create('/p/e1', flags=1)); c.req(1, create('/pe', flags=1)); c.req(1, create('/p/e2', flags=1))
print('getEphemerals /p', c.req(103, s('/p')))
print('getEphemerals " / "', c.req(103, s(' / ')))
print('reconfig', c.req(16, s('') + s('') + s('') + struct.pack('>q', -1))[0])
print('close', c.req(-11, b''))
