"""Run the workbook's C++ programs with no Python in them, and compare with Python (introduced in 05_save_and_load).

``H.run_cpp(model_path, *inputs)`` runs ``cpp/load_ts`` on a TorchScript file and returns what
forward returned (a tensor, tuple, list, dict, nested), read back from the program's output file;
``libraries=[...]`` makes it load operator libraries first. ``H.time_cpp`` also returns the
program's own timings, and ``H.time_fresh_python`` times a new Python process doing the same job
step for step (same files, same thread count, same empty environment), so the two compare like for
like. ``H.run_aoti_cpp`` / ``H.time_aoti_cpp`` do the same for an AOTInductor package with
``cpp/aoti_run``, and ``H.run_main_cpp`` runs the starters for a C++ service, ``cpp/main.cpp``
and ``cpp/aoti_main.cpp``.
Every program runs with an empty environment: no PYTHONPATH, no LD_LIBRARY_PATH; the rpath
recorded at build time finds LibTorch. Building and caching: ``cpp_build.py``; the files: ``cpp_io.py``.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.utils._pytree as pytree

from .archive import TorchScriptFileError, check_torchscript_file, torch_load_failure
from .cpp_build import build_cpp, cached_cpp_binary  # noqa: F401  (cached_cpp_binary: older code imports it here)
from .cpp_io import CppInputError, read_value_file, write_value_file
from ..course.failures import as_sentence, short_message
from ..course.guards import numpy_part, refuse_meta, with_article

__all__ = ["ProgramRun", "run_cpp", "time_cpp", "time_fresh_python", "PYTHON_TWIN", "run_aoti_cpp", "time_aoti_cpp",
           "run_main_cpp", "AotiPackageError"]


class AotiPackageError(ValueError):
    """The file given to the AOTI runner is not an AOTInductor package (e.g. a torch.export.save file)."""


@dataclass(frozen=True)
class ProgramRun:
    """One run of a C++ program (or of its Python twin): the ``output`` and the measurements.

    ``output`` is what the model returned (tensor, tuple, list, dict, nested). ``load_ms``: loading
    the model file; ``run_ms``: median time of one forward call over ``runs`` calls on ``threads``
    threads; ``first_ms``: the first of those calls (slower: TorchScript's profiling executor records
    and optimises during the first calls); ``work_ms``: everything the program did once it was
    running (C++: all of ``main``; Python: everything after ``import torch``); ``wall_s``: the whole
    process, measured from outside. The difference, :attr:`startup_s`, is what happened before the work began.
    """
    program: str
    output: Any
    load_ms: float
    run_ms: float
    runs: int
    threads: int
    work_ms: float
    wall_s: float
    first_ms: float = float("nan")

    @property
    def startup_s(self) -> float:
        """Seconds before the program's first step: starting the process and loading the libraries (and, for
        Python, the interpreter and ``import torch``)."""
        return max(self.wall_s - self.work_ms / 1000, 0.0)

    def __str__(self):
        return (f"{self.program}: start-up {self.startup_s:.2f} s · load {self.load_ms:.1f} ms · one forward "
                f"{self.run_ms:.3f} ms (median of {self.runs}, {self.threads} thread{'s' * (self.threads != 1)}) · "
                f"whole process {self.wall_s:.2f} s{self.few_calls_note}")

    @property
    def few_calls_note(self) -> str:
        """A caveat when the median may be one of the first, optimising calls: fewer than FEW_CALLS calls."""
        if self.runs >= FEW_CALLS:
            return ""
        # an AOTInductor package was compiled ahead of time: no profiling executor, only cold first calls
        why = ("a program's first calls are often slower (memory allocated, caches cold)" if "AOTI" in self.program
               else "TorchScript optimises a model during its first calls")
        return (f" · ⚠ only {self.runs} call{'s' * (self.runs != 1)}: {why}, so this median may be one of them "
                f"(repeats={FEW_CALLS} or more gives the steady figure)")


FEW_CALLS = 20  # the course's default: a median of 20 calls lies past the first, optimising ones


_OK_LINE = re.compile(r"^ok shape=(\S*)((?: \w+=\S+)+)\s*$", re.MULTILINE)

# What cpp/load_ts.cpp does, in Python, step for step: the same files, the same timings.
PYTHON_TWIN = r'''
import sys, time
import torch                                          # interpreter start and this import are the start-up

def main(model_path, input_path, output_path, repeats, threads, *libraries):
    main_start = time.perf_counter()
    torch.set_num_threads(int(threads))
    for library in libraries:
        torch.ops.load_library(library)               # registers the operators the model calls
    start = time.perf_counter()
    try:
        model = torch.jit.load(model_path, map_location="cpu")
    except Exception as error:  # the C++ program's exit code 3, with the same wording
        print(f"load_ts.py: error: {model_path} is not a TorchScript file this torch can load: "
              f"{str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(3)
    model.eval()
    load_ms = (time.perf_counter() - start) * 1000
    inputs = torch.load(input_path)                   # the tuple of forward's arguments
    times = []
    with torch.inference_mode():
        for _ in range(int(repeats)):
            start = time.perf_counter()
            y = model(*inputs)
            times.append((time.perf_counter() - start) * 1000)
    torch.save(y, output_path)
    first = times[0]
    times.sort()
    print("ok shape=%s load_ms=%f run_ms=%f first_ms=%f runs=%s threads=%d work_ms=%f" % (
        "x".join(map(str, y.shape)) if isinstance(y, torch.Tensor) else type(y).__name__, load_ms,
        times[len(times) // 2], first, repeats, torch.get_num_threads(), (time.perf_counter() - main_start) * 1000))

main(*sys.argv[1:])
'''


def _as_arguments(inputs) -> tuple:
    """A tuple is forward's arguments; anything else (a tensor, a list, a dict) is its one argument."""
    return inputs if isinstance(inputs, tuple) else (inputs,)


