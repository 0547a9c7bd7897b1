//! The heaviest conversations by bytes, in bounded memory: a replay of a
//! scan or a flood has millions of distinct conversations, and the dashboard
//! must not grow with them.

use std::{collections::HashMap, net::IpAddr};

/// A conversation as the dashboard groups flows: both hosts and the service
/// (protocol and responder port), so repeated connections add up.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conversation {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub dst_port: u16,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Volume {
    pub bytes: u64,
    pub packets: u64,
    pub flows: u64,
}

/// Keeps fewer than `2 × keep` conversations. When full, only the `keep`
/// largest stay: a conversation that stays among the largest is counted
/// exactly; one pruned and seen again starts over from zero (the view is of
/// heavy hitters, which are never pruned while they are heavy).
#[derive(Debug)]
pub struct TopTalkers {
    keep: usize,
    volumes: HashMap<Conversation, Volume>,
    pruned: u64,
}

impl TopTalkers {
    pub fn new(keep: usize) -> Self {
        let keep = keep.max(1);
        Self { keep, volumes: HashMap::with_capacity(2 * keep), pruned: 0 }
    }

    pub fn add(&mut self, conversation: Conversation, bytes: u64, packets: u64) {
        let volume = self.volumes.entry(conversation).or_default();
        volume.bytes += bytes;
        volume.packets += packets;
        volume.flows += 1;
        if self.volumes.len() >= 2 * self.keep {
            self.prune();
        }
    }

    fn prune(&mut self) {
        let mut ranked: Vec<(Conversation, Volume)> = self.volumes.drain().collect();
        ranked.select_nth_unstable_by(self.keep - 1, |a, b| b.1.bytes.cmp(&a.1.bytes));
        self.pruned += (ranked.len() - self.keep) as u64;
        ranked.truncate(self.keep);
        self.volumes.extend(ranked);
    }

    /// The `n` largest by bytes, largest first (ties in address order, so
    /// the view is stable between frames).
    pub fn top(&self, n: usize) -> Vec<(Conversation, Volume)> {
        let mut all: Vec<(Conversation, Volume)> = self.volumes.iter().map(|(c, v)| (*c, *v)).collect();
        all.sort_unstable_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }

    /// Conversations dropped from the table so far.
    pub fn pruned(&self) -> u64 {
        self.pruned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn conversation(last: u8) -> Conversation {
        Conversation {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 1, last)),
            proto: 6,
            dst_port: 443,
        }
    }

    #[test]
    fn flows_of_one_conversation_add_up() {
        let mut talkers = TopTalkers::new(4);
        talkers.add(conversation(1), 100, 2);
        talkers.add(conversation(1), 50, 1);
        talkers.add(conversation(2), 120, 1);
        let top = talkers.top(10);
        assert_eq!(top[0], (conversation(1), Volume { bytes: 150, packets: 3, flows: 2 }));
        assert_eq!(top[1].0, conversation(2));
        assert_eq!(top.len(), 2);
    }

    #[test]
    fn heavy_hitters_survive_a_flood_of_small_conversations_exactly() {
        let mut talkers = TopTalkers::new(3);
        talkers.add(conversation(200), 1_000_000, 1000);
        for last in 0..150u8 {
            talkers.add(conversation(last), 60, 1);
            talkers.add(conversation(200), 1_000, 1);
        }
        assert!(talkers.volumes.len() < 6, "bounded: {}", talkers.volumes.len());
        assert!(talkers.pruned() > 100);
        assert_eq!(talkers.top(1)[0], (conversation(200), Volume { bytes: 1_150_000, packets: 1150, flows: 151 }));
    }
}
