"""ExecuTorch: lower an exported model to a ``.pte`` file and run it in ExecuTorch's runtime (introduced in 10_shipping).

ExecuTorch is PyTorch's on-device runtime (phones, microcontrollers), the successor of the lite
interpreter (``.ptl``). Its Python package ``executorch`` is installed by ``make`` from
``requirements-shipping.txt``; it is imported here only when a function needs it, so that no other
notebook pays for its import.

* ``H.lower_to_pte(model, example, backend="portable"|"xnnpack", dynamic_shapes=...)`` exports,
  lowers (``executorch.exir.to_edge_transform_and_lower``) and writes a ``.pte`` into a cache in
  ``build/executorch/``, so ``make aoti`` can build it ahead. The key is the AOTInductor cache's
  (the model's classes, layers, settings and weights, example shapes, dynamic shapes, torch) plus executorch's version; an
  ``ExportedProgram`` is keyed by its graph, ranges and weights instead. A lowering that *fails* is
  recorded too (error type and text, versions, date): later calls raise the recorded error again
  without importing ``executorch.exir``, and a new torch or executorch runs the lowering anew.
* ``H.cached_pte(...)`` is that cache's lookup alone; ``H.save_pte(program, source, name=...)`` files
  a lowering made in a notebook cell under the same key.
* ``H.pte_runner(path)`` loads a ``.pte`` in ExecuTorch's C++ runtime and returns a callable
  (tensors in, tensor or tuple out), so ``H.parity(eager, runner, ...)`` checks it.

Importing ``executorch.exir`` (lowering) costs seconds: it imports torch's compiler stack. Running a
``.pte`` needs none of it, so nothing here imports ``exir`` unless a lowering actually runs.
"""
import builtins
import contextlib
import hashlib
import io
import json
import os
import re
import sys
import time
import zipfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..course.failures import short_message
from ..course.guards import numpy_part, refuse_meta, with_article
from ..course.workdir import REPO_ROOT, atomic_path, atomic_write_text, repo_relative
from ..tools.input_variants import own_copy
from .aoti import (_LAYOUTS, INDEX_OUT_OF_RANGE, _argument_names, _as_args, _input_specs, _plain_layout, _same_layout,
                   _with_layouts, aoti_cache_key, by_position, fixed_number_children, in_recorded_order, inputs_problem,
                   kernel_switches, refuse_training_mode, refuse_what_eager_refuses, relations_problem,
                   size_relations, user_input_values)
from .cpp_build import BuiltFile, cache_folders

__all__ = ["PTE_CACHE_DIR", "PteFile", "executorch_available", "executorch_version", "pte_cache_key",
           "lower_to_pte", "cached_pte", "save_pte", "PteRunner", "pte_runner", "BACKENDS"]

PTE_CACHE_DIR = REPO_ROOT / "build" / "executorch"
BACKENDS = ("portable", "xnnpack")


def executorch_available() -> bool:
    """True when the ``executorch`` package is installed (``make`` installs it)."""
    import importlib.util
    return importlib.util.find_spec("executorch") is not None


