//! Path syntax: ZooKeeper's `PathUtils.validatePath` and the small string helpers
//! the write paths use to split a path into parent and child name.
//!
//! ZooKeeper works on Java strings (UTF-16 code units). Every rule here is stated
//! on Unicode scalar values, with the UTF-16 consequences spelled out: a character
//! outside the Basic Multilingual Plane is a surrogate pair in Java, and surrogates
//! are forbidden, so such characters are forbidden here too.

use rzk_proto::ErrorCode;

/// `/zookeeper`: ZooKeeper's own subtree.
pub const PROC_ZOOKEEPER: &str = "/zookeeper";
/// `/zookeeper/quota`: quota definitions live below it.
pub const QUOTA_ZOOKEEPER: &str = "/zookeeper/quota";
/// `/zookeeper/config`: the dynamic configuration node.
pub const CONFIG_ZOOKEEPER: &str = "/zookeeper/config";

/// ZooKeeper's `PathUtils.validatePath`: absolute, no trailing slash (except
/// `/`), no empty, `.` or `..` segments, no forbidden characters. For sequential
/// creates pass `sequential = true` (the trailing slash check is relaxed as in
/// ZooKeeper, since a suffix will be appended).
pub fn validate_path(path: &str, sequential: bool) -> Result<(), ErrorCode> {
    // It runs for every write (at apply), so without allocating, and in
    // passes a compiler can keep tight: the character check has no early
    // exit (it vectorizes), and the segment check looks only at where the
    // slashes are. `/` never occurs inside a multi-byte
    // UTF-8 sequence, so the segments found byte by byte are the
    // characters' segments. Every failure is the same BadArguments, so the
    // order of the checks does not show.
    let bad = Err(ErrorCode::BadArguments);
    let Some(rest) = path.strip_prefix('/') else {
        return bad;
    };
    if rest.is_empty() {
        return Ok(());
    }
    // In ASCII only the control characters are forbidden; anything else
    // is checked character by character.
    let forbidden = if rest.is_ascii() {
        rest.bytes()
            .fold(false, |any, b| any | (b < 0x20) | (b == 0x7f))
    } else {
        rest.chars().any(|c| c == '\0' || is_forbidden_char(c))
    };
    if forbidden {
        return bad;
    }
    let bytes = rest.as_bytes();
    let mut segment_start = 0;
    while let Some(offset) = bytes[segment_start..].iter().position(|&b| b == b'/') {
        if is_dot_or_empty(&bytes[segment_start..segment_start + offset]) {
            return bad;
        }
        segment_start += offset + 1;
    }
    // ZooKeeper validates a sequential path with a suffix appended
    // (`path + "1"`), which makes its last segment whole whatever it was:
    // `/a/`, `/a/.` and `/a/..` are fine there.
    if !sequential && is_dot_or_empty(&bytes[segment_start..]) {
        return bad;
    }
    Ok(())
}

/// An empty, `.` or `..` segment.
fn is_dot_or_empty(segment: &[u8]) -> bool {
    matches!(segment, b"" | b"." | b"..")
}

/// `\u0001-\u001F`, `\u007F-\u009F`, `\uD800-\uF8FF` (surrogates, hence every
/// non-BMP character, and the private use area), `\uFFF0-\uFFFF`.
fn is_forbidden_char(c: char) -> bool {
    let u = c as u32;
    (0x01..=0x1f).contains(&u)
        || (0x7f..=0x9f).contains(&u)
        || (0xd800..=0xf8ff).contains(&u)
        || (0xfff0..=0xffff).contains(&u)
        || u > 0xffff
}

/// Splits at the last `/` as ZooKeeper does (`path.substring(0, lastSlash)`):
/// the parent of `/a` is `""`, which ZooKeeper aliases to the root. `None` when
/// there is no slash at all.
pub fn split_last(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    Some((&path[..i], &path[i + 1..]))
}

