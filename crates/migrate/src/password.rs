//! The password ZooKeeper gives a session: 16 bytes from
//! `new java.util.Random(sessionId ^ 0xB3415C00L)`
//! (`ZooKeeperServer.generatePasswd`). It is never stored: ZooKeeper
//! recomputes it when a client resumes a session. rzk stores each session's
//! password in its tree, so an imported session gets the password its
//! ZooKeeper clients already hold and they can resume it against rzk.

/// `ZooKeeperServer.superSecret`.
const SUPER_SECRET: i64 = 0xB341_5C00;
/// `java.util.Random`'s linear congruential generator (its documented
/// constants: multiplier, addend, 48-bit state).
const MULTIPLIER: i64 = 0x5_DEEC_E66D;
const ADDEND: i64 = 0xB;
const MASK: i64 = (1 << 48) - 1;

/// ZooKeeper's password for `session_id`.
pub fn zookeeper_password(session_id: i64) -> Vec<u8> {
    let mut seed = ((session_id ^ SUPER_SECRET) ^ MULTIPLIER) & MASK;
    let mut next_int = || {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND)) & MASK;
        (seed >> 16) as i32
    };
    // `Random.nextBytes`: each int gives up to four bytes, low byte first.
    let mut out = Vec::with_capacity(16);
    while out.len() < 16 {
        let mut rnd = next_int();
        for _ in 0..4.min(16 - out.len()) {
            out.push(rnd as u8);
            rnd >>= 8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_random() {
        // `new Random(0).nextInt()` is -1155484576 (0xbb20b460), so
        // nextBytes starts with 0x60 0xb4 0x20 0xbb; the seed 0 is reached
        // with session id 0xB3415C00.
        let p = zookeeper_password(SUPER_SECRET);
        assert_eq!(&p[..4], &[0x60, 0xb4, 0x20, 0xbb]);
        assert_eq!(p.len(), 16);
    }
}