def executorch_version() -> str:
    """The installed executorch's version, read from its metadata (importing it would cost seconds)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("executorch")
    except PackageNotFoundError:
        return "not installed"


def _require():
    if not executorch_available():
        raise ModuleNotFoundError("executorch is not installed: run `make venv` (it installs requirements-shipping.txt) "
                                  "or `.venv/bin/pip install -r requirements-shipping.txt`")


def _below_error(record) -> bool:
    """A logging filter that lets through only errors and worse."""
    return record.levelno >= 40  # logging.ERROR


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
    # a filter, not setLevel: a level change clears every logger's cache, which made each runner call 0.2 ms slower
    pytree_log.addFilter(_below_error)
    try:
        # ExecuTorch's runtime also logs through Python's sys.stdout / sys.stderr (piece by piece)
        captured = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore")
            yield captured
    finally:
        pytree_log.removeFilter(_below_error)
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
    """A lowered program: ``path``, ``backend``, whether this call ``lowered`` it, ``lower_seconds``
    (how long its lowering took, when it was made), the cache ``key`` and the ``versions`` it was made with."""
    path: Path
    backend: str
    lowered: bool
    lower_seconds: float
    key: str
    versions: str = ""


def _is_program(source) -> bool:
    return isinstance(source, torch.export.ExportedProgram)


def _check(model, backend, who):
    if _is_program(model):
        pass
    elif isinstance(model, type):
        raise TypeError(f"{who}: pass a model instance, e.g. {model.__name__}(), not the class itself")
    elif not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        raise TypeError(f"{who}: the model must be a Python torch.nn.Module or an ExportedProgram (not "
                        f"{type(model).__name__}); a TorchScript file goes through H.migrate first")
    if backend not in BACKENDS:
        raise ValueError(f"{who}: backend must be one of {BACKENDS}, got {backend!r}")


def _check_name(name, who):
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"{who}: name must be a short word like 'digits_cnn', got {name!r}")


def _program_key(program) -> str:
    """What an ExportedProgram computes: its graph, signature, ranges, weights and constants."""
    digest = hashlib.sha256()
    for part in (program.graph_module.code, str(program.graph_signature), str(program.range_constraints)):
        digest.update(part.encode("utf-8") + b"\0\1")
    for name, value in list(program.state_dict.items()) + list(program.constants.items()):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(value.detach().cpu().contiguous().numpy().tobytes() if isinstance(value, torch.Tensor)
                      else repr(value).encode("utf-8"))
    digest.update(torch.__version__.encode("utf-8"))
    switches = kernel_switches()  # the lowering keeps size limits made from them; only when one is off, so that
    if switches:                  # keys made with torch's defaults stay as they were
        digest.update(switches.encode("utf-8"))
    return digest.hexdigest()


def pte_cache_key(model, example=None, dynamic_shapes=None) -> str:
    """16 hex digits that change with the model (classes, layers, settings and weights) or program, the example's
    shapes, the dynamic shapes, torch's version and executorch's version."""
    base = _program_key(model) if _is_program(model) else aoti_cache_key(model, example, dynamic_shapes)
    return hashlib.sha256(f"{base}\0executorch {executorch_version()}".encode("utf-8")).hexdigest()[:16]


def _versions() -> str:
    return f"torch {torch.__version__}, executorch {executorch_version()}"


def _stamp(backend) -> dict:
    """What every record says of how its lowering was made: backend, versions and when."""
    return {"backend": backend, "torch": torch.__version__, "executorch": executorch_version(),
            "versions": _versions(), "made": time.strftime("%Y-%m-%d %H:%M")}


def _target(name, backend, key, cache_dir, decompose=False):
    return cache_dir / f"{name}-{backend}{'-decomposed' if decompose else ''}-{key}.pte"


def _record(target) -> dict:
    try:
        record = json.loads(target.with_suffix(".json").read_text())
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}


def _pte(target, backend, lowered, key):
    record = _record(target)
    try:
        seconds = float(record["lower_seconds"])
    except (KeyError, TypeError, ValueError):
        seconds = float("nan")
    return PteFile(target, backend, lowered, seconds, key, record.get("versions", ""))


def _lookup(model, example, dynamic_shapes, backend, name, decompose, cache_dir, who):
    _check(model, backend, who)
    _check_name(name, who)
    if example is not None and not isinstance(example, (torch.Tensor, tuple, list, dict)):
        hint = ("convert it with torch.from_numpy(array)" if numpy_part(example) is example else
                "pass the name as name=..." if isinstance(example, str) else "pass a tensor")
        raise TypeError(f"{who}: example is the model's input (a tensor, or a tuple with one per argument), got "
                        f"{with_article(type(example).__name__)}; {hint}")
    key = pte_cache_key(model, example, dynamic_shapes)
    # build/executorch, or, on a hub where learners cannot write the repository, what make built there, then their own
    look, write = cache_folders(PTE_CACHE_DIR, "executorch", cache_dir)
    for folder in look:
        target = _target(name, backend, key, folder, decompose)
        if target.is_file() or target.with_suffix(".json").is_file():  # a file, or a recorded failure
            return folder, key, target
    return write, key, _target(name, backend, key, write, decompose)


def cached_pte(model, example=None, dynamic_shapes=None, *, backend="portable", name="model", decompose=False,
               cache_dir=None):
    """The ``.pte`` already lowered for this model (or ExportedProgram), example, backend and versions, or None.

    Lowers nothing and imports nothing from executorch: a notebook cell can lower only on a miss.
    """
    cache_dir, key, target = _lookup(model, example, dynamic_shapes, backend, name, decompose, cache_dir, "cached_pte")
    return _pte(target, backend, False, key) if target.is_file() else None


def _out_spec(executorch_program):
    """How forward's outputs nest (a dict, a tuple ...), as text, so the runner can give them back that way; or None."""
    try:
        spec = executorch_program.exported_program().call_spec.out_spec
        return torch.utils._pytree.treespec_dumps(spec) if spec is not None else None
    except Exception:  # an older program without a readable spec: the runner gives the flat outputs
        return None


