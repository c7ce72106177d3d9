"""Docs consistency, derived from the code: every config field of every section is in the
README's reference (generated from the models) and every documented field exists; every
CLI command and subcommand is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from leanloop.cli import app
from leanloop.config.render import REFERENCE_END, REFERENCE_START, render_reference, sections
from leanloop.schema import Feature

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _documented() -> dict[str, list[str]]:
    """The keys each ``### `[section]` `` of the README's reference lists, read from its table."""
    reference = README[README.index(REFERENCE_START):README.index(REFERENCE_END)]
    found: dict[str, list[str]] = {}
    for block in reference.split("### ")[1:]:
        section = re.match(r"`\[(\w+)\]`", block).group(1)  # type: ignore[union-attr]
        found[section] = re.findall(r"^\| `(\w+)` \|", block, flags=re.MULTILINE)
    return found


def _model(section: str) -> type[BaseModel]:
    return Feature if section == "schema" else sections()[section]


def test_the_readme_reference_is_what_the_models_generate() -> None:
    assert README.count(REFERENCE_START) == 1 and README.count(REFERENCE_END) == 1
    generated = README[README.index(REFERENCE_START):README.index(REFERENCE_END) + len(REFERENCE_END)]
    assert generated == render_reference(), "run: python -m leanloop.config README.md"


@pytest.mark.parametrize("section", list(sections()))
def test_every_field_of_every_section_is_documented_and_every_documented_field_exists(section: str) -> None:
    model = _model(section)
    fields = [info.alias or name for name, info in model.model_fields.items()]
    assert _documented()[section] == fields
    assert all(info.description for info in model.model_fields.values()), \
        f"[{section}] has a field without a description"


def test_every_section_is_documented() -> None:
    assert list(_documented()) == list(sections())


def test_every_registered_command_is_documented() -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert names and all(f"leanloop {n}" in README for n in names)


def test_every_command_group_and_subcommand_is_documented() -> None:
    for group in app.registered_groups:
        names = [c.name or c.callback.__name__ for c in group.typer_instance.registered_commands]
        assert names and all(f"leanloop {group.name} {n}" in README for n in names)
