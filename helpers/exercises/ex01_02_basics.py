"""Exercise checkers for 01_dynamic_models and 02_what_is_torchscript.

Each checker prints one line starting with ✔ or ✘ that says what to do next, and returns True or
False. The right answers are computed here from the models themselves, never typed in.
"""
import numbers
import operator
import re

import torch

from ..tools.path_recorder import own_line_counts, record_path
from ..course.deprecations import deprecations_hidden
from ..course.failures import short_message
from ..course.guards import TimeLimitReached, time_limit, with_article
from ..models import BranchModel, LoopModel
from ._common import as_model as _as_model, describe, dtype_mistake, learner_code, on_copies, same_tensor as _same, shortened

__all__ = ["PATH_QUESTIONS", "check_path_answers", "check_halving_model", "check_type_fix", "check_count_kind"]


def _gist(error) -> str:
    """The line of an error that says what went wrong, as a sentence ending in a full stop."""
    line = re.sub(r"^\w+(Error|Exception): ", "", short_message(error)).rstrip(":. ")
    return line if line.endswith(("…", "?", "!")) else line + "."  # a cut line ends in "…" already


# ---------------------------------------------------------------- 01, exercise 1: read the path

# question -> (model class, input, line to watch, how the answer is phrased)
PATH_QUESTIONS = {
    "loop, input of shape (12, 3): runs of the loop body": (LoopModel, lambda: torch.ones(12, 3), "h = h + x[i]", "count"),
    "loop, input of shape (3, 40): runs of the loop body": (LoopModel, lambda: torch.ones(3, 40), "h = h + x[i]", "count"),
    "branch, tensor([5., -2.]): 'double' or 'negate'": (BranchModel, lambda: torch.tensor([5.0, -2.0]), "return x * 2", "branch"),
    "branch, tensor([-3., 1., 2.]): 'double' or 'negate'": (BranchModel, lambda: torch.tensor([-3.0, 1.0, 2.0]), "return x * 2", "branch"),
}


def _true_path_answer(question):
    model_class, make_input, fragment, kind = PATH_QUESTIONS[question]
    record = record_path(model_class(), make_input())
    if kind == "count":
        return record.count(fragment)
    return "double" if record.ran(fragment) else "negate"


def _whole_number(given):
    """``given`` as an int when it is a whole number in any dress (7, "7", "7 times", "7.0", 7.0, a NumPy integer, a one-value
    tensor holding 7 or 7.0), else None (a bool, NaN, 7.5, words)."""
    if isinstance(given, bool):
        return None
    if isinstance(given, torch.Tensor):
        if given.numel() != 1 or given.dtype == torch.bool:
            return None
        given = given.item()
    if isinstance(given, str):
        given = re.sub(r"\s*\b(times?|runs?)\s*$", "", given.strip())  # "12 times" says 12 too
        try:
            given = float(given.strip())
        except ValueError:
            return None
    if isinstance(given, float):
        return int(given) if given.is_integer() else None  # 7.0 is a whole number too (NaN, inf and 7.5 are not)
    try:  # an int, or a NumPy integer
        return operator.index(given)
    except (TypeError, ValueError):
        return None