/// The path watches and replies use for a parent: `""` is shown as `/`.
pub fn display_parent(parent: &str) -> &str {
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

/// `DataTree.isSpecialPath`: nodes ZooKeeper owns and never lets a client delete.
pub fn is_special(path: &str) -> bool {
    matches!(
        path,
        "/" | PROC_ZOOKEEPER | QUOTA_ZOOKEEPER | CONFIG_ZOOKEEPER
    )
}

/// Java's `String.length()` (UTF-16 code units), for the sizes ZooKeeper reports.
pub fn java_len(s: &str) -> u64 {
    s.chars().map(|c| c.len_utf16() as u64).sum()
}

/// Java's `s.substring(from)` with `from` in UTF-16 code units; `None` where Java
/// would throw.
pub fn java_substring_from(s: &str, from: usize) -> Option<&str> {
    let mut units = 0usize;
    for (byte_index, c) in s.char_indices() {
        if units == from {
            return Some(&s[byte_index..]);
        }
        if units > from {
            return None; // would split a surrogate pair
        }
        units += c.len_utf16();
    }
    (units == from).then_some("")
}

/// Java's `String.trim()`: strips every char `<= ' '` from both ends.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> bool {
        validate_path(p, false).is_ok()
    }

    #[test]
    fn validate_path_matches_path_utils() {
        for good in [
            "/",
            "/a",
            "/a/b",
            "/a.",
            "/.a",
            "/a..",
            "/...",
            "/a/.b/c",
            "/ ",
            "/a b",
            "/é",
            "/\u{a0}",
            "/\u{ffef}",
            "/\u{d7ff}",
            "/\u{f900}",
            "/zookeeper",
        ] {
            assert!(ok(good), "{good:?} should be valid");
        }
        for bad in [
            "",
            "a",
            "a/b",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/..",
            "/./a",
            "/../a",
            "/a\0",
            "/a\u{1}",
            "/\u{1f}",
            "/\u{7f}",
            "/\u{9f}",
            "/\u{e000}",
            "/\u{f8ff}",
            "/\u{fff0}",
            "/\u{fffd}",
            "/\u{ffff}",
            "/\u{1f600}",
        ] {
            assert!(!ok(bad), "{bad:?} should be invalid");
        }
    }

    /// The first implementation, character by character over a collected
    /// `Vec<char>` (one allocation per request), kept as the reference.
    fn reference_validate_path(path: &str, sequential: bool) -> Result<(), ErrorCode> {
        if sequential {
            // ZooKeeper validates `path + "1"`.
            let mut with_suffix = String::with_capacity(path.len() + 1);
            with_suffix.push_str(path);
            with_suffix.push('1');
            return reference_validate(&with_suffix);
        }
        reference_validate(path)
    }

    fn reference_validate(path: &str) -> Result<(), ErrorCode> {
        let bad = Err(ErrorCode::BadArguments);
        let chars: Vec<char> = path.chars().collect();
        if chars.first() != Some(&'/') {
            return bad;
        }
        if chars.len() == 1 {
            return Ok(());
        }
        if chars.last() == Some(&'/') {
            return bad;
        }
        let mut last = '/';
        for i in 1..chars.len() {
            let c = chars[i];
            let at_segment_end = i + 1 == chars.len() || chars[i + 1] == '/';
            if c == '\0' {
                return bad;
            } else if c == '/' && last == '/' {
                return bad; // empty segment
            } else if c == '.' && last == '.' {
                // `..` as a whole segment
                if i >= 2 && chars[i - 2] == '/' && at_segment_end {
                    return bad;
                }
            } else if c == '.' {
                // `.` as a whole segment
                if chars[i - 1] == '/' && at_segment_end {
                    return bad;
                }
            } else if is_forbidden_char(c) {
                return bad;
            }
            last = c;
        }
        Ok(())
    }

    proptest::proptest! {
        /// Same verdict as the reference on any path made of the characters
        /// the rules are about.
        #[test]
        fn segment_validation_agrees_with_the_reference(
            chars in proptest::collection::vec(
                proptest::sample::select(vec!['/', '.', 'a', ' ', '\0', '\u{1}', '\u{1f}', '\u{7f}', '\u{85}', 'é', '\u{e000}', '\u{fff5}', '\u{1f600}']),
                0..9,
            ),
            sequential: bool,
        ) {
            let path: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(
                validate_path(&path, sequential),
                reference_validate_path(&path, sequential),
                "{:?} sequential={}", path, sequential
            );
        }
    }

    #[test]
    fn sequential_relaxes_trailing_slash() {
        assert!(validate_path("/a/", true).is_ok());
        assert!(validate_path("/", true).is_ok());
        assert!(validate_path("/a//", true).is_err());
        assert!(validate_path("/a/.", true).is_ok()); // "/a/.1"
    }

    #[test]
    fn split_last_is_last_index_of() {
        assert_eq!(split_last("/a"), Some(("", "a")));
        assert_eq!(split_last("/a/b"), Some(("/a", "b")));
        assert_eq!(split_last("/a/"), Some(("/a", "")));
        assert_eq!(split_last("a"), None);
    }

    #[test]
    fn java_string_helpers() {
        assert_eq!(java_substring_from("/zookeeper/quota/a", 16), Some("/a"));
        assert_eq!(java_substring_from("/zookeeper/quota", 16), Some(""));
        assert_eq!(java_substring_from("/zookeeper", 16), None);
        assert_eq!(java_trim(" \t/ "), "/");
        assert_eq!(java_len("/é"), 2);
    }
}
