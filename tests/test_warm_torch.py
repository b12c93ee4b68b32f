"""The fresh processes forked from the waiting torch process behave like a new `python`, torch already imported."""
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from helpers.course.warm_torch import _parse_args, run_python, stop_warm_torch, warm_torch_status


@pytest.fixture(autouse=True, scope="module")
def own_waiting_process(tmp_path_factory):
    """A waiting process of these tests' own, started with this environment (a kernel's may differ)."""
    saved = os.environ.get("WORKBOOK_WARM_TORCH_DIR")
    os.environ["WORKBOOK_WARM_TORCH_DIR"] = str(tmp_path_factory.mktemp("warm"))
    yield
    assert stop_warm_torch()
    if saved is None:
        del os.environ["WORKBOOK_WARM_TORCH_DIR"]
    else:
        os.environ["WORKBOOK_WARM_TORCH_DIR"] = saved


def test_a_forked_process_has_torch_but_not_the_helpers_nor_our_classes(tmp_path):
    probe = ("import json, sys, torch, os\n"
             "print(json.dumps({'helpers': 'helpers' in sys.modules, 'this_test': any('test_warm' in m for m in sys.modules),"
             " 'argv': sys.argv, 'cwd': os.getcwd(), 'path0': sys.path[0], 'env': os.environ.get('WORKBOOK_PROBE'),"
             " 'sum': torch.ones(3).sum().item()}))")
    done = run_python(["-c", probe, "a", "b"], cwd=tmp_path, env={**os.environ, "WORKBOOK_PROBE": "yes"})
    assert done.returncode == 0, done.stderr
    assert done.warm
    import json
    seen = json.loads(done.stdout)
    assert seen == {"helpers": False, "this_test": False, "argv": ["-c", "a", "b"], "cwd": str(tmp_path),
                    "path0": "", "env": "yes", "sum": 3.0}


def test_a_forked_process_collects_garbage_and_only_torchs_import_is_frozen():
    # The waiting process freezes what importing torch made (no collector walks over it in every fork); a fork
    # must still collect its own garbage, as any Python does.
    probe = ("import gc, json\n"
             "class Cycle: pass\n"
             "a = Cycle(); a.me = a; del a\n"
             "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(), 'collected': gc.collect()}))")
    done = run_python(["-c", probe])
    assert done.returncode == 0 and done.warm, done.stderr
    import json
    seen = json.loads(done.stdout)
    assert seen["enabled"] and seen["collected"] >= 1 and seen["frozen"] > 100_000, seen


def test_a_script_file_runs_as_main_and_its_classes_can_be_scripted(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        import sys, torch
        class Twice(torch.nn.Module):
            def forward(self, x):
                return x * 2
        print(__name__, torch.jit.script(Twice())(torch.ones(2)).tolist(), sys.argv[1:], sys.path[0])
    """))
    done = run_python([str(script), "--flag"])
    assert done.warm and done.returncode == 0, done.stderr
    assert done.stdout.split() == ["__main__", "[2.0,", "2.0]", "['--flag']", str(tmp_path)]


@pytest.mark.parametrize("code, returncode, last_line", [
    ("raise ValueError('boom')", 1, "ValueError: boom"),
    ("import sys; sys.exit(3)", 3, ""),
    ("import sys; sys.exit('bye')", 1, "bye"),
    ("import os; os._exit(5)", 5, ""),
])
def test_exit_codes_and_errors_are_those_of_python(code, returncode, last_line):
    done = run_python(["-c", code])
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.warm
    assert done.returncode == cold.returncode == returncode
    assert (done.stderr.strip().splitlines() or [""])[-1] == (cold.stderr.strip().splitlines() or [""])[-1] == last_line


def _without_addresses(text):
    return re.sub(r"0x[0-9a-f]+", "0x…", text)


def test_a_traceback_reads_as_python_prints_it(tmp_path):
    """From the script's own frame: no frame of the waiting process's program, none of runpy's."""
    code = "import torch\ndef load(path):\n    return torch.jit.load(path)\nload('no_such_file.pt')\n"
    script = tmp_path / "job.py"
    script.write_text(code)
    for args in (["-c", code], [str(script)]):
        done = run_python(args, cwd=tmp_path)
        cold = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tmp_path)
        assert done.warm and done.returncode == cold.returncode == 1
        warm_trace = done.stderr[done.stderr.index("Traceback"):]
        cold_trace = cold.stderr[cold.stderr.index("Traceback"):]
        assert _without_addresses(warm_trace) == _without_addresses(cold_trace)
        assert "warm_torch" not in done.stderr and "runpy" not in done.stderr


