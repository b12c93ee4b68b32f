"""Input checks shared by every helper a learner calls (introduced in 00_start_here).

Each raises a one-line error that says what to pass instead, so a typo in a notebook cell
gives a sentence to act on rather than a traceback from deep inside torch.
"""
import contextlib
import os
import signal
import sys
import tempfile
import threading

import torch

__all__ = ["require_module", "require_tensor", "model_instance", "model_args"]


def require_module(obj, who: str = "this helper"):
    """Return ``obj`` if it is a torch model (``nn.Module`` or ``ScriptModule``), else raise TypeError."""
    if isinstance(obj, torch.nn.Module):
        return obj
    hint = ""
    if isinstance(obj, type):  # a model class wants its parentheses; any other class is not a model at all
        hint = (" (did you pass the class instead of an instance? add parentheses)" if issubclass(obj, torch.nn.Module)
                else f" (the class {obj.__name__}, which is not an nn.Module: write class {obj.__name__}(nn.Module))")
    raise TypeError(f"{who} expects a torch model (an nn.Module instance), got "
                    f"{'None' if obj is None else type(obj).__name__}{hint}")


def require_tensor(obj, who: str = "this helper"):
    """Return ``obj`` if it is a tensor, else raise TypeError naming what was passed."""
    if isinstance(obj, torch.Tensor):
        return obj
    raise TypeError(f"{who} expects a torch.Tensor input, got {type(obj).__name__}: wrap it with torch.tensor(...)")


def model_instance(model, who: str = "this checker", **kwargs):
    """An exercise answer as a module instance: a class is built with ``kwargs`` (usually none)."""
    if isinstance(model, type):
        try:
            model = model(**kwargs)
        except TypeError as error:
            if kwargs:
                raise TypeError(f"{who}: building {model.__name__}({', '.join(kwargs)}) failed ({error}); "
                                "keep the constructor's arguments as given") from None
            raise TypeError(f"{who}: {model.__name__}() needs no arguments for this exercise ({error}); "
                            "keep the constructor as given") from None
    if not isinstance(model, torch.nn.Module):
        got = "None" if model is None else type(model).__name__
        raise TypeError(f"{who} expects your nn.Module class or an instance of it, got {got}")
    if isinstance(model, torch.jit.ScriptModule):  # TorchScript's own: the checkers say what to pass instead
        return model
    if type(model) is torch.nn.Module:
        raise TypeError(f"{who} expects your own model, a subclass of nn.Module with a forward, not nn.Module itself")
    if type(model).forward is torch.nn.Module.forward:  # nn.Module's own forward only raises "not implemented"
        own = [name for name, value in vars(type(model)).items() if callable(value) and not name.startswith("_")]
        seen = f" (it has {', '.join(own[:3])})" if own else ""
        raise TypeError(f"{who}: {type(model).__name__} defines no forward{seen}: check the spelling of `def forward`")
    if "_parameters" not in vars(model):  # nn.Module.__init__ never ran: every call would fail on its missing fields
        raise TypeError(f"{who}: {type(model).__name__}.__init__ does not call super().__init__(), so nn.Module never "
                        "set the model up (any call fails): make super().__init__() the first line of __init__")
    return model


def with_article(name: str) -> str:
    """``"an int"``, ``"a Tensor"``, ``"an ndarray"``: a type name as a checker's feedback says it (by its sound where
    the letter misleads)."""
    if name == "NoneType":  # the type of None reads as the value itself: "returns None", not "a NoneType"
        return "None"
    vowel_sound = name[:1].lower() in "aeiou" or name.lower() in _SAID_WITH_AN
    return f"{'an' if vowel_sound else 'a'} {name}"


_SAID_WITH_AN = {"ndarray"}  # "an en-dee-array"