def _check_model_path(model_path, who, what="a saved TorchScript file", how="torch.jit.save(model, WORK / 'model.pt')"):
    if not isinstance(model_path, (str, os.PathLike)):  # os.PathLike: also a package or build object with a path
        got = f"the class {model_path.__name__}" if isinstance(model_path, type) else type(model_path).__name__
        raise TypeError(f"{who} takes the path of {what}, got {got}: save the model first with {how}")
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise FileNotFoundError(f"no file at {model_path}: save the model first with {how}")
    return model_path


def _check_counts(repeats, threads):
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a whole number of at least 1, got {repeats!r}")
    if threads is None:
        threads = torch.get_num_threads()  # the same as this Python process, so the comparison is fair
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a whole number of at least 1 (or None for this process's "
                         f"torch.get_num_threads()), got {threads!r}")
    return threads


def _check_libraries(libraries) -> list:
    if isinstance(libraries, (str, os.PathLike)):
        libraries = [libraries]
    paths = []
    for library in libraries:
        if not isinstance(library, (str, os.PathLike)):
            raise TypeError(f"libraries takes paths of shared libraries (.so), got {type(library).__name__}")
        path = Path(library).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no operator library at {path}: build it first, e.g. H.custom_op_library()")
        paths.append(str(path))
    return paths


def _check_binary(binary) -> Path:
    """``binary=`` as a Path to an existing program; a one-line error otherwise (subprocess would say Errno 2)."""
    if not isinstance(binary, (str, os.PathLike)):
        raise TypeError(f"binary= is the path of a built C++ program, got {type(binary).__name__}")
    path = Path(binary)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise FileNotFoundError(f"binary={str(path)!r} is not a program that can run here: leave binary= out to "
                                "use the course's (built once, or by make cpp), or pass H.cached_cpp_binary()")
    return path


def _check_inputs(inputs, who) -> tuple:
    arguments = _as_arguments(inputs)
    if not arguments:
        raise CppInputError(f"{who} needs the model's inputs after the path, e.g. {who}(path, x)")
    refuse_meta(arguments, who)
    return arguments


_SCALAR_TYPES = {0: "Byte", 1: "Char", 2: "Short", 3: "Int", 4: "Long", 5: "Half", 6: "Float", 7: "Double",
                 11: "Bool", 15: "BFloat16"}  # c10::ScalarType's numbers, as torch's C++ checks print them


