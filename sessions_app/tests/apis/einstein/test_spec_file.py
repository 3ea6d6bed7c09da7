"""The spec the Einstein routes are validated against ships in the repository, with its licence."""

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


def test_nothing_in_the_repository_refers_to_files_beside_it():
    # A fresh clone has nothing next to it: code, tests and docs name only files inside the repository.
    outside = ("../shared", "shared/specs")
    this_file = Path(__file__).resolve()
    offenders = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in _repository_files()
        if path.resolve() != this_file
        for needle in outside
        if needle in path.read_text(errors="replace")
    ]
    assert offenders == []
