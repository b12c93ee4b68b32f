"""Worked solutions for the exercises of 07_optimize_and_debug."""
import copy
import statistics

import torch


# Exercise 1. Freezing needs eval mode: it bakes the current values of the attributes forward
# only reads into the graph, and `training` is one of them (an attribute forward assigns would stay
# an attribute). In eval mode freeze also removes dropout, and folds batch
# norm into the convolution before it (that folding is what its default optimize_numerics=True
# controls). The model still belongs to the training loop, so work on a deep copy: calling eval()
# on the original would switch its dropout off for the next training steps, and the weights
# freezing leaves alone would stay shared with the original, so the next optimizer step (in place)
# would change the served model too.
def prepare_for_serving(model):
    serving = copy.deepcopy(model).eval()
    return torch.jit.freeze(torch.jit.script(serving))


# Exercise 2. Each frame of a TorchScript error shows a few lines of source and, under the line
# it means, a row of ~ ending in "<--- HERE"; the code line is the one just above it. A runtime
# traceback lists the most recent call last, so there the last marker wins. A compile error lists
# the frame where compiling failed first, then "... is being compiled since it was called from ..."
# and its callers: there the first marker wins.
def offending_line(message):
    lines = message.splitlines()
    marked = [above.strip() for above, below in zip(lines, lines[1:])
              if "~" in below and below.replace("<--- HERE", "").strip().strip("~") == ""]
    if not marked:
        return None
    return marked[0] if "is being compiled since it was called from" in message else marked[-1]


# Exercise 3. Faster when the upper quartile of the ratios is below 1 (roughly three rounds in four below 1),
# slower when the lower quartile is above 1. Anything else is no clear difference.
def verdict(ratios):
    q25, _, q75 = statistics.quantiles(ratios, n=4, method="inclusive")
    if q75 < 1:
        return "faster"
    if q25 > 1:
        return "slower"
    return "no clear difference"
