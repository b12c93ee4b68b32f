"""ExecuTorch: lower an exported model to a ``.pte`` file and run it in ExecuTorch's runtime (introduced in 10_shipping).

ExecuTorch is PyTorch's on-device runtime (phones, microcontrollers), the successor of the lite
interpreter (``.ptl``). Its Python package ``executorch`` is installed by ``make`` from
``requirements-shipping.txt``; it is imported here only when a function needs it, so that no other
notebook pays for its import.

* ``H.lower_to_pte(model, example, backend="portable"|"xnnpack", dynamic_shapes=...)`` exports,
  lowers (``executorch.exir.to_edge_transform_and_lower``) and writes a ``.pte`` into a cache in
  ``build/executorch/`` (keyed like the AOTInductor cache), so ``make aoti`` can build it ahead.
* ``H.pte_runner(path)`` loads a ``.pte`` with ``executorch.runtime.Runtime`` and returns a callable
  (tensors in, tensor or tuple out), so ``H.parity(eager, runner, ...)`` checks it.
"""
import contextlib
import io
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..course.workdir import REPO_ROOT
from .aoti import aoti_cache_key
from .cpp_build import BuiltFile


def _readable(path) -> None:
    """mkstemp makes files private (0600); give them the permissions a normal new file gets (umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


__all__ = ["PTE_CACHE_DIR", "PteFile", "executorch_available", "lower_to_pte", "cached_pte", "PteRunner",
           "pte_runner", "BACKENDS"]

PTE_CACHE_DIR = REPO_ROOT / "build" / "executorch"
BACKENDS = ("portable", "xnnpack")


def executorch_available() -> bool:
    """True when the ``executorch`` package is installed (``make`` installs it)."""
    import importlib.util
    return importlib.util.find_spec("executorch") is not None


def _require():
    if not executorch_available():
        raise ModuleNotFoundError("executorch is not installed: run `make venv` (it installs requirements-shipping.txt) "
                                  "or `.venv/bin/pip install -r requirements-shipping.txt`")


@contextlib.contextmanager
def _quiet_native():
    """Silence what ExecuTorch's C++ prints on file descriptors 1/2 (cpuinfo probes) during the block."""
    import sys
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    saved = []
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
            os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:  # no real file descriptors (some embedded consoles): print as is
        pass
    import logging
    pytree_log = logging.getLogger("torch.utils._pytree")  # executorch's import registers an Enum torch now warns about
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)
    try:
        # ExecuTorch's runtime also logs through Python's sys.stdout / sys.stderr (piece by piece)
        captured = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore")
            yield captured
    finally:
        pytree_log.setLevel(level)
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


def _import_executorch():
    """Import what lowering needs, once (about 1-2 s after torch.export is loaded, ~8 s before)."""
    _require()
    with _quiet_native():
        from executorch.exir import to_edge_transform_and_lower
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    return to_edge_transform_and_lower, XnnpackPartitioner


@dataclass(frozen=True)
class PteFile(BuiltFile):
    """A lowered program: ``path``, ``backend``, whether this call ``lowered`` it, ``lower_seconds``."""
    path: Path
    backend: str
    lowered: bool
    lower_seconds: float
    key: str


def _check(model, backend, who):
    if isinstance(model, type):
        raise TypeError(f"{who}: pass a model instance, e.g. {model.__name__}(), not the class itself")
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        raise TypeError(f"{who}: the model must be a Python torch.nn.Module (not {type(model).__name__}); "
                        "a TorchScript file goes through H.migrate first")
    if backend not in BACKENDS:
        raise ValueError(f"{who}: backend must be one of {BACKENDS}, got {backend!r}")


def _target(name, backend, key, cache_dir, decompose=False):
    return cache_dir / f"{name}-{backend}{'-decomposed' if decompose else ''}-{key}.pte"


