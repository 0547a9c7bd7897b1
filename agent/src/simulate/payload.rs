//! Application payloads: a message is a structured head (HTTP headers, a
//! TLS hello, an SSH banner) followed by a body that is opaque on the wire
//! (compressed or encrypted data), either raw or framed as TLS application
//! data records. Bodies are never materialised: a segment copies just its
//! own byte range, so a 200 MB upload costs no memory.

use rand::Rng as _;

use super::rng::SimRng;

/// Seeded random bytes that stand in for ciphertext and compressed data.
#[derive(Debug)]
pub struct Filler {
    bytes: Vec<u8>,
}

/// Large enough that repeats are not visible within one segment.
const FILLER_LEN: usize = 1 << 16;

impl Filler {
    pub fn new(rng: &mut SimRng) -> Self {
        let mut bytes = vec![0; FILLER_LEN];
        rng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Bytes `offset .. offset + len` of the endless stream when they lie
    /// in one piece of the buffer.
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let at = (offset % FILLER_LEN as u64) as usize;
        self.bytes.get(at..at + len)
    }

    /// Appends `len` bytes of the endless stream that starts at `offset`.
    pub fn append(&self, offset: u64, mut len: usize, out: &mut Vec<u8>) {
        let mut at = (offset % FILLER_LEN as u64) as usize;
        while len > 0 {
            let take = len.min(FILLER_LEN - at);
            out.extend_from_slice(&self.bytes[at..at + take]);
            len -= take;
            at = 0;
        }
    }
}

/// TLS 1.3 application data record: 16 KiB of plaintext, the inner content
/// type byte and a 16-byte AEAD tag.
pub const TLS_RECORD_MAX: u64 = 16_384 + 1 + 16;
const TLS_HEADER: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    /// Raw opaque bytes (SSH ciphertext, HTTP bodies).
    Opaque(u64),
    /// This many bytes of ciphertext in TLS application data records.
    TlsRecords(u64),
}

