"""Answers learners wrote to the exercises of 00 to 04, and tools met on the way: each one gets what it deserves."""
import pytest
import torch

import helpers as H
from review_models import (BranchOnItem, CappedHalving, DictOut, HalvingInAHelper, HalvingUnderNoGrad,
                           MeanPerColumn, MeanWithoutDefault)


def test_a_capped_loop_does_not_pass_for_a_loop_the_data_controls(capsys):
    assert not H.check_halving_model(CappedHalving())
    assert "Not yet: for tensor([1.0000e+30" in capsys.readouterr().out


@pytest.mark.parametrize("model", [HalvingInAHelper, HalvingUnderNoGrad])
def test_a_loop_in_a_helper_or_under_a_decorator_is_still_a_loop(model, capsys):
    assert H.check_halving_model(model())
    assert capsys.readouterr().out.startswith("✔ Right")


def test_record_path_follows_a_decorated_forward():
    record = H.record_path(HalvingUnderNoGrad(), torch.tensor([4.0, 0.0]))
    assert max(record.counts.values()) == 3  # the while line: two halvings, then the test that leaves the loop


def test_the_loop_count_hint_names_the_for_lines_last_test(capsys):
    from helpers.exercises.ex01_02_basics import PATH_QUESTIONS
    answers = dict(zip(PATH_QUESTIONS, [13, 3, "double", "negate"]))  # 13 for 12 rows: the `for` line's count
    assert not H.check_path_answers(answers)
    assert "that is how often the `for` line runs (its last test leaves the loop)" in capsys.readouterr().out


def test_a_decision_on_item_is_named(capsys):
    assert not H.check_branch_without_if(BranchOnItem())
    assert "Converting a tensor to a Python number" in capsys.readouterr().out


def test_an_empty_check_inputs_list_is_called_empty(capsys):
    assert not H.check_catching_inputs([])
    assert "you gave an empty list" in capsys.readouterr().out


def test_a_mean_per_column_without_mean_is_caught_on_a_2d_input(capsys):
    assert not H.check_optional_input(MeanPerColumn)
    assert "without mean, on a 2-D x" in capsys.readouterr().out


def test_an_optional_mean_without_a_default_is_told_to_take_none(capsys):
    assert not H.check_optional_input(MeanWithoutDefault)
    assert "give it one, `mean: Optional[torch.Tensor] = None`" in capsys.readouterr().out


def test_the_explorer_traces_a_dict_output_with_strict_false():
    explorer = H.DivergenceExplorer(DictOut(), "trace", example=torch.randn(2, 3))
    assert isinstance(explorer.torchscript(), torch.jit.ScriptModule)
    assert explorer.state.verdict.startswith(("✔", "⚠")), explorer.state.verdict


def test_a_typed_negation_of_the_number_is_not_the_number():
    from helpers.course.predict import Prediction
    question = Prediction("How many?", answer=6, explanation="Six.")
    question.selected = "not 6"
    question.commit()
    assert question.correct is False


class _Gate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


def test_an_infinite_probe_is_judged_without_a_false_word_on_its_sum(capsys):
    # -inf sums to -inf, which is not positive: a right probe (the task asks for no more)
    assert H.check_gate_probe(torch.jit.script(_Gate()), torch.tensor([-float("inf"), 1.0]))
    capsys.readouterr()
    # inf and -inf sum to NaN, which is not positive either (NaN > 0 is false), and the output shows the negation
    assert H.check_gate_probe(torch.jit.script(_Gate()), torch.tensor([float("inf"), -float("inf")]))
    out = capsys.readouterr().out
    assert "sum(x) is NaN, and NaN > 0 is false" in out and "rather than a number" not in out
