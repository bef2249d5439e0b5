"""The report: table columns in the right place, claims at a glance with their control,
flagged controls, the calibration table and provenance in both files."""

import pandas as pd

from infdepth.validation.report import (GLANCE, HEADER, flagged_controls, glance_rows,
                                        table_rows, write_report)


def _row(variant, role, status, status_derived="confirmed", **kw):
    return {"id": "init_kernel_depth", "variant": variant, "role": role, "claimed": -1.0,
            "claimed_text": "-1 in L", "derived": -1.0, "measured": -0.99, "ci_low": -1.02,
            "ci_high": -0.96, "status": status, "status_derived": status_derived,
            "settled": True, "snr": [None, 12.0], "used": [True, True], "suite": "smoke",
            "sizes": [4.0, 8.0], "errors": [0.2, 0.1], "pairwise": [-1.0], "notes": ["n"],
            **kw}


def test_statuses_sit_under_their_headers():
    (row,) = table_rows([_row("relu", "primary", "refuted", "confirmed")])
    assert row[HEADER.index("vs claimed")] == "refuted"
    assert row[HEADER.index("vs derived")] == "confirmed"
    assert row[HEADER.index("role")] == "primary"


def test_glance_shows_primary_and_flags_a_confirmed_control():
    rows = [_row("relu", "primary", "confirmed"), _row("tanh", "exploratory", "refuted"),
            _row("control/short_horizon", "control", "confirmed")]
    (g,) = glance_rows(rows)
    assert g[GLANCE.index("primary")] == "relu"
    assert g[GLANCE.index("control")] == "FLAGGED: confirmed"
    assert g[GLANCE.index("min SNR")] == "12.0"
    assert [r["variant"] for r in flagged_controls(rows)] == ["control/short_horizon"]


def test_report_files_carry_rule_calibration_and_provenance(tmp_path):
    cal = pd.DataFrame([{"problem": "lognormal_paired", "seeds": 4, "method": "log_t",
                         "coverage": 0.95, "coverage_se": 0.007, "false_refutation": 0.0,
                         "false_confirmation": 0.0, "coverage_ok": True, "refutation_ok": True}])
    md, page = write_report([_row("relu", "primary", "confirmed"),
                             _row("control/short_horizon", "control", "refuted")], {}, tmp_path,
                            calibration=cal)
    text, html = md.read_text(), page.read_text()
    for part in ("## Verdict rule", "## Claims at a glance", "## Calibration of the fitting",
                 "| lognormal_paired | 4 | log_t | 0.950", "## Provenance", "git commit"):
        assert part in text, part
    assert "max-width:100%" in html and "Provenance" in html and "lognormal_paired" in html
    assert "FLAGGED" not in text
