"""The first call of every notebook (introduced in 00_start_here): ``WORK = H.start("03_tracing")``."""
import gc

gc.disable()  # importing torch makes about 275,000 objects and almost no garbage: collecting meanwhile is wasted work
try:
    import torch
    gc.freeze()  # ...and so is walking them at the first collection after it: they stay for the kernel's life
finally:
    gc.enable()

from .comparison_import import skip_needless_dtensor_import
from .onnx_table import keep_onnx_function_table
from .deprecations import hide_deprecation_warnings
from .seeding import seed_everything
from .warm_torch import start_in_background
from .workdir import REPO_ROOT, work_dir

__all__ = ["start"]


def start(notebook: str, seed: int = 0, hide_deprecations: bool = True, threads: int = 1):
    """Seed everything, hide only the TorchScript deprecation FutureWarnings, and return this kernel's work folder.

    The work folder (``work/<user>/<notebook>/``) is kept across kernel restarts: files saved there
    in an earlier session are still there.

    ``hide_deprecations=False`` keeps the deprecation FutureWarnings visible (00 and 02 show
    them once before hiding them). ``threads=1``: the workbook's models are small, and on a shared
    server (or a 2-core laptop) extra torch threads only fight each other and make timings erratic.

    It also spares the first ``torch.jit.trace`` an import that answers nothing here: torch's tensor comparison
    (which the trace's check uses) imports ``torch.distributed.tensor`` only to ask whether a tensor is a DTensor,
    and none can be before that package is imported (``skip_needless_dtensor_import``; results are unchanged).
    And the ONNX exporter's list of torchlib functions is built once per kernel, without parsing their sources,
    and reused by every export (``keep_onnx_function_table``; the list and the exported files are unchanged).
    """
    seed_everything(seed)
    torch.set_num_threads(threads)
    skip_needless_dtensor_import()  # the first torch.jit.trace's check would import DTensor's package (about half a second) for nothing
    keep_onnx_function_table()  # each ONNX export would parse about 500 torchlib functions' sources (0.3-0.5 s)
    if hide_deprecations:
        hide_deprecation_warnings()
    folder = work_dir(notebook)
    try:
        shown = folder.relative_to(REPO_ROOT)
    except ValueError:
        shown = folder
    # What is imported now stays for the kernel's life: Python's collector need not walk it again at every full
    # collection, which torch.export and the ONNX exporter trigger often (a fifth to a third of their time with
    # torch 2.14 on this course's machines).
    gc.freeze()
    start_in_background(notebook)  # the waiting torch process for this notebook's fresh processes, if it has any
    note = "hidden (explained in 00, listed in 02)" if hide_deprecations else "shown"
    print(f"torch {torch.__version__} · seed {seed} · {threads} thread{'s' if threads != 1 else ''} · files go to {shown} · TorchScript deprecation notices {note}")
    if folder.name != notebook:  # work_dir gave a second folder: another kernel holds the first
        print(f"another kernel of {notebook} is running and holds {folder.parent.name}/{notebook}/, "
              f"so this one writes to {folder.name}/ (stop the other kernel to get the first folder back)")
    return folder
