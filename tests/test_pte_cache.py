"""The .pte cache of 10_shipping: hits, misses, a new version lowering again, recorded failures, atomic files.

Most tests replace the lowering itself by a stand-in (``_import_executorch``), so they check the cache
without importing executorch.exir; one test runs the real runtime in a fresh process.
"""
import json
import subprocess
import sys

import pytest
import torch

import helpers as H
from helpers.routes import executorch_route as route

pytestmark = pytest.mark.skipif(not H.executorch_available(),
                                reason="executorch not installed: make venv installs requirements-shipping.txt")


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


class _Program:
    """Stands in for what .to_executorch() returns: it writes a few bytes, or fails halfway."""

    def __init__(self, fail=False):
        self.fail = fail

    def write_to_file(self, out):
        out.write(b"PTE-")
        if self.fail:
            raise OSError("disk full")
        out.write(b"done")


@pytest.fixture
def fake_lowering(monkeypatch):
    """Count the lowerings; ``calls.error`` (if set) is what the next lowering raises."""
    class Calls:
        count = 0
        error = None
        fail_write = False

    def lower(program, partitioner=()):
        Calls.count += 1
        if Calls.error is not None:
            raise Calls.error

        class Edge:
            def to_executorch(self):
                return _Program(Calls.fail_write)
        return Edge()

    monkeypatch.setattr(route, "_import_executorch", lambda: (lower, object))
    return Calls


def _tiny():
    torch.manual_seed(0)
    return Tiny().eval(), torch.randn(2, 3)


def test_miss_lowers_once_then_hits(tmp_path, fake_lowering):
    model, x = _tiny()
    assert H.cached_pte(model, x, cache_dir=tmp_path) is None
    first = H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    assert first.lowered and first.path.read_bytes() == b"PTE-done" and fake_lowering.count == 1
    record = json.loads(first.path.with_suffix(".json").read_text())
    assert record["executorch"] == H.executorch_version() and record["torch"] == torch.__version__
    second = H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    assert not second.lowered and second.path == first.path and fake_lowering.count == 1
    assert H.cached_pte(model, x, name="tiny", cache_dir=tmp_path).path == first.path
    H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path, force=True)
    assert fake_lowering.count == 2


def test_new_versions_or_weights_lower_again(tmp_path, fake_lowering, monkeypatch):
    model, x = _tiny()
    old = H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    monkeypatch.setattr(route, "executorch_version", lambda: "99.0")
    assert H.cached_pte(model, x, name="tiny", cache_dir=tmp_path) is None
    new = H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    assert new.lowered and new.key != old.key and fake_lowering.count == 2
    assert "executorch 99.0" in new.versions
    with torch.no_grad():
        model.fc.weight.add_(1)
    assert H.pte_cache_key(model, x) != new.key
    assert H.pte_cache_key(model, torch.randn(5, 3)) != H.pte_cache_key(model, x)  # the example's shape counts


def test_torch_version_is_in_the_key(monkeypatch):
    model, x = _tiny()
    before = H.pte_cache_key(model, x)
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    assert H.pte_cache_key(model, x) != before


def test_a_failed_lowering_is_recorded_and_raised_again(tmp_path, fake_lowering, monkeypatch):
    model, x = _tiny()
    fake_lowering.error = RuntimeError("Node aten_linear was not decomposed or delegated")
    with pytest.raises(RuntimeError, match="not decomposed"):
        H.lower_to_pte(model, x, name="tiny", backend="xnnpack", cache_dir=tmp_path)
    assert fake_lowering.count == 1
    fake_lowering.error = AssertionError("a recorded failure must not lower again")
    with pytest.raises(RuntimeError, match="not decomposed") as replayed:
        H.lower_to_pte(model, x, name="tiny", backend="xnnpack", cache_dir=tmp_path)
    assert fake_lowering.count == 1 and type(replayed.value) is RuntimeError
    assert any("recorded when" in note and "a new torch or executorch" in note for note in replayed.value.__notes__)
    assert H.cached_pte(model, x, name="tiny", backend="xnnpack", cache_dir=tmp_path) is None
    # another executorch runs the experiment again
    monkeypatch.setattr(route, "executorch_version", lambda: "99.0")
    fake_lowering.error = None
    assert H.lower_to_pte(model, x, name="tiny", backend="xnnpack", cache_dir=tmp_path).lowered


def test_a_failure_of_another_type_comes_back_as_runtime_error_naming_it(tmp_path, fake_lowering):
    class SpecViolationError(Exception):
        pass
    model, x = _tiny()
    fake_lowering.error = SpecViolationError("bad spec")
    with pytest.raises(SpecViolationError):
        H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    fake_lowering.error = None
    with pytest.raises(RuntimeError, match="SpecViolationError: bad spec"):
        H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)


def test_writes_are_atomic(tmp_path, fake_lowering):
    model, x = _tiny()
    fake_lowering.fail_write = True
    with pytest.raises(OSError, match="disk full"):
        H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    assert H.cached_pte(model, x, name="tiny", cache_dir=tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == []  # no half-written .pte, no temporary file, no record
    fake_lowering.fail_write = False
    pte = H.lower_to_pte(model, x, name="tiny", cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([pte.path.name, pte.path.with_suffix(".json").name])


def test_an_exported_program_is_keyed_by_what_it_computes():
    model, x = _tiny()
    first = torch.export.export(model, (x,))
    again = torch.export.export(model, (x,))
    key = H.pte_cache_key(first)
    assert H.pte_cache_key(again) == key
    with torch.no_grad():
        model.fc.bias.add_(1)  # the exported programs share the model's tensors: compare with the key taken before
    assert H.pte_cache_key(torch.export.export(model, (x,))) != key
    dynamic = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("b", min=1, max=8)},))
    assert H.pte_cache_key(dynamic) != H.pte_cache_key(again)


def test_bad_input_is_explained(tmp_path):
    model, x = _tiny()
    with pytest.raises(ValueError, match="name must be a short word"):
        H.cached_pte(model, x, name="a/b")
    with pytest.raises(TypeError, match="what .to_executorch\\(\\) returned"):
        H.save_pte(b"bytes", model, x, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="ExportedProgram"):
        H.cached_pte("model.pt")


def test_running_a_cached_pte_never_imports_the_lowering_side():
    """Looking up and running a .pte made by `make aoti` needs only the runtime's C++ extension."""
    code = ("import sys, torch, helpers as H\n"
            "m, x, d = H.ship_spec('digits_cnn')\n"
            "pte = H.lower_to_pte(m, x, d, backend='xnnpack', name='digits_cnn')\n"
            "assert not pte.lowered, 'run make aoti first'\n"
            "assert torch.allclose(H.pte_runner(pte)(x), m(x), rtol=1e-4, atol=1e-5)\n"
            "print(sorted(n for n in sys.modules if n.startswith('executorch.exir')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=str(H.REPO_ROOT))
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