def _inputs_of(program):
    """The exported program's input specs (dtypes, sizes, each Dim's range and symbol), which PteRunner checks each
    call against: the runtime checks only its memory plan's capacity, not the export's ranges. Read from the program
    as exported, not from the lowered one, whose ranges start at 2 (0/1 specialization) though a batch of 1 runs.
    None when there is no program (a model was passed) or it cannot be read."""
    if not _is_program(program):
        return None
    try:
        return _input_specs(program)
    except Exception:  # an unreadable program: the runner checks nothing, as before
        return None


def _layouts_of(specs, program, example):
    """``specs`` with each tensor input's memory layout (``layout``), from the example or the program's own example
    inputs: the lowered program reads memory in that order and does not check it (a channels_last example makes a
    .pte that gives wrong numbers on a contiguous input), so the runner checks it."""
    if not isinstance(specs, list):
        return specs
    args = _as_args(example) if example is not None else None
    if args is None and _is_program(program):
        args = _program_example(program)
    return _with_layouts(specs, args) if args is not None else specs


def _program_example(program):
    """The positional example a program was exported from (``example_inputs``, kept by torch.export), or None."""
    given = getattr(program, "example_inputs", None)  # (args, kwargs)
    return given[0] if isinstance(given, tuple) and len(given) == 2 else None


def _relations_of(program, source, example) -> list:
    """The rules on input sizes ``program`` checks (``size_relations``): for a model lowered with its example, named
    by forward's parameters; for a program passed in, by its inputs' own names (the placeholders torch named after
    them). [] for one that cannot be read."""
    if _is_program(source) and program is None:
        program = source
    if not _is_program(program):
        return []
    try:
        if isinstance(source, torch.nn.Module) and example is not None:
            return size_relations(program, _as_args(example), _argument_names(source))
        return size_relations(program, tuple(user_input_values(program)), list(program.graph_signature.user_inputs))
    except Exception:  # an unreadable program: the runner checks the inputs one by one only, as before
        return []


def _write_record(target, record) -> None:
    atomic_write_text(target.with_suffix(".json"), json.dumps(record, indent=1))


def _structure_of(program, example):
    """How forward's arguments nest, dict keys in the order the .pte takes them flat (pytree spec text), or None."""
    pytree = torch.utils._pytree
    try:
        if _is_program(program):
            return pytree.treespec_dumps(program.call_spec.in_spec.children()[0])  # (args, kwargs): the args
        if example is not None:
            return pytree.treespec_dumps(pytree.tree_flatten(_as_args(example))[1])
    except (AttributeError, IndexError, TypeError, ValueError):  # a structure this torch cannot write: none kept
        pass
    return None


def save_pte(executorch_program, source, example=None, dynamic_shapes=None, *, backend="portable", name="model",
             decompose=False, lower_seconds=float("nan"), cache_dir=None, _exported=None) -> PteFile:
    """File ``executorch_program`` (what ``.to_executorch()`` returned) in the cache under ``source``'s key.

    ``source`` is what was lowered: the ExportedProgram, or the model with its ``example`` and ``dynamic_shapes``.
    The ``.pte`` and its record are each written to a temporary name and renamed into place.
    """
    if not hasattr(executorch_program, "write_to_file"):
        raise TypeError("save_pte: pass what .to_executorch() returned (an ExecutorchProgramManager), "
                        f"got {type(executorch_program).__name__}")
    cache_dir, key, target = _lookup(source, example, dynamic_shapes, backend, name, decompose, cache_dir, "save_pte")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary, open(temporary, "wb") as out:
        executorch_program.write_to_file(out)
    seconds = round(lower_seconds, 2) if lower_seconds == lower_seconds else None
    _write_record(target, {"lower_seconds": seconds, "out_spec": _out_spec(executorch_program),
                           "inputs": _layouts_of(_inputs_of(_exported if _exported is not None else source),
                                                 _exported if _exported is not None else source, example),
                           "relations": _relations_of(_exported, source, example),
                           "structure": _structure_of(_exported if _exported is not None else source, example),
                           **_stamp(backend)})
    return PteFile(target, backend, True, float("nan") if seconds is None else seconds, key, _versions())


