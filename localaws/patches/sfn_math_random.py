"""``States.MathRandom(start, end)`` excludes ``end``, as Step Functions documents it.

AWS returns a random number "between the specified start number (inclusive) and end number (exclusive)";
moto draws with ``randint``, which includes ``end``. Poll mode draws each wait between attempts this way,
so on moto the waits came out half a second longer on average than on AWS (and at a 2 s wait, one in four
draws was a value AWS never returns). The draw now stops short of ``end``; ``start == end`` gives ``start``.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.math_operations import (
    math_random,
)

from localaws.patches import patch


class EndExclusiveRandom(random.Random):
    """A ``random.Random`` whose ``randint(a, b)`` draws from ``a`` to ``b - 1``, as MathRandom on AWS."""

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b) if b > a else a


@patch
def apply() -> None:
    # The intrinsic builds its generator as ``random.Random(seed)`` through its own module's ``random``.
    math_random.random = SimpleNamespace(Random=EndExclusiveRandom)  # type: ignore[attr-defined,assignment]
