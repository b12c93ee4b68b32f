"""The divergence explorer: the verdict a learner reads flips where a trace goes wrong, and updates are instant."""
import time
import typing

import pytest
import torch

import helpers as H
from outside_models import AlwaysNaN


def test_traced_branch_flips_when_the_slider_crosses_zero():
    ex = H.DivergenceExplorer(model="branch", method="trace")
    verdicts = {s: ex.set(scale=s).verdict for s in (2.0, 1.0, 0.25, 0.0, -0.25, -1.0, -2.0)}
    assert all(verdicts[s].startswith("✔ agree") for s in (2.0, 1.0, 0.25, 0.0))  # zero: -0 equals 2 * 0
    assert all(verdicts[s].startswith("✘ disagree") for s in (-0.25, -1.0, -2.0))
    assert "traced model answers differently" in verdicts[-1.0]
    state = ex.set(scale=-1.0)
    assert state.eager_output.tolist() == [1.0, 2.0, 3.0] and state.torchscript_output.tolist() == [-2.0, -4.0, -6.0]
    assert state.path == "x.sum() = -6 → eager Python negates x" and state.example_path == "x.sum() = 6 → doubles x"


def test_scripted_branch_agrees_everywhere():
    ex = H.DivergenceExplorer(model="branch", method="script")
    for s in (2.0, 0.5, 0.0, -0.5, -2.0):
        assert ex.set(scale=s).verdict == "✔ agree: the scripted model gives exactly the eager output"


def test_traced_loop_is_wrong_for_another_sequence_length():
    ex = H.DivergenceExplorer(model="loop", method="trace", scale=1.0)
    assert ex.set(length=3).agree
    assert ex.set(length=5).verdict.startswith("✘ disagree: the traced model answers differently")
    state = ex.set(length=1)  # the trace indexes rows 1 and 2, which a 1-row input lacks
    assert not state.agree and "fails on this input" in state.verdict and "out of range" in state.error
    ex.set(method="script")
    assert all(ex.set(length=n).agree for n in (1, 3, 5, 8))


def test_traced_rnn_cell_flips_where_its_gate_does():
    ex = H.DivergenceExplorer(model="rnn_cell", method="trace")
    assert ex.set(scale=1.0).agree and not ex.set(scale=-1.0).agree
    assert "keeps new_h as is" in ex.state.path and "halves new_h" in ex.state.example_path
    assert ex.set(method="script").agree


def test_rnn_cell_flips_at_a_positive_scale_as_the_notebook_says():
    # 03 tells learners the rnn_cell flip is not at s = 0 and leaves finding it to them (and to exercise 2)
    ex = H.DivergenceExplorer(model="rnn_cell", method="trace")
    positive = [0.25 * k for k in range(1, 9)]
    flips = [s for s in positive if not ex.set(scale=s).agree]
    assert flips and max(flips) < max(positive) and ex.set(scale=max(positive)).agree
    assert "keeps new_h as is" in ex.set(scale=flips[0]).path  # the gate, not the sign of s, decides


def test_the_copy_is_called_traced_or_scripted_everywhere():
    ex = H.DivergenceExplorer(model="loop", method="trace", length=1)
    assert ex.state.name == "traced" and "the traced model fails on this input" in ex.state.verdict
    assert ex.set(method="script").name == "scripted"
    assert ex.graph().mermaid.startswith('---\ntitle: "loop, scripted"')
    w = H.divergence_explorer()
    assert w.method_picker.description == "method"
    for method in ("trace", "script"):
        w.method_picker.value = method
        for scale in (1.0, -1.0):
            w.scale_slider.value = scale
            page = w.result.value
            assert "export" not in page.lower() and ("traced  :" if method == "trace" else "scripted:") in page


