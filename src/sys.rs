//! What the operating system gives every stage: the wall clock, random bytes, and the
//! identifiers and keys made from them. At the bottom of the house: it imports nothing of
//! callscribe's, so any stage may use it without importing another stage.

/// Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) {
    // Without an OS random source no key or nonce can be made safely: stopping is the only
    // correct response.
    getrandom::fill(buf).expect("operating system random source");
}

/// 32 random bytes: a call's pseudonym key (pseudonyms cannot be joined across calls).
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    fill_random(&mut key);
    key
}

/// A random identifier: `prefix` + 26 lower-case base32 characters (128 bits).
pub fn random_id(prefix: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 17];
    fill_random(&mut bytes);
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::with_capacity(prefix.len() + 26);
    out.push_str(prefix);
    for b in bytes {
        bits = (bits << 8) | b as u32;
        nbits += 8;
        while nbits >= 5 && out.len() < prefix.len() + 26 {
            nbits -= 5;
            out.push(ALPHABET[((bits >> nbits) & 31) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_well_formed_and_keys_fresh() {
        let id = random_id("t_");
        assert_eq!(id.len(), 28);
        assert!(
            id[2..]
                .chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
        assert_ne!(random_id("t_"), id);
        assert_ne!(random_key(), random_key());
        assert_ne!(random_key(), [0u8; 32]);
    }
}
