//! The fitted forest: every tree's nodes in one flat array, scored without
//! allocation or branching on the data.
//!
//! A node is 8 bytes (f32 threshold, u8 feature, u16 index of the left
//! child within its tree; the right child is next to it). Rows are read
//! from a [`ForestRow`] of 256 values, so the feature load needs no bounds
//! check. The three fields are read together on
//! every visit, so they share a cache line rather than living in three
//! arrays; the leaves' path lengths, read once per tree, are kept apart.
//! A leaf points to itself with a NaN threshold (no value is at or above
//! it), so a walk can take exactly `depth_limit` steps with no "is this a
//! leaf" branch and never leaves its tree, which lets a step skip the bounds
//! check ([`step`]), and sixteen walks go
//! in lockstep to keep independent loads in flight: sixteen trees for one
//! row ([`IsolationForest::score_row`]), or one tree for the sixteen rows
//! of a [`ForestBatch`] ([`IsolationForest::score_batch`]), which keeps
//! that tree's 4 KB of nodes in the L1 cache for the whole batch instead of
//! streaming all 400 KB of the forest through it for every row. A batch's
//! rows sit back to back and its lanes are a fixed-size array, so the
//! compiler unrolls the sixteen walks, keeps their positions in registers
//! and reads every row at a constant offset from one base pointer.
//!
//! Why this layout: a throwaway benchmark (not kept; 100 trees of ψ = 256,
//! 43 features, best of 7 over 200,000 rows on the 2-core development VM)
//! gave 0.96 M rows/s for a slice of boxed rows and lanes of run-time
//! length, 1.2–1.4 M for fixed lanes over a contiguous batch (8 or 32 fixed
//! lanes: ≈ 1.0 M, register spills) and ≈ 1.5 M → 1.75 M without the bounds
//! check; complete trees stored level by level (children at `2i + 1`,
//! `2i + 2`, no child index to load) were slower, ≈ 0.95 M, as the compiler
//! then spilled the lanes' comparisons. `cargo xtask bench -- --only models`
//! measures the kept layout ("Isolation Forest alone").
//!
//! Both add the trees' path lengths in tree order, so a row scores
//! bit-for-bit the same alone or in a batch.

use linfa::{
    DatasetBase,
    traits::{Fit, PredictInplace},
};
use ndarray::{Array1, ArrayBase, ArrayView1, Axis, Data, Ix2};
use rand_linfa::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{
    IsolationForestError, IsolationForestValidParams, MAX_FEATURES, MAX_SUBSAMPLE, average_path_length,
    grow::{Sample, Tree, grow},
};

#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    threshold: f32,
    feature: u8,
    /// Index of the left child within the tree; the node's own index for a leaf.
    left: u16,
}

impl Node {
    /// `left < 2ψ − 1 ≤ 65,535` because ψ ≤ [`MAX_SUBSAMPLE`].
    pub(super) fn split(feature: u8, threshold: f32, left: usize) -> Self {
        debug_assert!(left < usize::from(u16::MAX));
        Self { threshold, feature, left: left as u16 }
    }

    pub(super) fn leaf(index: usize) -> Self {
        debug_assert!(index < usize::from(u16::MAX));
        Self { threshold: f32::NAN, feature: 0, left: index as u16 }
    }

    fn is_leaf(self, index: usize) -> bool {
        usize::from(self.left) == index
    }

    /// The child `row` goes to: left when below the threshold (NaN goes left).
    #[inline(always)]
    fn next(self, row: &[f32; MAX_FEATURES]) -> usize {
        usize::from(self.left) + usize::from(row[usize::from(self.feature)] >= self.threshold)
    }
}

/// Bit for bit, so that the NaN of two leaves compares equal.
impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        (self.threshold.to_bits(), self.feature, self.left) == (other.threshold.to_bits(), other.feature, other.left)
    }
}

/// A feature value as the forest reads it: single precision, magnitudes
/// beyond `f32`'s range clamped to its largest finite values, so a grown
/// threshold is always finite (a model file with another is refused) and a
/// row value past the range compares like the largest one. NaN stays NaN
/// (and goes left).
fn forest_value(value: f64) -> f32 {
    (value as f32).clamp(f32::MIN, f32::MAX)
}

/// One step of a walk from `position` through `nodes`, which start at a
/// tree's root (and may run on past the tree).
#[inline(always)]
fn step(nodes: &[Node], position: usize, row: &[f32; MAX_FEATURES]) -> usize {
    debug_assert!(position < nodes.len());
    // SAFETY: every walk starts at the root (index 0; a tree has at least
    // one node) and only ever moves from a split to one of its children,
    // which lie inside the tree (`left + 1 < len`: true of a grown tree by
    // construction, checked for a loaded one by `TreeRepr::into_nodes`), or
    // stays on a leaf, whose self-index and NaN threshold hold it in place
    // whatever the row's value. So `position` < the tree's length ≤ `nodes.len()`.
    unsafe { nodes.get_unchecked(position) }.next(row)
}

