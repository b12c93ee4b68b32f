"""Prediction widgets: commit an answer, then see why (introduced in 00_start_here).

``Prediction`` holds the logic (matching a typed answer, locking it, the feedback) and is driven
by pytest without a browser; ``PredictionWidget`` is a thin ipywidgets view of it whose choices and
feedback render Markdown, so `code` shows as code. ``H.predict(...)`` builds both and returns the widget.
"""
import html
import math
import re

import ipywidgets as widgets
import mistune
import traitlets

__all__ = ["Prediction", "PredictionWidget", "predict", "normalise_answer"]

_markdown = mistune.create_markdown(escape=False)


def markdown_html(text: str) -> str:
    """Markdown (as written in the notebooks) to the HTML a widget shows."""
    return _markdown(text or "")


def inline_html(text: str) -> str:
    """One line of Markdown as inline HTML (no surrounding <p>), for labels and feedback lines."""
    out = markdown_html(text).strip()
    return out[3:-4] if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1 else out


# Typed answers: what a learner may wrap around the answer without changing it.
_QUOTES = "`'\"“”‘’«»"
_FILLER = {"the", "a", "an", "it", "its", "it's", "is", "it is", "i", "think", "answer", "my", "would", "be",
           "will", "should", "probably", "maybe", "about", "exactly", "just", "only", "say", "says", "guess",
           "use", "with", "by", "of", "to", "and", "you", "get", "gets", "argument", "parameter", "times"}
_NEGATION = re.compile(r"\b(not|no|never|isn't|doesn't|won't|don't|cannot|can't|without)\b")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}


def normalise_answer(text) -> str:
    """One normalisation for every typed answer: case, quotes/backticks, `=`, spaces and end punctuation.

    ``" `Check_Inputs=` "`` and ``"check_inputs"`` both give ``"check_inputs"``.
    """
    text = str(text).strip().lower()
    text = "".join(" " if ch in _QUOTES else ch for ch in text)
    text = re.sub(r"\s*=\s*$", "", text.strip())          # `check_inputs=`: the keyword as typed in a call
    text = re.sub(r"^[\s=:]+|[\s.,;:!?]+$", "", text)    # "= 5", "5.", "check_inputs!"
    return " ".join(text.split())


def _words(text: str) -> list:
    return re.findall(r"[\w.\[\]()+\-*/<>=,]+", text)


def _contains_phrase(text: str, phrase: str) -> bool:
    """``phrase`` appears in ``text`` as whole words (so 'trace' is not found in 'retrace')."""
    return re.search(rf"(?<![\w.]){re.escape(phrase)}(?![\w])", text) is not None


