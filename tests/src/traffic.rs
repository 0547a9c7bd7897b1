//! Traffic generators. Every socket is created inside a test namespace, so
//! all traffic stays on the test's veth pair.

use crate::netns::NetNs;
use anyhow::{Context, Result, anyhow, bail, ensure};
use std::ffi::CString;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long a receiver waits for the next datagram or byte.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// A UDP socket bound to `addr` inside `ns`.
pub fn udp_socket(ns: &NetNs, addr: SocketAddr) -> Result<UdpSocket> {
    let sock =
        ns.run_in(move || UdpSocket::bind(addr))?.with_context(|| format!("binding UDP {addr} in {}", ns.name()))?;
    sock.set_read_timeout(Some(RECV_TIMEOUT))?;
    Ok(sock)
}

/// Sends `count` datagrams of `size` payload bytes to `to`.
pub fn udp_send(sock: &UdpSocket, to: SocketAddr, count: usize, size: usize) -> Result<()> {
    let mut payload = vec![0u8; size];
    for i in 0..count {
        payload.iter_mut().enumerate().for_each(|(j, b)| *b = (i + j) as u8);
        let sent = sock.send_to(&payload, to).with_context(|| format!("sending datagram {i} to {to}"))?;
        ensure!(sent == size, "short send: {sent} of {size}");
    }
    Ok(())
}

/// Receives exactly `count` datagrams of `size` bytes; fails on timeout.
/// Returns their sources.
pub fn udp_expect(sock: &UdpSocket, count: usize, size: usize) -> Result<Vec<SocketAddr>> {
    let mut buf = vec![0u8; size + 1];
    let mut sources = Vec::with_capacity(count);
    for i in 0..count {
        let (n, from) = sock
            .recv_from(&mut buf)
            .map_err(|e| anyhow!("received {i} of {count} datagrams on {:?}: {e}", sock.local_addr()))?;
        ensure!(n == size, "datagram {i} from {from} has {n} bytes, expected {size}");
        sources.push(from);
    }
    Ok(sources)
}

/// Sends one datagram of `size` bytes from each source port in `ports`
/// (a fresh socket per port, bound in `ns` on `src_ip`) to `to`.
pub fn udp_from_ports(
    ns: &NetNs,
    src_ip: IpAddr,
    ports: std::ops::Range<u16>,
    to: SocketAddr,
    size: usize,
) -> Result<()> {
    let payload = vec![0x5a; size];
    ns.run_in(move || -> Result<()> {
        for port in ports {
            let sock =
                UdpSocket::bind(SocketAddr::new(src_ip, port)).with_context(|| format!("binding port {port}"))?;
            sock.send_to(&payload, to).with_context(|| format!("sending from port {port}"))?;
        }
        Ok(())
    })?
}

/// What a [`tcp_exchange`] used.
#[derive(Clone, Copy, Debug)]
pub struct TcpExchange {
    /// The client's local address (its ephemeral port).
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// A real TCP connection from `client_ns` to a server on `server` in
/// `server_ns`: the client sends `bytes` and half-closes, the server reads
/// them all, sends `bytes` back and closes, the client reads them all and
/// closes. A clean FIN/FIN close, no RST.
pub fn tcp_exchange(client_ns: &NetNs, server_ns: &NetNs, server: SocketAddr, bytes: usize) -> Result<TcpExchange> {
    let listener =
        server_ns.run_in(move || TcpListener::bind(server))?.with_context(|| format!("listening on {server}"))?;
    listener.set_nonblocking(true)?;
    let payload: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let server_payload = payload.clone();
    let server_side = std::thread::spawn(move || -> Result<()> {
        let deadline = Instant::now() + RECV_TIMEOUT;
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(anyhow!("accept on {server}: {e}")),
            }
        };
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(RECV_TIMEOUT))?;
        conn.set_write_timeout(Some(RECV_TIMEOUT))?;
        let mut got = Vec::with_capacity(bytes);
        conn.read_to_end(&mut got).context("server reading")?;
        ensure!(got == server_payload, "server received {} bytes, expected {bytes}", got.len());
        conn.write_all(&server_payload).context("server writing")?;
        conn.shutdown(Shutdown::Write)?;
        Ok(())
    });
    let client = client_ns
        .run_in(move || TcpStream::connect_timeout(&server, RECV_TIMEOUT))?
        .with_context(|| format!("connecting to {server}"))?;
    client.set_read_timeout(Some(RECV_TIMEOUT))?;
    client.set_write_timeout(Some(RECV_TIMEOUT))?;
    let local = client.local_addr()?;
    let mut client = client;
    client.write_all(&payload).context("client writing")?;
    client.shutdown(Shutdown::Write)?;
    let mut got = Vec::with_capacity(bytes);
    client.read_to_end(&mut got).context("client reading")?;
    server_side.join().map_err(|_| anyhow!("server thread panicked"))??;
    ensure!(got == payload, "client received {} bytes, expected {bytes}", got.len());
    drop(client);
    Ok(TcpExchange { client: local, server })
}

/// `ping -c COUNT -s SIZE -i 0.01` from `ns` to `dst` (IPv6 with `-6`);
/// fails unless every echo is answered.
pub fn ping(ns: &NetNs, dst: IpAddr, count: u32, size: u32) -> Result<()> {
    let (count, size, dst) = (count.to_string(), size.to_string(), dst.to_string());
    let family = if dst.contains(':') { "-6" } else { "-4" };
    ns.exec("ping", [family, "-n", "-q", "-c", &count, "-s", &size, "-i", "0.01", "-W", "2", &dst])
        .with_context(|| format!("ping {dst} from {}", ns.name()))?;
    Ok(())
}

/// An AF_PACKET socket bound to one interface of a namespace, for sending
/// hand-built Ethernet frames (VLAN-tagged, malformed) onto the wire as is.
#[derive(Debug)]
pub struct RawSender {
    fd: OwnedFd,
}

impl RawSender {
    pub fn open(ns: &NetNs, ifname: &str) -> Result<Self> {
        let name = CString::new(ifname)?;
        let fd = ns.run_in(move || -> Result<OwnedFd> {
            // Protocol 0: the socket sends but never receives.
            // SAFETY: plain syscall; the result is checked.
            let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
            if raw < 0 {
                bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: `name` is a valid NUL-terminated string.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                bail!("no interface {name:?} in this namespace");
            }
            // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = i32::try_from(ifindex)?;
            // SAFETY: `sll` is a valid sockaddr_ll and the length matches it.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    std::ptr::from_ref(&sll).cast::<libc::sockaddr>(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                bail!("binding AF_PACKET socket to {name:?}: {}", std::io::Error::last_os_error());
            }
            Ok(fd)
        })??;
        Ok(RawSender { fd })
    }

    /// Sends one frame, exactly these bytes.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: the buffer is valid for `frame.len()` bytes.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            bail!("sending a {}-byte frame: {}", frame.len(), std::io::Error::last_os_error());
        }
        ensure!(n as usize == frame.len(), "short raw send: {n} of {}", frame.len());
        Ok(())
    }

    /// Sends `frame` `count` times.
    pub fn send_n(&self, frame: &[u8], count: usize) -> Result<()> {
        (0..count).try_for_each(|_| self.send(frame))
    }
}
