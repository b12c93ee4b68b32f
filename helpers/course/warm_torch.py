"""Fresh Python processes that start in milliseconds: forked from a waiting process that has imported torch (02, 05, 09, 10).

A notebook that shows "this file loads in a new process that never saw your class" pays about two
seconds each time, most of it importing torch again. ``run_python`` forks that process instead from
a *waiting* one: a separate Python started once per learner and Jupyter server, which has run
``import torch`` and nothing else, and which then waits on a socket. Each request gets its own
forked process, with its own environment, working folder, ``sys.argv``, ``sys.path`` and
``__main__``: a real separate process whose only head start is that torch is imported.

What the waiting process never does: import the workbook's helpers or any model class (it is
started from this file's path, not as ``helpers.course...``), run a torch operation (so no thread
pool exists when it forks), or keep torch settings that are read at import. A request that sets
one of torch's own switches (``PYTORCH_JIT=0``, anything starting with ``PYTORCH_``) runs in a cold
``python`` instead, as does ``fresh_import=True``; ``result.warm`` says which it was. ``H.start`` begins the
waiting process in the background for the notebooks that use one (``NOTEBOOKS_WITH_FRESH_PROCESSES``), so that
it imports torch while the first cells run. It imports with Python's
collector paused and then freezes what it imported (``gc.freeze``): no fork walks torch's objects again at each
full collection or copies their pages by touching them; a fork collects its own garbage as any Python does. Other settings
read at import (``TORCH_*``, ``OMP_*``, ``MKL_*``, ``LD_*`` ...) get a waiting process per set of values. ``WORKBOOK_WARM_TORCH=0`` turns the
waiting process off everywhere; ``WORKBOOK_WARM_TORCH_DIR`` puts its socket elsewhere (the tests get their own).

A second waiting process, on request only (``export_loaders=True``), has also imported torch's loaders
for exported programs and AOTInductor packages (``EXPORT_LOADERS``: torch.export.load and
aoti_load_package import about a second of torch._dynamo and torch._inductor on their first call). It is
forked from the first, so it pays only those imports, once per learner, instead of every fresh process
that loads a ``.pt2`` file paying them (09's round trip, 10's AOTInductor probes). It holds about 150 MB
of its own and exits after ``LOADERS_IDLE_SECONDS`` without a request.

It costs memory: the waiting process holds torch (about 0.5 GB resident, most of it shared with the
processes it forks); it exits with whatever started the kernel that asked for it (JupyterLab, a hub
server, the benchmark), or after three idle hours. The course benchmark counts its CPU-seconds
in the notebook that used it, and the hub sizing counts its memory once per learner.

This file uses the standard library only, because it is also the waiting process's program.
"""
import atexit
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

__all__ = ["run_python", "warm_torch_status", "stop_warm_torch"]

IDLE_SECONDS = 3 * 60 * 60  # one workshop session: 02 starts it, 05, 09 and 10 come an hour or more later
LOADERS_IDLE_SECONDS = 30 * 60  # the export loaders serve 09-11, one stretch of the course: then its memory goes
# What the second waiting process imports beyond torch: torch's own modules only, never the workbook's or yours.
EXPORT_LOADERS = ("torch._export.serde.serialize", "torch._inductor.package")
START_TIMEOUT = 120.0
# Settings torch (or the libraries it loads) read once, at import: a forked process would keep the waiting one's.
# Each set of them gets a waiting process of its own. (Not TORCHINDUCTOR_*: torch sets those itself, at run time.)
IMPORT_TIME_PREFIXES = ("PYTORCH_", "TORCH_", "OMP_", "MKL_", "KMP_", "GOMP_", "LD_", "PYTHONHASHSEED",
                        "PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE", "PYTHONOPTIMIZE")
# torch's documented switches (PYTORCH_JIT=0 ...): a process that sets one wants torch imported anew, so it gets a cold one
COLD_PREFIXES = ("PYTORCH_",)
# The notebooks whose cells fork fresh processes (True: some of them load .pt2 files, so they want the export loaders
# too). H.start begins their waiting process in the background: it imports torch on the other core while the first
# cells run, and the learner's first fresh process does not wait for it. A notebook missing here still works: its
# first fresh process starts the waiting one and waits (tests/test_warm_torch.py keeps this list in step).
NOTEBOOKS_WITH_FRESH_PROCESSES = {"02_what_is_torchscript": False, "05_save_and_load": False,
                                  "09_beyond_torchscript": True, "10_shipping": True}


# ------------------------------------------------------------------ where the waiting process listens

