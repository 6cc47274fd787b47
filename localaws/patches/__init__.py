"""Patches that close the gaps between moto and AWS, applied in the server process before it serves.

Every patch, and every plugin a caller loads into the server (``LocalAws(plugins=...)``,
``python -m localaws --plugin MODULE``), is a module whose ``apply`` is a ``Patch``: decorate the function
that changes moto with ``@patch`` and it runs once per process, however often it is called.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Iterable

#: The gap-closing patches, applied in this order by ``apply_all``.
ALL = (
    "localaws.patches.dynamodb",
    "localaws.patches.dynamodb_item_size",
    "localaws.patches.awslambda",
    "localaws.patches.events",
    "localaws.patches.keep_alive",
    "localaws.patches.sfn_math_random",
    "localaws.patches.sfn_start_execution",
    "localaws.patches.sfn_definitions",
)

# Re-entrant: one patch may apply another (awslambda applies sfn_lambda).
_LOCK = threading.RLock()


class Patch:
    """A change to moto made at most once per process: the first call makes it, later calls do nothing.

    A call that raises leaves the patch unapplied, so the next call tries again (a server that failed to
    start must not look patched).
    """

    def __init__(self, make: Callable[[], None]) -> None:
        self._make = make
        self.applied = False
        functools.update_wrapper(self, make)

    def __call__(self) -> None:
        with _LOCK:
            if self.applied:
                return
            self._make()
            self.applied = True


def patch(make: Callable[[], None]) -> Patch:
    """Decorator: the module's ``apply`` function, made once."""
    return Patch(make)


def apply_module(name: str) -> None:
    """Import the module ``name`` and apply its ``apply`` patch."""
    module = importlib.import_module(name)
    apply = getattr(module, "apply", None)
    if not isinstance(apply, Patch):
        raise TypeError(f"{name}.apply must be a localaws.patches.Patch (decorate it with @patch)")
    apply()


def apply_all(plugins: Iterable[str] = ()) -> None:
    """Apply every gap-closing patch, then each plugin module, in order."""
    for name in (*ALL, *plugins):
        apply_module(name)
