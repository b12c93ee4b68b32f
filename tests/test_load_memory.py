"""H.measure_load_memory (05): each map_location loaded in its own process, memory read from Linux's counters."""
import gc

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


def test_garbage_the_kernel_left_does_not_lower_the_figures(tmp_path, monkeypatch):
    # A cycle holding 64 MB that nothing refers to is freed only when Python's collector runs. Here the
    # collector is made to run inside the load, as it does when the load's allocations trigger it.
    import gc
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(64, 64)), str(path))
    real_load = torch.jit.load

    def load_with_a_collection(*args, **kwargs):
        gc.collect()
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", load_with_a_collection)
    gc.disable()  # keep the garbage alive until the measuring process starts
    try:
        garbage = {"weights": torch.ones(16 * 2**20)}
        garbage["self"] = garbage
        del garbage
        found = H.measure_load_memory(path, ["meta"])
    finally:
        gc.enable()
        gc.collect()
    assert found["meta"].kept_mb > -1, found["meta"]   # 64 MB freed mid-load would show as about -50


def test_what_meta_keeps_is_torch_library_code(tmp_path):
    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(1024, 2048)), str(path))
    meta = H.measure_load_memory(path, ["meta"])["meta"]
    assert 0 <= meta.kept_library_mb <= meta.kept_mb + 1
    assert meta.kept_mb - meta.kept_library_mb < 2   # no more than scraps besides the library pages
    assert "torch's own library code" in str(meta)


def test_memory_freed_before_the_measurement_is_not_taken_for_the_loads(tmp_path):
    """Many mid-sized tensors: freed in this process first, glibc would hand the same blocks to the load unseen."""
    class Many(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(256, 512)) for _ in range(64)])

        def forward(self, x):
            return x

    path = tmp_path / "many.pt"
    model = torch.jit.script(Many())
    model.save(str(path))
    del model
    gc.collect()
    cpu = H.measure_load_memory(path, ["cpu"])["cpu"]
    assert cpu.data_bytes == 64 * 256 * 512 * 4
    assert cpu.peak_mb >= 0.9 * cpu.data_bytes / 2**20, cpu  # the data the model holds was counted


def test_a_checkpoint_is_named_for_what_it_is_not_blamed_as_corrupted(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(torch.nn.Linear(3, 3).state_dict(), path)
    with pytest.raises(H.TorchScriptFileError, match=r"^weights\.pt was written by torch\.save"):
        H.measure_load_memory(path, ["cpu"])
