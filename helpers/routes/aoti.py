"""AOTInductor: compile a model ahead of time into a ``.pt2`` package, cache it, load it cleanly (introduced in 10_shipping).

``H.aoti_package(model, example, dynamic_shapes=...)`` exports the model with ``torch.export`` and
compiles it with ``torch._inductor.aoti_compile_and_package`` in a separate Python process (so a
progress bar can tick, and the compiler's own chatter stays out of the notebook). Compiling takes
tens of seconds, so the package is cached in ``build/aoti/`` (git-ignored), keyed by the model (its
own classes' source, its layers and settings: ``model_description``), its weights, the example's shapes
and dtypes, the dynamic shapes and torch's version: change any of them and it compiles again. ``make aoti`` builds the course's packages ahead.

``H.load_aoti(path)`` loads a package with ``torch._inductor.aoti_load_package``. The loader unpacks
the compiled library into a fresh ``aotinductor_*`` folder under ``$TMPDIR``; torch removes it when
the model is freed or Python exits normally, but a process that ends abruptly leaves it behind (10
shows both). This helper points ``$TMPDIR`` at a private folder for the load and removes that folder
at once (for a CPU package the library is already mapped into the process, so nothing needs it any more;
a CUDA package may load kernel files on its first call, which the course, without a GPU, does not check).

A torch built with CUDA logs ``No CUDA runtime is found, using CUDA_HOME=...`` when
``torch.utils.cpp_extension`` is first imported on a machine that has a CUDA toolkit (``nvcc``) but no
GPU (``_find_cuda_home`` in that module, which a CPU-only torch never calls). Inductor imports that module to compile; the notice is
harmless for a CPU build, and is dropped at that logger, nowhere else.
"""
import ast
import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import numbers
import os
import platform
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

from ..course.deprecations import NO_CUDA_NOTICE, drop_no_cuda_notice
from ..course.failures import short_message
from ..course.guards import native_stderr, refuse_meta
from ..course.workdir import REPO_ROOT, atomic_write_text, repo_relative
from ..tools.input_variants import own_copy
from .cpp_build import BuiltFile, _compile_with_progress, cache_folders
from .export_bridge import save_program

__all__ = ["AOTI_CACHE_DIR", "AotiPackage", "AotiCompileError", "aoti_cache_key", "aoti_package",
           "cached_aoti_package", "load_aoti", "no_cuda_notice_source"]

AOTI_CACHE_DIR = REPO_ROOT / "build" / "aoti"
_DEFAULT_SECONDS = 35.0  # a first guess at one compile, for the progress bar, until one is measured


class AotiCompileError(RuntimeError):
    """The AOTInductor compile failed; the message quotes its cause and where the full log is."""


drop_no_cuda_notice()  # Inductor imports torch's C++-extension module, which logs it


def no_cuda_notice_source() -> dict:
    """Where the 'No CUDA runtime is found' notice comes from, and whether this machine triggers it."""
    import torch.utils.cpp_extension as ext  # already filtered above
    source = inspect.getsource(ext._find_cuda_home)
    line = next(ln.strip() for ln in source.splitlines() if NO_CUDA_NOTICE in ln)
    # what decides it: the module calls the function only in a torch built with CUDA (the guard), and the function
    # logs when it finds a toolkit (CUDA_HOME) but no GPU (the condition)
    guard = next(ln.strip() for ln in inspect.getsource(ext).splitlines() if ln.startswith("CUDA_HOME = _find_cuda_home()"))
    return {"module": ext.__name__, "function": "_find_cuda_home", "line": line, "guard": guard,
            "condition": next(ln.strip() for ln in source.splitlines() if "is_available()" in ln and "if" in ln),
            "cuda_build": torch.version.cuda is not None, "gpu": torch.cuda.is_available(), "cuda_home": ext.CUDA_HOME,
            "triggers": ext.CUDA_HOME is not None and not torch.cuda.is_available()}


# ---------------------------------------------------------------- cache key

def _class_source(cls) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):  # a class from a notebook cell: its methods' sources are kept, the class's may not be
        methods = []
        for name, member in sorted(vars(cls).items()):
            member = getattr(member, "__func__", member)
            if hasattr(member, "__code__"):
                try:
                    methods.append(inspect.getsource(member))
                except (OSError, TypeError):
                    methods.append(f"{name}: {member.__code__.co_code.hex()}")
        return f"{cls.__module__}.{cls.__qualname__}\n" + "\n".join(methods)


_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))  # what every module holds: its parameters, buffers, hooks...


