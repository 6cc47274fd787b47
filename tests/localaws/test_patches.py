"""``localaws.patches``: one way to apply a patch or a plugin, once per process."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from localaws import patches
from localaws.patches import Patch, apply_all, apply_module, patch


def test_a_patch_is_made_once_however_often_it_is_applied() -> None:
    made = []

    @patch
    def apply() -> None:
        """Counts."""
        made.append(1)

    assert not apply.applied
    apply()
    apply()
    assert made == [1] and apply.applied
    assert apply.__doc__ == "Counts."


def test_a_patch_that_failed_is_tried_again() -> None:
    attempts = []

    @patch
    def apply() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("not yet")

    with pytest.raises(RuntimeError):
        apply()
    assert not apply.applied
    apply()
    apply()
    assert len(attempts) == 2 and apply.applied


def _module(monkeypatch: pytest.MonkeyPatch, name: str, apply: object) -> None:
    module = types.ModuleType(name)
    module.apply = apply  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)


def test_plugins_are_applied_after_the_patches_in_the_order_given(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    for name in ("gap_a", "gap_b", "plugin_x", "plugin_y"):
        _module(monkeypatch, name, Patch(lambda name=name: order.append(name)))
    monkeypatch.setattr(patches, "ALL", ("gap_a", "gap_b"))
    apply_all(["plugin_y", "plugin_x"])
    apply_all(["plugin_y", "plugin_x"])
    assert order == ["gap_a", "gap_b", "plugin_y", "plugin_x"]


def test_a_module_whose_apply_is_not_a_patch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _module(monkeypatch, "plain_apply", lambda: None)
    with pytest.raises(TypeError, match=r"plain_apply\.apply must be a localaws\.patches\.Patch"):
        apply_module("plain_apply")
    with pytest.raises(ModuleNotFoundError):
        apply_module("no_such_plugin_module")


@pytest.mark.parametrize("name", patches.ALL)
def test_every_gap_closing_patch_goes_through_the_one_mechanism(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(module.apply, Patch)
