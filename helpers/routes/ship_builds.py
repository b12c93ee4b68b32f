"""The slow builds 10_shipping loads, defined once so that `make aoti` and the notebook share cache keys.

``H.ship_spec("digits_cnn")`` gives (model, example, dynamic_shapes) for a course model;
``H.legacy_program()`` the migrated, re-exported legacy CNN that 10 lowers to ExecuTorch;
``build_all()`` compiles the AOTInductor packages and lowers the ``.pte`` files ahead (recording the
lowering that fails, XNNPACK inside ``torch.cond``, with its error), then measures each route's
start-up (``ship_costs``). Everything is cached, so a second run is quick.
"""
import torch

from ..digits import load_digits_cnn
from .ship_models import cond_net

__all__ = ["SHIP_MODELS", "PTE_BUILDS", "ship_spec", "batch_dim", "legacy_program", "build_all"]

SHIP_MODELS = ("digits_cnn", "cond_net")


def batch_dim():
    """The dynamic shapes every shipped model uses: dimension 0 of the input is a batch of 1 to 1024."""
    return ({0: torch.export.Dim("batch", min=1, max=1024)},)


def ship_spec(name: str):
    """(model, example input, dynamic shapes) for one of ``SHIP_MODELS``; the example's batch is above 1."""
    if name == "digits_cnn":
        return load_digits_cnn(), torch.rand(4, 1, 8, 8), batch_dim()
    if name == "cond_net":
        return cond_net(), torch.randn(3, 4), batch_dim()
    raise ValueError(f"ship_spec: name must be one of {SHIP_MODELS}, got {name!r}")


# (model, backend, decompose): every .pte lowering 10 asks for. XNNPACK on the cond model without
# decomposing fails; its error is recorded in the cache so that 10 can show it without lowering again.
PTE_BUILDS = (("digits_cnn", "portable", False), ("digits_cnn", "xnnpack", False),
              ("cond_net", "portable", False), ("cond_net", "xnnpack", False), ("cond_net", "xnnpack", True))

LEGACY_BATCH_MAX = 64


def legacy_program():
    """The legacy ``.pt`` CNN migrated to torch.export on 4 test digits, re-exported with a batch of 1 to 64 (10, section 6)."""
    from torch.export import Dim

    from ..course.workdir import REPO_ROOT
    from ..digits import load_digits
    from .migrate import migrate
    images, _ = load_digits("test")
    report = migrate(REPO_ROOT / "data" / "digits_cnn_legacy.pt", images[:4])
    return report.reexport(({0: Dim("batch", min=1, max=LEGACY_BATCH_MAX)},))


def build_all(startup: bool = True, progress: bool = True) -> dict:
    """Build every AOTInductor package and ``.pte`` the notebook uses (cached), then the start-up figures."""
    from .aoti import aoti_package
    from .executorch_route import executorch_available, lower_to_pte
    from .ship_costs import STARTUP_FILE, measure_startups, startup_figures
    built = {}
    for name in SHIP_MODELS:
        model, example, dynamic = ship_spec(name)
        built[f"aoti {name}"] = aoti_package(model, example, dynamic, name=name, progress=progress)
    if executorch_available():
        for name, backend, decompose in PTE_BUILDS:
            model, example, dynamic = ship_spec(name)
            label = f"pte {name} {backend}{' decomposed' if decompose else ''}"
            try:
                pte = lower_to_pte(model, example, dynamic, backend=backend, name=name, decompose=decompose)
            except Exception as error:  # an experiment whose failure the notebook shows: recorded, not fatal
                built[label] = error
                print(f"✔ recorded that {label} fails: {type(error).__name__}: {str(error).splitlines()[0][:100]}")
                continue
            built[label] = pte
            print(f"✔ {'lowered' if pte.lowered else 'cached'} {pte.path.name}")
        pte = lower_to_pte(legacy_program(), name="legacy_cnn")
        built["pte legacy_cnn portable"] = pte
        print(f"✔ {'lowered' if pte.lowered else 'cached'} {pte.path.name}")
    else:
        print("executorch is not installed: skipped the .pte files (make venv installs requirements-shipping.txt)")
    if startup:
        from .cpp_build import cached_cpp_binary
        figures = startup_figures(STARTUP_FILE, measure_if_missing=False)
        cpp_built = cached_cpp_binary(program="load_ts") is not None and cached_cpp_binary(program="aoti_run") is not None
        if cpp_built and "LibTorch C++ .pt" not in figures.get("startup_seconds", {}):
            figures = {}  # the C++ programs were built since: measure them too
        if not figures:
            figures = measure_startups(STARTUP_FILE)
            print(f"✔ measured start-up per route into {STARTUP_FILE.name}")
        else:
            print(f"✔ start-up figures already in {STARTUP_FILE.name} for torch {torch.__version__}")
        built["startup"] = figures
    return built
