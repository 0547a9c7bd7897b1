#!/usr/bin/env python3
"""scikit-learn's IsolationForest on the feature matrices flowwatch-bench exports.

Usage: sklearn_iforest.py TRAIN.csv TEST.csv TEST_LABELS.csv [SEEDS]

TRAIN and TEST are standardized feature rows (comma-separated, no header),
TEST_LABELS one 0/1 per test row (1 = malicious). For each random_state
0..SEEDS-1 (default 1) fits 100 trees on max_samples=256, as flowwatch
does, and scores the test rows on one core. Prints one JSON object: the
ROC-AUC and average precision of every seed, and the median fit and
scoring seconds over the seeds: wall clock, and for scoring also the
process's CPU time (all threads), which does not count the time other
processes held the core on a shared machine.
"""

import json
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score


def main() -> None:
    train_path, test_path, labels_path = sys.argv[1:4]
    train = np.loadtxt(train_path, delimiter=",", ndmin=2)
    test = np.loadtxt(test_path, delimiter=",", ndmin=2)
    labels = np.loadtxt(labels_path, dtype=int, ndmin=1)
    seeds = int(sys.argv[4]) if len(sys.argv) > 4 else 1

    roc_aucs, pr_aucs, fit_seconds, score_seconds, score_cpu_seconds = [], [], [], [], []
    for seed in range(seeds):
        forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=1)
        started = time.perf_counter()
        forest.fit(train)
        fit_seconds.append(time.perf_counter() - started)

        started, cpu_started = time.perf_counter(), time.process_time()
        # score_samples is the negated paper score: higher means more normal.
        scores = -forest.score_samples(test)
        score_seconds.append(time.perf_counter() - started)
        score_cpu_seconds.append(time.process_time() - cpu_started)
        roc_aucs.append(float(roc_auc_score(labels, scores)))
        pr_aucs.append(float(average_precision_score(labels, scores)))

    print(
        json.dumps(
            {
                "sklearn_version": __import__("sklearn").__version__,
                "train_rows": int(train.shape[0]),
                "test_rows": int(test.shape[0]),
                "roc_auc": roc_aucs,
                "pr_auc": pr_aucs,
                "fit_seconds": float(np.median(fit_seconds)),
                "score_seconds": float(np.median(score_seconds)),
                "score_cpu_seconds": float(np.median(score_cpu_seconds)),
            }
        )
    )


if __name__ == "__main__":
    main()
