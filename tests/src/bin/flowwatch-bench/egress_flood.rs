//! An egress flood of locally generated packets: UDP datagrams built whole
//! and sent through a raw IPv4 socket (`IPPROTO_RAW`, so the header is
//! ours), cycling through `flows` source ports. They go down the IP stack,
//! through the qdisc layer and TC egress as an application's packets do,
//! in an skb whose linear part holds every header. trafgen's packet socket
//! would hand TC an skb whose linear part is the Ethernet header alone,
//! which packet-socket senders produce but no packet from the IP stack.

use std::{
    net::{Ipv4Addr, SocketAddr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::Instant,
};

use anyhow::{Result, bail};
use integration_tests::frames;

use crate::trafgen::FloodResult;

/// Datagrams per `sendmmsg`.
const BATCH: usize = 256;
/// 22 bytes of payload make 64-byte frames (14 + 20 + 8 + 22), as trafgen's.
const PAYLOAD: usize = 22;
/// Destination port of every datagram (discard), as trafgen's flood.
pub const FLOOD_PORT: u16 = 9;

/// The IPv4 + UDP datagram from `src`:`sport` to `dst`:[`FLOOD_PORT`].
fn datagram(src: Ipv4Addr, dst: Ipv4Addr, sport: u16) -> Vec<u8> {
    let udp = frames::udp(SocketAddr::from((src, sport)), SocketAddr::from((dst, FLOOD_PORT)), &[0x41; PAYLOAD]);
    frames::ipv4(src, dst, frames::PROTO_UDP, &udp)
}

/// Sends `packets` datagrams from `src` to `dst` out of the calling
/// thread's network namespace, source ports 1024 … 1024 + `flows` - 1 in
/// turn. Every datagram is handed to the kernel: a batch the kernel takes
/// only partly is resent from where it stopped.
pub fn flood(src: Ipv4Addr, dst: Ipv4Addr, packets: u64, flows: u32) -> Result<FloodResult> {
    // SAFETY: plain socket(2); the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
    if fd < 0 {
        bail!("raw socket: {}", std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let datagrams: Vec<Vec<u8>> = (0..flows).map(|i| datagram(src, dst, 1024 + i as u16)).collect();
    let mut iovecs: Vec<libc::iovec> = datagrams
        .iter()
        .map(|datagram| libc::iovec { iov_base: datagram.as_ptr().cast_mut().cast(), iov_len: datagram.len() })
        .collect();
    // SAFETY: all-zero is a valid sockaddr_in; family and address are set below.
    let mut address: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    address.sin_family = libc::AF_INET as libc::sa_family_t;
    address.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
    // One message per flow, built once: a batch is a run of them, and the
    // flows come round in order.
    let mut messages: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iovec| {
            // SAFETY: all-zero is a valid mmsghdr; the fields used are set below.
            let mut message: libc::mmsghdr = unsafe { std::mem::zeroed() };
            message.msg_hdr.msg_name = (&raw mut address).cast();
            message.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            message.msg_hdr.msg_iov = iovec;
            message.msg_hdr.msg_iovlen = 1;
            message
        })
        .collect();

    let started = Instant::now();
    let mut next = 0u64;
    while next < packets {
        let first = (next % u64::from(flows)) as usize;
        let count = BATCH.min(messages.len() - first).min((packets - next) as usize);
        // SAFETY: `messages[first..first + count]` point at live iovecs, datagrams and address.
        let sent = unsafe { libc::sendmmsg(socket.as_raw_fd(), messages[first..].as_mut_ptr(), count as u32, 0) };
        if sent < 0 {
            let err = std::io::Error::last_os_error();
            // Transient: the queue was full; nothing of this batch went out.
            if matches!(err.raw_os_error(), Some(libc::ENOBUFS | libc::EAGAIN | libc::EINTR)) {
                std::thread::yield_now();
                continue;
            }
            bail!("sendmmsg on the raw socket: {err}");
        }
        next += sent as u64;
    }
    Ok(FloodResult { sent: packets, elapsed: started.elapsed() })
}