def _value_text(value, depth: int = 0) -> str:
    """``value`` as text that changes when it changes and is the same in every process: a tensor by its values, a
    dataclass or a plain object by its fields, a function by its name; an object it cannot read, by its class."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, torch.dtype, torch.device)):
        return repr(value)
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)}{value.dtype}:{hashlib.sha256(_tensor_bytes(value)).hexdigest()[:16]}"
    if isinstance(value, torch.nn.Module):
        return f"module {type(value).__qualname__}"  # a submodule, described on its own line
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if depth >= 3:
        return kind
    if isinstance(value, (tuple, list, set, frozenset)):
        items = [_value_text(v, depth + 1) for v in value]
        return f"{kind}[{', '.join(sorted(items) if isinstance(value, (set, frozenset)) else items)}]"
    if isinstance(value, dict):
        return f"{kind}{{{', '.join(f'{_value_text(k, depth + 1)}: {_value_text(v, depth + 1)}' for k, v in value.items())}}}"
    if isinstance(value, enum.Enum):
        return f"{kind}.{value.name}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name, None) for field in dataclasses.fields(value)}
    else:
        fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):  # a dataclass, a config object: by its fields
        return f"{kind}({', '.join(f'{k}={_value_text(v, depth + 1)}' for k, v in sorted(fields.items()))})"
    return kind


def model_description(model) -> str:
    """What compiled code depends on besides weights and inputs, as text: each submodule's class and settings
    (``extra_repr`` and plain attributes, such as a scale kept as a float; in the user's own classes every other
    attribute too: a private one, a config object by its fields, a tensor outside the state_dict by its values; in
    torch's own layers, a tensor set as an attribute), the
    code of a scripted one, and the
    source of every class in the tree that is not an installed library's, base classes included.
    Python outside the classes (a module-level function that ``forward`` calls) is not in it: after changing
    one, pass ``force=True``."""
    from ..tools.parity import plain_attributes
    from ..tools.path_recorder import _is_library
    parts, sources = [], {}
    for path, module in model.named_modules():
        cls = type(module)
        parts.append(f"{path or '.'}: {cls.__module__}.{cls.__qualname__}({module.extra_repr()})")
        plain = plain_attributes(module)
        parts += [f"  {key}={value!r}" for key, value in sorted(plain.items())]
        if not isinstance(module, torch.jit.ScriptModule) and not _is_library(cls):
            # the rest of what a class of the user's forward may read: private settings, config objects, tensors kept
            # outside the state_dict (torch's own layers show theirs in extra_repr; a scripted module, in its code)
            parts += [f"  {key}~{_value_text(value)}" for key, value in sorted(vars(module).items())
                      if key not in plain and key not in _MODULE_INTERNALS and key != "training"]
        elif not isinstance(module, torch.jit.ScriptModule):
            # a tensor (or a list or dict of them) set as a plain attribute on one of torch's own layers
            # (``model.lin.shift = ...``), which a forward of the user's may read: none of torch's layers keeps one
            parts += [f"  {key}~{_value_text(value)}" for key, value in sorted(vars(module).items())
                      if key not in plain and key not in _MODULE_INTERNALS
                      and any(isinstance(leaf, torch.Tensor) for _, leaf in _flat_tensors(value))]
        if isinstance(module, torch.jit.ScriptModule):
            try:
                parts.append(module.code)
            except (RuntimeError, AttributeError):  # a module with no forward of its own
                pass
        for base in cls.__mro__:
            if base in (torch.nn.Module, object) or base in sources or _is_library(base):
                continue
            sources[base] = _class_source(base)
    return "\n".join(parts + list(sources.values()))


def _flat_tensors(value, prefix="input"):
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _flat_tensors(v, f"{prefix}[{i}]")
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            yield from _flat_tensors(value[k], f"{prefix}[{k!r}]")
    else:
        yield prefix, value


_LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last,
            "channels_last_3d": torch.channels_last_3d}


def layout_strides(shape, layout) -> tuple:
    """The strides torch gives a new tensor of ``shape`` in ``layout`` ("contiguous", "channels_last", "_3d")."""
    sizes = [max(int(n), 1) for n in shape]  # torch counts a dimension of size 0 as 1 when it lays out strides
    order = list(range(len(sizes)))[::-1]  # innermost first
    if layout == "channels_last":
        order = [1, 3, 2, 0]
    elif layout == "channels_last_3d":
        order = [1, 4, 3, 2, 0]
    strides, step = [0] * len(sizes), 1
    for dim in order:
        strides[dim], step = step, step * sizes[dim]
    return tuple(strides)


def memory_layout(tensor) -> str:
    """How ``tensor`` lies in memory: "contiguous" (row-major), "channels_last" (or "_3d"), else "strided".

    Judged by the exact strides, not ``is_contiguous()``: that ignores the stride of a dimension of size 1, so a batch
    of one-channel images in channels_last passes it, and the AOTInductor code compiled for the usual strides gave
    wrong numbers on one (every digit wrong, checked in tests/test_aoti.py)."""
    for name in ("contiguous", "channels_last", "channels_last_3d"):
        if (name == "contiguous" or tensor.dim() == (4 if name == "channels_last" else 5)) and _same_layout(tensor, name):
            return name
    return "strided"


def _plain_layout(example, kept=tuple(_LAYOUTS)):
    """``example`` with every tensor laid out otherwise than one of the ``kept`` layouts made contiguous (the
    ExecuTorch runtime keeps fewer than compiled code: its lowering passes ``kept`` without channels_last_3d)."""
    from torch.utils._pytree import tree_map
    return tree_map(lambda v: v.contiguous() if isinstance(v, torch.Tensor) and memory_layout(v) not in kept else v,
                    example)


def _same_layout(value, layout) -> bool:
    """``value``'s strides are those of ``layout``, but for a batch (dimension 0) of size 1, whose stride is never
    used (numpy's ``a[None]`` gives it 0); an empty tensor has nothing to read in any order."""
    if value.numel() == 0:
        return True
    want, have = layout_strides(value.shape, layout), tuple(value.stride())
    return all(w == h for d, (w, h) in enumerate(zip(want, have)) if not (d == 0 and value.shape[0] == 1))


def layout_problem(value, layout) -> str:
    """What is wrong with ``value``'s memory layout for code compiled for ``layout`` (see ``memory_layout``), or ""."""
    if layout not in _LAYOUTS or _same_layout(value, layout):
        return ""  # packages recorded from a "strided" example before it was made contiguous are not checked
    # clone, not .contiguous(): that returns the tensor itself when only a size-1 dimension's stride differs
    fix = f"x.clone(memory_format=torch.{'contiguous_format' if layout == 'contiguous' else layout})"
    return (f"laid out {memory_layout(value)} in memory (strides {tuple(value.stride())}), compiled for {layout}: the "
            f"compiled code reads memory in the example's order and does not check it, so it may give wrong "
            f"numbers; pass {fix}")


def _as_args(example) -> tuple:
    return example if isinstance(example, tuple) else (example,)


# What the record beside each package holds (see _input_specs); raised when it records more, so that packages
# recorded before are made again rather than checked against less than the helpers now check
_RECORD_FORMAT = 6


@functools.lru_cache(maxsize=None)
def build_target(march=None) -> str:
    """The CPU the compiled code is made for, e.g. "x86_64 AVX512 march=cooperlake".

    Inductor compiles a package's C++ with ``-march=native`` (or ``march``, the value of
    ``$TORCHINDUCTOR_CPP_MARCH``) and the vector instructions torch found on this CPU: a package built on one CPU may
    not run on another, so it is part of the cache key. ``native`` is resolved by asking the C++ compiler what it
    means here.
    """
    if march is None:
        try:
            out = subprocess.run([os.environ.get("CXX", "g++"), "-march=native", "-Q", "--help=target"],
                                 capture_output=True, text=True, timeout=60).stdout
            march = next((line.split()[-1] for line in out.splitlines() if line.strip().startswith("-march=")),
                         "native")
        except (OSError, subprocess.SubprocessError):  # no compiler: no package can be built here either
            march = "native"
    return f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()} march={march}"


def _tensor_bytes(tensor) -> bytes:
    """The values of ``tensor`` as bytes, for a hash: dense, plain dtypes (quantized ones as their integers and scale)."""
    tensor = tensor.detach().cpu()
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    if tensor.is_quantized:
        scales = f"{tensor.q_scale()}:{tensor.q_zero_point()}" if tensor.qscheme() in (
            torch.per_tensor_affine, torch.per_tensor_symmetric) else repr(tensor.q_per_channel_scales().tolist())
        return tensor.int_repr().contiguous().numpy().tobytes() + scales.encode()
    try:
        return tensor.contiguous().numpy().tobytes()
    except TypeError:  # a dtype NumPy has not (bfloat16, float8): its values as float32
        return tensor.float().contiguous().numpy().tobytes()


def aoti_cache_key(model, example, dynamic_shapes=None) -> str:
    """16 hex digits that change when the model (its classes' source, structure and settings: see
    ``model_description``), its weights, the example's shapes, the dynamic shapes, torch or the CPU the code is
    compiled for (``build_target``) change."""
    digest = hashlib.sha256()

    def add(text):
        digest.update(str(text).encode("utf-8") + b"\0\1")

    add(model_description(model))
    state = model.state_dict()
    # buffers registered with persistent=False are not in the state_dict, yet the compiled code holds their values
    # (a positions table, a scale set after calibration): hashed too, by name
    extra = [(f"buffer:{name}", value) for name, value in model.named_buffers() if name not in state]
    for name, entry in [*state.items(), *extra]:
        # an entry may be no tensor (a quantized layer's packed parameters: a dtype, a tuple of tensors)
        for part, tensor in _flat_tensors(entry, name):
            add(part)
            if not isinstance(tensor, torch.Tensor):
                add(repr(tensor))
                continue
            add(f"{tuple(tensor.shape)}{tensor.dtype}")
            digest.update(_tensor_bytes(tensor))
    for name, value in _flat_tensors(_as_args(example)):
        # the layout too: the compiled code reads memory in the example's order (channels_last is another package)
        add(f"{name}:{tuple(value.shape)}:{value.dtype}:{memory_layout(value)}" if isinstance(value, torch.Tensor)
            else f"{name}:{value!r}")
    add(repr(dynamic_shapes))
    add(torch.__version__)
    add(build_target(os.environ.get("TORCHINDUCTOR_CPP_MARCH")))  # the CPU the code is compiled for
    add(model.training)
    add(f"record {_RECORD_FORMAT}")  # a package recorded by an older course is made again, with today's record
    switches = kernel_switches()
    if switches:  # added only when one is off, so that keys made with torch's defaults stay as they were
        add(switches)
    return digest.hexdigest()[:16]


def kernel_switches() -> str:
    """Which of torch's CPU convolution kernels are switched off ("" when none is): the compile and the ExecuTorch
    lowering ask which kernel a batch would take, and keep the answers as size limits (10 explains why), so a build
    made with one switched off is another build."""
    # nnpack's switch has no module attribute in this torch: torch.backends.nnpack.flags sets what this reads
    on = {"mkldnn": torch.backends.mkldnn.enabled, "nnpack": torch._C._get_nnpack_enabled()}
    off = [name for name, enabled in on.items() if not enabled]
    return f"kernels off: {', '.join(off)}" if off else ""


@dataclass(frozen=True)
class AotiPackage(BuiltFile):
    """A compiled package: ``path``, whether this call ``compiled`` it, this call's ``seconds``,
    ``compile_seconds`` (how long its compile took, when it was made) and the cache ``key``."""
    path: Path
    compiled: bool
    seconds: float
    compile_seconds: float
    key: str


def _target(name: str, key: str, cache_dir: Path) -> Path:
    return cache_dir / f"{name}-{key}.pt2"


def _meta_path(target: Path) -> Path:
    return target.with_suffix(".json")


def _package(target: Path, key: str, compiled: bool, start: float) -> AotiPackage:
    try:
        meta = json.loads(_meta_path(target).read_text())
        compile_seconds = float(meta["compile_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        compile_seconds = float("nan")
    return AotiPackage(target, compiled, time.monotonic() - start, compile_seconds, key)


def _check_name(name):
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"aoti_package: name must be a short word like 'digits_cnn', got {name!r}")


def _check_model(model, who):
    if isinstance(model, type):
        raise TypeError(f"{who}: pass a model instance, e.g. {model.__name__}(), not the class itself")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{who}: the model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError(f"{who}: this is a TorchScript model; AOTInductor starts from the Python model "
                        "(or convert the TorchScript file first with H.migrate)")
    refuse_training_mode(model, who)


def refuse_what_eager_refuses(model, args: tuple, who: str):
    """A one-line ValueError when the eager model itself fails on the example: said before seconds of exporting and
    compiling end in a message about the compiler or the export (a bool input, a wrong shape). A copy of the model
    runs, so a counter or a running statistic of the learner's model does not move.
    A second call of the copy follows: a ⚠ line when it changed the copy's Python state or gives another answer,
    since the file holds what one export saw, fixed (a counter stays at its first value, dropout draws anew or not at
    all)."""
    from ..tools.parity import TWO_ANSWERS_CAUSES, _compare_outputs, fresh_copy, python_state, state_changes
    copy_ = fresh_copy(model)
    before = python_state(copy_)
    try:
        with torch.no_grad():
            first = copy_(*own_copy(args))
    except Exception as error:  # noqa: BLE001 - whatever eager raises is the learner's to see, in one line
        raise ValueError(f"{who}: the eager model fails on the example ({type(error).__name__}: "
                         f"{short_message(error, 150)}): fix the model, or pass an input it accepts") from None
    middle = python_state(copy_)
    try:
        with torch.no_grad():
            second = copy_(*own_copy(args))
    except Exception:  # noqa: BLE001 - a second call that fails says nothing more here
        return
    changed = state_changes(before, middle)
    if changed:
        print(f"⚠ {who}: the eager model changes its own state on each call ({', '.join(changed[:2])}): the file "
              "keeps what the export saw, fixed; compare it with eager, H.parity(model, copy, ...), before you ship")
    elif not _compare_outputs(first, second, 1e-5, 1e-6)[1]:
        print(f"⚠ {who}: two eager calls on the example gave two answers ({TWO_ANSWERS_CAUSES}): the file computes "
              "one of them; compare it with eager, H.parity(model, copy, ...), before you ship")


def refuse_training_mode(model, who):
    """A one-line ValueError for a model with layers in training mode (Dropout, BatchNorm, a forward of your own that
    reads ``self.training``): compiled or lowered so, the file would draw new dropout masks, use each batch's
    statistics, or keep the training-mode path, on every call."""
    from ..tools.parity import training_layers
    active = training_layers(model)
    if active:
        shown = ", ".join(active[:3]) + (", ..." if len(active) > 3 else "")
        raise ValueError(f"{who}: the model has layers in training mode ({shown}): call model.eval() first, or the "
                         "file would compute what the model does in training (random, per batch, or the path a "
                         "forward takes when self.training is True)")


def cached_aoti_package(model, example, dynamic_shapes=None, *, name="model", cache_dir=None):
    """The package already compiled for this model, example and torch, or None; compiles nothing."""
    _check_model(model, "cached_aoti_package")
    _check_name(name)
    key = aoti_cache_key(model, example, dynamic_shapes)
    target = _cached_target(name, key, cache_dir)[0]
    return _package(target, key, False, time.monotonic()) if target.is_file() else None


def _cached_target(name: str, key: str, cache_dir):
    """(the package's path, the folder to compile into): the first folder that holds it already, else the
    folder a new one goes to (``build/aoti``, or the learner's own cache when the repository is read-only)."""
    look, write = cache_folders(AOTI_CACHE_DIR, "aoti", cache_dir)
    candidates = (_target(name, key, folder) for folder in look)
    return next((path for path in candidates if path.is_file()), _target(name, key, write)), write


@contextmanager
def _lock(folder: Path):
    """One compile at a time per cache folder (two kernels asking for the same package take turns)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_with_progress(command, log_path: Path, estimate: float, progress: bool, label: str) -> int:
    """The compile in a child Python that imports this checkout's helpers, with the C++ builds' progress bar."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return _compile_with_progress(command, log_path, estimate, progress, f"{label} with AOTInductor",
                                  cwd=str(REPO_ROOT), env=env)


def _last_error(log_text: str) -> str:
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "error:" in line:
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


def _refuse_dynamic_number_shapes(model, args, dynamic_shapes):
    """The refusal of ``_refuse_dynamic_numbers``, read from the call before any export or cache lookup (a package
    compiled before the refusal existed stays in the cache under the same key): an int argument whose entry in
    ``dynamic_shapes`` (by position, or by forward's argument name) is not None (torch refuses a float there)."""
    if isinstance(dynamic_shapes, (tuple, list)):
        entries = list(enumerate(dynamic_shapes))
    elif isinstance(dynamic_shapes, dict):
        try:
            names = list(inspect.signature(model.forward).parameters)
        except (TypeError, ValueError, AttributeError):
            return
        entries = [(names.index(name), entry) for name, entry in dynamic_shapes.items() if name in names]
    else:
        return
    for i, entry in entries:
        if entry is not None and i < len(args) and _number_kind(args[i]) == "int":
            _raise_dynamic_number(i)


def _raise_dynamic_number(i):
    raise ValueError(f"aoti_package: input {i} is a number marked dynamic in dynamic_shapes; a package compiled from "
                     f"it with torch {torch.__version__.split('+')[0]} ignores the number it is called with (wrong "
                     "results, no error): leave it out of dynamic_shapes (None there), so the package computes for the "
                     "example's value and refuses others, one package per value")


def _refuse_dynamic_numbers(program):
    """A ValueError for a number argument marked dynamic (``Dim.DYNAMIC`` for an int): the package AOTInductor makes
    of it (torch 2.14) ignores the number it is called with and answers for none of them, with no error
    (tests/test_aoti.py shows it)."""
    for i, value in enumerate(user_input_values(program)):
        if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
            _raise_dynamic_number(i)


def aoti_package(model, example, dynamic_shapes=None, *, name="model", force=False, progress=True, quiet=False,
                 cache_dir=None, strict=False) -> AotiPackage:
    """Export ``model`` on ``example`` and compile it with AOTInductor, once; later calls reuse the package.

    ``example``: one tensor or a tuple of the model's positional arguments. ``dynamic_shapes`` and ``strict`` are
    passed to ``torch.export.export`` (e.g. ``({0: torch.export.Dim("batch")},)``; ``strict=True`` traces forward's
    bytecode, and takes some code the default refuses, as H.diagnose says when it does). ``name`` starts
    the cached file's name. ``force=True`` compiles again. Returns an ``AotiPackage`` (path-like).
    """
    if not isinstance(strict, bool):
        raise TypeError(f"aoti_package: strict is True or False, got {type(strict).__name__}")
    start = time.monotonic()
    _check_model(model, "aoti_package")
    _check_name(name)
    if example is None or not any(isinstance(v, torch.Tensor) for _, v in _flat_tensors(_as_args(example))):
        raise TypeError(f"aoti_package needs an example input to export with (a tensor, or a tuple of forward's "
                        f"arguments holding one), got {type(example).__name__}: e.g. H.aoti_package(model, "
                        "torch.randn(4, 3, 32, 32))")
    # an example laid out neither contiguous nor channels_last (a slice, a transpose) would make code that reads
    # memory in that one order, which no call could be checked against: it is compiled from a contiguous copy
    refuse_meta(example, "aoti_package")
    example = _plain_layout(example)
    args = _as_args(example)
    _refuse_dynamic_number_shapes(model, args, dynamic_shapes)
    # a strict export is another program: its own key (the default's keys stay as they were)
    key = aoti_cache_key(model, example, (dynamic_shapes, "strict") if strict else dynamic_shapes)
    target, cache_dir = _cached_target(name, key, cache_dir)
    if force:
        target = _target(name, key, cache_dir)  # compiled anew where this learner may write
    if target.is_file() and not force:
        package = _package(target, key, False, start)
        if not quiet:
            print(f"✔ using the cached package {repo_relative(target)} (compiled earlier in {package.compile_seconds:.0f} s)")
        return package
    with _lock(cache_dir):
        if target.is_file() and not force:
            return _package(target, key, False, start)
        refuse_what_eager_refuses(model, args, "aoti_package")
        from .export_bridge import quiet_export
        try:
            with quiet_export():
                # from copies: given one tensor for two arguments, (x, x), torch.export keeps both inputs but
                # computes with the second in place of both (tests/test_aoti.py shows it)
                program = torch.export.export(model, own_copy(args), dynamic_shapes=dynamic_shapes, strict=strict)
        except Exception as error:
            from .export_check import dim_conflict  # torch's suggested Dim, lines below its first
            conflict = dim_conflict(error, "the example", "give an example with 2 or more there")
            if conflict:  # a Dim the model contradicts: torch's fix, not H.diagnose (which exports without the Dims)
                raise AotiCompileError(f"torch.export failed before AOTInductor could start: {conflict}") from error
            raise AotiCompileError(f"torch.export failed before AOTInductor could start: {short_message(error)} "
                                   "(fix the export first: H.diagnose(model, example, routes=['export']) names the "
                                   "line and a way out, e.g. torch.cond for an if on the data, 09)") from error
        _refuse_dynamic_numbers(program)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
        try:
            exported = work / "exported.pt2"
            save_program(program, exported)
            timing = cache_dir / "compile_seconds.txt"
            try:
                estimate = float(timing.read_text())
            except (OSError, ValueError):
                estimate = _DEFAULT_SECONDS
            temporary = work / "package.pt2"
            log_path = cache_dir / f"last_compile_{name}.log"
            compile_start = time.monotonic()
            code = _run_with_progress([sys.executable, "-c", _CHILD, str(exported), str(temporary),
                                       *sorted(torch.ops.loaded_libraries)], log_path, estimate, progress, name)
            compile_seconds = time.monotonic() - compile_start
            if code != 0 or not temporary.is_file():
                log = log_path.read_text(errors="replace")
                unresolved = re.search(r"failed to resolve (torch\.ops\.[\w.]+)", log)
                if unresolved:  # an operator defined in this process only: by torch.library, in Python
                    raise AotiCompileError(
                        f"AOTInductor compiles in a separate Python process, where {unresolved.group(1)} is not "
                        "registered (an operator defined in Python, with torch.library, exists only in the process "
                        "that ran its definition): compile in this process, without the cache, with "
                        "torch._inductor.aoti_compile_and_package(torch.export.export(model, args)) "
                        f"— full log in {repo_relative(log_path)}")
                from ..tools.diagnose import export_hint  # a known cause's way out, as the diagnosis words it
                hint = export_hint(_last_error(log))
                raise AotiCompileError(f"AOTInductor failed (exit {code}): {_last_error(log)}"
                                       f"{f' ({hint})' if hint else ''} — full log in {repo_relative(log_path)}")
            os.replace(temporary, target)  # atomic: readers see no package or the whole package
            meta = {"compile_seconds": round(compile_seconds, 1), "torch": torch.__version__,
                    "model": f"{type(model).__module__}.{type(model).__qualname__}",
                    "example": [list(t.shape) for _, t in _flat_tensors(args) if isinstance(t, torch.Tensor)],
                    **input_record(program, args, model)}
            meta_tmp = work / "meta.json"
            meta_tmp.write_text(json.dumps(meta, indent=1))
            os.replace(meta_tmp, _meta_path(target))
            timing_tmp = work / "timing.txt"
            timing_tmp.write_text(f"{compile_seconds:.1f}")
            os.replace(timing_tmp, timing)
            # Other builds of the same name stay: another kernel may be using one (`make clean` empties build/)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    package = _package(target, key, True, start)
    if not quiet:
        print(f"✔ compiled {repo_relative(target)} in {package.compile_seconds:.0f} s")
    return package


# ---------------------------------------------------------------- loading

_load_lock = threading.Lock()


def load_aoti(path, *, scratch=None):
    """Load an AOTInductor package for calling from Python, leaving no ``aotinductor_*`` folder behind.

    ``scratch``: where the loader may unpack (default: a temporary folder); it is removed after loading.
    A ``.pt2`` written by ``torch.export.save`` is not a compiled package: the loader refuses it.
    A compiled package runs whatever it is given: a float64 or a wrongly sized input gives wrong numbers with
    no error. So a package made by ``aoti_package`` comes back wrapped: each call first compares the inputs'
    dtypes, fixed sizes and the ranges of its dynamic sizes (its ``Dim``s) with what it was exported for (kept
    beside it in its ``.json``) and raises a one-line ValueError on a mismatch. Torch's own switch for that,
    ``AOTI_RUNTIME_CHECK_INPUTS=1``, is left off: in this torch it also bounds the dynamic batch (to 2-15 for
    the digits CNN), refusing batches the compiled code computes right (10 shows it with the C++ program, which turns the switch on).
    """
    if not isinstance(path, (str, os.PathLike)):
        got = f"the class {path.__name__}" if isinstance(path, type) else type(path).__name__
        raise TypeError(f"load_aoti takes the path of a .pt2 package (or what H.aoti_package returned), got "
                        f"{got}: compile one first with H.aoti_package(model, example, ...)")
    path = Path(os.fspath(path))
    if path.suffix != ".pt2":
        raise ValueError(f"load_aoti takes a .pt2 package made by aoti_compile_and_package, got {path.name!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no package at {path}: build it with H.aoti_package(...) or `make aoti`")
    base = Path(scratch) if scratch is not None else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="aoti-load-", dir=base))
    with _load_lock:  # $TMPDIR is process-wide: one load at a time
        old = os.environ.get("TMPDIR")
        # Python's tempfile reads $TMPDIR once, at its first use, and keeps the answer: a first use inside the
        # load would keep the folder removed below. Settle it now, and put it back after.
        python_tmp = tempfile.gettempdir()
        os.environ["TMPDIR"] = str(folder)  # the C++ loader unpacks under $TMPDIR (read at each load)
        try:
            compiled = torch._inductor.aoti_load_package(str(path))
        except RuntimeError as error:
            if "Failed to find a generated cpp file or so file" in str(error):
                # what to do in the message, torch's own first line whole in a note: one line each, neither cut
                refused = ValueError(f"{path.name} holds no compiled code: it is a torch.export.save file. Load it "
                                     "with torch.export.load, or compile it with H.aoti_package(...)")
                refused.add_note(f"torch said: {short_message(error, 200)}")
                raise refused from None
            raise
        finally:
            if old is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old
            tempfile.tempdir = python_tmp
            shutil.rmtree(folder, ignore_errors=True)  # the library is mapped already; the files are not needed
    record = package_record(path)
    return (CheckedPackage(compiled, record.inputs, path.name, record.relations, record.structure)
            if record.inputs is not None else compiled)