def check_path_answers(answers) -> bool:
    """01: ``answers`` maps each question of ``PATH_QUESTIONS`` to a number of runs or 'double'/'negate'."""
    if not isinstance(answers, dict):
        print(f"✘ Give a dict from each question to your answer; you gave {describe(answers)}.")
        return False
    unknown = [key for key in answers if key not in PATH_QUESTIONS]
    if unknown:  # an edited key: its answer would be ignored, and its question reported empty
        print(f"✘ {unknown[0]!r} is not one of the questions: keep each key exactly as given (copy it from the "
              "exercise cell), and change only the answers.")
        return False
    missing = [q for q in PATH_QUESTIONS if answers.get(q) is None]
    if missing:
        gone = [q for q in missing if q not in answers]  # a deleted line is missing, not empty
        state = ("missing (copy the exercise cell's dict again)" if len(gone) == len(missing) else
                 "still empty" if not gone else "missing or still empty")
        print(f"✘ Answer every question first: {len(missing)} {state}, e.g. {missing[0]!r}.")
        return False
    for question in PATH_QUESTIONS:
        given, right = answers[question], _true_path_answer(question)
        if isinstance(right, int):
            number = _whole_number(given)
            if number != right:
                hint = ("that is how often the `for` line runs (its last test leaves the loop); the body runs once "
                        "per row" if number is not None and number == right + 1 else
                        "count the rows: the loop is `for i in range(x.size(0))`"
                        if number is not None else "answer with a whole number")
                print(f"✘ Not yet: {question!r} — you said {given!r}; {hint}. "
                      "Check with H.record_path.")
                return False
        elif str(given).strip().lower() not in ("double", "negate"):
            print(f"✘ Not yet: {question!r} — you said {given!r}; answer with one of the two words "
                  "'double' or 'negate'.")
            return False
        elif str(given).strip().lower() != right:
            make_input = PATH_QUESTIONS[question][1]
            # The tie is the classic slip: a zero sum is not greater than zero.
            tie = " (is 0 greater than 0?)" if make_input().sum() == 0 else ""
            print(f"✘ Not yet: {question!r} — you said {given!r}. The branch is chosen by `x.sum() > 0`: "
                  f"work out the sum{tie} and compare it with 0, or check with H.record_path.")
            return False
    print("✔ All right: the number of loop runs follows the input's rows, and the branch follows its values.")
    return True


# ---------------------------------------------------------------- 01, exercise 2: a loop the data controls

def _halve_until_small(x):
    while x.abs().max() > 1:
        x = x / 2
    return x


# Both sides of the threshold: |value| exactly 1 stays, just above 1 halves once, 2 halves once to 1,
# a large negative value (the abs matters) halves six times.
_HALVING_INPUTS = [torch.tensor([0.5, -0.25]), torch.tensor([1.0, -1.0]), torch.tensor([1.5, 0.0]),
                   torch.tensor([3.0, 1.0]), torch.tensor([2.0, -0.5]), torch.tensor([-40.0, 2.0]),
                   torch.tensor([-3.0, 0.5]), torch.tensor([5000.0, 0.0]),  # 13 halvings: no cap of 10 passes
                   torch.tensor([1e30, 0.0]),  # 100 halvings: nor does a cap of 20, or of any round number below
                   # the largest value second: a loop on x[0] alone stops at once; values that cancel: one on
                   # x.sum() (BranchModel's condition) never starts
                   torch.tensor([0.5, -3.0]), torch.tensor([3.0, -3.0]),
                   # no |value| above 1, its norm not either (0.99), the sum of its |values| is: left alone
                   torch.tensor([0.7, 0.7]),
                   # just above 1: halved once; a threshold above 1 (> 1.2, say) leaves it alone, and the float32
                   # just above 1 is left alone by any threshold above 1 (> 1 + 1e-3, > 1.005)
                   # float32's last value below 1: left alone, though any threshold below 1 (> 1 - 1e-3) halves it
                   torch.tensor([1 - 2 ** -24, 0.0]),
                   torch.tensor([1.01, 0.0]), torch.tensor([1 + 2 ** -23, 0.0])]  # float32's next value after 1
_JUST_BELOW_ONE, _JUST_ABOVE_ONE = _HALVING_INPUTS[-3], _HALVING_INPUTS[-2:]

# Conditions a learner writes instead of `x.abs().max() > 1`, each named when the outputs follow it on every input.
_OTHER_CONDITIONS = [
    (lambda x: x.abs().max() >= 1, "you halved once more when the largest |value| was exactly 1. 1 is not above 1: "
                                   "keep halving while x.abs().max() > 1 (with `>`, not `>=`)."),
    (lambda x: x.norm() > 1, "your loop compares the norm of x (the square root of the sum of squares) with 1, which "
                             "is above 1 for [1, -1] although no |value| is: compare the largest |value|, "
                             "x.abs().max() > 1."),
    (lambda x: x.abs().sum() > 1, "your loop compares the sum of the |values| with 1, which is above 1 for [1, -1] "
                                  "although no |value| is: compare the largest |value|, x.abs().max() > 1."),
    (lambda x: x.max() > 1, "your loop compares the largest value with 1, without abs(), so a large negative value "
                            "such as -40 is not counted: compare the largest |value|, x.abs().max() > 1."),
]


def _halved_while(condition, x):
    while condition(x):
        x = x / 2
    return x


