"""What every page carries inline: plotly.js, the style sheet and a little script.

plotly.js is inlined so a report opens offline. Inlined as is it weighs 4.8 MB, which
leaves almost nothing of a 5 MB budget for the data; gzip-compressed and base64-encoded
it weighs 2.0 MB, and the browser unpacks it with ``DecompressionStream`` (Chrome 80,
Firefox 113, Safari 16.4) before drawing the charts. ``PlotlyMode.RAW`` inlines it as
is for older browsers; ``PlotlyMode.URL`` points at a script the caller serves (the
dashboard serves it once for every page).
"""

from __future__ import annotations

import base64
import gzip
from enum import Enum
from functools import lru_cache

__all__ = ["PlotlyMode", "plotly_script", "STYLE", "SCRIPT"]


class PlotlyMode(str, Enum):
    """How a page gets plotly.js."""

    GZIP = "gzip"
    RAW = "raw"
    URL = "url"


@lru_cache(maxsize=1)
def _plotly_gzip_base64() -> str:
    # A pure function of the installed plotly: compressing takes 0.3 s, so once per process.
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), 6, mtime=0)).decode("ascii")


def plotly_script(mode: PlotlyMode = PlotlyMode.GZIP, url: str | None = None) -> str:
    """The HTML that loads plotly.js then calls ``leanloopDraw()``.

    Examples
    --------
    >>> plotly_script(PlotlyMode.URL, url="/ui/static/plotly.js")
    '<script src="/ui/static/plotly.js"></script><script>leanloopDraw();</script>'
    >>> plotly_script(PlotlyMode.GZIP).startswith('<script id="plotly-gzip"')
    True
    """
    if mode is PlotlyMode.URL:
        if not url:
            raise ValueError("PlotlyMode.URL needs the url of plotly.js")
        return f'<script src="{url}"></script><script>leanloopDraw();</script>'
    if mode is PlotlyMode.RAW:
        from plotly.offline import get_plotlyjs

        # "</script" inside the library would end the element early.
        code = get_plotlyjs().replace("</script", "<\\/script")
        return f"<script>{code}</script><script>leanloopDraw();</script>"
    return ('<script id="plotly-gzip" type="application/octet-stream">' + _plotly_gzip_base64() + "</script>"
            "<script>leanloopUnpack(document.getElementById('plotly-gzip').textContent)"
            ".then(leanloopDraw).catch(function (e) { leanloopFailed(e); });</script>")


STYLE = """
:root { --fg:#1d2330; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f8fb; --ok:#1a7f37; --bad:#c62828; --warn:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
       color:var(--fg); background:var(--bg); }
header.top { background:#1d2330; color:#fff; padding:10px 16px;
             display:flex; flex-wrap:wrap; gap:8px 18px; align-items:baseline; }
header.top h1 { font-size:18px; margin:0; }
header.top nav { flex:1 1 auto; min-width:0; }
header.top nav a { color:#cfe3ff; margin-right:12px; text-decoration:none; display:inline-block; }
main { max-width:1180px; margin:0 auto; padding:12px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px; margin:12px 0; }
section h2 { font-size:17px; margin:0 0 8px; }
section h3 { font-size:15px; margin:14px 0 6px; }
.muted { color:var(--muted); font-size:13px; }
.verdict { border-left:6px solid var(--warn); }
.verdict.continue { border-left-color:var(--ok); }
.verdict.retrain, .verdict.rollback, .verdict.pivot { border-left-color:var(--bad); }
.action { font-size:22px; font-weight:700; text-transform:uppercase; letter-spacing:.5px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:8px; margin:8px 0; }
.card { border:1px solid var(--line); border-radius:6px; padding:6px 10px; }
.card b { display:block; font-size:18px; }
.scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f0f3f8; position:sticky; top:0; }
th.sortable { cursor:pointer; user-select:none; white-space:nowrap; }
th.sortable::after { content:" \\2195"; color:#99a; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.fired td, tr.drifted td, tr.failed td, tr.flagged td { background:#fff3f2; }
.yes { color:var(--bad); font-weight:600; } .no { color:var(--ok); }
.pass { color:var(--ok); font-weight:600; } .fail { color:var(--bad); font-weight:600; }
.chart { width:100%; min-height:220px; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit,minmax(340px,1fr)); gap:10px; }
details summary { cursor:pointer; font-weight:600; margin:6px 0; }
.says { color:var(--muted); }
#plotly-failed { display:none; color:var(--bad); }
@media (max-width:600px) { main { padding:6px; } section { padding:10px 8px; } .action { font-size:19px; }
  .grid2 { grid-template-columns:1fr; } table { font-size:12px; } th, td { padding:3px 5px; }
  /* Long explanations do not fit a phone's columns: each row becomes a small card. */
  table.stack thead { display:none; }
  table.stack tr { display:block; border-bottom:1px solid var(--line); padding:4px 0; }
  table.stack td { display:inline-block; border:none; padding:1px 6px 1px 0; } table.stack td.num { text-align:left; }
  table.stack td[data-label]::before { content:attr(data-label) ": "; color:var(--muted); }
  table.stack td.says { display:block; } table.stack td:empty { display:none; } }
"""

SCRIPT = r"""
function leanloopUnpack(b64) {
  var text = atob(b64.trim()), bytes = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).text().then(function (code) {
    var s = document.createElement('script'); s.textContent = code; document.head.appendChild(s);
  });
}
function leanloopFailed(e) {
  var el = document.getElementById('plotly-failed'); if (el) { el.style.display = 'block'; }
  console.error('charts not drawn: ' + e);
}
function leanloopDraw() {
  var nodes = document.querySelectorAll('script[type="application/json"][data-for]');
  nodes.forEach(function (node) {
    var fig = JSON.parse(node.textContent), el = document.getElementById(node.getAttribute('data-for'));
    if (window.innerWidth < 600) {  // a phone: smaller legend and margins, a taller plot
      fig.layout.legend = {orientation: 'h', y: -0.25, font: {size: 10}};
      fig.layout.margin = {l: 45, r: 8, t: 36, b: 30};
    }
    if (el) Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false, showLink: false});
  });
  document.body.setAttribute('data-charts', String(nodes.length));
}
function leanloopSortable() {
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, col) {
      th.classList.add('sortable');
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute('data-dir') !== 'asc';
        table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
        th.setAttribute('data-dir', asc ? 'asc' : 'desc');
        function key(row) { var c = row.cells[col]; var v = c.getAttribute('data-sort');
          v = v === null ? c.textContent.trim() : v;
          var n = parseFloat(v); return isNaN(n) ? v.toLowerCase() : n; }
        rows.sort(function (a, b) { var x = key(a), y = key(b);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
}
document.addEventListener('DOMContentLoaded', leanloopSortable);
"""
