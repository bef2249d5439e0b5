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
    rate since the label's first finished unit (``eta ?`` until one more has finished): a claim
    queued behind others is reported from the start of a run but starts its work later, and a
    rate counted from the run's start would make its ETA many times too long (seen: 55 minutes
    for a claim of 60 small points that took 2 s). Units already done at the first report
    (stored points of a resumed run) never count as finished in this run. A line is written
    at a label's first report, when it completes, and otherwise at most every ``interval``
    seconds per label.
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.interval = float(interval)
        self.clock = clock
        self._start: dict[str, float] = {}
        self._anchor: dict[str, tuple[float, int]] = {}   # first finished unit: (time, done)
        self._last: dict[str, float] = {}
        self._done: dict[str, int] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        now = self.clock()
        if label not in self._start:
            self._start[label] = now
        elif done == self._done.get(label):
            return
        elif label not in self._anchor:
            self._anchor[label] = (now, done)
        self._done[label] = done
        finished = done >= total
        last = self._last.get(label)
        if last is not None and not finished and now - last < self.interval:
            return
        self._last[label] = now
        elapsed = now - self._start[label]
        t1, done1 = self._anchor.get(label, (now, done))
        if finished:
            eta = "0:00:00"
        elif done > done1 and now > t1:
            eta = format_seconds((total - done) * (now - t1) / (done - done1))
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
