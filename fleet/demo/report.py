"""The demo's record: releases with their evals, accuracy over time, a PNG chart and HTML.

Pure functions of what the run observed (turns, release marks) and what the
Versions API reported (releases, eval summaries); nothing here talks to the
fleet, so the report can be rebuilt and tested on its own.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ratchet.atomic import atomic_write_bytes

from .traffic import Turn


@dataclass(frozen=True)
class ReleaseRow:
    version: str
    kind: str
    author: str
    dev_accuracy: float | None
    heldout_accuracy: float | None
    served_at: float | None  # seconds since the demo began: first answer naming it
    note: str = ""


@dataclass(frozen=True)
class Point:
    at: float
    accuracy: float
    phase: str


def accuracy_over_time(turns: Sequence[Turn], window: int = 100) -> list[Point]:
    """Accuracy of consecutive blocks of ``window`` turns (in time order), at each block's end."""
    ordered = sorted(turns, key=lambda t: t.at)
    points = []
    for start in range(0, len(ordered), window):
        block = ordered[start : start + window]
        if len(block) < max(10, window // 4):  # a short tail is noise, not a point
            continue
        right = sum(t.right for t in block)
        points.append(Point(block[-1].at, right / len(block), block[-1].phase))
    return points


def first_served(turns: Sequence[Turn]) -> dict[str, float]:
    """Each version → when the Runner first answered with it."""
    seen: dict[str, float] = {}
    for turn in sorted(turns, key=lambda t: t.at):
        seen.setdefault(turn.version, turn.at)
    return seen


PAUSE_S = 15.0  # a longer gap between points is a pause in the traffic, drawn as such


def segments(points: Sequence[Point]) -> list[list[Point]]:
    """``points`` split where the traffic paused (more than ``PAUSE_S`` between two)."""
    runs: list[list[Point]] = []
    for point in points:
        if runs and point.at - runs[-1][-1].at <= PAUSE_S:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def chart_png(
    points: Sequence[Point],
    releases: Sequence[ReleaseRow],
    *,
    degraded_at: float | None,
    title: str = "Ratchet demo: accuracy of routed turns over time",
) -> bytes:
    """Accuracy over time with each release marked where the Runner began serving it."""
    # The Agg canvas directly, not pyplot: files only, no display, no global figure state.
    figure = Figure(figsize=(10, 5), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    runs = segments(points)
    first = True
    for segment in runs:  # no line across a pause in the traffic
        axes.plot(
            [p.at for p in segment],
            [100 * p.accuracy for p in segment],
            marker="o",
            markersize=3,
            color="#1f77b4",
            label="accuracy on replayed traffic (blocks of turns)" if first else None,
        )
        first = False
    for before, after in itertools.pairwise(runs):
        start, end = before[-1].at, after[0].at
        axes.axvspan(start, end, color="#7f7f7f", alpha=0.12, hatch="//")
        axes.text((start + end) / 2, 50, "no traffic", ha="center", fontsize=8, color="#555555")
    if degraded_at is not None:
        end = max([p.at for p in points] + [degraded_at + 1])
        axes.axvspan(degraded_at, end, color="#d62728", alpha=0.07, label="degraded traffic")
    _mark_releases(axes, releases)
    axes.set_xlabel("seconds since the demo began")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 105)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper center", fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _mark_releases(axes: Axes, releases: Sequence[ReleaseRow]) -> None:
    """A dashed line where the Runner began serving each release, labelled along it."""
    colors = {"patch": "#2ca02c", "minor": "#9467bd", "major": "#8c564b"}
    for row in releases:
        if row.served_at is None:
            continue
        axes.axvline(row.served_at, color=colors.get(row.kind, "#7f7f7f"), linestyle="--")
        label = f"{row.version} {row.kind}"
        if row.heldout_accuracy is not None:
            label += f", held-out {100 * row.heldout_accuracy:.1f}%"
        # along the line: releases a few seconds apart keep their labels apart
        axes.annotate(
            label,
            (row.served_at, 0.03),
            xycoords=("data", "axes fraction"),
            xytext=(-2, 0),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=8,
        )


def html_report(
    png: bytes,
    releases: Sequence[ReleaseRow],
    facts: Sequence[tuple[str, str]],
    task: str | None = None,
) -> str:
    """One self-contained page: the chart (inline), the release table, the run's facts."""
    heading = html.escape("Ratchet demo" + (f": task {task}" if task else ""))
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(cell)}</td>"
            for cell in (
                r.version,
                r.kind,
                r.author,
                percent(r.dev_accuracy),
                percent(r.heldout_accuracy),
                "—" if r.served_at is None else f"{r.served_at:.0f} s",
                r.note,
            )
        )
        + "</tr>"
        for r in releases
    )
    fact_rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts
    )
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left}}</style></head><body>
<h1>{heading}</h1>
<img alt="accuracy over time with the releases marked" src="data:image/png;base64,{image}"
 style="max-width:100%">
<h2>Releases</h2>
<table><tr><th>release</th><th>kind</th><th>author</th><th>dev accuracy</th>
<th>held-out accuracy</th><th>first served</th><th>note</th></tr>
{rows}
</table>
<h2>Run</h2>
<table>
{fact_rows}
</table>
</body></html>
"""


def write_report(
    directory: Path,
    points: Sequence[Point],
    releases: Sequence[ReleaseRow],
    facts: Sequence[tuple[str, str]],
    *,
    degraded_at: float | None,
    task: str | None = None,
) -> tuple[Path, Path]:
    """Write ``accuracy.png`` and ``report.html`` into ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    title = "Ratchet demo" + (f" ({task})" if task else "") + ": accuracy of routed turns"
    png = chart_png(points, releases, degraded_at=degraded_at, title=title)
    png_path, html_path = directory / "accuracy.png", directory / "report.html"
    atomic_write_bytes(png_path, png)
    atomic_write_bytes(html_path, html_report(png, releases, facts, task).encode())
    return png_path, html_path