class Prediction:
    """A question whose explanation stays hidden until an answer is committed.

    ``choices``: the learner picks one (Markdown, rendered in the widget). Without choices the answer is
    typed: a number (``answer=5``, within ``tolerance``), a text, or a function that checks the text.
    ``accept``: more typed answers that count as right for this question only (``accept=["zero", "none"]``).
    """

    def __init__(self, question, answer, explanation, choices=None, tolerance=0.0, accept=None):
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
            if len(set(choices)) != len(choices):
                raise ValueError("predict(): two choices are the same; make each one different")
            if not callable(answer) and str(answer) not in choices:
                raise ValueError(f"predict(): the answer {answer!r} is not one of the choices {choices}")
            if accept:
                raise ValueError("predict(): accept=[...] is for typed answers; with choices, the answer is one choice")
        if accept is not None and (isinstance(accept, str) or not all(isinstance(a, str) for a in accept)):
            raise ValueError("predict(): accept must be a list of texts, e.g. accept=['zero', 'none']")
        self.question, self.answer, self.explanation = question, answer, explanation
        self.choices, self.tolerance = choices, tolerance
        self.accept = {normalise_answer(a) for a in (accept or [])}
        self.selected = None
        self.committed = False
        self.correct = None
        self.hint = ""

    @property
    def numeric(self) -> bool:
        return isinstance(self.answer, (int, float)) and not isinstance(self.answer, bool)

    def choose(self, value) -> None:
        """Pick (or type) an answer; changing it is allowed until it is committed."""
        if self.committed:
            return  # the answer is locked once committed: the widget disables its inputs too
        if self.choices is not None and value is not None and str(value) not in self.choices:
            raise ValueError(f"{value!r} is not one of the choices {self.choices}")
        self.selected = value
        self.hint = ""

    def _number_in(self, text: str):
        """The one number a typed answer gives ("5", "5 times", "five", "= 5.0"), else None."""
        found = [w for w in _words(text) if re.fullmatch(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", w) or w in _NUMBER_WORDS]
        if len(found) != 1:
            return None
        word = found[0]
        return float(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else float(word)

    def problem(self, value):
        """Why a typed answer cannot be judged (a hint to try again), or None if it can."""
        text = normalise_answer("" if value is None else value)
        if not text:
            return "Choose or type an answer first, then commit it."
        if self.choices is None and self.numeric and text not in self.accept and self._number_in(text) is None:
            return f"“{value}” is not a number I can read: type one number, e.g. 3, then commit again."
        return None

    def _is_correct(self, value) -> bool:
        if self.choices is not None:
            return str(value) == str(self.answer) if not callable(self.answer) else bool(self.answer(value))
        text = normalise_answer(value)
        if text in self.accept:
            return True
        if callable(self.answer):
            return bool(self.answer(value))
        if self.numeric:
            number = self._number_in(text)
            return (number is not None and not _NEGATION.search(text)  # "not 6" does not answer 6
                    and math.isclose(number, self.answer, rel_tol=self.tolerance, abs_tol=self.tolerance))
        want = normalise_answer(self.answer)
        if text == want:
            return True
        # The answer inside a few words around it ("I think check_inputs"), but not negated.
        extra = [w for w in _words(text.replace(want, " ")) if w not in _FILLER]
        return _contains_phrase(text, want) and len(extra) <= 2 and not _NEGATION.search(text)

    def commit(self) -> str:
        """Lock the answer in and return the feedback; the explanation becomes visible.

        An empty or unreadable answer is not locked: the returned hint says what to type instead.
        """
        if self.committed:
            return self.feedback
        self.hint = self.problem(self.selected) or ""
        if self.hint:
            return self.hint
        self.committed = True
        self.correct = self._is_correct(self.selected)
        return self.feedback

    @property
    def explanation_visible(self) -> bool:
        return self.committed

    @property
    def feedback(self) -> str:
        """One line of Markdown: what the learner said and, if wrong, the answer."""
        if not self.committed:
            return ""
        said = str(self.selected).strip()
        if self.correct:
            return f"✔ Right: you said {_quoted(said)}."
        right = "" if callable(self.answer) else f" The answer is {_quoted(str(self.answer))}."
        return f"✘ Not quite: you said {_quoted(said)}.{right}"

    def reveal_text(self) -> str:
        """What the learner sees under the question: nothing before the commit."""
        return f"{self.feedback}\n\n{self.explanation}" if self.committed else ""

    def __repr__(self):
        return f"<Prediction {self.question[:40]!r} committed={self.committed} correct={self.correct}>"


def _quoted(text: str) -> str:
    """A choice keeps its Markdown (its `code` renders as code); a typed text is shown as typed."""
    return text if "`" in text else f"“{text}”"


class ChoiceView(widgets.VBox):
    """Choices as rows of [letter button | rendered Markdown label]; ``value`` is the chosen text.

    ipywidgets' RadioButtons can only show plain text, so each label is an HTML widget here.
    """

    value = traitlets.Any(None, allow_none=True)
    disabled = traitlets.Bool(False)

    def __init__(self, choices):
        self.choices = list(choices)
        self.buttons = []
        rows = []
        for i, choice in enumerate(self.choices):
            button = widgets.ToggleButton(value=False, description=chr(ord("A") + i), tooltip="choose this answer",
                                          layout=widgets.Layout(width="36px", min_width="36px"))
            button.add_class("ts-choice")
            button.observe(lambda change, c=choice: self._toggled(c, change["new"]), names="value")
            label = widgets.HTML(f"<span class='ts-choice-label'>{inline_html(choice)}</span>",
                                 layout=widgets.Layout(margin="0 0 0 8px"))
            self.buttons.append(button)
            rows.append(widgets.HBox([button, label], layout=widgets.Layout(align_items="center")))
        super().__init__(rows)

    def _toggled(self, choice, pressed):
        if pressed:
            self.value = choice
        elif self.value == choice:
            self.value = None

    @traitlets.observe("value")
    def _show_value(self, change):
        for choice, button in zip(self.choices, self.buttons):
            button.value = choice == change["new"]
            button.button_style = "info" if button.value else ""  # the chosen letter stands out

    @traitlets.observe("disabled")
    def _show_disabled(self, change):
        for button in self.buttons:
            button.disabled = change["new"]


class PredictionWidget(widgets.VBox):
    """The view: question, choices or a text box, a commit button, then feedback and explanation."""

    def __init__(self, prediction: Prediction):
        self.prediction = prediction
        self.question = widgets.HTML(f"<b>Predict:</b> {markdown_html(prediction.question)}")
        if prediction.choices is not None:
            self.input = ChoiceView(prediction.choices)
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
            self.result.value = f"<i>{html.escape(message)}</i>"  # try again: nothing is locked
            return
        colour = "#1a7f37" if self.prediction.correct else "#b35900"
        # the feedback first: a front end that shows "Committed" has already been sent what to show under it
        self.result.value = (f"<div style='color:{colour}'><b>{inline_html(message)}</b></div>"
                             f"<div class='ts-explanation'>{markdown_html(self.prediction.explanation)}</div>")
        self.input.disabled = True
        self.button.disabled = True
        self.button.description = "Committed"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Front ends without widgets (a static HTML render) get the question with the answer behind a click.
        p = self.prediction
        choices = "".join(f"<li>{inline_html(c)}</li>" for c in (p.choices or []))
        answer = "" if callable(p.answer) else f"<p>Answer: {inline_html(str(p.answer))}</p>"
        bundle["text/html"] = (f"<div><b>Predict:</b> {markdown_html(p.question)}<ul>{choices}</ul>"
                               f"<details><summary>Commit to an answer, then click to reveal</summary>"
                               f"{answer}{markdown_html(p.explanation)}</details></div>")
        bundle["text/plain"] = f"Predict: {p.question} (run in JupyterLab to answer)"
        return bundle


def predict(question, answer, explanation, choices=None, tolerance=0.0, accept=None) -> PredictionWidget:
    """Ask the learner to commit a prediction before the explanation appears.

    ``accept=[...]`` lists other typed answers that count as right for this question only.
    """
    return PredictionWidget(Prediction(question, answer, explanation, choices=choices, tolerance=tolerance,
                                       accept=accept))
