from kazoo.client import KazooClient
import kazoo.exceptions as ke
zk = KazooClient(hosts='127.0.0.1:21811'); zk.start()
def tr(label, f):
    try: print(label, f())
    except Exception as e: print(label, type(e).__name__)
zk.create('/s'); zk.create('/h'); zk.create('/b')
# soft count 2 on /s, hard count 2 on /h, hard bytes 10 on /b -- written as zkCli does
zk.create('/zookeeper/quota/s/zookeeper_limits', b'count=2,bytes=-1', makepath=True)
zk.create('/zookeeper/quota/s/zookeeper_stats', b'count=0,bytes=0')
zk.create('/zookeeper/quota/h/zookeeper_limits', b'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2', makepath=True)
zk.create('/zookeeper/quota/h/zookeeper_stats', b'count=0,bytes=0')
zk.create('/zookeeper/quota/b/zookeeper_limits', b'count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1', makepath=True)
zk.create('/zookeeper/quota/b/zookeeper_stats', b'count=0,bytes=0')
for i in range(3): tr('soft create %d' % i, lambda: zk.create('/s/n%d' % i))
tr('stats s', lambda: zk.get('/zookeeper/quota/s/zookeeper_stats')[0])
for i in range(3): tr('hard create %d' % i, lambda: zk.create('/h/n%d' % i))
tr('stats h', lambda: zk.get('/zookeeper/quota/h/zookeeper_stats')[0])
tr('bytes create 8', lambda: zk.create('/b/x', b'12345678'))
tr('bytes set 9', lambda: zk.set('/b/x', b'123456789'))
tr('bytes set 11', lambda: zk.set('/b/x', b'12345678901'))
tr('bytes set 11 badversion', lambda: zk.set('/b/x', b'12345678901', version=77))
tr('stats b', lambda: zk.get('/zookeeper/quota/b/zookeeper_stats')[0])
# multi: two creates under hard count /h2 with limit 2 and usage 1
zk.create('/h2'); zk.create('/zookeeper/quota/h2/zookeeper_limits', b'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2', makepath=True)
zk.create('/zookeeper/quota/h2/zookeeper_stats', b'count=0,bytes=0')
t = zk.transaction(); t.create('/h2/a'); t.create('/h2/b'); t.create('/h2/c'); tr('multi 3 creates under count limit 2 (usage 1)', lambda: t.commit())
tr('stats h2', lambda: zk.get('/zookeeper/quota/h2/zookeeper_stats')[0])
# quota on / ignored
zk.create('/zookeeper/quota/zookeeper_limits', b'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=0')
tr('create under root quota', lambda: zk.create('/rootq'))
# delete limits then create beyond
zk.delete('/zookeeper/quota/h/zookeeper_limits')
tr('after limit delete', lambda: zk.create('/h/n9'))
tr('stats h', lambda: zk.get('/zookeeper/quota/h/zookeeper_stats')[0])
zk.stop()
