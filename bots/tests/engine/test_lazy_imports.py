import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")
import django
django.setup()
import bots.engine, sessions_app.tasks, sessions_app.services.conversations  # noqa
print(",".join(m for m in ("sklearn", "numpy", "scipy") if m in sys.modules))
"""


def test_starting_botportal_does_not_load_the_classifiers_libraries():
    # Web workers that never classify and Celery workers that prune should not carry ~100 MB of them.
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
