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
    q.choose("five")
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
    assert w.input.disabled and w.button.disabled


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
