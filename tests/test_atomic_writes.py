"""No helper destroys or half-writes a file: each write goes to a temporary name, renamed into place when whole."""
import json

import pytest
import torch

import helpers as H


class WithIgnored(torch.nn.Module):
    """Scripts, runs, but cannot be saved: torch.jit.save refuses the Python-only @ignore'd method half-way."""

    @torch.jit.ignore
    def helper(self, x):
        return x

    def forward(self, x):
        return self.helper(x) + 1


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("atomic") / "digits.pt"
    torch.jit.save(torch.jit.script(H.load_digits_cnn()), str(path), _extra_files={"labels.json": json.dumps([0])})
    return path


def test_copy_archive_with_changes_keeps_a_good_destination_when_the_change_raises(good_file, tmp_path):
    destination = tmp_path / "copy.pt"
    H.copy_archive_with_changes(good_file, destination, {"version": "99\n"})
    before = destination.read_bytes()

    def change_that_raises(text):
        raise ValueError("the change function failed")

    with pytest.raises(ValueError, match="the change function failed"):
        H.copy_archive_with_changes(good_file, destination, {"version": change_that_raises})
    assert destination.read_bytes() == before  # not truncated: the earlier good copy is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.pt"]  # and no temporary file is left


def test_copy_archive_with_changes_to_a_new_name_leaves_nothing_on_failure(good_file, tmp_path):
    with pytest.raises(KeyError, match="has no entry"):
        H.copy_archive_with_changes(good_file, tmp_path / "new.pt", {"no/such/entry": "x"})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_torchscript_save_in_the_round_trip_leaves_no_partial_file(tmp_path):
    report = H.export_roundtrip_check(WithIgnored(), [torch.ones(2)], method="script", folder=tmp_path)
    assert report.stage == "save" and not report.ok
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob(".*tmp*"))


def test_the_round_trip_still_passes_and_leaves_only_whole_files(tmp_path):
    report = H.export_roundtrip_check(torch.nn.Linear(3, 2).eval(), [torch.ones(1, 3)], method="trace", folder=tmp_path)
    assert report.ok, report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roundtrip_inputs.pt", "roundtrip_outputs.pt",
                                                          "roundtrip_trace.pt"]


def test_parity_loads_a_path_through_load_torchscripts_clear_errors(good_file, tmp_path):
    weights = tmp_path / "weights.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), weights)
    with pytest.raises(H.TorchScriptFileError, match="written by torch.save"):
        H.parity(torch.nn.Linear(2, 2), weights, inputs=[torch.ones(1, 2)])
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(good_file.read_bytes()[:2000])
    with pytest.raises(H.TorchScriptFileError, match="truncated"):
        H.parity(torch.nn.Linear(2, 2), truncated, inputs=[torch.ones(1, 2)])


def test_tensor_files_and_the_build_timing_are_written_whole(tmp_path, monkeypatch):
    path = H.write_tensor_file(tmp_path / "x.f32", torch.arange(6.0).reshape(2, 3))
    assert torch.equal(H.read_tensor_file(path), torch.arange(6.0).reshape(2, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.f32"]
    with pytest.raises(TypeError):
        H.write_tensor_file(tmp_path / "y.f32", "not a tensor")
    assert not (tmp_path / "y.f32").exists()