def _replay(record, target):
    """The exception a lowering raised when it was recorded: the same built-in type and message."""
    kind = getattr(builtins, record.get("error_type", ""), None)
    message = record.get("error", "")
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        kind, message = RuntimeError, f"{record.get('error_type', 'Error')}: {message}"
    error = kind(message)
    error.add_note(f"recorded when {repo_relative(target)} was lowered ({record.get('versions', '?')}, "
                   f"{record.get('made', '?')}); a new torch or executorch lowers again")
    return error


def _add_fix(error, decompose):
    """The error, with one line naming the way out when ExecuTorch's message does not: an operation a partitioner
    kept whole for its back end and then did not take (a `linear` inside a torch.cond branch, which XNNPACK does
    not look into) lowers once decomposed."""
    if not decompose and "was not decomposed or delegated" in str(error):
        error.add_note("lower_to_pte: a back end asked to keep that operation whole, then did not take it (XNNPACK does "
                       "not look inside a torch.cond branch): pass decompose=True, and the portable kernels run it.")
    if "mismatched dtypes" in str(error) and "complex" in str(error):  # the edge dialect's dtype table
        error.add_note("lower_to_pte: ExecuTorch's edge dialect lists no complex dtype for that operator: pass the "
                       "real and imaginary parts as one float tensor (torch.view_as_real) and compute on those.")
    if "serialize TreeSpec of namedtuple" in str(error):  # torch's own advice names a private function
        error.add_note("lower_to_pte: the .pte stores the structure of forward's output, and a NamedTuple's class "
                       "cannot be stored: return a tuple or a dict from forward, and rebuild the NamedTuple where "
                       "you run the program.")
    return error


class PteExportError(ValueError):
    """torch.export refused the model before any lowering: the message says why, in one line."""


class UnboundedSizeError(ValueError):
    """A dynamic size with no upper bound, which ExecuTorch's memory plan would cap at the example's size."""


def _unbounded_sizes(program) -> list:
    """The symbols of ``program``'s dynamic sizes that have no finite upper bound."""
    from torch.utils._sympy.numbers import IntInfinity
    symbols = {str(symbol) for symbol, bounds in program.range_constraints.items()
               if isinstance(bounds.upper, IntInfinity) or str(bounds.upper) in ("oo", "int_oo")}
    if not symbols:
        return []
    named = []  # "input 0, dim 0" reads better than torch's symbol s31
    for i, value in enumerate(user_input_values(program)):
        for dim, size in enumerate(getattr(value, "shape", ())):
            if str(size) in symbols:
                named.append(f"input {i} dim {dim}")
                symbols.discard(str(size))
    return named + sorted(symbols)


def _runtime_order(value) -> bool:
    """True when ``value``'s dimensions lie in memory in the order of a contiguous or a channels_last tensor, gaps
    allowed (a slice's strides): what the runtime reads. A transpose, a permutation or a broadcast (stride 0) is not."""
    dims = [d for d in range(value.dim()) if value.shape[d] > 1]
    if any(value.stride(d) == 0 for d in dims):
        return False
    order = sorted(dims, key=lambda d: -value.stride(d))  # outermost first
    channels_last = [d for d in (0, 2, 3, 1) if d in dims] if value.dim() == 4 else None
    return order == dims or order == channels_last


def _refuse_odd_layouts(program):
    """A ValueError for a program exported from an example whose dimensions lie in memory in another order than a
    contiguous or channels_last tensor's (a transpose, channels_last_3d, a broadcast): its .pte would refuse or
    misread every input. A slice's gaps are fine."""
    for i, value in enumerate(torch.utils._pytree.tree_leaves(_program_example(program))):
        if isinstance(value, torch.Tensor) and not _runtime_order(value):
            raise ValueError(f"lower_to_pte: this program was exported from an example whose input {i} lies in memory "
                             f"in another order of dimensions (strides {tuple(value.stride())} for shape "
                             f"{tuple(value.shape)}), and ExecuTorch's runtime reads contiguous or channels_last "
                             "inputs only: export it again from contiguous copies, torch.export.export("
                             "program.module(), (x.contiguous(),), ...), or pass the model and its example to "
                             "lower_to_pte, which does that")


