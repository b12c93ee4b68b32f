"""Export round trip for your project's CI: export, save, reload in a fresh process, compare with eager.

Copy this file into your project's tests/ folder and edit the part marked EDIT HERE (which
models, which inputs, which export methods). For every (model, method) pair the test

1. runs the model in eager PyTorch on every input;
2. exports it ("export" uses torch.export; "script" and "trace" make TorchScript) and saves the file;
3. loads that file in a NEW Python process, which never imports your model's code, and runs every
   input there;
4. fails unless every output matches eager within RTOL / ATOL, naming the input that differs.

Step 3 is the point: a file that only works in the process that wrote it is not something you can
ship. Needs only torch and pytest. Run it with: ``pytest tests/test_export_roundtrip.py -q``
"""
import json
import re
import subprocess
import sys

import pytest
import torch
from torch import nn


# ---------------------------------------------------------------- EDIT HERE
def build_cases():
    """name -> (model in eval mode, list of inputs (each a tuple of tensors), dynamic_shapes or None).

    The first input is the example that trace and torch.export record. Use real samples of your
    data, and include inputs that take every branch of your model (both signs, several batch sizes).
    """
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()  # your model here
    inputs = [(torch.linspace(-1, 1, 8).reshape(2, 4),), (-torch.ones(5, 4),)]  # your inputs here
    dynamic_shapes = {"input": {0: torch.export.Dim("batch")}}  # the batch size varies; keys are forward's argument names
    return {"tiny_mlp": (model, inputs, dynamic_shapes)}


METHODS = ("export",)  # add "script" or "trace" if you ship TorchScript .pt files
LOADER_IMPORTS = ()  # libraries whose operators your model calls, e.g. ("torchvision",): the loader imports them
RTOL, ATOL = 1e-5, 1e-6
TIMEOUT = 300  # seconds for the fresh process (it imports torch)
# ---------------------------------------------------------------- end of EDIT HERE

SUFFIX = {"script": ".pt", "trace": ".pt", "export": ".pt2"}

# Runs in the fresh process: it imports torch only, so loading must work from the file alone.
RUNNER = r"""
import importlib, json, sys, warnings
warnings.filterwarnings("ignore")
import torch
method, path, inputs_file, outputs_file, imports = sys.argv[1:6]
for name in json.loads(imports):  # what your serving process imports too (it registers their operators)
    importlib.import_module(name)
model = torch.export.load(path).module() if method == "export" else torch.jit.load(path)
inputs = torch.load(inputs_file, weights_only=True)
with torch.no_grad():
    torch.save([model(*args) for args in inputs], outputs_file)
"""


def export_and_save(model, example, method, path, dynamic_shapes=None):
    """Export ``model`` with ``method`` and save it to ``path``."""
    if method == "script":
        torch.jit.save(torch.jit.script(model), str(path))
    elif method == "trace":
        torch.jit.save(torch.jit.trace(model, example), str(path))
    elif method == "export":
        torch.export.save(torch.export.export(model, example, dynamic_shapes=dynamic_shapes), str(path))
    else:
        raise ValueError(f"unknown export method {method!r}: use 'script', 'trace' or 'export'")