def _argument_names(model) -> list:
    """forward's positional parameter names, in order (what torch's checks call L['x'])."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


@dataclass(frozen=True)
class PackageRecord:
    """What ``aoti_package`` recorded beside a package: ``inputs``, the input specs (see ``inputs_problem``; None for
    a package made elsewhere: nothing to check against), ``relations``, the size relations (``size_relations``), and
    ``structure``, the nesting of forward's arguments (a pytree spec as text, or None)."""
    inputs: object = None
    relations: tuple = ()
    structure: object = None


def input_record(program, args, model) -> dict:
    """What ``load_aoti`` checks each call of a package compiled from ``program`` against, for its ``.json``: the
    inputs' specs, the size relations between them, and the nesting of forward's arguments (dict keys in order: the
    compiled code takes them flat)."""
    return {"inputs": _with_layouts(_input_specs(program), args),
            "relations": size_relations(program, args, _argument_names(model)),
            "structure": torch.utils._pytree.treespec_dumps(torch.utils._pytree.tree_flatten(args)[1])}


def write_input_record(package_path, record: dict) -> None:
    """Put ``record`` (``input_record``) beside the package at ``package_path``, where ``load_aoti`` reads it."""
    atomic_write_text(_meta_path(Path(package_path)), json.dumps(record, indent=1))


