"""The C++ programs on real models, with an empty environment: several inputs of several dtypes, lists and
dicts in, tuples and dicts out, errors that name their cause, a custom operator library, an
AOTInductor package and the starter for a C++ service.

The builds are cached in cpp/build/ (`make cpp` makes them ahead; a cold cache costs about a minute
per program here). The AOTInductor package is compiled once and cached in cpp/build/test-cache/.
"""
import hashlib
import inspect
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch
from torch import nn

import helpers as H
from helpers.routes import cpp_build

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CXX") or "g++") is None, reason="no C++ compiler")


# ---------------------------------------------------------------- models we did not write for one tensor

class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x * 2 + y


class Dtypes(nn.Module):
    """float64, int64, bool and int32 inputs; a dict out, each value keeping its dtype."""

    def forward(self, values: torch.Tensor, index: torch.Tensor, mask: torch.Tensor,
                counts: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"picked": values[index], "masked": values[mask], "total": counts.sum(), "flags": ~mask}


class ListIn(nn.Module):
    """A list of tensors and an int in; a tuple holding a tensor and a list out."""

    def forward(self, parts: List[torch.Tensor], k: int) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        total = torch.stack(parts).sum(0) * k
        return total, [p.argmax().unsqueeze(0) for p in parts]


class DictIn(nn.Module):
    def forward(self, batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        return batch["image"].mean(), batch["label"] + 1


class Reshapes(nn.Module):
    def forward(self, x):
        return x.view(-1, 7)


class ClipReLU(nn.Module):
    """Calls the C++ custom operator of cpp/custom_op/."""

    def forward(self, x):
        return torch.ops.workbook.clip_relu(x * 3, 6.0) - 1


class TinyExported(nn.Module):
    """For the AOTInductor package: two inputs, a dynamic batch, a dict out."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x, y):
        hidden = torch.relu(self.linear(x))
        return {"hidden": hidden, "score": (hidden * y).sum(1)}


class OneInput(nn.Module):
    """For the starter of an AOTI service: one input, one output, a fixed shape."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return torch.tanh(self.linear(x))


def scripted(folder: Path, module: nn.Module, name: str) -> Path:
    path = folder / f"{name}.pt"
    torch.jit.script(module).save(str(path))
    return path


def same(actual, expected):
    """Equal values and the same containers (a tuple stays a tuple, a dict keeps its keys)."""
    assert type(actual) is type(expected), (type(actual), type(expected))
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            same(actual[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            same(a, e)
    else:
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cpp_programs")


@pytest.fixture(scope="module")
def load_ts():
    return H.build_cpp(progress=False, quiet=True)


@pytest.fixture(scope="module")
def ops_library():
    library = H.custom_op_library(progress=False, quiet=True)
    torch.ops.load_library(str(library.path))  # this process can now script models that call it
    return library


# ---------------------------------------------------------------- load_ts: inputs and outputs

def test_two_inputs(folder, load_ts):
    path = scripted(folder, TwoInputs(), "two")
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    same(H.run_cpp(path, x, y), TwoInputs()(x, y))


def test_dtypes_in_and_a_dict_out(folder, load_ts):
    path = scripted(folder, Dtypes(), "dtypes")
    inputs = (torch.linspace(0, 1, 5, dtype=torch.float64), torch.tensor([4, 0, 2]),
              torch.tensor([True, False, True, False, False]), torch.tensor([3, 4], dtype=torch.int32))
    out = H.run_cpp(path, *inputs)
    same(out, Dtypes()(*inputs))
    assert out["picked"].dtype == torch.float64 and out["total"].dtype == torch.int64 and out["flags"].dtype == torch.bool


def test_int64_input(folder, load_ts):
    path = scripted(folder, TwoInputs(), "two_int")
    x, y = torch.arange(6).reshape(2, 3), torch.tensor([10, 20, 30])
    out = H.run_cpp(path, x, y)
    assert out.dtype == torch.int64 and torch.equal(out, x * 2 + y)


def test_list_input_and_a_tuple_holding_a_list_out(folder, load_ts):
    path = scripted(folder, ListIn(), "list_in")
    parts = [torch.tensor([1.0, 5.0, 2.0]), torch.tensor([7.0, 0.0, 1.0])]
    out = H.run_cpp(path, parts, 2)
    same(out, ListIn()(parts, 2))
    assert isinstance(out, tuple) and isinstance(out[1], list)
    assert str(H.time_cpp(path, (parts, 2), repeats=2)).startswith("C++: start-up")


def test_dict_input(folder, load_ts):
    path = scripted(folder, DictIn(), "dict_in")
    batch = {"image": torch.rand(2, 8), "label": torch.tensor([3, 1])}
    same(H.run_cpp(path, batch), DictIn()(batch))


def test_python_twin_takes_the_same_inputs(folder, load_ts):
    path = scripted(folder, Dtypes(), "dtypes_twin")
    inputs = (torch.rand(4, dtype=torch.float64), torch.tensor([1]), torch.tensor([True, True, False, False]),
              torch.tensor([1], dtype=torch.int32))
    twin = H.time_fresh_python(path, inputs, repeats=2)
    cpp = H.time_cpp(path, inputs, repeats=2)
    same(twin.output, cpp.output)
    assert cpp.first_ms > 0 and twin.first_ms > 0  # the first call is reported beside the median


def test_the_error_is_its_cause_on_one_line(folder, load_ts):
    path = scripted(folder, TwoInputs(), "two_missing")
    with pytest.raises(RuntimeError, match=r"exit 5\): the model failed on the input: forward\(\) is missing value "
                                           r"for argument 'y'") as caught:
        H.run_cpp(path, torch.ones(2))
    assert "frame #" not in str(caught.value) and "\n" not in str(caught.value)
    # An error raised inside the TorchScript code: its last line (after the TorchScript traceback) is the cause.
    with pytest.raises(RuntimeError, match=r"RuntimeError: shape '\[-1, 7\]' is invalid for input of size 3") as caught:
        H.run_cpp(scripted(folder, Reshapes(), "reshapes"), torch.ones(3))
    assert "Traceback" not in str(caught.value)


def test_the_program_itself_prints_one_line(folder, load_ts, tmp_path):
    path = scripted(folder, TwoInputs(), "two_cli")
    inputs = H.write_value_file(tmp_path / "inputs.pt", (torch.ones(2),))
    done = subprocess.run([str(load_ts.path), str(path), str(inputs), str(tmp_path / "out.pt")], env={},
                          capture_output=True, text=True)
    assert done.returncode == 5 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("load_ts: error: the model failed on the input: forward() is missing value for "
                                  "argument 'y'")
    missing = subprocess.run([str(load_ts.path), str(path), str(inputs), str(tmp_path / "out.pt"), "--load-library",
                              str(tmp_path / "nope.so")], env={}, capture_output=True, text=True)
    assert missing.returncode == 7 and "cannot load the operator library" in missing.stderr


def test_inputs_it_cannot_send_are_refused_in_one_line(folder, load_ts):
    path = scripted(folder, TwoInputs(), "two_odd")
    with pytest.raises(H.CppInputError, match="input 0 is a Linear, which a C\\+\\+ program cannot receive"):
        H.run_cpp(path, nn.Linear(2, 2))
    with pytest.raises(H.CppInputError, match="complex"):
        H.run_cpp(path, torch.zeros(2, dtype=torch.complex64), torch.zeros(2))
    with pytest.raises(H.CppInputError, match="needs the model's inputs"):
        H.run_cpp(path)


# ---------------------------------------------------------------- the custom operator

def test_custom_operator_runs_in_cpp_with_its_library(folder, ops_library):
    x = torch.linspace(-2, 3, 11)
    reference = (x * 3).clamp(0, 6) - 1
    model = torch.jit.script(ClipReLU())
    assert "ops.workbook.clip_relu" in model.code  # one call in the saved code, not the operator's code
    torch.testing.assert_close(model(x), reference)
    path = folder / "clip_relu.pt"
    model.save(str(path))
    out = H.run_cpp(path, x, libraries=[ops_library])
    torch.testing.assert_close(out, reference)
    twin = H.time_fresh_python(path, x, repeats=1, libraries=[ops_library.path])
    torch.testing.assert_close(twin.output, reference)


def test_custom_operator_without_its_library(folder, ops_library):
    path = folder / "clip_relu_alone.pt"
    torch.jit.script(ClipReLU()).save(str(path))
    with pytest.raises(RuntimeError, match="Unknown builtin op: workbook::clip_relu.*pass libraries="):
        H.run_cpp(path, torch.ones(3))


def test_custom_operator_checks_its_arguments_in_cpp(folder, ops_library):
    class Negative(nn.Module):
        def forward(self, x):
            return torch.ops.workbook.clip_relu(x, -1.0)

    path = folder / "negative.pt"
    torch.jit.script(Negative()).save(str(path))
    with pytest.raises(RuntimeError, match="clip_relu: limit must be at least 0, got -1"):
        H.run_cpp(path, torch.ones(3), libraries=[ops_library])


def test_custom_operator_exports_as_one_node(ops_library):
    # The library registers a Meta kernel, so torch.export can trace the operator without running it.
    exported = torch.export.export(ClipReLU(), (torch.randn(5),))
    calls = [n.target for n in exported.graph.nodes if n.op == "call_function"]
    assert torch.ops.workbook.clip_relu.default in calls


def test_operator_library_is_cached(ops_library):
    again = H.custom_op_library(progress=False, quiet=True)
    assert not again.compiled and again.path == ops_library.path and again.path.name.endswith(".so")
    assert os.readlink(H.CPP_BUILD_DIR / "libworkbook_ops.so") == again.path.name


# ---------------------------------------------------------------- AOTInductor

def compiled_package(cls, example, dynamic_shapes=None):
    """(model, package): ``cls`` compiled once (20-60 s) and kept until its source or torch changes."""
    torch.manual_seed(0)
    model = cls().eval()
    key = hashlib.sha256((inspect.getsource(cls) + repr(dynamic_shapes) + torch.__version__).encode()).hexdigest()[:12]
    cache = cpp_build._build_dirs(None)[1] / "test-cache"  # cpp/build/, or the home cache if the repo is read-only
    name = cls.__name__.lower()
    package, weights = cache / f"{name}-{key}.pt2", cache / f"{name}-{key}.weights.pt"
    if not (package.is_file() and weights.is_file()):
        cache.mkdir(parents=True, exist_ok=True)
        exported = torch.export.export(model, example, dynamic_shapes=dynamic_shapes)
        scratch = cache / f".{name}-{key}.{os.getpid()}"  # the package names its inner folder after its file
        scratch.mkdir(exist_ok=True)
        torch._inductor.aoti_compile_and_package(exported, package_path=str(scratch / package.name))
        torch.save(model.state_dict(), scratch / weights.name)
        os.replace(scratch / weights.name, weights)
        os.replace(scratch / package.name, package)
        scratch.rmdir()
    model.load_state_dict(torch.load(weights))
    return model, package


@pytest.fixture(scope="module")
def aoti_package():
    batch = torch.export.Dim("batch", max=64)
    return compiled_package(TinyExported, (torch.randn(4, 4), torch.randn(4, 3)), ({0: batch}, {0: batch}))


def test_aoti_package_runs_in_cpp_like_eager(aoti_package):
    model, package = aoti_package
    for batch in (2, 5):  # the batch is dynamic
        x, y = torch.randn(batch, 4), torch.randn(batch, 3)
        with torch.inference_mode():
            expected = model(x, y)
        out = H.run_aoti_cpp(package, x, y)
        assert isinstance(out, dict) and list(out) == ["hidden", "score"]
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    run = H.time_aoti_cpp(package, (x, y), repeats=3)
    assert run.program == "C++ AOTI" and run.runs == 3 and run.output["score"].shape == (5,)


def test_aoti_runner_checks_the_inputs(aoti_package, tmp_path):
    # Without AOTI_RUNTIME_CHECK_INPUTS=1 (set by aoti_run) the compiled model takes mismatched batches silently.
    _, package = aoti_package
    with pytest.raises(RuntimeError, match=r"exit 5\): the model failed on the input: expected size 3==2"):
        H.run_aoti_cpp(package, torch.ones(2, 4), torch.ones(3, 3))
    binary = H.build_cpp(program="aoti_run", progress=False, quiet=True)
    inputs = H.write_value_file(tmp_path / "inputs.pt", (torch.ones(2, 4), torch.ones(3, 3)))
    unchecked = subprocess.run([str(binary.path), str(package), str(inputs), str(tmp_path / "out.pt")],
                               env={"AOTI_RUNTIME_CHECK_INPUTS": "0"}, capture_output=True, text=True)
    assert unchecked.returncode == 0  # no error at all: the compiled model trusted the shapes
    # A dynamic dimension of torch.export starts at 2 unless told otherwise (0 and 1 are special-cased).
    with pytest.raises(RuntimeError, match="dim value is too small at 0, expected it to be >= 2, but got: 1 \\(the "
                                           "package's compiled checks hold each dynamic size at 2 or more"):
        H.run_aoti_cpp(package, torch.ones(1, 4), torch.ones(1, 3))
    with pytest.raises(RuntimeError, match="expected inputs vector size to be 2, but got 1"):
        H.run_aoti_cpp(package, torch.ones(2, 4))
    with pytest.raises(H.CppInputError, match="an AOTI model takes tensors only"):
        H.run_aoti_cpp(package, torch.ones(2, 4), 3)


def test_aoti_runner_refuses_an_exported_program(tmp_path, aoti_package):
    path = tmp_path / "exported.pt2"
    torch.export.save(torch.export.export(TwoInputs(), (torch.ones(2), torch.ones(2))), str(path))
    with pytest.raises(H.AotiPackageError, match="Failed to find a generated cpp file or so file for model 'model' "
                                                 "in the zip archive.*aoti_compile_and_package"):
        H.run_aoti_cpp(path, torch.ones(2), torch.ones(2))


def test_aoti_runner_leaves_no_folder_behind(aoti_package, tmp_path):
    # The loader unpacks the package into $TMPDIR/aotinductor_*, and removes that folder when it is done.
    _, package = aoti_package
    binary = H.build_cpp(program="aoti_run", progress=False, quiet=True)
    inputs = H.write_value_file(tmp_path / "inputs.pt", (torch.ones(2, 4), torch.ones(2, 3)))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run([str(binary.path), str(package), str(inputs), str(tmp_path / "out.pt")],
                          env={"TMPDIR": str(scratch)}, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("ok shape=(2x3,2)")
    assert list(scratch.iterdir()) == []


def test_aoti_service_starter_matches_eager(aoti_package):
    model, package = aoti_package
    # The starter feeds one input; this package takes two, so it says so in one line.
    with pytest.raises(RuntimeError, match=r"AOTI service starter program failed \(exit 1\): expected inputs vector size to be 2"):
        H.run_main_cpp(package, torch.ones(2, 4), program="aoti_main")


def test_aoti_service_starter_runs_a_one_input_package():
    model, package = compiled_package(OneInput, (torch.randn(2, 4),))
    x = torch.randn(2, 4)
    with torch.inference_mode():
        expected = model(x)
    torch.testing.assert_close(H.run_main_cpp(package, x, program="aoti_main"), expected, rtol=1e-5, atol=1e-5)


def test_aoti_binary_links_libtorch():
    binary = H.build_cpp(program="aoti_run", progress=False, quiet=True)
    assert b"libtorch.so" in binary.path.read_bytes()  # the compiled model inside a package needs it loaded


# ---------------------------------------------------------------- the starter for a C++ service

def test_service_starter_matches_python(folder):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    path = folder / "mlp.pt"
    torch.jit.script(model).save(str(path))
    x = torch.randn(5, 6)
    with torch.inference_mode():
        expected = model(x)
    torch.testing.assert_close(H.run_main_cpp(path, x), expected, rtol=1e-5, atol=1e-5)


def test_service_starter_refuses_a_short_request(folder):
    binary = H.build_cpp(program="main", progress=False, quiet=True)
    path = folder / "mlp_short.pt"
    torch.jit.script(nn.Linear(6, 3)).save(str(path))
    done = subprocess.run([str(binary.path), str(path), "2", "6"], input=b"\0" * 8, env={}, capture_output=True)
    assert done.returncode == 4 and b"the request holds 8 bytes, shape needs 48" in done.stderr


def test_service_starter_reports_the_cause(folder):
    path = scripted(folder, Reshapes(), "reshapes_service")
    with pytest.raises(RuntimeError, match=r"exit 1\): RuntimeError: shape '\[-1, 7\]' is invalid for input of size 3$"):
        H.run_main_cpp(path, torch.ones(3))
    two = scripted(folder, TwoInputs(), "two_service")
    with pytest.raises(RuntimeError, match=r"exit 1\): forward\(\) is missing value for argument 'y'"):
        H.run_main_cpp(two, torch.ones(3))


def test_a_torchvision_model(folder, load_ts):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(weights=None).eval()  # no download: random weights
    path = folder / "squeezenet.pt"
    torch.jit.script(model).save(str(path))
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
    torch.testing.assert_close(H.run_cpp(path, x), expected, rtol=1e-4, atol=1e-4)


def test_a_cpp_run_that_does_not_finish_in_time_says_so_in_one_line(tmp_path, monkeypatch):
    from helpers.routes import cpp_runner

    def slow(argv, timeout, **options):  # what subprocess.run raises for a program that runs on past timeout=
        raise subprocess.TimeoutExpired(argv, timeout)
    monkeypatch.setattr(cpp_runner.subprocess, "run", slow)
    with pytest.raises(TimeoutError) as caught:
        cpp_runner._within("load_ts", 5, ["load_ts", "while.pt"])
    assert str(caught.value).startswith("the load_ts program did not finish within 5 s") and "\n" not in str(caught.value)


def test_cpp_failures_name_dtypes_and_what_a_file_is(tmp_path):
    from helpers.routes import cpp_runner
    error = cpp_runner._failure("C++ AOTI", 5, "aoti_run: error: expected: 6(at::kFloat), but got: 7\n",
                                tmp_path / "m.pt2", "aoti")
    assert "but got: 7(at::kDouble)" in str(error) and "6(at::kFloat)" in str(error)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(scripted))
    exported = tmp_path / "exported.pt2"
    torch.export.save(torch.export.export(torch.nn.Linear(2, 2), (torch.ones(1, 2),)), str(exported))
    assert cpp_runner._archive_kind(scripted) == "torchscript" and cpp_runner._archive_kind(exported) == "export"
    assert cpp_runner._archive_kind(tmp_path) == ""


def test_a_timeout_that_is_not_a_positive_number_is_named():
    from helpers.routes import cpp_runner
    for bad in (0, -1, "1", None):
        with pytest.raises(ValueError, match="timeout= is a number of seconds above 0"):
            cpp_runner._within("load_ts", bad, ["load_ts"])


def test_an_aoti_input_count_mismatch_says_how_inputs_are_counted(tmp_path):
    from helpers.routes import cpp_runner
    error = cpp_runner._failure("C++ AOTI", 5, "aoti_run: error: expected inputs vector size to be 1, but got 2\n",
                                tmp_path / "m.pt2", "aoti")
    assert "the package takes 1 tensor, forward's arguments flattened in order" in str(error)


def test_the_cpp_runner_says_what_a_file_it_cannot_load_is(folder, load_ts):
    path = scripted(folder, TwoInputs(), "for_damage")
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    newer = H.copy_archive_with_changes(path, folder / "newer.pt", {"version": "99\n"})
    with pytest.raises(H.TorchScriptFileError, match="newer PyTorch .file format 99"):
        H.run_cpp(newer, x, y)
    cut = folder / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(H.TorchScriptFileError, match="copy or download it again") as caught:
        H.run_cpp(cut, x, y)
    assert "save the model with torch.jit.save" not in str(caught.value)
    weights = folder / "weights.pt"
    torch.save(TwoInputs().state_dict(), weights)
    with pytest.raises(H.TorchScriptFileError, match="written by torch.save"):
        H.run_cpp(weights, x, y)


def test_aoti_package_compiles_a_model_calling_a_loaded_operator_library(ops_library, tmp_path):
    # the compile runs in a child process: it loads the libraries this one loaded, or the operator would not resolve
    package = H.aoti_package(ClipReLU(), torch.randn(4, 8), name="clip_relu", cache_dir=tmp_path, quiet=True,
                             progress=False)
    x = torch.randn(4, 8) * 4  # a batch of 4, as exported (no dynamic shapes)
    assert torch.allclose(H.load_aoti(package)(x), ClipReLU()(x))
    # the C++ runner too: it loads the library before the package, or names the operator it misses
    assert torch.allclose(H.run_aoti_cpp(package, x, libraries=[ops_library]), ClipReLU()(x))
    with pytest.raises(RuntimeError, match=r"calls the operator workbook::clip_relu, which no loaded library "
                                           r"registers: pass libraries=\[path of its \.so\]$"):
        H.run_aoti_cpp(package, x)
    with pytest.raises(FileNotFoundError, match="no operator library at"):
        H.run_aoti_cpp(package, x, libraries=[tmp_path / "missing.so"])


class Lookup(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = nn.Embedding(10, 3)

    def forward(self, ids):
        return self.table(ids)


def test_aoti_runner_names_an_index_out_of_range_with_its_range():
    _, package = compiled_package(Lookup, (torch.tensor([1, 2, 3]),))
    with pytest.raises(RuntimeError, match=r"exit 5\): .*index out of bounds.*; an index is out of range \(a token id "
                                           r"the vocabulary does not hold\?\): pass indices from 0 to 9$"):
        H.run_aoti_cpp(package, torch.tensor([1, 12, 3]))


@torch.library.custom_op("workbook_tests::doubled", mutates_args=())
def _doubled(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@_doubled.register_fake
def _(x):
    return torch.empty_like(x)


class _CallsPythonOp(nn.Module):
    def forward(self, x):
        return torch.ops.workbook_tests.doubled(x) + 1


def test_aoti_package_says_why_an_operator_defined_in_python_cannot_be_compiled_apart(tmp_path):
    with pytest.raises(H.AotiCompileError, match=r"torch\.ops\.workbook_tests\.doubled\S* is not registered .*"
                                                 r"aoti_compile_and_package"):
        H.aoti_package(_CallsPythonOp(), torch.randn(3), name="python_op", cache_dir=tmp_path, quiet=True,
                       progress=False)


def test_aoti_runner_refuses_a_numpy_array_in_one_line(aoti_package):
    import numpy as np
    _, package = aoti_package
    with pytest.raises(H.CppInputError, match=r"^an AOTI model takes tensors, not NumPy arrays: convert with "
                                              r"torch\.from_numpy\(array\) \(got an ndarray\)$"):
        H.run_aoti_cpp(package, np.ones((2, 4), dtype=np.float32), torch.ones(2, 3))