def _in_layout(value, spec):
    """A tensor input in the memory layout its spec recorded (a copy when it lies otherwise: the runtime reads memory
    in the recorded order and does not check it); contiguous when none was recorded."""
    layout = spec.get("layout") if isinstance(spec, dict) else None
    if isinstance(spec, dict) and isinstance(spec.get("shape"), list) and len(spec["shape"]) != value.dim():
        return value  # another rank than recorded: the input check after this names it, no layout fits it
    if layout not in _LAYOUTS:
        return value.contiguous()
    # clone, not .contiguous(format): that returns the tensor itself when only a size-1 dimension's stride differs
    return value if _same_layout(value, layout) else value.clone(memory_format=_LAYOUTS[layout])


def lower_to_pte(model, example=None, dynamic_shapes=None, *, backend="portable", name="model", decompose=False,
                 force=False, cache_dir=None, quiet=True) -> PteFile:
    """Export ``model``, lower it for ExecuTorch (portable kernels, or the XNNPACK delegate), write a ``.pte``.

    ``model`` may also be an ``ExportedProgram`` (then no ``example``): it is lowered as it is.
    ``decompose=True`` runs ``program.run_decompositions()`` before lowering: ops such as ``linear``
    become core ATen ops (``permute`` + ``addmm``) that the portable kernels run wherever XNNPACK does
    not reach (inside a ``torch.cond`` branch). Cached in ``build/executorch/`` by ``pte_cache_key``
    and the backend. A lowering error propagates with its type and message (a note names ``decompose=True`` when
    that is the way out), and is recorded: the next call with the same key raises it again without lowering (``force=True`` lowers anyway). ``quiet=False`` prints where
    the file came from. Each dynamic size needs an upper bound (``Dim("batch", min=1, max=64)``):
    ExecuTorch plans memory for the largest size, so without one this raises a ValueError saying so.
    """
    if force:  # lowered anew: into the folder this learner may write, whatever the shared cache holds
        cache_dir = cache_folders(PTE_CACHE_DIR, "executorch", cache_dir)[1]
    refuse_meta(example, "lower_to_pte")
    # ExecuTorch's runtime takes inputs contiguous or channels_last only: an example laid out otherwise (a slice,
    # channels_last_3d) is lowered from a contiguous copy, which makes the same program
    example = _plain_layout(example, kept=("contiguous", "channels_last"))
    if _is_program(model):  # a program keeps its example's layout, which cannot be changed here: refused in one line
        _refuse_odd_layouts(model)
    cache_dir, key, target = _lookup(model, example, dynamic_shapes, backend, name, decompose, cache_dir,
                                     "lower_to_pte")
    if not _is_program(model):
        refuse_training_mode(model, "lower_to_pte")
        if example is None:
            raise TypeError("lower_to_pte: pass example=, one input the model accepts (a tensor, or a tuple with "
                            "one entry per argument); only an ExportedProgram lowers without one")
    say = (lambda text: None) if quiet else print
    if not force:
        if target.is_file():
            pte = _pte(target, backend, False, key)
            say(f"✔ cached {repo_relative(target)} (lowered in {pte.lower_seconds:.1f} s with {pte.versions or '?'})")
            return pte
        record = _record(target)
        if record.get("failed"):
            say(f"✘ this lowering failed when it was recorded ({record.get('versions', '?')}); raising its error again")
            raise _add_fix(_replay(record, target), decompose)
    first = "executorch.exir" not in sys.modules
    print(f"lowering {name} for ExecuTorch ({backend}{', decomposed first' if decompose else ''}), not in "
          f"{repo_relative(cache_dir)} yet{'; importing executorch.exir first takes seconds' if first else ''} ...", flush=True)
    if not _is_program(model):  # before the seconds of lowering: a failure of eager itself, in one line
        refuse_what_eager_refuses(model, _as_args(example), "lower_to_pte")
    lower, partitioner = _import_executorch()
    from .export_bridge import quiet_export
    start = time.monotonic()
    try:
        with quiet_export():
            if _is_program(model):
                program = model
            else:
                args = example if isinstance(example, tuple) else (example,)
                try:
                    # from copies, as aoti_package: one tensor given for two arguments would become one input
                    program = torch.export.export(model, own_copy(args), dynamic_shapes=dynamic_shapes)
                except Exception as error:  # the model's own export problem, in one line: nothing lowered yet
                    from .export_check import dim_conflict  # torch's suggested Dim, lines below its first
                    why = dim_conflict(error, "the example", "give an example with 2 or more there")
                    from ..tools.diagnose import _learner_line, export_hint  # as diagnose says it: the line, the fix
                    where = "" if why else _learner_line(error)
                    hint = "" if why else export_hint(str(error))
                    raise PteExportError("lower_to_pte: torch.export failed before ExecuTorch could lower the "
                                         f"model: {why or short_message(error)}{f' at {where}' if where else ''}"
                                         f"{f' ({hint})' if hint else ''}") from None
            exported = program  # its ranges are what the runner checks inputs against
            if decompose:
                program = program.run_decompositions()
        unbounded = _unbounded_sizes(program)
        if unbounded:
            fix = ("export it again with a bounded Dim: torch.export.export(program.module(), args, dynamic_shapes="
                   "...) with Dim('batch', min=1, max=64), or report.reexport(...) for a program from H.migrate"
                   if _is_program(model) else "give each Dim a max, e.g. Dim('batch', min=1, max=64)")
            raise UnboundedSizeError(
                f"lower_to_pte: the dynamic size{'s' if len(unbounded) > 1 else ''} {', '.join(unbounded)} "
                "ha{} no upper bound; ExecuTorch plans memory for the largest size, and without a bound the .pte "
                "plans its memory for the example's size, so larger inputs can fail: {}".format(
                    "ve" if len(unbounded) > 1 else "s", fix))
        with _quiet_native():
            edge = lower(program, partitioner=[partitioner()] if backend == "xnnpack" else [])
            executorch_program = edge.to_executorch()
    except (UnboundedSizeError, PteExportError):
        raise  # the learner's model or dynamic_shapes, not a lowering outcome: nothing to record
    except Exception as error:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_record(target, {"failed": True, "error_type": type(error).__name__,
                               "error_module": type(error).__module__, "error": str(error),
                               "lower_seconds": round(time.monotonic() - start, 2), **_stamp(backend)})
        _add_fix(error, decompose)
        raise
    return save_pte(executorch_program, model, example, dynamic_shapes, backend=backend, name=name,
                    decompose=decompose, lower_seconds=time.monotonic() - start, cache_dir=cache_dir,
                    _exported=exported)


