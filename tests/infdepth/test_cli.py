"""Command line: validate/figs/report end to end on a tiny sweep, and bad input -> exit 2."""

import json
import subprocess
import sys

import pytest

from infdepth.cli import main

TINY = ["--suite", "smoke", "--claims", "init_kernel_depth", "--depths", "4", "8", "16", "32"]


def test_validate_json_figs_report(tmp_path, capsys):
    out = tmp_path / "res"
    js = tmp_path / "v.json"
    assert main(["validate", *TINY, "--out", str(out), "--json", str(js)]) == 0
    rows = json.loads(js.read_text())
    assert {r["variant"] for r in rows} == {"relu", "tanh", "erf", "control/short_horizon"}
    for r in rows:
        assert set(r) == {"id", "variant", "role", "claimed", "derived", "measured", "ci_low",
                          "ci_high", "status", "status_derived", "settled", "advice"}
        control = r["variant"] == "control/short_horizon"
        assert r["role"] == ("primary" if r["variant"] == "relu" else
                             "control" if control else "exploratory")
        assert r["claimed"] == -1.0 and r["derived"] == (-0.5 if control else -1.0)
        assert r["ci_low"] <= r["measured"] <= r["ci_high"]
        assert r["status"] in {"confirmed", "refuted", "inconclusive"}
    assert (out / "figures" / "init_kernel_depth.png").exists()
    assert (out / "figures" / "init_kernel_depth.pdf").exists()
    table = capsys.readouterr().out
    assert "init_kernel_depth" in table and "measured" in table

    mtimes = {p: p.stat().st_mtime_ns for p in (out / "points").rglob("*.parquet")}
    assert len(mtimes) > 1
    assert main(["validate", *TINY, "--out", str(out), "--no-figs"]) == 0  # rerun reuses points
    assert {p: p.stat().st_mtime_ns for p in (out / "points").rglob("*.parquet")} == mtimes

    assert main(["report", "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "init_kernel_depth" in html
    assert "| claim | variant |" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv,needle", [
    (["validate", "--claims", "nope"], "unknown claim 'nope'; allowed:"),
    (["validate", "--activations", "gelu"], "unknown activation 'gelu'; allowed: relu, tanh"),
    (["validate", "--depths", "0", "4"], "depth must be a positive integer, got 0"),
    (["validate", "--widths", "-8", "16"], "width must be a positive integer, got -8"),
    (["validate", "--suite", "huge"], "unknown suite 'huge'; allowed: smoke, standard, full, gpu"),
    (["validate", "--suite", "gpu"], "suite 'gpu' is sized for a CUDA device, got --device cpu"),
    (["validate", "--device", "tpu"], "unknown device 'tpu'; allowed: cpu, cuda"),
    (["validate", "--out", ""], "--out: empty folder name"),
    (["validate", "--json", "/", "--claims", "init_kernel_depth"], "is a folder; give a file"),
    (["validate", "--json", "/no/such/folder/v.json"], "folder '/no/such/folder' does not exist"),
    (["validate", "--claims", "init_kernel_depth", "--variants", "gelu*"],
     "--variants gelu* matches no variant of the requested claims in suite 'standard'; "
     "allowed labels: relu, tanh, erf, control/short_horizon"),
    (["validate", "--variants", " "], "a variant pattern must be a non-empty label"),
])
def test_bad_input_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code = main(["validate", *TINY, "--out", str(blocker / "sub")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert str(blocker / "sub") in err and len(err.splitlines()) == 1


def test_report_without_results(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "empty")]) == 2
    assert "run 'infdepth validate" in capsys.readouterr().err


