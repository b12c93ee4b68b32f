"""H.measure_load_memory (05): each map_location loaded in its own process, memory read from Linux's counters."""
import pytest
import torch

import helpers as H


def test_meta_holds_no_data_but_the_load_reads_the_weights(tmp_path):
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(1024, 2048)), str(path))  # 8 MB of weights
    weights_mb = 1024 * 2048 * 4 / 2**20
    found = H.measure_load_memory(path, ["meta", "cpu"])
    assert set(found) == {"meta", "cpu"}
    assert found["meta"].all_meta and found["meta"].data_bytes == 0
    assert not found["cpu"].all_meta and found["cpu"].data_bytes == (1024 * 2048 + 2048) * 4
    assert found["meta"].peak_mb > 0.5 * weights_mb  # every weight was read, though none was kept
    assert "map_location='meta'" in str(found["meta"])


def test_bad_input_gets_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs the path of a saved TorchScript file"):
        H.measure_load_memory(tmp_path / "missing.pt")
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(TypeError, match="device names as strings"):
        H.measure_load_memory(path, [0])
    with pytest.raises(RuntimeError, match="map_location='nowhere' failed"):
        H.measure_load_memory(path, ["nowhere"])
