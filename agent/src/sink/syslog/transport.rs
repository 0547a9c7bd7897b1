//! Sending formatted messages: UDP (RFC 5426, one message per datagram), TCP
//! with octet-counting framing (RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`), or
//! a local unix datagram socket such as `/dev/log`.
//!
//! UDP and unix datagrams count as delivered once the kernel takes them; an
//! ICMP "port unreachable" surfaces as a refused send on the next message,
//! which is then retried.

use std::{
    io::{self, Write},
    net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket},
    os::unix::net::UnixDatagram,
    time::Duration,
};

use super::{Rfc5424Formatter, SyslogAddr};
use crate::{
    event::Event,
    sink::queue::{DeliveryError, Transport},
};

enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Unix(UnixDatagram),
}

/// Connects lazily and reconnects after any send error, so a syslog server
/// that restarts is picked up again by the next attempt.
pub(super) struct SyslogTransport {
    address: SyslogAddr,
    formatter: Rfc5424Formatter,
    /// TCP connect and write timeout, unix socket write timeout.
    timeout: Duration,
    connection: Option<Connection>,
}

impl SyslogTransport {
    pub(super) fn new(address: SyslogAddr, formatter: Rfc5424Formatter, timeout: Duration) -> Self {
        Self { address, formatter, timeout, connection: None }
    }

    fn connect(&self) -> io::Result<Connection> {
        match &self.address {
            SyslogAddr::Udp(host_port) => {
                let server = resolve(host_port)?.into_iter().next().ok_or_else(|| no_address(host_port))?;
                let local: SocketAddr = if server.is_ipv4() { ([0u8; 4], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(local)?;
                socket.connect(server)?;
                Ok(Connection::Udp(socket))
            }
            SyslogAddr::Tcp(host_port) => {
                let mut last_error = no_address(host_port);
                for server in resolve(host_port)? {
                    match TcpStream::connect_timeout(&server, self.timeout) {
                        Ok(stream) => {
                            stream.set_write_timeout(Some(self.timeout))?;
                            stream.set_nodelay(true)?;
                            return Ok(Connection::Tcp(stream));
                        }
                        Err(error) => last_error = error,
                    }
                }
                Err(last_error)
            }
            SyslogAddr::Unix(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(path)?;
                socket.set_write_timeout(Some(self.timeout))?;
                Ok(Connection::Unix(socket))
            }
        }
    }

    /// Sends on the open connection (opening one first if needed); a failed
    /// send drops the connection so the next attempt starts afresh.
    fn send_message(&mut self, message: &str) -> io::Result<()> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let sent = match &mut connection {
            Connection::Udp(socket) => socket.send(message.as_bytes()).map(drop),
            Connection::Unix(socket) => socket.send(message.as_bytes()).map(drop),
            Connection::Tcp(stream) => {
                let frame = format!("{} {message}", message.len());
                stream.write_all(frame.as_bytes())
            }
        };
        if sent.is_ok() {
            self.connection = Some(connection);
        }
        sent
    }
}

impl Transport for SyslogTransport {
    fn send(&mut self, batch: &[Event]) -> Result<(), DeliveryError> {
        for event in batch {
            let message = self.formatter.format(event);
            self.send_message(&message).map_err(|error| delivery_error(&self.address, error))?;
        }
        Ok(())
    }
}

fn resolve(host_port: &str) -> io::Result<Vec<SocketAddr>> {
    Ok(host_port.to_socket_addrs()?.collect())
}

fn no_address(host_port: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{host_port} resolves to no address"))
}

/// A message too large for one datagram will never fit; anything else (refused,
/// reset, unreachable, timed out, not resolvable yet) may pass.
fn delivery_error(address: &SyslogAddr, error: io::Error) -> DeliveryError {
    let message = format!("sending to {address} failed: {error}");
    if error.raw_os_error() == Some(libc::EMSGSIZE) {
        DeliveryError::Permanent(message)
    } else {
        DeliveryError::Transient(message)
    }
}