# ExecuTorch's error codes (runtime/core/error.h) that a load reports as "error: 0x:NN", in words
_LOAD_ERRORS = {0x14: "an operator the program calls has no kernel in this runtime (OperatorMissing): lower it "
                      "with a back end that takes that operator, or rewrite it with operators that have one",
                0x23: "the file is no valid program for this runtime (InvalidProgram): lower it again with this "
                      "executorch",
                0x10: "the program needs something this runtime does not support (NotSupported)"}


def _log_reasons(log_text) -> list:
    """The messages of the runtime's log lines (``[... file:line] message``); a line that held only a bracket says
    nothing and is left out."""
    return [r for r in (ln.split("] ", 1)[-1].strip() for ln in log_text.splitlines() if "] " in ln) if len(r) > 2]


def _load_failure(path, error, log_text) -> str:
    """One line for a .pte that will not load: the runtime's code in words, and the reason its log gave."""
    code = re.search(r"0x:?([0-9a-fA-F]+)", str(error))
    meaning = _LOAD_ERRORS.get(int(code.group(1), 16), "") if code else ""
    reason = _log_reasons(log_text)
    text = f"pte_runner: {path.name} did not load ({short_message(error, 80)})"
    text += f": {meaning}" if meaning else ""
    return text + (f"; the runtime's log: {'; '.join(reason[-3:])}" if reason else "")


def _spec_words(spec) -> str:
    """One recorded input in a few words: ``float32 (any, 4)``, or the number fixed at export."""
    if not isinstance(spec, dict):
        return "?"
    if "number" in spec:
        return repr(spec["number"])
    shape = ", ".join("any" if size is None else str(size) for size in spec.get("shape") or [])
    return f"{spec.get('dtype', '?')} ({shape})"


def _count_problem(name, got, specs, arguments) -> str:
    """"takes N inputs (...), got M" when a call passes another number of tensors than the program takes; "".
    The runtime's own word for it is "error 0x12: Invalid number of inputs provided", without saying which."""
    if not isinstance(specs, list) or got == len(specs):
        return ""
    flat = " (counting each tensor in a list or dict)" if arguments != got else ""
    shown = ", ".join(_spec_words(spec) for spec in specs[:4]) + (", ..." if len(specs) > 4 else "")
    return f"{name} takes {len(specs)} input{'s' * (len(specs) != 1)} ({shown}), got {got}{flat}"


