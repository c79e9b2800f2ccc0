"""Where the per-user configuration lives.

``$COMPUTE_PLANNER_CONFIG_DIR`` wins; otherwise ``$XDG_CONFIG_HOME/compute-planner`` or
``~/.config/compute-planner``. The directory may hold ``hardware.toml`` (extra or
overridden accelerators) and, from the fitting work on, a ``laws/`` directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["measured_data_dir", "user_config_dir", "user_hardware_file"]


def user_config_dir() -> Path:
    explicit = os.environ.get("COMPUTE_PLANNER_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "compute-planner"


def user_hardware_file() -> Path:
    return user_config_dir() / "hardware.toml"


def measured_data_dir() -> Path:
    """The published measurements shipped with the package (``planner/data/measured``)."""
    return Path(__file__).resolve().parents[1] / "data" / "measured"
