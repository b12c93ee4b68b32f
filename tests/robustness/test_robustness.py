"""Classroom robustness (`make test-robust`): reruns, two users at once, and no network, on a busy machine.

- Everything here runs while two processes load both cores (conftest.py's background_load).
- Every notebook runs twice in a row in the same kernel, and the second run is green too.
- The whole notebook suite runs twice at the same time from one checkout, as two users, one of
  them with no network at all (`unshare -n`, where the machine allows it): both green, no collision.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from steady_client import SteadyNotebookClient as NotebookClient  # noqa: E402  (replies read in slices)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_background_load_is_running(background_load):
    if os.environ.get("ROBUST_BACKGROUND_LOAD", "1") == "0":
        pytest.skip("ROBUST_BACKGROUND_LOAD=0: the background load is off")
    import psutil
    assert len(background_load) == 2 and all(proc.poll() is None for proc in background_load)
    assert all(psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE for proc in background_load)


def test_burners_stop_when_told_and_by_themselves():
    import importlib.util  # tests/robustness/conftest.py, by path: the repo root has a conftest.py too
    spec = importlib.util.spec_from_file_location("robust_conftest", Path(__file__).with_name("conftest.py"))
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    start_burners, stop_burners = load.start_burners, load.stop_burners
    burners = start_burners(count=2, seconds=600)
    stop_burners(burners)
    assert all(proc.returncode is not None for proc in burners)
    bounded = start_burners(count=1, seconds=0.5)  # its own deadline, without being told
    assert bounded[0].wait(timeout=120) == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_twice_in_one_kernel_and_again_after_a_restart(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TS_WORKBOOK_WORK", str(tmp_path))  # kernels inherit it: a work folder for this test
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)  # raises CellExecutionError on any error
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    # Restart: a new kernel finds the work folder as the last one left it (files kept), and runs green on it.
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    again = nbformat.read(path, as_version=4)
    NotebookClient(again, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    after = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert before <= after, f"files lost across the restart: {sorted(map(str, before - after))}"
    assert not [p for p in tmp_path.rglob("*-2") if p.is_dir()], "the restarted kernel got a second folder"


# A private network namespace has only a loopback interface, and it starts down: bring it up,
# since Jupyter kernels talk to nbval over 127.0.0.1. Nothing else is reachable.
OFFLINE = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]


def network_is_isolatable() -> bool:
    return shutil.which("unshare") is not None and shutil.which("ip") is not None and subprocess.run(
        OFFLINE + ["true"], capture_output=True).returncode == 0


def test_offline_namespace_really_has_no_network():
    if not network_is_isolatable():
        pytest.skip("this machine cannot make a private network namespace (unshare -n)")
    # `ip -o link` lists the interfaces of the namespace the command runs in: only loopback there
    result = subprocess.run(OFFLINE + ["ip", "-o", "link"], capture_output=True, text=True)
    names = [line.split(":")[1].strip() for line in result.stdout.splitlines()]
    assert result.returncode == 0 and names == ["lo"], result.stdout + result.stderr


def test_two_users_at_once_one_offline(tmp_path):
    offline = network_is_isolatable()
    runs = {}
    for user in ("alice", "bob"):
        env = {**os.environ, "USER": user, "LOGNAME": user, "TS_WORKBOOK_WORK": str(tmp_path / "work")}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
               "--nbval-current-env", str(ROOT / "notebooks")]
        if user == "bob" and offline:
            cmd = OFFLINE + cmd
        log = open(tmp_path / f"{user}.log", "w")
        runs[user] = (subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log)
    for user, (proc, log) in runs.items():
        proc.wait(timeout=1800)
        log.close()
        text = (tmp_path / f"{user}.log").read_text()
        assert proc.returncode == 0, f"{user}'s run failed:\n{text[-3000:]}"
    folders = {user: sorted(p.name for p in (tmp_path / "work" / user).iterdir()) for user in runs}
    assert folders["alice"] and folders["bob"], "each user got a work folder of their own"
    print(f"offline run: {'yes (unshare -n)' if offline else 'not possible on this machine'}")
    if not offline:
        pytest.skip("both users green, but this machine cannot cut the network (unshare -n failed)")