def _follows(model, condition) -> bool:
    """Whether ``model`` gives, on every test input, what halving while ``condition`` gives (never raises)."""
    try:
        with time_limit(5.0):
            return all(_same(model(x.clone()), _halved_while(condition, x)) for x in _HALVING_INPUTS)
    except (Exception, TimeLimitReached):
        return False


def _halves_just_below_one(model) -> bool:
    """Whether ``model`` halves float32's last value below 1, which is not above 1 (never raises)."""
    try:
        with time_limit(5.0):
            return _same(model(_JUST_BELOW_ONE.clone()), _JUST_BELOW_ONE / 2)
    except (Exception, TimeLimitReached):
        return False


def _halvings(x) -> int:
    steps = 0
    while x.abs().max() > 1:
        x, steps = x / 2, steps + 1
    return steps


def check_halving_model(model) -> bool:
    """01: ``model`` halves its input while any |value| > 1, in a loop whose length the data decides."""
    if isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        print("✘ Pass your eager nn.Module: this check follows forward's Python lines as they run, and a scripted "
              "copy has none.")
        return False
    model = _as_model(model, "check_halving_model")
    if model is None:
        return False
    for x in _HALVING_INPUTS:
        given = x.clone()
        try:
            with time_limit(5.0):
                got = model(given)
        except TimeLimitReached:
            print(f"✘ Your model did not finish on {x} within 5 s: does each pass change what the condition reads? "
                  "`x / 2` alone computes a value and drops it (write `x = x / 2`), and a condition worked out once "
                  "before the loop (`big = ...`, then `while big:`) never changes: write the test in the `while` line.")
            return False
        except OverflowError as error:  # 2 ** k as a Python number (k from a logarithm, or counted): too big here
            print(f"✘ Your model failed on {x}: OverflowError: {_gist(error)} A power of 2 computed as a Python number "
                  "(2 ** k) overflows on an input this large; halve the tensor itself instead, in the loop: "
                  "`while x.abs().max() > 1: x = x / 2`.")
            return False
        except Exception as error:  # the learner's code failing is feedback, not a crash
            print(f"✘ Your model failed on {x}: {type(error).__name__}: {_gist(error)}")
            return False
        if not torch.equal(given, x):
            print(f"✘ Your forward changed the caller's tensor: after the call, the input {x} had become {given}. "
                  "An operation in place did it: `x /= 2`, or a method ending in _ (x.div_(2), x.abs_()). Write ones "
                  "that make new tensors: `x = x / 2`, x.abs().")
            return False
        want = _halve_until_small(x)
        if not isinstance(got, torch.Tensor):
            print(f"✘ For {x} your model returns {describe(got)}: return the halved tensor itself, one tensor shaped "
                  "like x.")
            return False
        if got.shape != want.shape:
            print(f"✘ For {x} your model returns shape {tuple(got.shape)}, where x has shape {tuple(x.shape)}: return "
                  "x itself, halved, with no dimension added or removed.")
            return False
        if dtype_mistake(got, want, "Your model"):
            print(f"✘ {dtype_mistake(got, want, 'Your model')}")
            return False
        if not _same(got, want):
            # the input just above 1 comes last: a model right on every other one, that leaves this one alone,
            # compares with a threshold above 1
            if any(x is near for near in _JUST_ABOVE_ONE) and torch.equal(got, x):
                print(f"✘ Not yet: you leave {x} unchanged, but its largest |value| is {x.abs().max().item():.8g}, "
                      "above 1 (every input before it was right): halve while x.abs().max() > 1, with 1 itself as the "
                      "threshold.")
                return False
            if want.abs().max() <= 1 and _halves_just_below_one(model):  # 1, and even 0.99999994, halved
                print(f"✘ Not yet: for {x} you return {got}, expected {want}: you halve values that are not above 1, "
                      f"even {_JUST_BELOW_ONE.abs().max().item():.8g}, so your threshold is below 1 (an epsilon "
                      "\"for safety\"?): halve while x.abs().max() > 1, with 1 itself as the threshold.")
                return False
            named = next((why for condition, why in _OTHER_CONDITIONS if _follows(model, condition)), None)
            if named:
                print(f"✘ Not yet: for {x} you return {got}, expected {want}: {named}")
                return False
            print(f"✘ Not yet: for {x} you return {got}, expected {want}. "
                  "Halve while any |value| is above 1 (a `while` loop), and leave small inputs alone.")
            return False
    counts = {}
    for x in _HALVING_INPUTS:
        counts[tuple(x.tolist())] = own_line_counts(model, x.clone())  # forward, and any code of yours it calls
    # The loop: some line of forward whose run count follows the number of halvings the input needs, and
    # grows with it. A closed form (one division by a computed power of 2) has no such line.
    lines = set().union(*(c.keys() for c in counts.values()))

    def follows_halvings(line) -> bool:
        by_steps = {}
        for x, c in counts.items():
            by_steps.setdefault(_halvings(torch.tensor(x)), set()).add(c.get(line, 0))
        if any(len(runs) != 1 for runs in by_steps.values()):
            return False
        runs = [next(iter(by_steps[k])) for k in sorted(by_steps)]
        # never fewer runs for more halvings, and at least 3 different counts: a line that merely runs
        # or not (the two arms of an `if`) gives two
        return all(a <= b for a, b in zip(runs, runs[1:])) and len(set(runs)) >= 3

    if not any(follows_halvings(line) for line in lines):
        most = max((max(c.values(), default=0) for c in counts.values()), default=0)
        print("✘ The outputs are right, but no line of your code ran more often when more halvings were needed "
              f"(the busiest line ran at most {most} time{'s' * (most != 1)}, while [-40, 2] needs 6 halvings): the "
              "answer is computed without a loop the data controls. Write `while x.abs().max() > 1:` and halve "
              "inside it.")
        return False
    most_needed = max(_halvings(x) for x in _HALVING_INPUTS)
    fixed = [runs for line in lines for runs in [{c.get(line, 0) for c in counts.values()}]
             if len(runs) == 1 and next(iter(runs)) >= most_needed]  # range(100): its `if` runs 100 times on every input
    if fixed:  # a `for` of fixed length with an `if` inside: the data picks which rounds halve, not how many run
        print(f"✘ The outputs are right, but a line of your loop ran {max(max(r) for r in fixed)} times on every input, "
              "small or large: the loop's length is fixed, and an `if` inside it does the deciding. Let the data "
              "decide the length itself: `while x.abs().max() > 1:`.")
        return False
    print(f"✔ Right: a line of your code ran more often the more halvings the input needed (0 to "
          f"{max(_halvings(x) for x in _HALVING_INPUTS)}), and the caller's tensor was left untouched. "
          "Python decided the count each time, as it ran.")
    return True


