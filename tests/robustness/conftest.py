"""The robustness suite runs on a busy machine: two processes keep both cores loaded for its whole duration.

A shared classroom server is never quiet. Every test here runs while ``BURNERS`` processes spin
on the CPU, so a notebook or helper whose checks flip with load fails here first. The burners
stop when the session ends (even when it fails), stop themselves after ``MAX_SECONDS``, and
stop when pytest dies (they watch their parent). ``ROBUST_BACKGROUND_LOAD=0`` turns the load off
(to compare).
"""
import os
import subprocess
import sys

import pytest

BURNERS = 2
MAX_SECONDS = float(os.environ.get("ROBUST_LOAD_MAX_SECONDS", 3 * 3600))

# Spins until its deadline, or until its parent (this pytest) is gone.
BURNER = """
import os, sys, time
parent, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
x = 0
while time.monotonic() < deadline and os.getppid() == parent:
    for _ in range(200_000):
        x += 1
"""


def start_burners(count=BURNERS, seconds=MAX_SECONDS) -> list:
    return [subprocess.Popen([sys.executable, "-c", BURNER, str(os.getpid()), str(seconds)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)]


def stop_burners(burners: list):
    for proc in burners:
        if proc.poll() is None:
            proc.terminate()
    for proc in burners:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session", autouse=True)
def background_load():
    """Two CPU-burning processes for the whole robustness session; always stopped at its end."""
    if os.environ.get("ROBUST_BACKGROUND_LOAD", "1") == "0":
        yield []
        return
    burners = start_burners()
    try:
        yield burners
    finally:
        stop_burners(burners)