def test_copies_are_cached_and_a_slider_move_only_reruns(monkeypatch):
    ex = H.DivergenceExplorer(model="branch", method="trace")
    first = ex.torchscript()
    ex.set(method="script")
    ex.set(method="trace")
    assert ex.torchscript() is first  # switching back reuses the trace instead of tracing again
    # A slider move reruns the two models and converts nothing: count the conversions, not the seconds.
    conversions = []
    for name in ("trace", "script"):
        real = getattr(torch.jit, name)
        monkeypatch.setattr(torch.jit, name, lambda *a, _real=real, _name=name, **k: conversions.append(_name) or _real(*a, **k))
    for s in (-2.0, -1.0, 0.0, 1.0, 2.0):
        ex.set(scale=s)
    assert conversions == [] and ex.torchscript() is first


def test_tracer_warning_is_recorded_and_code_shows_no_branch():
    ex = H.DivergenceExplorer(model="branch", method="trace")
    assert any("Converting a tensor to a Python boolean" in w for w in ex.conversion_warnings())
    assert "if" not in ex.code.split() and "torch.mul" in ex.code
    ex.set(method="script")
    assert ex.conversion_warnings() == [] and "if" in ex.code.split()


def test_widget_shows_the_logic_state():
    w = H.divergence_explorer()
    assert "✔ agree" in w.result.value and "tracing warned" in w.result.value
    w.scale_slider.value = -1.0
    assert "✘ disagree" in w.result.value and "[-2. -4. -6.]" in w.result.value
    w.method_picker.value = "script"
    assert "✔ agree" in w.result.value
    assert w.length_slider.layout.display == "none"
    w.model_picker.value = "loop"
    assert w.length_slider.layout.display == ""


@pytest.mark.parametrize("kwargs, fragment", [
    ({"model": "lstm"}, "model must be one of branch, loop, rnn_cell"),
    ({"method": "export"}, "method must be 'trace' or 'script'"),
    ({"scale": "big"}, "scale must be a number"),
    ({"length": 0}, "length must be a whole number"),
])
def test_bad_settings_get_a_one_line_error(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        H.DivergenceExplorer(**kwargs)


# ---------------------------------------------------------------- your own model

import torch  # noqa: E402


class TwoInputs(torch.nn.Module):
    def forward(self, x, y):
        if (x * y).sum() > 0:
            return x + y
        return x - y


class Masked(torch.nn.Module):
    def forward(self, x, mask):
        return x * mask


def test_your_own_model_gets_a_scale_per_input_and_the_path_it_took():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    ex = H.DivergenceExplorer(TwoInputs(), "trace", example=(x, y))
    assert ex.models[0] == "TwoInputs" and ex.input_count == 2 and ex.state.agree
    assert "same path as the example" in ex.state.path
    state = ex.set(scales=[1.0, -1.0])
    assert not state.agree and torch.equal(state.inputs[1], -y) and torch.equal(state.inputs[0], x)
    assert "another path" in state.path and "`return x - y`" in state.path
    assert ex.set(method="script").agree
    assert ex.set(model="branch").agree and ex.set(model="TwoInputs").model == "TwoInputs"  # samples still there


def test_only_floating_point_inputs_are_scaled_and_every_input_is_shown():
    x, mask = torch.tensor([1.0, -2.0]), torch.tensor([True, False])
    ex = H.DivergenceExplorer(Masked(), "script", example=(x, mask))
    assert ex.scalable == [True, False]
    state = ex.set(scales=[2.0, -1.0])
    assert torch.equal(state.inputs[1], mask) and torch.equal(state.inputs[0], 2 * x) and state.agree
    w = H.divergence_explorer(Masked(), "trace", example=(x, mask))
    assert len(w.scale_sliders) == 2 and w.scale_sliders[1].layout.display == "none"
    assert "input 0 =" in w.result.value and "input 1 =" in w.result.value
    assert "no value slider for input 1: integers or bools" in w.result.value  # a hidden slider is said, not silent
    w.scale_sliders[0].value = -1.0
    assert "✔ agree" in w.result.value


def test_a_model_that_cannot_be_scripted_is_a_state_not_a_crash():
    class Unscriptable(torch.nn.Module):
        def forward(self, x):
            try:
                return torch.relu(x)
            except RuntimeError:
                return x

    ex = H.DivergenceExplorer(Unscriptable(), "script", example=torch.ones(2))
    assert not ex.state.agree and "torch.jit.script cannot convert Unscriptable" in ex.state.verdict
    assert "\n" not in ex.state.verdict
    assert ex.set(method="trace").agree


@pytest.mark.parametrize("model, kwargs, error, fragment", [
    ("branch", {"example": torch.ones(3)}, ValueError, "brings its own example"),
    (TwoInputs(), {}, TypeError, "needs example="),
    (TwoInputs, {"example": torch.ones(2)}, TypeError, "pass an instance"),
    (3, {"example": torch.ones(2)}, TypeError, "your eager nn.Module"),
    (TwoInputs(), {"example": torch.ones(2)}, ValueError, "TwoInputs fails on the example"),
    (TwoInputs(), {"example": [1, 2]}, TypeError, "tensor or a tuple of tensors"),
])
def test_bad_input_for_your_own_model_gets_one_line(model, kwargs, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        H.DivergenceExplorer(model, "trace", **kwargs)
    assert "\n" not in str(info.value)


def test_a_detection_model_gets_one_line_never_its_repr():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None).eval()
    with pytest.raises(ValueError) as info:
        H.DivergenceExplorer(model, "trace", example=torch.rand(3, 64, 64))  # one image, not a list of images
    message = str(info.value)
    assert "\n" not in message and "FasterRCNN(" not in message and len(message) < 400
    ex = H.DivergenceExplorer(H.sample_model("branch"), "trace", example=torch.ones(3))
    with pytest.raises(ValueError, match="model must be one of") as info:
        ex.set(model=model)
    assert "\n" not in str(info.value) and "FasterRCNN(" not in str(info.value)


def test_a_model_counting_its_calls_stays_in_step_with_its_scripted_copy():
    from models_with_state import CountsCalls
    explorer = H.DivergenceExplorer(CountsCalls(), "script", example=torch.randn(3))
    for scale in (2.0, -1.0, 0.5):  # each move calls eager once, and the copy once
        state = explorer.set(scale=scale)
        assert state.verdict.startswith("✔ agree"), state.verdict


def test_a_model_left_in_training_mode_is_named_as_the_reason():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))  # train() by default
    state = H.DivergenceExplorer(model, "trace", example=torch.randn(8, 4)).set(scale=1.0)
    assert state.verdict.startswith("✘ disagree") and "training mode (Dropout '1')" in state.verdict, state.verdict
    assert "model.eval()" in state.verdict
    evaluated = H.DivergenceExplorer(model.eval(), "trace", example=torch.randn(8, 4)).set(scale=1.0)
    assert evaluated.verdict.startswith("✔ agree"), evaluated.verdict