def package_record(path) -> PackageRecord:
    """The record beside the package at ``path``, read once; an empty one when there is none or it cannot be read."""
    try:
        meta = json.loads(_meta_path(Path(path)).read_text())
    except (OSError, ValueError):
        return PackageRecord()
    if not isinstance(meta, dict):
        return PackageRecord()
    inputs, relations, structure = meta.get("inputs"), meta.get("relations"), meta.get("structure")
    return PackageRecord(inputs if isinstance(inputs, list) else None,
                         tuple(relations) if isinstance(relations, list) else (),
                         structure if isinstance(structure, str) else None)


def by_position(name: str, why: str, call: str, named) -> str:
    """The one-line refusal of named arguments by a compiled file that takes forward's arguments flat."""
    return (f"{name} takes forward's arguments by position, in forward's order ({why}): call it as {call}(x, ...), "
            f"not with {', '.join(f'{k}=' for k in named)}")


def is_fixed_number(spec) -> bool:
    """True for the spec of an argument that was a number (or a string) at export (fixed into the program's code)."""
    return isinstance(spec, dict) and "number" in spec


def _nesting_words(spec) -> str:
    """A pytree spec in a few words: ``tuple(dict('a', 'b'), leaf)``."""
    if spec.is_leaf():
        return "a value"
    if spec.type is dict:
        return "dict(" + ", ".join(repr(k) for k in spec.context) + ")"
    return f"{spec.type.__name__} of {spec.num_children}"


