"""The load test's gate: the class runs its notebooks together once every server is up (tests/hub/loadtest.py)."""
import threading

from loadtest import Gate


def waiting(gate: Gate) -> threading.Thread:
    thread = threading.Thread(target=gate.arrive, daemon=True)
    thread.start()
    return thread


def test_everyone_starts_when_the_last_learner_arrives():
    gate = Gate(3, timeout=600)
    first, second = waiting(gate), waiting(gate)
    first.join(0.2)
    second.join(0.2)
    assert first.is_alive() and second.is_alive()  # one learner is still missing: nobody starts
    gate.arrive()  # the last one: returns at once, and lets the others go
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive()


def test_a_learner_whose_server_did_not_start_does_not_hold_the_class():
    gate = Gate(2, timeout=600)
    learner = waiting(gate)
    gate.arrive(wait=False)
    learner.join(60)
    assert not learner.is_alive()


def test_a_gate_that_never_fills_lets_go_after_its_timeout():
    gate = Gate(2, timeout=0.1)
    learner = waiting(gate)
    learner.join(60)
    assert not learner.is_alive()
