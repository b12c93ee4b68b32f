"""The benchmark's notebook client reads replies in slices: a missed wake-up costs a second, not the cell's timeout."""
import asyncio
import datetime
import io
import sys
from pathlib import Path
from queue import Empty

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import steady_client  # noqa: E402


class SleepyChannel:
    """A channel whose poll misses the message that is already there until the caller polls again."""

    def __init__(self, misses, sent_ago=0.0):
        self.misses, self.polls = misses, []
        self.msg = {"msg_type": "execute_reply", "header": {
            "date": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=sent_ago)}}

    async def get_msg(self, timeout=None):
        self.polls.append(timeout)
        if len(self.polls) <= self.misses:
            raise Empty
        return self.msg


def test_a_missed_wake_up_is_read_on_the_next_slice(monkeypatch):
    monkeypatch.setattr(steady_client, "SLICE_SECONDS", 0.01)
    channel, log = SleepyChannel(misses=2, sent_ago=5.0), io.StringIO()
    steady_client.read_in_slices(channel, "shell", log=log)
    assert asyncio.run(channel.get_msg(timeout=600))["msg_type"] == "execute_reply"
    assert len(channel.polls) == 3 and all(t <= 0.01 for t in channel.polls)  # never one long poll
    assert "shell execute_reply read 5." in log.getvalue()  # a late read is logged


def test_the_callers_timeout_still_holds(monkeypatch):
    monkeypatch.setattr(steady_client, "SLICE_SECONDS", 0.01)
    channel = SleepyChannel(misses=10**9)
    steady_client.read_in_slices(channel, "shell", log=io.StringIO())
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
    assert len(channel.polls) >= 2  # it gave up at the deadline, after several slices
