"""Models that change their input in place: every tool gives each side its own copy of each input, so a wrong copy
is still caught and a right one still passes (one shared tensor would be changed by one side under the other)."""
import copy
import warnings

import torch

import helpers as H
from outside_models import IN_PLACE_BRANCH_SOURCE, DoublesInPlace, InPlaceBySign, TriplesInPlace


def test_parity_catches_a_wrong_copy_of_an_in_place_model_and_says_the_input_changes():
    x = torch.randn(3, 4)
    before = x.clone()
    wrong = H.parity(DoublesInPlace(), TriplesInPlace(), example=x)
    assert not wrong.all_close and "changes its input in place" in " ".join(wrong.warnings)
    assert H.parity(DoublesInPlace(), torch.jit.script(DoublesInPlace()), example=x).all_close
    assert torch.equal(x, before)  # the caller's example is left as it was


def test_parity_and_diagnose_see_a_trace_keep_one_branch_of_an_in_place_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(InPlaceBySign(), torch.ones(3, 4))
    assert H.parity(InPlaceBySign(), traced, example=torch.ones(3, 4)).divergences == ["negated"]
    report = H.diagnose(InPlaceBySign(), torch.ones(3, 4), routes=["trace", "script"], progress=False)
    assert report.status("trace") == "diverges" and report.status("script") == "ok"
    assert "randomness" not in str(report)  # changing the input is not randomness


def test_the_explorer_says_disagree_for_the_trace_on_the_other_sign_and_agree_on_the_example():
    explorer = H.DivergenceExplorer(InPlaceBySign(), "trace", example=torch.ones(3, 4))
    explorer.set(scales=[-1.0])
    assert explorer.state.verdict.startswith("✘ disagree")
    explorer.set(scales=[1.0])
    assert explorer.state.verdict.startswith("✔ agree")


def test_the_round_trip_and_will_it_script_agree_with_a_right_copy():
    checks = H.export_roundtrip_checks(DoublesInPlace(), [torch.randn(3, 4)], methods=("script", "trace"))
    assert checks.all_ok and len(checks) == 2, checks
    attempt = H.attempt_script(IN_PLACE_BRANCH_SOURCE, inputs=[torch.ones(2, 3)])
    assert attempt.verdict == "scripts", attempt


def test_the_benchmark_compares_first_calls_of_an_in_place_model_on_the_same_input():
    class AddsOne(torch.nn.Module):  # changes its input, returns a new tensor: a shared input would drift per variant
        def forward(self, x):
            x.add_(1)
            return x * 2

    report = H.benchmark_model(AddsOne().eval(), torch.zeros(3, 4), variants=["eager", "trace", "script"],
                               seconds=0.2, progress=False)
    verdicts = {row[0]: row[-1] for row in report.table_rows()[1:]}
    assert not any("output differs" in v or v.startswith("wrong") for v in verdicts.values()), verdicts


class ScalesInPlaceThenProjects(torch.nn.Module):
    """Changes its input in place, then returns a new tensor: the outputs alone do not show the change."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        x.mul_(2)
        return self.fc(x)


class ScalesACopy(torch.nn.Module):
    """The same outputs, and the caller's input left alone: what an ONNX file of the one above does."""

    def __init__(self, original):
        super().__init__()
        self.fc = original.fc

    def forward(self, x):
        return self.fc(x * 2)


def test_a_copy_that_leaves_the_input_alone_where_eager_changes_it_is_named():
    eager = ScalesInPlaceThenProjects().eval()
    report = H.parity(eager, ScalesACopy(eager), example=torch.randn(2, 4))
    assert report.copy_keeps_input and report.summary.startswith("⚠")
    assert "leaves its input unchanged where" in report.summary
    notes = " ".join(report.warnings)
    assert "unchanged after the copy" in notes
    assert "a caller that uses the input again after the call sees it changed" not in notes  # eager's note alone
    # a copy that changes it too says what eager does, with no ⚠ for the input
    same = H.parity(eager, copy.deepcopy(eager), example=torch.randn(2, 4))
    assert not same.copy_keeps_input and same.summary.startswith("✔")


def test_diagnose_gives_the_onnx_copy_that_drops_the_in_place_change_a_caveat_and_the_trace_none():
    report = H.diagnose(ScalesInPlaceThenProjects().eval(), torch.randn(2, 4), routes=["trace", "onnx"], progress=False)
    assert report.results["trace"].mark == "✔" and not report.results["trace"].input_effect
    onnx = report.results["onnx"]
    assert onnx.status == "ok" and onnx.mark == "⚠" and onnx.input_effect == "keeps"
    assert "does not change its input in place as eager does" in report.recommend()
    assert "the onnx copy does not" in onnx.detail()
    x = torch.ones(2, 4)
    report.copy("onnx")(x)
    assert torch.equal(x, torch.ones(2, 4))  # as the note says: the file does not change what it is given



class ChangesBoth(torch.nn.Module):
    def __init__(self, first=2.0, second=2.0):
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x, z):
        out = x + z
        x.mul_(self.first)
        if self.second:
            z.mul_(self.second)
        return out


def test_in_place_changes_are_compared_tensor_by_tensor():
    example = (torch.randn(2, 4), torch.randn(2, 4))
    left_one = H.parity(ChangesBoth(), ChangesBoth(second=0.0), example=example)  # z left as it was
    assert left_one.copy_keeps_input and left_one.summary.startswith("⚠")
    other_values = H.parity(ChangesBoth(), ChangesBoth(first=3.0), example=example)  # x changed, to other values
    assert other_values.copy_changes_input_otherwise and "otherwise than" in other_values.summary
    assert not other_values.copy_keeps_input and not other_values.copy_changes_input
    same = H.parity(ChangesBoth(), ChangesBoth(), example=example)
    assert not (same.copy_keeps_input or same.copy_changes_input or same.copy_changes_input_otherwise)
    assert same.summary.startswith("✔")
