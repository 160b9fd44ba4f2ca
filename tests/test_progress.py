"""Rate and ETA words for long stages (``rag.progress``), and the terminal's bar (``rag.cli.TerminalProgress``)."""

from __future__ import annotations

import io

from rag.cli import TerminalProgress
from rag.progress import RateMeter, format_duration


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rate_and_time_left_from_a_fake_clock():
    clock = FakeClock()
    meter = RateMeter(1000, clock=clock)
    assert meter.message("embedding passages", 0) == "embedding passages: starting"
    clock.now += 50
    assert meter.message("embedding passages", 100) == "embedding passages: 2.0 passages/s, ETA 7 min 30 s"
    clock.now += 400
    assert meter.message("embedding passages", 1000) == "embedding passages: 2.2 passages/s, ETA 0 s"


def test_durations_are_whole_units():
    assert format_duration(0.4) == "0 s"
    assert format_duration(59) == "59 s"
    assert format_duration(250) == "4 min 10 s"
    assert format_duration(2 * 3600 + 5 * 60 + 9) == "2 h 05 min"


def test_terminal_bar_shows_each_stage_with_rate_and_closes_it():
    out = io.StringIO()
    bar = TerminalProgress(file=out)
    bar(0, 40, "embedding passages: starting")
    for done in (16, 32, 40):
        bar(done, 40, f"embedding passages: 3.0 passages/s, ETA {40 - done} s")
    assert bar._bar is None  # the stage is done: its bar is closed
    bar(40, 40, "keyword index")
    text = out.getvalue()
    assert "embedding passages" in text and "40/40" in text and "passages/s" in text
    assert "keyword index" in text
    bar(0, 0, "embedding passages: starting")  # nothing to embed: no bar
    assert bar._bar is None