/// One row as the forest reads it: single precision, padded to
/// [`MAX_FEATURES`] so that a node's `u8` feature index is always in bounds
/// (no check on the hottest load). Reuse one across rows.
#[derive(Clone, Debug)]
pub struct ForestRow(Box<[f32; MAX_FEATURES]>);

impl Default for ForestRow {
    fn default() -> Self {
        Self(Box::new([0.0; MAX_FEATURES]))
    }
}

impl ForestRow {
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies `values` in (at most [`MAX_FEATURES`]; a forest never reads past its `dims`).
    pub fn load<'a>(&mut self, values: impl IntoIterator<Item = &'a f64>) {
        load_values(&mut self.0, values);
    }
}

fn load_values<'a>(row: &mut [f32; MAX_FEATURES], values: impl IntoIterator<Item = &'a f64>) {
    for (slot, &value) in row.iter_mut().zip(values) {
        *slot = forest_value(value);
    }
}

/// [`BATCH_ROWS`] row slots back to back, as [`IsolationForest::score_batch`]
/// walks them (see the module docs). Reuse one across batches: how many
/// slots hold this batch's rows is the caller's to say, by the length of the
/// scores it asks for, so the batch keeps no count that could go stale.
#[derive(Clone, Debug)]
pub struct ForestBatch {
    rows: Box<[[f32; MAX_FEATURES]; LANES]>,
}

impl Default for ForestBatch {
    fn default() -> Self {
        Self { rows: Box::new([[0.0; MAX_FEATURES]; LANES]) }
    }
}

impl ForestBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies `values` into `slot` (as [`ForestRow::load`]).
    ///
    /// # Panics
    /// When `slot >= BATCH_ROWS`.
    pub fn load<'a>(&mut self, slot: usize, values: impl IntoIterator<Item = &'a f64>) {
        load_values(&mut self.rows[slot], values);
    }
}

/// Walks in lockstep (see the module docs).
const LANES: usize = 16;

/// Rows per call of [`IsolationForest::score_batch`] that keep every lane busy.
pub const BATCH_ROWS: usize = LANES;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "ForestRepr", try_from = "ForestRepr")]
pub struct IsolationForest {
    dims: usize,
    /// ψ actually used: the asked subsample, or every row of a smaller set.
    samples: usize,
    /// Deepest leaf of any tree: the number of steps of every walk.
    depth_limit: usize,
    nodes: Vec<Node>,
    path_lengths: Vec<f64>,
    /// First node of each tree.
    tree_starts: Vec<usize>,
}

impl IsolationForest {
    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn trees(&self) -> usize {
        self.tree_starts.len()
    }

