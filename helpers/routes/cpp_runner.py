"""Build and run cpp/load_ts.cpp, a C++ program that runs a TorchScript file without Python (introduced in 05_save_and_load).

``H.build_cpp()`` compiles the program once against the LibTorch that ships inside the pip torch
wheel (``find_package(Torch)`` fails with the CUDA wheel, so it calls g++ directly) and caches
the binary in ``cpp/build/`` (git-ignored), keyed by a hash of the source, the compiler and the
torch version: it recompiles only when one of them changes. ``H.run_cpp(model_path, x)`` runs
the binary with an empty environment (no Python, no PYTHONPATH: the rpath finds the libraries)
and returns the output tensor; ``H.time_cpp`` also returns the program's own timings, and
``H.time_fresh_python`` times a new Python process doing the same job step for step, so that the
two can be compared like for like (same steps, same thread count, same empty environment).
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .archive import TorchScriptFileError
from ..course.failures import short_message
from ..course.guards import require_tensor
from ..course.workdir import REPO_ROOT, atomic_write_bytes, atomic_write_text

__all__ = ["CPP_SOURCE", "CPP_BUILD_DIR", "CppToolchainError", "CppBuildError", "CppBuild", "ProgramRun",
           "cpp_build_command", "build_cpp", "cached_cpp_binary", "run_cpp", "time_cpp", "time_fresh_python", "PYTHON_TWIN",
           "write_tensor_file", "read_tensor_file"]

CPP_SOURCE = REPO_ROOT / "cpp" / "load_ts.cpp"
CPP_BUILD_DIR = REPO_ROOT / "cpp" / "build"
_DEFAULT_SECONDS = 20.0  # a first guess at the compile time, for the progress bar, until one is measured


class CppToolchainError(RuntimeError):
    """No C++ compiler, or no LibTorch headers in this torch: the message says what to install."""


class CppBuildError(RuntimeError):
    """The compiler ran and failed; the message quotes its first error and where the full log is."""


def torch_dir() -> Path:
    """The folder of the installed torch package: its include/ and lib/ are LibTorch."""
    return Path(torch.__file__).resolve().parent


def cpp_build_command(output, source=CPP_SOURCE, compiler="g++") -> list:
    """The compiler command line that builds ``source`` into ``output`` (what ``make cpp`` runs)."""
    t = torch_dir()
    # --no-as-needed keeps libtorch_cpu linked even if the linker thinks no symbol needs it: its
    # static initialisers register the operators the loaded model calls. macOS's linker has no such flag.
    as_needed = [] if sys.platform == "darwin" else ["-Wl,--no-as-needed"]
    return [compiler, "-O1", "-std=c++20", str(source),
            f"-I{t / 'include'}", f"-I{t / 'include' / 'torch' / 'csrc' / 'api' / 'include'}",
            f"-L{t / 'lib'}", *as_needed, "-ltorch_cpu", "-lc10", f"-Wl,-rpath,{t / 'lib'}",
            "-o", str(output)]


def _compiler_identity(compiler_path: str) -> str:
    try:
        done = subprocess.run([compiler_path, "--version"], capture_output=True, text=True, timeout=30)
        return done.stdout.strip().splitlines()[0] if done.stdout.strip() else compiler_path
    except (OSError, subprocess.SubprocessError):
        return compiler_path


def build_key(source_text: str, compiler_identity: str, torch_version: str, command: list) -> str:
    """The cache key: changes when the source, the compiler, torch or the command line change."""
    digest = hashlib.sha256()
    for part in (source_text, compiler_identity, torch_version, "\0".join(command)):
        digest.update(part.encode("utf-8") + b"\0\1")
    return digest.hexdigest()[:16]


def _build_target(compiler: str, compiler_path: str, source: Path, build_dir: Path):
    """(where the binary for this source, compiler and torch lives, its cache key)."""
    key = build_key(source.read_text(encoding="utf-8"), _compiler_identity(compiler_path), torch.__version__,
                    cpp_build_command(build_dir / "load_ts", source, compiler))
    return build_dir / f"load_ts-{key}", key


def cached_cpp_binary(compiler=None, source=None, build_dir=None):
    """The binary already built from today's source with this compiler and torch, or None; compiles nothing."""
    compiler = compiler or os.environ.get("CXX") or "g++"
    compiler_path = shutil.which(compiler)
    source = Path(source) if source is not None else CPP_SOURCE
    build_dir = Path(build_dir) if build_dir is not None else CPP_BUILD_DIR
    if compiler_path is None or not source.is_file():
        return None
    target, _ = _build_target(compiler, compiler_path, source, build_dir)
    return target if target.is_file() else None


@dataclass(frozen=True)
class CppBuild:
    """A built binary: ``path``, whether this call ``compiled`` it, and how long the call took."""
    path: Path
    compiled: bool
    seconds: float
    key: str

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        return str(self.path)


