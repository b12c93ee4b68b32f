"""scripts/need_system.sh: what the Makefile runs before a step that needs a system package."""
import os
import stat
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "need_system.sh"


def run(*args, path=None):
    env = {**os.environ, **({"PATH": path} if path else {})}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env)


def test_a_check_that_passes_installs_nothing_and_says_nothing():
    done = run("chromium", "make test-browser", "true")
    assert done.returncode == 0 and done.stdout == done.stderr == ""


def test_without_root_a_missing_package_is_named_in_one_line(tmp_path):
    fake_id = tmp_path / "id"  # a learner's shell: not root, so nothing is installed
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(fake_id.stat().st_mode | stat.S_IEXEC)
    done = run("npm", "make hub", "false", path=f"{tmp_path}:{os.environ['PATH']}")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == ("make: make hub needs the npm package, which is not installed "
                                   "(Debian, Ubuntu: sudo apt-get install npm)")


def test_the_makefile_checks_before_each_step_that_needs_a_system_package():
    makefile = (SCRIPT.parent.parent / "Makefile").read_text()
    for package in ("python3-venv", "chromium", "npm", "g++"):
        assert f"scripts/need_system.sh {package} " in makefile, package