    /// ψ, the rows each tree was grown on.
    pub fn samples(&self) -> usize {
        self.samples
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Depth of the deepest leaf; at most ⌈log2 ψ⌉.
    pub fn depth_limit(&self) -> usize {
        self.depth_limit
    }

    /// The anomaly score `2^(-E[h] / c(ψ))` of one row.
    pub fn score_row(&self, row: &ForestRow) -> f64 {
        self.score_of(self.total_path_length(&row.0))
    }

    /// [`Self::score_row`] for one row of a batch.
    ///
    /// # Panics
    /// When `slot >= BATCH_ROWS`.
    pub fn score_slot(&self, batch: &ForestBatch, slot: usize) -> f64 {
        self.score_of(self.total_path_length(&batch.rows[slot]))
    }

    /// [`Self::score_row`] for an `f64` row (allocates; loops should reuse a [`ForestRow`]).
    pub fn score(&self, row: &[f64]) -> f64 {
        let mut forest_row = ForestRow::new();
        forest_row.load(row);
        self.score_row(&forest_row)
    }

    /// Scores the first `scores.len()` slots of `batch` (at most
    /// [`BATCH_ROWS`]) into `scores`, a tree at a time over the whole batch:
    /// the fast path when several rows are at hand.
    pub fn score_batch(&self, batch: &ForestBatch, scores: &mut [f64]) {
        assert!(scores.len() <= BATCH_ROWS, "{} scores asked of a {BATCH_ROWS}-row batch", scores.len());
        // Every slot is walked, the unused ones too (their scores are
        // dropped): a fixed lane count is what lets the walks stay in registers.
        let totals = self.batch_path_lengths(&batch.rows);
        for (score, total) in scores.iter_mut().zip(&totals) {
            *score = self.score_of(*total);
        }
    }

    /// The summed path lengths of all lanes, tree by tree in tree order.
    fn batch_path_lengths(&self, rows: &[[f32; MAX_FEATURES]; LANES]) -> [f64; LANES] {
        let mut totals = [0.0f64; LANES];
        for &start in &self.tree_starts {
            // From the tree's root to the end of the forest: walks stay in the tree.
            let (nodes, path_lengths) = (&self.nodes[start..], &self.path_lengths[start..]);
            let mut at = [0usize; LANES];
            for _ in 0..self.depth_limit {
                for (position, row) in at.iter_mut().zip(rows) {
                    *position = step(nodes, *position, row);
                }
            }
            for (total, position) in totals.iter_mut().zip(at) {
                *total += path_lengths[position];
            }
        }
        totals
    }

    /// The score of a row whose path lengths add up to `total`.
    fn score_of(&self, total: f64) -> f64 {
        let mean = total / self.trees() as f64;
        (-mean / average_path_length(self.samples)).exp2()
    }

    /// One row's path lengths over all trees, sixteen trees in lockstep.
    fn total_path_length(&self, row: &[f32; MAX_FEATURES]) -> f64 {
        let mut total = 0.0;
        for starts in self.tree_starts.chunks(LANES) {
            let lanes = starts.len();
            let mut trees: [(&[Node], &[f64]); LANES] = [(&[], &[]); LANES];
            for (tree, &start) in trees.iter_mut().zip(starts) {
                *tree = (&self.nodes[start..], &self.path_lengths[start..]);
            }
            let mut at = [0usize; LANES];
            for _ in 0..self.depth_limit {
                for (position, (nodes, _)) in at[..lanes].iter_mut().zip(&trees) {
                    *position = step(nodes, *position, row);
                }
            }
            // Tree by tree, as `score_batch` adds them.
            for (position, (_, path_lengths)) in at[..lanes].iter().zip(&trees) {
                total += path_lengths[*position];
            }
        }
        total
    }

    /// A forest of `trees`.
    fn new(dims: usize, samples: usize, trees: Vec<Tree>) -> Self {
        let mut forest = IsolationForest {
            dims,
            samples,
            depth_limit: 0,
            nodes: Vec::with_capacity(trees.iter().map(|tree| tree.nodes.len()).sum()),
            path_lengths: Vec::new(),
            tree_starts: Vec::with_capacity(trees.len()),
        };
        for tree in trees {
            forest.tree_starts.push(forest.nodes.len());
            forest.depth_limit = forest.depth_limit.max(tree_depth(&tree.nodes));
            forest.nodes.extend(tree.nodes);
            forest.path_lengths.extend(tree.path_lengths);
        }
        forest
    }

    fn tree(&self, index: usize) -> (&[Node], &[f64]) {
        let start = self.tree_starts[index];
        let end = self.tree_starts.get(index + 1).copied().unwrap_or(self.nodes.len());
        (&self.nodes[start..end], &self.path_lengths[start..end])
    }
}

/// Depth of the deepest leaf (children always follow their parent, so the
/// walk ends even on corrupt input that passed validation).
fn tree_depth(nodes: &[Node]) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(0usize, 0usize)];
    while let Some((index, depth)) = stack.pop() {
        let node = nodes[index];
        if node.is_leaf(index) {
            deepest = deepest.max(depth);
        } else {
            let left = usize::from(node.left);
            stack.extend([(left, depth + 1), (left + 1, depth + 1)]);
        }
    }
    deepest
}

/// ⌈log2 ψ⌉ for ψ ≥ 2.
fn depth_limit(samples: usize) -> u32 {
    usize::BITS - (samples - 1).leading_zeros()
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, IsolationForestError> for IsolationForestValidParams {
    type Object = IsolationForest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<IsolationForest, IsolationForestError> {
        let records = dataset.records();
        let (rows, dims) = records.dim();
        if rows < 2 || dims == 0 {
            return Err(IsolationForestError::TooLittleData { rows, features: dims });
        }
        if dims > MAX_FEATURES {
            return Err(IsolationForestError::TooManyFeatures(dims));
        }
        let samples = self.subsample().min(rows);
        let depth_limit = depth_limit(samples);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed());
        let mut trees = Vec::with_capacity(self.trees());
        let mut values = vec![0f32; samples * dims];
        for _ in 0..self.trees() {
            let picked = rand_linfa::seq::index::sample(&mut rng, rows, samples);
            for (slot, row) in values.chunks_exact_mut(dims).zip(picked.iter()) {
                for (value, &source) in slot.iter_mut().zip(records.row(row)) {
                    *value = forest_value(source);
                }
            }
            trees.push(grow(Sample { values: &values, dims }, depth_limit, &mut rng));
        }
        Ok(IsolationForest::new(dims, samples, trees))
    }
}

