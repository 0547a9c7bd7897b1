//! One benign host's sessions: web visits (a DNS lookup unless the name is
//! cached, then a connection, often a few more to other sites for assets),
//! intranet pages, and for some hosts SSH to the intranet server or a git
//! fetch over SSH.

use std::collections::HashMap;

use rand::RngExt as _;

use super::browsing;
use crate::simulate::{
    SimError,
    activity::{Activity, Ctx},
    conversation,
    datagram::UdpPeer,
    dist::{LogNormal, exponential},
    output::Origin,
    population::{EphemeralPorts, Host},
    rng::SimRng,
    services::{
        dns,
        ssh::{self, Session, SshScript},
        web::{Exchange, Protocol, WebScript},
    },
    units::{MICROS, MILLIS, Nanos, SECS, secs_f64},
    world::{Server, World},
};

pub const INTRANET_NAME: &str = "intranet.corp.example";
pub const GIT_NAME: &str = "git.example.net";
const INTRANET_DNS_TTL: u32 = 3600;
/// Shares of sessions: SSH (of hosts that use it) and intranet pages.
const SSH_SHARE: f64 = 0.05;
const INTRANET_SHARE: f64 = 0.07;
/// Extra connections of a page visit (assets from other sites), uniformly one of these.
const EXTRA_CONNECTIONS: [u32; 7] = [0, 0, 0, 1, 1, 2, 3];
const SHELL_TIME: LogNormal = LogNormal::new(180.0, 0.9, 20.0, 2_400.0);
const GIT_FETCH: LogNormal = LogNormal::new(80_000.0, 1.5, 2_000.0, 50.0e6);

pub struct HostSessions {
    host: Host,
    rng: SimRng,
    next: Nanos,
    ports: EphemeralPorts,
    /// Name → when the cached answer expires.
    dns_cache: HashMap<String, Nanos>,
}

impl HostSessions {
    pub fn new(host: Host, mut rng: SimRng, start: Nanos) -> Self {
        let ports = EphemeralPorts::new(host.os, &mut rng);
        let next = start + exponential(&mut rng, host.session_gap);
        Self { host, rng, next, ports, dns_cache: HashMap::new() }
    }

    /// Resolves `name` at `at` unless cached; returns when the host can
    /// connect (right away, or once the answer is in).
    fn resolve(
        &mut self,
        name: &str,
        server: &Server,
        ttl: u32,
        at: Nanos,
        ctx: &mut Ctx<'_, '_>,
    ) -> Result<Nanos, SimError> {
        if self.dns_cache.get(name).is_some_and(|&expiry| expiry > at) {
            return Ok(at);
        }
        let (low, high) = self.host.os.ephemeral_ports();
        let client = UdpPeer { endpoint: self.host.endpoint, port: self.rng.random_range(low..=high) };
        let lookup = dns::a_lookup(dns::query_id(&mut self.rng), name, server.endpoint.ip, ttl)?;
        let delay = ctx.world.resolver_delay(&mut self.rng);
        let (datagrams, answered) =
            dns::exchange(client, &ctx.world.resolver, at, delay, lookup, Origin::Benign, &mut self.rng);
        ctx.spawn(Box::new(datagrams));
        self.dns_cache.insert(name.to_owned(), answered + u64::from(ttl) * SECS);
        Ok(answered + self.host.lan_rtt + 300 * MICROS)
    }

    fn web(
        &mut self,
        name: &str,
        server: &Server,
        protocol: Protocol,
        exchanges: Vec<Exchange>,
        at: Nanos,
        ctx: &mut Ctx<'_, '_>,
    ) {
        let script = WebScript::new(protocol, name.to_owned(), exchanges, browsing::close(&mut self.rng));
        let client = self.host.tcp_end(self.ports.next_port());
        let server_end = server.tcp_end(protocol.port());
        ctx.spawn(conversation::start(
            client,
            server_end,
            server.rate,
            Box::new(script),
            Origin::Benign,
            at,
            &mut self.rng,
        ));
    }

    /// A page: the site itself and a few asset connections to other sites.
    fn visit(&mut self, at: Nanos, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let world: &World = ctx.world;
        let extra = EXTRA_CONNECTIONS[self.rng.random_range(0..EXTRA_CONNECTIONS.len())];
        for i in 0..=extra {
            let site = world.pick_site(&mut self.rng);
            let start = if i == 0 { at } else { at + self.rng.random_range(30..400) * MILLIS };
            let ready = self.resolve(&site.name, &site.server, site.dns_ttl, start, ctx)?;
            let protocol = if site.https { Protocol::Https } else { Protocol::Http };
            let exchanges = browsing::exchanges(browsing::SITE_RESPONSE, &mut self.rng);
            self.web(&site.name, &site.server, protocol, exchanges, ready, ctx);
        }
        Ok(())
    }

    fn intranet(&mut self, at: Nanos, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let world: &World = ctx.world;
        let ready = self.resolve(INTRANET_NAME, &world.intranet, INTRANET_DNS_TTL, at, ctx)?;
        let exchanges = browsing::exchanges(browsing::INTRANET_RESPONSE, &mut self.rng);
        self.web(INTRANET_NAME, &world.intranet, Protocol::Https, exchanges, ready, ctx);
        Ok(())
    }

    /// A shell on the intranet server, or a git fetch from the git server.
    fn ssh(&mut self, at: Nanos, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let world: &World = ctx.world;
        let (name, server, session) = if self.rng.random_bool(0.7) {
            let until = at + secs_f64(SHELL_TIME.sample(&mut self.rng));
            (INTRANET_NAME, &world.intranet, Session::Interactive { until })
        } else {
            (GIT_NAME, &world.git_server, Session::Transfer { bytes: GIT_FETCH.sample_u64(&mut self.rng) })
        };
        let ready = self.resolve(name, server, INTRANET_DNS_TTL, at, ctx)?;
        let script = SshScript::new(session, ready, &mut self.rng);
        let client = self.host.tcp_end(self.ports.next_port());
        ctx.spawn(conversation::start(
            client,
            server.tcp_end(ssh::PORT),
            server.rate,
            Box::new(script),
            Origin::Benign,
            ready,
            &mut self.rng,
        ));
        Ok(())
    }
}

impl Activity for HostSessions {
    fn next_at(&self) -> Option<Nanos> {
        Some(self.next)
    }

    fn act(&mut self, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let now = self.next;
        self.next = now + exponential(&mut self.rng, self.host.session_gap).max(1);
        let roll: f64 = self.rng.random();
        if self.host.ssh_user && roll < SSH_SHARE {
            self.ssh(now, ctx)
        } else if roll < SSH_SHARE + INTRANET_SHARE {
            self.intranet(now, ctx)
        } else {
            self.visit(now, ctx)
        }
    }
}