def test_a_dict_output_is_traced_with_strict_false_as_torch_advises_and_says_so():
    class DictOut(torch.nn.Module):
        def forward(self, x):
            return {"y": x * 2}
    explorer = H.DivergenceExplorer(DictOut(), "trace", example=torch.randn(2, 4))
    assert explorer.state.verdict.startswith("✔"), explorer.state.verdict
    assert any("strict=False" in note for note in explorer.conversion_warnings())


def test_a_loop_that_turns_another_number_of_times_is_not_the_same_path():
    class WhileHalve(torch.nn.Module):
        def forward(self, x):
            while x.abs().max() > 1:
                x = x / 2
            return x
    explorer = H.DivergenceExplorer(WhileHalve(), "trace", example=torch.tensor([[0.5, 3.0, -1.5, 2.0]]))
    state = explorer.set(scales=[2.0])
    assert state.verdict.startswith("✘") and "not as often: `x = x / 2` 3 times here, 2 on the example" in state.path
    assert explorer.set(scales=[1.0]).path == "eager Python takes the same path as the example"


class GrowToUnit(torch.nn.Module):
    """Doubles x until its norm reaches 1: at scale 0 the loop never ends."""

    def forward(self, x):
        while x.norm() < 1:
            x = x * 2
        return x


def test_a_slider_position_where_eager_never_finishes_is_stopped_and_said():
    ex = H.DivergenceExplorer(GrowToUnit(), "script", example=(torch.tensor([0.01, 0.02]),))
    state = ex.set(scales=[0.0])
    assert state.verdict.startswith("? the eager model did not finish") and not state.agree


