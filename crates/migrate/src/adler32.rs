//! Adler-32, the checksum ZooKeeper puts on every transaction log record and
//! at the end of every snapshot (`java.util.zip.Adler32`). A dozen lines, so
//! written here rather than taken as a dependency.

/// The modulus: the largest prime below 2^16.
const MOD: u32 = 65521;
/// Bytes that can be summed before `b` could overflow a u32 (zlib's NMAX).
const CHUNK_BYTES: usize = 5552;

#[derive(Debug, Clone, Copy)]
pub struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    pub fn update(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(CHUNK_BYTES) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= MOD;
            self.b %= MOD;
        }
    }

    /// The checksum as Java's `Checksum.getValue()` gives it (a long).
    pub fn value(&self) -> i64 {
        i64::from((self.b << 16) | self.a)
    }

    pub fn of(bytes: &[u8]) -> i64 {
        let mut a = Adler32::default();
        a.update(bytes);
        a.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(Adler32::of(b""), 1);
        // The example from RFC 1950's reference and Wikipedia.
        assert_eq!(Adler32::of(b"Wikipedia"), 0x11E6_0398);
        let long = vec![0xffu8; 100_000];
        let mut split = Adler32::default();
        split.update(&long[..7]);
        split.update(&long[7..]);
        assert_eq!(split.value(), Adler32::of(&long));
    }
}
