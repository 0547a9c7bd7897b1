//! TLS 1.3 as a capture sees it: a ClientHello with the server's name, a
//! ServerHello, a change_cipher_spec for middlebox compatibility, and from
//! then on only application_data records (everything else is encrypted).
//! The hellos are built field by field so dissectors parse them.

use rand::{Rng as _, RngExt as _};

use crate::simulate::rng::SimRng;

const HANDSHAKE: u8 = 0x16;
const CHANGE_CIPHER_SPEC: [u8; 6] = [0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
/// TLS 1.3 suites first, then TLS 1.2 fallbacks, as browsers offer them.
const CIPHER_SUITES: [u16; 9] = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];
const X25519: u16 = 0x001d;
/// Browsers pad the ClientHello to this size (RFC 7685).
const CLIENT_HELLO_SIZE: usize = 512;

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Appends `body` behind a 2-byte length.
fn with_u16_len(out: &mut Vec<u8>, body: &[u8]) {
    put_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    put_u16(out, kind);
    with_u16_len(out, body);
}

fn random_bytes<const N: usize>(rng: &mut SimRng) -> [u8; N] {
    let mut bytes = [0; N];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// A handshake message of `kind` in a record of `record_version`.
fn handshake_record(record_version: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut record = vec![HANDSHAKE];
    put_u16(&mut record, record_version);
    put_u16(&mut record, (body.len() + 4) as u16);
    record.push(kind);
    record.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    record.extend_from_slice(body);
    record
}

/// The ClientHello record for `server_name`.
pub fn client_hello(server_name: &str, rng: &mut SimRng) -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend_from_slice(&random_bytes::<32>(rng));
    hello.push(32);
    hello.extend_from_slice(&random_bytes::<32>(rng));
    let suites: Vec<u8> = CIPHER_SUITES.iter().flat_map(|s| s.to_be_bytes()).collect();
    with_u16_len(&mut hello, &suites);
    hello.extend_from_slice(&[1, 0]); // compression: null only

    let mut extensions = Vec::new();
    let mut sni = vec![0]; // host_name
    with_u16_len(&mut sni, server_name.as_bytes());
    let mut sni_list = Vec::new();
    with_u16_len(&mut sni_list, &sni);
    extension(&mut extensions, 0x0000, &sni_list);
    extension(&mut extensions, 0x000a, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]); // x25519, P-256, P-384
    extension(&mut extensions, 0x000b, &[1, 0]); // uncompressed points
    extension(&mut extensions, 0x000d, &[0, 8, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03]);
    extension(&mut extensions, 0x0010, b"\x00\x0c\x02h2\x08http/1.1"); // ALPN
    extension(&mut extensions, 0x002b, &[4, 0x03, 0x04, 0x03, 0x03]); // TLS 1.3, 1.2
    extension(&mut extensions, 0x002d, &[1, 1]); // psk_dhe_ke
    let mut share = Vec::new();
    put_u16(&mut share, X25519);
    with_u16_len(&mut share, &random_bytes::<32>(rng));
    let mut shares = Vec::new();
    with_u16_len(&mut shares, &share);
    extension(&mut extensions, 0x0033, &shares);
    // Padding extension up to the browser's hello size (record header 5,
    // handshake header 4, extensions length 2, padding header 4).
    let used = 5 + 4 + hello.len() + 2 + extensions.len() + 4;
    extension(&mut extensions, 0x0015, &vec![0; CLIENT_HELLO_SIZE.saturating_sub(used)]);
    with_u16_len(&mut hello, &extensions);
    handshake_record(0x0301, 1, &hello)
}

/// The ServerHello record (echoing the client's session id length; the id
/// itself is random, as the simulation does not track it) followed by the
/// change_cipher_spec record.
pub fn server_hello(rng: &mut SimRng) -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend_from_slice(&random_bytes::<32>(rng));
    hello.push(32);
    hello.extend_from_slice(&random_bytes::<32>(rng));
    put_u16(&mut hello, CIPHER_SUITES[rng.random_range(0..3)]);
    hello.push(0);
    let mut extensions = Vec::new();
    extension(&mut extensions, 0x002b, &[0x03, 0x04]);
    let mut share = Vec::new();
    put_u16(&mut share, X25519);
    with_u16_len(&mut share, &random_bytes::<32>(rng));
    extension(&mut extensions, 0x0033, &share);
    with_u16_len(&mut hello, &extensions);
    let mut records = handshake_record(0x0303, 2, &hello);
    records.extend_from_slice(&CHANGE_CIPHER_SPEC);
    records
}

/// The client's change_cipher_spec record, sent before its encrypted Finished.
pub fn change_cipher_spec() -> Vec<u8> {
    CHANGE_CIPHER_SPEC.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn client_hello_is_padded_and_carries_the_name() {
        let mut rng = stream(1, Stream::Population);
        let hello = client_hello("www.example.com", &mut rng);
        assert_eq!(hello.len(), CLIENT_HELLO_SIZE);
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), hello.len() - 5);
        assert_eq!(hello[5], 1);
        assert!(hello.windows(15).any(|w| w == b"www.example.com"));
    }

    #[test]
    fn server_hello_lengths_are_consistent() {
        let mut rng = stream(1, Stream::Population);
        let records = server_hello(&mut rng);
        let record_len = usize::from(u16::from_be_bytes([records[3], records[4]]));
        let handshake_len = u32::from_be_bytes([0, records[6], records[7], records[8]]) as usize;
        assert_eq!(handshake_len + 4, record_len);
        assert_eq!(&records[5 + record_len..], &CHANGE_CIPHER_SPEC);
    }
}