def _tensor_tree(value, depth: int = 0) -> bool:
    """A tensor, a number, or a list / tuple / dict (string keys) of them: what a forward argument may be."""
    if isinstance(value, (torch.Tensor, bool, int, float)):
        return True
    if depth < 4 and isinstance(value, (list, tuple)) and value:
        return all(_tensor_tree(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict) and value:  # str or int keys: TorchScript's Dict[str, ...], Dict[int, ...]
        return all(isinstance(k, (str, int)) and not isinstance(k, bool) and _tensor_tree(v, depth + 1)
                   for k, v in value.items())
    return False


def model_args(value):
    """One model input as the tuple of arguments the model is called with, or None if it is not one.

    The same reading as parity, the benchmark and the diagnosis: a plain tuple has one entry per argument
    (each a tensor, a number, or a list / dict of them); anything else, a tensor or a list or dict of
    tensors, is the one argument (``[x1, x2]`` is one argument that is a list).
    """
    args = value if type(value) is tuple else (value,)
    # None as a whole argument: an Optional argument left out (forward(x, bias=None) called as (x, None))
    return args if args and all(v is None or _tensor_tree(v) for v in args) and _holds_tensor(args) else None


def numpy_part(value, depth: int = 0):
    """The first NumPy array (or NumPy number) in ``value`` or inside its tuples, lists and dicts, or None."""
    if type(value).__module__.split(".")[0] == "numpy":
        return value
    parts = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return next((part for part in (numpy_part(v, depth + 1) for v in parts) if part is not None), None) \
        if depth < 4 else None


def refuse_meta(value, who: str) -> None:
    """A one-line ValueError when ``value`` (an input, or a tuple, list or dict of them) holds a tensor on the
    'meta' device: the tools run the model on numbers, and a meta tensor has none (torch's own error would blame
    whatever first asks for one, ``.item()`` say)."""
    def metas(v, depth=0):
        if isinstance(v, torch.Tensor):
            return v.is_meta
        parts = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else ()
        return depth < 4 and any(metas(x, depth + 1) for x in parts)
    if metas(value):
        raise ValueError(f"{who}: an input is a tensor on the 'meta' device, which holds shapes and no numbers, and "
                         f"{who} runs the model on numbers: pass tensors on the CPU (device='cpu')")


def odd_input(value) -> str:
    """What makes ``value`` no model input, in a few words: "a tuple holding a numpy ndarray (torch.from_numpy(...)
    converts it)", "a list with no tensor in it" ..."""
    fine = object()  # what first_odd gives for a part that is fine (None may be the odd part itself)

    def first_odd(v, depth=0):  # the first part that is neither a tensor, a number nor a non-empty container
        if isinstance(v, (torch.Tensor, bool, int, float)) or (v is None and depth == 1 and type(value) is tuple):
            return fine  # None as a whole argument of a tuple is fine: an Optional argument left out
        parts = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else None
        if depth < 4 and parts:
            return next((odd for odd in (first_odd(x, depth + 1) for x in parts) if odd is not fine), fine)
        return v
    odd = first_odd(value)
    if odd is fine:
        return f"{with_article(type(value).__name__)} with no tensor in it"
    numpy = odd is not None and numpy_part(odd) is odd
    kind = f"{'numpy ' if numpy else ''}{type(odd).__name__}"
    hint = " (torch.from_numpy(...) converts it)" if numpy else ""
    return with_article(kind) + hint if odd is value else \
        f"{with_article(type(value).__name__)} holding {with_article(kind)}{hint}"


def _holds_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_holds_tensor(v) for v in value.values())
    return isinstance(value, (list, tuple)) and any(_holds_tensor(v) for v in value)


class TimeLimitReached(BaseException):
    """Not an Exception: the handlers around a learner's own code must not swallow it. ``limit`` is the token of
    the ``time_limit`` block that raised it, so that a handler can tell its own limit from an outer one."""

    def __init__(self, message, limit=None):
        super().__init__(message)
        self.limit = limit


# POSIX has SIGALRM; elsewhere (Windows) a timer thread interrupts the main thread instead
_ALARM = hasattr(signal, "setitimer")
_timer_depth = [0]  # time limits open under the timer thread: an inner one leaves the outer in charge


