"""The web page: served without a build step or a CDN, and rendered by headless
Chromium against a real Versions process with the timeline and chart visible."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from services.versions.routes.page import STATIC
from tests.helpers.processes import Service, home_env, running
from tests.services.versions.browser import WINDOW, ensure_chromium, headless
from tests.services.versions.conftest import TASK, TASK_LABELS, Home
from tests.services.versions.png import read_png

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
KIND_COLOURS = {
    "major": (0x7C, 0x3A, 0xED),
    "minor": (0x25, 0x63, 0xEB),
    "patch": (0x0D, 0x94, 0x88),
}
BUDGET_RED = (0xDC, 0x26, 0x26)


def test_the_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Ratchet · Versions</title>" in page.text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert set(assets) == {"/static/style.css", "/static/app.js"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and response.text
    script = client.get("/static/app.js")
    assert "javascript" in script.headers["content-type"]
    # Revalidated on every load, so a new page never hides behind a stale cache.
    assert script.headers["cache-control"] == "no-cache"
    assert (
        client.get("/static/app.js", headers={"If-None-Match": script.headers["etag"]}).status_code
        == 304
    )


def test_no_build_step_and_nothing_from_the_network() -> None:
    files = sorted(STATIC.iterdir())
    assert {f.suffix for f in files} == {".html", ".css", ".js"}
    for path in files:
        text = path.read_text().replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?://", text), f"{path.name} reaches the network"
        for module in re.findall(r'from "\./([^"]+)"', text):  # every import resolves
            assert (STATIC / module).is_file(), f"{path.name} imports a missing {module}"


class Dom(HTMLParser):
    """Elements (tag and attributes) and the visible text of a dumped page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        found = []
        for name, attrs in self.elements:
            if name != tag:
                continue
            classes = (attrs.get("class") or "").split()
            if all(
                (value in classes) if key == "class_" else attrs.get(key.replace("_", "-")) == value
                for key, value in wanted.items()
            ):
                found.append(attrs)
        return found

    @property
    def words(self) -> str:
        return " ".join(self.text)


@pytest.fixture(scope="module")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture(scope="module")
def service(built_home: Home) -> Iterator[Service]:
    env = home_env(built_home.settings.home_path, RATCHET_VERSIONS_PORT="0")
    with running("services.versions", env) as versions:
        yield versions


@pytest.mark.slow
def test_the_real_process_serves_the_api(service: Service, built_home: Home) -> None:
    with httpx.Client(base_url=service.url) as http:
        assert http.get("/healthz").json() == {"status": "ok", "service": "versions"}
        listing = http.get("/versions")
        assert [v["version"] for v in listing.json()["versions"]][:2] == ["v1.0.1", "v1.0.0"]
        again = http.get("/versions", headers={"If-None-Match": listing.headers["etag"]})
        assert again.status_code == 304
        assert http.get("/versions/active").json()["version"] == "v1.0.0"
        assert http.get("/versions/v1.x").status_code == 400
        assert http.get("/openapi.json").json()["info"]["title"] == "Ratchet Versions API"


@pytest.mark.slow
def test_the_page_renders_the_timeline_and_the_chart(
    chromium: str, service: Service, built_home: Home
) -> None:
    result = headless(chromium, f"{service.url}/", "--dump-dom")
    dom = Dom(result.stdout)
    assert dom.find("html", data_state="ready"), result.stderr[-2000:]
    # The timeline: every release, in order, with its kind; flagged tags called out.
    entries = dom.find("button", class_="release")
    assert [e["data-version"] for e in entries] == [
        "v1.0.1",
        "v1.0.0",
        "v0.2.1",
        "v0.2.0",
        "v0.1.2",
        "v0.1.1",
        "v0.1.0",
    ]
    assert [e["data-kind"] for e in entries][:2] == ["patch", "major"]
    assert "3 tags are not valid releases" in dom.words and "v9.9.9" in dom.words
    assert f"task {TASK} · {len(TASK_LABELS)} intents" in dom.words  # what the home serves
    # The chart: three metrics, a point per release with a summary, a budget line each.
    charts = dom.find("svg", role="img")
    assert sorted(c["data-metric"] or "" for c in charts) == [
        "error_rate",
        "heldout_accuracy",
        "p95_latency_ms",
    ]
    points = dom.find("circle", class_="point")
    assert len(points) == 9
    assert {p["data-version"] for p in points} == {"v0.1.0", "v0.2.0", "v1.0.0"}
    assert [float(b["data-budget"] or 0) for b in dom.find("line", class_="budget")] == [
        0.78,
        50,
        0.01,
    ]
    assert len(dom.find("circle", class_="over")) == 1  # v1.0.0's p95 latency: 61 ms > 50
    # The active release is shown in detail, with its evals against the budgets.
    assert "new route schema" in dom.words and "over budget" in dom.words
    assert "job-9" in dom.words
    (sandbox,) = dom.find("span", class_="sandbox")  # what its tiers ran candidates under
    assert sandbox["data-sandbox"] == "bwrap"
    assert "sandbox bwrap 0.8.0 (bubblewrap: namespaces" in dom.words


@pytest.mark.slow
def test_a_linked_release_shows_its_details_and_diff(chromium: str, service: Service) -> None:
    dom = Dom(headless(chromium, f"{service.url}/#v0.2.0", "--dump-dom").stdout)
    assert dom.find("button", class_="selected", data_version="v0.2.0")
    words = dom.words
    assert "use 12 neighbours" in words and "fb-1, fb-2" in words
    assert "services/runner/agent/notes.py" in words
    assert "/data/params/knn_k/value" in words
    assert "v0.1.2 (parent)" in words
    assert f"task {TASK} commit" in words  # the release's own task, first of its facts
    assert "sandbox unconfined (bubblewrap is not installed)" in words


@pytest.mark.slow
def test_the_screenshot_shows_the_chart_and_timeline(
    chromium: str, service: Service, tmp_path: Path
) -> None:
    shot = tmp_path / "page.png"
    result = headless(chromium, f"{service.url}/", f"--screenshot={shot}")
    assert shot.exists(), result.stderr[-2000:]
    image = read_png(shot.read_bytes())
    assert (image.width, image.height) == WINDOW
    assert image.distinct_colours() > 200  # text, charts, pills: not a blank page
    width = image.width
    top = (0, 0, width, image.height * 45 // 100)  # the charts sit above the fold's middle
    assert image.count_near(BUDGET_RED, tolerance=12, region=top) > 300  # dashed budget lines
    assert image.count_near(KIND_COLOURS["major"], tolerance=12, region=top) > 50  # v1.0.0
    left = (0, image.height * 45 // 100, width * 45 // 100, image.height)  # the timeline
    for kind, colour in KIND_COLOURS.items():
        assert image.count_near(colour, tolerance=12, region=left) > 40, kind