class Tiny(torch.nn.Module):
    def forward(self, x):
        return x * 1e-9


def test_outputs_within_atol_of_zero_get_no_tick():
    ex = H.DivergenceExplorer(Tiny(), "trace", example=(torch.tensor([1.0, 2.0]),))
    eager, _, notes = ex._cache[(ex.model, "trace")]
    ex._cache[(ex.model, "trace")] = (eager, lambda x: x * 2e-9, notes)  # a copy that answers otherwise
    state = ex.set(scales=[1.0])
    assert state.verdict.startswith("⚠ agree only within atol") and "✔" not in state.verdict



def test_a_counter_is_named_in_the_verdict_and_the_learners_model_is_left_alone():
    from models_with_state import CountsCalls
    model = CountsCalls()
    ex = H.DivergenceExplorer(model, "trace", example=(torch.ones(2),))
    state = ex.set(scales=[1.0])
    assert not state.agree and "changes its own state as it runs (self.calls" in state.verdict
    assert model.calls == 0


def test_a_copy_that_agrees_but_loses_a_counter_gets_no_plain_tick():
    from models_with_state import CountsOnly
    ex = H.DivergenceExplorer(CountsOnly(), "trace", example=(torch.tensor([1.0, 2.0]),))
    assert ex.state.agree and ex.state.verdict.startswith("⚠") and "does not compare" in ex.state.verdict, ex.state.verdict
    assert ex.set(method="script").verdict.startswith("✔")  # a scripted copy keeps its attribute


class SumsOverRows(torch.nn.Module):
    def forward(self, x):
        if x.shape[0] > 1:
            return x.sum(0)
        return x[0] * 2


def test_a_branch_on_the_batch_size_shows_when_the_batch_changes():
    ex = H.DivergenceExplorer(SumsOverRows(), "trace", example=torch.randn(3, 4))
    assert ex.batch == 3 and ex.state.agree and ex.state.batch == 3
    for scale in (-2.0, 0.5, 2.0):  # scaling the values never reaches the other branch
        assert ex.set(scale=scale).agree
    state = ex.set(batch=1)
    assert not state.agree and state.inputs[0].shape == (1, 4) and state.batch == 1
    assert "another path" in state.path and "`return x[0] * 2`" in state.path
    assert "batch=1" in repr(ex)
    assert ex.set(batch=5).agree and ex.state.inputs[0].shape == (5, 4)
    w = H.divergence_explorer(SumsOverRows(), "trace", example=torch.randn(3, 4))
    assert w.batch_slider.layout.display == "" and w.batch_slider.value == 3
    w.batch_slider.value = 1
    assert "✘ disagree" in w.result.value and "batch (dimension 0) = 1, the example's 3; resized: input 0" in w.result.value
    w.model_picker.value = "branch"
    assert w.batch_slider.layout.display == "none"


def test_the_batch_resizes_every_input_sharing_it_and_a_list_of_images_by_items():
    from typing import List

    x, mask = torch.tensor([[1.0, -2.0], [3.0, 4.0]]), torch.tensor([[True, False], [False, True]])
    ex = H.DivergenceExplorer(Masked(), "trace", example=(x, mask))
    state = ex.set(batch=3)
    assert state.inputs[0].shape == (3, 2) and state.inputs[1].shape == (3, 2) and state.agree

    class CountsImages(torch.nn.Module):
        def forward(self, images: List[torch.Tensor]):
            return torch.stack([im.mean() for im in images])

    ex = H.DivergenceExplorer(CountsImages(), "script", example=([torch.ones(3, 4, 4)],))
    assert ex.batch == 1 and len(ex.set(batch=2).inputs[0]) == 2 and ex.state.agree