@contextmanager
def _build_lock(folder: Path):
    """Hold an exclusive lock on ``folder``/.lock so two kernels never compile over each other."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no flock; the atomic rename below still keeps the binary whole
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compile_with_progress(command: list, log_path: Path, estimate: float, progress: bool, label: str) -> int:
    """Run the compiler, ticking a progress bar every quarter second until it exits; return its exit code."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        bar = None
        try:
            if progress:
                from tqdm.auto import tqdm  # a widget in JupyterLab, a text bar in a terminal
                bar = tqdm(total=round(estimate, 1), desc=f"compiling {label}", unit="s",
                           bar_format="{desc}: {bar} {n:.0f} s of about {total:.0f} s")
            start = time.monotonic()
            while process.poll() is None:
                time.sleep(0.25)
                if bar is not None:
                    elapsed = time.monotonic() - start
                    if elapsed > bar.total:
                        bar.total = round(elapsed + 2, 1)  # slower than last time: stretch the bar, keep ticking
                    bar.n = round(elapsed, 1)
                    bar.refresh()
            if bar is not None:
                bar.n = bar.total = round(time.monotonic() - start, 1)
                bar.refresh()
        finally:
            if process.poll() is None:  # interrupted (e.g. the kernel was stopped): do not leave g++ running
                process.kill()
                process.wait()
            if bar is not None:
                bar.close()
        return process.returncode


def _first_error(log_text: str) -> str:
    for line in log_text.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    lines = [ln for ln in log_text.splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"


def build_cpp(force: bool = False, *, compiler=None, source=None, build_dir=None, progress: bool = True,
              quiet: bool = False) -> CppBuild:
    """Compile ``cpp/load_ts.cpp`` once and return the binary; later calls reuse it until the source changes.

    ``force=True`` recompiles anyway. ``compiler`` defaults to ``$CXX`` or ``g++``. Safe when two
    processes build at once: they take turns on a lock file, and the binary appears by an atomic
    rename, so nobody ever runs a half-written file.
    """
    start = time.monotonic()
    compiler = compiler or os.environ.get("CXX") or "g++"
    source = Path(source) if source is not None else CPP_SOURCE
    build_dir = Path(build_dir) if build_dir is not None else CPP_BUILD_DIR
    compiler_path = shutil.which(compiler)
    if compiler_path is None:
        raise CppToolchainError(
            f"no C++ compiler found ({compiler!r} is not on PATH): install one (Debian/Ubuntu: sudo apt-get "
            "install g++; Fedora: sudo dnf install gcc-c++; macOS: xcode-select --install), then run make cpp")
    if not (torch_dir() / "include" / "torch" / "script.h").is_file():
        raise CppToolchainError(f"this torch ({torch.__version__}) has no C++ headers in {torch_dir() / 'include'}: "
                                "install the official torch wheel from PyPI or download.pytorch.org")
    if not source.is_file():
        raise FileNotFoundError(f"the C++ source {source} is missing: restore it with `git checkout cpp/`")

    placeholder = build_dir / "load_ts"
    target, key = _build_target(compiler, compiler_path, source, build_dir)
    if target.is_file() and not force:
        if not quiet:
            print(f"✔ using the cached build {_shown(target)} (the source has not changed since it was compiled)")
        return CppBuild(target, False, time.monotonic() - start, key)

    with _build_lock(build_dir):
        if target.is_file() and not force:  # another process finished the same build while we waited
            if not quiet:
                print(f"✔ another process has just built {_shown(target)}: using it")
            return CppBuild(target, False, time.monotonic() - start, key)
        timing = build_dir / "build_seconds.txt"
        try:
            estimate = float(timing.read_text())
        except (OSError, ValueError):
            estimate = _DEFAULT_SECONDS
        temporary = build_dir / f".load_ts-{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        log_path = build_dir / "last_build.log"
        compile_start = time.monotonic()
        try:
            code = _compile_with_progress(cpp_build_command(temporary, source, compiler_path), log_path, estimate,
                                          progress, source.name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        if code != 0 or not temporary.is_file():
            temporary.unlink(missing_ok=True)
            raise CppBuildError(f"{compiler} failed (exit {code}): {_first_error(log_path.read_text(errors='replace'))}"
                                f" — full log in {_shown(log_path)}")
        os.replace(temporary, target)  # atomic: readers see no file or the whole binary
        atomic_write_text(timing, f"{time.monotonic() - compile_start:.1f}")
        link = build_dir / f".load_ts.{os.getpid()}.link"
        try:
            link.unlink(missing_ok=True)
            link.symlink_to(target.name)
            os.replace(link, placeholder)  # cpp/build/load_ts always points at the newest build, for use by hand
        except OSError:  # no symlinks (some Windows setups): the hashed name still works
            link.unlink(missing_ok=True)
        for old in build_dir.glob("load_ts-*"):
            if old != target:
                old.unlink(missing_ok=True)
    seconds = time.monotonic() - start
    if not quiet:
        print(f"✔ built {_shown(target)} in {seconds:.1f} s")
    return CppBuild(target, True, seconds, key)


def _shown(path: Path) -> str:
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------ tensor files

def write_tensor_file(path, tensor) -> Path:
    """Write ``tensor`` as the C++ program reads it: a line ``f32 <ndim> <sizes...>``, then little-endian float32."""
    require_tensor(tensor, "write_tensor_file")
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64, torch.uint8, torch.bool)):
        raise TypeError(f"write_tensor_file writes float32; a {tensor.dtype} tensor cannot be converted: "
                        "pass a real-valued tensor")
    values = tensor.detach().to("cpu", torch.float32).contiguous()
    header = f"f32 {values.dim()}" + "".join(f" {s}" for s in values.shape) + "\n"
    path = Path(path)
    atomic_write_bytes(path, header.encode("ascii") + values.numpy().astype("<f4", copy=False).tobytes())
    return path


