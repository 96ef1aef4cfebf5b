// Prints golden jute encodings made by Apache ZooKeeper's own record classes,
// one `name hex` line each. `crates/proto/tests/golden.rs` embeds this output and,
// when Java and the Debian `zookeeper` jars are installed, runs this file again
// (single-file source launch, no javac step) to check the embedded bytes.
//
// Run by hand:
//   java -cp /usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar \
//       crates/proto/tests/golden/GenGolden.java
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.MultiOperationRecord;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.*;

public class GenGolden {
    static void emit(String name, Record... records) throws IOException {
        ByteArrayOutputStream baos = new ByteArrayOutputStream();
        BinaryOutputArchive boa = BinaryOutputArchive.getArchive(baos);
        for (Record r : records) {
            r.serialize(boa, "r");
        }
        emitBytes(name, baos.toByteArray());
    }

    static void emitBytes(String name, byte[] b) {
        StringBuilder sb = new StringBuilder(name).append(' ');
        for (byte x : b) {
            sb.append(String.format("%02x", x & 0xff));
        }
        System.out.println(sb);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static Stat stat() {
        // Every field distinct so a swapped pair shows.
        return new Stat(0x0101010101010101L, 0x0202020202020202L, 1700000000123L, 1700000000456L,
                5, 6, 7, 0x0808080808080808L, 9, 10, 0x0b0b0b0b0b0b0b0bL);
    }

    static List<ACL> acls() {
        return Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("world", "anyone")),
                new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.ADMIN, new Id("digest", "u:h")));
    }

    public static void main(String[] args) throws Exception {
        byte[] passwd = new byte[16];
        for (int i = 0; i < 16; i++) {
            passwd[i] = (byte) i;
        }

        emit("stat", stat());
        emit("id", new Id("digest", "user:hash="));
        emit("acl", new ACL(ZooDefs.Perms.ALL, new Id("world", "anyone")));

        // The handshake: Java's ClientCnxnSocket writes the record and then the
        // readOnly boolean; ZooKeeperServer writes the response and readOnly.
        emit("connect_request_v0", new ConnectRequest(0, 0x1122334455667788L, 30000, 0L, passwd));
        ByteArrayOutputStream baos = new ByteArrayOutputStream();
        BinaryOutputArchive boa = BinaryOutputArchive.getArchive(baos);
        new ConnectRequest(0, 0x1122334455667788L, 30000, 0x0123456789abcdefL, passwd).serialize(boa, "connect");
        boa.writeBool(true, "readOnly");
        emitBytes("connect_request_ro", baos.toByteArray());
        emit("connect_response_v0", new ConnectResponse(0, 4000, 0x0123456789abcdefL, passwd));
        baos = new ByteArrayOutputStream();
        boa = BinaryOutputArchive.getArchive(baos);
        new ConnectResponse(0, 4000, 0x0123456789abcdefL, passwd).serialize(boa, "connect");
        boa.writeBool(false, "readOnly");
        emitBytes("connect_response_ro", baos.toByteArray());

        emit("request_header", new RequestHeader(7, ZooDefs.OpCode.create));
        emit("reply_header", new ReplyHeader(7, 0x100000002L, -101));
        emit("watcher_event", new WatcherEvent(4, 3, "/a/b"));
        emit("notification", new ReplyHeader(-1, -1L, 0), new WatcherEvent(1, 3, "/n"));

        emit("create_request", new RequestHeader(7, ZooDefs.OpCode.create),
                new CreateRequest("/a", utf8("hi"), acls(), 3));
        emit("create_ttl_request", new RequestHeader(8, ZooDefs.OpCode.createTTL),
                new CreateTTLRequest("/t", utf8("x"), acls(), 5, 60000L));
        emit("create_response", new CreateResponse("/a0000000001"));
        emit("create2_response", new Create2Response("/a0000000001", stat()));
        emit("delete_request", new RequestHeader(9, ZooDefs.OpCode.delete), new DeleteRequest("/d", -1));
        emit("exists_request", new RequestHeader(10, ZooDefs.OpCode.exists), new ExistsRequest("/e", true));
        emit("exists_response", new ExistsResponse(stat()));
        emit("get_data_request", new RequestHeader(11, ZooDefs.OpCode.getData), new GetDataRequest("/g", true));
        emit("get_data_response", new GetDataResponse(utf8("data"), stat()));
        emit("set_data_request", new RequestHeader(12, ZooDefs.OpCode.setData),
                new SetDataRequest("/s", utf8("new"), 3));
        emit("set_data_response", new SetDataResponse(stat()));
        emit("get_acl_request", new RequestHeader(13, ZooDefs.OpCode.getACL), new GetACLRequest("/acl"));
        emit("get_acl_response", new GetACLResponse(acls(), stat()));
        emit("set_acl_request", new RequestHeader(14, ZooDefs.OpCode.setACL),
                new SetACLRequest("/acl", acls(), 2));
        emit("set_acl_response", new SetACLResponse(stat()));
        emit("get_children_request", new RequestHeader(15, ZooDefs.OpCode.getChildren),
                new GetChildrenRequest("/c", false));
        emit("get_children2_request", new RequestHeader(16, ZooDefs.OpCode.getChildren2),
                new GetChildren2Request("/c", true));
        emit("get_children_response", new GetChildrenResponse(Arrays.asList("x", "yy")));
        emit("get_children2_response", new GetChildren2Response(Arrays.asList("x", "yy"), stat()));
        emit("sync_request", new RequestHeader(17, ZooDefs.OpCode.sync), new SyncRequest("/"));
        emit("sync_response", new SyncResponse("/"));
        emit("check_request", new RequestHeader(18, ZooDefs.OpCode.check), new CheckVersionRequest("/k", 4));
        emit("ping_request", new RequestHeader(-2, ZooDefs.OpCode.ping));
        emit("close_request", new RequestHeader(19, ZooDefs.OpCode.closeSession));
        emit("reconfig_request", new RequestHeader(20, ZooDefs.OpCode.reconfig),
                new ReconfigRequest("server.4=h:1:2", null, null, -1L));
        emit("check_watches_request", new RequestHeader(21, ZooDefs.OpCode.checkWatches),
                new CheckWatchesRequest("/w", 1));
        emit("remove_watches_request", new RequestHeader(22, ZooDefs.OpCode.removeWatches),
                new RemoveWatchesRequest("/w", 3));
        emit("auth_request", new RequestHeader(-4, ZooDefs.OpCode.auth),
                new AuthPacket(0, "digest", utf8("user:pw")));
        emit("set_watches_request", new RequestHeader(-8, ZooDefs.OpCode.setWatches),
                new SetWatches(0x10L, Arrays.asList("/d"), Arrays.asList("/e1", "/e2"), new ArrayList<String>()));
        emit("set_watches2_request", new RequestHeader(-8, ZooDefs.OpCode.setWatches2),
                new SetWatches2(0x10L, Arrays.asList("/d"), Arrays.asList("/e"), Arrays.asList("/c"),
                        Arrays.asList("/p"), Arrays.asList("/r")));
        emit("sasl_request", new RequestHeader(23, ZooDefs.OpCode.sasl), new GetSASLRequest(new byte[] {1, 2, 3}));
        emit("get_ephemerals_request", new RequestHeader(24, ZooDefs.OpCode.getEphemerals),
                new GetEphemeralsRequest("/"));
        emit("get_ephemerals_response", new GetEphemeralsResponse(Arrays.asList("/a", "/b/c")));
        emit("get_all_children_number_request", new RequestHeader(25, ZooDefs.OpCode.getAllChildrenNumber),
                new GetAllChildrenNumberRequest("/"));
        emit("get_all_children_number_response", new GetAllChildrenNumberResponse(42));
        emit("add_watch_request", new RequestHeader(26, ZooDefs.OpCode.addWatch), new AddWatchRequest("/w", 1));
        emit("who_am_i_request", new RequestHeader(27, ZooDefs.OpCode.whoAmI));
        emit("who_am_i_response", new WhoAmIResponse(Arrays.asList(new ClientInfo("ip", "127.0.0.1"),
                new ClientInfo("digest", "user"))));
        emit("error_response", new ErrorResponse(-101));
        emit("multi_header", new MultiHeader(-1, true, -1));

        // multi exactly as the Java client builds it.
        MultiOperationRecord multi = new MultiOperationRecord(Arrays.asList(
                Op.create("/m1", utf8("a"), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create("/m2", utf8("b"), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER),
                Op.create("/m3", utf8("c"), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 5000L),
                Op.delete("/m4", 2),
                Op.setData("/m5", utf8("d"), -1),
                Op.check("/m6", 7)));
        emit("multi_request", new RequestHeader(28, ZooDefs.OpCode.multi), multi);
        MultiOperationRecord multiRead = new MultiOperationRecord(Arrays.asList(
                Op.getChildren("/r1"), Op.getData("/r2")));
        emit("multi_read_request", new RequestHeader(29, ZooDefs.OpCode.multiRead), multiRead);

        MultiResponse mr = new MultiResponse();
        mr.add(new OpResult.CreateResult("/m1"));
        mr.add(new OpResult.CreateResult("/m2", stat()));
        mr.add(new OpResult.DeleteResult());
        mr.add(new OpResult.SetDataResult(stat()));
        mr.add(new OpResult.CheckResult());
        mr.add(new OpResult.ErrorResult(-101));
        emit("multi_response", mr);

        MultiResponse mrr = new MultiResponse();
        mrr.add(new OpResult.GetChildrenResult(Arrays.asList("a", "b")));
        mrr.add(new OpResult.GetDataResult(utf8("v"), stat()));
        mrr.add(new OpResult.ErrorResult(-101));
        emit("multi_read_response", mrr);
    }
}
