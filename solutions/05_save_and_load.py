"""Worked solutions for the exercises of 05_save_and_load."""
import json

import torch

import helpers as H

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def export_with_labels(path):
    """Exercise 1: the trained CNN as TorchScript, with its class names travelling inside the file."""
    scripted = torch.jit.script(H.load_digits_cnn())
    torch.jit.save(scripted, str(path), _extra_files={"labels.json": json.dumps(DIGIT_NAMES)})
    return path


def load_weights(path):
    """Exercise 2: rebuild the model from a state_dict without letting the file run code."""
    state = torch.load(path, weights_only=True)  # tensors and plain containers only: a pickled object is refused
    model = H.DigitsCNN()                      # the class comes from our code, never from the file
    model.load_state_dict(state)
    return model.eval()