# ---------------------------------------------------------------- 02, exercise 1: a type error

# [4., 3.]: the first element is not the smallest, so x.min() (which equals x[0] on the others) is caught.
_FIRST_INPUTS = [torch.tensor([3.0, 4.0]), torch.tensor([-1.0]), torch.tensor([4.0, 3.0]), torch.zeros(0)]


def _first_or_zero(x):
    if x.numel() == 0:
        return torch.zeros(())
    return x[0]


def _which_value(got, x) -> str:
    """", which is x's smallest value" and the like, when ``got`` is one of x's other values (else '')."""
    if x.numel() < 2:
        return ""
    named = [name for name, value in (("smallest value", x.min()), ("largest value", x.max()),
                                      ("last element", x[-1]), ("sum", x.sum()), ("mean", x.mean()))
             if torch.equal(got, value)]
    return f", which is x's {' and its '.join(named)}" if named else ""


def check_type_fix(fn) -> bool:
    """02: ``fn`` returns x[0], or a zero tensor for an empty x, and compiles with torch.jit.script."""
    if not callable(fn) or isinstance(fn, type):
        what = describe(fn)
        print(f"✘ Pass your function itself, e.g. check_type_fix(first_or_zero); you gave {what}.")
        return False
    if getattr(fn, "__name__", "") == "<lambda>":
        # torch.jit.script reads a function's source as one `def`: a lambda never compiles, whatever it returns
        print("✘ That is a lambda: torch.jit.script compiles only functions written with def. Write "
              "first_or_zero as a def with an if, as given, and change the return that TorchScript cannot type.")
        return False
    try:
        with deprecations_hidden():
            scripted = torch.jit.script(fn)
    except Exception as error:  # a compile error is the feedback this exercise is about
        # only a complaint about return types is the mistake this exercise sets; any other is named as it is
        gist = _gist(error)  # the message line only: the quoted source below it always holds a `return`
        advice = " Every return must give a Tensor: change the one that does not." if "return" in gist else ""
        print(f"✘ TorchScript still rejects it: {gist}{advice}")
        return False
    if not isinstance(scripted, torch.jit.ScriptFunction):  # a partial, a callable object: script hands it back
        print(f"✘ torch.jit.script compiled nothing from {describe(fn)}: pass the function you wrote with def "
              "itself, check_type_fix(first_or_zero).")
        return False
    uninitialised = sorted({n.kind() for n in scripted.graph.findAllNodes("aten::empty")
                            + scripted.graph.findAllNodes("aten::empty_like")
                            + scripted.graph.findAllNodes("aten::new_empty")})
    if uninitialised:  # what memory happens to hold is zero often enough to pass by luck: never a right answer
        print(f"✘ It compiles, but it returns {uninitialised[0]}'s tensor for an empty x: uninitialised memory, which "
              "holds whatever was there (zero, by luck, as often as not). Return a real zero, torch.zeros(()).")
        return False
    for x in _FIRST_INPUTS:
        want = _first_or_zero(x)
        if x.numel() == 0:
            # torch.empty gives whatever the memory held: a non-zero tensor made and freed just before may be what
            # it hands out next, so an uninitialised answer is less likely to pass as a zero by luck
            torch.full((4096,), 7.0).add_(1.0)
        try:
            got, changed = on_copies(scripted, x)
        except Exception as error:
            raised = re.match(r"builtins\.(\w+): (.*)", _gist(error))  # a raise in the compiled code: torch.jit.Error
            said = (f"your function raised {raised.group(1)}: {raised.group(2)}" if raised
                    else f"{type(error).__name__}: {_gist(error)}")
            print(f"✘ It compiles, but fails on {x}: {said}")
            return False
        if changed:
            print(f"✘ It compiles, but it changes its input in place (on {x}): the caller's tensor is altered. "
                  "Read x[0] without writing into x.")
            return False
        if not isinstance(got, torch.Tensor):
            print(f"✘ It compiles, but for {x} it returns {describe(got)}; expected the tensor {want}.")
            return False
        if got.shape != want.shape:
            # which return to change depends on the input: a non-empty x reaches the x[0] branch, an empty one the zero
            fix = ("Keep x[0] itself for a non-empty x: x[:1] or x[0:1] keeps a dimension, x[0] does not."
                   if x.numel() else "Make the zero for an empty x a scalar too: torch.zeros(()).")
            print(f"✘ It compiles, but for {x} it returns shape {tuple(got.shape)}, where x[0] has shape "
                  f"{tuple(want.shape)} (a 0-dimensional scalar). {fix}")
            return False
        if got.dtype != want.dtype:
            where = (f"where x is {x.dtype}, as x[0] is for a non-empty x" if x.numel() == 0 else
                     f"where x[0] of this float input is {want.dtype}")
            print(f"✘ It compiles, but for {x} it returns dtype {got.dtype}, {where}. Make the zero {want.dtype} "
                  "too, e.g. torch.zeros(()).")
            return False
        if not torch.equal(got, want):
            what = "For an empty x return a zero, torch.zeros(())." if x.numel() == 0 else "Keep x[0] for a non-empty input."
            print(f"✘ It compiles, but for {x} it returns {got}{_which_value(got, x)}; expected {want}. {what}")
            return False
    print("✔ Right: every return gives a Tensor now, so the compiler accepts it, and it gives x[0], or a scalar zero "
          "for an empty x.")
    return True