def read_tensor_file(path) -> torch.Tensor:
    """Read a tensor written by :func:`write_tensor_file` or by the C++ program."""
    path = Path(path)
    data = path.read_bytes()
    header, sep, body = data.partition(b"\n")
    fields = header.decode("ascii", errors="replace").split()
    if not sep or len(fields) < 2 or fields[0] != "f32" or not all(f.isdigit() for f in fields[1:]):
        raise ValueError(f"{path.name} is not a tensor file: it should start with a line like 'f32 2 3 4'")
    ndim, shape = int(fields[1]), [int(f) for f in fields[2:]]
    if len(shape) != ndim:
        raise ValueError(f"{path.name}: its header says {ndim} dimensions but lists {len(shape)} sizes")
    count = 1
    for s in shape:
        count *= s
    if len(body) != 4 * count:
        raise ValueError(f"{path.name} holds {len(body)} bytes of values, but shape {shape} needs {4 * count}")
    return torch.frombuffer(bytearray(body), dtype=torch.float32).reshape(shape).clone()


# ------------------------------------------------------------------ running

@dataclass(frozen=True)
class ProgramRun:
    """One run of the C++ program (or of its Python twin): the ``output`` tensor and the measurements.

    ``load_ms``: loading the model file; ``run_ms``: median time of one forward call over ``runs``
    calls on ``threads`` threads; ``work_ms``: everything the program did once it was running (C++:
    all of ``main``; Python: everything after ``import torch``); ``wall_s``: the whole process,
    measured from outside. The difference, :attr:`startup_s`, is what happened before the work began.
    """
    program: str
    output: torch.Tensor
    load_ms: float
    run_ms: float
    runs: int
    threads: int
    work_ms: float
    wall_s: float

    @property
    def startup_s(self) -> float:
        """Seconds before the program's first step: starting the process and loading the libraries (and, for
        Python, the interpreter and ``import torch``)."""
        return max(self.wall_s - self.work_ms / 1000, 0.0)

    def __str__(self):
        return (f"{self.program}: start-up {self.startup_s:.2f} s · load {self.load_ms:.1f} ms · one forward "
                f"{self.run_ms:.3f} ms (median of {self.runs}, {self.threads} thread{'s' * (self.threads != 1)}) · "
                f"whole process {self.wall_s:.2f} s")


_OK_LINE = re.compile(r"ok shape=(\S+) load_ms=(\S+) run_ms=(\S+) runs=(\d+) threads=(\d+) work_ms=(\S+)")

# What cpp/load_ts.cpp does, in Python, step for step: the same file formats, the same timings.
PYTHON_TWIN = r'''
import sys, time
import torch                                          # interpreter start and this import are the start-up

def main(model_path, input_path, output_path, repeats, threads):
    main_start = time.perf_counter()
    torch.set_num_threads(int(threads))
    start = time.perf_counter()
    try:
        model = torch.jit.load(model_path, map_location="cpu")
    except Exception as error:  # the C++ program's exit code 3, with the same wording
        print(f"load_ts.py: error: {model_path} is not a TorchScript file this torch can load: "
              f"{str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(3)
    model.eval()
    load_ms = (time.perf_counter() - start) * 1000
    with open(input_path, "rb") as f:
        sizes = [int(n) for n in f.readline().split()[2:]]
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(sizes)
    times = []
    with torch.inference_mode():
        for _ in range(int(repeats)):
            start = time.perf_counter()
            y = model(x)
            times.append((time.perf_counter() - start) * 1000)
    with open(output_path, "wb") as f:
        f.write(("f32 %d" % y.dim() + "".join(" %d" % n for n in y.shape) + "\n").encode())
        f.write(y.contiguous().numpy().astype("<f4").tobytes())
    times.sort()
    print("ok shape=%s load_ms=%f run_ms=%f runs=%s threads=%d work_ms=%f" % (
        "x".join(map(str, y.shape)), load_ms, times[len(times) // 2], repeats, torch.get_num_threads(),
        (time.perf_counter() - main_start) * 1000))

main(*sys.argv[1:6])
'''


