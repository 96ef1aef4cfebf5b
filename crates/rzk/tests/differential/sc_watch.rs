//! Watches: one-shot data/exist/child watches, event types per change,
//! dedup, persistent and persistent-recursive watches, removeWatches,
//! checkWatches, setWatches/setWatches2 with relativeZxid.

use crate::dsl::*;
use crate::{sc, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        // ---- one-shot data watches ----
        sc("watch/data_changed_fires_once", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"0");
            s.get(b, "/x", true);
            s.set(a, "/x", b"1", -1);
            s.set(a, "/x", b"2", -1);
            s.get(b, "/x", true);
            s.set(a, "/x", b"3", -1);
        }),
        sc("watch/data_watch_on_delete", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.delete(a, "/x", -1);
            s.mk(a, "/x", b"");
        }),
        sc("watch/own_change_event_before_reply", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.get(a, "/x", true);
            s.set(a, "/x", b"mine", -1);
            s.exists(a, "/x", true);
            s.delete(a, "/x", -1);
        }),
        sc("watch/exists_on_existing", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.exists(b, "/x", true);
            s.set(a, "/x", b"1", -1);
            s.exists(b, "/x", true);
            s.delete(a, "/x", -1);
        }),
        sc("watch/exists_on_missing_then_create", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.exists(b, "/x", true);
            s.mk(a, "/x", b"");
            s.set(a, "/x", b"", -1);
        }),
        sc("watch/exists_on_missing_sequential_and_ephemeral", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.exists(b, "/s-0000000000", true);
            s.exists(b, "/e", true);
            s.create(a, "/s-", b"", open(), PS);
            s.create(a, "/e", b"", open(), E);
            s.close(a);
        }),
        sc("watch/getdata_on_missing_sets_no_watch", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.get(b, "/x", true);
            s.children(b, "/x", true);
            s.check_watches(b, "/x", W_DATA);
            s.check_watches(b, "/x", W_CHILDREN);
            s.mk(a, "/x", b"");
        }),
        sc("watch/exists_watch_on_missing_is_data_watch", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.exists(b, "/x", true);
            s.check_watches(b, "/x", W_DATA);
            s.check_watches(b, "/x", W_CHILDREN);
            s.check_watches(b, "/x", W_ANY);
            s.mk(a, "/x", b"");
            s.check_watches(b, "/x", W_DATA);
        }),
        // ---- child watches ----
        sc("watch/child_create_delete", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.children(b, "/p", true);
            s.mk(a, "/p/c1", b"");
            s.mk(a, "/p/c2", b"");
            s.children2(b, "/p", true);
            s.delete(a, "/p/c1", -1);
        }),
        sc("watch/child_watch_ignores_data_changes", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.mk(a, "/p/c", b"");
            s.children(b, "/p", true);
            s.set(a, "/p/c", b"x", -1);
            s.set(a, "/p", b"y", -1);
            s.mk(a, "/p/c/grandchild", b"");
            s.mk(a, "/p/d", b"");
        }),
        sc("watch/child_watch_on_delete_of_parent", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.children(b, "/p", true);
            s.delete(a, "/p", -1);
        }),
        sc("watch/create_child_event_order", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.children(b, "/p", true);
            s.exists(b, "/p/c", true);
            s.get(b, "/p", true);
            s.mk(a, "/p/c", b"");
            s.children(b, "/p", true);
            s.get(b, "/p/c", true);
            s.delete(a, "/p/c", -1);
        }),
        sc("watch/ephemeral_child_of_watched_parent", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/p", b"");
            s.create(a, "/p/e", b"", open(), E);
            s.children(b, "/p", true);
            s.exists(b, "/p/e", true);
            s.close(a);
        }),
        // ---- dedup ----
        sc("watch/data_and_exists_dedup", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.exists(b, "/x", true);
            s.set(a, "/x", b"1", -1);
            s.set(a, "/x", b"2", -1);
        }),
        sc("watch/data_and_child_on_delete_dedup", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.children(b, "/x", true);
            s.delete(a, "/x", -1);
        }),
        sc("watch/same_watch_twice", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.get(b, "/x", true);
            s.children(b, "/x", true);
            s.children(b, "/x", true);
            s.set(a, "/x", b"1", -1);
            s.mk(a, "/x/c", b"");
        }),
        sc("watch/two_clients_same_node", |s| {
            let a = s.client("a");
            let b = s.client("b");
            let c = s.client("c");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.exists(c, "/x", true);
            s.get(a, "/x", true);
            s.set(a, "/x", b"1", -1);
        }),
        sc("watch/setacl_fires_nothing", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.children(b, "/x", true);
            s.set_acl(a, "/x", world(31), -1);
            s.check_watches(b, "/x", W_DATA);
        }),
        sc("watch/failed_write_fires_nothing", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.set(a, "/x", b"", 42);
            s.delete(a, "/x", 42);
            s.multi(a, vec![m_set("/x", b"m", -1), m_check("/x", 42)]);
            s.check_watches(b, "/x", W_DATA);
        }),
        sc("watch/sequential_create_events", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.children(b, "/", true);
            s.create(a, "/q-", b"", open(), PS);
            s.children(b, "/", true);
            s.create(a, "/q-", b"", open(), ES);
        }),
        // ---- multi and watches ----
        sc("watch/multi_events", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.mk(a, "/y", b"");
            s.get(b, "/x", true);
            s.exists(b, "/y", true);
            s.exists(b, "/z", true);
            s.children(b, "/", true);
            s.multi(
                a,
                vec![
                    m_set("/x", b"1", -1),
                    m_delete("/y", -1),
                    m_create("/z", b"", P),
                ],
            );
        }),
        sc("watch/multi_create_then_delete_same_node", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.exists(b, "/t", true);
            s.children(b, "/", true);
            s.multi(a, vec![m_create("/t", b"", P), m_delete("/t", -1)]);
            s.exists(b, "/t", false);
        }),
        // ---- persistent watches ----
        sc("watch/persistent_on_node", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_PERSISTENT);
            s.set(a, "/x", b"1", -1);
            s.set(a, "/x", b"2", -1);
            s.mk(a, "/x/c", b"");
            s.set(a, "/x/c", b"", -1);
            s.mk(a, "/x/c/g", b"");
            s.delete(a, "/x/c/g", -1);
            s.delete(a, "/x/c", -1);
            s.delete(a, "/x", -1);
            s.mk(a, "/x", b"again");
            s.check_watches(b, "/x", W_PERSISTENT);
        }),
        sc("watch/persistent_recursive", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/r", b"");
            s.add_watch(b, "/r", AW_RECURSIVE);
            s.mk(a, "/r/c", b"");
            s.mk(a, "/r/c/g", b"");
            s.set(a, "/r/c/g", b"1", -1);
            s.set(a, "/r", b"1", -1);
            s.create(a, "/r/s-", b"", open(), PS);
            s.delete(a, "/r/c/g", -1);
            s.delete(a, "/r/c", -1);
            s.mk(a, "/rr", b"");
            s.check_watches(b, "/r", W_RECURSIVE);
            s.check_watches(b, "/r/c", W_RECURSIVE);
        }),
        sc("watch/persistent_on_missing_path", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.add_watch(b, "/later", AW_PERSISTENT);
            s.add_watch(b, "/later2", AW_RECURSIVE);
            s.mk(a, "/later", b"");
            s.mk(a, "/later2", b"");
            s.mk(a, "/later2/x", b"");
        }),
        sc("watch/persistent_plus_standard_same_node", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_PERSISTENT);
            s.get(b, "/x", true);
            s.children(b, "/x", true);
            s.set(a, "/x", b"1", -1);
            s.mk(a, "/x/c", b"");
            s.set(a, "/x", b"2", -1);
        }),
        sc("watch/recursive_plus_standard_child_watch", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_RECURSIVE);
            s.children(b, "/x", true);
            s.mk(a, "/x/c", b"");
            s.mk(a, "/x/d", b"");
        }),
        sc("watch/recursive_and_persistent_nested", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.mk(a, "/x/y", b"");
            s.add_watch(b, "/x", AW_RECURSIVE);
            s.add_watch(b, "/x/y", AW_PERSISTENT);
            s.set(a, "/x/y", b"1", -1);
            s.mk(a, "/x/y/z", b"");
        }),
        sc("watch/addwatch_bad_mode", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.add_watch(a, "/x", 2);
            s.add_watch(a, "/x", -1);
            s.probe(a);
        }),
        sc("watch/addwatch_twice_and_mode_switch", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_PERSISTENT);
            s.add_watch(b, "/x", AW_PERSISTENT);
            s.add_watch(b, "/x", AW_RECURSIVE);
            s.mk(a, "/x/c", b"");
            s.check_watches(b, "/x", W_PERSISTENT);
            s.check_watches(b, "/x", W_RECURSIVE);
        }),
        sc("watch/persistent_watch_on_root_of_tree", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.add_watch(b, "/", AW_RECURSIVE);
            s.mk(a, "/a", b"");
            s.create(a, "/a/e", b"", open(), E);
            s.close(a);
        }),
        // ---- removeWatches / checkWatches ----
        sc("removewatches/data", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.check_watches(b, "/x", W_DATA);
            s.remove_watches(b, "/x", W_DATA);
            s.check_watches(b, "/x", W_DATA);
            s.remove_watches(b, "/x", W_DATA);
            s.set(a, "/x", b"1", -1);
        }),
        sc("removewatches/children", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.children(b, "/x", true);
            s.remove_watches(b, "/x", W_DATA);
            s.remove_watches(b, "/x", W_CHILDREN);
            s.remove_watches(b, "/x", W_CHILDREN);
            s.mk(a, "/x/c", b"");
        }),
        sc("removewatches/any_removes_both", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.children(b, "/x", true);
            s.remove_watches(b, "/x", W_ANY);
            s.check_watches(b, "/x", W_ANY);
            s.remove_watches(b, "/x", W_ANY);
            s.set(a, "/x", b"1", -1);
            s.mk(a, "/x/c", b"");
        }),
        sc("removewatches/exist_watch_on_missing", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.exists(b, "/x", true);
            s.remove_watches(b, "/x", W_CHILDREN);
            s.remove_watches(b, "/x", W_DATA);
            s.mk(a, "/x", b"");
        }),
        sc("removewatches/persistent", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_PERSISTENT);
            s.remove_watches(b, "/x", W_RECURSIVE);
            s.remove_watches(b, "/x", W_DATA);
            s.remove_watches(b, "/x", W_PERSISTENT);
            s.remove_watches(b, "/x", W_PERSISTENT);
            s.set(a, "/x", b"1", -1);
        }),
        sc("removewatches/persistent_recursive", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_RECURSIVE);
            s.remove_watches(b, "/x", W_PERSISTENT);
            s.remove_watches(b, "/x", W_RECURSIVE);
            s.mk(a, "/x/c", b"");
        }),
        sc("removewatches/any_with_persistent", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.add_watch(b, "/x", AW_PERSISTENT);
            s.get(b, "/x", true);
            s.remove_watches(b, "/x", W_ANY);
            s.check_watches(b, "/x", W_PERSISTENT);
            s.set(a, "/x", b"1", -1);
        }),
        sc("removewatches/other_sessions_watch", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.remove_watches(a, "/x", W_DATA);
            s.check_watches(a, "/x", W_DATA);
            s.set(a, "/x", b"1", -1);
        }),
        sc("removewatches/bad_type_and_missing_node", |s| {
            let a = s.client("a");
            s.remove_watches(a, "/nope", W_DATA);
            s.check_watches(a, "/nope", W_ANY);
            s.mk(a, "/x", b"");
            s.get(a, "/x", true);
            s.remove_watches(a, "/x", 0);
            s.remove_watches(a, "/x", 9);
            s.check_watches(a, "/x", 9);
            s.probe(a);
        }),
        // ---- setWatches ----
        sc("setwatches/fires_for_changes_after_relzxid", |s| {
            let a = s.client("a");
            s.mk(a, "/d", b"");
            s.mk(a, "/c", b"");
            s.mk(a, "/gone", b"");
            s.mk(a, "/stay", b"");
            let rel = s.last_zxid(a);
            s.set(a, "/d", b"changed", -1);
            s.mk(a, "/c/kid", b"");
            s.delete(a, "/gone", -1);
            s.mk(a, "/born", b"");
            let b = s.client("b");
            s.set_watches(
                b,
                rel,
                &["/d", "/stay", "/gone"],
                &["/born", "/never"],
                &["/c", "/stay", "/gone"],
            );
            s.set(a, "/stay", b"later", -1);
            s.mk(a, "/never", b"");
            s.mk(a, "/stay/kid", b"");
        }),
        sc("setwatches/nothing_changed", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            let rel = s.last_zxid(a);
            let b = s.client("b");
            s.set_watches(b, rel, &["/x"], &["/y"], &["/x"]);
            s.check_watches(b, "/x", W_DATA);
            s.check_watches(b, "/x", W_CHILDREN);
            s.check_watches(b, "/y", W_DATA);
            s.set(a, "/x", b"1", -1);
            s.mk(a, "/y", b"");
            s.mk(a, "/x/c", b"");
        }),
        sc("setwatches/exist_watch_on_existing_node", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            let rel = s.last_zxid(a);
            let b = s.client("b");
            s.set_watches(b, rel, &[], &["/x"], &[]);
            s.set(a, "/x", b"1", -1);
        }),
        sc("setwatches/relzxid_zero", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.mk(a, "/x/c", b"");
            let b = s.client("b");
            s.set_watches(
                b,
                0,
                &["/x", "/missing"],
                &["/x", "/missing2"],
                &["/x", "/missing3"],
            );
        }),
        sc("setwatches/on_resumed_session", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            let rel = s.last_zxid(b);
            s.drop_connection(b);
            s.set(a, "/x", b"while away", -1);
            let b2 = s.reconnect("b2", b);
            s.set_watches(b2, rel, &["/x"], &[], &[]);
            s.set(a, "/x", b"again", -1);
        }),
        sc("setwatches2/persistent_lists", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.mk(a, "/r", b"");
            let rel = s.last_zxid(a);
            s.set(a, "/p", b"before", -1);
            let b = s.client("b");
            s.set_watches2(b, rel, &[], &[], &[], &["/p"], &["/r"]);
            s.set(a, "/p", b"after", -1);
            s.set(a, "/p", b"after2", -1);
            s.mk(a, "/r/c", b"");
            s.mk(a, "/r/c/d", b"");
            s.check_watches(b, "/p", W_PERSISTENT);
            s.check_watches(b, "/r", W_RECURSIVE);
        }),
        sc("setwatches2/standard_lists", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            let rel = s.last_zxid(a);
            s.set(a, "/x", b"1", -1);
            let b = s.client("b");
            s.set_watches2(b, rel, &["/x"], &["/y"], &["/x"], &[], &[]);
            s.mk(a, "/y", b"");
            s.mk(a, "/x/c", b"");
        }),
        sc("setwatches/empty", |s| {
            let a = s.client("a");
            s.set_watches(a, 0, &[], &[], &[]);
            s.set_watches2(a, 0, &[], &[], &[], &[], &[]);
            s.probe(a);
        }),
        sc("setwatches/future_relzxid", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            let b = s.client("b");
            s.set_watches(b, i64::MAX / 2, &["/x"], &["/x"], &["/x"]);
            s.set(a, "/x", b"1", -1);
        }),
        // ---- notification details ----
        sc("watch/notification_zxid_and_state", |s| {
            let a = s.client("a");
            let b = s.client("b");
            s.mk(a, "/x", b"");
            s.get(b, "/x", true);
            s.add_watch(b, "/", AW_PERSISTENT);
            s.set(a, "/x", b"z", -1);
            s.mk(a, "/y", b"");
        }),
        sc("watch/many_watchers_many_nodes", |s| {
            let a = s.client("a");
            let b = s.client("b");
            let c = s.client("c");
            for n in ["/n1", "/n2", "/n3"] {
                s.mk(a, n, b"");
                s.get(b, n, true);
                s.exists(c, n, true);
            }
            s.children(b, "/", true);
            s.children(c, "/", true);
            s.multi(
                a,
                vec![
                    m_delete("/n1", -1),
                    m_set("/n2", b"x", -1),
                    m_delete("/n3", -1),
                ],
            );
        }),
    ]
}
