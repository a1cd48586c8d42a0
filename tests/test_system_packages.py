"""`make run` and `make test` start with scripts/system-packages: a newcomer missing a library gets the one
line to run before anything is installed, instead of an error deep inside a test run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-packages"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian or Ubuntu system")


def run_as_a_user(tmp_path: Path, *packages: str) -> subprocess.CompletedProcess[str]:
    """Run the check as a non-root user would see it (an `id` that answers 1000), so nothing is installed."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "id").write_text("#!/bin/sh\necho 1000\n")
    (fake_bin / "id").chmod(0o755)
    path = f"{fake_bin}:/usr/bin:/bin:/usr/sbin:/sbin"
    return subprocess.run([str(SCRIPT), *packages], capture_output=True, text=True, env={"PATH": path},
                          timeout=60, check=False)


def test_a_missing_package_stops_with_the_one_line_to_run(tmp_path):
    result = run_as_a_user(tmp_path, "bash", "rehab-no-such-package")
    assert result.returncode == 1
    assert "Missing system packages: rehab-no-such-package." in result.stderr
    assert "sudo apt-get update && sudo apt-get install -y --no-install-recommends rehab-no-such-package" \
        in result.stderr
    assert "bash" not in result.stderr.split("Missing system packages:")[1].split(".")[0]  # only what is missing


def test_nothing_is_said_when_everything_is_there(tmp_path):
    result = run_as_a_user(tmp_path, "bash", "coreutils")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
