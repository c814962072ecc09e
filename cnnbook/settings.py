"""The package's settings: the one module that reads the environment.

Each setting is resolved once per environment (:func:`current`) with where its value came from:
the variable that set it, or the default and what the default was derived from.
``python -m cnnbook config`` prints them; every run's provenance records them.

==========================  ================================================================
``CNNBOOK_DATA``            where CIFAR-10 is found or downloaded (``$XDG_DATA_HOME/cnnbook``)
``CNNBOOK_CACHE``           decoded-array caches (``$XDG_CACHE_HOME/cnnbook``)
``CNNBOOK_RUNS``            your runs, the models the chapters train (``$XDG_DATA_HOME/cnnbook/runs``)
``CNNBOOK_RUNS_MAX_MB``     the most disk your runs may use (500)
``CNNBOOK_RESULTS``         where ``reproduce`` stores runs when the package folder is read-only
                            (``$XDG_DATA_HOME/cnnbook/results``)
``CNNBOOK_BUDGET``          the default budget (unset: chosen for the device)
``CNNBOOK_BUILD_LOG``       the file a book build shows its steps in (unset: none)
``TQDM_DISABLE``            ``1``/``true``: no progress bars (a book build's static pages)
``XDG_DATA_HOME``,          the per-user folders the defaults live in (``~/.local/share``, ``~/.cache``)
``XDG_CACHE_HOME``
==========================  ================================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

DEFAULT_RUNS_MAX_MB = 500.0
# Every variable the package reads (HOME: where the per-user defaults are when XDG_* are unset).
VARIABLES = (
    "CNNBOOK_DATA",
    "CNNBOOK_CACHE",
    "CNNBOOK_RUNS",
    "CNNBOOK_RUNS_MAX_MB",
    "CNNBOOK_RESULTS",
    "CNNBOOK_BUDGET",
    "CNNBOOK_BUILD_LOG",
    "TQDM_DISABLE",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "HOME",
)


class SettingsError(ValueError):
    """An environment variable holds a value the package cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Every setting's resolved value; :attr:`origins` says where each came from."""

    data: Path  # CIFAR-10's folder
    cache: Path  # decoded-array caches
    runs: Path  # your runs (cnnbook.runs.yours)
    runs_max_mb: float  # the most disk your runs may use
    results: Path  # reproduce's folder when the package's is read-only
    budget: str | None  # the default budget; None: chosen for the device (cnnbook.runs.budgets)
    build_log: Path | None  # a book build's step log; None: no log
    progress_bars: bool  # tqdm bars (off: TQDM_DISABLE)
    origins: dict  # setting -> the variable that set it, or "default: ..."

    def as_dict(self) -> dict:
        """``{setting: {"value": ..., "from": ...}}``, JSON-ready, the home folder written ``~``."""
        return {
            f.name: {"value": _plain(getattr(self, f.name)), "from": self.origins[f.name]}
            for f in fields(self)
            if f.name != "origins"
        }


def current() -> Settings:
    """The settings of the current environment (resolved once per set of values of :data:`VARIABLES`)."""
    return resolve(tuple((name, os.environ.get(name)) for name in VARIABLES))


@lru_cache(maxsize=16)
def resolve(environment: tuple[tuple[str, str | None], ...]) -> Settings:
    """The settings for ``environment``: (variable, value or None) pairs of :data:`VARIABLES`."""
    env = {name: value for name, value in environment if value}  # an empty variable counts as unset
    home = Path.home()
    data_home, data_home_from = _base(env, "XDG_DATA_HOME", home / ".local" / "share")
    cache_home, cache_home_from = _base(env, "XDG_CACHE_HOME", home / ".cache")
    values, origins = {}, {}

    def setting(name: str, variable: str, default, default_from: str, parse=lambda text: Path(text).expanduser()):
        if variable in env:
            values[name], origins[name] = parse(env[variable]), variable
        else:
            values[name], origins[name] = default, f"default ({variable} unset{default_from})"

    setting("data", "CNNBOOK_DATA", data_home / "cnnbook", f"; {data_home_from}")
    setting("cache", "CNNBOOK_CACHE", cache_home / "cnnbook", f"; {cache_home_from}")
    setting("runs", "CNNBOOK_RUNS", data_home / "cnnbook" / "runs", f"; {data_home_from}")
    setting("runs_max_mb", "CNNBOOK_RUNS_MAX_MB", DEFAULT_RUNS_MAX_MB, "", _megabytes)
    setting("results", "CNNBOOK_RESULTS", data_home / "cnnbook" / "results", f"; {data_home_from}")
    setting("budget", "CNNBOOK_BUDGET", None, ": chosen for the device", str)
    setting("build_log", "CNNBOOK_BUILD_LOG", None, ": no step log")
    setting("progress_bars", "TQDM_DISABLE", True, "", lambda text: text.lower() not in ("1", "true"))
    return Settings(**values, origins=origins)


def _base(env: dict, variable: str, default: Path) -> tuple[Path, str]:
    """An XDG base folder and where it came from."""
    if variable in env:
        return Path(env[variable]).expanduser(), f"{variable}={env[variable]}"
    return default, f"{variable} unset: {_plain(default)}"


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"CNNBOOK_RUNS_MAX_MB={text!r} is not a number of megabytes") from None
    if not value > 0:
        raise SettingsError(f"CNNBOOK_RUNS_MAX_MB={text!r} must be a positive number of megabytes")
    return value


def _plain(value):
    """``value`` as JSON holds it: a path as text, the home folder as ``~``."""
    if isinstance(value, Path):
        home = str(Path.home())
        text = str(value)
        return "~" + text[len(home) :] if text == home or text.startswith(home + os.sep) else text
    return value
