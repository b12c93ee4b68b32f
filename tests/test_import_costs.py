"""What the notebooks' torch lines import, as the instructor guide states it (docs/INSTRUCTORS.md, the
per-notebook table): the costs left in 03, 05, 09, 10 and 11 are these imports, which the lessons
need. Each is checked in a fresh process, so a torch that stops importing them fails here and the
guide gets rewritten. Only which modules load is asserted, never how long they take."""
import subprocess
import sys

import pytest

CASES = {
    "torchvision imports torch._dynamo": (
        "import torchvision", "torch._dynamo"),
    "arithmetic on the meta device imports torch._dynamo": (
        "torch.zeros(2, device='meta') * 2", "torch._dynamo"),
    "torch.export imports torch._dynamo": (
        "torch.export.export(torch.nn.Linear(2, 2), (torch.ones(1, 2),))", "torch._dynamo"),
    "torch.profiler.profile imports torch._inductor when it starts": (
        "with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]):\n    torch.ones(2) * 2",
        "torch._inductor"),
    "the check in torch.jit.trace imports torch.distributed.tensor": (
        "torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2))", "torch.distributed.tensor"),
}


@pytest.mark.parametrize("what", CASES)
def test_a_lesson_line_imports(what):
    line, module = CASES[what]
    code = (f"import sys, warnings\nwarnings.simplefilter('ignore')\nimport torch\n"
            f"before = {module!r} in sys.modules\n{line}\nprint(before, {module!r} in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]  # not loaded by `import torch`; loaded by the line


def test_the_autograd_profiler_records_what_torch_profiler_records_without_importing_inductor(tmp_path):
    # 07 profiles with torch.autograd.profiler.profile, the recorder torch.profiler.profile starts underneath
    code = """
import os, sys, warnings
os.environ["KINETO_LOG_LEVEL"] = "6"
warnings.simplefilter("ignore")
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    def forward(self, x):
        return self.layers(x).softmax(-1)
model, x = torch.jit.script(Net()), torch.ones(3, 4)
def counts(recorder):
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        with recorder as prof:
            for _ in range(4):
                model(x)
    return {e.key: e.count for e in prof.key_averages()}
plain = counts(torch.autograd.profiler.profile())
print(sorted(m for m in ("torch._inductor", "torch._dynamo") if m in sys.modules))
wrapped = counts(torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]))
print(plain == wrapped, plain.get("aten::linear"), plain.get("aten::softmax"))
"""
    probe = tmp_path / "profile_probe.py"  # a file: TorchScript reads the class's source
    probe.write_text(code)
    done = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["[]", "True 8 4"]


def test_the_onnx_exporter_builds_its_operator_table_on_every_export(tmp_path):
    code = f"""
import warnings
warnings.simplefilter("ignore")
import torch
from torch.onnx._internal.exporter import _registration
built = []
original = _registration.ONNXRegistry.from_torchlib.__func__
def counted(cls, *args, **kwargs):
    built.append(1)
    return original(cls, *args, **kwargs)
_registration.ONNXRegistry.from_torchlib = classmethod(counted)
for name in ("a", "b"):
    torch.onnx.export(torch.nn.Linear(2, 2), (torch.ones(1, 2),), r"{tmp_path}/" + name + ".onnx", dynamo=True,
                      verbose=False)
print(len(built))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "2"


def test_the_helper_index_reads_each_modules_all_as_a_full_parse_would():
    # `import helpers` reads every module's __all__ with a pattern, not a parse: it must find the same names
    import helpers
    read = {dotted: helpers._declared_names(path) for dotted, path in helpers._module_files()}
    parsed = {dotted: helpers._parsed_names(path.read_text(encoding="utf-8")) for dotted, path in helpers._module_files()}
    assert read == parsed and sum(map(len, read.values())) == len(helpers.__all__) > 200


def test_the_helper_index_falls_back_to_a_parse_when_all_is_not_one_literal(tmp_path):
    import helpers
    listed = tmp_path / "listed.py"
    listed.write_text('"""__all__ = ["not", "this"] in a docstring"""\n__all__ = (\n    "x",  # a comment\n    "y",\n)\n')
    assert helpers._declared_names(listed) == ["x", "y"]
    built = tmp_path / "built.py"
    built.write_text('__all__ = ["a"] + ["b"]\n__all__ = ["c"]\n')  # the parse reads the first: not a literal
    with pytest.raises(ValueError, match="malformed node"):
        helpers._declared_names(built)
    annotated = tmp_path / "annotated.py"
    annotated.write_text('__all__: list = ["a"]\n')  # not an assignment the index reads, by either way
    assert helpers._declared_names(annotated) == helpers._parsed_names(annotated.read_text()) == []


def _run(code, timeout=180):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_after_start_the_trace_check_no_longer_imports_dtensors_package():
    # what H.start does: the trace still checks its outputs (a wrong trace still warns), without the import
    code = """
import sys, warnings
warnings.simplefilter("ignore")
import torch
from helpers.course.comparison_import import skip_needless_dtensor_import
print(skip_needless_dtensor_import(), skip_needless_dtensor_import())
torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2))
print("torch.distributed.tensor" in sys.modules)
calls = []
def counted(x):  # its second run (the trace's check) records another constant, which the check compares
    calls.append(1)
    return x * len(calls)