@pytest.mark.parametrize("model, example, batch, fragment", [
    ("branch", None, 2, "the sample models take length="),
    (SumsOverRows(), torch.randn(3, 4), 0, "batch must be a whole number from 1 to 64"),
    (SumsOverRows(), torch.randn(3, 4), 2.5, "batch must be a whole number"),
    (SumsOverRows(), torch.randn(3, 4), True, "batch must be a whole number"),
    (H.sample_model("branch"), torch.tensor(2.0), 2, "example has no tensor with a batch .dimension 0. to resize"),
    (H.sample_model("branch"), torch.zeros(0, 3), 2, "example has an empty batch .dimension 0, size 0.: there are no rows"),
    (SumsOverRows(), torch.randn(100, 3), 101, "batch must be a whole number from 1 to 100"),
])
def test_a_bad_batch_gets_one_line(model, example, batch, fragment):
    ex = H.DivergenceExplorer(model, "trace", example=example) if example is not None else H.DivergenceExplorer(model)
    with pytest.raises(ValueError, match=fragment) as info:
        ex.set(batch=batch)
    assert "\n" not in str(info.value)


def test_the_panel_names_the_inputs_the_batch_resizes_and_a_coincidence_is_explained():
    class WithBias(torch.nn.Module):
        def forward(self, x, bias):
            return x + bias

    ex = H.DivergenceExplorer(WithBias(), "trace", example=(torch.randn(3, 3), torch.randn(3)))
    state = ex.set(batch=2)  # the bias's size matched the batch by chance: both were resized
    assert not state.agree and "the batch changed dimension 0 of input 0, input 1" in state.verdict
    assert "only matched the batch by chance" in state.verdict
    big = H.DivergenceExplorer(SumsOverRows(), "trace", example=torch.randn(100, 3))
    assert big.set(batch=100, scale=0.5).agree and big.set(batch=64).agree  # the example's own batch is allowed
    w = H.divergence_explorer(SumsOverRows(), "trace", example=torch.randn(100, 3))
    w.scale_sliders[0].value = 0.5  # no error: the slider starts at the example's batch of 100
    assert "✔ agree" in w.result.value


def test_empty_outputs_get_no_tick():
    class NothingFound(torch.nn.Module):
        def forward(self, x):
            return x[x > 100]

    ex = H.DivergenceExplorer(NothingFound(), "trace", example=torch.randn(4))
    assert ex.state.verdict.startswith("⚠ agree only on empty outputs") and "nothing was compared" in ex.state.verdict


class _SumOfItems(torch.nn.Module):
    def forward(self, xs: typing.List[torch.Tensor]):
        return torch.stack(xs).sum(0)


def test_a_list_input_has_an_items_slider_and_says_what_it_changes():
    xs = [torch.randn(3, 4), torch.randn(3, 4)]
    widget = H.divergence_explorer(_SumOfItems(), "script", example=(xs,))
    assert widget.batch_slider.description == "items"
    widget.batch_slider.value = 3
    assert "batch (the list's length) = 3" in widget.result.value
    tensor_widget = H.divergence_explorer(torch.nn.Linear(4, 2), "trace", example=torch.randn(3, 4))
    assert tensor_widget.batch_slider.description == "batch"


class _IdsOnly(torch.nn.Module):
    def forward(self, ids):
        if ids.max() > 5:
            return ids * 2
        return ids


def test_a_scale_on_an_input_with_no_floating_point_values_is_refused_not_ignored():
    explorer = H.DivergenceExplorer(_IdsOnly(), "trace", example=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="input 0 holds no floating-point values"):
        explorer.set(scale=-1)
    with pytest.raises(ValueError, match="input 0 holds no floating-point values"):
        explorer.set(scales=[3])
    assert explorer.set(scale=1).agree is not None  # 1 changes nothing, and is allowed



def test_outputs_that_are_all_nan_get_no_tick():
    ex = H.DivergenceExplorer(AlwaysNaN(), "script", example=torch.randn(2, 3))
    assert ex.state.verdict.startswith("⚠ agree only on NaN") and "nothing was compared" in ex.state.verdict


class _DictOut(torch.nn.Module):
    def forward(self, x):
        return {"doubled": x * 2, "total": x.sum(1)}


