//! NTPv4 client/server packets (RFC 5905), 48 bytes without extensions.

use crate::simulate::units::{Nanos, SECS};

pub const PORT: u16 = 123;
/// Seconds from the NTP era (1900) to the Unix epoch.
const UNIX_TO_NTP: u64 = 2_208_988_800;

fn ntp_time(ns: Nanos) -> u64 {
    let seconds = ns / SECS + UNIX_TO_NTP;
    let fraction = ((ns % SECS) << 32) / SECS;
    (seconds << 32) | fraction
}

/// A client request sent at `sent` with poll exponent `poll`.
pub fn request(sent: Nanos, poll: u8) -> Vec<u8> {
    let mut packet = vec![0u8; 48];
    packet[0] = 0x23; // LI 0, version 4, mode 3 (client)
    packet[2] = poll;
    packet[3] = 0xe7; // precision 2^-25
    packet[40..48].copy_from_slice(&ntp_time(sent).to_be_bytes());
    packet
}

/// A stratum-2 server's reply to a request sent at `sent`, received at
/// `received` and answered at `answered`.
pub fn reply(sent: Nanos, received: Nanos, answered: Nanos, poll: u8, upstream: [u8; 4]) -> Vec<u8> {
    let mut packet = vec![0u8; 48];
    packet[0] = 0x24; // LI 0, version 4, mode 4 (server)
    packet[1] = 2;
    packet[2] = poll;
    packet[3] = 0xe9; // precision 2^-23
    packet[4..8].copy_from_slice(&0x0000_0a3du32.to_be_bytes()); // root delay 40 ms
    packet[8..12].copy_from_slice(&0x0000_0310u32.to_be_bytes()); // root dispersion 12 ms
    packet[12..16].copy_from_slice(&upstream);
    packet[16..24].copy_from_slice(&ntp_time(received.saturating_sub(17 * SECS)).to_be_bytes());
    packet[24..32].copy_from_slice(&ntp_time(sent).to_be_bytes());
    packet[32..40].copy_from_slice(&ntp_time(received).to_be_bytes());
    packet[40..48].copy_from_slice(&ntp_time(answered).to_be_bytes());
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_mode_version_and_transmit_time() {
        let packet = request(1_709_629_200 * SECS + SECS / 2, 6);
        assert_eq!(packet.len(), 48);
        assert_eq!((packet[0] >> 3 & 7, packet[0] & 7, packet[2]), (4, 3, 6));
        let transmit = u64::from_be_bytes(packet[40..48].try_into().unwrap_or_default());
        assert_eq!(transmit >> 32, 1_709_629_200 + UNIX_TO_NTP);
        assert_eq!(transmit & 0xffff_ffff, 1 << 31);
        let answer = reply(SECS, 2 * SECS, 2 * SECS, 6, [192, 0, 2, 1]);
        assert_eq!((answer[0] & 7, answer[1]), (4, 2));
        assert_eq!(answer[24..32], packet_time(SECS));
    }

    fn packet_time(ns: Nanos) -> [u8; 8] {
        ntp_time(ns).to_be_bytes()
    }
}
