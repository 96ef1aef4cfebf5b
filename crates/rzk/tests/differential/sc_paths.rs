//! Path validation: every operation with every kind of invalid (and a few
//! unusual but valid) paths. ZooKeeper validates paths for writes
//! (BadArguments) but reads only reject some of them, so each kind is tried on
//! every opcode that takes a path.

use crate::dsl::*;
use crate::{sc, Scenario};

/// Runs every path-taking operation on `path` (a scenario path, see `Cx::p`).
fn every_op(s: &mut Cx, path: &str) {
    let a = s.client("a");
    s.create(a, path, b"", open(), P);
    s.create2(a, path, b"", open(), E);
    s.create(a, path, b"", open(), PS);
    s.create_container(a, path, b"", CONTAINER);
    s.create_ttl(a, path, b"", TTL, 1000);
    s.delete(a, path, -1);
    s.exists(a, path, false);
    s.exists(a, path, true);
    s.get(a, path, true);
    s.set(a, path, b"x", -1);
    s.children(a, path, true);
    s.children2(a, path, false);
    s.get_acl(a, path);
    s.set_acl(a, path, open(), -1);
    s.sync(a, path);
    s.check_watches(a, path, W_ANY);
    s.remove_watches(a, path, W_ANY);
    s.add_watch(a, path, AW_PERSISTENT);
    s.add_watch(a, path, AW_RECURSIVE);
    s.all_children_number(a, path);
    s.ephemerals(a, path);
    s.multi(a, vec![m_create(path, b"", P)]);
    s.multi(a, vec![m_check(path, -1)]);
    s.multi(a, vec![m_set(path, b"", -1)]);
    s.multi(a, vec![m_delete(path, -1)]);
    s.multi_read(a, vec![r_get(path), r_children(path)]);
    s.probe(a);
    s.children(a, "/", false);
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        sc("paths/relative", |s| every_op(s, "x")),
        sc("paths/relative_nested", |s| every_op(s, "x/y")),
        sc("paths/empty", |s| every_op(s, "")),
        sc("paths/trailing_slash", |s| {
            let a = s.client("setup");
            s.mk(a, "/x", b"");
            every_op(s, "/x/")
        }),
        sc("paths/double_slash", |s| every_op(s, "//x")),
        sc("paths/double_slash_at_root", |s| every_op(s, "=//")),
        sc("paths/dot_segment", |s| every_op(s, "/./x")),
        sc("paths/dotdot_segment", |s| every_op(s, "/../x")),
        sc("paths/trailing_dot", |s| every_op(s, "/.")),
        sc("paths/trailing_dotdot", |s| every_op(s, "/..")),
        sc("paths/nul_char", |s| every_op(s, "/a\u{0}b")),
        sc("paths/control_char", |s| every_op(s, "/a\u{1}b")),
        sc("paths/control_chars_range", |s| {
            let a = s.client("a");
            for (i, ch) in [
                '\u{1f}',
                '\u{7f}',
                '\u{80}',
                '\u{9f}',
                '\u{a0}',
                '\u{d7ff}',
                '\u{e000}',
                '\u{f8ff}',
                '\u{f900}',
                '\u{ffef}',
                '\u{fff0}',
                '\u{ffff}',
                '\u{10000}',
            ]
            .iter()
            .enumerate()
            {
                let p = format!("/c{i}{ch}");
                s.create(a, &p, b"", open(), P);
                s.exists(a, &p, false);
            }
            s.children(a, "/", false);
        }),
        sc("paths/private_use_char", |s| every_op(s, "/a\u{e000}")),
        sc("paths/noncharacter", |s| every_op(s, "/a\u{fffe}")),
        sc("paths/valid_unusual_names", |s| {
            let a = s.client("a");
            for p in [
                "/.x",
                "/x.",
                "/...",
                "/a.b",
                "/a b",
                "/ü",
                "/日本",
                "/a:b",
                "/-",
                "/zookeeper",
                "/😀",
            ] {
                s.create2(a, p, b"", open(), P);
                s.exists(a, p, false);
            }
            s.children(a, "/", false);
            s.all_children_number(a, "/");
        }),
        sc("paths/long_path", |s| {
            let a = s.client("a");
            let long = format!("/{}", "n".repeat(4000));
            s.create(a, &long, b"", open(), P);
            s.exists(a, &long, false);
            let deep: String = (0..100).map(|i| format!("/{i}")).collect();
            s.create(a, &deep, b"", open(), P);
            let mut p = String::new();
            for i in 0..20 {
                p.push_str(&format!("/l{i}"));
                s.mk(a, &p, b"");
            }
            s.all_children_number(a, "/");
        }),
    ]
}