def _folder() -> Path:
    folder = Path(os.environ.get("WORKBOOK_WARM_TORCH_DIR") or tempfile.gettempdir()) / f"workbook-warm-torch-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _socket_path(import_env: dict, preload: tuple = ()) -> Path:
    """One socket per user, interpreter, torch install, version of this file, set of import-time settings and
    modules imported beyond torch."""
    import importlib.util
    spec = importlib.util.find_spec("torch")
    torch_init = Path(spec.origin) if spec and spec.origin else Path("none")
    stamp = "|".join([os.path.realpath(sys.executable), str(torch_init),
                      str(torch_init.stat().st_mtime_ns) if torch_init.exists() else "",
                      str(Path(__file__).stat().st_mtime_ns), json.dumps(sorted(import_env.items()))]
                     + ([json.dumps(list(preload))] if preload else []))
    return _folder() / (hashlib.sha256(stamp.encode()).hexdigest()[:16] + ".sock")


def _import_time_env(env) -> dict:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES)}


def _request(path: Path, message: dict, timeout):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(path))
        conn.sendall(json.dumps(message).encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("the waiting torch process closed the connection")
            reply += chunk
    return json.loads(reply)


def _ping(path: Path):
    try:
        return _request(path, {"ping": True}, timeout=5)
    except (OSError, ValueError):
        return None


def _ensure_server(env: dict, preload: tuple = ()):
    """(socket, ping reply) of the waiting process for ``env``'s import-time settings (and ``preload``), started
    first if need be: one with ``preload`` is forked from the plain one, which imports those modules only."""
    path = _socket_path(_import_time_env(env), preload)
    answer = _ping(path)
    if answer:
        return path, answer
    import fcntl
    with open(str(path) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two kernels asking at once start one waiting process
        answer = _ping(path)
        if answer:
            return path, answer
        owner = os.getppid()  # see below
        if preload:
            base, base_answer = _ensure_server(env)
            if not base_answer:
                return None, None
            _request(base, {"spawn": str(path), "preload": list(preload), "owner": owner,
                            "owner_start": _start_time(owner)}, timeout=30)
            return _wait_for(path)
        # the request's own environment (its import-time settings are the socket's), without the request's PYTHONPATH
        server_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        # Its owner is whatever started the asking process (a kernel's Jupyter server, the benchmark, pytest): when
        # the owner ends, so does the waiting process, and a stopped hub server leaves nothing behind.
        # kept in a list: a Popen dropped while its process runs warns (ResourceWarning) when it is collected, and
        # the first H.attempt of a notebook would report that warning as its own
        _STARTED.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(path), str(owner),
                                          _start_time(owner)], env=server_env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         cwd="/", start_new_session=True))  # a session of its own: it outlives this kernel
        return _wait_for(path)


_STARTED = []  # the waiting processes this process started (see above)