# ---------------------------------------------------------------- 02, exercise 2: walk the graph

def _reference_count(graph, kind):
    total = 0
    for node in graph.nodes():
        total += node.kind() == kind
        for block in node.blocks():
            total += _reference_count(block, kind)
    return total


def _every_node_in_blocks(graph, kind, top=True):
    """The count a walk gives that compares kinds at the top level only, and counts every node inside blocks."""
    total = 0
    for node in graph.nodes():
        total += (node.kind() == kind) if top else 1
        for block in node.blocks():
            total += _every_node_in_blocks(block, kind, top=False)
    return total


def _counted_twice_in_blocks(graph, kind, depth=0):
    """The count a walk gives that counts a node inside a block once per level of blocks around it and once
    more (a loop over ``block.nodes()`` beside the recursive call into the same block)."""
    total = 0
    for node in graph.nodes():
        total += (node.kind() == kind) * (1 if depth == 0 else 2)
        for block in node.blocks():
            total += _counted_twice_in_blocks(block, kind, depth + 1)
    return total


_COUNT_SECONDS = 5.0  # a count over these small graphs takes milliseconds; a walk that grows its list runs out of memory


def _block_slip(fn, cases) -> str:
    """Which slip inside blocks ``fn``'s counts follow, judged on the cases where the two slips give different
    numbers: "twice" (each node inside a block counted twice), "every" (every node there counted, or at least
    nodes of other kinds), "neither" (another slip), or "" when fn fails on one of those cases."""
    apart = [(graph, kind) for _, graph, kind in cases
             if _counted_twice_in_blocks(graph, kind) != _every_node_in_blocks(graph, kind)]
    try:
        with learner_code(_COUNT_SECONDS):
            got = [fn(graph, kind) for graph, kind in apart]
        if apart and all(g == _counted_twice_in_blocks(*case) for g, case in zip(got, apart)):
            return "twice"
        if apart and all(g == _every_node_in_blocks(*case) for g, case in zip(got, apart)):
            return "every"
        # nodes of other kinds counted: a kind the graph does not hold (aten::conv2d) gets a count above 0
        if any(isinstance(g, int) and g > 0 and _reference_count(*case) == 0 for g, case in zip(got, apart)):
            return "every"
        if apart:
            return "neither"
    except Exception:  # the learner's function failed on a later case: then the hint names both slips
        pass
    return ""


