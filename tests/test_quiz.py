"""The self-check quiz: scoring logic and what its view shows."""
import pytest

import helpers as H

QUESTIONS = [
    dict(question="Does trace keep an if?", choices=["yes", "no"], answer="no", explanation="It records one path."),
    dict(question="Does script need example inputs?", choices=["yes", "no"], answer="no", explanation="It compiles code."),
]


def test_score_follows_commits():
    q = H.Quiz(QUESTIONS)
    assert q.summary().startswith("Score so far: 0 / 0")
    q.items[0].choose("no")
    q.items[0].commit()
    q.items[1].choose("yes")
    q.items[1].commit()
    assert (q.answered, q.score) == (2, 1)
    assert q.summary().startswith("Final score: 1 / 2")


def test_widget_updates_score_line_on_commit():
    w = H.quiz(QUESTIONS)
    assert "Q1." in w.questions[0].question.value
    w.questions[0].input.value = "no"
    w.questions[0].button.click()
    assert "1 / 1 answered" in w.score.value
    assert "Right" in w.questions[0].result.value


@pytest.mark.parametrize("bad, error", [([], ValueError), ("q", ValueError), ([42], TypeError)])
def test_bad_questions(bad, error):
    with pytest.raises(error):
        H.Quiz(bad)


def test_question_without_answer_is_refused():
    with pytest.raises(ValueError, match="correct answer"):
        H.Quiz([dict(question="?", answer=None, explanation="x")])


def test_static_fallback_lists_every_question_with_hidden_answers():
    bundle = H.quiz(QUESTIONS)._repr_mimebundle_()
    assert bundle["text/html"].count("<details>") == 2 and "Q2." in bundle["text/html"]


def test_final_message_says_what_the_score_means_only():
    q = H.Quiz(QUESTIONS)
    for item in q.items:
        item.choose(item.answer)
        item.commit()
    assert q.summary() == "Final score: 2 / 2. You predicted every answer."