def _archive_kind(path) -> str:
    """"aoti", "torchscript" or "export" for a zip that AOTInductor, torch.jit.save or torch.export.save wrote,
    else ""."""
    from .export_bridge import archive_names
    try:
        names = archive_names(path, top_folder=False)
    except Exception:  # not a zip, or unreadable: nothing to say about who wrote it
        return ""
    if any("data/aotinductor/" in n for n in names):  # AOTInductor's compiled model
        return "aoti"
    if any(n.startswith("code/") for n in names):
        return "torchscript"
    if any(n.endswith("models/model.json") for n in names):
        return "export"
    return ""


def _failure(program, code, stderr, model_path, kind):
    last = (stderr.strip().splitlines() or ["(no message)"])[-1]
    message = short_message(re.sub(r"^[\w.]+: error: ", "", last), limit=10 ** 6)
    if code == 3 and kind == "aoti":
        reason = message.split("as an AOTInductor package: ", 1)[-1].rstrip(". ")
        unknown = re.search(r"Could not find schema for (\S+)", reason)
        if unknown:  # the compiled code calls an operator that no library loaded so far registered
            return RuntimeError(f"the {program} program cannot load {model_path.name}: the compiled model calls the "
                                f"operator {unknown.group(1)}, which no loaded library registers: pass "
                                "libraries=[path of its .so]")
        if "Failed to find a generated cpp file" not in reason:  # e.g. a library missing on this machine
            return RuntimeError(f"the {program} program cannot load {model_path.name}: {reason}")
        made_by = {"torchscript": "it is a TorchScript file (torch.jit.save), which H.run_cpp runs",
                   "export": "torch.export.save writes a graph, not compiled code"}.get(_archive_kind(model_path),
                                                                                      "it holds no compiled model")
        return AotiPackageError(f"the {program} program cannot load {model_path.name}, it is not an AOTInductor package "
                                f"({reason}): {made_by}; compile one with torch._inductor.aoti_compile_and_package")
    if code == 3 and "Unknown builtin op" in message:
        reason = message.split("can load: ", 1)[-1].rstrip(". ")
        if "torchvision::" in reason:  # the pip wheel's library is built against Python torch, not bare LibTorch
            return RuntimeError(f"the {program} program cannot load {model_path.name}: {as_sentence(reason)} The "
                                "model calls torchvision's C++ operators; the library in torchvision's pip wheel links "
                                "against torch's Python library (libtorch_python.so) and finds torch's libraries only "
                                "through Python, so a LibTorch program needs torchvision built from source against "
                                "LibTorch (its CMake build), passed as libraries=[path of that .so]")
        return RuntimeError(f"the {program} program cannot load {model_path.name}: {as_sentence(reason)} The model calls an "
                            "operator from a library: pass libraries=[path of its .so]")
    if code == 3:
        try:  # the Python-side checks say what the file is: damaged, cut short, a checkpoint, a .pt2, a newer torch's ...
            check_torchscript_file(model_path, "run_cpp")
        except (TorchScriptFileError, OSError) as error:
            return TorchScriptFileError(f"the {program} program cannot load {model_path.name}: {error}")
        if "supported" in message and "version" in message:
            return TorchScriptFileError(f"the {program} program cannot load it: {torch_load_failure(model_path, message)}")
    if code == 3:
        reason = message.split("can load: ", 1)[-1].rstrip(". ")
        pt2 = (" A .pt2 is torch.export's or AOTInductor's: an AOTInductor package runs in C++ with "
               "H.run_aoti_cpp (10)." if model_path.suffix == ".pt2" else "")
        return TorchScriptFileError(f"the {program} program cannot load {model_path.name}, it is not a "
                                    f"TorchScript archive ({reason}): save the model with torch.jit.save, and "
                                    f"H.load_torchscript(path) tells you what the file is instead.{pt2}")
    # torch's C++ checks name a dtype by its number ("expected: 6(at::kFloat), but got: 7"): name it
    message = re.sub(r"(expected: \d+\(at::k\w+\), but got: )(\d+)\b(?!\()", lambda m: f"{m.group(1)}{m.group(2)}(at::k"
                     f"{_SCALAR_TYPES.get(int(m.group(2)), '?')})", message)
    count = re.search(r"expected inputs vector size to be (\d+), but got (\d+)", message)
    if kind == "aoti" and count:
        message += (f" (the package takes {count.group(1)} tensor{'s' * (count.group(1) != '1')}, forward's arguments "
                    "flattened in order: a tuple or list given as one argument counts each tensor in it)")
    if kind == "aoti" and re.search(r"expected it to be >= 2", message):
        message += (" (the package's compiled checks hold each dynamic size at 2 or more: torch.export keeps the sizes "
                    "0 and 1 apart, as 10's section 1 shows; pass at least 2 there, or compile a package for that size)")
    if kind != "aoti" and re.search(r"Expected a value of type 'Tensor' for argument '\w+' but instead found type 'List\[", message):
        message += (" (a list given where forward takes tensors: forward's arguments go one by one, run_cpp(path, a, b), "
                    "or as a tuple, time_cpp(path, (a, b)); a list stays a list argument)")
    if kind == "aoti":  # the compiled code's own bound check: say what it means, as H.load_aoti does
        from .aoti import compiled_index_hint
        message += compiled_index_hint(message)
    upper = re.search(r"expected (?:it )?to be <= (\d+)", message)
    if kind == "aoti" and upper:
        message += _upper_bound_hint(model_path, message, int(upper.group(1)))
    return RuntimeError(f"the {program} program failed (exit {code}): {message}")


