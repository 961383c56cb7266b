//! Kafka's textual forms of ids: topic ids and cluster ids are 16-byte UUIDs printed as
//! URL-safe base64 without padding (22 characters).

use uuid::Uuid;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub fn kafka_base64(id: Uuid) -> String {
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    let mut chunks = bytes.chunks(3);
    for chunk in &mut chunks {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_base64_is_22_url_safe_chars() {
        let s = kafka_base64(Uuid::from_bytes([0xff; 16]));
        assert_eq!(s, "_____________________w");
        assert_eq!(kafka_base64(Uuid::nil()), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}