def _check_run_arguments(model_path, input_tensor, repeats, threads, who):
    require_tensor(input_tensor, who)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a whole number of at least 1, got {repeats!r}")
    if threads is None:
        threads = torch.get_num_threads()  # the same as this Python process, so the comparison is fair
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a whole number of at least 1 (or None for this process's "
                         f"torch.get_num_threads()), got {threads!r}")
    if not isinstance(model_path, (str, Path)):
        raise TypeError(f"{who} takes the path of a saved TorchScript file, got {type(model_path).__name__}: "
                        "save the model first with torch.jit.save(model, WORK / 'model.pt')")
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise FileNotFoundError(f"no file at {model_path}: save the model first with torch.jit.save(model, path)")
    return model_path, threads


def _run_program(program, command, model_path, input_tensor, timeout) -> ProgramRun:
    with tempfile.TemporaryDirectory(prefix="load_ts-") as scratch:
        inp, out = Path(scratch) / "input.f32", Path(scratch) / "output.f32"
        write_tensor_file(inp, input_tensor)
        start = time.perf_counter()
        # env={}: nothing from this Python process leaks in (no PYTHONPATH, no LD_LIBRARY_PATH); the
        # binary finds libtorch through its rpath, and libtorch finds its own dependencies through its rpath.
        done = subprocess.run(command(inp, out), env={}, cwd=scratch, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            message = short_message(re.sub(r"^load_ts(\.py)?: error: ", "", last), limit=10 ** 6)
            if done.returncode == 3:  # the program's "cannot load the model" exit code
                reason = message.split("can load: ", 1)[-1].rstrip(". ")
                raise TorchScriptFileError(f"the {program} program cannot load {model_path.name}, it is not a "
                                           f"TorchScript archive ({reason}): save the model with torch.jit.save, and "
                                           "H.load_torchscript(path) tells you what the file is instead")
            raise RuntimeError(f"the {program} program failed (exit {done.returncode}): {message}")
        match = _OK_LINE.search(done.stdout)
        if match is None:
            raise RuntimeError(f"the {program} program printed something unexpected: {done.stdout.strip()[:200]!r}")
        output = read_tensor_file(out)
    load_ms, run_ms, runs, threads, work_ms = match.group(2, 3, 4, 5, 6)
    return ProgramRun(program, output, float(load_ms), float(run_ms), int(runs), int(threads), float(work_ms), wall)


def time_cpp(model_path, input_tensor, repeats: int = 20, *, threads=None, binary=None,
             timeout: float = 120) -> ProgramRun:
    """Run the C++ program on ``model_path`` with ``input_tensor`` (forward called ``repeats`` times).

    ``threads`` defaults to this process's ``torch.get_num_threads()``, so C++ computes like Python here.
    """
    model_path, threads = _check_run_arguments(model_path, input_tensor, repeats, threads, "time_cpp")
    binary = Path(binary) if binary is not None else build_cpp(quiet=True).path
    return _run_program("C++", lambda inp, out: [str(binary), str(model_path), str(inp), str(out), str(repeats),
                                                 str(threads)], model_path, input_tensor, timeout)


def time_fresh_python(model_path, input_tensor, repeats: int = 20, *, threads=None,
                      timeout: float = 300) -> ProgramRun:
    """A new Python process doing what the C++ program does (:data:`PYTHON_TWIN`), timed the same way.

    Same steps (load the file, read the input file, ``repeats`` forward calls, write the output file),
    same thread count (default: this process's), same empty environment: only the language differs.
    """
    model_path, threads = _check_run_arguments(model_path, input_tensor, repeats, threads, "time_fresh_python")
    return _run_program("Python", lambda inp, out: [sys.executable, "-c", PYTHON_TWIN, str(model_path), str(inp),
                                                    str(out), str(repeats), str(threads)],
                        model_path, input_tensor, timeout)


def run_cpp(model_path, input_tensor, *, binary=None, timeout: float = 120) -> torch.Tensor:
    """The output tensor of the TorchScript file at ``model_path`` on ``input_tensor``, computed by the C++ program."""
    if not isinstance(model_path, (str, Path)):
        raise TypeError(f"run_cpp takes the path of a saved TorchScript file, got {type(model_path).__name__}: "
                        "save the model first with torch.jit.save(model, WORK / 'model.pt')")
    require_tensor(input_tensor, "run_cpp")
    return time_cpp(model_path, input_tensor, repeats=1, binary=binary, timeout=timeout).output
