"""Settings of the integration tier's worker for the send-timeout test: the test settings with a short read timeout.

A Graph call that gets no answer in 2 s is a read timeout here (15 s in production), so the test can
make the sandbox answer late without waiting a quarter of a minute.
"""

from __future__ import annotations

from config.settings.test import *  # noqa: F403

GRAPH_API_TIMEOUT = (3.05, 2.0)
