"""The report in a real browser: Debian's chromium driven by Playwright, network blocked.

Each page opens from ``file://`` with every non-file request aborted (and recorded:
none may be attempted), draws without a console error, and each chart holds the
points the store holds. A screenshot of each page, at laptop and phone width, goes to
``tests/output/report/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leanloop.project import Project
from leanloop.report import (
    ReportData,
    cycle_fragment,
    feature_fragment,
    load_report,
    overview_fragment,
    page_shell,
    write_report,
)
from leanloop.report.html import slug

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[1] / "output" / "report"
VIEWPORTS = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found; .ci/run installs Debian's 'chromium' package")
        pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where chromium refuses its sandbox.
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pages(report_project: Project, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportData]:
    """The one-file report plus the dashboard's pages (overview, a page per cycle and per
    feature) written as files that link to each other."""
    folder = tmp_path_factory.mktemp("pages")
    data = write_report(report_project, folder / "report.html")
    nav = [("overview", "overview.html"), ("report", "report.html")]
    (folder / "overview.html").write_text(page_shell(
        "overview", overview_fragment(data, cycle_url=lambda n: f"cycle-{n}.html"), nav=nav), encoding="utf-8")
    for cycle in data.cycles:
        one = load_report(report_project, cycle=cycle.cycle)
        (folder / f"cycle-{cycle.cycle}.html").write_text(page_shell(
            f"cycle {cycle.cycle}", cycle_fragment(one, feature_url=lambda f: f"feature-{slug(f)}.html"), nav=nav),
            encoding="utf-8")
    for dist in data.distributions:
        (folder / f"feature-{slug(dist.feature)}.html").write_text(page_shell(
            dist.feature, feature_fragment(data, dist.feature), nav=nav), encoding="utf-8")
    return folder, data


class Opened:
    """A page opened offline, with what it tried to fetch and what it logged as errors."""

    def __init__(self, browser: Any, path: Path, viewport: dict[str, int]) -> None:
        self.page = browser.new_page(viewport=viewport)
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-charts]", state="attached", timeout=30_000)

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def check_offline(self) -> None:
        assert self.blocked == []
        assert [u for u in self.requests if not u.startswith(("file:", "data:", "blob:"))] == []
        assert self.errors == []

    def traces(self, chart: str) -> list[dict[str, Any]]:
        return self.page.evaluate(
            "id => document.getElementById(id).data.map(t => ({name: t.name, x: t.x, y: t.y, z: t.z || null}))",
            chart)

    def shot(self, name: str) -> None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module", autouse=True)
def clean_output() -> None:
    shutil.rmtree(OUTPUT, ignore_errors=True)


def _trace(traces: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(t for t in traces if t["name"] == name)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_report_draws_offline_with_the_store_s_points(browser: Any, pages: tuple[Path, ReportData],
                                                      report_project: Project, viewport: str) -> None:
    folder, data = pages
    ledger = [c for c in report_project.store.cycles() if c.get("kind", "cycle") == "cycle" and c.get("decision")]
    opened = Opened(browser, folder / "report.html", VIEWPORTS[viewport])
    try:
        opened.check_offline()
        drawn = opened.page.evaluate("document.querySelectorAll('.chart .main-svg').length")
        charts = opened.page.evaluate("document.querySelectorAll('div.chart').length")
        assert charts == int(opened.page.evaluate("document.body.getAttribute('data-charts')")) and drawn >= charts
        metric = data.main_metric
        realized = _trace(opened.traces("chart-performance"), f"realized {metric}")
        assert len(realized["x"]) == len(ledger)
        assert realized["y"] == pytest.approx([c["measurement"]["performance"]["realized"][metric] for c in ledger])
        kpi = _trace(opened.traces("chart-kpi"), f"{data.main_kpi} (realized)")
        assert kpi["y"] == pytest.approx([c["measurement"]["kpis"][data.main_kpi] for c in ledger])
        heat = opened.traces("chart-drift")[0]
        assert len(heat["x"]) == len(ledger) and heat["y"] == report_project.config.schema_.names
        newest = set(ledger[-1]["measurement"]["drifted_features"])
        assert {f for f, row in zip(heat["y"], heat["z"], strict=True) if row[-1] == 1} == newest
        coverage = _trace(opened.traces("chart-labels"), "label coverage")
        assert coverage["y"] == pytest.approx([c["measurement"]["window"]["coverage"] for c in ledger])
        for i, dist in enumerate(data.distributions):
            ref, cur = opened.traces(f"chart-dist-{i}")[:2]
            assert len(ref["x"]) == len(dist.bins) and cur["y"] == pytest.approx(dist.current)
        # the drift table sorts by a column when its header is clicked
        opened.page.click("#drift-table th:nth-child(4)")
        stats = opened.page.eval_on_selector_all("#drift-table tbody tr td:nth-child(4)",
                                                 "cells => cells.map(c => parseFloat(c.dataset.sort))")
        assert stats == sorted(stats) and len(stats) == len(report_project.config.schema_.names)
        opened.shot(f"report-{viewport}")
        for section in ("verdict", "performance", "drift", "gate", "lineage"):
            opened.page.locator(f"#{section}").screenshot(path=str(OUTPUT / f"report-{viewport}-{section}.png"))
    finally:
        opened.close()


def test_dashboard_pages_draw_offline_and_link(browser: Any, pages: tuple[Path, ReportData]) -> None:
    folder, data = pages
    opened = Opened(browser, folder / "overview.html", VIEWPORTS["laptop"])
    try:
        opened.check_offline()
        assert len(_trace(opened.traces("chart-performance"), f"realized {data.main_metric}")["x"]) == len(data.cycles)
        opened.shot("overview-laptop")
        first = data.cycles[0].cycle
        opened.page.click(f'#timeline-table a[href="cycle-{first}.html"]')
        opened.page.wait_for_selector("body[data-charts]", state="attached")
        assert opened.page.url.endswith(f"cycle-{first}.html")
        assert opened.page.inner_text("#verdict h2") == f"Cycle {first} verdict"
        opened.check_offline()
    finally:
        opened.close()
    for cycle in data.cycles[-1:]:
        opened = Opened(browser, folder / f"cycle-{cycle.cycle}.html", VIEWPORTS["phone"])
        try:
            opened.check_offline()
            opened.shot(f"cycle-{cycle.cycle}-phone")
            feature = data.distributions[0].feature
            opened.page.click(f'#drift-table a[href="feature-{slug(feature)}.html"]')
            opened.page.wait_for_selector("body[data-charts]", state="attached")
            opened.check_offline()
            assert len(opened.traces("chart-dist-0")[0]["x"]) == len(data.distributions[0].bins)
            opened.shot(f"feature-{slug(feature)}-phone")
        finally:
            opened.close()