def fixed_number_children(children: list, specs: list) -> list:
    """For each argument of a recorded structure (its ``children``), (the index of its first input in ``specs``,
    whether it is a number fixed at export)."""
    starts = [sum(child.num_leaves for child in children[:i]) for i in range(len(children))]
    return [(start, child.is_leaf() and start < len(specs) and is_fixed_number(specs[start]))
            for child, start in zip(children, starts)]


def in_recorded_order(args: tuple, structure, name: str = "the package", specs=None) -> tuple:
    """``args`` with every dict rebuilt in the key order recorded in ``structure`` (see ``PackageRecord``).

    The compiled code takes its inputs flat, in the order the example's dicts held their keys; eager reads a dict by
    key. So another key order would silently feed each tensor to another input: reordered here. Another nesting
    (other keys, a list where a dict was) raises a one-line ValueError. No structure recorded: ``args`` as they are.
    With ``specs`` (``PackageRecord.inputs``), arguments that were numbers at export may be left out of ``args`` (the C++
    program takes tensors only)."""
    if not structure:
        return args
    pytree = torch.utils._pytree
    spec = pytree.treespec_loads(structure)

    def ordered(value, spec, where):
        if spec.is_leaf():
            if isinstance(value, (list, tuple, dict)):  # eager would refuse it; the flat code would take its leaves
                raise ValueError(f"{name}: {where} is {type(value).__name__}, compiled for one tensor or number there")
            return value
        if spec.type is dict:
            if not isinstance(value, dict) or set(value) != set(spec.context):
                got = (f"a dict with keys {', '.join(sorted(map(repr, value)))}" if isinstance(value, dict)
                       else f"{type(value).__name__}")
                raise ValueError(f"{name}: {where} is {got}, compiled for {_nesting_words(spec)}")
            return {k: ordered(value[k], child, f"{where}[{k!r}]") for k, child in zip(spec.context, spec.children())}
        if spec.type in (tuple, list) and isinstance(value, (tuple, list)) and len(value) == spec.num_children:
            return type(value)(ordered(v, child, f"{where}[{i}]")
                               for i, (v, child) in enumerate(zip(value, spec.children())))
        if spec.type in (tuple, list) and isinstance(value, (torch.Tensor, dict)):
            raise ValueError(f"{name}: {where} is {type(value).__name__}, compiled for {_nesting_words(spec)}")
        return value  # a NamedTuple or another container: torch's own flattening decides

    if spec.type is not tuple:
        return args
    children = spec.children()
    if len(args) != len(children) and specs is not None:  # numbers left out: pair the rest with the other arguments
        kept = [child for child, (_, fixed) in zip(children, fixed_number_children(children, specs)) if not fixed]
        children = kept if len(kept) == len(args) else children
    if len(args) != len(children):
        _tuple_for_arguments(args, children, name)
        return args  # another number of arguments: the checks after this one say so
    return tuple(ordered(value, child, f"input {i}") for i, (value, child) in enumerate(zip(args, children)))


