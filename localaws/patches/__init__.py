"""Patches that close the gaps between moto and AWS, applied in the server process before it serves."""

from localaws.patches import (
    awslambda,
    dynamodb,
    dynamodb_item_size,
    events,
    meter,
    overhead,
    sfn_definitions,
    sfn_math_random,
)

#: Every patch module exposes ``apply()``; they are applied in this order.
ALL = (dynamodb, dynamodb_item_size, meter, awslambda, events, overhead, sfn_math_random, sfn_definitions)


def apply_all() -> None:
    for patch in ALL:
        patch.apply()
