"""Progress of long work (docs/design.md, "A fast command line"): rich bars with the elapsed
time and an ETA on a terminal; on anything else -- a log file, a batch job's output, a pipe --
plain lines, one per label when it starts, at most every ``interval`` seconds while it runs, and
when it completes, so that a run's log shows how far it got and how long the rest will take.

Both take reports ``progress(label, done, total)``: ``done`` of ``total`` units of the work
named ``label`` are finished (several labels side by side, e.g. one per claim and one overall).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

__all__ = ["LineProgress", "progress_display", "format_seconds"]

Report = Callable[[str, int, int], None]


def format_seconds(seconds: float) -> str:
    """``h:mm:ss`` (as rich's time columns)."""
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class LineProgress:
    """Plain progress lines ``label done/total (pct%) elapsed h:mm:ss eta h:mm:ss``.

    A label's elapsed time counts from its first report. Its ETA is the remaining units at the
    label's recent rate: over the units finished in the last ``window`` seconds when at least
    two finished there, else between its last two finished units (``eta ?`` until two have
    finished in this run). The rate of a claim's own recent work, not of the run since the
    claim was first reported: a claim whose points wait behind others' (all claims are reported
    at a run's start, and a cluster interleaves their points) would otherwise get an ETA many
    times too long (seen: 55 minutes for 59 small points that took 2 s; rich's bars on a
    terminal estimate their speed over a recent window too). Units already done at the first
    report (stored points of a resumed run) never count as finished in this run. A line is
    written at a label's first report, when it completes, and otherwise at most every
    ``interval`` seconds per label.
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, window: float = 60.0) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.interval = float(interval)
        self.window = float(window)
        self.clock = clock
        self._start: dict[str, float] = {}
        self._finished: dict[str, deque[tuple[float, int]]] = {}   # (time, done) per change
        self._last: dict[str, float] = {}
        self._done: dict[str, int] = {}

    def _rate(self, label: str, now: float) -> float | None:
        """Units per second of ``label``'s recent work (class docstring), ``None`` if unknown."""
        marks = self._finished[label]
        while len(marks) > 2 and marks[0][0] < now - self.window:
            marks.popleft()                     # keep the window, and at least the last two
        if len(marks) < 2:
            return None
        (t0, d0), (t1, d1) = marks[0], marks[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None

    def __call__(self, label: str, done: int, total: int) -> None:
        now = self.clock()
        if label not in self._start:
            self._start[label] = now
            self._finished[label] = deque()
        elif done == self._done.get(label):
            return
        else:
            self._finished[label].append((now, done))
        self._done[label] = done
        finished = done >= total
        last = self._last.get(label)
        if last is not None and not finished and now - last < self.interval:
            return
        self._last[label] = now
        elapsed = now - self._start[label]
        rate = None if finished else self._rate(label, now)
        if finished:
            eta = "0:00:00"
        elif rate:
            eta = format_seconds((total - done) / rate)
        else:
            eta = "?"
        pct = 100.0 * done / total if total else 100.0
        print(f"{label} {done}/{total} ({pct:.0f}%) elapsed {format_seconds(elapsed)} eta {eta}",
              file=self.stream, flush=True)


@contextmanager
def progress_display(stream: TextIO | None = None, interval: float = 30.0) -> Iterator[Report]:
    """A ``progress(label, done, total)`` report for the duration of the block: rich bars (one
    per label, with elapsed time and ETA) when ``stream`` (default: standard output) is a
    terminal, else :class:`LineProgress` lines."""
    stream = stream if stream is not None else sys.stdout
    if not stream.isatty():
        yield LineProgress(stream, interval)
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn,
                               TimeRemainingColumn)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), "eta", TimeRemainingColumn(),
                  console=Console(file=stream), transient=False) as prog:
        tasks: dict[str, int] = {}

        def report(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = prog.add_task(label, total=total)
            prog.update(tasks[label], completed=done, total=total)

        yield report