def _tuple_for_arguments(args: tuple, children: list, name: str):
    """Raise where eager would: forward's arguments given as one tuple, or forward's one tuple given as arguments.
    The compiled code takes the same flat tensors either way, so without this it would answer as if called right."""
    container = lambda spec: not spec.is_leaf() and spec.type in (tuple, list)
    if (len(args) == 1 and type(args[0]) in (tuple, list) and len(args[0]) == len(children) > 1
            and not container(children[0])):
        raise TypeError(f"{name} takes {len(children)} arguments, got one {type(args[0]).__name__} of "
                        f"{len(children)}: a {type(args[0]).__name__} is one argument, as in eager; pass them one "
                        f"by one, run(a, b)")
    if len(children) == 1 and container(children[0]) and len(args) == children[0].num_children > 1:
        kind = children[0].type.__name__
        raise TypeError(f"{name} takes one argument, a {kind} of {len(args)}, got {len(args)} arguments: pass them "
                        f"as one {kind}, as in eager, run(({', '.join('abcdefgh'[:len(args)])}))")


INDEX_OUT_OF_RANGE = "an index is out of range (a token id the vocabulary does not hold?): "  # both runners say it


def compiled_index_hint(message: str) -> str:
    """"; an index is out of range ...: pass indices from 0 to N-1" for the compiled code's own bound check
    ("index out of bounds: 0 <= tmp2 < 10L"), "" for any other message: H.load_aoti and the C++ runner say the same."""
    bound = re.search(r"index out of bounds: 0 <= \w+ < (\d+)", message)
    return f"; {INDEX_OUT_OF_RANGE}pass indices from 0 to {int(bound.group(1)) - 1}" if bound else ""


class CheckedPackage:
    """A loaded AOTInductor package that refuses inputs of another dtype, fixed size or size range than it was
    exported for."""

    def __init__(self, compiled, specs: list, name: str, relations=(), structure=None):
        self._compiled, self._specs, self._name, self._relations = compiled, specs, name, list(relations)
        self._structure = structure

    def __call__(self, *args, **kwargs):
        if kwargs and self._structure:  # H.aoti_package exports forward's arguments by position: none has a name here
            raise TypeError(by_position(self._name, "the package was exported from positional ones and keeps no "
                                               "names", "compiled", kwargs))
        if not kwargs:  # a dict in another key order: put in the order the code was compiled for, as eager reads by key
            args = in_recorded_order(args, self._structure, self._name)
        leaves = torch.utils._pytree.tree_leaves((args, kwargs))
        problem = inputs_problem(leaves, self._specs) or relations_problem(leaves, self._relations)
        if problem:
            raise ValueError(f"{self._name}, {problem}")
        failure = None
        with native_stderr() as native:
            try:
                result = self._compiled(*args, **kwargs)
            except RuntimeError as error:  # the compiled code's own check: one line, not its C++ stack of frames
                failure = short_message(error, 200)
        if failure is not None:  # the runtime wrote the same error, with its stack, to stderr: the line says it
            hint = compiled_index_hint(failure)
            raise RuntimeError(f"{self._name}: the compiled model failed on this input: {failure}{hint}") from None
        if native.text:
            sys.stderr.write(native.text)  # anything else it wrote is passed on
        return result

    @property
    def unchecked(self):
        """torch's loaded package itself (``aoti_load_package``), called without these checks: to time the compiled
        code alone, as 10's decision guide does (a wrong input gives wrong numbers there, with no error)."""
        return self._compiled

    def __getattr__(self, attribute):
        return getattr(self._compiled, attribute)

    def __repr__(self):
        return f"<AOTInductor package {self._name}, inputs checked>"


# ---------------------------------------------------------------- size relations between inputs

_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
              ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}
_COMPARISONS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
                ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def _size_value(node, leaves):
    """The integer a size expression over ``T[i].size()[d]`` gives; ValueError for anything else (never eval)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_size_value(node.left, leaves), _size_value(node.right, leaves))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_size_value(node.operand, leaves)
    if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and type(node.slice.value) is int
            and isinstance(node.value, ast.Call) and not node.value.args and not node.value.keywords
            and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "size"
            and isinstance(node.value.func.value, ast.Subscript)
            and isinstance(node.value.func.value.value, ast.Name) and node.value.func.value.value.id == "T"
            and isinstance(node.value.func.value.slice, ast.Constant)):
        tensor = leaves[node.value.func.value.slice.value]
        return int(tensor.shape[node.slice.value])
    raise ValueError(f"not a size expression: {ast.dump(node)[:60]}")


@functools.lru_cache(maxsize=256)
def _parsed(text: str):
    """The syntax tree of a relation's text: parsed once, not on every call of the model."""
    return ast.parse(text, mode="eval").body


