//! Growing one isolation tree on a subsample, straight into the flat layout
//! the forest scores with.

use rand_linfa::Rng;

use super::{average_path_length, forest::Node};

/// One tree in the forest's layout: node 0 is the root; the children of a
/// split are adjacent (`left`, `left + 1`) and always after their parent.
pub(super) struct Tree {
    pub nodes: Vec<Node>,
    /// For a leaf: its depth plus `c(rows left in it)`; 0 for splits.
    pub path_lengths: Vec<f64>,
}

/// The subsample one tree is grown on, row-major.
pub(super) struct Sample<'a> {
    pub values: &'a [f32],
    pub dims: usize,
}

impl Sample<'_> {
    fn value(&self, row: usize, feature: usize) -> f32 {
        self.values[row * self.dims + feature]
    }
}

struct Grower<'a, R> {
    sample: Sample<'a>,
    depth_limit: u32,
    rng: &'a mut R,
    /// Scratch for drawing features without replacement.
    feature_order: Vec<u8>,
    tree: Tree,
}

pub(super) fn grow<R: Rng>(sample: Sample<'_>, depth_limit: u32, rng: &mut R) -> Tree {
    let rows = sample.values.len() / sample.dims.max(1);
    let mut grower = Grower {
        // dims ≤ MAX_FEATURES = 256, checked before growing.
        feature_order: (0..sample.dims).map(|f| f as u8).collect(),
        sample,
        depth_limit,
        rng,
        tree: Tree { nodes: vec![Node::leaf(0)], path_lengths: vec![0.0] },
    };
    let mut members: Vec<usize> = (0..rows).collect();
    grower.fill(0, &mut members, 0);
    grower.tree
}

impl<R: Rng> Grower<'_, R> {
    /// Makes node `slot` isolate `members` (indices into the sample).
    fn fill(&mut self, slot: usize, members: &mut [usize], depth: u32) {
        let split = if members.len() > 1 && depth < self.depth_limit { self.draw_split(members) } else { None };
        let Some((feature, threshold)) = split else {
            self.tree.nodes[slot] = Node::leaf(slot);
            self.tree.path_lengths[slot] = f64::from(depth) + average_path_length(members.len());
            return;
        };
        let left = self.tree.nodes.len();
        self.tree.nodes.extend([Node::leaf(left), Node::leaf(left + 1)]);
        self.tree.path_lengths.extend([0.0, 0.0]);
        self.tree.nodes[slot] = Node::split(feature, threshold, left);

        let boundary = partition(members, |row| self.sample.value(row, usize::from(feature)) < threshold);
        let (below, at_or_above) = members.split_at_mut(boundary);
        self.fill(left, below, depth + 1);
        self.fill(left + 1, at_or_above, depth + 1);
    }

    /// A random feature that still varies among `members` and a threshold
    /// in (min, max], so both sides are non-empty; `None` when every member
    /// is identical (they cannot be isolated further).
    fn draw_split(&mut self, members: &[usize]) -> Option<(u8, f32)> {
        let dims = self.feature_order.len();
        for drawn in 0..dims {
            let pick = self.rng.gen_range(drawn..dims);
            self.feature_order.swap(drawn, pick);
            let feature = self.feature_order[drawn];
            let (min, max) = members.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &row| {
                let value = self.sample.value(row, usize::from(feature));
                (lo.min(value), hi.max(value))
            });
            if min < max {
                let unit: f32 = self.rng.r#gen();
                let threshold = max - unit * (max - min);
                // Rounding can land on `min`, which would leave the left side empty.
                return Some((feature, if threshold > min { threshold } else { max }));
            }
        }
        None
    }
}

/// Moves the members for which `goes_left` holds to the front; returns how many.
fn partition(members: &mut [usize], goes_left: impl Fn(usize) -> bool) -> usize {
    let mut boundary = 0;
    for index in 0..members.len() {
        if goes_left(members[index]) {
            members.swap(boundary, index);
            boundary += 1;
        }
    }
    boundary
}
