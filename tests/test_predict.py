"""The prediction widget: its logic driven without a browser, and what its view shows."""
import pytest

import helpers as H


def make(**kw):
    args = dict(question="Does tracing keep the if?", answer="No", explanation="Only the **path taken**.",
                choices=["Yes", "No"])
    args.update(kw)
    return args


def test_explanation_hidden_until_commit():
    p = H.Prediction(**make())
    p.choose("Yes")
    assert not p.explanation_visible and p.reveal_text() == ""
    feedback = p.commit()
    assert p.explanation_visible and "Not quite" in feedback and "“No”" in feedback
    assert "path taken" in p.reveal_text()


def test_commit_without_answer_asks_for_one():
    p = H.Prediction(**make())
    assert "Choose or type an answer first" in p.commit()
    assert not p.committed


def test_answer_locked_after_commit():
    p = H.Prediction(**make())
    p.choose("No")
    assert p.commit().startswith("✔ Right")
    p.choose("Yes")
    assert p.selected == "No" and p.correct


def test_typed_numeric_answer_with_tolerance():
    p = H.Prediction(question="How many nodes?", answer=5, explanation="Count them.", tolerance=0)
    p.choose(" 5 ")
    p.commit()
    assert p.correct
    q = H.Prediction(question="How many?", answer=5, explanation="x")
    q.choose("six")
    q.commit()
    assert q.correct is False


def test_typed_text_answer_ignores_case_and_spaces():
    p = H.Prediction(question="Which function records a path?", answer="torch.jit.trace", explanation="x")
    p.choose("  Torch.JIT.trace ")
    p.commit()
    assert p.correct


def test_callable_answer():
    p = H.Prediction(question="Name an even number", answer=lambda v: int(v) % 2 == 0, explanation="x")
    p.choose("4")
    assert p.commit().startswith("✔")


@pytest.mark.parametrize("kw, message", [
    (dict(answer=None), "needs the correct answer"),
    (dict(explanation=""), "needs an explanation"),
    (dict(question=" "), "needs a question"),
    (dict(answer="Maybe"), "not one of the choices"),
    (dict(choices=["Only"], answer="Only"), "at least two choices"),
])
def test_bad_construction_gives_one_line_error(kw, message):
    with pytest.raises(ValueError, match=message) as info:
        H.Prediction(**make(**kw))
    assert "\n" not in str(info.value)


def test_widget_shows_explanation_only_after_commit():
    w = H.predict(**make())
    assert w.result.value == ""
    w._on_commit()
    assert "Choose or type" in w.result.value and "path taken" not in w.result.value
    w.input.value = "No"
    w._on_commit()
    assert "Right" in w.result.value and "<strong>path taken</strong>" in w.result.value
    assert w.input.disabled and w.button.disabled and all(b.disabled for b in w.input.buttons)


def test_widget_text_mode():
    w = H.predict(question="What does trace need?", answer="example inputs", explanation="x")
    w.input.value = "Example   inputs"
    w._on_commit()
    assert "Right" in w.result.value


def test_static_fallback_hides_answer_behind_click():
    bundle = H.predict(**make())._repr_mimebundle_()
    assert "<details>" in bundle["text/html"] and "application/vnd.jupyter.widget-view+json" in bundle
    before_details = bundle["text/html"].split("<details>")[0]
    assert "path taken" not in before_details


# ---------------------------------------------------------------- typed answers, matched tolerantly

def typed(answer, given, **kw):
    p = H.Prediction(question="?", answer=answer, explanation="x", **kw)
    p.choose(given)
    p.commit()
    return p


@pytest.mark.parametrize("given", ["check_inputs", "`check_inputs`", "check_inputs=", "`check_inputs=`",
                                   "'check_inputs'", "“check_inputs”", "Check_Inputs.", "the check_inputs argument",
                                   "I think check_inputs", "= check_inputs"])
def test_one_normalisation_for_every_typed_answer(given):
    assert typed("check_inputs", given).correct, given


@pytest.mark.parametrize("given", ["check_trace", "not check_inputs", "check_inputs_extra",
                                   "check_inputs or check_trace or example_inputs, one of those"])
def test_near_misses_stay_wrong(given):
    assert typed("check_inputs", given).correct is False, given


@pytest.mark.parametrize("given", ["0", " `0` ", "= 0", "zero", "0 times", "none", "None.", "nothing"])
def test_synonyms_per_question(given):
    assert typed(0, given, accept=["none", "nothing"]).correct, given


def test_synonyms_belong_to_one_question():
    without = typed(0, "none")            # no accept=[...]: "none" is no number, so a hint, not a verdict
    assert not without.committed and "not a number" in without.hint
    # a question whose answer is the text None: "zero" is not that answer, "none" is
    assert typed("None", "zero").correct is False
    assert typed("None", "`None`").correct


@pytest.mark.parametrize("given", ["five", "5 times", "5.0", "`5`", "it runs 5 times"])
def test_numbers_in_words_and_sentences(given):
    assert typed(5, given).correct, given


def test_malformed_answer_gets_a_hint_and_does_not_lock():
    p = H.Prediction(question="How many?", answer=5, explanation="Count them.")
    p.choose("lots")
    hint = p.commit()
    assert "not a number" in hint and "again" in hint
    assert not p.committed and not p.explanation_visible
    p.choose("between 4 and 6")   # two numbers: which one?
    assert "not a number" in p.commit() and not p.committed
    p.choose("5")
    assert p.commit().startswith("✔") and p.committed
    q = H.Prediction(question="Name it", answer="trace", explanation="x")
    q.choose(" `` ")
    assert "Choose or type" in q.commit() and not q.committed


def test_widget_hint_does_not_lock_the_text_box():
    w = H.predict(question="How many?", answer=5, explanation="x")
    w.input.value = "many"
    w._on_commit()
    assert "not a number" in w.result.value and not w.input.disabled and not w.button.disabled
    w.input.value = "five"
    w._on_commit()
    assert "Right" in w.result.value and w.input.disabled


def test_accept_is_for_typed_answers_only():
    with pytest.raises(ValueError, match="accept"):
        H.Prediction(**make(accept=["nope"]))
    with pytest.raises(ValueError, match="accept must be a list"):
        H.Prediction(question="?", answer=0, explanation="x", accept="none")


# ---------------------------------------------------------------- code renders as code

def test_choices_and_feedback_render_code_as_code():
    w = H.predict(question="Which?", choices=["`[1, 2, 3]`: it negates", "`[-2, -4, -6]`: it doubles"],
                  answer="`[-2, -4, -6]`: it doubles", explanation="The `if` is gone.")
    labels = [row.children[1].value for row in w.input.children]
    assert "<code>[1, 2, 3]</code>: it negates" in labels[0] and "`" not in "".join(labels)
    w.input.buttons[1].value = True             # the learner clicks B
    assert w.input.value == "`[-2, -4, -6]`: it doubles" and w.prediction.selected == w.input.value
    w.input.buttons[0].value = True             # changes their mind: only one choice stays pressed
    assert [b.value for b in w.input.buttons] == [True, False]
    w._on_commit()
    feedback = w.result.value.split("ts-explanation")[0]
    assert "<code>[1, 2, 3]</code>" in feedback and "<code>[-2, -4, -6]</code>" in feedback
    assert "`" not in w.result.value and "Not quite" in feedback
    static = w._repr_mimebundle_()["text/html"]
    assert "<li><code>[1, 2, 3]</code>: it negates</li>" in static and "`" not in static


def test_typed_feedback_quotes_what_was_typed():
    p = typed("trace", "Trace")
    assert p.feedback == "✔ Right: you said “Trace”."
