"""Real-data tasks (numerics/datasets.py): scikit-learn's bundled digits as a parity task, and
the CIFAR-10 task's clear error without torchvision or the data."""

import numpy as np
import pytest

from infdepth.numerics import datasets


def test_digits_shapes_targets_and_determinism():
    t = datasets.load_task("digits_parity", n_train=128, n_eval=32, subset_seed=3)
    assert t.X_train.shape == (128, 64) and t.y_train.shape == (128,)
    assert t.X_eval.shape == (32, 64) and t.y_eval.shape == (32,)
    assert set(np.unique(t.y_train)) == {-1.0, 1.0}
    assert t.X_train.dtype == np.float64
    # standardized pixels: |x|^2 / d of order one
    assert 0.5 < float(np.mean(np.sum(t.X_train ** 2, 1) / t.d)) < 1.5
    again = datasets.digits_parity(n_train=128, n_eval=32, subset_seed=3)
    np.testing.assert_array_equal(t.X_train, again.X_train)
    np.testing.assert_array_equal(t.y_eval, again.y_eval)
    other = datasets.digits_parity(n_train=128, subset_seed=4)
    assert not np.array_equal(t.X_train, other.X_train)
    # train and eval subsets are disjoint rows of the data set
    rows = {r.tobytes() for r in t.X_train}
    assert not any(r.tobytes() in rows for r in t.X_eval)
    X, y, _, _ = t.tensors()
    assert tuple(X.shape) == (128, 64) and tuple(y.shape) == (128,)


def test_dataset_errors():
    with pytest.raises(ValueError, match="unknown task"):
        datasets.load_task("mnist")
    with pytest.raises(ValueError, match="exceeds"):
        datasets.digits_parity(n_train=2000)
    with pytest.raises(ValueError, match="n_train"):
        datasets.digits_parity(n_train=0)


def test_cifar_absent_gives_clear_error(tmp_path):
    with pytest.raises(datasets.DatasetUnavailable, match="torchvision|CIFAR-10"):
        datasets.cifar10_parity(root=str(tmp_path))
