"""A self-check quiz built from prediction questions (introduced in 08_myth_busters).

``Quiz`` is the logic (a list of ``Prediction`` objects and a score) that pytest drives;
``quiz(questions)`` shows each question as a prediction widget plus a live score line.
"""
import ipywidgets as widgets

from .predict import Prediction, PredictionWidget

__all__ = ["Quiz", "quiz"]


class Quiz:
    """Questions given as dicts of ``Prediction`` arguments; tracks how many are answered and right."""

    def __init__(self, questions):
        if not isinstance(questions, (list, tuple)) or not questions:
            raise ValueError("quiz() needs a non-empty list of questions, each a dict with question, "
                             "answer, explanation and optionally choices")
        self.items = []
        for number, q in enumerate(questions, 1):
            if not isinstance(q, dict):
                raise TypeError(f"quiz question {number} must be a dict like "
                                "{'question': ..., 'answer': ..., 'explanation': ..., 'choices': [...]}")
            self.items.append(Prediction(**q))

    @property
    def answered(self) -> int:
        return sum(p.committed for p in self.items)

    @property
    def score(self) -> int:
        return sum(bool(p.correct) for p in self.items)

    def summary(self) -> str:
        total = len(self.items)
        if self.answered < total:
            return f"Score so far: {self.score} / {self.answered} answered ({total - self.answered} to go)."
        # What the score measures, and nothing more: predictions right on these questions.
        missed = total - self.score
        verdict = ("You predicted every answer." if not missed else
                   f"{missed} missed: their explanations say what to revisit.")
        return f"Final score: {self.score} / {total}. {verdict}"


class QuizWidget(widgets.VBox):
    """Thin view: one prediction widget per question and a score line that follows the commits."""

    def __init__(self, logic: Quiz):
        self.logic = logic
        self.score = widgets.HTML(f"<b>{logic.summary()}</b>")
        self.questions = [PredictionWidget(p) for p in logic.items]
        for number, view in enumerate(self.questions, 1):
            view.question.value = view.question.value.replace("<b>Predict:</b>", f"<b>Q{number}.</b>", 1)
            view.button.on_click(self._update)
        super().__init__(self.questions + [self.score])

    def _update(self, _button=None):
        self.score.value = f"<b>{self.logic.summary()}</b>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Without widgets (a static HTML page): every question with its answer behind a click.
        parts = [q._repr_mimebundle_()["text/html"].replace("<b>Predict:</b>", f"<b>Q{n}.</b>", 1)
                 for n, q in enumerate(self.questions, 1)]
        bundle["text/html"] = "<div>" + "".join(parts) + "</div>"
        bundle["text/plain"] = f"Self-check quiz: {len(self.questions)} questions (run in JupyterLab to answer)"
        return bundle


def quiz(questions) -> QuizWidget:
    """A self-check quiz: one committed answer per question, then the explanation and a running score."""
    return QuizWidget(Quiz(questions))
