"""Every sentence H.diagnose and H.parity print about a model must hold for it: models whose sizes, layers, modes
or state once drew a false note, a false ✔ or advice that could not work."""
import copy

import torch

import helpers as H
from diagnose_claim_models import (BatchFirstLSTM, BatchOfOneOnly, CachesOnce, DropsNothing, KeepsHistory,
                                         OneNormInTraining, PoolsToFixedSize, TransposesFirst)


def _export(model, example, **kwargs):
    return H.diagnose(model, example, routes=["export"], progress=False, **kwargs)


def test_a_size_export_ties_is_not_said_to_be_freed_by_a_dim():
    # export unrolls an LSTM over time: a Dim cannot free the length, and the note must not say it can
    export = _export(BatchFirstLSTM().eval(), torch.randn(2, 7, 6)).results["export"]
    assert export.fixed_sizes and "even with Dim.AUTO, export keeps dimension 1" in export.detail()
    assert "Dim.AUTO frees" not in export.detail()
    program = torch.export.export(BatchFirstLSTM().eval(), (torch.randn(2, 7, 6),),
                                  dynamic_shapes=({1: torch.export.Dim.AUTO},))
    assert [n.meta["val"].shape[1] for n in program.graph.nodes if n.name == "x"] == [7]  # what the note says


def test_a_size_eager_takes_only_once_in_a_while_goes_unsaid():
    model = PoolsToFixedSize().eval()
    model(torch.randn(2, 3, 33, 33))  # eager takes 33 ...
    try:
        model(torch.randn(2, 3, 34, 34))  # ... but not 34: the image size is not free
        raise AssertionError("34 should not fit the Linear")
    except RuntimeError:
        pass
    export = _export(model, torch.randn(2, 3, 32, 32)).results["export"]
    assert export.mark == "✔" and "other sizes" not in export.detail()


def test_the_batch_one_note_needs_an_eager_model_that_takes_two():
    report = _export(BatchOfOneOnly().eval(), torch.randn(1, 3, 4))
    assert "batch of 2 or more" not in str(report)  # eager itself refuses 2: no example could give such a copy


def test_one_layer_left_in_training_mode_is_named_and_a_dropout_of_zero_is_not():
    model = OneNormInTraining().eval()
    model.norm.train()
    report = H.diagnose(model, torch.randn(4, 4), routes=["script"], progress=False)
    assert report.results["script"].mark == "⚠" and report.recommend().startswith("Fix the eager model first")
    assert "BatchNorm1d 'norm'" in report.model_problem
    scripted = torch.jit.script(copy.deepcopy(model))
    checked = H.parity(model, scripted, example=torch.randn(4, 4))
    assert checked.all_close and checked.summary.startswith("⚠") and "training mode" in checked.summary
    nothing_dropped = H.diagnose(DropsNothing(), torch.randn(4, 4), routes=["script"], progress=False)
    assert nothing_dropped.results["script"].mark == "✔" and not nothing_dropped.model_problem


def test_a_history_that_grows_on_every_call_is_no_one_time_set_up():
    x = torch.randn(3, 4)
    model = KeepsHistory()
    report = H.parity(model, torch.jit.trace(copy.deepcopy(model), x), example=x, label="traced")
    assert report.loses_state and report.summary.startswith("⚠")
    assert not any("one-time set-up" in w for w in report.warnings)


def test_a_cache_filled_once_is_a_one_time_set_up_with_one_input_too():
    x = torch.randn(3, 4)
    model = CachesOnce().eval()
    report = H.parity(model, torch.jit.trace(copy.deepcopy(model), x), inputs=[x])
    assert not report.loses_state and report.summary.startswith("✔")
    assert any("one-time set-up" in w for w in report.warnings)


def test_the_time_first_note_is_left_out_when_forward_transposes_first():
    x = torch.randn(2, 7, 6)  # batch-first input; forward hands the LSTM its transpose
    model = TransposesFirst().eval()
    assert not any("batch_dim=1" in n for n in _export(model, x).notes)
    assert not any("batch_dim=1" in w for w in H.parity(model, model, example=x).warnings)


def test_a_counter_kept_in_a_buffer_is_state_a_copy_can_lose():
    from diagnose_claim_models import CountsInABuffer
    report = H.diagnose(CountsInABuffer().eval(), torch.randn(2, 4), routes=["script", "export", "onnx"],
                        progress=False)
    assert report.status("script") == "ok" and report.status("export") == "ok"  # both keep the buffer, and count
    onnx = report.results["onnx"]
    assert onnx.status == "diverges" and "self.calls: the copy has no such attribute" in onnx.reason


def test_a_tracer_warning_from_torchs_own_layers_says_where_it_came_from():
    report = H.diagnose(BatchFirstLSTM().eval(), torch.randn(2, 7, 6), routes=["trace"], progress=False)
    assert "(in torch's own nn/modules/rnn.py:" in report.results["trace"].detail()


class _BranchOnBatch(torch.nn.Module):  # export guards the batch: refuses batch 5, which eager takes
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x) * 2 if x.shape[0] > 4 else self.lin(x)


class _ScaledBy(torch.nn.Module):  # export guards the integer argument: refuses another k
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, k: int):
        return self.lin(x) * k


def test_the_key_of_11_a_refused_batch_is_ok_any_other_refusal_diverges_and_parity_lists_both_as_fails():
    # 11's "How to read the table": a refused batch size is ⚠ ok, a refused integer argument ⚠ diverges, and
    # report.parity(route) counts every refused input as one it fails on
    batch = _export(_BranchOnBatch().eval(), torch.randn(3, 4))
    assert batch.status("export") == "ok" and "batch 5" in batch.results["export"].detail()
    assert "fails on" in batch.parity("export").summary
    scaled = _export(_ScaledBy().eval(), (torch.randn(3, 4), 3), inputs=[(torch.randn(3, 4), 5)])
    assert scaled.status("export") == "diverges"
    assert any(row.error for row in scaled.parity("export").rows) and "fails on" in scaled.parity("export").summary