def cached_pte(model, example, dynamic_shapes=None, *, backend="portable", name="model", decompose=False,
               cache_dir=None):
    """The ``.pte`` already lowered for this model, example, backend and torch, or None."""
    _check(model, backend, "cached_pte")
    cache_dir = Path(cache_dir) if cache_dir is not None else PTE_CACHE_DIR
    key = aoti_cache_key(model, example, dynamic_shapes)
    target = _target(name, backend, key, cache_dir, decompose)
    return _pte(target, backend, False, key) if target.is_file() else None


def _pte(target, backend, lowered, key):
    try:
        seconds = float(json.loads(target.with_suffix(".json").read_text())["lower_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        seconds = float("nan")
    return PteFile(target, backend, lowered, seconds, key)


def lower_to_pte(model, example, dynamic_shapes=None, *, backend="portable", name="model", decompose=False,
                 force=False, cache_dir=None) -> PteFile:
    """Export ``model``, lower it for ExecuTorch (portable kernels, or the XNNPACK delegate), write a ``.pte``.

    ``decompose=True`` runs ``program.run_decompositions()`` before lowering: ops such as ``linear``
    become core ATen ops (``permute`` + ``addmm``) that the portable kernels run wherever XNNPACK does
    not reach (inside a ``torch.cond`` branch). Cached in ``build/executorch/`` by model source,
    weights, example shapes, dynamic shapes, backend and torch version. A lowering error propagates unchanged.
    """
    _check(model, backend, "lower_to_pte")
    args = example if isinstance(example, tuple) else (example,)
    cache_dir = Path(cache_dir) if cache_dir is not None else PTE_CACHE_DIR
    key = aoti_cache_key(model, example, dynamic_shapes)
    target = _target(name, backend, key, cache_dir, decompose)
    if target.is_file() and not force:
        return _pte(target, backend, False, key)
    lower, partitioner = _import_executorch()
    from .export_bridge import quiet_export
    start = time.monotonic()
    with quiet_export():
        program = torch.export.export(model, args, dynamic_shapes=dynamic_shapes)
        if decompose:
            program = program.run_decompositions()
    with _quiet_native():
        edge = lower(program, partitioner=[partitioner()] if backend == "xnnpack" else [])
        executorch_program = edge.to_executorch()
    seconds = time.monotonic() - start
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}-", suffix=".pte", dir=cache_dir)
    with os.fdopen(handle, "wb") as out:
        executorch_program.write_to_file(out)
    _readable(temporary)
    os.replace(temporary, target)  # atomic
    meta = target.with_suffix(".json")
    handle, temporary = tempfile.mkstemp(prefix=".meta-", suffix=".json", dir=cache_dir)
    with os.fdopen(handle, "w") as out:
        json.dump({"lower_seconds": round(seconds, 2), "backend": backend, "torch": torch.__version__}, out)
    _readable(temporary)
    os.replace(temporary, meta)
    return PteFile(target, backend, True, seconds, key)


class PteRunner:
    """A ``.pte`` loaded in ExecuTorch's runtime, called like a model: ``runner(x)``."""

    def __init__(self, path):
        _require()
        self.path = Path(os.fspath(path))
        if not self.path.is_file():
            raise FileNotFoundError(f"no .pte at {self.path}: make it with H.lower_to_pte(...) or `make aoti`")
        start = time.perf_counter()
        with _quiet_native():
            from executorch.runtime import Runtime
            program = Runtime.get().load_program(self.path)
            self.method = program.load_method("forward")
        self.load_seconds = time.perf_counter() - start

    def __call__(self, *inputs):
        with _quiet_native() as log:
            try:
                outputs = self.method.execute([t.contiguous() for t in inputs])
            except RuntimeError as error:
                # the runtime's reason is in its log, not in the exception: put it there
                reason = [ln.split("] ", 1)[-1].strip() for ln in log.getvalue().splitlines() if "] " in ln]
                raise RuntimeError(f"{error}: {'; '.join(reason)}" if reason else str(error)) from None
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __repr__(self):
        return f"<PteRunner {self.path.name}>"


def pte_runner(path) -> PteRunner:
    """Load a ``.pte`` file in ExecuTorch's Python runtime; the result is callable like the model."""
    return PteRunner(path)
