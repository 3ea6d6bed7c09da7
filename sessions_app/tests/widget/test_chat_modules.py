"""The widget page's ES modules (sessions_app/static/botportal/chat/): their unit tests, run by Node's own
test runner, and their imports once hashed for production.

`make test` is pytest, so the Node tests run here rather than from a second Makefile step: one command,
one report, in CI and on a laptop alike. `make test-js` runs them alone.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles.finders import AppDirectoriesFinder

from botportal.staticfiles import ManifestStaticFilesStorage

JS_TESTS = Path(__file__).parent / "js"
MODULES = "botportal/chat/"
IMPORT = re.compile(r'^import .* from "(?P<url>[^"]+)";$', re.M)


def _node():
    node = shutil.which("node")
    if node is None:
        reason = "Node.js (20 or later) runs the widget's unit tests: install it (Debian: apt-get install nodejs)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def test_the_widget_modules_pass_their_node_unit_tests():
    files = sorted(str(path) for path in JS_TESTS.glob("*.test.js"))
    assert len(files) >= 4, files  # storage, API client, JSONL reader, rendering
    result = subprocess.run(
        [_node(), "--test", "--test-reporter=tap", *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M), result.stdout[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", result.stdout, re.M)[1])
    assert passed >= 20, result.stdout[-2000:]


def test_hashed_modules_import_their_hashed_siblings(tmp_path):
    """In production (ManifestStaticFilesStorage) main.<hash>.js must import api.<hash>.js, not api.js, so that
    a browser never mixes modules from two deployments."""
    finder = AppDirectoriesFinder(app_names=["sessions_app"])
    storage = ManifestStaticFilesStorage(location=str(tmp_path), base_url="/static/")
    paths = {}
    for path, source in finder.list([]):
        if path.startswith(MODULES):
            with source.open(path) as handle:
                storage._save(path, handle)
            paths[path] = (storage, path)
    assert f"{MODULES}main.js" in paths
    for _name, _hashed, processed in storage.post_process(paths):
        if isinstance(processed, Exception):
            raise processed

    main = storage.stored_name(f"{MODULES}main.js")
    assert re.fullmatch(rf"{MODULES}main\.[0-9a-f]{{12}}\.js", main), main
    imports = IMPORT.findall((tmp_path / main).read_text())
    assert sorted(imports) == sorted(
        "./" + Path(storage.stored_name(f"{MODULES}{name}.js")).name for name in ("api", "jsonl", "render", "storage")
    ), imports
    for url in imports:
        assert re.fullmatch(r"\./\w+\.[0-9a-f]{12}\.js", url), url
        assert (tmp_path / MODULES / url).exists(), url
