"""Writes metrics.json: scikit-learn / scipy reference values for KibanEval's metrics.

Every case stores its inputs and the reference values; `Tests/KibanEvalTests/MetricFixtureTests.swift`
recomputes them in Swift. Inputs come from numpy `default_rng(seed)` with a fixed seed per case
(scores rounded to few decimals where ties are wanted), so the file is identical on every run with
the pinned numpy / scikit-learn / scipy. Run from the repo root:

    python3 Tests/Fixtures/make_metric_fixtures.py
"""

import json
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn import metrics

OUT = Path(__file__).with_name("metrics.json")


def classification_case(name, labels, predicted):
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    binary = set(np.unique(np.concatenate([labels, predicted]))) <= {0, 1}
    case = {
        "name": name,
        "labels": labels.tolist(),
        "predicted": predicted.tolist(),
        "accuracy": metrics.accuracy_score(labels, predicted),
        "balanced_accuracy": metrics.balanced_accuracy_score(labels, predicted),
        "macro_f1": metrics.f1_score(labels, predicted, average="macro"),
        "mcc": metrics.matthews_corrcoef(labels, predicted),
        "confusion_matrix": metrics.confusion_matrix(labels, predicted).tolist(),
    }
    if binary:
        case["f1"] = metrics.f1_score(labels, predicted)
    return case


def ranking_case(name, labels, scores):
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    fpr, tpr, roc_thresholds = metrics.roc_curve(labels, scores)
    precision, recall, pr_thresholds = metrics.precision_recall_curve(labels, scores)
    assert np.isinf(roc_thresholds[0])
    return {
        "name": name,
        "labels": labels.tolist(),
        "scores": scores.tolist(),
        "auroc": metrics.roc_auc_score(labels, scores),
        "auprc": metrics.average_precision_score(labels, scores),
        "roc_false_positive_rates": fpr.tolist(),
        "roc_true_positive_rates": tpr.tolist(),
        # The first threshold is +inf, which JSON cannot hold; the Swift test checks it separately.
        "roc_finite_thresholds": roc_thresholds[1:].tolist(),
        "pr_precisions": precision.tolist(),
        "pr_recalls": recall.tolist(),
        "pr_thresholds": pr_thresholds.tolist(),
    }


def regression_case(name, targets, predicted):
    targets, predicted = np.asarray(targets, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    return {
        "name": name,
        "targets": targets.tolist(),
        "predicted": predicted.tolist(),
        "mae": metrics.mean_absolute_error(targets, predicted),
        "rmse": metrics.root_mean_squared_error(targets, predicted),
        "r2": metrics.r2_score(targets, predicted),
        "pearson": float(stats.pearsonr(targets, predicted).statistic),
        "spearman": float(stats.spearmanr(targets, predicted).statistic),
    }


def classification_cases():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 40)
    noisy = np.where(rng.random(40) < 0.75, labels, 1 - labels)
    yield classification_case("binary_balanced", labels, noisy)
    rng = np.random.default_rng(2)
    labels = (rng.random(60) < 0.1).astype(int)
    predicted = np.where(rng.random(60) < 0.85, labels, 1 - labels)
    yield classification_case("binary_imbalanced", labels, predicted)
    rng = np.random.default_rng(3)
    labels = rng.choice(4, 80, p=[0.55, 0.25, 0.15, 0.05])
    predicted = np.where(rng.random(80) < 0.6, labels, rng.integers(0, 4, 80))
    yield classification_case("multiclass_imbalanced", labels, predicted)
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 30) * 5 - 2  # classes -2, 3, 8
    predicted = np.where(rng.random(30) < 0.5, labels, 13)  # 13 appears only among predictions
    yield classification_case("multiclass_prediction_only_class", labels, predicted)
    yield classification_case("constant_prediction", [0, 1, 1, 0, 1], [1, 1, 1, 1, 1])


def ranking_cases():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 50)
    yield ranking_case("continuous", labels, rng.normal(size=50) + labels)
    rng = np.random.default_rng(12)
    labels = rng.integers(0, 2, 60)
    yield ranking_case("tied_scores", labels, np.round(rng.random(60) * 0.6 + 0.4 * labels, 1))
    rng = np.random.default_rng(13)
    labels = (rng.random(80) < 0.15).astype(int)
    yield ranking_case("imbalanced_ties", labels, np.round(rng.normal(size=80) + 1.2 * labels, 0))
    yield ranking_case("all_tied", [0, 1, 1, 0, 1, 0], [0.5] * 6)
    yield ranking_case("perfect", [0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9])


def regression_cases():
    rng = np.random.default_rng(21)
    targets = rng.normal(size=40)
    yield regression_case("linear_noise", targets, 0.8 * targets + 0.3 * rng.normal(size=40))
    rng = np.random.default_rng(22)
    targets = np.round(rng.normal(size=50) * 2, 0)
    yield regression_case("tied_values", targets, np.round(targets + rng.normal(size=50), 0))
    rng = np.random.default_rng(23)
    targets = rng.exponential(size=30) * 100
    yield regression_case("skewed_large_scale", targets, targets * rng.uniform(0.5, 1.5, 30))
    rng = np.random.default_rng(24)
    targets = rng.normal(size=25)
    yield regression_case("anticorrelated", targets, -targets + rng.normal(size=25))


def perplexity_cases():
    rng = np.random.default_rng(31)
    for tokens in [1, 17, 4096]:
        nll = float(rng.uniform(0.5, 4.0) * tokens)
        yield {"negative_log_likelihood": nll, "token_count": tokens, "perplexity": float(np.exp(nll / tokens))}


def mcnemar_cases():
    for first_only, second_only in [(0, 1), (1, 6), (3, 12), (7, 7), (10, 3), (25, 40), (61, 94), (140, 175), (0, 1000), (40, 1100)]:
        p_value = stats.binomtest(first_only, first_only + second_only, 0.5).pvalue
        yield {"first_only_correct": first_only, "second_only_correct": second_only, "p_value": float(p_value)}


def main():
    # balanced_accuracy_score warns that class 13 of "multiclass_prediction_only_class" has no true
    # examples; leaving it out of the mean is the documented behaviour the case checks.
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    fixture = {
        "generator": "Tests/Fixtures/make_metric_fixtures.py",
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "scipy": scipy.__version__},
        "classification": list(classification_cases()),
        "ranking": list(ranking_cases()),
        "regression": list(regression_cases()),
        "perplexity": list(perplexity_cases()),
        "mcnemar": list(mcnemar_cases()),
    }
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    main()
