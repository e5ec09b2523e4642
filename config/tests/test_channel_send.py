"""Group sends from sync code run on one sending loop per process, which keeps the layer's connections."""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

import pytest

from config import channel_send


class RecordingLayer:
    """A channel layer that records the loop and thread each send ran on."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, dict, asyncio.AbstractEventLoop, str]] = []
        self.error = error

    async def group_send(self, group: str, message: dict) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((group, message, asyncio.get_running_loop(), threading.current_thread().name))


@pytest.fixture
def layer():
    recording = RecordingLayer()
    with mock.patch("config.channel_send.get_channel_layer", return_value=recording):
        yield recording


def test_every_send_of_a_process_runs_on_one_loop_off_the_callers_thread(layer):
    channel_send.group_send("inbox.business.1", {"type": "inbox.html", "html": "a"})
    channel_send.group_send("inbox.business.2", {"type": "inbox.html", "html": "b"})

    (first_group, first, first_loop, thread), (second_group, second, second_loop, _) = layer.sent
    assert (first_group, first["html"], second_group, second["html"]) == ("inbox.business.1", "a", "inbox.business.2", "b")
    assert first_loop is second_loop and not first_loop.is_closed()
    assert thread == "channel-layer-send" != threading.current_thread().name


def test_a_forked_child_gets_a_loop_of_its_own(layer):
    channel_send.group_send("g", {"type": "t"})
    with mock.patch("config.channel_send.os.getpid", return_value=-1):  # as in a child after fork
        channel_send.group_send("g", {"type": "t"})
    assert layer.sent[0][2] is not layer.sent[1][2]


def test_close_stops_the_loop_and_the_next_send_starts_another(layer):
    channel_send.group_send("g", {"type": "t"})
    first = layer.sent[0][2]
    channel_send.close()
    assert first.is_closed()
    channel_send.group_send("g", {"type": "t"})
    assert layer.sent[1][2] is not first and not layer.sent[1][2].is_closed()


def test_sync_code_inside_an_event_loop_can_send(layer):
    async def caller() -> asyncio.AbstractEventLoop:
        channel_send.group_send("g", {"type": "t"})  # blocking, as sync code under an event loop is
        return asyncio.get_running_loop()

    callers_loop = asyncio.run(caller())
    assert len(layer.sent) == 1 and layer.sent[0][2] is not callers_loop


def test_the_layers_failure_reaches_the_caller():
    broken = RecordingLayer(ConnectionError("down"))
    with mock.patch("config.channel_send.get_channel_layer", return_value=broken), pytest.raises(ConnectionError):
        channel_send.group_send("g", {"type": "t"})


def test_without_a_layer_nothing_is_sent():
    with mock.patch("config.channel_send.get_channel_layer", return_value=None):
        assert channel_send.has_layer() is False
        channel_send.group_send("g", {"type": "t"})  # no error, nothing to send to
