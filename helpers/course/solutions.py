"""Worked solutions of the exercises, loaded by name (introduced in 00_start_here).

``H.load_solution("03_tracing")`` returns ``solutions/03_tracing.py`` as a module, so an instructor
(or a stuck learner) can run a worked solution through the same checker as their own answer.
"""
import importlib.util

from .workdir import REPO_ROOT

__all__ = ["load_solution", "SOLUTIONS_DIR"]

SOLUTIONS_DIR = REPO_ROOT / "solutions"


def load_solution(notebook: str):
    """The module ``solutions/<notebook>.py``, e.g. ``load_solution("05_save_and_load")``."""
    path = SOLUTIONS_DIR / f"{notebook}.py"
    if not isinstance(notebook, str) or not path.is_file():
        names = ", ".join(sorted(p.stem for p in SOLUTIONS_DIR.glob("*.py")))
        raise FileNotFoundError(f"no worked solution called {notebook!r}: choose one of {names}")
    spec = importlib.util.spec_from_file_location(f"solution_{notebook}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
