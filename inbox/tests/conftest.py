"""Fixtures shared by the inbox's socket tests."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer


@pytest.fixture
async def clean_layer():
    """The channel layer, emptied before and after the test (the in-memory one keeps groups between tests)."""
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        await layer.flush()
    yield layer
    if hasattr(layer, "flush"):
        await layer.flush()