def run_in_fresh_process(method, path, inputs, folder):
    """Load ``path`` in a new Python process, run it on every input there, return its outputs."""
    inputs_file, outputs_file = folder / "inputs.pt", folder / "outputs.pt"
    torch.save(inputs, inputs_file)
    done = subprocess.run([sys.executable, "-c", RUNNER, method, str(path), str(inputs_file), str(outputs_file),
                           json.dumps(list(LOADER_IMPORTS))], cwd=folder, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, (f"{method}: the fresh process could not load or run {path.name}: "
                                  f"{explain_failure(done.stderr)}\n{done.stderr[-3000:]}")
    return torch.load(outputs_file, weights_only=True)


def explain_failure(stderr):
    """The cause in the fresh process's error output (torch puts it on its own line, far from the end),
    and for an operator of another library, the import the loading process needs."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    cause = next((ln for ln in lines if "Unknown builtin op" in ln or "failed to resolve" in ln), None)
    if cause is None:
        errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception)\b", ln)]
        cause = errors[-1] if errors else (lines[-1] if lines else "(no message)")
    found = re.search(r"Unknown builtin op: (\w+)::(\w+)|torch\.ops\.(\w+)\.(\w+)", cause)
    if found and (found.group(1) or found.group(3)) not in ("aten", "prim", "quantized"):
        library = found.group(1) or found.group(3)
        operator = found.group(2) or found.group(4)
        cause += (f" -> the file calls {library}::{operator}, an operator of another library: the loading process "
                  f"must `import {library}` first (add it to LOADER_IMPORTS; a C++ program must link its library)")
    return cause


def leaves(out):
    """The tensors of an output that may be a tensor or nested tuples / lists / dicts of tensors."""
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in leaves(o)]
    if isinstance(out, dict):
        return [leaf for k in sorted(out, key=str) for leaf in leaves(out[k])]
    return [out]


def assert_same_outputs(method, expected, got):
    """Fail with the first input whose reloaded output differs from eager (count, shape or values)."""
    assert len(expected) == len(got), f"{method}: {len(expected)} inputs were run in eager, {len(got)} came back"
    for i, (want, have) in enumerate(zip(expected, got)):
        want, have = leaves(want), leaves(have)
        assert len(want) == len(have), f"{method}: input {i}: eager gives {len(want)} outputs, the reloaded model {len(have)}"
        for a, b in zip(want, have):
            assert a.shape == b.shape, f"{method}: input {i}: shape {tuple(a.shape)} in eager, {tuple(b.shape)} reloaded"
            assert torch.allclose(a, b, rtol=RTOL, atol=ATOL), (
                f"{method}: input {i}: the reloaded model differs from eager by up to "
                f"{(a.double() - b.double()).abs().max().item():.3g}")


def roundtrip(model, inputs, method, folder, dynamic_shapes=None):
    """Steps 1-4 of the module docstring; raises AssertionError naming the first input that differs."""
    inputs = [tuple(args) for args in inputs]
    with torch.no_grad():
        expected = [model(*args) for args in inputs]
    path = folder / f"model_{method}{SUFFIX[method]}"
    export_and_save(model, inputs[0], method, path, dynamic_shapes if method == "export" else None)
    assert_same_outputs(method, expected, run_in_fresh_process(method, path, inputs, folder))
    return path


CASES = build_cases()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_export_roundtrip(name, method, tmp_path):
    model, inputs, dynamic_shapes = CASES[name]
    roundtrip(model, inputs, method, tmp_path, dynamic_shapes)


# ---------------------------------------------------------------- legacy .pt files: EDIT HERE
def build_legacy_cases():
    """name -> (path of a deployed TorchScript .pt, list of inputs (each a tuple of tensors)).

    Each file is converted to torch.export, saved as .pt2, reloaded in a fresh process and compared
    with the TorchScript file itself. The first input is the conversion's example: give it a batch of
    2 or more, or the converted program accepts batch 1 only.
    """
    return {}  # e.g. {"ranker_v3": ("models/ranker_v3.pt", [(torch.randn(8, 32),), (torch.randn(3, 32),)])}
# ---------------------------------------------------------------- end of legacy EDIT HERE


def migrate(path, inputs, folder):
    """Convert a TorchScript .pt to a torch.export .pt2 and check it against the .pt in a fresh process.

    The converter, torch._export.converter.TS2EPConverter, is a PRIVATE torch API: it may change or
    disappear in any torch release. That is why this test exists: pin torch, and run it on every upgrade.
    """
    from torch._export.converter import TS2EPConverter  # private: see the docstring

    inputs = [tuple(args) for args in inputs]
    legacy = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        expected = [legacy(*args) for args in inputs]
    program = TS2EPConverter(legacy, inputs[0]).convert()  # raises "TS2EPConverter failed for node <kind>"
    converted = folder / "migrated.pt2"
    torch.export.save(program, str(converted))
    assert_same_outputs("migrate", expected, run_in_fresh_process("export", converted, inputs, folder))
    return converted


LEGACY_CASES = build_legacy_cases()


@pytest.mark.parametrize("name", sorted(LEGACY_CASES))
def test_legacy_file_migrates(name, tmp_path):
    path, inputs = LEGACY_CASES[name]
    migrate(path, inputs, tmp_path)
