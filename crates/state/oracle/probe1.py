from kazoo.client import KazooClient
from kazoo.security import make_digest_acl, ACL, Id
import kazoo.exceptions as ke
zk = KazooClient(hosts='127.0.0.1:21810'); zk.start()
for p in ['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']:
    d, s = zk.get(p); print(p, repr(d[:60]), s, zk.get_acls(p)[0])
zk.create('/t'); print('t', zk.exists('/t'))
zk.create('/t/a'); zk.create('/t/b'); print('after 2 creates', zk.exists('/t'))
zk.delete('/t/a'); print('after delete', zk.exists('/t'))
zk.set('/t/b', b'x'); print('after set child', zk.exists('/t'))
print(zk.create('/t/s', sequence=True), zk.exists('/t'))
zk.stop()
