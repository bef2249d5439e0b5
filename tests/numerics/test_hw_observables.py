"""Per-seed observables of the trained [HW] network (:mod:`infdepth.numerics.hw_observables`,
docs/theory.md s6): relative movement, output change, their first-step twins."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from infdepth.numerics.hidden_width import HWConfig, hw_data, train_hw
from infdepth.numerics.hw_observables import per_seed_rms, training_observables

torch.set_num_threads(1)


def test_per_seed_rms_by_hand():
    assert per_seed_rms(np.array([[3.0, 4.0], [0.0, 0.0]])) == pytest.approx([12.5 ** 0.5, 0])


def test_training_observables():
    X, Y = hw_data()
    cfg = HWConfig(D=5, L=4, M=4, K=3, n_seeds=2, eta=0.5)
    o = training_observables(cfg, X, Y, first_step=True)
    r = train_hw(cfg, X, Y)
    np.testing.assert_array_equal(o["movement"], r.movement["uv"].numpy())
    np.testing.assert_array_equal(o["output_init"], per_seed_rms(r.f.numpy()[:, 0]))
    np.testing.assert_array_equal(
        o["movement_1"], train_hw(dataclasses.replace(cfg, K=1), X, Y).movement["uv"].numpy())
    assert np.all(o["movement_1"] < o["movement"])
    assert "movement_1" not in training_observables(cfg, X, Y)
    assert "output_change_1" not in training_observables(dataclasses.replace(cfg, K=0), X, Y)


def test_authors_output_after_training_is_the_last_record_before_an_update():
    """Under "authors" a K = 3 run's output after training is f_2 (recorded before the third
    update): the third record of a longer run on the same seeds; its movement is that of the
    weights after all three updates; with K = 1 no f_1 is recorded (no one-step change)."""
    X, Y = hw_data()
    cfg = HWConfig(D=5, L=4, M=4, K=3, n_seeds=2, eta=1.0, convention="authors")
    o = training_observables(cfg, X, Y, first_step=True)
    long = train_hw(dataclasses.replace(cfg, K=5), X, Y, movement_at=(1, 3))
    f = long.f.numpy()
    np.testing.assert_allclose(o["output_change"], per_seed_rms(f[:, 2] - f[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(o["output_change_1"], per_seed_rms(f[:, 1] - f[:, 0]),
                               rtol=1e-12)
    np.testing.assert_allclose(o["loss_K"], long.loss[:, 2].numpy(), rtol=1e-12)
    np.testing.assert_allclose(o["movement"], long.movement_at[3]["uv"].numpy(), rtol=1e-12)
    np.testing.assert_allclose(o["movement_1"], long.movement_at[1]["uv"].numpy(), rtol=1e-12)
    one = training_observables(dataclasses.replace(cfg, K=1), X, Y, first_step=True)
    assert "output_change_1" not in one and np.all(one["output_change"] == 0)
