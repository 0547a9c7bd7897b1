use linfa::{
    DatasetBase, ParamGuard,
    traits::{Fit, Predict},
};
use ndarray::{Array1, Array2, Axis};
use rand_linfa::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `rows` points uniform in [-1, 1]², then the point (6, 6).
fn cloud_with_outlier(rows: usize) -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut records = Array2::from_shape_fn((rows + 1, 2), |_| rng.gen_range(-1.0..1.0));
    records.row_mut(rows).fill(6.0);
    records
}

fn fit(records: &Array2<f64>, params: IsolationForestParams) -> Result<IsolationForest, IsolationForestError> {
    params.fit(&DatasetBase::from(records.view()))
}

#[test]
fn average_path_length_known_values() {
    assert_eq!(average_path_length(0), 0.0);
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    // 2 (ln(n−1) + γ) − 2 (n−1)/n, as scikit-learn's _average_path_length.
    assert!((average_path_length(3) - 1.207392357589623).abs() < 1e-12);
    assert!((average_path_length(256) - 10.244770920119917).abs() < 1e-12);
}

#[test]
fn an_obvious_outlier_scores_high_and_inliers_near_half() -> TestResult {
    let records = cloud_with_outlier(1_000);
    let forest = fit(&records, IsolationForestParams::new().seed(1))?;
    let scores: Array1<f64> = forest.predict(&records);
    let outlier = scores[1_000];
    let inlier_mean = scores.slice(ndarray::s![..1_000]).mean().unwrap_or(f64::NAN);
    assert!(outlier > 0.7, "outlier scored {outlier}");
    assert!((0.45..0.55).contains(&inlier_mean), "inliers scored {inlier_mean} on average");
    assert!(scores.slice(ndarray::s![..1_000]).iter().all(|&s| s < outlier));
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    Ok(())
}

#[test]
fn identical_rows_score_exactly_one_half() -> TestResult {
    // No split separates identical rows: every tree is one leaf holding all
    // ψ rows, h = c(ψ), and the score is 2^-1.
    let records = Array2::from_elem((10, 3), 4.2);
    let forest = fit(&records, IsolationForestParams::new())?;
    assert_eq!(forest.nodes(), 100);
    assert!((forest.score(&[4.2, 4.2, 4.2]) - 0.5).abs() < 1e-12);
    assert!((forest.score(&[-100.0, 0.0, 100.0]) - 0.5).abs() < 1e-12);
    Ok(())
}

#[test]
fn two_rows_are_isolated_in_one_split() -> TestResult {
    // ψ = 2: the root splits the two rows, each leaf is at depth 1 with one
    // row, so h = 1 = c(2) and both score 2^-1.
    let records = ndarray::array![[0.0, 1.0], [1.0, 1.0]];
    let forest = fit(&records, IsolationForestParams::new().subsample(2).trees(10))?;
    assert_eq!(forest.nodes(), 30);
    assert_eq!(forest.score(&[0.0, 1.0]), 0.5);
    assert_eq!(forest.score(&[1.0, 1.0]), 0.5);
    Ok(())
}

#[test]
fn same_seed_same_forest_other_seed_other_forest() -> TestResult {
    let records = cloud_with_outlier(500);
    let a = fit(&records, IsolationForestParams::new().seed(42))?;
    let b = fit(&records, IsolationForestParams::new().seed(42))?;
    let c = fit(&records, IsolationForestParams::new().seed(43))?;
    assert_eq!(a, b);
    let (sa, sb, sc): (Array1<f64>, Array1<f64>, Array1<f64>) =
        (a.predict(&records), b.predict(&records), c.predict(&records));
    assert_eq!(sa, sb);
    assert_ne!(a, c);
    assert_ne!(sa, sc);
    Ok(())
}

#[test]
fn subsample_size_and_depth_limit_are_respected() -> TestResult {
    let records = cloud_with_outlier(1_000);
    let forest = fit(&records, IsolationForestParams::new().trees(20).subsample(64))?;
    assert_eq!(forest.samples(), 64);
    assert_eq!(forest.trees(), 20);
    // A tree on 64 distinct rows has at most 2·64 − 1 nodes and depth ⌈log2 64⌉ = 6.
    assert!(forest.nodes() <= 20 * 127, "{} nodes", forest.nodes());
    assert!(forest.depth_limit() <= 6, "depth {}", forest.depth_limit());

    // ψ larger than the data: every row is used.
    let small = cloud_with_outlier(99);
    let forest = fit(&small, IsolationForestParams::new())?;
    assert_eq!(forest.samples(), 100);
    assert!(forest.depth_limit() <= 7, "depth {}", forest.depth_limit());
    Ok(())
}