def _upper_bound_hint(package, message, bound) -> str:
    """Why the package's compiled checks refuse sizes above ``bound``, and what helps: a larger Dim max only when the
    bound is the Dim's own; one torch derived when compiling (below the range H.aoti_package recorded) needs another
    example."""
    from .aoti import package_record  # H.aoti_package records each input's Dim ranges beside the package
    where = re.search(r"input_handles\[(\d+)\]: dim value is too large at (\d+)", message)
    recorded = None
    try:
        recorded = package_record(package).inputs[int(where.group(1))]["ranges"][int(where.group(2))] if where else None
    except (KeyError, IndexError, TypeError):  # no record, or one without this input's ranges
        pass
    if recorded and recorded[1] > bound:
        return (f" (the package was exported for {recorded[0]} to {recorded[1]} there, but torch derived a bound of "
                f"{bound} when it compiled, written in its wrapper.cpp: a larger Dim max changes nothing. 10's section 3 "
                "shows one: a convolution's kernel choice, taken for the example's batch; an example of 16 lifted it, and "
                f"raised the lower bound to 16. Pass at most {bound} there, compile from another example, or ship one "
                "package per range of sizes)")
    if recorded:
        return (f" (the package's compiled checks hold this size at {bound} or less, the Dim's max it was exported "
                f"with: pass at most {bound} there, or compile a package with a larger max)")
    return (f" (the package's compiled checks hold this size at {bound} or less: the Dim's max, or a bound torch "
            "derived for this model when it was compiled, written in the package's wrapper.cpp; pass at most "
            f"{bound} there; a larger max helps only in the first case, another example in the second, as 10's "
            "section 3 shows)")


def _within(program, timeout, argv, **options):
    """``subprocess.run(argv, **options)``, stopped after ``timeout`` seconds with a one-line TimeoutError."""
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout= is a number of seconds above 0, got {timeout!r}")
    try:
        return subprocess.run(argv, timeout=timeout, **options)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"the {program} program did not finish within {timeout:g} s (a loop that never ends on "
                           "this input?): pass a larger timeout= if it needs longer") from None