def _relation_holds(text: str, leaves):
    """(holds, the two sides' values) of one relation over T[i]'s sizes; (True, None) when it cannot be read."""
    try:
        node = _parsed(text)
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS):
            return True, None
        left, right = _size_value(node.left, leaves), _size_value(node.comparators[0], leaves)
    except (SyntaxError, ValueError, IndexError, AttributeError, TypeError, ZeroDivisionError):
        return True, None
    return _COMPARISONS[type(node.ops[0])](left, right), (left, right)


def size_relations(program, args, names) -> list:
    """The checks an exported program keeps on its inputs' sizes (``x.size()[0] == (y.size()[0] + 1) // 2``, or
    ``x.size()[1] % 2 == 0``, which Dim.AUTO can add), as [text over the flat inputs ``T[i]``, text over the argument
    names], for arguments that are tensors themselves; a rule that a size is not 0 or 1 is left to the range. Neither a compiled package nor a .pte checks these; a call that breaks one gives
    wrong numbers. Read from ``program._guards_code``, which torch keeps privately: [] when it is not there."""
    lines = getattr(program, "_guards_code", None)
    if not isinstance(lines, (list, tuple)):
        return []
    where = {}  # argument name -> its index among the flat inputs, for tensor arguments
    for i, (name, value) in enumerate(zip(names, args)):
        if isinstance(value, torch.Tensor):
            where[name] = len(torch.utils._pytree.tree_leaves(tuple(args[:i])))
    relations = []
    for line in lines:
        if not isinstance(line, str):
            continue
        named = re.findall(r"L\['(\w+)'\]", line)
        if not named or not all(n in where for n in named):
            continue
        if len(set(named)) == 1 and "!=" in line:  # a size that must not be 0 or 1 (0/1 specialization): the range
            continue                               # says that, and the compiled code may take it all the same
        flat = re.sub(r"L\['(\w+)'\]", lambda m: f"T[{where[m.group(1)]}]", line)
        if "L[" in flat:
            continue
        try:
            _parsed(flat)
        except SyntaxError:
            continue
        relations.append([flat, re.sub(r"L\['(\w+)'\]", r"\1", line)])
    return relations


def relations_problem(leaves, relations) -> str:
    """The first recorded size relation (``size_relations``) the call's flat inputs break, in words; ""."""
    for flat, named in relations or []:
        holds, _ = _relation_holds(flat, list(leaves))
        if not holds:
            sizes = dict.fromkeys(f"{name} = {int(leaves[int(i)].shape[int(d)])}" for name, (i, d) in zip(
                re.findall(r"\w+\.size\(\)\[\d+\]", named), re.findall(r"T\[(\d+)\]\.size\(\)\[(\d+)\]", flat)))
            what = "their sizes" if len(set(re.findall(r"T\[(\d+)\]", flat))) > 1 else "its sizes"
            return (f"the inputs break a rule on {what} that the program was exported with: {named} (here "
                    f"{', '.join(sizes)}): give sizes that keep it, as eager needs them")
    return ""


