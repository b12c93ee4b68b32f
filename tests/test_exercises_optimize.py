"""The 07 checkers accept the worked solutions and explain wrong answers."""
import copy
import statistics

import pytest
import torch

import helpers as H

SOL07 = H.load_solution("07_optimize_and_debug")


def test_solutions_pass(capsys):
    assert H.check_prepare_for_serving(SOL07.prepare_for_serving)
    assert H.check_offending_line(SOL07.offending_line)
    assert H.check_honest_verdict(SOL07.verdict)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.startswith("✔") for line in out)


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


# ---------------------------------------------------------------- exercise 1

def test_the_notebook_starting_point_is_told_about_eval_mode(capsys):
    def as_given(model):
        return torch.jit.freeze(torch.jit.script(model))

    assert not H.check_prepare_for_serving(as_given)
    line = last_line(capsys)
    assert "only implemented for modules in eval mode" in line and "without changing the model" in line


@pytest.mark.parametrize("answer, message", [
    (lambda m: torch.jit.script(copy.deepcopy(m).eval()), "either it is not frozen"),
    (lambda m: torch.jit.freeze(torch.jit.script(copy.deepcopy(m).eval()), preserved_attrs=["head"]),
     "or freeze was told to keep them (preserved_attrs=...)"),
    # the convolution kept: batch norm cannot fold into it and stays, in eval mode; no training mode to blame
    (lambda m: torch.jit.freeze(torch.jit.script(copy.deepcopy(m).eval()), preserved_attrs=["conv"]),
     "or freeze was told to keep them (preserved_attrs=...)"),
    (lambda m: torch.jit.freeze(torch.jit.script(copy.deepcopy(m).eval()), optimize_numerics=False),
     "aten::batch_norm survived: keep freeze's default optimize_numerics=True"),
    (lambda m: m.eval(), "not a _SmallConvNet"),
    (lambda m: torch.jit.freeze(torch.jit.script(m.eval())), "switched the model it was given to eval mode"),
    (lambda m: torch.jit.freeze(torch.jit.script(copy.copy(m).eval())), "a shallow one (`copy.copy`) shares the submodules"),
    (lambda m: torch.jit.freeze(torch.jit.script(m).eval()), "Freeze a deep copy"),
    (lambda m: torch.jit.freeze(torch.jit.script(type(m)().eval())), "other answers than the model"),
    # a sanity call in training mode: on the original it moves batch norm's statistics, on the copy it freezes them in
    (lambda m: (m(torch.ones(2, 1, 8, 8)), torch.jit.freeze(torch.jit.script(copy.deepcopy(m).eval())))[1],
     "its batch norm statistics changed (norm.running_mean"),
    (lambda m: (lambda c: (c(torch.ones(2, 1, 8, 8)), torch.jit.freeze(torch.jit.script(c.eval())))[1])(
        copy.deepcopy(m)), "a forward call in training mode before .eval() (it updates batch norm's running statistics)"),
])
def test_wrong_serving_answers_get_a_reason(capsys, answer, message):
    assert not H.check_prepare_for_serving(answer)
    line = last_line(capsys)
    assert line.startswith("✘") and message in line


# ---------------------------------------------------------------- exercise 2

def test_the_cases_are_real_torchscript_errors():
    cases = H.offending_line_cases()
    assert [label for label, _, _ in cases] == ["a shape error inside a submodule", "a reshape that cannot work",
                                               "a compile error",
                                               "the same shape error, in code with other names (its file since deleted)",
                                               "the same shape error, in code with other names (its file edited "
                                               "since: two lines added at its top)",
                                               "a view, with a `~` in the line after it",
                                               "a compile error in a method forward calls"]
    for _, message, expected in cases:
        assert expected in message and "<--- HERE" in message
    renamed = cases[3]
    assert "both" not in renamed[2] and f"{renamed[2]}   \n" in renamed[1]  # another name, and trailing spaces
    assert renamed[2] != H.offending_line_cases()[3][2]  # a name drawn anew on each check: no answer can know it
    # the compile error in a called method: the failing frame first, its caller after torch's "called from" line
    called = cases[-1][1]
    assert called.index("x.no_such_method()") < called.index("is being compiled since it was called from") \
        < called.index("self.scaled(x) + 1")


