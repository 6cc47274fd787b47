"""How many waiters a lock's queue can hold: the worst-case size of a queue-mode lock item.

DynamoDB limits an item to 400 KB (409,600 bytes), counting each attribute's name and value: a string is its
UTF-8 length, a number about one byte per two significant digits plus one, a map or list 3 bytes plus its
elements (a map's with their names). The bounds below are for the longest values this module writes, and
are generous: numbers count one byte per digit (as the local AWS counts them, more than DynamoDB does) and
every list or map element one byte of overhead. The root module refuses a configuration whose worst case
does not fit (``concurrency_limit`` and ``max_queue_length`` in queue mode); docs/lock-item.md explains the
figures.
"""

from __future__ import annotations

#: DynamoDB's item size limit.
ITEM_LIMIT_BYTES = 400 * 1024
#: Longest holder id accepted (an execution ARN, or a Map iteration's ``<execution ARN>#<iteration id>``;
#: the name is older than iteration holders). A Standard execution's ARN is at most 227 characters
#: (arn:aws-us-gov:states:<region>:<12-digit account>:execution:<80>:<80>); 256 leaves room for an iteration
#: id such as the state machine's ``<index>.<random>`` (at most 1 + 6 + 1 + 10 characters for 10^6 items).
MAX_EXECUTION_ARN_LENGTH = 256
#: One queue entry: {"id": ARN, "w": weight, "at": epoch ms} = map 3 + 3 element bytes + "id" 2 + 256
#: + "w" 1 + weight (below 100000: 5 digits) + "at" 2 + epoch ms (13 digits), plus 1 as a list element.
WAITER_MAX_BYTES = 3 + 3 + 2 + MAX_EXECUTION_ARN_LENGTH + 1 + 5 + 2 + 13 + 1
#: One holder attribute: name (the ARN) 256 + map 3 + 2 element bytes + "weight" 6 + 5 + "acquiredAt" 10
#: + 24 (2024-05-01T12:00:00.123Z).
HOLDER_MAX_BYTES = MAX_EXECUTION_ARN_LENGTH + 3 + 2 + 6 + 5 + 10 + 24
#: Everything else, rounded up (1,409 counted): key attribute (name <= 255, lock name <= 1024), lockCount,
#: nextGrantAt, queueTailAt, version (numbers of at most 21 bytes) and the queue attribute's name and list
#: overhead.
FIXED_MAX_BYTES = 1536


def worst_case_item_bytes(limit: int, max_queue_length: int) -> int:
    """The most bytes a lock item can take with ``limit`` holders of weight 1 and a full queue."""
    return FIXED_MAX_BYTES + limit * HOLDER_MAX_BYTES + max_queue_length * WAITER_MAX_BYTES


def max_queue_length_for(limit: int) -> int:
    """The longest queue that fits next to ``limit`` holders."""
    return max(0, (ITEM_LIMIT_BYTES - FIXED_MAX_BYTES - limit * HOLDER_MAX_BYTES) // WAITER_MAX_BYTES)
