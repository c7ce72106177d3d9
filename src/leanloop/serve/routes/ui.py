"""``/ui``: the read-only dashboard: overview, cycle timeline, a page per cycle and per
feature, model versions and lineage.

The pages are the report's fragments (:mod:`leanloop.report.html`) in the report's page
shell; plotly.js is served once, at ``/ui/plotly.js``, and cached by the browser,
instead of being inlined in every page. Pages are rendered in a worker thread, one at a
time, and cached until the ledger grows (:class:`PageCache`), so a dashboard left open
costs ``/predict`` one ledger read per refresh, not a render.

When ``[serve] predict_auth`` is on, the pages need the project's token: in the
``Authorization`` header, or once as ``/ui?token=...``, which sets a cookie holding a
keyed hash of the token (never the token itself) and redirects to the page without it.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations
# (``Request``, imported inside :func:`router`) at definition time.

import hashlib
import hmac
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from leanloop.errors import NotFoundError
from leanloop.serve.security import AuthError, token_matches

if TYPE_CHECKING:
    from fastapi import APIRouter

    from leanloop.serve.runtime import ServerRuntime
    from leanloop.workspace import Workspace

__all__ = ["router", "PageCache", "REFRESH_SECONDS", "COOKIE", "cookie_value"]

#: Seconds between a page's reloads of itself.
REFRESH_SECONDS = 30
COOKIE = "leanloop_ui"
PLOTLY_URL = "/ui/plotly.js"
NAV = (("overview", "/ui"), ("cycles", "/ui/cycles"), ("models", "/ui/models"))


def cookie_value(token: str) -> str:
    """What the dashboard's cookie holds for ``token``: a keyed hash, so a leaked cookie
    is not the token that writes feedback and promotes models.

    Examples
    --------
    >>> len(cookie_value("secret")), cookie_value("secret") == cookie_value("other")
    (64, False)
    """
    return hmac.new(token.encode("utf-8"), b"leanloop dashboard", hashlib.sha256).hexdigest()


class PageCache:
    """Rendered pages by name, valid while the ledger keeps the length it had.

    ``version`` returns the current ledger length; a page rendered at another length is
    rendered again. One render runs at a time: a burst of refreshes renders once.

    Examples
    --------
    >>> length = [1]
    >>> cache = PageCache(lambda: length[0])
    >>> calls = []
    >>> render = lambda: calls.append(1) or f"page at {length[0]}"
    >>> cache.get("overview", render), cache.get("overview", render), len(calls)
    ('page at 1', 'page at 1', 1)
    >>> length[0] = 2
    >>> cache.get("overview", render), len(calls)
    ('page at 2', 2)
    """

    def __init__(self, version: Callable[[], int], max_pages: int = 256) -> None:
        self.version = version
        self.max_pages = max_pages
        self._pages: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, render: Callable[[], str]) -> str:
        """The page ``name``, rendered by ``render`` when missing or stale."""
        version = self.version()
        with self._lock:
            cached = self._pages.get(name)
            if cached is not None and cached[0] == version:
                return cached[1]
            page = render()
            if len(self._pages) >= self.max_pages:
                self._pages.clear()  # pages of features and cycles are few; a full cache is a stale one
            self._pages[name] = (version, page)
            return page


def _ledger_length(workspace: "Workspace") -> int:
    from leanloop.learn.ledger import entries

    return len(entries(workspace.store))


def _refresh_script() -> str:
    # Reload in place, keeping the scroll position; not while the page is hidden.
    return ("<script>setTimeout(function () { if (document.visibilityState !== 'hidden') location.reload(); "
            f"else document.addEventListener('visibilitychange', function () {{ location.reload(); }}); }}, "
            f"{REFRESH_SECONDS * 1000});</script>")


def _shell(title: str, body: str, generated_at: str = "") -> str:
    from leanloop.report import PlotlyMode, page_shell

    return page_shell(title, body + _refresh_script(), generated_at=generated_at, nav=NAV,
                      plotly=PlotlyMode.URL, plotly_url=PLOTLY_URL)


def _feature_url(name: str) -> str:
    return "/ui/features/" + quote(name, safe="")


def _cycle_url(number: int) -> str:
    return f"/ui/cycles/{number}"


def _status_section(runtime: "ServerRuntime") -> str:
    from markupsafe import escape

    project = runtime.project
    logged = project.store.count_predictions()
    version = runtime.holder.version or "not loaded"
    stats = runtime.logger.stats()
    cards = [("serving", version), ("predictions logged", f"{logged:,}"),
             ("served by this process", f"{stats.rows_logged:,}"),
             ("store", "degraded: spooling" if stats.degraded else "ok"),
             ("loop schedule", "manual: leanloop cycle")]
    inner = "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)
    return f'<section id="traffic"><h2>Traffic</h2><div class="cards">{inner}</div></section>'


def _overview(runtime: "ServerRuntime") -> str:
    from leanloop.report import load_report, overview_fragment

    data = load_report(runtime.project.workspace, distributions=False)
    body = overview_fragment(data, cycle_url=_cycle_url)
    return _shell(f"leanloop · {data.project}", _status_section(runtime) + body, data.generated_at)


def _timeline(workspace: "Workspace") -> str:
    from leanloop.report import load_report, overview_fragment

    data = load_report(workspace, distributions=False)
    body = overview_fragment(data, cycle_url=_cycle_url)
    # The overview's timeline section alone: everything from the table of cycles on.
    start = body.find('<section id="timeline">')
    end = body.find('<section id="lineage">')
    timeline = body[start:end] if start >= 0 else "<section><h2>Cycles</h2><p>No finished cycle yet.</p></section>"
    return _shell(f"cycles · {data.project}", timeline, data.generated_at)


def _cycle(workspace: "Workspace", number: int) -> str:
    from leanloop.report import cycle_fragment, load_report

    data = load_report(workspace, cycle=number)
    return _shell(f"cycle {number} · {data.project}",
                  cycle_fragment(data, feature_url=_feature_url, cycle_url=_cycle_url), data.generated_at)


def _feature(workspace: "Workspace", name: str) -> str:
    from leanloop.report import feature_fragment, load_report

    data = load_report(workspace)
    if not data.cycles:
        raise NotFoundError("no finished cycle yet: a feature's page shows its drift in cycles; run 'leanloop cycle'")
    return _shell(f"{name} · {data.project}", feature_fragment(data, name), data.generated_at)


def _models(workspace: "Workspace") -> str:
    from leanloop.report import load_report, overview_fragment

    data = load_report(workspace, distributions=False)
    body = overview_fragment(data, cycle_url=_cycle_url)
    start = body.find('<section id="lineage">')
    return _shell(f"models · {data.project}", body[start:] if start >= 0 else "", data.generated_at)


def _plotly_gzip() -> bytes:
    import gzip

    from plotly.offline import get_plotlyjs

    return gzip.compress(get_plotlyjs().encode("utf-8"), 6, mtime=0)


def _guard(runtime: "ServerRuntime") -> Callable[[Any], Any]:
    """A check of the dashboard's token (header or cookie) when ``predict_auth`` is on."""
    token = runtime.token
    required = runtime.serve.predict_auth

    def check(request: Any) -> Any:
        from starlette.responses import RedirectResponse

        if not required:
            return None
        if token is None:
            raise AuthError("the dashboard is off: [serve] predict_auth is on and this server has no token; run "
                            "'leanloop token --new' and restart", status=403, reason="no_token_configured")
        given = request.query_params.get("token")
        if given is not None:
            if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8")):
                raise AuthError("the token in ?token= is wrong; 'leanloop token' prints the project's token",
                                reason="wrong_token")
            answer = RedirectResponse(request.url.remove_query_params("token").path, status_code=303)
            answer.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="strict", path="/ui")
            return answer
        if token_matches(request.headers.get("authorization"), token):
            return None
        if hmac.compare_digest(request.cookies.get(COOKIE, "").encode("utf-8", "surrogateescape"),
                               cookie_value(token).encode("utf-8")):
            return None
        raise AuthError("the dashboard needs the project's token ([serve] predict_auth is on): open "
                        "/ui?token=<token> once ('leanloop token' prints it) or send 'Authorization: Bearer <token>'",
                        reason="missing_token")

    return check


