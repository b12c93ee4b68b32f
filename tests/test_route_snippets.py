"""The AOTInductor and ExecuTorch routes as 10_shipping shows them without helpers: the code blocks of its prose run."""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "10_shipping.ipynb"

# What every block may use: a small model, an example, a batch Dim with a max (ExecuTorch needs one), another input
SETUP = """
import torch
from torch.export import Dim
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
example = torch.randn(2, 4)
dynamic_shapes = ({0: Dim("batch", min=1, max=64)},)
x = torch.randn(5, 4)  # another batch size than the example's
"""
CHECKS = {
    "aoti_compile_and_package": "assert torch.allclose(compiled(x), model(x), atol=1e-5)",
    "to_edge_transform_and_lower": "assert torch.allclose(outputs[0], model(x), atol=1e-5)",
}


def _blocks():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    return [block for cell in cells if cell.cell_type == "markdown"
            for block in re.findall(r"```python\n(.*?)```", cell.source, re.S)]


@pytest.mark.parametrize("marker", sorted(CHECKS))
def test_the_route_the_prose_shows_runs_and_agrees(marker, tmp_path):
    blocks = [b for b in _blocks() if marker in b]
    assert len(blocks) == 1, f"10_shipping should show the {marker} route once in a code block"
    script = SETUP + blocks[0] + "\n" + CHECKS[marker] + "\nprint('agrees')\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "agrees" in done.stdout, done.stderr[-2000:]
