"""Real-data tasks for the training experiments (docs/theory.md s8, claim ``depth_hp_transfer``).

The engine (:mod:`infdepth.numerics.engine`) trains a *scalar*-output network on the MSE loss
``1/2 (f - y)^2`` (docs/theory.md s2), so every task here is a scalar regression target.

``digits_parity`` (default, no download)
    The 8x8 handwritten digits bundled with scikit-learn (``sklearn.datasets.load_digits``,
    1797 images, d = 64 pixel features). Task choice: **even vs odd digit**, target ``y = +1``
    for an even digit and ``y = -1`` for an odd one (a balanced binary task that no single
    pixel solves). Inputs are standardized per pixel with the mean and standard deviation of the
    *whole* data set (pixels constant over the data set are set to 0), so
    ``|x|^2 / d`` is about 1 and ``h_0 = U x / sqrt(d)`` has O(1) coordinates (docs/theory.md s2).
    A fixed subset of ``n_train`` images (default 128) is drawn without replacement by a
    permutation from ``numpy.random.default_rng(subset_seed)``; the next ``n_eval`` images of
    the same permutation form a disjoint evaluation set. Same arguments, same arrays.

``cifar10_parity`` (optional, for users who have torchvision and the CIFAR-10 files)
    CIFAR-10 training images, flattened (d = 3072) and standardized per feature over the loaded
    split; target ``+1`` for the "animal" classes (bird, cat, deer, dog, frog, horse) and ``-1``
    for the vehicles (airplane, automobile, ship, truck). Never needed by the tests; it raises
    :class:`DatasetUnavailable` with an explanation when torchvision or the files are missing
    (it never downloads unless ``download=True`` is passed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infdepth.validators import choice, nonneg_int

__all__ = ["Task", "DatasetUnavailable", "TASK_NAMES", "TASK_DIMS", "load_task", "digits_parity",
           "cifar10_parity"]

TASK_NAMES: tuple[str, ...] = ("digits_parity", "cifar10_parity")
#: input dimension of each task (8x8 pixels; 32x32x3 pixels)
TASK_DIMS: dict[str, int] = {"digits_parity": 64, "cifar10_parity": 3072}


class DatasetUnavailable(RuntimeError):
    """An optional data set cannot be loaded here (missing package or files)."""


@dataclass(frozen=True)
class Task:
    """A scalar regression task: ``X_train`` (N, d), ``y_train`` (N,), ``X_eval`` (E, d),
    ``y_eval`` (E,), all float64 numpy arrays; ``name`` and a one-line ``description``."""

    name: str
    description: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray

    @property
    def d(self) -> int:
        return int(self.X_train.shape[1])

    def tensors(self, dtype=None, device: str = "cpu"):
        """``(X_train, y_train, X_eval, y_eval)`` as torch tensors (default float64)."""
        import torch
        dtype = torch.float64 if dtype is None else dtype
        return tuple(torch.as_tensor(a, dtype=dtype, device=device)
                     for a in (self.X_train, self.y_train, self.X_eval, self.y_eval))


def _standardize(X: np.ndarray) -> np.ndarray:
    """Per-feature z-score; features with zero spread become 0."""
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    out = np.zeros_like(X, dtype=np.float64)
    ok = sd > 0
    out[:, ok] = (X[:, ok] - mu[ok]) / sd[ok]
    return out


def _split(X: np.ndarray, y: np.ndarray, n_train: int, n_eval: int, subset_seed: int):
    for name, v in (("n_train", n_train), ("n_eval", n_eval), ("subset_seed", subset_seed)):
        nonneg_int(name, v)
    if n_train < 1:
        raise ValueError(f"n_train must be at least 1, got {n_train}")
    if n_train + n_eval > X.shape[0]:
        raise ValueError(f"n_train + n_eval = {n_train + n_eval} exceeds the {X.shape[0]} "
                         f"available examples")
    perm = np.random.default_rng(int(subset_seed)).permutation(X.shape[0])
    tr, ev = perm[:n_train], perm[n_train:n_train + n_eval]
    return (np.ascontiguousarray(X[tr]), np.ascontiguousarray(y[tr]),
            np.ascontiguousarray(X[ev]), np.ascontiguousarray(y[ev]))


def digits_parity(n_train: int = 128, n_eval: int = 0, subset_seed: int = 0) -> Task:
    """scikit-learn digits, even (+1) vs odd (-1), standardized pixels (module docstring)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise DatasetUnavailable("the digits task needs scikit-learn "
                                 "(pip install 'scikit-learn>=1.3,<2')") from exc
    data = load_digits()
    X = _standardize(np.asarray(data.data, dtype=np.float64))
    y = np.where(np.asarray(data.target) % 2 == 0, 1.0, -1.0)
    Xt, yt, Xe, ye = _split(X, y, n_train, n_eval, subset_seed)
    return Task("digits_parity",
                f"sklearn digits (8x8, d=64), even=+1 / odd=-1, standardized, "
                f"{n_train} train / {n_eval} eval, subset seed {subset_seed}", Xt, yt, Xe, ye)


ANIMAL_CLASSES = (2, 3, 4, 5, 6, 7)  # bird, cat, deer, dog, frog, horse


def cifar10_parity(n_train: int = 256, n_eval: int = 0, subset_seed: int = 0,
                   root: str = "data", download: bool = False) -> Task:
    """CIFAR-10 (torchvision), animals (+1) vs vehicles (-1), flattened and standardized.

    Optional: raises :class:`DatasetUnavailable` if torchvision is not installed or the data
    are not under ``root`` (pass ``download=True`` to let torchvision fetch them).
    """
    try:
        from torchvision.datasets import CIFAR10
    except ImportError as exc:
        raise DatasetUnavailable(
            "cifar10_parity needs torchvision (pip install torchvision) and the CIFAR-10 files; "
            "the default task 'digits_parity' needs neither") from exc
    try:
        ds = CIFAR10(root=root, train=True, download=download)
    except (RuntimeError, OSError) as exc:
        raise DatasetUnavailable(
            f"CIFAR-10 not found under {root!r} ({exc}); pass download=True or point root at an "
            "existing copy") from exc
    X = np.asarray(ds.data, dtype=np.float64).reshape(len(ds.data), -1)
    X = _standardize(X)
    y = np.where(np.isin(np.asarray(ds.targets), ANIMAL_CLASSES), 1.0, -1.0)
    Xt, yt, Xe, ye = _split(X, y, n_train, n_eval, subset_seed)
    return Task("cifar10_parity",
                f"CIFAR-10 (d=3072), animals=+1 / vehicles=-1, standardized, "
                f"{n_train} train / {n_eval} eval, subset seed {subset_seed}", Xt, yt, Xe, ye)


def load_task(name: str = "digits_parity", **kwargs) -> Task:
    """Task by name (:data:`TASK_NAMES`); keyword arguments go to the loader."""
    loaders = {"digits_parity": digits_parity, "cifar10_parity": cifar10_parity}
    choice("task", name, TASK_NAMES)
    return loaders[name](**kwargs)
