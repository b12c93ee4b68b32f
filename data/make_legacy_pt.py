"""Write data/digits_cnn_legacy.pt: the trained digits CNN as a deployed TorchScript file (used by 10_shipping).

It stands for a model already in production: a scripted ``.pt`` that a later notebook loads with
``torch.jit.load`` alone, without the Python class that made it, and migrates to torch.export.
Run it again with `python data/make_legacy_pt.py` (a few seconds); the weights come from
data/digits_cnn_state.pt, so the file's numbers do not change.
"""
import os
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers.digits import load_digits_cnn  # noqa: E402

LEGACY_FILE = Path(__file__).resolve().parent / "digits_cnn_legacy.pt"


def main(path: Path = LEGACY_FILE) -> Path:
    model = load_digits_cnn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script's deprecation notice
        scripted = torch.jit.script(model)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scripted.save(str(temporary), _extra_files={"made_by.txt": "data/make_legacy_pt.py: torch.jit.script(DigitsCNN)"})
    os.replace(temporary, path)  # atomic: a reader never sees half a file
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
