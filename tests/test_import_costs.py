"""What the notebooks' torch lines import, as the instructor guide states it (docs/INSTRUCTORS.md, the
per-notebook table): the costs left in 03, 05, 07, 09, 10 and 11 are these imports, which the lessons
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
