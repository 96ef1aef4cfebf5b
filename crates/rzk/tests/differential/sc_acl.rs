//! ACLs and authentication: every scheme, InvalidACL, NoAuth for each
//! permission, getACL redaction, setACL versions, the super user, AuthFailed.

use crate::dsl::*;
use crate::{sc, Scenario};
use rzk_proto::Perms;

const R: i32 = Perms::READ;
const W: i32 = Perms::WRITE;
const CR: i32 = Perms::CREATE;
const D: i32 = Perms::DELETE;
const A: i32 = Perms::ADMIN;
const ALL: i32 = Perms::ALL;

/// Every operation a client might try on a protected node `/n` (with child `/n/c`).
fn try_everything(s: &mut Cx, c: C) {
    s.get(c, "/n", false);
    s.exists(c, "/n", true);
    s.children(c, "/n", false);
    s.children2(c, "/n", false);
    s.all_children_number(c, "/n");
    s.get_acl(c, "/n");
    s.set(c, "/n", b"w", -1);
    s.create(c, "/n/new", b"", open(), P);
    s.delete(c, "/n/c", -1);
    s.set_acl(c, "/n", open(), -1);
    s.sync(c, "/n");
    s.add_watch(c, "/n", AW_PERSISTENT);
    s.multi(c, vec![m_check("/n", -1)]);
    s.multi(c, vec![m_set("/n", b"m", -1)]);
    s.multi_read(c, vec![r_get("/n"), r_children("/n")]);
}

