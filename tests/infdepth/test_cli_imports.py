"""A fast command line (docs/design.md, "A fast command line"): importing ``infdepth.cli``,
building its parser, listing the claims, reporting bad input and refusing a sweep too large to
run (docs/design.md, "Sizes a run refuses") import none of torch, scipy, sympy, pandas. Checked
in a fresh interpreter (this test process has them all loaded)."""

import json
import subprocess
import sys

HEAVY = ("torch", "scipy", "sympy", "pandas")

#: each step runs in order in one interpreter; after each, which heavy modules are loaded
STEPS = (
    ["import"],
    ["parser"],
    ["--help"],
    ["validate", "--help"],
    ["validate", "--list"],
    ["validate", "--claims", "nope"],
    ["validate", "--suite", "nope"],
    ["validate", "--depths", "0"],
    ["validate", "--widths", "8", "-3"],
    ["validate", "--activations", "nope"],
    ["validate", "--conventions", "nope"],
    ["validate", "--device", "nope"],
    ["validate", "--depths", "8", "100000000", "--out", "{out}"],
    ["validate", "--widths", "8", "1000000000", "--out", "{out}"],
)

SCRIPT = r"""
import contextlib, io, json, sys
heavy, steps = json.loads(sys.argv[1])
out = []
for argv in steps:
    rc, text = None, io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        if argv == ["import"]:
            import infdepth.cli as cli
        elif argv == ["parser"]:
            cli._parser()
        else:
            try:
                rc = cli.main(argv)
            except SystemExit as exc:
                rc = exc.code
    out.append({"argv": argv, "rc": rc, "text": text.getvalue(),
                "loaded": [m for m in heavy if m in sys.modules]})
print(json.dumps(out))
"""


def test_cli_imports_no_heavy_modules(tmp_path):
    steps = [[a.format(out=tmp_path / "res") for a in argv] for argv in STEPS]
    res = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([HEAVY, steps])],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    for row in rows:
        assert row["loaded"] == [], (row["argv"], row["loaded"])
    by = {tuple(r["argv"]): r for r in rows}
    assert len(by) == len(STEPS)
    listing = by[("validate", "--list")]
    assert listing["rc"] == 0 and "init_kernel_depth" in listing["text"]
    assert len(listing["text"].strip().splitlines()) == 13
    for argv in steps[5:]:
        r = by[tuple(argv)]
        assert r["rc"] == 2, (argv, r)
        lines = r["text"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("infdepth validate: error:"), (argv, r)
