"""On/off switches read from the environment (``G2D_LITE_PROGRESS``, ``G2D_LITE_DEBUG``).

One reading for all of them: 0/off/false/no and 1/on/true/yes in any case, and anything else
refused, since a typo would otherwise leave the switch in the state the user meant to change.
"""

from __future__ import annotations

import os

OFF = ("0", "false", "no", "off")
ON = ("1", "true", "yes", "on")


def env_switch(name: str, default: bool, meaning: str) -> bool:
    """The state of the switch ``name`` (``default`` when unset or empty); ``meaning`` says
    what "on" does, for the message that refuses a value that is neither on nor off."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if not value:
        return default
    if value not in OFF + ON:
        raise ValueError(
            f"{name}={raw!r} is neither on nor off: set it to 1 (or on) to {meaning}, 0 (or off) "
            "not to"
        )
    return value in ON
