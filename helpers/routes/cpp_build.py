"""Compile the workbook's C++ programs and operator library once, and cache them (introduced in 05_save_and_load).

``H.build_cpp()`` compiles ``cpp/load_ts.cpp`` against the LibTorch that ships inside the pip torch
wheel (``find_package(Torch)`` fails with the CUDA wheel, so it calls g++ directly) and caches the
binary in ``cpp/build/`` (git-ignored), keyed by a hash of the source (and the headers it includes),
the compiler, the torch version and the command line: it recompiles only when one of them changes.
``H.build_cpp(program="aoti_run")`` (and ``"main"``, ``"aoti_main"``) build the other programs,
``H.custom_op_library()`` the operator library ``libworkbook_ops.so``, and ``H.build_all_cpp()``
(what ``make cpp`` runs) all of them. When the repository is read-only (a shared hub), builds go to
a cache folder in the learner's home instead, and builds made ahead by ``make cpp`` are still found.
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

from ..course.workdir import REPO_ROOT, atomic_write_text, repo_relative

__all__ = ["CPP_SOURCE", "CPP_BUILD_DIR", "CPP_PROGRAMS", "CppToolchainError", "CppBuildError", "CppBuild",
           "cpp_build_command", "build_cpp", "cached_cpp_binary", "custom_op_library", "build_all_cpp"]

CPP_DIR = REPO_ROOT / "cpp"
CPP_SOURCE = CPP_DIR / "load_ts.cpp"
CPP_BUILD_DIR = CPP_DIR / "build"
_DEFAULT_SECONDS = 20.0  # a first guess at the compile time, for the progress bar, until one is measured


@dataclass(frozen=True)
class _Target:
    """What to compile: a program or a shared library, from which source, linked to which libraries."""
    name: str
    source: Path
    library: bool = False
    links: tuple = ("torch_cpu", "c10")
    estimate: float = _DEFAULT_SECONDS

    def file_name(self, key: str) -> str:
        return f"lib{self.name}-{key}.so" if self.library else f"{self.name}-{key}"

    @property
    def link_name(self) -> str:
        """The stable name in the build folder that points at the newest build, for use by hand."""
        return f"lib{self.name}.so" if self.library else self.name

    @property
    def pattern(self) -> str:
        return f"lib{self.name}-*.so" if self.library else f"{self.name}-*"


_TARGETS = {
    # load_ts and main only need the CPU library and c10.
    "load_ts": _Target("load_ts", CPP_DIR / "load_ts.cpp"),
    "main": _Target("main", CPP_DIR / "main.cpp"),
    # The compiled model inside an AOTI package is a shared library that needs libtorch.so; it has no
    # rpath of its own, so the program must have libtorch.so loaded already: -ltorch (kept by --no-as-needed).
    "aoti_run": _Target("aoti_run", CPP_DIR / "aoti_run.cpp", links=("torch", "torch_cpu", "c10"), estimate=30.0),
    "aoti_main": _Target("aoti_main", CPP_DIR / "aoti_main.cpp", links=("torch", "torch_cpu", "c10"), estimate=30.0),
    # The operator library is loaded into a process that already holds LibTorch (Python or load_ts).
    "custom_op": _Target("workbook_ops", CPP_DIR / "custom_op" / "clip_relu.cpp", library=True),
}
CPP_PROGRAMS = ("load_ts", "main", "aoti_run", "aoti_main")


class CppToolchainError(RuntimeError):
    """No C++ compiler, or no LibTorch headers in this torch: the message says what to install."""


class CppBuildError(RuntimeError):
    """The compiler ran and failed; the message quotes its first error and where the full log is."""


def torch_dir() -> Path:
    """The folder of the installed torch package: its include/ and lib/ are LibTorch."""
    return Path(torch.__file__).resolve().parent


def _target(program) -> _Target:
    if not isinstance(program, str) or program not in _TARGETS:
        raise ValueError(f"unknown C++ program {program!r}: choose one of {', '.join(map(repr, _TARGETS))}")
    return _TARGETS[program]


def cpp_build_command(output, source=None, compiler="g++", *, program="load_ts") -> list:
    """The compiler command line that builds ``program`` (from ``source``, default its file in cpp/) into ``output``."""
    target = _target(program)
    source = source if source is not None else target.source
    t = torch_dir()
    # --no-as-needed keeps each -l library linked even if the linker thinks no symbol needs it: the static
    # initialisers of libtorch_cpu register the operators the loaded model calls. macOS's linker has no such flag.
    as_needed = [] if sys.platform == "darwin" else ["-Wl,--no-as-needed"]
    shared = ["-shared", "-fPIC"] if target.library else []
    return [compiler, "-O1", "-std=c++20", *shared, str(source),
            f"-I{t / 'include'}", f"-I{t / 'include' / 'torch' / 'csrc' / 'api' / 'include'}",
            f"-L{t / 'lib'}", *as_needed, *(f"-l{name}" for name in target.links), f"-Wl,-rpath,{t / 'lib'}",
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


def _source_text(source: Path) -> str:
    """The source and the workbook's own headers it includes (``#include "value_io.h"``), which are part of it."""
    text = source.read_text(encoding="utf-8")
    headers = [source.parent / name for name in re.findall(r'^\s*#include\s+"([^"]+)"', text, re.MULTILINE)]
    return text + "".join(h.read_text(encoding="utf-8") for h in headers if h.is_file())


