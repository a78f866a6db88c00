"""The demo's pure parts: choosing the degradation, accuracy over time, the chart and report."""

from __future__ import annotations

from pathlib import Path

from fleet.demo import ReleaseRow, Turn, hardest_intents, mixed
from fleet.demo.report import (
    PAUSE_S,
    accuracy_over_time,
    first_served,
    segments,
    write_report,
)
from ratchet.datasets import Example
from tests.services.versions.png import read_png


def turn(at: float, right: bool, version: str = "v0.1.0") -> Turn:
    return Turn(at, "learn", "card_arrival", "card_arrival" if right else "card_linking", version)


def test_hardest_intents_are_those_answered_worst() -> None:
    examples = [Example(f"t{i}", intent) for i, intent in enumerate("aaaabbbbcccc")]
    answers = ["a", "a", "a", "x", "x", "x", "b", "b", "c", "c", "c", "c"]
    assert hardest_intents(examples, answers, 2) == ["b", "a"]  # 50%, 75% (c: 100%)


def test_mixed_traffic_takes_the_share_from_the_shifted_pool() -> None:
    shifted = [Example("s", "hard")]
    usual = [Example("u", "easy")]
    batch = mixed(shifted, usual, 2000, 0.8, seed=1)
    share = sum(e.intent == "hard" for e in batch) / len(batch)
    assert len(batch) == 2000 and 0.77 < share < 0.83
    assert mixed(shifted, usual, 50, 0.8, seed=1) == mixed(shifted, usual, 50, 0.8, seed=1)


def test_accuracy_over_time_in_blocks_and_first_served() -> None:
    turns = [turn(i, i % 4 != 0, "v0.1.0" if i < 100 else "v0.1.1") for i in range(205)]
    points = accuracy_over_time(list(reversed(turns)), window=100)
    assert [p.accuracy for p in points] == [0.75, 0.75]  # the 5-turn tail is not a point
    assert [p.at for p in points] == [99, 199]
    assert first_served(turns) == {"v0.1.0": 0, "v0.1.1": 100}


def test_the_report_has_a_png_chart_and_an_html_table(tmp_path: Path) -> None:
    turns = [turn(i, i < 150 or i % 2 == 0) for i in range(300)]
    rows = [
        ReleaseRow("v0.1.0", "minor", "human", 0.79, 0.80, 0.0),
        ReleaseRow("v0.2.0", "minor", "architect", 0.90, 0.91, 200.0, "template coder"),
    ]
    png, page = write_report(
        tmp_path / "report",
        accuracy_over_time(turns, window=50),
        rows,
        [("turns routed", "300")],
        degraded_at=150.0,
        task="hwu64",
    )
    assert png.read_bytes().startswith(b"\x89PNG") and read_png(png.read_bytes()).width > 500
    html = page.read_text()
    assert "data:image/png;base64," in html
    assert "<h1>Ratchet demo: task hwu64</h1>" in html  # the report names the task
    assert "<td>v0.2.0</td>" in html and "91.00%" in html and "template coder" in html


def test_the_line_breaks_where_the_traffic_paused() -> None:
    points = accuracy_over_time([turn(i * 0.1, True) for i in range(400)], window=100)
    later = accuracy_over_time([turn(300 + i * 0.1, True) for i in range(200)], window=100)
    runs = segments([*points, *later])
    assert [len(run) for run in runs] == [4, 2]
    assert runs[1][0].at - runs[0][-1].at > PAUSE_S