def test_an_answer_keyed_on_the_three_known_messages_is_rejected(capsys):
    known = {"Sizes of tensors": "both = torch.cat([x, y.t()], dim=0)", "shape '[3, 5]'": "return flat.reshape(3, 5)",
             "try": "try:"}
    assert not H.check_offending_line(lambda m: next((v for k, v in known.items() if k in m), ""))
    assert "the same shape error, in code with other names" in last_line(capsys)
    # .lstrip() is right on torch's own messages, whose code lines end without spaces; the fourth case has some
    assert not H.check_offending_line(lambda m: [a for a, b in zip(m.splitlines(), m.splitlines()[1:])
                                                 if "HERE" in b][-1].lstrip())
    assert "right line, but strip it" in last_line(capsys)


@pytest.mark.parametrize("answer, hint", [
    (lambda m: m.splitlines()[0], "return the code line just above it"),
    (lambda m: [ln for ln in m.splitlines() if "HERE" in ln][-1], "sits on the line *below*"),
    (lambda m: [a for a, b in zip(m.splitlines(), m.splitlines()[1:]) if "HERE" in b][0].strip(),
     "in a runtime traceback the most recent call is the last frame"),
    (lambda m: [a for a, b in zip(m.splitlines(), m.splitlines()[1:]) if "HERE" in b][-1].strip(),
     "a compile error names where compiling failed first"),
    (lambda m: "".join(SOL07.offending_line(m).split()), "keep the spaces inside it"),
    (lambda m: " ".join(SOL07.offending_line(m).split()), "keep the spaces inside it"),  # two spaces made one
    (lambda m: None, "Return the line as a string"),
    (lambda m: 1 / 0, "raised ZeroDivisionError"),
])
def test_wrong_line_finders_get_a_hint(capsys, answer, hint):
    assert not H.check_offending_line(answer)
    assert hint in last_line(capsys)


# ---------------------------------------------------------------- exercise 3

def test_a_median_alone_is_not_a_verdict(capsys):
    assert not H.check_honest_verdict(lambda r: "faster" if statistics.median(r) < 1 else "slower")
    line = last_line(capsys)
    assert "a faster median, but a spread across 1" in line and "whole interquartile range" in line


def test_one_lucky_round_is_not_a_speed_up(capsys):
    def trusts_the_best_round(ratios):
        return "faster" if min(ratios) < 0.5 else SOL07.verdict(ratios)

    assert not H.check_honest_verdict(trusts_the_best_round)
    line = last_line(capsys)
    assert "one lucky round" in line and "expected 'no clear difference'" in line


def test_the_worked_solution_leaves_the_training_model_alone():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.5)).train()
    served = SOL07.prepare_for_serving(model)
    assert model.training and all(m.training for m in model.modules())
    x = torch.ones(2, 3)
    before = served(x)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert torch.equal(served(x), before)


def test_checkers_never_crash_on_odd_input(capsys):
    """Not a function, a class, None: each checker says what to pass, returns False, raises nothing."""
    checkers = (H.check_prepare_for_serving, H.check_offending_line, H.check_honest_verdict)
    for odd in ("my answer", None, torch.tensor(float("nan")), torch.tensor(True), torch.nn.Linear):
        for checker in checkers:
            assert checker(odd) is False
            line = last_line(capsys)
            assert line.startswith("✘") and "expects your function" in line
    assert not H.check_honest_verdict(list)
    assert "class" in last_line(capsys)


@pytest.mark.parametrize("answer, hint", [
    (lambda r: None, "return one of the strings"),
    (lambda r: True, "return one of the strings"),
    (lambda r: float("nan"), "return one of the strings"),
    (lambda r: "Faster", "return one of the strings"),
    (lambda r: r[10], "raised IndexError"),
])
def test_odd_verdict_answers_are_explained(capsys, answer, hint):
    assert not H.check_honest_verdict(answer)
    line = last_line(capsys)
    assert line.startswith("✘") and hint in line


def _quartile_verdict(ratios, method="inclusive", strict=True):
    q25, _, q75 = statistics.quantiles(ratios, n=4, method=method)
    if strict:
        return "faster" if q75 < 1 else "slower" if q25 > 1 else "no clear difference"
    return "faster" if q75 <= 1 else "slower" if q25 >= 1 else "no clear difference"