# what an index past the end of a table looks like in a kernel's check: "indices_ptr[1] 12 >= weight.size(0) 10"
_INDEX_OUT_OF_RANGE = re.compile(r"\bind(?:ex|ices)\w*(?:\[\w+\])?\s+-?\d+\s*(?:>=|<\s*0\b)|index out of (?:range|bounds)",
                                 re.IGNORECASE)


def _run_failure(name, error, log_text) -> str:
    """One line for a call the runtime refused: the first line of its log that says what is wrong, and the operator
    that said it, without the argument type ids a failed kernel call logs after it (``arg 0 with type id 1; ...``);
    with a hint when an index was out of range."""
    reasons = [r for r in _log_reasons(log_text) if not re.match(r"arg \d+ with type id", r)]
    operator = next((found.group(1) for r in reasons
                     for found in [re.search(r"KernelCall failed .* in operator (\w+(?:::[\w.]+)?)", r)] if found), "")
    reasons = [r for r in reasons if not r.startswith("KernelCall failed")]
    counted = next((found for r in reasons for found in [re.search(r"Expected (\d+), but got (\d+)", r)] if found), None)
    if counted and "number of inputs" in " ".join(reasons):  # a .pte lowered elsewhere: no record to count against
        wanted = int(counted.group(1))
        return f"{name} takes {wanted} input{'s' * (wanted != 1)}, got {counted.group(2)}"
    what = reasons[0] if reasons else short_message(error, 160)
    where = next((r for r in reasons[1:] if re.search(r"\bat input \d+", r)), "")  # which input, if the log says
    text = f"{name}: ExecuTorch failed on this input{f' in {operator}' if operator else ''}: {what.rstrip('.')}"
    text += f" ({where[0].lower()}{where[1:]})" if where else ""
    capacity = re.search(r"maximum capacity of (\d+) elements to (\d+) elements", what)
    if capacity:  # a buffer sized when the file was lowered: the call needs more room than it has
        text += (f"; a tensor inside the program holds at most {capacity.group(1)} values, sized when the file was "
                 "lowered (from the example's sizes, or a Dim's max: 10's section 3), and this input needs "
                 f"{capacity.group(2)}: pass a smaller input, or lower again from an example (and Dims with a max) as "
                 "large as the largest input you will ship")
    if _INDEX_OUT_OF_RANGE.search(what):
        rows = re.search(r"weight\.size\(0\)\s+(\d+)", what)
        text += (f"; {INDEX_OUT_OF_RANGE}"
                 + (f"the table has {rows.group(1)} rows, so pass ids from 0 to {int(rows.group(1)) - 1}" if rows
                    else "pass indices from 0 to one less than the size they index"))
    return text


def _with_fixed_numbers(args: tuple, structure, specs) -> tuple:
    """``args`` with the numbers fixed at export put back where a call left them out, as H.load_aoti takes such a
    call: those at the end (forward's defaults), or every one of them. Any other count is left for the count check
    to name (a list one tensor short is not filled up with a number)."""
    if not structure or not isinstance(specs, list):
        return args
    spec = torch.utils._pytree.treespec_loads(structure)
    children = spec.children() if spec.type is tuple else []
    if len(args) >= len(children):
        return args
    slots = fixed_number_children(children, specs)
    if all(fixed for _, fixed in slots[len(args):]):  # the last ones left out
        return tuple(args) + tuple(specs[start]["number"] for start, _ in slots[len(args):])
    if len(args) == sum(not fixed for _, fixed in slots):  # every number left out
        given = iter(args)
        return tuple(specs[start]["number"] if fixed else next(given) for start, fixed in slots)
    return args