@contextlib.contextmanager
def time_limit(seconds):
    """Stop Python code that runs longer than ``seconds`` with TimeLimitReached (a learner's endless loop).

    Yields a token: ``error.limit is token`` tells that this block's limit was reached, not an outer one.
    Only the main thread can be stopped: in a worker thread, or with ``seconds`` None or 0, the code runs unguarded.
    Inside another time limit, that one keeps guarding. On POSIX a SIGALRM stops the code; elsewhere (Windows) a
    timer thread interrupts the main thread, which stops Python code between two of its steps (a single long call
    into torch's C++ ends first).
    """
    token = object()
    if not (seconds and threading.current_thread() is threading.main_thread()):
        yield token
        return
    if not _ALARM:
        with _timer_limit(seconds, token):
            yield token
        return
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:  # inside another time limit: that one keeps guarding, untouched
        yield token
        return

    def stop(signum, frame):
        raise TimeLimitReached(f"stopped after {seconds:g} s", token)

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield token
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _timer_limit(seconds, token):
    """time_limit without SIGALRM: a timer thread raises KeyboardInterrupt in the main thread, taken here for the
    limit (a learner's own interrupt, with the timer not yet fired, stays a KeyboardInterrupt)."""
    import _thread
    if _timer_depth[0]:  # inside another time limit: that one keeps guarding
        yield
        return
    lock, state = threading.Lock(), {"fired": False, "done": False}

    def fire():
        with lock:
            if not state["done"]:
                state["fired"] = True
                _thread.interrupt_main()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    _timer_depth[0] += 1
    timer.start()
    try:
        try:
            yield
        finally:
            with lock:
                state["done"] = True
            timer.cancel()
            if state["fired"]:  # fired: its interrupt is raised in the block, or at the latest in these few steps
                for _ in range(1000):
                    pass
    except KeyboardInterrupt:
        if state["fired"]:
            raise TimeLimitReached(f"stopped after {seconds:g} s", token) from None
        raise
    finally:
        _timer_depth[0] -= 1


class LearnerCodeStopped(Exception):
    """The learner's code called sys.exit, raised a BaseException that is no Exception, or ran past the checker's
    time limit: an Exception, so that a checker's ``except Exception`` names it in one line like any other error."""


@contextlib.contextmanager
def learner_code(seconds: float = 20.0):
    """Run the learner's code inside: what would end or hang the kernel (sys.exit, a BaseException of its own, an
    endless loop) becomes LearnerCodeStopped, whose message says which. KeyboardInterrupt stays the learner's."""
    try:
        with time_limit(seconds) as token:
            yield
    except TimeLimitReached as error:
        if error.limit is not token:  # an outer limit's: not this block's business
            raise
        raise LearnerCodeStopped(f"it ran for more than {seconds:g} s and was stopped (a loop that never ends?)") from None
    except SystemExit as error:
        raise LearnerCodeStopped(f"it called sys.exit({error.code!r}), which would end the kernel: return a value, or "
                                 "raise an Exception") from None
    except (KeyboardInterrupt, Exception):
        raise
    except BaseException as error:  # GeneratorExit, or a class of the learner's own
        raise LearnerCodeStopped(f"it raised {type(error).__name__}, which is not an Exception: raise an Exception "
                                 "(ValueError, RuntimeError ...) instead") from None


def variant_seconds(example_seconds: float) -> float:
    """How long the model may take on a variant of its example before it counts as never finishing (a loop that
    never ends on zeros): 50 times the example's time, at least 5 s."""
    return max(5.0, 50 * example_seconds)


def first_call_seconds(model) -> float:
    """How long a model may take on the first input it is given, with nothing yet to measure against: 60 s, plus
    10 s per million parameters (a big detector's first call takes seconds)."""
    parameters = getattr(model, "parameters", None)
    try:
        count = sum(p.numel() for p in parameters()) if callable(parameters) else 0
    except Exception:  # not a module's parameters after all
        count = 0
    return 60.0 + 10.0 * count / 1e6


def call_within(seconds, fn, *args):
    """``(fn(*args), True)``, or ``(None, False)`` when ``seconds`` ran out first (None: no limit). An outer time
    limit reached meanwhile is passed on, not taken for this one."""
    with time_limit(seconds) as own:
        try:
            return fn(*args), True
        except TimeLimitReached as reached:
            if reached.limit is not own:
                raise
        except Exception as error:
            # the stop landed in torch's cleanup (a `finally` that raised in turn): the stop is the cause
            if not any(isinstance(e, TimeLimitReached) and e.limit is own for e in _chain(error)):
                raise
    return None, False


def _chain(error):
    """``error`` and the exceptions it was raised from or during, innermost last."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


class NativeText:
    """What C++ wrote to file descriptor 2 during a ``native_stderr`` block: ``text``, set when the block ends."""
    text = ""


@contextlib.contextmanager
def native_stderr():
    """Send what C++ code writes to file descriptor 2 during the block to a temporary file, out of Python's reach
    (``sys.stderr`` and ``warnings`` never see it); yields a ``NativeText`` whose ``text`` holds it once the block
    ends. Where descriptor 2 cannot be redirected (no real one), nothing is captured."""
    captured = NativeText()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved = None
    with tempfile.TemporaryFile() as tmp:
        if saved is not None:
            os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode("utf-8", errors="replace")
