#!/usr/bin/env python3
"""scikit-learn's IsolationForest on the feature matrices flowwatch-bench exports.

Usage: sklearn_iforest.py TRAIN.csv TEST.csv TEST_LABELS.csv

TRAIN and TEST are standardized feature rows (comma-separated, no header),
TEST_LABELS one 0/1 per test row (1 = malicious). Fits 100 trees on
max_samples=256, as flowwatch does, scores the test rows on one core and
prints one JSON object: ROC-AUC, average precision, fit and scoring seconds.
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

    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=0, n_jobs=1)
    started = time.perf_counter()
    forest.fit(train)
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    # score_samples is the negated paper score: higher means more normal.
    scores = -forest.score_samples(test)
    score_seconds = time.perf_counter() - started

    print(
        json.dumps(
            {
                "sklearn_version": __import__("sklearn").__version__,
                "train_rows": int(train.shape[0]),
                "test_rows": int(test.shape[0]),
                "roc_auc": float(roc_auc_score(labels, scores)),
                "pr_auc": float(average_precision_score(labels, scores)),
                "fit_seconds": fit_seconds,
                "score_seconds": score_seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