def _count_cases():
    """(label, graph, kind) triples; nested blocks are what a flat walk misses."""
    with deprecations_hidden():
        branch = torch.jit.script(BranchModel()).graph
        loop = torch.jit.script(LoopModel()).graph
        nested = torch.jit.script(_nested).graph
        deep = torch.jit.script(_three_deep).graph
        in_place = torch.jit.script(_mul_and_mul_).graph
        spelled = torch.jit.script(_mul_by_name).graph
    return [("BranchModel", branch, "aten::mul"), ("BranchModel", branch, "aten::sum"),
            ("LoopModel", loop, "aten::add"), ("LoopModel", loop, "prim::Loop"),
            ("a loop inside a branch", nested, "aten::mul"), ("BranchModel", branch, "aten::conv2d"),
            # a walk of fixed depth (a loop over blocks, and one over their blocks) stops short of this one
            (_DEEP_LABEL, deep, "aten::mul"),
            # aten::mul_ is another kind than aten::mul: a count of text or of a part of the name is too high
            ("aten::mul beside aten::mul_", in_place, "aten::mul"),
            # a string constant that reads like a node: any count of str(graph)'s text takes it for one
            (_SPELLED_LABEL, spelled, "aten::mul")]


def _mul_and_mul_(x: torch.Tensor) -> torch.Tensor:
    y = x * 3
    y.mul_(2)
    return y.mul_(2)


_SPELLED = "y = aten::mul(x, 2)"
_SPELLED_LABEL = "a string constant that spells aten::mul"


def _mul_by_name(x: torch.Tensor, op: str) -> torch.Tensor:
    if op == "y = aten::mul(x, 2)":  # the text of _SPELLED (a constant here, so that it sits in the graph)
        return x * 2
    return x


def _nested(x: torch.Tensor) -> torch.Tensor:
    if bool(x.sum() > 0):
        for _ in range(3):
            x = x * 2
    else:
        x = x * -1
    return x


_DEEP_LABEL = "an if in a loop in an if (three blocks deep)"


def _three_deep(x: torch.Tensor, n: int) -> torch.Tensor:
    if n > 0:
        for i in range(n):
            if i > 1:
                x = x * 2
    return x


def _names_used(fn) -> set:
    """The attribute and global names ``fn``'s code (its nested functions included) refers to."""
    found, codes = set(), [getattr(fn, "__code__", None)]
    while codes:
        code = codes.pop()
        if code is not None:
            found.update(code.co_names)
            codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return found