def test_stdin_and_warning_options():
    done = run_python(["-W", "error::UserWarning", "-c", "import warnings\nprint(input())\nwarnings.warn('w')"],
                      input="typed\n")
    assert done.warm and done.stdout == "typed\n" and done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "UserWarning: w"


def test_a_switch_torch_reads_at_import_gets_a_cold_process():
    code = "import torch; print(torch.jit._state._enabled.enabled)"
    done = run_python(["-c", code], env={**os.environ, "PYTORCH_JIT": "0"})
    assert not done.warm and done.stdout.strip() == "False"
    assert run_python(["-c", code]).stdout.strip() == "True"
    assert not run_python(["-c", "print(1)"], fresh_import=True).warm


def test_a_setting_torch_sets_for_itself_keeps_the_process_warm():
    # torch.export sets TORCHINDUCTOR_CACHE_DIR in the kernel; a fork is still right for what that kernel asks
    done = run_python(["-c", "print(1)"], env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": "/tmp/somewhere"})
    assert done.warm and done.stdout == "1\n"


def test_other_import_time_settings_get_a_waiting_process_of_their_own():
    assert run_python(["-c", "print(1)"]).warm  # the plain waiting process (whatever ran before this test)
    code = "import os, torch; print(os.environ['OMP_NUM_THREADS'])"
    done = run_python(["-c", code], env={**os.environ, "OMP_NUM_THREADS": "3"})
    assert done.warm and done.stdout == "3\n"
    assert len(warm_torch_status()["pids"]) >= 2


def test_a_time_out_kills_the_process_and_raises():
    with pytest.raises(subprocess.TimeoutExpired):
        run_python(["-c", "import time; time.sleep(60)"], timeout=1)


def test_requests_at_the_same_time_each_get_their_own_process():
    results = [None] * 4

    def one(i):
        results[i] = run_python(["-c", f"import os, time; time.sleep(0.3); print({i}, os.getpid())"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.stdout.split()[0] for r in results] == ["0", "1", "2", "3"]
    assert len({r.stdout.split()[1] for r in results}) == 4
    assert all(r.warm for r in results)


def test_the_status_counts_the_forks_cpu():
    before = warm_torch_status()["cpu_s"] if warm_torch_status() else 0.0
    run_python(["-c", "x = 0\nfor i in range(3_000_000): x += i"])
    status = warm_torch_status()
    assert status["pids"] and status["rss_mb"] > 0
    assert status["cpu_s"] > before


@pytest.mark.parametrize("bad", ["print(1)", [], ["-c"], [1, 2], None])
def test_bad_arguments_get_one_clear_error(bad):
    if isinstance(bad, list) and bad and all(isinstance(a, str) for a in bad):
        assert _parse_args(bad) is None  # not a form the waiting process runs: a cold python gets it
        return
    with pytest.raises(TypeError, match="run_python takes Python's arguments as a list of strings"):
        run_python(bad)


def test_a_forked_process_ends_as_python_does_finalizers_and_atexit_included():
    code = ("import atexit\nclass Noisy:\n    def __del__(self):\n        print('finalized', flush=True)\n"
            "keep = Noisy()\natexit.register(lambda: print('atexit', flush=True))\nprint('body')")
    done = run_python(["-c", code])
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.warm
    assert done.stdout.split() == cold.stdout.split() == ["body", "atexit", "finalized"]


def test_the_waiting_process_ends_with_its_owner(tmp_path):
    # "server" plays a Jupyter server: it starts a "kernel" that asks for a fresh process, then it ends
    env = {**os.environ, "WORKBOOK_WARM_TORCH_DIR": str(tmp_path)}
    kernel = ("from helpers.course.warm_torch import run_python, warm_torch_status\n"
              "assert run_python(['-c', 'print(1)']).warm\nprint(warm_torch_status()['pids'][0])")
    server = f"import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', {kernel!r}], capture_output=True, text=True).stdout)"
    ran = subprocess.run([sys.executable, "-c", server], env=env, capture_output=True, text=True, timeout=120)
    pid = int(ran.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the waiting process outlived the process that started the one that asked for it")


def test_memory_of_a_tree_counts_the_waiting_process_apart_and_a_fork_by_its_own_pages():
    """scripts/process_memory.py: what the benchmark and the hub load test add up for a kernel and its processes."""
    import importlib.util

    import psutil
    from helpers.course.workdir import REPO_ROOT
    spec = importlib.util.spec_from_file_location("process_memory", REPO_ROOT / "scripts" / "process_memory.py")
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)

    holding = threading.Thread(target=run_python, args=(["-c", "import time; x = bytearray(50_000_000); time.sleep(4)"],))
    holding.start()
    try:
        me = psutil.Process()
        deadline = time.monotonic() + 30
        forks = []
        while time.monotonic() < deadline and not forks:  # the fork that holds 50 MB of its own
            forks = [p for p in me.children(recursive=True) if memory.is_waiting_torch(p)
                     and memory._parent_is_waiting(p) and p.memory_info().rss > 0
                     and memory.own_bytes(p, count_waiting=False) > 40e6]
            time.sleep(0.1)
        assert forks, "no forked process seen"
        waiting = [p for p in me.children(recursive=True) if memory.is_waiting_torch(p) and not memory._parent_is_waiting(p)]
        assert waiting, "the waiting process should be this test process's child"
        server = waiting[0]
        assert memory.own_bytes(server, count_waiting=False) == 0
        assert memory.own_bytes(server, count_waiting=True) == server.memory_info().rss > 200e6  # torch is in it
        fork = forks[0]
        own = memory.own_bytes(fork, count_waiting=False)
        assert 40e6 < own < fork.memory_info().rss - 100e6  # its 50 MB, not torch's pages again
        by_rss = me.memory_info().rss + sum(p.memory_info().rss for p in me.children(recursive=True))
        assert memory.tree_bytes(me) < by_rss - server.memory_info().rss
    finally:
        holding.join()


def test_export_loaders_fork_from_a_second_waiting_process_with_torch_loaders_and_nothing_of_ours(tmp_path):
    from helpers.course import warm_torch
    probe = ("import json, os, sys\n"
             "print(json.dumps({'loaders': all(m in sys.modules for m in sys.argv[1:]), 'helpers': 'helpers' in sys.modules,"
             " 'this_test': any('test_warm' in m for m in sys.modules), 'parent': os.getppid()}))")
    first = run_python(["-c", probe, *warm_torch.EXPORT_LOADERS], cwd=tmp_path, export_loaders=True)
    second = run_python(["-c", probe, *warm_torch.EXPORT_LOADERS], cwd=tmp_path, export_loaders=True)
    plain = run_python(["-c", probe, *warm_torch.EXPORT_LOADERS], cwd=tmp_path)
    import json
    seen = [json.loads(done.stdout) for done in (first, second, plain)]
    assert first.warm and second.warm and plain.warm
    assert seen[0]["loaders"] and seen[1]["loaders"] and not seen[2]["loaders"]  # the plain one has torch only
    assert not any(s["helpers"] or s["this_test"] for s in seen)
    running = [answer for _, answer in warm_torch._running()]
    loaders = [a for a in running if a.get("preload")]
    assert len(loaders) == 1 and tuple(loaders[0]["preload"]) == warm_torch.EXPORT_LOADERS  # reused, not one per call
    assert 0 < loaders[0]["own_mb"] < loaders[0]["rss_mb"] / 2  # forked: most of its pages are the first one's
    status = warm_torch_status()  # its own pages only: the rest is counted with the first one
    assert status["rss_mb"] == pytest.approx(sum(a["own_mb"] if a.get("preload") else a["rss_mb"] for a in running),
                                             rel=0.05)
    with pytest.raises(TypeError, match="export_loaders"):
        run_python(["-c", "pass"], export_loaders="yes")


def test_a_waiting_process_imports_nothing_but_torch_modules_on_request():
    from helpers.course import warm_torch
    base, answer = warm_torch._ensure_server(dict(os.environ))
    assert answer
    reply = warm_torch._request(base, {"spawn": str(base) + ".other", "preload": ["helpers"], "owner": 0}, timeout=10)
    assert reply == {"spawned": False}


def test_start_in_background_returns_at_once_and_the_first_fresh_process_finds_it_waiting(tmp_path, monkeypatch):
    from helpers.course import warm_torch
    monkeypatch.setenv("WORKBOOK_WARM_TORCH_DIR", str(tmp_path))  # nothing waits here yet
    assert warm_torch_status() == {}
    thread = warm_torch.start_in_background("09_beyond_torchscript")
    # it returned while its thread still waits for the process, which takes seconds to import torch (no clock read:
    # a busy machine only makes that wait longer)
    assert thread.is_alive()
    thread.join(timeout=120)
    running = [answer for _, answer in warm_torch._running()]
    assert [tuple(a["preload"]) for a in running] in ([(), warm_torch.EXPORT_LOADERS], [warm_torch.EXPORT_LOADERS, ()])
    done = run_python(["-c", "import sys; print('torch._inductor.package' in sys.modules)"], export_loaders=True)
    assert done.warm and done.stdout.strip() == "True"
    assert len(warm_torch._running()) == 2  # it used the one started in the background
    assert stop_warm_torch()


def test_start_in_background_does_nothing_for_a_notebook_without_fresh_processes_or_when_switched_off(monkeypatch,
                                                                                                      tmp_path):
    from helpers.course import warm_torch
    monkeypatch.setenv("WORKBOOK_WARM_TORCH_DIR", str(tmp_path))
    assert warm_torch.start_in_background("03_tracing") is None
    assert warm_torch.start_in_background("floor") is None
    monkeypatch.setenv("WORKBOOK_WARM_TORCH", "0")
    assert warm_torch.start_in_background("05_save_and_load") is None
    assert warm_torch_status() == {}


def test_the_notebooks_that_fork_fresh_processes_are_the_ones_started_in_background():
    """The list in warm_torch names every notebook whose cells reach run_python on a warm path, and no other."""
    import json
    from pathlib import Path
    from helpers.course import warm_torch
    found = {}
    for path in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        code = re.sub(r"run_fresh_python\([^)]*PYTORCH_JIT[^)]*\)", "", code)  # a PYTORCH_ switch: a cold process
        loaders = "export_loaders=True" in code or "export_roundtrip_checks(" in code
        if loaders or "run_python(" in code or "run_fresh_python(" in code:
            found[path.stem] = loaders
    assert found == warm_torch.NOTEBOOKS_WITH_FRESH_PROCESSES


def test_a_socket_folder_that_does_not_exist_yet_is_made(monkeypatch):
    import shutil
    import tempfile
    short = tempfile.mkdtemp(prefix="wt-", dir="/tmp")  # a socket's path must stay under about 100 characters
    try:
        monkeypatch.setenv("WORKBOOK_WARM_TORCH_DIR", os.path.join(short, "not", "yet"))
        done = run_python(["-c", "print(1)"])
        assert done.warm and done.stdout == "1\n"
        assert stop_warm_torch()
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.mark.parametrize("gone", [FileNotFoundError, ConnectionRefusedError])
def test_a_waiting_process_that_ends_between_the_ping_and_the_request_is_asked_again(monkeypatch, gone):
    # another session's waiting process, found by the ping, ends (with the server that owned it) before the request
    import helpers.course.warm_torch as warm_torch
    real, calls = warm_torch._request, []

    def vanishing(path, message, timeout):
        if "args" in message:
            calls.append(path)
            if len(calls) == 1:
                raise gone(2, "No such file or directory")
        return real(path, message, timeout)

    monkeypatch.setattr(warm_torch, "_request", vanishing)
    done = run_python(["-c", "print(6 * 7)"])
    assert done.stdout.strip() == "42" and done.warm and len(calls) == 2


def test_when_no_waiting_process_answers_twice_the_process_starts_cold(monkeypatch):
    import helpers.course.warm_torch as warm_torch
    real = warm_torch._request

    def always_gone(path, message, timeout):
        if "args" in message:
            raise FileNotFoundError(2, "No such file or directory")
        return real(path, message, timeout)

    monkeypatch.setattr(warm_torch, "_request", always_gone)
    done = run_python(["-c", "print(6 * 7)"])
    assert done.stdout.strip() == "42" and not done.warm and done.returncode == 0


def test_starting_the_waiting_process_leaves_no_resource_warning(tmp_path):
    # the Popen of the waiting process is kept: collected while the process ran, it warned, and a notebook's first
    # H.attempt reported that warning as its own
    env = {**os.environ, "WORKBOOK_WARM_TORCH_DIR": str(tmp_path), "TS_WORKBOOK_WORK": str(tmp_path / "work")}
    code = ("import gc, warnings, helpers as H\nwarnings.simplefilter('always')\n"
            "WORK = H.start('09_beyond_torchscript')\nimport time\n"
            "for i in range(40):\n    with H.attempt(f'attempt {i}', show=False) as a:\n        time.sleep(0.05)\n"
            "    gc.collect()\n    assert not a.warnings, a.warnings\n"
            "from helpers.course.warm_torch import stop_warm_torch\nstop_warm_torch()\nprint('clean')")
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert ran.returncode == 0 and ran.stdout.strip().endswith("clean"), ran.stderr[-2000:]
    assert "ResourceWarning" not in ran.stderr, ran.stderr[-2000:]  # nor as the interpreter exits
