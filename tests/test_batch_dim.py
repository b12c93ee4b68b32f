"""batch_dim=: the tools vary, resize and export the batch where a sequence-first model keeps it (dimension 1)."""
import warnings

import pytest
import torch

import helpers as H
from seq_first_models import SeqFirstPool, SeqFirstWithLengths


@pytest.fixture(scope="module")
def pool():
    torch.manual_seed(0)
    return SeqFirstPool().eval(), torch.randn(5, 2, 4)


def traced(model, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warning about the size branch
        return torch.jit.trace(model, x)


def test_vary_inputs_resizes_the_batch_dimension_of_every_input_that_shares_it(pool):
    _, x = pool
    mask = torch.ones(5, 2, dtype=torch.bool)  # (time, batch): the same batch in dimension 1
    variants = H.vary_inputs((x, mask), batch_dim=1)
    assert [tuple(t.shape) for t in variants["batch 1"]] == [(5, 1, 4), (5, 1)]
    assert [tuple(t.shape) for t in variants["batch 4"]] == [(5, 4, 4), (5, 4)]
    assert torch.equal(variants["batch 4"][0][:, 2:], x)  # its own rows again, not new values
    assert H.vary_inputs(x)["batch 1"][0].shape == (1, 2, 4)  # the default: dimension 0


@pytest.mark.parametrize("bad", ["1", -1, 1.0, True, None, 3, (1, 0)])
def test_a_bad_batch_dim_gets_one_line_naming_the_function(pool, bad):
    model, x = pool
    for call, name in ((lambda: H.vary_inputs(x, batch_dim=bad), "vary_inputs"),
                       (lambda: H.parity(model, model, example=x, batch_dim=bad), "parity"),
                       (lambda: H.diagnose(model, x, routes=["script"], batch_dim=bad, progress=False), "diagnose"),
                       (lambda: H.DivergenceExplorer(model, "trace", example=x, batch_dim=bad), "DivergenceExplorer"),
                       (lambda: H.benchmark_model(model, x, batch_dim=bad, progress=False), "benchmark_model")):
        with pytest.raises(ValueError, match=f"^{name}: batch_dim") as error:
            call()
        assert "\n" not in str(error.value) and "Traceback" not in str(error.value)
        if bad is None:
            assert "leave batch_dim out for dimension 0" in str(error.value)
        elif bad == 3:  # a dimension the (5, 2, 4) example does not have: a mistake, never a check skipped
            assert "no tensor of the example has that dimension (the largest has 3 dimensions)" in str(error.value)
        elif isinstance(bad, tuple):
            assert "one entry per input, 1 here" in str(error.value) or "no tensor of the example" in str(error.value)
    with pytest.raises(ValueError, match="leave batch_dim out"):
        H.parity(model, model, inputs=[x], batch_dim=1)


def test_parity_finds_the_trace_wrong_on_another_batch_only_where_the_batch_is(pool):
    model, x = pool
    copy = traced(model, x)
    found = H.parity(model, copy, example=x, batch_dim=1)
    assert not found.all_close and [r.label for r in found.rows if r.diverges] == ["batch 1"]
    # dimension 0 is time here: the default changes the sequence's length, and the batch branch never moves
    assert H.parity(model, copy, example=x).all_close


def test_diagnose_varies_and_exports_the_batch_in_dimension_1(pool):
    model, x = pool
    report = H.diagnose(model, x, routes=["trace", "export"], batch_dim=1, progress=False)
    assert report.status("trace") == "diverges" and report.results["trace"].first_divergence == "batch 1"
    # dimension 1 kept dynamic: other batches run. Its range starts at 2 (sizes 0 and 1 are special to torch.export),
    # so `x.size(1) > 1` was decided as true, and yet the program runs a batch of 1: a wrong answer, not a refusal
    export = report.results["export"]
    assert report.status("export") == "diverges" and export.first_divergence == "batch 1"
    rows = {row.label: row for row in export.parity.rows}
    assert rows["batch 3"].close and rows["batch 4"].close and not rows["batch 1"].error


def test_the_explorer_moves_the_batch_in_dimension_1(pool):
    model, x = pool
    explorer = H.DivergenceExplorer(model, "trace", example=x, batch_dim=1)
    assert explorer.batch == 2 and explorer.state.agree
    state = explorer.set(batch=1)
    assert tuple(state.inputs[0].shape) == (5, 1, 4) and not state.agree


def test_the_benchmark_checks_each_variant_on_the_other_batch_sizes(pool):
    model, x = pool
    report = H.benchmark_model(model, x, variants=["eager", "trace"], batch_dim=1, rounds=3, seconds=0.2,
                               progress=False)
    trace = report.rows["trace"]
    assert trace.wrong and "batch 1" in trace.wrong, trace


def test_numpy_and_0_d_tensor_integers_are_dimensions_too(pool):
    import numpy as np
    _, x = pool
    for d in (np.int64(1), torch.tensor(1)):
        assert H.vary_inputs(x, batch_dim=d)["batch 1"][0].shape == (5, 1, 4)


def test_a_batch_also_held_in_dimension_0_of_another_input_needs_one_entry_per_input():
    torch.manual_seed(0)
    model, example = SeqFirstWithLengths().eval(), (torch.randn(5, 3, 4), torch.tensor([5, 3, 2]))
    copy = traced(model, example)
    # one number for both: lengths (3,) has no dimension 1, so "batch N" would resize x alone and still be batch 3
    variants = H.vary_inputs(example, batch_dim=1)
    assert not [k for k in variants if k.startswith("batch ")]
    assert variants.skipped["batch"] == ("input 1 ((3,)) has the batch's size, 3, in dimension 0 and no dimension 1: "
                                         "say where each input's batch is, one entry per input: batch_dim=(1, 0) if "
                                         "it holds the batch, batch_dim=(1, None) if it has none")
    # ...and the suggestion works: the trace is caught on batch 1, each input resized where its batch is
    found = H.parity(model, copy, example=example, batch_dim=(1, 0))
    assert [r.label for r in found.rows if r.diverges] == ["batch 1"]
    assert [tuple(t.shape) for t in H.vary_inputs(example, batch_dim=(1, 0))["batch 5"]] == [(5, 5, 4), (5,)]
    report = H.diagnose(model, example, routes=["trace"], batch_dim=(1, 0), progress=False)
    assert report.status("trace") == "diverges" and report.results["trace"].first_divergence == "batch 1"
    explorer = H.DivergenceExplorer(model, "trace", example=example, batch_dim=1)
    with pytest.raises(ValueError, match=r"input 1 \(\(3,\)\) has the batch's size, 3, in dimension 0"):
        explorer.set(batch=1)
    explorer = H.DivergenceExplorer(model, "trace", example=example, batch_dim=(1, 0))
    assert explorer.yours.batched == [0, 1] and not explorer.set(batch=1).agree


def test_when_eager_rejects_every_batch_the_note_asks_where_the_batch_is():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(0), torch.nn.Linear(8, 3)).eval()  # exactly (2, 4): no batch at all
    report = H.diagnose(model, torch.randn(2, 4), routes=["trace"], progress=False)
    note = next(n for n in report.notes if n.startswith("not compared"))
    assert "batch 1, 3, 4 (the first: the eager model rejects this variant" in note
    assert note.endswith("or batch_dim= if the batch is in another dimension (1 for a sequence-first model; one entry "
                         "per input where they differ))")


