"""What each shipping route costs: start-up of a fresh process, per call, file size (introduced in 10_shipping).

Start-up needs a new process per route (a warm kernel hides import and load costs), so
``make aoti`` measures it ahead with ``measure_startups()`` and writes ``build/shipping_startup.json``
(atomically); the notebook reads it with ``startup_figures()``, which measures again only if the
file is missing or was made for another torch. Each figure is the wall time of a fresh Python
process that imports what the route needs (torch for every route but ONNX Runtime, whose process imports numpy and
onnxruntime only), loads the file and runs one batch; the fastest of a few
runs is kept, since a busy machine only ever adds time.
"""
import hashlib
import json
import operator
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..course.workdir import REPO_ROOT


def _readable(path) -> None:
    """mkstemp makes files private (0600); give them the permissions a normal new file gets (umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


__all__ = ["STARTUP_FILE", "STARTUP_SNIPPETS", "CPP_ROUTES", "measure_cpp", "measure_startup", "measure_startups", "startup_figures",
           "per_call_ms", "artifact_paths"]

STARTUP_FILE = REPO_ROOT / "build" / "shipping_startup.json"

# What a fresh process does for each route: import, load the file, run one input. {path} is the artifact.
STARTUP_SNIPPETS = {
    # the class's source is pasted in (a server imports its own model module, not the workbook's helpers)
    "python (eager)": "import torch\nfrom torch import nn\n{model_source}\nm = DigitsCNN()\n"
                      "m.load_state_dict(torch.load({path!r}, weights_only=True))\nm.eval()(x)",
    "TorchScript .pt (Python)": "import torch\nm = torch.jit.load({path!r})\nm(x)",
    "torch.export .pt2 (Python)": "import torch\nm = torch.export.load({path!r}).module()\nm(x)",
    "AOTInductor .pt2 (Python)": "import torch, os, tempfile\nos.environ['TMPDIR'] = tempfile.mkdtemp()\n"
                                 "m = torch._inductor.aoti_load_package({path!r})\nm(x)",
    "ExecuTorch .pte (Python runtime)": "import torch\nfrom executorch.runtime import Runtime\n"
                                        "m = Runtime.get().load_program({path!r}).load_method('forward')\nm.execute([x])",
    # an ONNX Runtime deployment has no torch: numpy makes the input, one thread as torch has
    "ONNX Runtime .onnx": "import onnxruntime as ort\noptions = ort.SessionOptions()\noptions.intra_op_num_threads = 1\n"
                          "s = ort.InferenceSession({path!r}, options, providers=['CPUExecutionProvider'])\n"
                          "s.run(None, {{s.get_inputs()[0].name: x}})",
}
_PRELUDE = "import warnings; warnings.simplefilter('ignore')\nimport torch\ntorch.set_num_threads(1)\nx = torch.rand(4, 1, 8, 8)\n"
# The figures on file are kept only if they were measured by these very snippets (and this torch)
_PRELUDES = {"ONNX Runtime .onnx": "import warnings; warnings.simplefilter('ignore')\nimport numpy as np\n"
                                   "x = np.random.rand(4, 1, 8, 8).astype(np.float32)\n"}
# figures on file are kept only if these very snippets measured them (and this torch)
_SNIPPETS_KEY = hashlib.sha256(repr((STARTUP_SNIPPETS, _PRELUDE, _PRELUDES)).encode()).hexdigest()[:12]


def measure_startup(route: str, path, runs: int = 2, timeout: float = 120) -> float:
    """Seconds for a fresh Python process to import, load ``path`` by ``route`` and run one batch (fastest run)."""
    if route not in STARTUP_SNIPPETS:
        raise ValueError(f"measure_startup: route must be one of {list(STARTUP_SNIPPETS)}, got {route!r}")
    import inspect
    from ..digits import DigitsCNN
    code = _PRELUDES.get(route, _PRELUDE) + STARTUP_SNIPPETS[route].format(path=str(path),
                                                                            model_source=inspect.getsource(DigitsCNN))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    best = float("inf")
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              cwd=str(REPO_ROOT), env=env)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            raise RuntimeError(f"{route}: the fresh process failed: {lines[-1] if lines else done.returncode}")
        best = min(best, seconds)
    return best


def artifact_paths(folder) -> dict:
    """Build (or reuse from the caches) one file per route for the digits CNN; route -> path."""
    from ..digits import DIGITS_WEIGHTS, load_digits_cnn
    from .aoti import aoti_package
    from .executorch_route import executorch_available, lower_to_pte
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = load_digits_cnn()
    x = torch.rand(4, 1, 8, 8)
    batch = ({0: torch.export.Dim("batch", min=1, max=1024)},)
    paths = {"python (eager)": DIGITS_WEIGHTS}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model)
        scripted.save(str(folder / "digits.pt"))
        paths["TorchScript .pt (Python)"] = folder / "digits.pt"
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=batch), folder / "digits_export.pt2")
        paths["torch.export .pt2 (Python)"] = folder / "digits_export.pt2"
        paths["AOTInductor .pt2 (Python)"] = aoti_package(model, x, batch, name="digits_cnn", quiet=True).path
        if executorch_available():
            paths["ExecuTorch .pte (Python runtime)"] = lower_to_pte(model, x, batch, backend="xnnpack",
                                                                     name="digits_cnn").path
        torch.onnx.export(scripted, (x,), str(folder / "digits.onnx"), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
        paths["ONNX Runtime .onnx"] = folder / "digits.onnx"
    return paths


CPP_ROUTES = ("LibTorch C++ .pt", "AOTInductor C++ .pt2")


def measure_cpp(paths: dict, runs: int = 2) -> dict:
    """route -> (start-up s, per-call ms) for the C++ programs already built (``make cpp``); {} if none is."""
    from .cpp_build import cached_cpp_binary
    from .cpp_runner import time_aoti_cpp, time_cpp
    x = torch.rand(4, 1, 8, 8)
    jobs = {"LibTorch C++ .pt": ("load_ts", lambda b: time_cpp(paths["TorchScript .pt (Python)"], x, repeats=50, threads=1, binary=b)),
            "AOTInductor C++ .pt2": ("aoti_run", lambda b: time_aoti_cpp(paths["AOTInductor .pt2 (Python)"], x, repeats=50,
                                                                          threads=1, binary=b))}
    out = {}
    for route, (program, run) in jobs.items():
        binary = cached_cpp_binary(program=program)
        if binary is None:
            continue
        results = [run(binary) for _ in range(max(1, runs))]
        # start-up: the whole process measured from outside, minus its repeated calls beyond the first
        out[route] = (min(r.wall_s - (r.runs - 1) * r.run_ms / 1000 for r in results), min(r.run_ms for r in results))
    return out


def measure_startups(path=STARTUP_FILE, runs: int = 2) -> dict:
    """Measure every route's start-up in fresh processes and write the figures to ``path`` (JSON, atomic)."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        paths = artifact_paths(folder)
        figures = {route: round(measure_startup(route, p, runs=runs), 2) for route, p in paths.items()}
        cpp = measure_cpp(paths, runs=runs)
    figures.update({route: round(seconds, 2) for route, (seconds, _) in cpp.items()})
    cpp_per_call = {route: round(ms, 4) for route, (_, ms) in cpp.items()}
    floor_code = _PRELUDE
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", floor_code], capture_output=True, timeout=120)
    result = {"torch": torch.__version__, "snippets": _SNIPPETS_KEY, "measured": time.strftime("%Y-%m-%d %H:%M"),
              "machine": this_machine(), "runs": runs,
              "import torch only": round(time.perf_counter() - start, 2), "startup_seconds": figures,
              "cpp_per_call_ms": cpp_per_call}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".startup-", suffix=".json", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        json.dump(result, out, indent=1)
    _readable(temporary)
    os.replace(temporary, path)
    return result


