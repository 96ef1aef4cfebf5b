//! The one error of this crate: what went wrong, in which file, at which
//! byte.
//!
//! Why a single struct and not an enum: every failure here ends the command
//! with a message for a person who has to find the damaged file, so the file
//! and the offset matter and the kind of damage is best said in words.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct MigrateError {
    /// The file being read or written.
    pub file: PathBuf,
    /// The byte offset in `file` where the problem was found, if it is about
    /// the file's contents.
    pub offset: Option<u64>,
    pub what: String,
}

impl MigrateError {
    /// A problem with the contents of `file` at byte `offset`.
    pub fn at(file: &Path, offset: u64, what: impl Into<String>) -> Self {
        MigrateError {
            file: file.to_path_buf(),
            offset: Some(offset),
            what: what.into(),
        }
    }

    /// A problem with `file` as a whole (missing, unreadable, ...).
    pub fn file(file: &Path, what: impl Into<String>) -> Self {
        MigrateError {
            file: file.to_path_buf(),
            offset: None,
            what: what.into(),
        }
    }

    pub fn io(file: &Path, e: io::Error) -> Self {
        Self::file(file, e.to_string())
    }
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(
                f,
                "{}: at byte {offset}: {}",
                self.file.display(),
                self.what
            ),
            None => write!(f, "{}: {}", self.file.display(), self.what),
        }
    }
}

impl std::error::Error for MigrateError {}

pub type Result<T> = std::result::Result<T, MigrateError>;