def check_count_kind(fn) -> bool:
    """02: ``fn(graph, kind)`` counts the nodes of ``kind``, including those nested in If/Loop blocks."""
    if not callable(fn) or isinstance(fn, type):
        print(f"✘ Pass your function itself, e.g. check_count_kind(count_kind); you gave {describe(fn)}.")
        return False
    cases = _count_cases()
    for label, graph, kind in cases:
        want = _reference_count(graph, kind)
        try:
            with learner_code(_COUNT_SECONDS):  # a walk that never ends (a worklist that is never advanced): one line
                got = fn(graph, kind)
        except Exception as error:
            print(f"✘ count_kind(graph of {label}, {kind!r}) failed: {type(error).__name__}: {_gist(error)}")
            return False
        if isinstance(got, bool) or not isinstance(got, int):
            integral = isinstance(got, numbers.Integral) and not isinstance(got, bool) or (
                isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point()
                and got.dtype != torch.bool)
            wrap = " It is an integer of another type: wrap the count in int(...)." if integral else ""
            print(f"✘ count_kind should return a Python int; for the graph of {label} and {kind!r} it "
                  f"returned {shortened(repr(got))} ({type(got).__name__}).{wrap}")
            return False
        if got != want:
            twice, every = _counted_twice_in_blocks(graph, kind), _every_node_in_blocks(graph, kind)
            slip = _block_slip(fn, cases) if got in (twice, every) else ""  # calls fn on every case: only if needed
            if got < want and label == _DEEP_LABEL:
                hint = (" Your walk stops short of this node, three blocks deep: a loop for each level reaches only "
                        "as deep as you wrote loops. Walk each block with the same function, so that it goes as deep "
                        "as the blocks do.")
            elif got < want:
                hint = (" A full count takes the graph's own nodes and, inside each prim::If or prim::Loop, the nodes "
                        "of its node.blocks(), walked the same way.")
            elif got == twice and slip == "twice":
                # read from the counts alone, not the code: say what usually gives them, as a likelihood
                hint = (" That is too many: your walk counts each node inside a block twice, on every graph tried; "
                        "the usual cause is a loop over block.nodes() beside a recursive call on the same block (or "
                        "findAllNodes, which already looks inside blocks, added to a walk of your own): keep one.")
            elif got == every == twice and slip == "":
                hint = (" That is too many, inside the blocks: either your walk counts every node there (compare "
                        "node.kind() == kind there too, as at the top), or it counts each one twice (a loop over "
                        "block.nodes() beside a recursive call on the same block: keep one).")
            elif got == every and slip == "every":
                hint = (" That is too many: inside the blocks your walk counts every node; compare node.kind() == kind "
                        "there too, as at the top.")
            elif label == _SPELLED_LABEL:
                hint = (f" That is too many: this graph has {want} {kind} node, and a prim::Constant holding the string "
                        f"{_SPELLED!r}, which is no node. A count of text (str(graph) or str(node)) counts that "
                        "string too: compare node.kind() == kind.")
            elif got == want + sum(node.kind() == kind for node in graph.nodes()):
                hint = (" That is too many by the graph's own top-level nodes of that kind: your count takes them "
                        "twice (findAllNodes already includes them, beside its search inside the blocks): keep one.")
            elif any(node.kind() == f"{kind}_" for node in graph.findAllNodes(f"{kind}_")):
                hint = (f" That is too many: this graph also has {kind}_ nodes, and {kind}_ is another kind than {kind}: "
                        "a test on part of the name (or on text, str(node)) counts them too. Compare node.kind() == kind.")
            else:
                hint = (" That is too many: count each node once, by node.kind() == kind (a test on text, str(node) "
                        "or str(graph), also counts what the node's line mentions).")
            print(f"✘ Not yet: count_kind(graph of {label}, {kind!r}) gave {got!r}, expected {want}.{hint}")
            return False
    names = _names_used(fn)
    if "findAllNodes" in names and "blocks" not in names:
        # torch's own search is a right answer, but the walk it does is the exercise's lesson: say whose it was
        print(f"✔ Right: your count matches on all {len(cases)} cases. graph.findAllNodes(kind) did the walk for you "
              "(it looks inside every node.blocks(), recursively, by default), which is fine; the solution writes "
              "that walk out, in solutions/02_what_is_torchscript.py.")
        return True
    print(f"✔ Right: your count matches on all {len(cases)} cases, the nodes inside prim::If and prim::Loop "
          "blocks included, and it tells aten::mul from aten::mul_ and from a string that spells it.")
    return True
