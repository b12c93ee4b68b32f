"""Prediction widgets: commit an answer, then see why (introduced in 00_start_here).

``Prediction`` holds the logic and is driven by pytest without a browser; ``PredictionWidget``
is a thin ipywidgets view of it. ``H.predict(...)`` builds both and returns the widget.
"""
import html
import math

import ipywidgets as widgets
import mistune

__all__ = ["Prediction", "PredictionWidget", "predict"]

_markdown = mistune.create_markdown(escape=False)


def markdown_html(text: str) -> str:
    """Markdown (as written in the notebooks) to the HTML a widget shows."""
    return _markdown(text or "")


def _normalise(text) -> str:
    return " ".join(str(text).strip().lower().split())


class Prediction:
    """A question whose explanation stays hidden until an answer is committed."""

    def __init__(self, question, answer, explanation, choices=None, tolerance=0.0):
        if not isinstance(question, str) or not question.strip():
            raise ValueError("predict() needs a question: predict('What will it print?', answer=..., explanation=...)")
        if answer is None:
            raise ValueError("predict() needs the correct answer: pass answer=... (one of the choices, a number, "
                             "a text or a function that checks the learner's answer)")
        if not isinstance(explanation, str) or not explanation.strip():
            raise ValueError("predict() needs an explanation to reveal after the commit: pass explanation='...'")
        if choices is not None:
            choices = [str(c) for c in choices]
            if len(choices) < 2:
                raise ValueError("predict() needs at least two choices, or choices=None for a typed answer")
            if not callable(answer) and str(answer) not in choices:
                raise ValueError(f"predict(): the answer {answer!r} is not one of the choices {choices}")
        self.question, self.answer, self.explanation = question, answer, explanation
        self.choices, self.tolerance = choices, tolerance
        self.selected = None
        self.committed = False
        self.correct = None

    def choose(self, value) -> None:
        """Pick (or type) an answer; changing it is allowed until it is committed."""
        if self.committed:
            return  # the answer is locked once committed: the widget disables its inputs too
        if self.choices is not None and value is not None and str(value) not in self.choices:
            raise ValueError(f"{value!r} is not one of the choices {self.choices}")
        self.selected = value

    def _is_correct(self, value) -> bool:
        if callable(self.answer):
            return bool(self.answer(value))
        if isinstance(self.answer, (int, float)) and not isinstance(self.answer, bool):
            try:
                number = float(str(value).strip())
            except ValueError:
                return False
            return math.isclose(number, self.answer, rel_tol=self.tolerance, abs_tol=self.tolerance)
        return _normalise(value) == _normalise(self.answer)

    def commit(self) -> str:
        """Lock the answer in and return the feedback; the explanation becomes visible."""
        if self.committed:
            return self.feedback
        if self.selected is None or not str(self.selected).strip():
            return "Choose or type an answer first, then commit it."
        self.committed = True
        self.correct = self._is_correct(self.selected)
        return self.feedback

    @property
    def explanation_visible(self) -> bool:
        return self.committed

    @property
    def feedback(self) -> str:
        if not self.committed:
            return ""
        if self.correct:
            return f"✔ Right: you said “{self.selected}”."
        right = "" if callable(self.answer) else f" The answer is “{self.answer}”."
        return f"✘ Not quite: you said “{self.selected}”.{right}"

    def reveal_text(self) -> str:
        """What the learner sees under the question: nothing before the commit."""
        return f"{self.feedback}\n\n{self.explanation}" if self.committed else ""

    def __repr__(self):
        return f"<Prediction {self.question[:40]!r} committed={self.committed} correct={self.correct}>"


class PredictionWidget(widgets.VBox):
    """The view: question, choices or a text box, a commit button, then feedback and explanation."""

    def __init__(self, prediction: Prediction):
        self.prediction = prediction
        self.question = widgets.HTML(f"<b>Predict:</b> {markdown_html(prediction.question)}")
        if prediction.choices is not None:
            self.input = widgets.RadioButtons(options=prediction.choices, value=None,
                                              layout=widgets.Layout(width="auto"))
        else:
            self.input = widgets.Text(placeholder="type your answer")
        self.button = widgets.Button(description="Commit my answer", button_style="primary", icon="lock")
        self.result = widgets.HTML("")
        self.input.observe(self._on_input, names="value")
        self.button.on_click(self._on_commit)
        super().__init__([self.question, self.input, self.button, self.result])

    def _on_input(self, change):
        self.prediction.choose(change["new"])

    def _on_commit(self, _button=None):
        message = self.prediction.commit()
        if not self.prediction.committed:
            self.result.value = f"<i>{html.escape(message)}</i>"
            return
        self.input.disabled = True
        self.button.disabled = True
        self.button.description = "Committed"
        colour = "#1a7f37" if self.prediction.correct else "#b35900"
        self.result.value = (f"<div style='color:{colour}'><b>{html.escape(message)}</b></div>"
                             f"<div class='ts-explanation'>{markdown_html(self.prediction.explanation)}</div>")

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Front ends without widgets (a static HTML render) get the question with the answer behind a click.
        p = self.prediction
        choices = "".join(f"<li>{html.escape(c)}</li>" for c in (p.choices or []))
        bundle["text/html"] = (f"<div><b>Predict:</b> {markdown_html(p.question)}<ul>{choices}</ul>"
                               f"<details><summary>Commit to an answer, then click to reveal</summary>"
                               f"<p>Answer: {html.escape(str(p.answer)) if not callable(p.answer) else ''}</p>"
                               f"{markdown_html(p.explanation)}</details></div>")
        bundle["text/plain"] = f"Predict: {p.question} (run in JupyterLab to answer)"
        return bundle


def predict(question, answer, explanation, choices=None, tolerance=0.0) -> PredictionWidget:
    """Ask the learner to commit a prediction before the explanation appears."""
    return PredictionWidget(Prediction(question, answer, explanation, choices=choices, tolerance=tolerance))
