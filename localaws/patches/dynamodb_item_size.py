"""Judge an updated DynamoDB item by its size after the update, as AWS does.

moto checks the 400 KB limit as each attribute is set, adding the new value's size to the size of the whole
item *including the value being replaced*. Replacing a large attribute (a long list) therefore counts it
twice: an UpdateItem that leaves a 210 KB item is refused with "Item size to update has exceeded the maximum
allowed size", where AWS accepts anything up to 400 KB. This patch counts the replaced value out.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict, bytesize

from localaws.patches import patch

#: moto's own threshold (between AWS's documented 400 KB and the ~410 KB it accepts in practice).
LIMIT_BYTES = 405000


def _size(value: Any) -> int:
    return int(value.size()) if type(value) is DynamoType else bytesize(str(value))


@patch
def apply() -> None:

    def __setitem__(self: LimitedSizeDict, key: str, value: Any) -> None:
        size = sum(bytesize(k) + _size(v) for k, v in self.items() if k != key)
        if size + bytesize(key) + _size(value) > LIMIT_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = __setitem__  # type: ignore[method-assign,assignment]