def test_a_dict_output_trace_carries_the_strict_false_caveat_beside_its_verdict():
    explorer = H.DivergenceExplorer(_DictOut(), "trace", example=torch.randn(2, 3))
    assert explorer.state.agree
    assert "strict=False" in repr(explorer) and "keys never change" in repr(explorer)
    widget = H.divergence_explorer(_DictOut(), "trace", example=torch.randn(2, 3))
    assert "⚠ traced with strict=False" in widget.result.value and "tracing warned: traced" not in widget.result.value
    assert "strict=False" not in repr(H.DivergenceExplorer(_DictOut(), "script", example=torch.randn(2, 3)))


class _SlowModel(torch.nn.Module):
    """Takes 0.3 s a call, as a detector takes seconds: an update is slower than a drag step."""

    def forward(self, x):
        time.sleep(0.3)
        return x * 2


def test_a_slow_models_sliders_update_on_release_only():
    widget = H.divergence_explorer(_SlowModel(), "trace", example=torch.ones(2, 3))  # eager sleeps on each call
    assert widget.scale_sliders[0].continuous_update  # until an update shows it is slow
    widget.scale_sliders[0].value = -1.0
    assert not widget.scale_sliders[0].continuous_update and not widget.batch_slider.continuous_update
    # the threshold decides (no timing of a fast model here: a busy machine could slow it past the threshold)
    fast = H.divergence_explorer(torch.nn.ReLU(), "script", example=torch.ones(2, 3))
    fast._settle_sliders(0.01)
    assert fast.scale_sliders[0].continuous_update


def test_the_path_names_the_helper_function_a_line_is_in():
    import warnings
    from test_parity import _CallsPartial  # forward calls a partial of a module-level function with an if
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = H.DivergenceExplorer(model=_CallsPartial(), method="trace", example=torch.ones(2, 3))
    path = ex.set(scale=2000.0).path
    assert "runs `return x * k` (in `_scaled`)" in path, path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = H.DivergenceExplorer(model=_OwnIf(), method="trace", example=torch.ones(2, 3))
    path = own.set(scale=-1.0).path  # lines of forward itself: no function named
    assert "runs `return -x`" in path and "(in `" not in path, path


class _OwnIf(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


class _InnerDef(torch.nn.Module):
    def forward(self, x):
        def inner(t):
            if t.sum() > 0:
                return t * 3
            return t + 1
        return inner(x)


def test_a_def_inside_forward_is_named_by_its_own_name():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = H.DivergenceExplorer(model=_InnerDef(), method="trace", example=torch.ones(2, 3))
        path = ex.set(scale=-1.0).path
        report = H.parity(_InnerDef(), torch.jit.trace(_InnerDef(), torch.ones(2, 3)), inputs=[torch.ones(2, 3)])
    assert "(in `_InnerDef.forward.<locals>.inner`)" in path, path
    assert [where for where, _, _ in report.uncovered] == ["_InnerDef.forward.<locals>.inner"]



class NormsInTraining(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        return self.bn(x)


def test_a_buffer_the_trace_updates_by_another_amount_gets_no_plain_tick():
    from models_with_state import AddsItsInputsSum
    ex = H.DivergenceExplorer(AddsItsInputsSum(), "trace", example=torch.ones(2, 3))
    verdict = ex.set(scales=[3.0]).verdict
    assert verdict.startswith("⚠") and "does not compare" in verdict and "H.parity" in verdict


def test_batch_norm_in_training_is_named_and_randomness_is_named_when_they_disagree():
    verdict = H.DivergenceExplorer(NormsInTraining(), "trace", example=torch.randn(5, 4)).state.verdict
    assert verdict.startswith("⚠") and "training mode (BatchNorm1d 'bn')" in verdict and "does not keep" not in verdict

    class Samples(torch.nn.Module):
        def forward(self, x):
            return torch.distributions.Normal(x, 1.0).sample()

    verdict = H.DivergenceExplorer(Samples(), "trace", example=torch.randn(5, 4)).state.verdict
    assert verdict.startswith("✘") and "eager itself gives two different answers" in verdict
