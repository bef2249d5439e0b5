"""The calibration suite in small (the full run is ``infdepth calibrate``): on synthetic data of
known slope the chosen intervals hold their level, a miscalibrated method is caught, and the
version-2 rule does not refute a pre-asymptotic rate that version 1 refutes."""

import numpy as np
import pytest

from infdepth.validation.calibration import PROBLEMS, calibrate, calibration_table, replicate
from infdepth.validation.verdict import band_verdict

P = {p.name: p for p in PROBLEMS}


def test_log_t_interval_holds_its_level_with_few_seeds():
    row = calibrate([P["lognormal_paired"]], (8,), reps=150).iloc[0]
    assert row["method"] == "log_t"
    assert 0.88 <= row["coverage"] <= 0.995, row.to_dict()
    assert row["false_refutation"] <= 0.05


def test_percentile_bootstrap_is_caught_undercovering_at_four_seeds():
    """The reason the percentile interval is not used for per-seed values: 4 seeds give about
    81% coverage (the calibration suite detects it)."""
    row = calibrate([P["lognormal_paired"]], (4,), reps=150, methods=("percentile",)).iloc[0]
    assert row["coverage"] < 0.9, row.to_dict()


def test_noisy_mean_norm_is_bias_corrected_and_covered():
    row = calibrate([P["noisy_mean_norm"]], (16,), reps=120).iloc[0]
    assert row["method"] == "boot_t"
    assert 0.88 <= row["coverage"] <= 1.0, row.to_dict()
    assert abs(row["median_slope"] - row["estimand"]) < 0.1


def test_settled_rule_keeps_a_pre_asymptotic_rate_from_being_refuted():
    p = P["curvature_paired"]
    rng = np.random.default_rng(3)
    v2, v1 = [], []
    for r in range(60):
        out = replicate(p, 8, rng, rng_seed=r)
        v2.append(out["status_true_claim"])
        from infdepth.validation.rate_fit import fit_rate
        fit = fit_rate(p.sizes, p.generate(8, rng), p.statistic, paired=True)
        v1.append(band_verdict(fit, p.truth - 0.15, p.truth + 0.15))
    assert np.mean([s == "refuted" for s in v1]) > 0.5         # version 1 refutes it
    assert np.mean([s == "refuted" for s in v2]) <= 0.05        # version 2: not settled
    assert "not settled (pre-asymptotic)" in v2


def test_table_marks_missed_targets():
    df = calibrate([P["curvature_deterministic"], P["lognormal_paired"]], (4,), reps=12)
    text = calibration_table(df)
    assert "| curvature_deterministic | 4 | ols-t |" in text
    assert text.count("\n") == 3


@pytest.mark.slow
def test_every_problem_meets_the_targets_at_the_suites_seed_counts():
    """Every target is met except the coverage of a norm of a noisy mean at signal-to-noise 1
    with fewer than CALIBRATED_NORM_SEEDS seeds: the one miss the verdict rows declare
    (measurements.norm_of_mean_caveat); false refutation is met everywhere."""
    from infdepth.validation.measurements import CALIBRATED_NORM_SEEDS
    df = calibrate(reps=1000)
    assert df["refutation_ok"].all(), df[~df["refutation_ok"]].to_string()
    declared = (df["problem"] == "noisy_mean_norm_low_snr") & (df["seeds"] < CALIBRATED_NORM_SEEDS)
    missed = df[~df["coverage_ok"] & ~declared]
    assert missed.empty, missed.to_string()


@pytest.mark.parametrize("argv, message", [
    (["--reps", "100000000000"], "fits, more than the 1e+07 a run may (hours of fitting)"),
    (["--seeds", "8", "1000001"], "--seeds must be integers from 4 to 1000000, got 1000001"),
    (["--seeds", "3"], "--seeds must be integers from 4 to 1000000, got 3"),
    (["--reps", "9"], "--reps must be an integer >= 10, got 9"),
    (["--problems", "nope"], "unknown problem 'nope'; allowed: "),
])
def test_cli_refuses_what_cannot_run_before_any_work(argv, message, tmp_path, capsys):
    """Sizes with no upper bound ran for days (``--reps 10^11``: an ETA of 1.6 million hours):
    one line naming the value and the allowed range, exit 2, nothing written."""
    from infdepth.cli import main
    out = tmp_path / "cal"
    assert main(["calibrate", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
    assert not out.exists()