def test_list_names_every_claim_and_its_primary(capsys):
    from infdepth.validation.claims import CLAIM_IDS, get_claim
    assert main(["validate", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(CLAIM_IDS)
    for ln, cid in zip(lines, CLAIM_IDS):
        c = get_claim(cid)
        assert f"[{c.source}]" in ln and ln.endswith(f"primary: {c.primary.label}")


def test_console_script_is_declared():
    from importlib.metadata import entry_points
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "infdepth"]
    assert ep.value == "infdepth.cli:main" and ep.load() is main


@pytest.mark.slow
def test_console_script_entry_point(tmp_path):
    """``python -m infdepth.cli`` in a fresh process (the in-process tests above cover the same
    behaviour: --list, and bad input -> one line, exit 2)."""
    proc = subprocess.run([sys.executable, "-m", "infdepth.cli", "validate", "--list"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "init_width" in proc.stdout and "hw_phase" in proc.stdout
    assert "primary: relu" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "infdepth.cli", "validate", "--claims", "x"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_json_under_a_file_is_refused_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = tmp_path / "res"
    assert main(["validate", *TINY, "--out", str(out), "--json", str(blocker / "v.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a folder" in err and len(err.splitlines()) == 1
    assert not (out / "points").exists() or not any((out / "points").rglob("*.parquet"))


@pytest.mark.parametrize("argv", [["validate", "--bogus"], ["nosuchcommand"],
                                  ["validate", "--workers", "two"]])
def test_argparse_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err


@pytest.mark.parametrize("command", ["report", "figs"])
@pytest.mark.parametrize("content, says", [("{bad", "is corrupt"), ('{"id": 1}', "is malformed"),
                                           ('[{"id": "x"}, 3]', "is malformed")])
def test_corrupt_verdicts_file_is_one_line_exit_2(tmp_path, capsys, command, content, says):
    (tmp_path / "verdicts.json").write_text(content)
    assert main([command, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"verdicts.json' {says}" in err and len(err.splitlines()) == 1


def test_a_full_disk_is_one_line_and_leaves_no_truncated_file(tmp_path, capsys, monkeypatch):
    """ENOSPC while the figures are written: one line naming the file, exit 2, and no
    partial PNG or PDF; the points and verdicts written before are complete."""
    import errno

    from infdepth.paper_figs import common
    out = tmp_path / "res"

    def full_disk(self, f, **kw):
        f.write(b"%PDF-partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "figures" / "x.pdf"))

    monkeypatch.setattr(common.plt.Figure, "savefig", full_disk)
    assert main(["validate", *TINY, "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "No space left on device" in err[0] and "x.pdf" in err[0]
    assert err[0].startswith("infdepth validate: error: cannot write")
    figures = out / "figures"
    assert not figures.exists() or not any(figures.iterdir())
    assert main(["report", "--out", str(out)]) in (0, 2)          # verdicts are readable
    import json
    assert json.loads((out / "verdicts.json").read_text())[0]["id"] == "init_kernel_depth"


def test_bad_convention_one_line_exit_2(capsys):
    assert main(["validate", "--conventions", "paper", "--claims", "hw_lazy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("unknown convention 'paper'; allowed: default, authors")
    assert len(err.splitlines()) == 1


def test_validate_under_the_authors_convention(tmp_path, capsys):
    """--conventions authors: the [HW] claim's rows carry it, the other claim runs under the
    default with a one-line note (figures of a convention: tests/paper_figs/test_registry.py)."""
    out, js = tmp_path / "res", tmp_path / "v.json"
    argv = ["validate", "--suite", "smoke", "--claims", "init_kernel_depth", "hw_lazy",
            "--depths", "4", "8", "--widths", "2", "4", "--conventions", "authors",
            "--out", str(out), "--json", str(js), "--no-figs"]
    assert main(argv) == 0
    rows = json.loads(js.read_text())
    hw = [r["variant"] for r in rows if r["id"] == "hw_lazy"]
    assert hw == ["tanh/movement/authors", "tanh/output/authors", "control/hw_mlu_rate/authors"]
    assert [r["role"] for r in rows if r["id"] == "hw_lazy"] == ["primary", "exploratory",
                                                                  "control"]
    assert all("/authors" not in r["variant"] for r in rows if r["id"] == "init_kernel_depth")
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == ["note: --conventions authors applies to the [HW] claims only; "
                     "init_kernel_depth run under the default convention"]
    stored = json.loads((out / "verdicts.json").read_text())
    assert {r["convention"] for r in stored if r["id"] == "hw_lazy"} == {"authors"}


def test_validate_runs_only_the_selected_variants(tmp_path, capsys):
    """--variants: a claim keeps the variants whose label matches a pattern (controls too);
    a requested claim with no match is left out of the run."""
    js = tmp_path / "v.json"
    argv = ["validate", "--suite", "smoke", "--claims", "init_kernel_depth", "init_width",
            "--depths", "4", "8", "--variants", "tanh", "control/short*", "--out",
            str(tmp_path / "res"), "--json", str(js), "--no-figs"]
    assert main(argv) == 0
    rows = json.loads(js.read_text())
    assert [(r["id"], r["variant"]) for r in rows] == [
        ("init_kernel_depth", "tanh"), ("init_kernel_depth", "control/short_horizon")]
    # a second selection adds its rows to the stored table and keeps the first one's
    argv[argv.index("--variants") + 1:argv.index("--variants") + 3] = ["relu", "relu"]
    assert main(argv) == 0
    stored = json.loads((tmp_path / "res" / "verdicts.json").read_text())
    assert sorted(r["variant"] for r in stored) == ["control/short_horizon", "relu", "tanh"]


def test_out_of_gpu_memory_is_one_line(monkeypatch, capsys):
    """torch.OutOfMemoryError (another process holding the GPU, say) ends in one line, exit 2;
    other RuntimeErrors are bugs and keep their traceback."""
    import infdepth.cli as cli

    class OutOfMemoryError(RuntimeError):       # torch's name, without importing torch
        pass

    def oom(args):
        raise OutOfMemoryError("CUDA out of memory. Tried to allocate 16.00 GiB. GPU 0 has a "
                               "total capacity of 139.80 GiB of which 14.72 GiB is free.")
    monkeypatch.setattr(cli, "_cmd_validate", oom)
    assert main(["validate", "--suite", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("infdepth validate: error: out of GPU memory (CUDA out of memory. "
                          "Tried to allocate 16.00 GiB); other processes may hold")

    def cublas(args):               # a CUDA library's allocation failure
        raise RuntimeError("CUDA error: out of memory")
    monkeypatch.setattr(cli, "_cmd_validate", cublas)
    assert main(["validate"]) == 2
    assert "out of GPU memory (CUDA error: out of memory)" in capsys.readouterr().err

    def bug(args):
        raise RuntimeError("a bug")
    monkeypatch.setattr(cli, "_cmd_validate", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["validate"])


def test_dry_run_plans_without_a_gpu_or_a_results_folder(tmp_path, capsys):
    """`validate --suite gpu --device cuda --dry-run` works on a machine without CUDA, computes
    nothing and creates no results folder."""
    out = tmp_path / "never"
    assert main(["validate", "--suite", "gpu", "--device", "cuda", "--claims", "hw_lazy",
                 "train_coupling_depth", "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "plan (nothing computed)" in text and "hw_lazy" in text and "standard" in text
    assert "distinct points" in text and not out.exists()