class AtLeastThree(torch.nn.Module):
    def forward(self, x):  # (time, batch, features): another formula from a batch of 3 on
        if x.shape[1] >= 3:
            return x * 2
        return x - 1


def test_an_export_that_fixed_the_batch_gets_the_branch_advice_not_a_dim():
    x = torch.randn(5, 2, 4)
    report = H.diagnose(AtLeastThree(), x, routes=["export"], batch_dim=1, progress=False)
    note = next(n for n in report.results["export"].notes if n.startswith("refuses"))
    assert "Guard failed" in note and "==" in note and "a Dim cannot free it" in note and "torch.cond" in note
    # what the advice says of a Dim, checked: a named Dim on that size only raises
    with pytest.raises(Exception, match="specialized it to be a constant"):
        torch.export.export(AtLeastThree(), (x,), dynamic_shapes=({1: torch.export.Dim("batch")},))


def test_each_entry_of_a_tuple_must_fit_its_own_input():
    example = (torch.randn(5, 3, 4), torch.tensor([5, 3, 2]))
    for call, name in ((lambda: H.vary_inputs(example, batch_dim=(1, 1)), "vary_inputs"),
                       (lambda: H.parity(SeqFirstWithLengths(), SeqFirstWithLengths(), example=example,
                                         batch_dim=(1, 1)), "parity")):
        with pytest.raises(ValueError, match=f"^{name}: batch_dim's entry 1 is 1, but input 1 has no tensor with a "
                                             "dimension 1: give its batch dimension, or None if it has no batch$"):
            call()
    with pytest.raises(ValueError, match=r"e\.g\. batch_dim=\(1,\)$"):  # a tuple of one, written as one
        H.vary_inputs(torch.randn(2, 3), batch_dim=())
    skipped = H.vary_inputs(example, batch_dim=(None, None)).skipped  # said outright: no input has a batch
    assert skipped["batch"] == "batch_dim says that no input has a batch"


def test_numpy_and_tensor_numbers_reach_export_and_the_widget_as_plain_ints(pool):
    import numpy as np
    model, x = pool
    for d in (np.int64(1), torch.tensor(1)):
        report = H.diagnose(model, x, routes=["export"], batch_dim=d, progress=False)
        assert report.status("export") == "diverges" and report.results["export"].first_divergence == "batch 1"
        assert not any("a dynamic batch failed" in n for n in report.results["export"].notes)
        widget = H.divergence_explorer(model, "trace", example=x, batch_dim=d)
        assert "batch (dimension 1) = 2" in widget.result.value


def test_the_explorer_names_the_tuples_empty_dimension_and_shows_why_there_is_no_slider():
    class SeqBias(torch.nn.Module):
        def forward(self, x, bias):
            return x + bias

    explorer = H.DivergenceExplorer(SeqBias(), "trace", example=(torch.randn(5, 0, 4), torch.randn(4)),
                                    batch_dim=(1, None))
    with pytest.raises(ValueError, match=r"has an empty batch \(dimensions \(1, None\), size 0\)"):
        explorer.set(batch=2)
    widget = H.divergence_explorer(SeqBias(), "trace", example=(torch.randn(5, 4, 4), torch.randn(4)), batch_dim=1)
    assert "no batch slider: input 1 ((4,)) has the batch&#x27;s size, 4, in dimension 0" in widget.result.value
    assert widget.batch_slider.layout.display == "none"