@pytest.mark.parametrize("answer, named", [
    # the whole range instead of the interquartile range: one odd round blocks every claim
    (lambda r: "faster" if max(r) < 1 else "slower" if min(r) > 1 else "no clear difference", "the whole range (lowest to highest ratio)"),
    # <= and >=: a quartile of exactly 1 counted as a side
    (lambda r: _quartile_verdict(r, strict=False), "the ones <= and >= give"),
    # statistics.quantiles' default method
    (lambda r: _quartile_verdict(r, method="exclusive"), "method='inclusive'"),
    (lambda r: "faster" if statistics.quantiles(r, n=4)[2] < 1 else "slower" if statistics.quantiles(r, n=4)[0] > 1
     else "no clear difference", "method='inclusive'"),
    # the median with a third answer for exactly 1
    (lambda r: "faster" if statistics.median(r) < 1 else "slower" if statistics.median(r) > 1
     else "no clear difference", "a single middle value"),
    # the mean and a tolerance: still no spread
    (lambda r: "faster" if statistics.mean(r) < 0.95 else "slower" if statistics.mean(r) > 1.05
     else "no clear difference", "strictly on one side of 1"),
    # the mean plus or minus one standard deviation
    (lambda r: "faster" if statistics.mean(r) + statistics.stdev(r) < 1 else "slower"
     if statistics.mean(r) - statistics.stdev(r) > 1 else "no clear difference", "the mean plus or minus one standard"),
    # a share of the rounds on one side
    (lambda r: "faster" if sum(x < 1 for x in r) >= 0.9 * len(r) else "slower" if sum(x > 1 for x in r) >= 0.9 * len(r)
     else "no clear difference", "a share of the rounds below (or above) 1"),
    # the range without its lowest and highest round
    (lambda r: "faster" if max(sorted(r)[1:-1]) < 1 else "slower" if min(sorted(r)[1:-1]) > 1
     else "no clear difference", "without its lowest and highest round"),
    # quartiles taken by position in the sorted rounds
    (lambda r: "faster" if sorted(r)[3 * len(r) // 4] < 1 else "slower" if sorted(r)[len(r) // 4] > 1
     else "no clear difference", "quartiles taken by position"),
    # the median plus or minus half the interquartile range
    (lambda r: (lambda q: "faster" if statistics.median(r) + (q[2] - q[0]) / 2 < 1 else "slower"
                if statistics.median(r) - (q[2] - q[0]) / 2 > 1 else "no clear difference")(
        statistics.quantiles(r, n=4, method="inclusive")), "the median plus or minus half the interquartile range"),
    # the upper quartile for both sides
    (lambda r: "faster" if _quartile_verdict(r) == "faster" else "slower"
     if statistics.quantiles(r, n=4, method="inclusive")[2] > 1 else "no clear difference", "compare the lower quartile"),
    # the quartiles, and the mean on the same side as well
    (lambda r: _quartile_verdict(r) if (statistics.mean(r) < 1) == (_quartile_verdict(r) == "faster")
     or _quartile_verdict(r) == "no clear difference" else "no clear difference", "also ask the mean to lie"),
    # never "slower"
    (lambda r: "faster" if _quartile_verdict(r) == "faster" else "no clear difference", "never says 'slower'"),
    # the ratio read the wrong way round
    (lambda r: {"faster": "slower", "slower": "faster"}.get(_quartile_verdict(r), "no clear difference"),
     "the wrong way round"),
])
def test_wrong_verdicts_are_rejected_and_named(capsys, answer, named):
    assert not H.check_honest_verdict(answer)
    line = last_line(capsys)
    assert line.startswith("✘") and named in line


def test_the_verdict_cases_cover_both_sides_of_every_boundary():
    verdicts = [SOL07.verdict(r) for _, r in H.exercises.ex07_optimize_and_debug._VERDICT_CASES]
    assert {"faster", "slower", "no clear difference"} == set(verdicts)
    quartiles = [statistics.quantiles(r, n=4, method="inclusive") for _, r in
                 H.exercises.ex07_optimize_and_debug._VERDICT_CASES]
    assert any(q[2] == 1.0 for q in quartiles) and any(q[0] == 1.0 for q in quartiles)  # ties at 1, both sides


def test_a_returned_module_that_fails_is_explained(capsys):
    class Broken(torch.nn.Module):
        def forward(self, x):
            return x.view(3, -1, 7)

    assert not H.check_prepare_for_serving(lambda m: torch.jit.freeze(torch.jit.script(Broken().eval())))
    line = last_line(capsys)
    assert line.startswith("✘") and "fails on a batch" in line


def test_optimize_for_inference_on_a_copy_runs_but_cannot_be_shipped(capsys):
    """It freezes (after calling eval() on the scripted copy), folds batch norm and drops dropout, but its result does
    not load again after a save (section 2): the exercise asks for a module to ship, so it is named, not praised."""
    assert not H.check_prepare_for_serving(lambda m: torch.jit.optimize_for_inference(torch.jit.script(copy.deepcopy(m))))
    line = last_line(capsys)
    assert line.startswith("✘ It runs in this process") and "cannot be saved and loaded again" in line
    assert "optimize_for_inference after loading" in line
    assert H.check_prepare_for_serving(SOL07.prepare_for_serving)
    line = last_line(capsys)
    assert line.startswith("✔ Right:") and "saves and loads again" in line


def test_hints_say_whose_answers_they_match_not_what_the_learner_did(capsys):
    def iqr_midpoint(r):
        q25, _, q75 = statistics.quantiles(r, n=4, method="inclusive")
        mid = (q25 + q75) / 2
        return "faster" if mid < 1 else "slower" if mid > 1 else "no clear difference"

    assert not H.check_honest_verdict(iqr_midpoint)
    line = last_line(capsys)
    assert "a single middle value" in line and "a median alone" not in line


def test_serving_checker_catches_changes_to_the_original(capsys):
    import copy

    def freezes_and_stops_learning(model):
        model.requires_grad_(False)
        return torch.jit.freeze(torch.jit.script(copy.deepcopy(model).eval()))

    def freezes_and_drops_dropout(model):
        model.drop = torch.nn.Identity()
        return torch.jit.freeze(torch.jit.script(copy.deepcopy(model).eval()))

    def zeroes_the_dropout(model):
        model.drop.p = 0.0
        return torch.jit.freeze(torch.jit.script(copy.deepcopy(model).eval()))

    def flips_only_the_top_flag(model):
        served = copy.deepcopy(model)
        served.training = False
        return torch.jit.freeze(torch.jit.script(served))

    for answer, words in ((freezes_and_stops_learning, "requires_grad"),
                          (freezes_and_drops_dropout, "replaced or reconfigured"),
                          (zeroes_the_dropout, "changed a dropout's probability"),
                          (flips_only_the_top_flag, "still in training mode")):
        assert not H.check_prepare_for_serving(answer)
        out = capsys.readouterr().out
        assert out.startswith("✘") and words in out, out


def test_offending_line_must_be_stripped(capsys):
    def unstripped(message):
        lines = message.splitlines()
        return [a for a, b in zip(lines, lines[1:]) if "HERE" in b][-1]

    assert not H.check_offending_line(unstripped)
    assert "right line, but strip it" in capsys.readouterr().out


def test_a_mistake_is_named_only_when_no_other_gives_the_same_answers():
    mistakes = H.exercises.ex07_optimize_and_debug._MISTAKES
    cases = H.exercises.ex07_optimize_and_debug._VERDICT_CASES
    answers = {}
    for mistake, why in mistakes:
        answers.setdefault(tuple(mistake(list(r)) for _, r in cases), set()).add(why)
    assert all(len(whys) == 1 for whys in answers.values())  # the cases tell every named mistake apart
    assert tuple(SOL07.verdict(list(r)) for _, r in cases) not in answers


@pytest.mark.parametrize("answer, says", [
    (lambda message: "both = torch.cat([x, y.t()], dim=0)", "that same text for all 7 messages"),
    (lambda message: "", "that same text for all 7 messages"),
    (lambda message: H.exercises.ex07_optimize_and_debug._marked_lines(message)[-1].split("=")[-1].split("(")[0].strip()
     or "x", "only part of the line"),
])
def test_a_hard_coded_or_partial_line_is_named(answer, says, capsys):
    assert not H.check_offending_line(answer)
    line = last_line(capsys)
    assert line.startswith("✘") and says in line, line


def test_quartiles_by_numpys_midpoint_method_are_not_taken_for_inclusive_ones(capsys):
    import numpy as np

    def verdict(r):
        q25, q75 = np.percentile(r, [25, 75], method="midpoint")
        return "faster" if q75 < 1 else "slower" if q25 > 1 else "no clear difference"
    assert not H.check_honest_verdict(verdict)
    assert capsys.readouterr().out.startswith("✘")


def test_a_table_of_the_listed_cases_is_not_a_verdict(capsys):
    from helpers.exercises.ex07_optimize_and_debug import _VERDICT_CASES, _reference_verdict
    table = {tuple(r): _reference_verdict(r) for _, r in _VERDICT_CASES}  # read off the cases the notebook shows
    assert not H.check_honest_verdict(lambda r: table[tuple(r)])
    line = last_line(capsys)
    assert "Right on the 22 listed cases, but on new rounds" in line and "raised KeyError" in line
    assert "not only the listed ones" in line


def test_a_verdict_right_only_on_the_listed_cases_is_named(capsys):
    from helpers.exercises.ex07_optimize_and_debug import _VERDICT_CASES, _reference_verdict
    listed = {tuple(r) for _, r in _VERDICT_CASES}
    # right where it was shown the answers, a median elsewhere: the fresh rounds always hold a case whose answer is
    # 'no clear difference', which a median never gives
    def overfit(r):
        return SOL07.verdict(r) if tuple(r) in listed else ("faster" if statistics.median(r) < 1 else "slower")

    assert not H.check_honest_verdict(overfit)
    line = last_line(capsys)
    assert "but on new rounds" in line and "not from the listed cases" in line


def test_the_right_verdict_passes_the_fresh_rounds_every_time(capsys):
    for _ in range(50):  # the fresh rounds differ at each call: the reference solution passes them all
        assert H.check_honest_verdict(SOL07.verdict)
    assert "12 new sets of rounds" in last_line(capsys)


def _verdict_sorting_in_place(ratios):
    ratios.sort()  # the caller's list loses its order
    return SOL07.verdict(ratios)


def test_a_right_verdict_that_sorts_the_callers_list_is_refused_and_told_so(capsys):
    assert not H.check_honest_verdict(_verdict_sorting_in_place)
    out = capsys.readouterr().out
    assert out.startswith("✘") and "reorders the list it is given" in out and "✔" not in out
    assert H.check_honest_verdict(SOL07.verdict)
    assert "reorders" not in capsys.readouterr().out


@pytest.mark.parametrize("low, high", [(0.99, 1.01), (0.995, 1.005), (0.998, 1.002), (1.0, 1.01)])
def test_a_margin_around_1_is_refused_on_the_listed_cases(low, high, capsys):
    def verdict(r):
        q25, _, q75 = statistics.quantiles(r, n=4, method="inclusive")
        return "faster" if q75 < low else "slower" if q25 > high else "no clear difference"
    for _ in range(5):  # never left to the fresh rounds' luck
        assert not H.check_honest_verdict(verdict)
        line = last_line(capsys)
        assert line.startswith("✘ On ") and "a hair" in line, line


def test_a_line_read_from_the_file_the_message_names_is_not_the_messages(capsys):
    """A logged error, or one from a loaded .pt, may name a file that is gone or changed: the renamed case's is."""
    import linecache
    import re

    def from_the_file(message):
        file, line = re.findall(r'File "(.+?)", line (\d+)', message)[-1]
        return linecache.getline(file, int(line)).strip()

    assert not H.check_offending_line(from_the_file)
    assert "an empty line: read the line from the message itself" in last_line(capsys)

    def from_the_file_while_it_exists(message):  # the message only where the file is gone
        found = from_the_file(message)
        return found or [a for a, b in zip(message.splitlines(), message.splitlines()[1:]) if "HERE" in b][-1].strip()

    assert not H.check_offending_line(from_the_file_while_it_exists)
    line = last_line(capsys)
    assert "edited since" in line and "read the line from the message itself" in line, line


def test_a_line_above_any_tilde_is_not_the_marked_line(capsys):
    def above_a_tilde(message):
        lines = message.splitlines()
        return [a for a, b in zip(lines, lines[1:]) if "~" in b][-1].strip()

    assert not H.check_offending_line(above_a_tilde)
    out = last_line(capsys)
    assert "a view, with a `~` in the line after it" in out and "sits on the line *below*" in out, out


def test_quartiles_of_the_speed_ups_are_named(capsys):
    def by_speed_ups(r):
        q25, _, q75 = statistics.quantiles([1 / x for x in r], n=4, method="inclusive")
        return "faster" if q25 > 1 else "slower" if q75 < 1 else "no clear difference"

    assert not H.check_honest_verdict(by_speed_ups)
    assert "the quartiles of the speed-ups (1 / ratio)" in last_line(capsys)


def test_an_exit_or_an_endless_loop_in_an_answer_is_named_not_a_crash(capsys, monkeypatch):
    import sys
    from helpers.exercises import _common
    assert not H.check_offending_line(lambda message: sys.exit(1))
    assert "called sys.exit(1), which would end the kernel" in last_line(capsys)

    def forever(ratios):
        while True:
            pass

    real = _common.learner_code
    monkeypatch.setattr(_common, "learner_code", lambda seconds=20.0: real(0.5))
    import helpers.exercises.ex07_optimize_and_debug as ex07
    monkeypatch.setattr(ex07, "learner_code", lambda seconds=20.0: real(0.5))
    assert not H.check_honest_verdict(forever)
    assert "ran for more than 0.5 s and was stopped" in last_line(capsys)


def test_an_answer_that_turns_autograd_off_for_the_process_is_named(capsys):
    def no_grad_everywhere(model):
        torch.set_grad_enabled(False)
        return torch.jit.freeze(torch.jit.script(copy.deepcopy(model).eval()))

    assert not H.check_prepare_for_serving(no_grad_everywhere)
    assert "switched autograd off for the whole process" in last_line(capsys) and torch.is_grad_enabled()


def test_a_served_module_that_answers_in_another_dtype_is_named_not_a_crash(capsys):
    class Doubled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x).double()

    assert not H.check_prepare_for_serving(
        lambda m: torch.jit.freeze(torch.jit.script(Doubled(copy.deepcopy(m).eval())).eval()))
    assert "dtype torch.float64" in last_line(capsys)


