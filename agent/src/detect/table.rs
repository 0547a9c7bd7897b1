//! Bounded per-entity state: an LRU table whose entries also expire when
//! idle, so memory stays bounded by `capacity` whatever the traffic, and a
//! host that went quiet stops costing anything after `ttl`.

use std::{hash::Hash, num::NonZeroUsize, time::Duration};

use lru::LruCache;
use rustc_hash::FxBuildHasher;

use crate::duration::saturating_ns;

#[derive(Debug)]
struct Tracked<V> {
    last_ns: u64,
    value: V,
}

#[derive(Debug)]
pub struct EntityTable<K: Hash + Eq, V> {
    entries: LruCache<K, Tracked<V>, FxBuildHasher>,
    ttl_ns: u64,
    /// Entries dropped because the table was full (not because they idled).
    evicted_full: u64,
}

impl<K: Hash + Eq, V> EntityTable<K, V> {
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        Self { entries: LruCache::with_hasher(capacity, FxBuildHasher), ttl_ns: saturating_ns(ttl), evicted_full: 0 }
    }

    /// The entry for `key`, created by `init` when missing (dropping the
    /// least recently used entry if the table is full), marked seen at `now_ns`.
    pub fn entry(&mut self, key: K, now_ns: u64, init: impl FnOnce() -> V) -> &mut V {
        // One lookup: whether the key was new shows in `init` having run
        // (a flood brings a new source with nearly every flow).
        let full = self.entries.len() == self.entries.cap().get();
        let mut inserted = false;
        let tracked = self.entries.get_or_insert_mut(key, || {
            inserted = true;
            Tracked { last_ns: now_ns, value: init() }
        });
        tracked.last_ns = tracked.last_ns.max(now_ns);
        self.evicted_full += u64::from(full && inserted);
        &mut tracked.value
    }

    /// The entry for `key` if there is one, marked seen at `now_ns`.
    pub fn get_mut(&mut self, key: &K, now_ns: u64) -> Option<&mut V> {
        let tracked = self.entries.get_mut(key)?;
        tracked.last_ns = tracked.last_ns.max(now_ns);
        Some(&mut tracked.value)
    }

    /// The entry for `key` if there is one, left where it is in the LRU
    /// order and not marked seen: looking at an entry is not using it, and
    /// bumping one that stays would make a full table drop another first.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.entries.peek(key).map(|tracked| &tracked.value)
    }

    /// Removes the entry for `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.pop(key).map(|tracked| tracked.value)
    }

    /// Removes the entries `pick` chooses, and returns them least recently
    /// used first.
    pub fn take_where(&mut self, mut pick: impl FnMut(&V) -> bool) -> Vec<(K, V)>
    where
        K: Clone,
    {
        let keys: Vec<K> =
            self.entries.iter().rev().filter(|(_, tracked)| pick(&tracked.value)).map(|(key, _)| key.clone()).collect();
        keys.into_iter().filter_map(|key| self.entries.pop(&key).map(|tracked| (key, tracked.value))).collect()
    }

    /// Drops entries not seen for the table's time to live before `now_ns`.
    pub fn expire(&mut self, now_ns: u64) {
        while let Some((_, oldest)) = self.entries.peek_lru() {
            if oldest.last_ns.saturating_add(self.ttl_ns) > now_ns {
                break;
            }
            self.entries.pop_lru();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn evicted_full(&self) -> u64 {
        self.evicted_full
    }

    /// Every entry, least recently used first.
    #[cfg(test)]
    pub fn values_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().rev().map(|(key, tracked)| (key, &mut tracked.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn full_table_drops_the_least_recently_used() -> Result<(), Box<dyn std::error::Error>> {
        let mut table = EntityTable::new(NonZeroUsize::new(2).ok_or("zero")?, Duration::from_secs(60));
        *table.entry("a", 0, || 0) += 1;
        *table.entry("b", SEC, || 0) += 1;
        *table.entry("a", 2 * SEC, || 0) += 1;
        *table.entry("c", 3 * SEC, || 0) += 1;
        assert_eq!(table.len(), 2);
        assert_eq!(table.evicted_full(), 1);
        let kept: Vec<(&str, i32)> = table.values_mut().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(kept, vec![("a", 2), ("c", 1)]);
        Ok(())
    }

    #[test]
    fn peeking_leaves_the_lru_order_alone() -> Result<(), Box<dyn std::error::Error>> {
        let mut table = EntityTable::new(NonZeroUsize::new(2).ok_or("zero")?, Duration::from_secs(60));
        table.entry("a", 0, || 1);
        table.entry("b", SEC, || 2);
        assert_eq!(table.peek(&"a"), Some(&1));
        table.entry("c", 2 * SEC, || 3);
        let kept: Vec<&str> = table.values_mut().map(|(k, _)| *k).collect();
        assert_eq!(kept, vec!["b", "c"]);
        Ok(())
    }

    #[test]
    fn idle_entries_expire_after_the_ttl() -> Result<(), Box<dyn std::error::Error>> {
        let mut table = EntityTable::new(NonZeroUsize::new(8).ok_or("zero")?, Duration::from_secs(10));
        table.entry(1, 0, || ());
        table.entry(2, 5 * SEC, || ());
        table.expire(10 * SEC);
        assert_eq!(table.len(), 1);
        table.expire(14 * SEC);
        assert_eq!(table.len(), 1);
        table.expire(15 * SEC);
        assert_eq!(table.len(), 0);
        assert_eq!(table.evicted_full(), 0);
        Ok(())
    }
}
