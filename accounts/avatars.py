"""A member's avatar without a picture: initials and a colour slot that stay the same everywhere
(templates through `staff_tags`, the conversation row, presence frames)."""

from __future__ import annotations

from typing import Any

# The colour slots of app.css (.avatar-c0 … .avatar-c7), shared with the customers' avatars.
AVATAR_COLOURS = 8


def staff_initials(name: str) -> str:
    words = [w for w in name.replace(".", " ").replace("_", " ").replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][:1] + (words[-1][:1] if len(words) > 1 else "")
    return letters.upper()


def staff_colour(user_id: Any) -> int:
    try:
        return (int(user_id) * 5 + 3) % AVATAR_COLOURS
    except (TypeError, ValueError):
        return 0
