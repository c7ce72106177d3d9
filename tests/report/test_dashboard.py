"""The dashboard at ``/ui`` and the loop's Prometheus gauges, against a project with a
few real cycles (the report's fixture): through the app, and in a real browser against
a real uvicorn (every page loads without a console error or a failed request, charts
hold the store's points, links work; screenshots to ``tests/output/dashboard/``)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.metrics import LOOP_METRICS
from leanloop.serve.routes.ui import COOKIE, cookie_value
from leanloop.serve.security import resolve_token
from tests.report.test_browser import CHROMIUM, VIEWPORTS

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output" / "dashboard"
GRAFANA = ROOT / "docs" / "grafana" / "leanloop.json"


def _finished(project: Project) -> list[dict[str, Any]]:
    return [c for c in project.store.cycles() if c.get("kind", "cycle") == "cycle" and c.get("decision")]


@pytest.fixture(scope="module")
def client(report_project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(report_project)) as test_client:
        yield test_client


@pytest.fixture
def predict_auth(report_project: Project) -> Iterator[None]:
    original = report_project.config
    serve = original.serve.model_copy(update={"predict_auth": True})
    report_project.config = original.model_copy(update={"serve": serve})
    try:
        yield
    finally:
        report_project.config = original


def test_every_page_answers_and_links_to_the_others(client: TestClient, report_project: Project) -> None:
    cycles = [c["cycle"] for c in _finished(report_project)]
    overview = client.get("/ui")
    assert overview.status_code == 200 and overview.headers["content-type"].startswith("text/html")
    html = overview.text
    assert '<script src="/ui/plotly.js">' in html and "plotly-gzip" not in html  # served once, not inlined
    assert len(html) < 500_000
    assert all(f'href="/ui/cycles/{n}"' in html for n in cycles)
    assert f"{report_project.store.count_predictions():,}" in html  # traffic
    timeline = client.get("/ui/cycles").text
    assert re.findall(r'<a href="/ui/cycles/(\d+)"', timeline) == [str(n) for n in cycles]
    page = client.get(f"/ui/cycles/{cycles[0]}")
    assert page.status_code == 200 and f"Cycle {cycles[0]} verdict" in page.text
    feature = report_project.config.schema_.names[0]
    assert f'href="/ui/features/{quote(feature, safe="")}"' in page.text
    assert client.get(f"/ui/features/{quote(feature, safe='')}").status_code == 200
    models = client.get("/ui/models").text
    assert all(v["version"] in models for v in report_project.store.list_models())


def test_unknown_pages_are_404s_that_name_what_exists(client: TestClient) -> None:
    missing = client.get("/ui/cycles/999")
    assert missing.status_code == 404 and "finished cycles" in missing.json()["detail"][0]
    assert client.get("/ui/features/no-such-feature").status_code == 404


def test_pages_are_cached_while_the_ledger_keeps_its_length(client: TestClient) -> None:
    first = client.get("/ui/cycles").text
    time.sleep(1.1)  # a render now would carry a later generation time
    assert client.get("/ui/cycles").text == first
    assert client.get("/ui").text != first  # the overview (traffic) is rendered each time


def test_plotly_is_served_once_compressed_and_cached(client: TestClient) -> None:
    answer = client.get("/ui/plotly.js")
    assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
    assert "max-age" in answer.headers["cache-control"] and "Plotly" in answer.text[:5000] + answer.text[-5000:]


def test_the_token_guards_the_dashboard_when_predict_auth_is_on(report_project: Project, predict_auth: None) -> None:
    token = resolve_token(report_project.paths.workspace)
    assert token
    with TestClient(create_app(report_project)) as client:
        refused = client.get("/ui")
        assert refused.status_code == 401 and "/ui?token=" in refused.json()["detail"][0]
        assert client.get("/ui?token=wrong").status_code == 401
        assert client.get("/ui", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        login = client.get("/ui/cycles?token=" + token, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/ui/cycles"
        assert token not in login.headers["set-cookie"] and cookie_value(token) in login.headers["set-cookie"]
        client.cookies.set(COOKIE, cookie_value(token))
        assert client.get("/ui/models").status_code == 200
        client.cookies.set(COOKIE, "forged")
        assert client.get("/ui/models").status_code == 401


def _scrape(client: TestClient) -> str:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return answer.text


def _value(text: str, series: str) -> float:
    match = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert match, f"{series} not in /metrics"
    return float(match.group(1))


def test_the_loop_gauges_match_the_newest_cycle(client: TestClient, report_project: Project) -> None:
    text = _scrape(client)
    ledger = _finished(report_project)
    newest = ledger[-1]
    m = newest["measurement"]
    for name in LOOP_METRICS:
        assert f"# HELP {name} " in text, name
    assert _value(text, "leanloop_loop_last_cycle") == newest["cycle"]
    assert _value(text, f'leanloop_loop_last_decision{{action="{newest["decision"]["action"]}"}}') == 1.0
    champion = report_project.store.get_alias("champion")
    assert _value(text, f'leanloop_loop_champion_info{{version="{champion}"}}') == 1.0
    actions = [c["decision"]["action"] for c in ledger]
    for action in set(actions):
        assert _value(text, f'leanloop_loop_cycles_total{{action="{action}"}}') == actions.count(action)
    names = report_project.config.schema_.names
    assert _value(text, "leanloop_loop_drift_share") == pytest.approx(len(m["drifted_features"]) / len(names))
    first = next(d for d in m["drift"] if d["feature"] == names[0])
    assert _value(text, f'leanloop_loop_feature_drift_statistic{{feature="{names[0]}",method="{first["method"]}"}}') \
        == pytest.approx(first["statistic"])
    for metric, value in m["performance"]["realized"].items():
        assert _value(text, f'leanloop_loop_metric_realized{{metric="{metric}"}}') == pytest.approx(value)
    kpi = next(k for k in m["kpis"] if not k.endswith("_total"))
    assert _value(text, f'leanloop_loop_kpi_per_prediction{{kpi="{kpi}"}}') == pytest.approx(m["kpis"][kpi])
    assert _value(text, "leanloop_loop_label_coverage") == pytest.approx(m["window"]["coverage"])
    assert _value(text, "leanloop_loop_read_ok") == 1.0


def _expr_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b(leanloop_[a-z0-9_]+)", expr))


def test_the_grafana_dashboard_charts_only_metrics_the_server_exports(client: TestClient) -> None:
    client.post("/predict", json={"rows": []})  # an /predict series for the request panels
    text = _scrape(client)
    exported = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))  # sample names
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    used = {name for panel in dashboard["panels"] for t in panel["targets"] for name in _expr_metrics(t["expr"])}
    assert used and used <= exported, sorted(used - exported)
    # every loop gauge has a panel
    assert set(LOOP_METRICS) <= used


# -- in a real browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def live(report_project: Project) -> Iterator[str]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(report_project), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    import os

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found; .ci/run installs Debian's 'chromium' package")
        pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api")
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Visit:
    """A browser tab on the live server, recording console errors and failed requests."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]) -> None:
        self.base = base
        self.page = browser.new_page(viewport=viewport)
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.loaded()

    def loaded(self) -> None:
        self.page.wait_for_selector("body[data-charts]", state="attached", timeout=30_000)
        assert self.errors == [] and self.failed == [], (self.errors, self.failed)
        drawn = self.page.evaluate("document.querySelectorAll('.chart .main-svg').length")
        charts = int(self.page.evaluate("document.body.getAttribute('data-charts')"))
        assert drawn >= charts == self.page.evaluate("document.querySelectorAll('div.chart').length")

    def points(self, chart: str, name: str) -> list[Any]:
        traces = self.page.evaluate("id => document.getElementById(id).data.map(t => ({name: t.name, x: t.x}))", chart)
        return next(t for t in traces if t["name"] == name)["x"]

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_the_dashboard_in_a_browser(browser: Any, live: str, report_project: Project) -> None:
    ledger = _finished(report_project)
    metric = report_project.config.policy.main_metric_for(report_project.config.data)
    visit = Visit(browser, live, VIEWPORTS["laptop"])
    try:
        visit.open("/ui")
        assert len(visit.points("chart-performance", f"realized {metric}")) == len(ledger)
        visit.shot("overview-laptop")
        visit.page.click('header nav a[href="/ui/cycles"]')
        visit.loaded()
        links = visit.page.eval_on_selector_all("#timeline-table a", "as => as.map(a => a.getAttribute('href'))")
        assert links == [f"/ui/cycles/{c['cycle']}" for c in ledger]
        visit.shot("cycles-laptop")
        newest = ledger[-1]["cycle"]
        visit.page.click(f'#timeline-table a[href="/ui/cycles/{newest}"]')
        visit.loaded()
        assert visit.page.inner_text("#verdict h2") == f"Cycle {newest} verdict"
        assert len(visit.points("chart-performance", f"realized {metric}")) == len(ledger)
        visit.shot("cycle-laptop")
        feature = report_project.config.schema_.names[0]
        visit.page.click(f'#drift-table a[href="/ui/features/{quote(feature, safe="")}"]')
        visit.loaded()
        assert visit.page.inner_text("#feature h2") == feature
        assert len(visit.points("chart-fdrift-0", "statistic per cycle")) == len(ledger)
        visit.shot("feature-laptop")
        visit.page.click('header nav a[href="/ui/models"]')
        visit.loaded()
        rows = visit.page.eval_on_selector_all("#lineage-table tbody tr", "rs => rs.length")
        assert rows == len(report_project.store.list_models())
        visit.shot("models-laptop")
    finally:
        visit.page.close()
    phone = Visit(browser, live, VIEWPORTS["phone"])
    try:
        phone.open("/ui")
        phone.shot("overview-phone")
    finally:
        phone.page.close()


@pytest.mark.browser
def test_readme_pictures(browser: Any, live: str, report_project: Project, tmp_path: Path) -> None:
    """The README's two pictures, at a small size: the dashboard's overview and the
    report's top (copied to ``docs/`` by hand when the pages change)."""
    from leanloop.report import write_report

    small = {"width": 960, "height": 620}
    visit = Visit(browser, live, small)
    try:
        visit.open("/ui")
        visit.page.evaluate("document.getElementById('overview').scrollIntoView()")
        visit.page.screenshot(path=str(OUTPUT / "readme-dashboard.png"))
        write_report(report_project.workspace, tmp_path / "report.html")
        visit.page.goto((tmp_path / "report.html").as_uri())
        visit.loaded()
        visit.page.evaluate("document.getElementById('performance').scrollIntoView()")
        visit.page.screenshot(path=str(OUTPUT / "readme-report.png"))
    finally:
        visit.page.close()
    assert (OUTPUT / "readme-dashboard.png").stat().st_size < 400_000