def _run_program(program, command, model_path, arguments, timeout, kind="ts"):
    """Write the inputs, run ``command(inputs, output)`` with an empty environment, read the output back."""
    with tempfile.TemporaryDirectory(prefix="cpp-run-") as scratch:
        inp, out = Path(scratch) / "inputs.pt", Path(scratch) / "output.pt"
        write_value_file(inp, arguments)
        start = time.perf_counter()
        # env={}: nothing from this Python process leaks in (no PYTHONPATH, no LD_LIBRARY_PATH); the
        # binary finds libtorch through its rpath, and libtorch finds its own dependencies through its rpath.
        done = _within(program, timeout, command(inp, out), env={}, cwd=scratch, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            error = _failure(program, done.returncode, done.stderr, model_path, kind)
            if "Tuple" in str(error) and any(type(a) is tuple for a in arguments):  # (x, mask) given as one argument
                error = type(error)(f"{error} (a tuple is one argument: pass forward's arguments one by one, "
                                    "H.run_cpp(path, a, b))")
            raise error
        match = _OK_LINE.search(done.stdout)
        if match is None:
            raise RuntimeError(f"the {program} program printed something unexpected: {done.stdout.strip()[:200]!r}")
        output = read_value_file(out)
    fields = dict(item.split("=", 1) for item in match.group(2).split())
    run = ProgramRun(program, output, float(fields["load_ms"]), float(fields["run_ms"]), int(fields["runs"]),
                     int(fields["threads"]), float(fields["work_ms"]), wall, float(fields.get("first_ms", "nan")))
    return run, done.stdout


def time_cpp(model_path, inputs, repeats: int = 20, *, threads=None, libraries=(), binary=None,
             timeout: float = 120) -> ProgramRun:
    """Run the C++ program on ``model_path`` with ``inputs`` (forward called ``repeats`` times).

    ``inputs``: one tensor, or a tuple of forward's arguments (tensors of any dtype, lists, dicts,
    numbers). ``threads`` defaults to this process's ``torch.get_num_threads()``, so C++ computes
    like Python here. ``libraries``: operator libraries (.so) to load before the model.
    ``output`` is what the last of the ``repeats`` calls returned: for a model that keeps state between calls (a
    counter), compare it with Python's answer after as many calls, or use ``run_cpp`` (one call).
    """
    model_path = _check_model_path(model_path, "time_cpp")
    threads = _check_counts(repeats, threads)
    libraries, arguments = _check_libraries(libraries), _check_inputs(inputs, "time_cpp")
    binary = _check_binary(binary) if binary is not None else build_cpp(quiet=True).path
    extra = [flag for library in libraries for flag in ("--load-library", library)]
    return _run_program("C++", lambda inp, out: [str(binary), str(model_path), str(inp), str(out), str(repeats),
                                                 str(threads), *extra], model_path, arguments, timeout)[0]


def time_fresh_python(model_path, inputs, repeats: int = 20, *, threads=None, libraries=(),
                      timeout: float = 300) -> ProgramRun:
    """A new Python process doing what the C++ program does (:data:`PYTHON_TWIN`), timed the same way.

    Same steps (load the file, read the input file, ``repeats`` forward calls, write the output file),
    same thread count (default: this process's), same empty environment: only the language differs.
    """
    model_path = _check_model_path(model_path, "time_fresh_python")
    threads = _check_counts(repeats, threads)
    libraries, arguments = _check_libraries(libraries), _check_inputs(inputs, "time_fresh_python")
    return _run_program("Python", lambda inp, out: [sys.executable, "-c", PYTHON_TWIN, str(model_path), str(inp),
                                                    str(out), str(repeats), str(threads), *libraries],
                        model_path, arguments, timeout)[0]


def run_cpp(model_path, *inputs, libraries=(), binary=None, timeout: float = 120):
    """What the TorchScript file at ``model_path`` returns for ``inputs``, computed by the C++ program.

    ``H.run_cpp(path, x)``, ``H.run_cpp(path, x, lengths)``, ``H.run_cpp(path, [a, b])`` (one list argument);
    ``libraries=[H.custom_op_library()]`` loads operator libraries first. The program calls ``model.eval()``
    after loading, as a deployed model runs: a scripted file saved in training mode (dropout on) answers here as in
    eval mode, unlike ``torch.jit.load(path)(x)`` in Python. A traced file keeps the mode it was traced in whatever
    ``eval()`` says: tracing wrote dropout's training flag into the graph as a constant (03).
    """
    model_path = _check_model_path(model_path, "run_cpp")
    _check_inputs(tuple(inputs), "run_cpp")  # named after the call the learner made
    return time_cpp(model_path, tuple(inputs), repeats=1, libraries=libraries, binary=binary, timeout=timeout).output


# ------------------------------------------------------------------ AOTInductor packages

# what an AOTInductor package is, and how one is made, for the messages about a wrong path
_AOTI_PACKAGE = ("an AOTInductor package (.pt2)", "torch._inductor.aoti_compile_and_package(exported, package_path=...)")


def time_aoti_cpp(package_path, inputs, repeats: int = 20, *, threads=None, libraries=(), binary=None,
                  timeout: float = 120) -> ProgramRun:
    """Run ``cpp/aoti_run`` on an AOTInductor package: ``output`` is nested as the exported model returns it.

    ``inputs``: one tensor or a tuple of forward's arguments; nested lists/tuples/dicts of tensors are
    flattened in the order torch.export uses, since the compiled model takes a flat list of tensors.
    ``libraries``: operator libraries (.so) to load before the package, for a model that calls a custom operator.
    """
    return _time_aoti_cpp(package_path, inputs, repeats, threads, binary, timeout, "time_aoti_cpp", libraries)


def _time_aoti_cpp(package_path, inputs, repeats, threads, binary, timeout, who, libraries=()) -> ProgramRun:
    """``time_aoti_cpp``; ``who`` is the function the learner called, which the messages on its arguments name."""
    package_path = _check_model_path(package_path, who, *_AOTI_PACKAGE)
    threads = _check_counts(repeats, threads)
    libraries = _check_libraries(libraries)
    from .aoti import in_recorded_order, inputs_problem, is_fixed_number, package_record, relations_problem
    record = package_record(package_path)
    specs = record.inputs
    # dicts in the key order the code was compiled for (it takes its inputs flat): as eager, which reads by key
    arguments = in_recorded_order(_check_inputs(inputs, who), record.structure, Path(package_path).name,
                                  specs)
    leaves = pytree.tree_leaves(arguments)
    numbers = [spec["number"] for spec in specs or [] if is_fixed_number(spec)]
    odd = next((leaf for leaf in leaves if not isinstance(leaf, torch.Tensor)), None)
    if odd is not None and numpy_part(odd) is odd:
        raise CppInputError(f"an AOTI model takes tensors, not NumPy arrays: convert with torch.from_numpy(array) "
                            f"(got {with_article(type(odd).__name__)})")
    whole = bool(specs) and bool(numbers) and len(leaves) == len(specs)  # the model's own call, numbers included
    if odd is not None and not whole:
        fixed = f" (this package's with {', '.join(map(repr, numbers))})" if numbers else ""
        raise CppInputError(f"an AOTI model takes tensors only, but the inputs hold {with_article(type(odd).__name__)}, "
                            f"{odd!r}: numbers and strings were fixed into the compiled code when it was exported{fixed}; leave "
                            "them out of the call, or pass the model's own call with the package's values")
    # what H.load_aoti checks, in words, before C++'s own checks (which miss the relations)
    if whole:  # as H.load_aoti takes them: each number checked against the one compiled in, then left out for C++
        problem = inputs_problem(list(leaves), specs) or relations_problem(list(leaves), record.relations)
        leaves = [leaf for leaf, spec in zip(leaves, specs) if not is_fixed_number(spec)]
    else:
        if specs and numbers and len(leaves) == len(specs) - len(numbers):  # the numbers left out, as C++ takes them
            specs = [spec for spec in specs if not is_fixed_number(spec)]
        problem = inputs_problem(list(leaves), specs) or relations_problem(list(leaves), record.relations)
    if problem:
        raise CppInputError(f"{Path(package_path).name}, {problem}")
    binary = _check_binary(binary) if binary is not None else build_cpp(program="aoti_run", quiet=True).path
    extra = [flag for library in libraries for flag in ("--load-library", library)]
    run, stdout = _run_program("C++ AOTI", lambda inp, out: [str(binary), str(package_path), str(inp), str(out),
                                                             str(repeats), str(threads), *extra],
                               package_path, tuple(leaves), timeout, kind="aoti")
    spec = next((line[len("out_spec "):] for line in stdout.splitlines() if line.startswith("out_spec ")), "")
    flat = list(run.output)
    output = pytree.tree_unflatten(flat, pytree.treespec_loads(spec)) if spec.strip() else flat
    return ProgramRun(run.program, output, run.load_ms, run.run_ms, run.runs, run.threads, run.work_ms, run.wall_s,
                      run.first_ms)


def run_aoti_cpp(package_path, *inputs, libraries=(), binary=None, timeout: float = 120):
    """What the AOTInductor package at ``package_path`` returns for ``inputs``, computed by ``cpp/aoti_run``.

    The same nesting as ``torch._inductor.aoti_load_package(path)(*inputs)``, with no Python in the run.
    ``libraries=[H.custom_op_library()]`` loads operator libraries first, for a model that calls a custom operator.
    """
    return _time_aoti_cpp(package_path, tuple(inputs), 1, None, binary, timeout, "run_aoti_cpp", libraries).output


# ------------------------------------------------------------------ the starter for a C++ service

_STARTERS = {"main": "C++ service starter", "aoti_main": "C++ AOTI service starter"}


def run_main_cpp(model_path, x, *, program="main", binary=None, timeout: float = 120) -> torch.Tensor:
    """Run a starter for a C++ service on one float tensor: its raw float32 bytes go in on standard input, the
    output's come back on standard output. ``program="main"`` (``cpp/main.cpp``) takes a TorchScript file,
    ``program="aoti_main"`` (``cpp/aoti_main.cpp``) an AOTInductor package, and returns its first output."""
    if program not in _STARTERS:
        raise ValueError(f"run_main_cpp runs one of the starters {', '.join(map(repr, _STARTERS))}, not {program!r}")
    model_path = _check_model_path(model_path, "run_main_cpp", *(() if program == "main" else _AOTI_PACKAGE))
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        if isinstance(x, torch.Tensor) and not x.is_complex():
            # converted, ids above 2**24 would round, and a model taking ids would refuse floats in C++ words
            runner = "H.run_cpp(path, x)" if program == "main" else "H.run_aoti_cpp(package, x)"
            raise CppInputError(f"run_main_cpp's starter reads float32 values (cpp/{program}.cpp), and this tensor is "
                                f"{str(x.dtype).replace('torch.', '')}: for a float model pass x.float(); for a model "
                                f"that takes integers (token ids) use {runner}, which passes any dtype")
        raise CppInputError(f"run_main_cpp takes one real-valued tensor, got "
                            f"{'a ' + str(x.dtype) + ' tensor' if isinstance(x, torch.Tensor) else type(x).__name__}: "
                            "the starter reads float32 values")
    if x.dim() == 0 or x.numel() == 0:  # the starter takes the sizes on its command line, each at least 1
        raise CppInputError(f"run_main_cpp takes a tensor with at least one dimension and no size 0, got "
                            f"{'a 0-d tensor' if x.dim() == 0 else 'shape ' + str(tuple(x.shape))}: the starter reads "
                            "its sizes from the command line"
                            + (", so pass x.reshape(1) for one number" if x.dim() == 0 else ", so pass one row or more"))
    if program == "main":  # the Python-side check names the file: a checkpoint, a .pt2, a damaged archive ...
        check_torchscript_file(model_path, "run_main_cpp")
    elif (kind := _archive_kind(model_path)) != "aoti":  # a TorchScript file, a torch.export program, a checkpoint ...
        made_by = ("it is a TorchScript file (torch.jit.save): run it with program=\"main\"" if kind == "torchscript"
                   else "torch.export.save writes a graph, not compiled code" if kind == "export"
                   else "it holds no compiled model (a torch.save checkpoint, or another file)")
        raise AotiPackageError(f"run_main_cpp: {model_path.name} is not an AOTInductor package: {made_by}; compile one "
                               "with torch._inductor.aoti_compile_and_package")
    binary = _check_binary(binary) if binary is not None else build_cpp(program=program, quiet=True).path
    body = x.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes()
    done = _within(_STARTERS[program], timeout, [str(binary), str(model_path), *map(str, x.shape)], input=body, env={},
                   capture_output=True)
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise _failure(_STARTERS[program], done.returncode, stderr, model_path, program)
    match = re.search(r"^shape=([\dx]*)$", stderr, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"the {_STARTERS[program]} printed something unexpected: {stderr.strip()[:200]!r}")
    shape = [int(s) for s in match.group(1).split("x") if s]
    return torch.frombuffer(bytearray(done.stdout), dtype=torch.float32).reshape(shape).clone()