def this_machine() -> str:
    """The CPU these figures were measured on, e.g. "x86_64 Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz, 2 CPUs"."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:  # not Linux: the platform's own word
        model = platform.processor()
    return f"{platform.machine()} {model or 'CPU'}, {os.cpu_count()} CPUs".replace("  ", " ")


def startup_figures(path=STARTUP_FILE, measure_if_missing: bool = True) -> dict:
    """The start-up figures ``make aoti`` wrote; measured now (slowly) if absent, or made for another torch or by other
    snippets."""
    path = Path(path)
    # on a hub whose learners cannot write the repository, a figure measured here goes to their own cache folder
    from .cpp_build import cache_folders
    look, write = cache_folders(path.parent, "figures")
    for candidate in (folder / path.name for folder in look):
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if data.get("torch") == torch.__version__ and data.get("snippets") == _SNIPPETS_KEY:
            where = candidate.relative_to(REPO_ROOT) if candidate.is_relative_to(REPO_ROOT) else candidate
            data["source"] = f"read from {where}, made by `make aoti`" if candidate == path else f"read from {where}"
            # a hub image is built on another machine: its figures are kept (measuring again takes minutes), and said
            # to be that machine's
            made_on, here = data.get("machine"), this_machine()
            data["source"] += (" on this machine" if made_on == here else
                               f" on another machine ({made_on}), not this one ({here})" if made_on else
                               " on a machine it does not name")
            return data
    if not measure_if_missing:
        return {}
    data = measure_startups(write / path.name, runs=1)
    data["source"] = "measured just now (run `make aoti` to have them ready)"
    return data


def per_call_ms(fn, *inputs, repeats: int = 50) -> float:
    """Median milliseconds of one call of ``fn(*inputs)`` in this process, after two warm-up calls."""
    import statistics
    from ..course.failures import typed_message
    from ..tools.parity import require_callable
    fn = require_callable(fn, "per_call_ms", "model or function to time")
    try:
        count = operator.index(repeats)  # an int, or NumPy's
    except TypeError:
        count = None
    if isinstance(repeats, bool) or count is None or count < 1:
        raise ValueError(f"per_call_ms: repeats is how many calls to time, a whole number of 1 or more, got {repeats!r}")
    repeats = count
    with torch.no_grad():
        try:
            fn(*inputs)  # the first warm-up call: a failure here is the call's own, said in one line
        except Exception as error:
            raise RuntimeError(f"per_call_ms: the call failed before any timing ({typed_message(error, 160)}): pass "
                               "inputs it accepts, e.g. per_call_ms(model, x)") from None
        fn(*inputs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(*inputs)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
