"""The error types that mean "the input or the environment is wrong", as opposed to a bug.

Each message says what was wrong and how to fix it. ``lens-steer`` prints these as one line
(``lens-steer: error: ...``) with a non-zero exit; anything else keeps its traceback, because an
unexpected exception is a bug worth seeing in full. The classes also derive from the builtin
type callers already catch (``ValueError``, ``OSError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["LensSteerError", "InputError", "ModelSpecError", "LockError"]


class LensSteerError(Exception):
    """Base of the errors the user can fix from the message alone (printed without traceback)."""


class InputError(LensSteerError, ValueError):
    """An argument, file or setting is invalid; the message names it and what is allowed."""


class ModelSpecError(InputError):
    """A model spec (alias, ``.gguf`` file, local directory, hub id) cannot be resolved."""


class LockError(LensSteerError, RuntimeError):
    """Another process holds the run directory; the message names its pid."""