class PteRunner:
    """A ``.pte`` loaded in ExecuTorch's runtime, called like a model: ``runner(x)``."""

    def __init__(self, path):
        _require()
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"pte_runner takes the path of a .pte file (or what H.lower_to_pte returned), got "
                            f"{type(path).__name__}: lower the model first with H.lower_to_pte(model, example, ...)")
        self.path = Path(os.fspath(path))
        if not self.path.is_file():
            raise FileNotFoundError(f"no .pte at {self.path}: make it with H.lower_to_pte(...) or `make aoti`")
        if zipfile.is_zipfile(self.path):  # ExecuTorch would only say "error: 0x:23"
            raise ValueError(f"pte_runner: {self.path.name} is a zip archive (a TorchScript .pt or a .pt2), not an "
                             "ExecuTorch .pte: lower the model with H.lower_to_pte(model, example, ...)")
        start = time.perf_counter()
        with _quiet_native() as log:
            # executorch.runtime.Runtime is a thin wrapper over this C++ extension, but importing it runs
            # executorch/exir/__init__ (all of the lowering side, seconds). Running a .pte needs only the
            # extension: the same loader, the same verification, a fraction of a second.
            from executorch.extension.pybindings import _C
            try:
                program = _C._load_program(str(self.path), program_verification=_C.Verification.InternalConsistency)
                self.method = program.load_method("forward")
            except RuntimeError as error:
                failure = error
            else:
                failure = None
        if failure is not None:  # outside the block: the log is complete, and the message reaches the screen
            raise RuntimeError(_load_failure(self.path, failure, log.getvalue())) from None
        self.load_seconds = time.perf_counter() - start
        record = _record(self.path)
        self.input_specs = record.get("inputs")  # the export's dtypes, sizes and Dim ranges, recorded when lowered
        self.relations = record.get("relations") or []  # and the checks tying sizes of several inputs together
        self.structure = record.get("structure")  # the arguments' nesting, dict keys in the order the .pte takes them
        text = record.get("out_spec")  # the model's output structure, recorded when it was lowered
        try:
            self.out_spec = torch.utils._pytree.treespec_loads(text) if text else None
        except (ValueError, TypeError, KeyError):  # a spec this torch cannot read: the flat outputs, as before
            self.out_spec = None

    def __call__(self, *inputs, **named):
        if named:  # a .pte's forward takes its inputs flat, by position: it keeps no argument names
            raise TypeError(by_position(self.path.name, "a .pte keeps no argument names", "runner", named))
        with _quiet_native() as log:
            try:
                # a list or dict argument reaches the program as its tensors, in pytree order, as export flattened it:
                # a dict in another key order is put in the recorded one (eager reads by key), another nesting refused
                inputs = _with_fixed_numbers(inputs, self.structure, self.input_specs)
                inputs = in_recorded_order(inputs, self.structure, self.path.name)
                leaves = torch.utils._pytree.tree_leaves(inputs)
                count = _count_problem(self.path.name, len(leaves), self.input_specs, len(inputs))
                if count:  # counted here: the runtime says only "Invalid number of inputs", after a failed call
                    raise TypeError(count)
                # each tensor in the layout its program was lowered for (a copy, as eager takes any layout)
                specs = self.input_specs if isinstance(self.input_specs, list) and len(self.input_specs) == len(leaves) \
                    else [None] * len(leaves)
                leaves = [_in_layout(t, spec) if isinstance(t, torch.Tensor) else t for t, spec in zip(leaves, specs)]
                problem = inputs_problem(leaves, self.input_specs) or relations_problem(leaves, self.relations)
                if problem:  # the .pte would run it, and answer for another branch or size than eager
                    raise ValueError(f"{self.path.name}, {problem}")
                # a string was checked above against the one the program holds as a constant: its slot takes None,
                # since the runtime takes no Python string
                outputs = self.method([None if isinstance(t, str) else t for t in leaves])
            except RuntimeError as error:
                failure = error
            else:
                failure = None
        if failure is not None:  # the runtime's reason is in its log, not in the exception: read once the log is whole
            raise RuntimeError(_run_failure(self.path.name, failure, log.getvalue())) from None
        if self.out_spec is not None and self.out_spec.num_leaves == len(outputs):
            return torch.utils._pytree.tree_unflatten(list(outputs), self.out_spec)  # a dict comes back a dict
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def unchecked(self, *tensors):
        """The runtime's own call on flat tensors as they are, without this runner's checks, layout copies, log
        reading and output structure (a list comes back): what a device's C++ code calls, to time the runtime alone,
        as 10's decision guide does. A wrong input gives wrong numbers or the runtime's bare error code."""
        return self.method(list(tensors))

    def __repr__(self):
        return f"<PteRunner {self.path.name}>"


def pte_runner(path) -> PteRunner:
    """Load a ``.pte`` file in ExecuTorch's runtime (its C++ extension); the result is callable like the model."""
    return PteRunner(path)
