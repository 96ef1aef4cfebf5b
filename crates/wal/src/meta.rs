//! A few small named values that must survive a crash exactly as last saved:
//! openraft's vote and committed log id.
//!
//! Each key is one file, `<key>.meta`, replaced atomically: write
//! `<key>.meta.tmp`, fdatasync it, rename it over the old file, fsync the
//! directory. A crash leaves either the old value or the new one, never a mix;
//! a leftover `.tmp` is deleted by recovery. The file carries a checksum, so
//! damage is refused at open rather than read back as a wrong vote.
//!
//! ```text
//! magic "rzkmeta\0" | version u32 | payload_len u32 | crc32c(payload) u32 | reserved u32 | payload
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::WalError;

const META_MAGIC: [u8; 8] = *b"rzkmeta\0";
const META_VERSION: u32 = 1;
const META_HEADER_BYTES: usize = 24;
const META_SUFFIX: &str = ".meta";
/// A vote or a log id is tens of bytes; the limit only stops a damaged length
/// from being trusted.
pub const MAX_META_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Keys become file names.
pub const MAX_META_KEY_BYTES: usize = 64;

const _: () = assert!(META_HEADER_BYTES == 8 + 4 + 4 + 4 + 4);

#[derive(Debug)]
pub(crate) struct MetaStore {
    dir: PathBuf,
    /// Every value, read once at open. The mutex also serializes saves so two
    /// saves of one key cannot interleave their temp files.
    values: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MetaStore {
    pub fn open(dir: &Path) -> Result<MetaStore, WalError> {
        let mut values = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(|e| WalError::io("read_dir", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| WalError::io("read_dir", dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(key) = name.strip_suffix(META_SUFFIX) else {
                continue;
            };
            if validate_key(key).is_err() {
                continue;
            }
            let path = entry.path();
            let bytes = fs::read(&path).map_err(|e| WalError::io("read", &path, e))?;
            let value = decode(&bytes).map_err(|detail| WalError::corrupt(&path, 0, detail))?;
            values.insert(key.to_owned(), value);
        }
        Ok(MetaStore {
            dir: dir.to_path_buf(),
            values: Mutex::new(values),
        })
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.lock().get(key).cloned()
    }

    /// Durably replaces `key`'s value; returns after the directory fsync.
    pub fn save(&self, key: &str, value: &[u8], dir_file: &File) -> Result<(), WalError> {
        validate_key(key)?;
        if value.len() > MAX_META_PAYLOAD_BYTES {
            return Err(WalError::InvalidOptions {
                detail: format!(
                    "meta value for {key:?} is {} bytes, over the limit of {MAX_META_PAYLOAD_BYTES} bytes",
                    value.len()
                ),
            });
        }
        let mut values = self.lock();
        let path = self.dir.join(format!("{key}{META_SUFFIX}"));
        let temp_path = self.dir.join(format!("{key}{META_SUFFIX}.tmp"));
        let mut temp = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp_path)
            .map_err(|e| WalError::io("create", &temp_path, e))?;
        temp.write_all(&encode(value))
            .map_err(|e| WalError::io("write", &temp_path, e))?;
        temp.sync_data()
            .map_err(|e| WalError::io("fdatasync", &temp_path, e))?;
        drop(temp);
        fs::rename(&temp_path, &path).map_err(|e| WalError::io("rename", &path, e))?;
        dir_file
            .sync_all()
            .map_err(|e| WalError::io("fsync directory", &self.dir, e))?;
        values.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding this lock can only happen between a completed
        // rename and the map insert, which leaves the map stale but the disk
        // right; the value is re-read at the next open.
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(crate) fn validate_key(key: &str) -> Result<(), WalError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_META_KEY_BYTES
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(WalError::InvalidMetaKey {
            key: key.to_owned(),
        })
    }
}

fn encode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(META_HEADER_BYTES + value.len());
    out.extend_from_slice(&META_MAGIC);
    out.extend_from_slice(&META_VERSION.to_le_bytes());
    // `save` bounds the value by MAX_META_PAYLOAD_BYTES, far below u32::MAX.
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(value).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let Some(header) = bytes.get(..META_HEADER_BYTES) else {
        return Err(format!(
            "meta file is {} bytes, shorter than its {META_HEADER_BYTES}-byte header",
            bytes.len()
        ));
    };
    if header[0..8] != META_MAGIC {
        return Err("meta file has the wrong magic".into());
    }
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&header[at..at + 4]);
        u32::from_le_bytes(w)
    };
    let version = word(8);
    if version != META_VERSION {
        return Err(format!("meta format version {version} is not supported"));
    }
    let len = word(12) as usize;
    let payload = &bytes[META_HEADER_BYTES..];
    if payload.len() != len {
        return Err(format!(
            "meta file holds {} payload bytes but its header says {len}",
            payload.len()
        ));
    }
    let stored = word(16);
    let computed = crc32c::crc32c(payload);
    if stored != computed {
        return Err(format!(
            "meta checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    Ok(payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_rejects_damage() {
        let encoded = encode(b"vote:3:node-2");
        assert_eq!(decode(&encoded).as_deref(), Ok(&b"vote:3:node-2"[..]));
        for at in 0..encoded.len() {
            if (20..24).contains(&at) {
                continue; // reserved bytes
            }
            let mut damaged = encoded.clone();
            damaged[at] ^= 0x04;
            assert!(decode(&damaged).is_err(), "flip at {at} accepted");
        }
        assert!(decode(&encoded[..encoded.len() - 1]).is_err());
    }

    #[test]
    fn keys_are_file_name_safe() {
        assert!(validate_key("vote").is_ok());
        assert!(validate_key("committed-log_id2").is_ok());
        for bad in ["", "Vote", "../x", "a.b", "a/b", &"k".repeat(65)] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