def _key(target: _Target, compiler: str, compiler_path: str, source: Path) -> str:
    return build_key(_source_text(source), _compiler_identity(compiler_path), torch.__version__,
                     cpp_build_command(target.link_name, source, compiler, program=_program_of(target)))


def _program_of(target: _Target) -> str:
    return next(name for name, t in _TARGETS.items() if t is target)


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def _user_build_dir(kind: str = "cpp") -> Path:
    """Where builds go when the repository cannot be written (a shared hub): the learner's cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "torchscript-workbook" / kind


def cache_folders(shared: Path, kind: str, chosen=None):
    """(the folders to look in for a cached build, the folder to write a new one to), for the C++ programs,
    AOTInductor packages and ExecuTorch files alike: the repository's ``build/`` folder; on a shared hub, where
    learners cannot write the repository, what ``make`` built there first, then the learner's own cache folder."""
    if chosen is not None:
        return [Path(chosen)], Path(chosen)
    if _writable(shared):
        return [shared], shared
    return [shared, _user_build_dir(kind)], _user_build_dir(kind)


def _build_dirs(build_dir):
    """(the folders to look in for a cached build, the folder to build into)."""
    return cache_folders(CPP_BUILD_DIR, "cpp", build_dir)


class BuiltFile:
    """What a cached build result is used as: a path (``open``, ``torch.load`` and ``str`` take it), with its size."""

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        return str(self.path)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


@dataclass(frozen=True)
class CppBuild(BuiltFile):
    """A built binary or library: ``path``, whether this call ``compiled`` it, and how long the call took."""
    path: Path
    compiled: bool
    seconds: float
    key: str


def _resolve(compiler, source, target):
    compiler = compiler or os.environ.get("CXX") or "g++"
    if source is None:  # CPP_SOURCE is read at call time, so a test may point it elsewhere
        source = CPP_SOURCE if target.name == "load_ts" else target.source
    return compiler, shutil.which(compiler), Path(source)


def _build_target(compiler: str, compiler_path: str, source: Path, build_dir: Path, program="load_ts"):
    """(where the build of this source with this compiler and torch lives in ``build_dir``, its cache key)."""
    target = _target(program)
    key = _key(target, compiler, compiler_path, Path(source))
    return Path(build_dir) / target.file_name(key), key


def cached_cpp_binary(program="load_ts", *, compiler=None, source=None, build_dir=None):
    """The build of ``program`` already made from today's source with this compiler and torch, or None; compiles nothing.

    ``program`` is one of :data:`CPP_PROGRAMS` or ``"custom_op"`` (the operator library).
    """
    target = _target(program)
    compiler, compiler_path, source = _resolve(compiler, source, target)
    if compiler_path is None or not source.is_file():
        return None
    key = _key(target, compiler, compiler_path, source)
    for folder in _build_dirs(build_dir)[0]:
        if (folder / target.file_name(key)).is_file():
            return folder / target.file_name(key)
    return None


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


def _compile_with_progress(command: list, log_path: Path, estimate: float, progress: bool, label: str,
                           cwd=None, env=None) -> int:
    """Run a compile (g++, or AOTInductor in a child Python), ticking a progress bar every quarter second
    until it exits; return its exit code. ``label`` completes "compiling …"."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
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


def _write_text_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: readers never see half a file."""
    atomic_write_text(path, text)


