"""Atomic, group-readable writes (infdepth/atomic_io.py)."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from infdepth.atomic_io import TMP_PREFIX, atomic_write, atomic_write_text, file_mode


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "hello")
        assert _mode(tmp_path / "a.txt") == 0o644 == file_mode()
        os.umask(0o002)
        atomic_write_text(tmp_path / "b.txt", "hello")
        assert _mode(tmp_path / "b.txt") == 0o664
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "hello"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "verdicts.json"
    atomic_write_text(target, "old")

    def full_disk(f):
        f.write("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, full_disk, mode="w")
    assert target.read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_figures_are_written_atomically(tmp_path, monkeypatch):
    from infdepth.paper_figs import common
    fig, ax = common.plt.subplots()
    ax.plot([1, 2], [1, 2])
    paths = common.save(fig, tmp_path, "f")
    assert [p.name for p in paths] == ["f.png", "f.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"

    def broken(self, f, **kw):
        f.write(b"%PDF-trunc")
        raise OSError(errno.ENOSPC, "No space left on device")

    fig, ax = common.plt.subplots()
    monkeypatch.setattr(type(fig), "savefig", broken)
    with pytest.raises(OSError):
        common.save(fig, tmp_path, "g")
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "g.pdf").exists()
    assert paths[1].read_bytes()[:4] == b"%PDF"