def router(runtime: "ServerRuntime", auth: Any) -> "APIRouter":
    """The dashboard's pages and plotly.js (token-protected when ``[serve] predict_auth``).

    ``auth``, the write endpoints' header check, is not used: a browser cannot send a
    header on a link, so the dashboard also takes the token once and keeps a cookie.
    """
    from fastapi import APIRouter
    from fastapi.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response

    workspace = runtime.project.workspace
    cache = PageCache(lambda: _ledger_length(workspace))
    guard = _guard(runtime)
    plotly: list[bytes] = []
    api = APIRouter()

    async def page(request: Request, name: str, render: Callable[[], str]) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        html = await run_in_threadpool(cache.get, name, render)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @api.get("/ui", response_class=HTMLResponse, summary="Dashboard: overview")
    async def overview(request: Request) -> Response:
        # Traffic counts change with every request: the overview is rendered each time
        # (one ledger read, no window), the other pages come from the cache.
        refused = guard(request)
        if refused is not None:
            return refused
        return HTMLResponse(await run_in_threadpool(_overview, runtime), headers={"Cache-Control": "no-store"})

    @api.get("/ui/cycles", response_class=HTMLResponse, summary="Dashboard: the cycle timeline")
    async def cycles(request: Request) -> Response:
        return await page(request, "cycles", lambda: _timeline(workspace))

    @api.get("/ui/cycles/{number}", response_class=HTMLResponse, summary="Dashboard: one cycle")
    async def cycle(request: Request, number: int) -> Response:
        return await page(request, f"cycle/{number}", lambda: _cycle(workspace, number))

    @api.get("/ui/features/{name}", response_class=HTMLResponse, summary="Dashboard: one feature")
    async def feature(request: Request, name: str) -> Response:
        return await page(request, f"feature/{name}", lambda: _feature(workspace, name))

    @api.get("/ui/models", response_class=HTMLResponse, summary="Dashboard: model versions and lineage")
    async def models(request: Request) -> Response:
        return await page(request, "models", lambda: _models(workspace))

    @api.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # Browsers ask for it on every page; without it each page logs a failed request.
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})

    @api.get("/ui/plotly.js", summary="plotly.js for the dashboard's charts", response_class=Response)
    async def plotly_js(request: Request) -> Response:
        if not plotly:
            plotly.append(await run_in_threadpool(_plotly_gzip))
        headers = {"Cache-Control": "public, max-age=86400", "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        if "gzip" not in request.headers.get("accept-encoding", ""):
            import gzip

            return Response(gzip.decompress(plotly[0]), media_type="text/javascript",
                            headers={"Cache-Control": headers["Cache-Control"]})
        return Response(plotly[0], media_type="text/javascript", headers=headers)

    return api