def inputs_problem(leaves, specs) -> str:
    """What is wrong with a call's flat inputs for a program exported as ``specs`` (see ``_input_specs``), or "":
    each input on its own, then sizes that are one dynamic size (one Dim) in the program but differ in the call.
    Neither a compiled package nor a .pte checks this itself: a mismatch gives wrong numbers, not an error."""
    if not isinstance(specs, list) or len(leaves) != len(specs):  # another count: the program's own error says it
        return ""
    for i, (value, spec) in enumerate(zip(leaves, specs)):
        problem = _input_problem(value, spec)
        if problem:
            return f"input {i}: {problem}"
    seen = {}  # symbol -> (input, dimension, size) where it was first met
    for i, (value, spec) in enumerate(zip(leaves, specs)):
        symbols = (spec.get("symbols") or []) if isinstance(spec, dict) else []
        for dim, symbol in enumerate(symbols):
            if symbol is None or dim >= value.dim():
                continue
            first = seen.setdefault(symbol, (i, dim, value.shape[dim]))
            if value.shape[dim] != first[2]:
                return (f"input {i} has size {value.shape[dim]} at dimension {dim}, input {first[0]} has size "
                        f"{first[2]} at dimension {first[1]}: the program was exported with one Dim for both, so "
                        "they must be equal")
    for i, (value, spec) in enumerate(zip(leaves, specs)):
        derived = (spec.get("derived") or []) if isinstance(spec, dict) else []
        for dim, form in enumerate(derived):
            if not form or dim >= value.dim():
                continue
            symbol, scale, offset = form
            size = int(value.shape[dim])
            if symbol not in seen:  # the Dim itself is no input's size: the first size derived from it fixes it
                if scale and (size - offset) % scale == 0:
                    seen[symbol] = (i, dim, (size - offset) // scale, form)
                    continue
                return (f"input {i} has size {size} at dimension {dim}, but the program was exported with that size "
                        f"as {_derived_text(form, 'a whole number')}")
            first = seen[symbol]
            want = scale * first[2] + offset
            if size == want:
                continue
            if len(first) == 3:  # the Dim is input first[0]'s size itself
                base = f"input {first[0]}'s size at dimension {first[1]}"
                tie = f"{_derived_text(form, base)} (here {_derived_text(form, str(first[2]))})"
            else:  # both sizes are derived from one Dim that no input has as its size
                tie = (f"{_derived_text(form, 'd')}, where input {first[0]}'s size at dimension {first[1]} is "
                       f"{_derived_text(first[3], 'd')} (so d = {first[2]})")
            return (f"input {i} has size {size} at dimension {dim}, but the program was exported with that size as "
                    f"{tie}: it must be {want}")
    return ""


def _number_kind(value) -> str:
    """"bool", "int", "float" or the type's name: NumPy's scalars count as the Python number they stand for."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return type(value).__name__


def _input_problem(value, spec) -> str:
    """What is wrong with ``value`` for an input compiled as ``spec`` ({dtype, shape with None = dynamic}); ""."""
    if not isinstance(spec, dict):
        return ""
    if is_fixed_number(spec):  # the compiled code holds this number as a constant: another would be ignored, silently
        number = spec["number"]
        kind, wanted = _number_kind(value), _number_kind(number)
        if isinstance(value, torch.Tensor) or (kind == "bool") != (wanted == "bool") or value != number:
            return (f"{value!r}, but the program was exported with {number!r} there, fixed into its code: it computes "
                    f"for {number!r} only (export another program for {value!r})")
        if kind != wanted:  # 3.0 for 3: equal, but eager computes with a float
            return (f"{value!r} ({kind}), but the program was exported with {number!r} ({wanted}) there, fixed into "
                    f"its code: pass {number!r}")
        return ""
    if not isinstance(value, torch.Tensor):
        return f"got {type(value).__name__}, compiled for a tensor"
    dtype, shape = spec.get("dtype"), spec.get("shape") or []
    if dtype and str(value.dtype).replace("torch.", "") != dtype:
        return f"dtype {value.dtype}, compiled for torch.{dtype} (convert it, e.g. x.to(torch.{dtype}))"
    if value.dim() != len(shape):
        return f"{value.dim()} dimensions {tuple(value.shape)}, compiled for {len(shape)}"
    for dim, (size, want) in enumerate(zip(value.shape, shape)):
        if want is not None and size != want:
            wanted = "(" + ", ".join("any" if w is None else str(w) for w in shape) + ")"
            return f"size {size} at dimension {dim}, compiled for {want}: shape {tuple(value.shape)}, expected {wanted}"
    layout = layout_problem(value, spec.get("layout"))
    if layout:
        return layout
    ranges = spec.get("ranges") or []  # packages built before ranges were recorded have none
    for dim, (size, allowed) in enumerate(zip(value.shape, ranges)):
        if allowed and not (allowed[0] <= size and (allowed[1] is None or size <= allowed[1])):
            upper = "any size" if allowed[1] is None else str(allowed[1])
            return (f"size {size} at dimension {dim}, outside the range it was exported for ({allowed[0]} to "
                    f"{upper}): export it again with a Dim that includes {size}")
    return ""


def user_input_values(program) -> list:
    """The example value (a fake tensor, or a number) of each user input of an ``ExportedProgram``, in order."""
    from torch.export.graph_signature import ConstantArgument, InputKind
    values = {node.name: node.meta.get("val") for node in program.graph.nodes if node.op == "placeholder"}
    # a number or a string passed at export is a constant argument, not a placeholder: it was fixed into the program
    # (user_inputs lists the constant itself, so a string there cannot be told from a placeholder's name)
    return [spec.arg.value if isinstance(spec.arg, ConstantArgument) else values.get(spec.arg.name)
            for spec in program.graph_signature.input_specs if spec.kind == InputKind.USER_INPUT]


def size_range(program, size):
    """[lowest, highest or None] that ``program`` was exported for at a dynamic ``size``; None if unknown."""
    try:
        return size_range_of(program, size.node.expr)
    except AttributeError:
        return None


def size_range_of(program, symbol):
    """[lowest, highest or None] of ``program.range_constraints[symbol]``; None if it has no such entry."""
    try:
        allowed = program.range_constraints[symbol]
    except (KeyError, TypeError):
        return None
    bounds = []
    for bound in (allowed.lower, allowed.upper):
        try:
            bounds.append(int(bound))
        except (TypeError, ValueError, OverflowError, AttributeError):  # infinity: no bound on that side
            bounds.append(None)
    return [bounds[0] if bounds[0] is not None else 0, bounds[1]]


def _plain_symbol(size):
    """A dynamic size's symbol name (``s77``) when it is a symbol alone, else None (``2*s77`` is derived)."""
    text = str(getattr(getattr(size, "node", None), "expr", ""))
    return text if text.isidentifier() else None


def _derived(size):
    """[symbol, scale, offset] when a dynamic size is scale * symbol + offset of one symbol (a derived Dim such as
    ``2 * t`` or ``t + 1``), else None."""
    expr = getattr(getattr(size, "node", None), "expr", None)
    try:
        (symbol,) = expr.free_symbols
        scale, offset = expr.coeff(symbol), expr.subs(symbol, 0)
        if (expr - (scale * symbol + offset)).expand() != 0 or str(expr) == str(symbol):
            return None
        return [str(symbol), int(scale), int(offset)]
    except (AttributeError, TypeError, ValueError):  # a fixed size, several symbols, or a non-integer form
        return None


def _derived_range(program, derived):
    """The range a derived size takes over its symbol's exported range: [lowest, highest or None]; None if unknown."""
    symbol, scale, offset = derived
    bounds = next((size_range_of(program, key) for key in program.range_constraints if str(key) == symbol), None)
    if bounds is None or scale <= 0:
        return None
    return [scale * bounds[0] + offset, None if bounds[1] is None else scale * bounds[1] + offset]


def _derived_text(derived, base) -> str:
    """``2 × base + 1``: a derived size's form, with ``base`` standing for its Dim."""
    _, scale, offset = derived
    text = f"{scale} × {base}" if scale != 1 else base
    return text + (f" + {offset}" if offset > 0 else f" - {-offset}" if offset < 0 else "")


def _input_specs(program) -> list:
    """Each user input of ``program``: its dtype, sizes (None where the size is dynamic) and each dynamic size's
    exported range (``ranges``: [lowest, highest or None], None for a fixed size); None for a non-tensor."""
    specs = []
    for value in user_input_values(program):
        if isinstance(value, torch.Tensor):
            specs.append({"dtype": str(value.dtype).replace("torch.", ""),
                          "shape": [size if isinstance(size, int) else None for size in value.shape],
                          "ranges": [None if isinstance(size, int) else size_range(program, size)
                                     or (_derived(size) and _derived_range(program, _derived(size)))
                                     for size in value.shape],
                          # sizes derived from a Dim (2 * t): [symbol, scale, offset], checked against that Dim
                          "derived": [None if isinstance(size, int) else _derived(size) for size in value.shape],
                          # the dynamic sizes' symbols: inputs that share one (one Dim) must agree on it
                          "symbols": [None if isinstance(size, int) else _plain_symbol(size) for size in value.shape]})
        elif type(value) in (int, float, bool, str):  # a number or a string: fixed into the compiled code at export
            specs.append({"number": value})
        else:
            specs.append(None)
    return specs


def _with_layouts(specs, args) -> list:
    """``specs`` with each tensor input's memory layout in the example (``layout``), read from ``args`` in the order
    torch.export flattens them; unchanged when the counts differ."""
    leaves = torch.utils._pytree.tree_leaves(args)
    if len(leaves) == len(specs):
        for spec, value in zip(specs, leaves):
            if isinstance(spec, dict) and isinstance(value, torch.Tensor):
                spec["layout"] = memory_layout(value)
    return specs


def _compile_main(exported: str, output: str, *libraries: str) -> None:
    """Run in a child process: load an exported program and compile it to ``output``, after loading the operator
    libraries the parent had loaded (``torch.ops.load_library``), so that their custom operators resolve."""
    drop_no_cuda_notice()
    for library in libraries:
        try:
            torch.ops.load_library(library)
        except (OSError, RuntimeError):  # one the program does not use may need what only its package sets up
            pass
    program = torch.export.load(exported)
    torch._inductor.aoti_compile_and_package(program, package_path=output)


_CHILD = "import sys; from helpers.routes.aoti import _compile_main; _compile_main(*sys.argv[1:])"
