"""The report against the store it reads: same cycles, drift rows, versions; nothing fetched."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leanloop.errors import InputError, NotFoundError
from leanloop.project import Project
from leanloop.report import (
    PlotlyMode,
    ReportFormat,
    cycle_fragment,
    feature_fragment,
    load_report,
    overview_fragment,
    page_shell,
    render_html,
    write_report,
)


class _Page(HTMLParser):
    """Rows of each table by id, chart elements, every URL-bearing attribute, script texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}
        self.charts: dict[str, int] = {}
        self.urls: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._table: list[str] = []
        self._in_body = False
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href", "action", "srcset", "poster", "data") and v]
        if tag == "table":
            self._table.append(a.get("id") or "")
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.rows[self._table[-1]] = self.rows.get(self._table[-1], 0) + 1
        elif tag == "div" and "chart" in (a.get("class") or "").split():
            self.charts[a["id"] or ""] = int(a["data-points"] or 0)
        elif tag == "script":
            self._script = a
            self.scripts.append((a, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table.pop()
        elif tag == "tbody":
            self._in_body = False
        elif tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def finished(project: Project) -> list[dict]:
    return [c for c in project.store.cycles() if c.get("kind", "cycle") == "cycle" and c.get("decision")]


EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)
# What could fetch at view time in our own markup and script: CSS url(), @import,
# fetch/XMLHttpRequest/import(), a script or image built with an absolute URL.
FETCHES = re.compile(r"url\(\s*['\"]?\s*(https?:)?//|@import|\bfetch\s*\(|XMLHttpRequest|\bimport\s*\(|"
                     r"\.src\s*=|https?://", re.I)


def assert_offline(html: str, *, library_ids: tuple[str, ...] = ("plotly-gzip",)) -> None:
    """No external URL in any src/href (or similar) attribute, nor anything that fetches in
    the page's own scripts and style; the inlined plotly.js (gzip: base64 text) is skipped."""
    page = parse(html)
    assert [u for u in page.urls if EXTERNAL.match(u)] == []
    assert [u for u in page.urls if not u.startswith("#")] == []  # one file: only anchors
    own = [text for attrs, text in page.scripts if attrs.get("id") not in library_ids and "src" not in attrs
           and not text.lstrip().startswith("/**")]  # plotly.js (raw mode) opens with its licence comment
    style = re.findall(r"<style>(.*?)</style>", html, re.S)
    for text in own + style:
        assert FETCHES.search(text) is None, FETCHES.search(text)


def test_html_report_matches_the_store(report_project: Project, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    data = write_report(report_project, path)
    html = path.read_text(encoding="utf-8")
    page = parse(html)
    ledger = finished(report_project)
    assert len(ledger) == 5 and len(data.cycles) == 5
    # the timeline: one row per finished cycle; every time chart has one point per cycle
    assert page.rows["timeline-table"] == len(ledger)
    for chart in ("chart-performance", "chart-kpi", "chart-drift", "chart-labels", "chart-multivariate"):
        assert page.charts[chart] == len(ledger)
    # the verdict: the newest cycle's action and every one of its rules
    newest = ledger[-1]
    assert page.rows["rules-table"] == len(newest["decision"]["reasons"])
    assert f'class="action">{newest["decision"]["action"]}<' in html
    # drift: one row per feature (the primary test), as many as the schema's features
    features = report_project.config.schema_.names
    assert page.rows["drift-table"] == len(features) == len({d["feature"] for d in newest["measurement"]["drift"]})
    drifted = set(newest["measurement"]["drifted_features"])
    assert html.count('<tr class="drifted">') >= len(drifted)
    # a distribution chart and a drift-over-time chart per feature, bins as in the data
    for i, dist in enumerate(data.distributions):
        assert page.charts[f"chart-dist-{i}"] == len(dist.bins)
        assert page.charts[f"chart-fdrift-{i}"] == len(ledger)
    assert [d.feature for d in data.distributions] == features
    assert all(d.n_current == newest["measurement"]["window"]["rows"] for d in data.distributions
               if d.kind == "numeric")
    # lineage: every version, with its parent
    versions = report_project.store.model_versions()
    assert page.rows["lineage-table"] == len(versions) >= 2
    for body in report_project.store.list_models():
        assert f"<b>{body['version']}</b>" in html
    # the manual promotion is listed and marked on the time axes
    promotion = [c for c in report_project.store.cycles() if c.get("kind") == "promote"]
    assert promotion and f"{promotion[0]['champion_after']} promote" in html
    # the gate: every check of the newest cycle that judged a challenger
    judged = [c for c in ledger if c.get("comparison")]
    assert judged and page.rows["gate-table"] == len(judged[-1]["comparison"]["checks"])
    assert f"Cycle {judged[-1]['cycle']}: <b>{judged[-1]['champion_before']}</b> against" in html
    assert_offline(html)
    assert path.stat().st_size < 5_000_000


def test_json_and_markdown_hold_the_same_content(report_project: Project, tmp_path: Path) -> None:
    ledger = finished(report_project)
    body = json.loads(write_report(report_project, tmp_path / "r.json", fmt=ReportFormat.JSON) and
                      (tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [c["cycle"] for c in body["cycles"]] == [c["cycle"] for c in ledger]
    assert body["focus"]["action"] == ledger[-1]["decision"]["action"]
    assert [v["version"] for v in body["versions"]] == report_project.store.model_versions()
    assert body["champion"] == report_project.store.get_alias("champion")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", body["cycles"][0]["at"])
    write_report(report_project, tmp_path / "r.md", fmt=ReportFormat.MD)
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert md.startswith("# leanloop report")
    assert f"## Verdict: **{ledger[-1]['decision']['action']}**" in md
    cycles_table = md.split("## Cycles")[1].split("## Model lineage")[0]
    assert len([line for line in cycles_table.splitlines() if re.match(r"\| \d+ \|", line)]) == len(ledger)
    lineage = md.split("## Model lineage")[1]
    assert len([line for line in lineage.splitlines() if re.match(r"\| v\d+ \|", line)]) == len(
        report_project.store.model_versions())
    assert "https://" not in md and "http://" not in md


def test_cycle_and_last_choose_what_is_reported(report_project: Project) -> None:
    ledger = finished(report_project)
    second = ledger[1]["cycle"]
    data = load_report(report_project, cycle=second, distributions=False)
    assert data.focus.cycle == second and [c.cycle for c in data.cycles] == [c["cycle"] for c in ledger[:2]]
    assert [c.cycle for c in load_report(report_project, last=2, distributions=False).cycles] == [
        c["cycle"] for c in ledger[-2:]]
    with pytest.raises(NotFoundError, match=r"cycle 999 is not a finished cycle of the ledger; finished cycles: \["):
        load_report(report_project, cycle=999)
    with pytest.raises(InputError, match="last must be at least 1"):
        load_report(report_project, last=0)


def test_fragments_are_pages_of_their_own(report_project: Project) -> None:
    data = load_report(report_project)
    body = cycle_fragment(data, feature_url=lambda f: f"/ui/features/{f}", cycle_url=lambda n: f"/ui/cycles/{n}")
    assert 'id="verdict"' in body and 'href="/ui/features/car_value"' in body and 'id="lineage"' not in body
    overview = overview_fragment(data, cycle_url=lambda n: f"/ui/cycles/{n}")
    assert parse(overview).rows["timeline-table"] == len(data.cycles)
    assert f'href="/ui/cycles/{data.cycles[0].cycle}"' in overview
    feature = feature_fragment(data, "car_value")
    assert set(parse(feature).charts) == {"chart-dist-0", "chart-fdrift-0"}
    with pytest.raises(NotFoundError, match="feature 'nope' is not in the report; features: \\['car_value'"):
        feature_fragment(data, "nope")
    page = page_shell("overview", overview, plotly=PlotlyMode.URL, plotly_url="/ui/static/plotly.js")
    assert page.count("<script") >= 2 and 'src="/ui/static/plotly.js"' in page


def test_raw_plotly_mode_is_offline_too(report_project: Project) -> None:
    html = render_html(load_report(report_project, distributions=False), plotly=PlotlyMode.RAW)
    assert "plotly-gzip" not in html and "Plotly" in html
    assert_offline(html)


def test_the_offline_check_catches_external_urls() -> None:
    with pytest.raises(AssertionError):
        assert_offline('<html><body><img src="https://example.org/x.png"></body></html>')
    with pytest.raises(AssertionError):
        assert_offline("<html><body><script>fetch('/x')</script></body></html>")
    with pytest.raises(AssertionError):
        assert_offline('<html><head><link rel="stylesheet" href="//cdn.example.org/a.css"></head></html>')


def test_a_project_without_cycles_still_reports(tmp_path: Path, car_loan_data) -> None:
    from tests.report.conftest import make_project

    csv = tmp_path / "loans.csv"
    car_loan_data.reference.head(3000).to_csv(csv, index=False)
    project = make_project(tmp_path / "p", csv)
    try:
        data = write_report(project, tmp_path / "r.html")
        html = (tmp_path / "r.html").read_text(encoding="utf-8")
        assert data.focus is None and "No finished cycle yet" in html and parse(html).rows["lineage-table"] == 1
        assert "No finished cycle yet" in (write_report(project, tmp_path / "r.md", fmt=ReportFormat.MD) and
                                            (tmp_path / "r.md").read_text(encoding="utf-8"))
        assert_offline(html)
    finally:
        project.close()


def test_the_report_command_writes_each_format_and_refuses_bad_options(report_project: Project,
                                                                      tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from leanloop.cli import app

    root = str(report_project.paths.root)
    for fmt, check in (("html", "<html"), ("md", "# "), ("json", '"cycles"')):
        target = tmp_path / f"r.{fmt}"
        result = CliRunner().invoke(app, ["report", "--dir", root, "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.output
        # Rich wraps a long path anywhere: compare without whitespace (tmp paths have none).
        assert check in target.read_text(encoding="utf-8") and f"wrote{target}" in "".join(result.stdout.split())
    bad = CliRunner().invoke(app, ["report", "--dir", root, "--format", "pdf"])
    assert bad.exit_code == 2 and "--format must be one of ['html', 'md', 'json']" in bad.stderr
    missing = CliRunner().invoke(app, ["report", "--dir", root, "--cycle", "999"])
    assert missing.exit_code == 2 and "cycle 999 is not a finished cycle" in " ".join(missing.stderr.split())
