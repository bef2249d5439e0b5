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
                     # from the first finished units (2 at 10 s): 2 more in 20 s, 6 to go: 60 s
                     "hw_phase 4/10 (40%) elapsed 0:00:30 eta 0:01:00",
                     "hw_phase 10/10 (100%) elapsed 0:00:40 eta 0:00:00"]


def test_rate_is_the_recent_rate_of_the_label():
    """A claim whose first point finished early and whose others wait behind other claims'
    points: the ETA uses its burst of recent units, not the rate since its first unit."""
    out, clock = io.StringIO(), Clock()
    p = LineProgress(out, interval=0.0, clock=clock, window=60.0)
    p("hw_phase", 0, 60)
    clock.t += 1; p("hw_phase", 1, 60)
    clock.t += 400; p("hw_phase", 2, 60)         # one unit in the window: the last two units
    assert out.getvalue().splitlines()[-1] == \
        "hw_phase 2/60 (3%) elapsed 0:06:41 eta 6:26:40"     # 58 units at 1 per 400 s
    clock.t += 1; p("hw_phase", 5, 60)           # 3 units in 1 s within the window
    assert out.getvalue().splitlines()[-1] == \
        "hw_phase 5/60 (8%) elapsed 0:06:42 eta 0:00:18"     # 55 units at 3 per s
    clock.t += 59; p("hw_phase", 8, 60)          # the window (60 s) still holds 2..8
    assert out.getvalue().splitlines()[-1] == \
        "hw_phase 8/60 (13%) elapsed 0:07:41 eta 0:08:40"     # 52 units at 6 per 60 s


def test_rate_counts_from_the_first_finished_unit_per_label():
    """Points already stored when a run resumes do not shorten the ETA (the rate is that of
    this run's own units), and a claim queued behind others gets the rate of its own work,
    not of the run since it was first reported."""
    out, clock = io.StringIO(), Clock()
    p = LineProgress(out, interval=0.0, clock=clock)
    p("all points", 90, 100)
    p("hw_phase", 0, 60)
    clock.t += 30; p("all points", 91, 100)      # first unit of this run: no rate yet
    assert out.getvalue().splitlines()[-1] == "all points 91/100 (91%) elapsed 0:00:30 eta ?"
    clock.t += 60; p("all points", 93, 100)      # 2 units a minute since then, 7 to go
    assert out.getvalue().splitlines()[-1] == \
        "all points 93/100 (93%) elapsed 0:01:30 eta 0:03:30"
    assert out.getvalue().splitlines()[1] == "hw_phase 0/60 (0%) elapsed 0:00:00 eta ?"
    clock.t += 300; p("hw_phase", 1, 60)         # queued 6.5 min, then 1 unit
    clock.t += 1; p("hw_phase", 11, 60)          # 10 units a second: 5 s to go, not 29 min
    assert out.getvalue().splitlines()[-1] == \
        "hw_phase 11/60 (18%) elapsed 0:06:31 eta 0:00:05"


def test_display_is_lines_off_a_terminal():
    out = io.StringIO()
    with progress_display(out) as report:
        report("claim", 1, 2)
    assert out.getvalue() == "claim 1/2 (50%) elapsed 0:00:00 eta ?\n"
