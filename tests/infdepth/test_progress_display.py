"""Progress lines for logs (not a terminal): when they are written, and their elapsed time and
ETA against a hand computation on a fake clock."""

import io

from infdepth.progress_display import LineProgress, format_seconds, progress_display


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_format_seconds():
    assert format_seconds(0) == "0:00:00"
    assert format_seconds(3725.4) == "1:02:05"


def test_lines_first_throttled_and_final():
    out, clock = io.StringIO(), Clock()
    p = LineProgress(out, interval=30.0, clock=clock)
    p("hw_phase", 0, 10)                        # first report: a line, no rate yet
    clock.t += 10; p("hw_phase", 2, 10)          # within 30 s of the last line: none
    clock.t += 20; p("hw_phase", 4, 10)          # 30 s after the first line: a line
    clock.t += 5; p("hw_phase", 4, 10)           # nothing new: none
    clock.t += 5; p("hw_phase", 10, 10)          # completed: a line at once
    lines = out.getvalue().splitlines()
    assert lines == ["hw_phase 0/10 (0%) elapsed 0:00:00 eta ?",
                     # 4 units in 30 s, 6 to go: 45 s
                     "hw_phase 4/10 (40%) elapsed 0:00:30 eta 0:00:45",
                     "hw_phase 10/10 (100%) elapsed 0:00:40 eta 0:00:00"]


def test_rate_counts_from_the_first_report_per_label():
    """Points already stored when a run resumes do not shorten the ETA: the rate is that of
    this run's own units."""
    out, clock = io.StringIO(), Clock()
    p = LineProgress(out, interval=0.0, clock=clock)
    p("all points", 90, 100)
    p("init_width", 0, 4)
    clock.t += 60; p("all points", 92, 100)      # 2 units a minute, 8 to go
    assert out.getvalue().splitlines()[-1] == \
        "all points 92/100 (92%) elapsed 0:01:00 eta 0:04:00"
    assert out.getvalue().splitlines()[1] == "init_width 0/4 (0%) elapsed 0:00:00 eta ?"


def test_display_is_lines_off_a_terminal():
    out = io.StringIO()
    with progress_display(out) as report:
        report("claim", 1, 2)
    assert out.getvalue() == "claim 1/2 (50%) elapsed 0:00:00 eta ?\n"