@atexit.register
def _let_go():
    """The waiting process outlives this one on purpose: its Popen goes without the exit-time ResourceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _STARTED.clear()


def start_in_background(notebook: str):
    """Begin starting the waiting process ``notebook``'s fresh processes will fork from, if it has any; return the
    thread doing it (None if there is nothing to start). Never raises: if the start fails, ``run_python`` tries again."""
    if notebook not in NOTEBOOKS_WITH_FRESH_PROCESSES or not hasattr(os, "fork") \
            or os.environ.get("WORKBOOK_WARM_TORCH", "1") == "0":
        return None
    import threading
    preload = EXPORT_LOADERS if NOTEBOOKS_WITH_FRESH_PROCESSES[notebook] else ()
    env = dict(os.environ)

    def start():
        with contextlib.suppress(Exception):
            _ensure_server(env, preload)

    # A thread, because the start is mostly waiting for the other process: the kernel's own cells run meanwhile.
    thread = threading.Thread(target=start, name="start-waiting-torch", daemon=True)
    thread.start()
    return thread


def _wait_for(path: Path):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        answer = _ping(path)
        if answer:
            return path, answer
        time.sleep(0.05)
    return None, None


def _running() -> list:
    """(socket, ping reply) of every waiting process of this user that answers."""
    answers = ((path, _ping(path)) for path in sorted(_folder().glob("*.sock")))
    return [(path, answer) for path, answer in answers if answer]


def warm_torch_status() -> dict:
    """This user's waiting processes: ``pids``, CPU-seconds (their own and their finished forks') and resident MB.

    ``{}`` if none runs. (Usually there is one; another set of import-time settings gets another, and
    ``export_loaders=True`` one forked from it, whose memory counts only its own pages: the rest is shared.)
    """
    running = [answer for _, answer in _running()]
    if not running:
        return {}
    return {"pids": [a["pid"] for a in running], "cpu_s": sum(a["cpu_s"] for a in running),
            "rss_mb": sum(a["own_mb"] if a.get("preload") else a["rss_mb"] for a in running)}


def stop_warm_torch() -> bool:
    """Stop this user's waiting processes (the next ``run_python`` starts one again); True if one was stopped."""
    import signal
    running = _running()
    for _, answer in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(answer["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_ping(path) for path, _ in running):
        time.sleep(0.05)
    return bool(running)


# ------------------------------------------------------------------ the client

def run_python(args, *, env=None, cwd=None, input: str = "", timeout: float = 120,
               fresh_import: bool = False, export_loaders: bool = False) -> subprocess.CompletedProcess:
    """Run ``python *args`` (``["-c", code, ...]`` or ``[script, ...]``) in a new process; output comes back as text.

    Like ``subprocess.run([sys.executable, *args], capture_output=True, text=True)``: it returns a
    ``CompletedProcess`` (plus ``.warm``: True when it was forked from the waiting torch process) and
    raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds. ``env`` is the whole environment
    (default: this process's); ``input`` is what the process reads on stdin. ``export_loaders=True``
    forks it from the waiting process that has also imported ``EXPORT_LOADERS`` (for a process that
    loads a ``.pt2`` file).
    """
    if isinstance(args, str) or not isinstance(args, (list, tuple)) or not args \
            or not all(isinstance(a, str) for a in args):
        raise TypeError("run_python takes Python's arguments as a list of strings, "
                        "e.g. run_python(['-c', 'import torch; print(torch.__version__)'])")
    env = dict(os.environ if env is None else env)
    cwd = str(cwd or os.getcwd())
    warm = (not fresh_import and hasattr(os, "fork") and os.environ.get("WORKBOOK_WARM_TORCH", "1") != "0"
            and not any(k.startswith(COLD_PREFIXES) for k in env) and _parse_args(list(args)) is not None)
    if not isinstance(export_loaders, bool):
        raise TypeError(f"run_python(export_loaders=...) takes True or False, got {export_loaders!r}")
    reply = None
    if warm:
        with tempfile.TemporaryDirectory(prefix="warm-torch-") as folder:
            files = {name: os.path.join(folder, name) for name in ("stdin", "stdout", "stderr")}
            Path(files["stdin"]).write_text(input, encoding="utf-8")
            message = {"args": list(args), "env": env, "cwd": cwd, "files": files, "timeout": timeout}
            # Another session's waiting process can end (with the server that owned it) between the ping that found
            # it and the request: nothing was sent then, so ask again, which starts one of our own, then go cold.
            for _ in range(2):
                path, answer = _ensure_server(env, EXPORT_LOADERS if export_loaders else ())
                if not answer:
                    break
                try:
                    reply = _request(path, message, timeout=timeout + 30)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    continue
            if reply is not None:
                out, err = (Path(files[n]).read_text(encoding="utf-8", errors="replace") for n in ("stdout", "stderr"))
    if reply is None:
        done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, input=input, capture_output=True,
                              text=True, timeout=timeout)
        done.warm = False
        return done
    if reply.get("timed_out"):
        raise subprocess.TimeoutExpired([sys.executable, *args], timeout, output=out, stderr=err)
    done = subprocess.CompletedProcess([sys.executable, *args], reply["returncode"], out, err)
    done.warm = True
    return done


def _parse_args(args):
    """(warning options, code or None, script or None, argv) for the forms the waiting process runs; None otherwise."""
    warnings_options = []
    while len(args) >= 2 and args[0] == "-W":
        warnings_options.append(args[1])
        args = args[2:]
    if len(args) >= 2 and args[0] == "-c":
        return warnings_options, args[1], None, ["-c", *args[2:]]
    if args and not args[0].startswith("-"):
        return warnings_options, None, args[0], list(args)
    return None


# ------------------------------------------------------------------ the waiting process

def _stat(pid: int) -> list:
    """The fields of /proc/<pid>/stat after the command name (state first); [] if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _start_time(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot), so that a reused pid is not taken for the same process."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def _serve(path: str, owner: int = 0, owner_start: str = "", preload: tuple = (), idle: float = IDLE_SECONDS,
           base_path=None):
    import importlib
    import warnings
    if base_path is None:
        base_path = [p for p in sys.path[1:]]  # without this file's folder: a fresh `python` would not have it
    import gc
    gc.disable()  # imports make hundreds of thousands of objects and no garbage: collecting meanwhile is wasted work
    try:
        import torch  # noqa: F401  -- the head start; no torch operation runs here, so no thread pool exists to fork
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in preload:  # torch's own loaders only (EXPORT_LOADERS): imports, no operation, no thread
                importlib.import_module(name)
    finally:
        gc.enable()
    # Modules live as long as the process: keep the collector from walking them again in every fork (which would
    # also copy their memory pages, shared with this process until written to).
    gc.freeze()
    filters = list(warnings.filters)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(1)
    last_used = time.monotonic()
    while time.monotonic() - last_used < idle and (not owner or _start_time(owner) == owner_start):
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:  # reaping adds the handlers' (and their forks') CPU to ours
                pass
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        last_used = time.monotonic()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:  # so that a ping counts every fork that has finished
                pass
        if os.fork() == 0:  # a handler per request: reads it, forks the process, waits for it, answers
            server.close()
            try:
                _handle(conn, base_path, filters, preload)
            finally:
                os._exit(0)
        conn.close()
    server.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _handle(conn, base_path, filters, preload=()):
    import signal
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    request = json.loads(data)
    if request.get("ping"):
        parent = os.getppid()
        conn.sendall(json.dumps({"pid": parent, "cpu_s": _process_cpu(parent), "rss_mb": _rss_mb(parent),
                                 "own_mb": _own_mb(parent), "preload": list(preload)}).encode() + b"\n")
        return
    if request.get("spawn"):  # a waiting process that also imports request["preload"], forked from this one
        if not all(name.startswith("torch.") for name in request["preload"]):  # torch's own modules, nothing else
            conn.sendall(b'{"spawned": false}\n')
            return
        if os.fork() == 0:
            conn.close()
            os.setsid()  # on its own, as the first one: it outlives the kernel that asked
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            try:
                _serve(request["spawn"], int(request.get("owner") or 0), request.get("owner_start", ""),
                       tuple(request["preload"]), LOADERS_IDLE_SECONDS, base_path)
            finally:
                os._exit(0)
        conn.sendall(b'{"spawned": true}\n')
        return
    child = os.fork()
    if child == 0:
        conn.close()
        _become(request, base_path, filters)  # never returns
    deadline = time.monotonic() + float(request.get("timeout", 120))
    timed_out, status = False, 0
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
            _, status = os.waitpid(child, 0)
            timed_out = True
            break
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    conn.sendall(json.dumps({"returncode": code, "timed_out": timed_out}).encode() + b"\n")


def _become(request, base_path, filters):
    """Turn this forked process into ``python *args`` as a new interpreter would run it, then exit."""
    import runpy
    import signal
    import traceback
    import types
    import warnings
    code, scope = 1, {}
    try:
        os.setpgid(0, 0)  # its own group: a time-out kills it and whatever it started
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        files = request["files"]
        for fd, name, mode in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY | os.O_TRUNC | os.O_CREAT),
                               (2, "stderr", os.O_WRONLY | os.O_TRUNC | os.O_CREAT)):
            opened = os.open(files[name], mode, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        options, source, script, argv = _parse_args(request["args"])
        extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        first = os.path.dirname(os.path.abspath(script)) if script else ""
        sys.path[:] = [first, *extra, *base_path]
        sys.argv = argv
        warnings.filters[:] = filters
        for option in options:
            warnings._setoption(option)
        try:
            if script:
                scope = runpy.run_path(script, run_name="__main__")
            else:
                main = types.ModuleType("__main__")
                sys.modules["__main__"] = main
                scope = main.__dict__
                exec(compile(source, "<string>", "exec"), scope)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if stop.code is not None and not isinstance(stop.code, int):
                print(stop.code, file=sys.stderr)
        except BaseException as error:
            _print_traceback(error)
            code = 1
    except BaseException:  # setting up failed: say why, as an interpreter that cannot start would
        traceback.print_exc()
        code = 1
    # The end of an interpreter, in its order: atexit functions, then the script's globals go (their finalizers
    # run: a loaded model cleans up after itself), then files are flushed. The rest of a normal shutdown, tearing
    # down torch's own modules, would take most of a second and change nothing the script can see.
    try:
        import atexit
        import gc
        atexit._run_exitfuncs()
        scope.clear()
        gc.collect()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _print_traceback(error: BaseException):
    """Print ``error``'s traceback as ``python`` would: from the script's own frame, without this file's or runpy's."""
    import runpy
    import traceback
    own = {os.path.abspath(__file__), os.path.abspath(runpy.__file__), "<frozen runpy>"}
    frames = error.__traceback__
    while frames is not None and (frames.tb_frame.f_code.co_filename in own
                                  or os.path.abspath(frames.tb_frame.f_code.co_filename) in own):
        frames = frames.tb_next
    traceback.print_exception(type(error), error, frames)


def _process_cpu(pid: int) -> float:
    """User + system CPU-seconds of ``pid`` and of the children it has reaped, from /proc."""
    fields = _stat(pid)
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK") if len(fields) > 14 else 0.0


def _own_mb(pid: int) -> float:
    """The pages ``pid`` does not share (private clean + dirty, from /proc): a forked waiting process's own memory."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
        return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty")) * 1024 / 1e6
    except (OSError, ValueError, KeyError):
        return 0.0


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError):
        pass
    return 0.0


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    _serve(sys.argv[2], *([int(sys.argv[3]), sys.argv[4]] if len(sys.argv) > 4 else []))