try:
    torch.jit.trace(counted, torch.ones(1))
except torch.jit.TracingCheckError as error:
    print("Absolute difference: 1" in str(error))
try:
    torch.testing.assert_close(torch.ones(2), torch.zeros(2))
except AssertionError:
    print("mismatch-caught")
"""
    assert _run(code) == ["True", "True", "False", "True", "mismatch-caught"]


def test_once_dtensors_package_is_imported_the_comparison_is_torchs_own():
    # a DTensor against a plain tensor is still refused, as torch refuses it; one process, one rank, no network
    code = """
import warnings
warnings.simplefilter("ignore")
import torch
import torch.distributed as dist
from helpers.course.comparison_import import skip_needless_dtensor_import
skip_needless_dtensor_import()
from torch.distributed.tensor import DTensor, Replicate
from torch.distributed.device_mesh import init_device_mesh
dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
mesh = init_device_mesh("cpu", (1,))
d = DTensor.from_local(torch.ones(2), mesh, [Replicate()])
try:
    torch.testing.assert_close(d, torch.ones(2))
except TypeError as e:
    print("refused" if "ambiguous" in str(e) else "other")
torch.testing.assert_close(d, DTensor.from_local(torch.ones(2), mesh, [Replicate()]))
print("equal")
dist.destroy_process_group()
"""
    assert _run(code) == ["refused", "equal"]


def test_after_start_the_onnx_exporter_reads_torchlib_once_and_writes_the_same_files(tmp_path):
    # the kept list is the exporter's own first list, and the files are those of a process without it, a
    # torch.cond included; onnxscript's function is counted to show the sources are read once, not at each export
    code = f"""
import warnings
warnings.simplefilter("ignore")
import functools, importlib, torch
from helpers.course.onnx_table import keep_onnx_function_table
import torch.onnx._internal._lazy_import as lazy
KEEP = keep_onnx_function_table() and keep_onnx_function_table()
module = importlib.import_module(lazy.onnxscript_apis._name)
original, read = module.get_torchlib_ops, []
@functools.wraps(original)  # keeps __module__: where the function is defined
def counted():
    read.append(1)
    return original()
module.get_torchlib_ops = counted
class Branchy(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda t: t.relu() * 2, lambda t: -t, (x,))
torch.manual_seed(0)
for name, model in (("a", torch.nn.Linear(2, 2)), ("b", Branchy()), ("c", torch.nn.Linear(2, 3))):
    torch.onnx.export(model, (torch.ones(1, 2),), r"{tmp_path}/KIND_" + name + ".onnx", dynamo=True, verbose=False)
reads = len(read)  # by the three exports
table = lazy.onnxscript_apis.get_torchlib_ops()
print(KEEP, reads, len(table) > 400 and table == original())  # every field of every item: domain, function...
"""
    kept = _run(code.replace("KIND", "kept"))
    plain = _run(code.replace("KIND", "plain").replace("keep_onnx_function_table() and keep_onnx_function_table()", "False"))
    assert kept == ["True", "0", "True"]  # onnxscript's parsing function not called at all, for three exports
    assert plain == ["False", "3", "True"]  # without it, one read at each export
    for name in "abc":
        assert (tmp_path / f"kept_{name}.onnx").read_bytes() == (tmp_path / f"plain_{name}.onnx").read_bytes()


def test_eager_cond_compiles_on_its_first_call_and_once_more_for_the_first_new_shape():
    # the kit's "where the rest goes": dynamo's counters, one graph per compile, in a process of its own
    probe = ("import torch, torch._dynamo\n"
             "from torch._dynamo.utils import counters\n"
             "class C(torch.nn.Module):\n"
             "    def forward(self, x):\n"
             "        return torch.cond(x.sum() > 0, lambda x: x * 2, lambda x: -x, (x,))\n"
             "m, seen = C(), []\n"
             "for rows in (4, 4, 5, 6, 7):\n"
             "    m(torch.randn(rows, 3))\n"
             "    seen.append(counters['stats']['unique_graphs'])\n"
             "print(*seen)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["1", "1", "2", "2", "2"], (done.stdout, done.stderr[-500:])
