"""Fixtures shared by the inbox's socket and push tests."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from config import channel_send


@pytest.fixture
async def clean_layer():
    """The channel layer, emptied before and after the test (the in-memory one keeps groups between tests)."""
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        channel_send.close()  # its connections belong to its own loop, not this test's
        await layer.flush()
    yield layer
    if hasattr(layer, "flush"):
        channel_send.close()
        await layer.flush()


@pytest.fixture
def layer():
    """The channel layer, emptied, for synchronous tests (the in-memory one keeps groups between tests)."""
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        channel_send.close()  # its connections belong to its own loop, not flush's
        async_to_sync(layer.flush)()
    return layer
