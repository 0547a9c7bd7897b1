//! Where injections sit in the capture. Beaconing runs from early on to
//! the end; every other injection gets its own window, one after another
//! in a seeded order, each as long as its share of 90 % of the capture
//! (5 % margins at both ends). Windows never overlap, so no label's time
//! range covers another injection's traffic.

use rand::{RngExt as _, seq::SliceRandom as _};

use super::InjectionKind;
use crate::simulate::{
    rng::SimRng,
    units::{Nanos, SECS},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Nanos,
    pub len: Nanos,
}

impl Window {
    /// The first 80 % of the window: the injection's own activity, leaving
    /// the rest quiet before the next window.
    pub fn active(&self) -> Nanos {
        self.len / 5 * 4
    }
}

/// Relative window sizes: what each injection needs at full magnitude.
fn weight(kind: InjectionKind) -> u64 {
    match kind {
        InjectionKind::PortScan => 10,
        InjectionKind::HostSweep => 25,
        InjectionKind::SynFlood => 20,
        InjectionKind::Exfiltration => 90,
        InjectionKind::DnsTunnel => 75,
        InjectionKind::RareCountry => 40,
        InjectionKind::RareProtocol => 150,
        InjectionKind::Beaconing => 0,
    }
}

/// Windows for `kinds` (in the order given) in a capture `[start, start + duration)`.
pub fn plan_windows(kinds: &[InjectionKind], start: Nanos, duration: Nanos, rng: &mut SimRng) -> Vec<Window> {
    let margin = duration / 20;
    let mut slotted: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i] != InjectionKind::Beaconing).collect();
    slotted.shuffle(rng);
    let total: u64 = slotted.iter().map(|&i| weight(kinds[i])).sum();
    let usable = duration - 2 * margin;
    let mut windows = vec![Window { start, len: duration }; kinds.len()];
    let mut at = start + margin;
    for i in slotted {
        let len = (u128::from(usable) * u128::from(weight(kinds[i])) / u128::from(total.max(1))) as Nanos;
        windows[i] = Window { start: at, len };
        at += len;
    }
    for (window, kind) in windows.iter_mut().zip(kinds) {
        if *kind == InjectionKind::Beaconing {
            // The first beacon within the first minute.
            *window = Window { start: start + rng.random_range(SECS..60 * SECS).min(duration / 2), len: duration };
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn windows_are_disjoint_inside_the_margins() {
        let mut rng = stream(1, Stream::Timeline);
        let windows = plan_windows(&InjectionKind::ALL, 1000 * SECS, 600 * SECS, &mut rng);
        let mut slotted: Vec<Window> = InjectionKind::ALL
            .iter()
            .zip(&windows)
            .filter(|(kind, _)| **kind != InjectionKind::Beaconing)
            .map(|(_, w)| *w)
            .collect();
        slotted.sort_by_key(|w| w.start);
        assert_eq!(slotted[0].start, 1030 * SECS);
        for pair in slotted.windows(2) {
            assert!(pair[0].start + pair[0].len <= pair[1].start);
        }
        let last = slotted[slotted.len() - 1];
        assert!(last.start + last.len <= 1570 * SECS);
        // Exfiltration's share: 90 of 410 weight units of 540 s.
        let exfiltration = windows[3];
        assert_eq!(exfiltration.len / SECS, 118);
    }
}