#[test]
fn bad_parameters_and_data_are_refused() {
    fn message<T>(result: Result<T, IsolationForestError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }
    assert_eq!(
        message(IsolationForestParams::new().trees(0).check()),
        "isolation forest needs at least one tree (got 0)"
    );
    assert_eq!(
        message(IsolationForestParams::new().subsample(1).check()),
        "isolation forest subsample must be between 2 and 32768 rows (got 1)"
    );
    let one_row = Array2::<f64>::zeros((1, 3));
    assert_eq!(
        message(fit(&one_row, IsolationForestParams::new())),
        "isolation forest needs at least 2 training rows with at least 1 feature (got 1 × 3)"
    );
}

#[test]
fn round_trips_through_serde_and_rejects_corrupt_trees() -> TestResult {
    let records = cloud_with_outlier(300);
    let forest = fit(&records, IsolationForestParams::new().trees(5))?;
    let json = serde_json::to_string(&forest)?;
    let back: IsolationForest = serde_json::from_str(&json)?;
    assert_eq!(back, forest);
    assert_eq!(back.depth_limit(), forest.depth_limit());

    let mut value: serde_json::Value = serde_json::from_str(&json)?;
    value["trees"][2]["left"][0] = serde_json::json!(0); // root pointing at itself
    let err = serde_json::from_value::<IsolationForest>(value).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.starts_with("isolation forest data is invalid: tree 2: node 0:"), "{err}");

    let mut value: serde_json::Value = serde_json::from_str(&json)?;
    value["trees"][0]["feature"][0] = serde_json::json!(2); // only features 0 and 1 exist
    assert!(serde_json::from_value::<IsolationForest>(value).is_err());
    Ok(())
}

#[test]
fn a_batch_scores_every_row_exactly_as_alone() -> TestResult {
    // 37 rows: two full batches of 16 and a partial one of 5.
    let records = cloud_with_outlier(36);
    let forest = fit(&cloud_with_outlier(500), IsolationForestParams::new().seed(3))?;
    let rows: Vec<ForestRow> = records
        .rows()
        .into_iter()
        .map(|row| {
            let mut forest_row = ForestRow::new();
            forest_row.load(row);
            forest_row
        })
        .collect();
    let alone: Vec<f64> = rows.iter().map(|row| forest.score_row(row)).collect();
    let mut batched = Vec::new();
    let mut batch = ForestBatch::new();
    for chunk in records.axis_chunks_iter(Axis(0), BATCH_ROWS) {
        // Stale rows of the previous batch stay in the unused slots.
        for (slot, row) in chunk.rows().into_iter().enumerate() {
            batch.load(slot, row);
        }
        let mut scores = [0.0; BATCH_ROWS];
        forest.score_batch(&batch, &mut scores[..chunk.nrows()]);
        batched.extend_from_slice(&scores[..chunk.nrows()]);
        assert_eq!(forest.score_slot(&batch, chunk.nrows() - 1), batched[batched.len() - 1]);
    }
    assert_eq!(batched, alone);
    let predicted: Array1<f64> = forest.predict(&records);
    assert_eq!(predicted.to_vec(), alone);
    // The outlier (last row, in the partial batch) still ranks first.
    assert!(batched[..36].iter().all(|&s| s < batched[36]));
    Ok(())
}

#[test]
fn values_beyond_single_precision_score_like_any_value_past_every_split() -> TestResult {
    let forest = fit(&cloud_with_outlier(500), IsolationForestParams::new().seed(5))?;
    // Every threshold lies within the training values, so 1e30 goes right
    // at every split; +∞ and 1e300 (+∞ once in f32) must take the same
    // paths and stay on their leaves, and −∞ take those of −1e30.
    let score = |value: f64| forest.score(&[value, value]);
    let far = score(1e30);
    assert!(far > 0.5 && far <= 1.0, "{far}");
    assert_eq!(score(f64::INFINITY), far);
    assert_eq!(score(1e300), far);
    assert_eq!(score(f64::NEG_INFINITY), score(-1e30));
    Ok(())
}
