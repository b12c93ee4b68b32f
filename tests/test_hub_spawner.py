"""How the classroom hub picks a learner's server port and notices a server that ends while starting (hub/workshop.py)."""
import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))
import workshop  # noqa: E402


def bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True


def test_ports_come_from_below_the_ephemeral_range_and_skip_busy_ones():
    low, _ = workshop.ephemeral_ports()
    taken_by_a_listener = workshop.free_port(low - 40, low)  # a port found free, then taken:
    with socket.socket() as other:
        other.bind(("", taken_by_a_listener))
        other.listen()
        for _ in range(20):
            port = workshop.free_port(low - 40, low)
            assert port != taken_by_a_listener and port < low


def test_ports_given_to_starting_servers_are_not_given_again():
    low, _ = workshop.ephemeral_ports()
    start = next(p for p in range(low - 2, low - 1000, -1) if bindable(p) and bindable(p + 1))  # two free ports
    first = workshop.free_port(start, start + 2)
    second = workshop.free_port(start, start + 2, taken={first})
    assert {first, second} == {start, start + 1}
    with pytest.raises(RuntimeError, match="no free port between .* set CourseSpawner.ports"):
        workshop.free_port(start, start + 2, taken={first, second})


def test_a_range_inside_the_ephemeral_range_gives_nothing():
    low, high = workshop.ephemeral_ports()
    with pytest.raises(RuntimeError, match="outside the ephemeral range"):
        workshop.free_port(low, min(low + 50, high))


def test_a_server_that_exits_while_starting_is_reported_at_once():
    low, _ = workshop.ephemeral_ports()
    port = workshop.free_port(low - 200, low)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"learner05's server exited while starting \(exit code 3\)"):
        asyncio.run(workshop.wait_until_listening(proc, "127.0.0.1", port, timeout=120, name="learner05's server"))
    assert time.monotonic() - started < 60  # not the whole timeout (a generous bound: a busy machine is slow)


def test_a_server_that_listens_is_waited_for():
    low, _ = workshop.ephemeral_ports()
    port = workshop.free_port(low - 200, low)
    code = ("import socket, time; time.sleep(0.5); s = socket.socket(); "
            f"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); s.listen(); "
            "time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        asyncio.run(workshop.wait_until_listening(proc, "127.0.0.1", port, timeout=120))
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_server_that_never_listens_times_out_with_its_address():
    low, _ = workshop.ephemeral_ports()
    port = workshop.free_port(low - 200, low)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(TimeoutError, match=f"did not listen on 127.0.0.1:{port} within 1 s"):
            asyncio.run(workshop.wait_until_listening(proc, "127.0.0.1", port, timeout=1))
    finally:
        proc.kill()
        proc.wait()
