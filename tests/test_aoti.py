"""AOTInductor route of 10_shipping: cached packages, clean loading, the two kinds of .pt2."""
import glob
import os

import pytest
import torch

import helpers as H


@pytest.fixture(scope="module")
def digits_package():
    model, example, dynamic = H.ship_spec("digits_cnn")
    return model, H.aoti_package(model, example, dynamic, name="digits_cnn", quiet=True)  # built by `make aoti`


def test_package_matches_eager_on_any_batch(digits_package):
    model, package = digits_package
    compiled = H.load_aoti(package)
    images, _ = H.load_digits("test")
    assert H.parity(model, compiled, inputs=[images[:1], images], rtol=1e-4, atol=1e-5).all_close


def test_cond_package_keeps_both_branches():
    model, example, dynamic = H.ship_spec("cond_net")
    compiled = H.load_aoti(H.aoti_package(model, example, dynamic, name="cond_net", quiet=True))
    assert H.parity(model, compiled, inputs=[example.abs(), -example.abs(), torch.randn(7, 4)], rtol=1e-4, atol=1e-5)


def test_second_call_uses_the_cache(digits_package):
    model, package = digits_package
    again = H.aoti_package(model, torch.zeros(4, 1, 8, 8), H.batch_dim(), name="digits_cnn", quiet=True)
    assert again.path == package.path and not again.compiled
    assert H.cached_aoti_package(model, torch.ones(4, 1, 8, 8), H.batch_dim(), name="digits_cnn").path == package.path
    assert H.cached_aoti_package(model, torch.ones(5, 1, 8, 8), H.batch_dim(), name="digits_cnn") is None  # shapes count


def test_key_changes_with_weights_shapes_and_dims():
    model, example, dynamic = H.ship_spec("digits_cnn")
    key = H.aoti_cache_key(model, example, dynamic)
    assert key == H.aoti_cache_key(model, torch.zeros_like(example), dynamic)  # values do not matter, shapes do
    assert key != H.aoti_cache_key(model, torch.rand(4, 1, 9, 9), dynamic)
    assert key != H.aoti_cache_key(model, example, None)
    other = H.load_digits_cnn()
    with torch.no_grad():
        other.classifier.bias += 1
    assert key != H.aoti_cache_key(other, example, dynamic)


def test_loading_leaves_no_aotinductor_folder(digits_package, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    H.load_aoti(digits_package[1])
    assert os.environ["TMPDIR"] == str(tmp_path)  # restored
    assert not glob.glob(str(tmp_path / "aotinductor_*"))


def test_the_two_pt2_files_are_not_interchangeable(digits_package, tmp_path):
    model, package = digits_package
    exported = tmp_path / "digits.export.pt2"
    torch.export.save(torch.export.export(model, (torch.rand(2, 1, 8, 8),)), exported)
    assert any(e.endswith("models/model.json") for e in H.zip_entries(exported))
    assert any(e.endswith(".so") for e in H.zip_entries(package))
    with pytest.raises(RuntimeError, match="Failed to find a generated cpp file or so file"):
        H.load_aoti(exported)
    with pytest.raises(RuntimeError, match="error when deserializing"):
        torch.export.load(package.path)


def test_no_cuda_notice_is_explained():
    notice = H.no_cuda_notice_source()
    assert notice["function"] == "_find_cuda_home" and "No CUDA runtime is found" in notice["line"]


@pytest.mark.parametrize("bad, error, fragment", [
    (H.DigitsCNN, TypeError, "not the class"),
    ("model.pt", TypeError, "torch.nn.Module"),
    (None, TypeError, "torch.nn.Module"),
])
def test_bad_models_get_one_line_errors(bad, error, fragment):
    with pytest.raises(error, match=fragment):
        H.aoti_package(bad, torch.rand(2, 1, 8, 8))


def test_load_aoti_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match=".pt2"):
        H.load_aoti(tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError, match="make aoti"):
        H.load_aoti(tmp_path / "missing.pt2")