def _build(program: str, force: bool, compiler, source, build_dir, progress: bool, quiet: bool) -> CppBuild:
    start = time.monotonic()
    target = _target(program)
    compiler, compiler_path, source = _resolve(compiler, source, target)
    if compiler_path is None:
        raise CppToolchainError(
            f"no C++ compiler found ({compiler!r} is not on PATH): install one (Debian/Ubuntu: sudo apt-get "
            "install g++; Fedora: sudo dnf install gcc-c++; macOS: xcode-select --install), then run make cpp")
    if not (torch_dir() / "include" / "torch" / "script.h").is_file():
        raise CppToolchainError(f"this torch ({torch.__version__}) has no C++ headers in {torch_dir() / 'include'}: "
                                "install the official torch wheel from PyPI or download.pytorch.org")
    if not source.is_file():
        raise FileNotFoundError(f"the C++ source {source} is missing: restore it with `git checkout cpp/`")

    key = _key(target, compiler, compiler_path, source)
    look_in, build_dir = _build_dirs(build_dir)
    if not force:
        for folder in look_in:
            if (folder / target.file_name(key)).is_file():
                if not quiet:
                    print(f"✔ using the cached build {repo_relative(folder / target.file_name(key))} "
                          "(the source has not changed since it was compiled)")
                return CppBuild(folder / target.file_name(key), False, time.monotonic() - start, key)

    built = build_dir / target.file_name(key)
    with _build_lock(build_dir):
        if built.is_file() and not force:  # another process finished the same build while we waited
            if not quiet:
                print(f"✔ another process has just built {repo_relative(built)}: using it")
            return CppBuild(built, False, time.monotonic() - start, key)
        timing = build_dir / f"build_seconds-{target.name}.txt"
        try:
            estimate = float(timing.read_text())
        except (OSError, ValueError):
            estimate = target.estimate
        temporary = build_dir / f".{target.file_name(key)}.{os.getpid()}.{threading.get_ident()}.tmp"
        log_path = build_dir / f"last_build-{target.name}.log"
        compile_start = time.monotonic()
        try:
            code = _compile_with_progress(cpp_build_command(temporary, source, compiler_path, program=program),
                                          log_path, estimate, progress, source.name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        if code != 0 or not temporary.is_file():
            temporary.unlink(missing_ok=True)
            raise CppBuildError(f"{compiler} failed (exit {code}): {_first_error(log_path.read_text(errors='replace'))}"
                                f" — full log in {repo_relative(log_path)}")
        os.replace(temporary, built)  # atomic: readers see no file or the whole binary
        _write_text_atomically(timing, f"{time.monotonic() - compile_start:.1f}")
        link = build_dir / f".{target.link_name}.{os.getpid()}.link"
        try:
            link.unlink(missing_ok=True)
            link.symlink_to(built.name)
            os.replace(link, build_dir / target.link_name)  # always points at the newest build, for use by hand
        except OSError:  # no symlinks (some Windows setups): the hashed name still works
            link.unlink(missing_ok=True)
        for old in build_dir.glob(target.pattern):
            if old != built:
                old.unlink(missing_ok=True)
    seconds = time.monotonic() - start
    if not quiet:
        print(f"✔ built {repo_relative(built)} in {seconds:.1f} s")
    return CppBuild(built, True, seconds, key)


def build_cpp(program="load_ts", *, force: bool = False, compiler=None, source=None, build_dir=None,
              progress: bool = True, quiet: bool = False) -> CppBuild:
    """Compile a C++ program of ``cpp/`` once and return the binary; later calls reuse it until the source changes.

    ``program``: ``"load_ts"`` (the TorchScript runner, default), ``"main"`` (the starter for a C++
    service), ``"aoti_run"`` (the AOTInductor runner) or ``"aoti_main"`` (the starter for an AOTI
    service). ``force=True`` recompiles anyway.
    ``compiler`` defaults to ``$CXX`` or ``g++``. Safe when two processes build at once: they take
    turns on a lock file, and the binary appears by an atomic rename, so nobody runs a half-written file.
    """
    if program not in CPP_PROGRAMS:
        raise ValueError(f"build_cpp builds one of the programs {', '.join(map(repr, CPP_PROGRAMS))}, not {program!r}"
                         + (": the operator library is H.custom_op_library()" if program == "custom_op" else ""))
    return _build(program, force, compiler, source, build_dir, progress, quiet)


def custom_op_library(force: bool = False, *, compiler=None, build_dir=None, progress: bool = True,
                      quiet: bool = False) -> CppBuild:
    """Compile ``cpp/custom_op/clip_relu.cpp`` into ``libworkbook_ops.so`` once and return it (cached like build_cpp).

    Load it with ``torch.ops.load_library(H.custom_op_library().path)``: it registers
    ``torch.ops.workbook.clip_relu(x, limit)``. C++ programs load it with ``--load-library``.
    """
    return _build("custom_op", force, compiler, None, build_dir, progress, quiet)


def build_all_cpp(force: bool = False, *, progress: bool = True, quiet: bool = False) -> dict:
    """Build every C++ program and the operator library ahead (``make cpp``), so notebooks only load the cache."""
    built = {program: build_cpp(program, force=force, progress=progress, quiet=quiet) for program in CPP_PROGRAMS}
    built["custom_op"] = custom_op_library(force, progress=progress, quiet=quiet)
    return built
