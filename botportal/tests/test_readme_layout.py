"""The README's "Layout" section names real places: every path and dotted name in it exists."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("botportal", "bots", "sessions_app", "templates")


def _layout_names() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"`([^`]+)`", section)
    # Paths from the top, and dotted names; a bare file name ("bots.py") is relative to its row's package.
    return [
        name
        for name in names
        if name.split("/")[0].split(".")[0] in APPS
        and "<" not in name
        and not (name.endswith(".py") and "/" not in name)
    ]


def test_the_section_names_places():
    assert len(_layout_names()) > 20


@pytest.mark.parametrize("name", _layout_names())
def test_each_name_exists(name):
    if "/" in name:
        assert (ROOT / name).exists(), name
        return
    module, _, attribute = name.rpartition(".")
    try:
        found = importlib.import_module(name)
    except ImportError:
        found = getattr(importlib.import_module(module), attribute, None)
    assert found is not None, name