/// One score per row.
///
/// # Panics
/// When `x` has another number of columns than the training data, or `y`
/// another length than `x` has rows (as linfa's own models do).
impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for IsolationForest {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        assert_eq!(x.ncols(), self.dims, "rows must have as many features as the training data");
        assert_eq!(x.nrows(), y.len(), "one target per row");
        let mut batch = ForestBatch::new();
        let mut scores = [0.0; LANES];
        for (rows, mut targets) in x.axis_chunks_iter(Axis(0), LANES).zip(y.axis_chunks_iter_mut(Axis(0), LANES)) {
            for (slot, row) in rows.rows().into_iter().enumerate() {
                batch.load(slot, row);
            }
            let scores = &mut scores[..rows.nrows()];
            self.score_batch(&batch, scores);
            targets.assign(&ArrayView1::from(&*scores));
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// The file form: per tree, parallel arrays; `feature` is `null` for a leaf.
#[derive(Serialize, Deserialize)]
struct ForestRepr {
    dims: usize,
    samples: usize,
    trees: Vec<TreeRepr>,
}

#[derive(Serialize, Deserialize)]
struct TreeRepr {
    feature: Vec<Option<u8>>,
    threshold: Vec<f32>,
    left: Vec<u16>,
    path_length: Vec<f64>,
}

impl From<IsolationForest> for ForestRepr {
    fn from(forest: IsolationForest) -> Self {
        let trees = (0..forest.trees())
            .map(|index| {
                let (nodes, path_lengths) = forest.tree(index);
                let leaf = |i: usize| nodes[i].is_leaf(i);
                TreeRepr {
                    feature: (0..nodes.len()).map(|i| (!leaf(i)).then_some(nodes[i].feature)).collect(),
                    threshold: (0..nodes.len()).map(|i| if leaf(i) { 0.0 } else { nodes[i].threshold }).collect(),
                    left: (0..nodes.len()).map(|i| if leaf(i) { 0 } else { nodes[i].left }).collect(),
                    path_length: path_lengths.to_vec(),
                }
            })
            .collect();
        Self { dims: forest.dims, samples: forest.samples, trees }
    }
}

impl TryFrom<ForestRepr> for IsolationForest {
    type Error = IsolationForestError;

    fn try_from(repr: ForestRepr) -> Result<Self, Self::Error> {
        let invalid = |what: String| Err(IsolationForestError::Invalid(what));
        if repr.dims == 0 || repr.dims > MAX_FEATURES {
            return invalid(format!("{} features", repr.dims));
        }
        if !(2..=MAX_SUBSAMPLE).contains(&repr.samples) {
            return invalid(format!("subsample of {} rows", repr.samples));
        }
        if repr.trees.is_empty() {
            return invalid("no trees".to_owned());
        }
        let mut trees = Vec::with_capacity(repr.trees.len());
        for (index, tree) in repr.trees.into_iter().enumerate() {
            match tree.into_nodes(repr.dims, 2 * repr.samples - 1) {
                Ok(tree) => trees.push(tree),
                Err(what) => return invalid(format!("tree {index}: {what}")),
            }
        }
        Ok(IsolationForest::new(repr.dims, repr.samples, trees))
    }
}

impl TreeRepr {
    fn into_nodes(self, dims: usize, max_nodes: usize) -> Result<Tree, String> {
        let len = self.feature.len();
        if len == 0 || len > max_nodes {
            return Err(format!("{len} nodes (1 to {max_nodes} expected)"));
        }
        if [self.threshold.len(), self.left.len(), self.path_length.len()] != [len; 3] {
            return Err("node arrays of different lengths".to_owned());
        }
        let mut nodes = Vec::with_capacity(len);
        for index in 0..len {
            let node = match self.feature[index] {
                None if self.path_length[index].is_finite() && self.path_length[index] >= 0.0 => Node::leaf(index),
                None => return Err(format!("node {index}: path length {}", self.path_length[index])),
                Some(feature) => {
                    let (threshold, left) = (self.threshold[index], usize::from(self.left[index]));
                    if usize::from(feature) >= dims || !threshold.is_finite() || left <= index || left + 1 >= len {
                        return Err(format!("node {index}: feature {feature}, threshold {threshold}, left {left}"));
                    }
                    Node::split(feature, threshold, left)
                }
            };
            nodes.push(node);
        }
        Ok(Tree { nodes, path_lengths: self.path_length })
    }
}
