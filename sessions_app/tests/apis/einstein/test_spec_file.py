"""The spec the Einstein routes are validated against ships in the repository, with its licence."""

import re
from pathlib import Path

import yaml
from django.conf import settings

from sessions_app.protocols.einstein import SPEC_PATH

ROOT = Path(settings.BASE_DIR)
SKIPPED_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", "test-results"}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".json", ".mjs", ".js", ".html", ""}


def test_the_spec_ships_inside_the_repository_with_its_licence():
    assert SPEC_PATH.is_file()
    assert SPEC_PATH.resolve().is_relative_to(ROOT.resolve())
    document = yaml.safe_load(SPEC_PATH.read_text())
    assert document["openapi"].startswith("3.0")
    assert "/v5.0.0/bots/{bot-id}/sessions" in document["paths"]
    notice = (SPEC_PATH.parent / "LICENSE").read_text()
    assert "Copyright (c) 2022, salesforce.com, inc." in notice
    assert "Redistribution and use in source and binary forms" in notice


def _repository_files():
    for path in ROOT.rglob("*"):
        if any(part in SKIPPED_DIRS for part in path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES:
            yield path


# A relative path that climbs out of its directory ("../x"), not part of an ellipsis (".../x").
PARENT_PATH = re.compile(r"(?<![\w.])(?:\.\./)+[\w.-]+")


def test_nothing_in_the_repository_refers_to_files_beside_it():
    # A fresh clone has nothing next to it: code, tests and docs name only files inside the repository
    # (a relative path, read from the file's own directory, stays within it).
    root = ROOT.resolve()
    offenders = [
        f"{path.relative_to(ROOT)}: {found}"
        for path in _repository_files()
        for found in PARENT_PATH.findall(path.read_text(errors="replace"))
        if not (path.resolve().parent / found).resolve().is_relative_to(root)
    ]
    assert offenders == []


def test_a_path_beside_the_repository_is_found():
    """The check above reads paths as they are written: one that leaves the repository is caught."""
    text = "See [the design](../../../beside/DESIGN.md) and .../activities, and ../static/x.js."
    found = PARENT_PATH.findall(text)
    assert found == ["../../../beside", "../static"]
    here = ROOT / "docs" / "guide.md"
    outside = [f for f in found if not (here.parent / f).resolve().is_relative_to(ROOT.resolve())]
    assert outside == ["../../../beside"]
