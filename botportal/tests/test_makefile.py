"""The Makefile's own promises: `make run` is a development server, `make test` installs Chromium."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make(args: list[str], env_overrides: dict | None = None, drop=("DEBUG",)) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_overrides or {})
    command = [shutil.which("make") or "make", "-s", "-C", str(ROOT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


# --- make run ---------------------------------------------------------------------------------------
def _stub_venv(tmp_path) -> tuple[Path, Path]:
    """A virtualenv whose python records the DEBUG it was started with, then fails (so make stops there)."""
    venv, log = tmp_path / "venv", tmp_path / "python.log"
    (venv / "bin").mkdir(parents=True)
    _script(venv / "bin" / "python", f'echo "DEBUG=${{DEBUG-unset}}" >> {log}\nexit 1\n')
    for marker in (".installed-run", ".installed-dev"):
        (venv / marker).touch()
    return venv, log


def test_make_run_turns_debug_on_for_itself(tmp_path):
    venv, log = _stub_venv(tmp_path)
    result = _make(["run", f"VENV={venv}"])
    assert result.returncode != 0  # the stub python stops make at its first command
    assert log.read_text().splitlines() == ["DEBUG=true"], result.stderr


def test_make_run_keeps_a_debug_the_environment_sets(tmp_path):
    venv, log = _stub_venv(tmp_path)
    _make(["run", f"VENV={venv}"], {"DEBUG": "false"})
    assert log.read_text().splitlines() == ["DEBUG=false"]


# --- Chromium for the browser tests --------------------------------------------------------------------
def _fake_apt_get(tmp_path, chromium: Path, install_succeeds: bool = True) -> tuple[Path, Path]:
    log = tmp_path / "apt-get.log"
    install = f"touch {chromium} && chmod +x {chromium}" if install_succeeds else "exit 100"
    apt_get = _script(
        tmp_path / "apt-get",
        f'echo "$*" >> {log}\ncase "$1" in install) {install} ;; esac\n',
    )
    return apt_get, log


def test_install_dev_installs_chromium():
    result = _make(["-n", "install-dev"])
    assert "install -y -qq chromium" in result.stdout


def test_a_missing_chromium_is_installed_with_apt_get(tmp_path):
    chromium = tmp_path / "chromium"
    apt_get, log = _fake_apt_get(tmp_path, chromium)
    result = _make(["chromium", f"BOTPORTAL_CHROMIUM={chromium}", f"APT_GET={apt_get}"])
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["--version", "update -qq", "install -y -qq chromium"]
    assert chromium.exists()


def test_a_present_chromium_is_left_alone(tmp_path):
    chromium = _script(tmp_path / "chromium", "exit 0\n")
    apt_get, log = _fake_apt_get(tmp_path, chromium)
    result = _make(["chromium", f"BOTPORTAL_CHROMIUM={chromium}", f"APT_GET={apt_get}"])
    assert result.returncode == 0, result.stderr
    assert not log.exists()


def test_without_apt_get_it_says_what_to_install(tmp_path):
    chromium = tmp_path / "chromium"
    result = _make(["chromium", f"BOTPORTAL_CHROMIUM={chromium}", f"APT_GET={tmp_path / 'no-apt-get'}"])
    assert result.returncode == 0  # the other tests can still run
    assert f"Chromium not found at {chromium}" in result.stderr
    assert "apt-get install chromium" in result.stderr and "BOTPORTAL_CHROMIUM" in result.stderr


def test_a_failed_install_fails_make(tmp_path):
    chromium = tmp_path / "chromium"
    apt_get, _ = _fake_apt_get(tmp_path, chromium, install_succeeds=False)
    result = _make(["chromium", f"BOTPORTAL_CHROMIUM={chromium}", f"APT_GET={apt_get}"])
    assert result.returncode != 0
    assert "apt-get could not install chromium" in result.stderr
