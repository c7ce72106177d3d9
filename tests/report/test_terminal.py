"""What the terminal shows of the loop: ``leanloop models``, ``measure --chunks``, one
time format (ISO 8601 UTC) in tables and JSON, tables that fold at 80 columns instead
of cutting words, ``--wide``, ``--version``, and text that is never eaten as markup."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from leanloop import __version__
from leanloop.cli import app
from leanloop.project import Project

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def run(*args: str) -> tuple[int, str, str]:
    # CliRunner's output is not a terminal: Rich draws at 80 columns and shows no progress bar.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    assert run("--version")[:2] == (0, f"leanloop {__version__}\n")


def test_models_lists_versions_with_lineage_and_iso_times(report_project: Project) -> None:
    root = str(report_project.paths.root)
    code, out, err = run("models", "--dir", root, "--json")
    assert code == 0, err
    body = json.loads(out)
    stored = {m["version"]: m for m in report_project.store.list_models()}
    assert [v["version"] for v in body["versions"]] == list(stored)
    aliases = report_project.store.aliases()
    for v in body["versions"]:
        assert v["parent"] == stored[v["version"]].get("parent")
        assert v["aliases"] == sorted(a for a, name in aliases.items() if name == v["version"])
        assert ISO_UTC.match(v["created_at"]) and all(ISO_UTC.match(at) for at in v["promoted_at"])
        assert datetime.fromisoformat(v["created_at"]).timestamp() == int(stored[v["version"]]["created_at"])
        assert v["label_rule"] == (stored[v["version"]].get("decision") or "argmax")
    champion = next(v for v in body["versions"] if "champion" in v["aliases"])
    assert champion["promoted_by"], "the champion was promoted by a cycle or by hand"
    code, out, _ = run("models", "--dir", root)
    assert code == 0 and "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert all(v in out for v in stored)


def test_measure_prints_its_chunks_with_a_sparkline_per_feature(report_project: Project) -> None:
    code, out, err = run("measure", "--dir", str(report_project.paths.root), "--last", "1500", "--chunks", "3")
    assert code == 0, err
    assert "3 chunks of the window" in out and "drift statistic per feature" in out
    assert re.search("[▁▂▃▄▅▆▇█]{3}", out)
    for name in report_project.config.schema_.names:
        assert name in out.replace("\n", "") or name[:20] in out  # folded, never cut with "…"
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80


def test_one_time_format_in_json_and_tables(report_project: Project) -> None:
    root = str(report_project.paths.root)
    code, out, _ = run("history", "--dir", root, "--json")
    assert code == 0
    entries = json.loads(out)
    assert entries and all(ISO_UTC.match(e["created_at"]) for e in entries)
    code, out, _ = run("testset", "list", "--dir", root, "--json")
    assert code == 0 and all(ISO_UTC.match(r["added_at"]) for r in json.loads(out))
    code, out, _ = run("--wide", "testset", "list", "--dir", root)
    assert code == 0 and re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", out)


def test_wide_draws_tables_at_their_full_width(report_project: Project) -> None:
    code, out, _ = run("--wide", "history", "--dir", str(report_project.paths.root))
    assert code == 0 and max(len(line) for line in out.splitlines()) > 80
    started = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", out)
    assert len(started) == len(report_project.ledger())  # every entry's start, ISO 8601 UTC
    code, out, _ = run("history", "--dir", str(report_project.paths.root))
    assert code == 0 and "…" not in out and max(len(line) for line in out.splitlines()) <= 80


def test_quiet_is_accepted_before_any_command(report_project: Project) -> None:
    code, out, _ = run("--quiet", "models", "--dir", str(report_project.paths.root))
    assert code == 0 and "version" in out


def test_init_hint_keeps_the_section_name(tmp_path: Path, car_loan_csv: Path) -> None:
    code, out, err = run("init", str(car_loan_csv), "--target", "repaid", "--dir", str(tmp_path / "p"))
    assert code == 0, err
    assert "edit [kpi] in leanloop.toml" in re.sub(r"\s+", " ", out)