fn protected(s: &mut Cx, perms: i32) -> C {
    let owner = s.client("owner");
    s.mk(owner, "/n", b"secret");
    s.mk(owner, "/n/c", b"");
    s.set_acl(owner, "/n", world(perms), -1);
    owner
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        sc("acl/default_open_and_system_nodes", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.get_acl(a, "/x");
            s.get_acl(a, "=/");
            s.get_acl(a, "=/zookeeper");
            s.get_acl(a, "=/zookeeper/config");
            s.get_acl(a, "=/zookeeper/quota");
            s.get_acl(a, "/nope");
        }),
        sc("acl/setacl_versions", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.set_acl(a, "/x", world(ALL), 3);
            s.set_acl(a, "/x", world(ALL), 0);
            s.set_acl(a, "/x", world(ALL), 0);
            s.set_acl(a, "/x", world(ALL), 1);
            s.set_acl(a, "/x", world(ALL), -1);
            s.get_acl(a, "/x");
            s.set_acl(a, "/x", world(R | W), 3);
            s.set_acl(a, "/x", world(ALL), 0);
            s.set_acl(a, "/x", world(ALL), 1);
            s.set_acl(a, "/x", world(ALL), -1);
            s.set_acl(a, "/x", world(ALL), 5);
            s.get_acl(a, "/x");
            s.set_acl(a, "/nope", world(ALL), -1);
            s.exists(a, "/x", false);
        }),
        sc("acl/setacl_does_not_touch_data_version", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"d");
            s.get(a, "/x", true);
            s.set_acl(a, "/x", world(ALL), -1);
            s.get(a, "/x", false);
            s.set(a, "/x", b"e", 0);
        }),
        sc("acl/invalid_acls_on_create", |s| {
            let a = s.client("a");
            s.create(a, "/empty", b"", vec![], P);
            s.create(a, "/scheme", b"", vec![acl(ALL, "foo", "bar")], P);
            s.create(
                a,
                "/digest_nocolon",
                b"",
                vec![acl(ALL, "digest", "justuser")],
                P,
            );
            s.create(a, "/digest_empty", b"", vec![acl(ALL, "digest", "")], P);
            s.create(a, "/auth_noauth", b"", vec![acl(ALL, "auth", "")], P);
            s.create(a, "/ip_bad", b"", vec![acl(ALL, "ip", "300.1.1.1")], P);
            s.create(a, "/ip_mask", b"", vec![acl(ALL, "ip", "1.2.3.4/33")], P);
            s.create(a, "/ip_text", b"", vec![acl(ALL, "ip", "abc")], P);
            s.create(a, "/world_bob", b"", vec![acl(ALL, "world", "bob")], P);
            s.create(a, "/x509", b"", vec![acl(ALL, "x509", "CN=x")], P);
            s.create(a, "/sasl", b"", vec![acl(ALL, "sasl", "bob")], P);
            s.create(a, "/super", b"", vec![acl(ALL, "super", "")], P);
            s.create(
                a,
                "/mixed",
                b"",
                vec![acl(ALL, "world", "anyone"), acl(ALL, "foo", "bar")],
                P,
            );
            s.children(a, "/", false);
        }),
        sc("acl/valid_unusual_acls", |s| {
            let a = s.client("a");
            s.create(a, "/perm0", b"", world(0), P);
            s.create(a, "/perm32", b"", world(32), P);
            s.create(a, "/permneg", b"", world(-1), P);
            s.create(a, "/ip_cidr", b"", vec![acl(ALL, "ip", "10.0.0.0/8")], P);
            s.create(a, "/ip6", b"", vec![acl(ALL, "ip", "::1")], P);
            s.create(
                a,
                "/dup",
                b"",
                vec![acl(R, "world", "anyone"), acl(R, "world", "anyone")],
                P,
            );
            s.create(
                a,
                "/digest_any",
                b"",
                vec![acl(ALL, "digest", "u:notreallyahash")],
                P,
            );
            s.get_acl(a, "/perm0");
            s.get_acl(a, "/perm32");
            s.get_acl(a, "/permneg");
            s.get_acl(a, "/ip6");
            s.get_acl(a, "/dup");
            s.get(a, "/perm0", false);
            s.get(a, "/perm32", false);
            s.get(a, "/ip_cidr", false);
        }),
        sc("acl/invalid_acls_on_setacl", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.set_acl(a, "/x", vec![], -1);
            s.set_acl(a, "/x", vec![acl(ALL, "foo", "bar")], -1);
            s.set_acl(a, "/x", vec![acl(ALL, "auth", "")], -1);
            s.set_acl(a, "/x", vec![acl(ALL, "ip", "999.0.0.1")], -1);
            s.set_acl(a, "/x", vec![acl(ALL, "digest", "nocolon")], -1);
            s.get_acl(a, "/x");
        }),
        sc("acl/world_read_only", |s| {
            protected(s, R);
            let b = s.client("b");
            try_everything(s, b);
        }),
        sc("acl/world_write_only", |s| {
            protected(s, W);
            let b = s.client("b");
            try_everything(s, b);
        }),
        sc("acl/world_create_only", |s| {
            protected(s, CR);
            let b = s.client("b");
            try_everything(s, b);
        }),
        sc("acl/world_delete_only", |s| {
            protected(s, D);
            let b = s.client("b");
            try_everything(s, b);
        }),
        sc("acl/world_admin_only", |s| {
            protected(s, A);
            let b = s.client("b");
            try_everything(s, b);
        }),
        sc("acl/world_none", |s| {
            protected(s, 0);
            let b = s.client("b");
            try_everything(s, b);
            s.delete(b, "/n", -1);
        }),
        sc("acl/delete_needs_parent_delete_only", |s| {
            let a = s.client("a");
            s.mk(a, "/p", b"");
            s.create(a, "/p/locked", b"", world(0), P);
            s.delete(a, "/p/locked", -1);
            s.mk(a, "/q", b"");
            s.mk(a, "/q/c", b"");
            s.set_acl(a, "/q", world(ALL & !D), -1);
            s.delete(a, "/q/c", -1);
            s.create(a, "/q/d", b"", open(), P);
        }),
        sc("acl/digest_scheme", |s| {
            let a = s.client("a");
            s.auth_digest(a, "alice", "pw");
            s.create(a, "/n", b"alice's", vec![digest(ALL, "alice", "pw")], P);
            s.get(a, "/n", false);
            let b = s.client("b");
            s.get(b, "/n", false);
            s.get_acl(b, "/n");
            s.auth_digest(b, "alice", "wrong");
            s.get(b, "/n", false);
            s.auth_digest(b, "alice", "pw");
            s.get(b, "/n", false);
            s.whoami(b);
        }),
        sc("acl/auth_scheme_expands_to_identities", |s| {
            s.sort_acls = true;
            let a = s.client("a");
            s.auth_digest(a, "u1", "p1");
            s.auth_digest(a, "u2", "p2");
            s.create(a, "/n", b"", vec![acl(ALL, "auth", "")], P);
            s.get_acl(a, "/n");
            s.create(a, "/m", b"", vec![acl(R, "auth", "ignored-id")], P);
            s.get_acl(a, "/m");
            s.set_acl(a, "/n", vec![acl(R | A, "auth", "")], -1);
            s.get_acl(a, "/n");
            s.whoami(a);
        }),
        sc("acl/auth_scheme_with_only_ip_identity", |s| {
            let a = s.client("a");
            s.create(a, "/n", b"", vec![acl(ALL, "auth", "")], P);
            s.auth(a, "ip", b"");
            s.create(a, "/n", b"", vec![acl(ALL, "auth", "")], P);
            s.get_acl(a, "/n");
            s.whoami(a);
        }),
        sc("acl/getacl_redaction", |s| {
            let a = s.client("a");
            s.auth_digest(a, "alice", "pw");
            s.create(
                a,
                "/ro",
                b"",
                vec![digest(ALL, "alice", "pw"), acl(R, "world", "anyone")],
                P,
            );
            s.create(
                a,
                "/ra",
                b"",
                vec![digest(ALL, "alice", "pw"), acl(R | A, "world", "anyone")],
                P,
            );
            s.create(a, "/none", b"", vec![digest(ALL, "alice", "pw")], P);
            s.create(
                a,
                "/wo",
                b"",
                vec![digest(ALL, "alice", "pw"), acl(W, "world", "anyone")],
                P,
            );
            let b = s.client("b");
            s.get_acl(b, "/ro");
            s.get_acl(b, "/ra");
            s.get_acl(b, "/none");
            s.get_acl(b, "/wo");
            s.get_acl(a, "/ro");
        }),
        sc("acl/ip_scheme", |s| {
            let a = s.client("a");
            s.create(a, "/local", b"", vec![acl(ALL, "ip", "127.0.0.1")], P);
            s.create(a, "/local8", b"", vec![acl(ALL, "ip", "127.0.0.0/8")], P);
            s.create(a, "/other", b"", vec![acl(ALL, "ip", "10.1.2.3")], P);
            s.create(
                a,
                "/other16",
                b"",
                vec![acl(ALL, "ip", "192.168.0.0/16")],
                P,
            );
            s.create(a, "/zero", b"", vec![acl(ALL, "ip", "0.0.0.0/0")], P);
            let b = s.client("b");
            for p in ["/local", "/local8", "/other", "/other16", "/zero"] {
                s.get(b, p, false);
                s.set(b, p, b"w", -1);
            }
            s.whoami(b);
        }),
        sc("acl/super_user", |s| {
            protected(s, 0);
            let a = s.client("a");
            s.create(a, "/secret", b"", vec![digest(ALL, "alice", "pw")], P);
            s.get(a, "/n", false);
            s.auth_super(a);
            s.whoami(a);
            s.get(a, "/n", false);
            s.get(a, "/secret", false);
            s.get_acl(a, "/secret");
            s.set(a, "/secret", b"su", -1);
            s.create(a, "/n/bysuper", b"", open(), P);
            s.delete(a, "/n/c", -1);
            s.set_acl(a, "/n", open(), -1);
            s.get_acl(a, "/n");
        }),
        sc("acl/super_wrong_password", |s| {
            protected(s, 0);
            let a = s.client("a");
            s.auth_digest(a, "super", "not-the-password");
            s.get(a, "/n", false);
            s.whoami(a);
        }),
        sc("acl/multiple_entries_union", |s| {
            let a = s.client("a");
            s.auth_digest(a, "alice", "pw");
            s.create(
                a,
                "/n",
                b"",
                vec![acl(R, "world", "anyone"), digest(W, "alice", "pw")],
                P,
            );
            s.set(a, "/n", b"alice writes", -1);
            s.get(a, "/n", false);
            let b = s.client("b");
            s.get(b, "/n", false);
            s.set(b, "/n", b"b writes", -1);
        }),
        sc("acl/create_under_protected_parent", |s| {
            let a = s.client("a");
            s.create(a, "/p", b"", world(R), P);
            s.create(a, "/p/c", b"", open(), P);
            s.create(a, "/p/e", b"", open(), E);
            s.create(a, "/p/s-", b"", open(), PS);
            s.create_container(a, "/p/k", b"", CONTAINER);
            s.create_ttl(a, "/p/t", b"", TTL, 1000);
            s.multi(a, vec![m_create("/p/m", b"", P)]);
            s.exists(a, "/p", false);
        }),
        sc("acl/ephemeral_with_restricted_acl", |s| {
            let a = s.client("a");
            s.create(a, "/e", b"", world(0), E);
            s.get(a, "/e", false);
            s.close(a);
            let b = s.client("b");
            s.exists(b, "/e", false);
        }),
        sc("auth/unknown_scheme_closes", |s| {
            let a = s.client("a");
            s.mk(a, "/x", b"");
            s.auth(a, "foo", b"bar");
            s.probe(a);
            let b = s.client("b");
            s.exists(b, "/x", false);
        }),
        sc("auth/world_scheme", |s| {
            let a = s.client("a");
            s.auth(a, "world", b"anyone");
            s.probe(a);
        }),
        sc("auth/sasl_scheme_via_auth_packet", |s| {
            let a = s.client("a");
            s.auth(a, "sasl", b"user");
            s.probe(a);
        }),
        sc("auth/ip_scheme", |s| {
            let a = s.client("a");
            s.auth(a, "ip", b"10.0.0.1");
            s.whoami(a);
            s.probe(a);
        }),
        sc("auth/digest_malformed", |s| {
            let a = s.client("a");
            s.auth(a, "digest", b"no-colon");
            s.whoami(a);
            s.auth(a, "digest", b"");
            s.whoami(a);
            s.auth(a, "digest", b":");
            s.whoami(a);
            s.auth(a, "digest", b"u:p:extra");
            s.whoami(a);
        }),
        sc("auth/repeat_same_identity", |s| {
            let a = s.client("a");
            s.auth_digest(a, "bob", "pw");
            s.auth_digest(a, "bob", "pw");
            s.auth_digest(a, "bob", "other");
            s.whoami(a);
        }),
        sc("whoami/fresh_session", |s| {
            let a = s.client("a");
            s.whoami(a);
            s.auth_super(a);
            s.whoami(a);
        }),
        sc("acl/nonexistent_node_errors_win", |s| {
            protected(s, 0);
            let b = s.client("b");
            s.get(b, "/n/missing", false);
            s.set(b, "/n/missing", b"", -1);
            s.delete(b, "/n/missing", -1);
            s.create(b, "/n/c", b"", open(), P);
            s.get_acl(b, "/n/missing");
            s.set_acl(b, "/n/missing", open(), -1);
        }),
        sc("acl/setacl_badversion_vs_noauth", |s| {
            protected(s, R);
            let b = s.client("b");
            s.set_acl(b, "/n", open(), 99);
            s.set(b, "/n", b"", 99);
            s.delete(b, "/n/c", 99);
        }),
    ]
}
