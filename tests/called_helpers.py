"""Plain functions a test model's forward calls by name: behind a decorator, a partial, or in a lazy module."""
import functools


def _no_wraps(function):
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)
    return wrapper


def _wraps(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)
    return wrapper


@_no_wraps
def gate_no_wraps(x):
    if x.sum() > 1000:
        return x * 2
    return x * 5


@_wraps
def gate_wraps(x):
    if x.sum() > 1000:
        return x * 2
    return x * 5


def _scaled(x, k):
    if x.sum() > 1000:
        return x * k
    return x


gate_partial = functools.partial(_scaled, k=3)


def __getattr__(name):  # a lazy module: any other name raises (reading it must not crash a tool)
    raise RuntimeError(f"this module has no {name}")


def make_gate(threshold):
    """A gate built by a factory: the function forward calls is a closure, found by no global name."""
    def gate(x):
        if x.sum() > threshold:
            return x * 2
        return x * 5
    return gate


def model_with_inner_helper():
    """A model class defined inside a function, whose forward calls a helper held in its closure."""
    import torch

    def halve_big(x):
        if x.sum() > 1000:
            return x / 2
        return x

    class Inner(torch.nn.Module):
        def forward(self, x):
            return halve_big(x) + 1

    return Inner()


def make_scale(k):
    """A function a factory returns: its body reads the factory's k (a closure), which TorchScript cannot capture."""
    def scale(x):
        return x * k
    return scale