def test_offending_line_read_from_the_marker_of_the_failing_frame_is_right(capsys):
    # the checker's own cases once carried the marker's text in a source comment, which such a reader took for a marker
    def offending_line(message):
        lines = message.splitlines()
        marked = [lines[i - 1].strip() for i, line in enumerate(lines) if "<--- HERE" in line]
        return marked[0] if "since it was called from" in message else marked[-1]
    assert H.check_offending_line(offending_line), capsys.readouterr().out


def test_offending_line_read_from_the_last_marker_always_misses_a_compile_error_in_a_called_method(capsys):
    def offending_line(message):  # right for runtime tracebacks only
        lines = message.splitlines()
        return [lines[i - 1].strip() for i, line in enumerate(lines) if "<--- HERE" in line][-1]
    assert not H.check_offending_line(offending_line)
    said = last_line(capsys)
    assert "On a compile error in a method forward calls you returned 'return self.scaled(x) + 1'" in said
    assert "a compile error names where compiling failed first" in said


def _eval_then_train(model):  # the original switched to eval for the copy, then "restored" with .train()
    model.eval()
    served = torch.jit.freeze(torch.jit.script(copy.deepcopy(model)))
    model.train()
    return served


def _modes_saved_and_restored(model):  # the same, restoring each submodule's own mode: nothing changed, so right
    modes = [m.training for m in model.modules()]
    model.eval()
    served = torch.jit.freeze(torch.jit.script(copy.deepcopy(model)))
    for m, mode in zip(model.modules(), modes):
        m.training = mode
    return served


def test_serving_checker_catches_train_undoing_a_submodule_kept_in_eval(capsys):
    assert not H.check_prepare_for_serving(_eval_then_train)
    line = last_line(capsys)
    assert line.startswith("✘") and "keeps in eval mode" in line and "(norm)" in line
    assert H.check_prepare_for_serving(_modes_saved_and_restored)
    assert last_line(capsys).startswith("✔")
