//! Tab completion for the interactive shell, as zkCli's
//! `JLineZNodeCompleter`: a word starting with `/` completes to the
//! children of its directory (asked from the server), any other word to
//! the command names.

use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::commands::COMMANDS;
use crate::connection::Session;

/// Candidates offered at once; a directory with more children offers the
/// first ones in sorted order.
pub const CANDIDATES_MAX: usize = 10_000;

/// The rustyline helper: completion only (no hints, colours or validation).
pub struct ZkHelper {
    pub session: Arc<Mutex<Session>>,
}

/// The word under completion and where it starts: the text after the last
/// space before the cursor.
fn last_word(before_cursor: &str) -> (usize, &str) {
    let start = before_cursor.rfind(' ').map_or(0, |i| i + 1);
    (start, &before_cursor[start..])
}

/// Command names starting with `prefix`, in zkCli's (sorted) order.
pub fn command_candidates(prefix: &str) -> Vec<String> {
    COMMANDS
        .iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// For a path word: the directory to list and the prefix of the child name.
/// Only the root ends in `/`, so `/a/b` lists `/a` for `b`, `/a/` lists
/// `/a` for everything, `/` and `/x` list `/`.
pub fn split_path_word(word: &str) -> (&str, &str) {
    let idx = word.rfind('/').map_or(0, |i| i + 1);
    let dir = if idx <= 1 { "/" } else { &word[..idx - 1] };
    (dir, &word[idx..])
}

impl ZkHelper {
    fn znode_candidates(&self, word: &str) -> Vec<String> {
        let (dir, prefix) = split_path_word(word);
        // The shell's thread holds the session only between prompts, so the
        // lock is free while the user types; never wait for it regardless.
        let Ok(mut session) = self.session.try_lock() else {
            return Vec::new();
        };
        if !session.state().is_alive() {
            return Vec::new();
        }
        let Ok((children, _)) = session.get_children(dir, false, false) else {
            return Vec::new();
        };
        let mut out: Vec<String> = children
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        out.sort();
        out.truncate(CANDIDATES_MAX);
        out
    }
}

impl Completer for ZkHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let (start, word) = last_word(before);
        let (start, names) = if word.starts_with('/') {
            let slash = before.rfind('/').map_or(start, |i| i + 1);
            (slash, self.znode_candidates(word))
        } else {
            (start, command_candidates(word))
        };
        let pairs = names
            .into_iter()
            .map(|n| Pair {
                display: n.clone(),
                replacement: n,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}

impl Highlighter for ZkHelper {}

impl Validator for ZkHelper {}

impl Helper for ZkHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_directories() {
        assert_eq!(last_word("get -s /a/b"), (7, "/a/b"));
        assert_eq!(last_word("ge"), (0, "ge"));
        assert_eq!(last_word("get "), (4, ""));
        assert_eq!(split_path_word("/"), ("/", ""));
        assert_eq!(split_path_word("/zoo"), ("/", "zoo"));
        assert_eq!(split_path_word("/a/b"), ("/a", "b"));
        assert_eq!(split_path_word("/a/"), ("/a", ""));
        assert_eq!(
            command_candidates("getA"),
            ["getAcl", "getAllChildrenNumber"]
        );
        assert_eq!(command_candidates("addw"), Vec::<String>::new());
    }
}