impl Body {
    fn wire_len(self) -> u64 {
        match self {
            Self::None => 0,
            Self::Opaque(len) => len,
            Self::TlsRecords(ciphertext) => ciphertext + TLS_HEADER * ciphertext.div_ceil(TLS_RECORD_MAX),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub head: Vec<u8>,
    pub body: Body,
    /// Where this message's body starts in the filler stream.
    pub salt: u64,
}

impl Message {
    pub fn bytes(head: Vec<u8>) -> Self {
        Self { head, body: Body::None, salt: 0 }
    }

    pub fn with_body(head: Vec<u8>, body: Body, rng: &mut SimRng) -> Self {
        Self { head, body, salt: rng.next_u64() }
    }

    /// Bytes on the wire.
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.body.wire_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `offset .. offset + len` of the message: straight from the
    /// filler when they are all body bytes in one piece (most segments of
    /// a large body), otherwise assembled in `scratch`.
    pub fn segment<'a>(&'a self, offset: u64, len: usize, filler: &'a Filler, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        let head_len = self.head.len() as u64;
        if offset >= head_len {
            let body_pos = offset - head_len;
            let direct = match self.body {
                Body::Opaque(_) => filler.slice(self.salt + body_pos, len),
                Body::TlsRecords(_) => {
                    let within = body_pos % (TLS_HEADER + TLS_RECORD_MAX);
                    let record = body_pos / (TLS_HEADER + TLS_RECORD_MAX);
                    // Inside one record's ciphertext (the last record may be shorter, but a
                    // segment never runs past the message end).
                    (within >= TLS_HEADER && within + len as u64 <= TLS_HEADER + TLS_RECORD_MAX)
                        .then(|| filler.slice(self.salt + record * TLS_RECORD_MAX + within - TLS_HEADER, len))
                        .flatten()
                }
                Body::None => None,
            };
            if let Some(bytes) = direct {
                return bytes;
            }
        }
        scratch.clear();
        self.append(offset, len, filler, scratch);
        scratch
    }

    /// Appends bytes `offset .. offset + len` of the message to `out`.
    pub fn append(&self, offset: u64, len: usize, filler: &Filler, out: &mut Vec<u8>) {
        let head_len = self.head.len() as u64;
        let mut pos = offset;
        let end = offset + len as u64;
        if pos < head_len {
            let head_end = end.min(head_len);
            out.extend_from_slice(&self.head[pos as usize..head_end as usize]);
            pos = head_end;
        }
        while pos < end {
            let body_pos = pos - head_len;
            let take = match self.body {
                Body::None => break,
                Body::Opaque(_) => {
                    filler.append(self.salt + body_pos, (end - pos) as usize, out);
                    end - pos
                }
                Body::TlsRecords(ciphertext) => self.append_tls(ciphertext, body_pos, end - pos, filler, out),
            };
            pos += take;
        }
    }

    /// Appends from within one TLS record starting at body position
    /// `body_pos`; returns how many bytes it appended.
    fn append_tls(&self, ciphertext: u64, body_pos: u64, want: u64, filler: &Filler, out: &mut Vec<u8>) -> u64 {
        let record = body_pos / (TLS_HEADER + TLS_RECORD_MAX);
        let within = body_pos % (TLS_HEADER + TLS_RECORD_MAX);
        let record_len = (ciphertext - record * TLS_RECORD_MAX).min(TLS_RECORD_MAX);
        if within < TLS_HEADER {
            let [.., hi, lo] = (record_len as u32).to_be_bytes();
            let header = [0x17, 0x03, 0x03, hi, lo];
            let take = (TLS_HEADER - within).min(want);
            out.extend_from_slice(&header[within as usize..(within + take) as usize]);
            take
        } else {
            let take = (TLS_HEADER + record_len - within).min(want);
            filler.append(self.salt + record * TLS_RECORD_MAX + within - TLS_HEADER, take as usize, out);
            take
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    fn whole(message: &Message, filler: &Filler) -> Vec<u8> {
        let mut out = Vec::new();
        message.append(0, message.len() as usize, filler, &mut out);
        out
    }

    #[test]
    fn pieces_concatenate_to_the_whole_message() {
        let mut rng = stream(1, Stream::Filler);
        let filler = Filler::new(&mut rng);
        let message = Message::with_body(b"HEAD".to_vec(), Body::TlsRecords(40_000), &mut rng);
        let full = whole(&message, &filler);
        assert_eq!(full.len() as u64, message.len());
        let mut pieces = Vec::new();
        for start in (0..message.len()).step_by(1448) {
            let len = 1448.min(message.len() - start) as usize;
            message.append(start, len, &filler, &mut pieces);
        }
        assert_eq!(pieces, full);
    }

    #[test]
    fn segments_equal_the_assembled_bytes_whether_sliced_or_copied() {
        let mut rng = stream(1, Stream::Filler);
        let filler = Filler::new(&mut rng);
        for body in [Body::TlsRecords(100_000), Body::Opaque(200_000)] {
            let message = Message::with_body(b"GET / HTTP/1.1\r\n\r\n".to_vec(), body, &mut rng);
            let full = whole(&message, &filler);
            let mut scratch = Vec::new();
            for start in (0..message.len()).step_by(1460) {
                let len = 1460.min(message.len() - start) as usize;
                let segment = message.segment(start, len, &filler, &mut scratch);
                assert_eq!(segment, &full[start as usize..start as usize + len], "{body:?} at {start}");
            }
        }
    }

    #[test]
    fn tls_body_is_framed_as_application_data_records() {
        let mut rng = stream(1, Stream::Filler);
        let filler = Filler::new(&mut rng);
        let message = Message::with_body(Vec::new(), Body::TlsRecords(20_000), &mut rng);
        let bytes = whole(&message, &filler);
        // One full record (16,401 bytes) and one of 3,599, each behind a 5-byte header.
        assert_eq!(bytes.len(), 20_010);
        assert_eq!(bytes[..5], [0x17, 0x03, 0x03, 0x40, 0x11]);
        assert_eq!(bytes[16_406..16_411], [0x17, 0x03, 0x03, 0x0e, 0x0f]);
    }

    #[test]
    fn filler_wraps_around() {
        let mut rng = stream(1, Stream::Filler);
        let filler = Filler::new(&mut rng);
        let mut wrapped = Vec::new();
        filler.append(FILLER_LEN as u64 - 2, 4, &mut wrapped);
        let mut start = Vec::new();
        filler.append(0, 2, &mut start);
        assert_eq!(wrapped[2..], start[..]);
    }
}
