"""Queue mode's side effects after a committed decision: resume the executions granted a slot, hand on the
slot of one that is gone, and keep the warm-up rate's queue moving.

- ``resume_granted``: for each granted execution, read its task token from its per-execution item and
  ``SendTaskSuccess``. The read starts as soon as the decision names the execution, while the grant is being
  written (``TaskTokens``), so a handoff waits for one round trip less; a grant that then loses its race
  wasted one small read. A dead token (TaskTimedOut, InvalidToken, TaskDoesNotExist) is read again: a new one
  means the execution re-checked meanwhile, so it is used instead. Otherwise ``DescribeExecution`` decides:
  an execution that is no longer RUNNING gets its grant released and the queue settled again, so the slot
  goes to the next waiter (never into the void); a RUNNING one is left to its own re-check, which finds it
  holding and resumes it. A granted Map iteration (an iteration holder, ``semaphore_core.lock_item``) is
  resumed with its own token and judged by its execution's status.
- ``pump``: under a warm-up rate, a head that fits may have to wait for ``nextGrantAt``. When that is close
  and the function's remaining time allows, sleep until then and settle again; when it is not, ``nudge``
  the head (``SendTaskFailure`` with ``WarmupTooSoonError``: its task retries after the grant interval and
  keeps its place in the queue).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ClientError

from semaphore_core import dynamo, stepfunctions
from semaphore_core.clock import Clock
from semaphore_core.config import LockTableConfig, lock_table_config
from semaphore_core.dynamo import DynamoDBClient
from semaphore_core.errors import LockContentionError
from semaphore_core.execution_item import delete_execution_item, read_execution_item, unregister_holder
from semaphore_core.lambda_time import deadline_ms
from semaphore_core.lock_item import execution_of, is_iteration_holder
from semaphore_core.queue import Outcome, QueueLock, Waiter, release, settle_only
from semaphore_core.queue_store import Committed, Sleep, transact
from semaphore_core.stepfunctions import (
    EXECUTION_DOES_NOT_EXIST,
    RUNNING,
    StepFunctionsClient,
    error_code,
    is_dead_token,
)

logger = logging.getLogger(__name__)

#: The pump sleeps for a rate-limited grant only when it is due within this long.
PUMP_MAX_WAIT_MS = 2000
#: Dead-token rounds per granted execution before DescribeExecution decides.
MAX_TOKEN_ATTEMPTS = 3
#: The error name a nudged waiter's task fails with; its Retry re-checks after the grant interval.
NUDGE_ERROR = "WarmupTooSoonError"


#: Reads task tokens beside the write of a grant; kept across warm invocations, as the clients are.
_TOKEN_READER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="token-read")


@dataclass
class TaskTokens:
    """The task tokens of one invocation's granted executions: known ones (the caller's own), and reads
    started as soon as a decision grants an execution, so that they run while the grant is written."""

    known: dict[str, str] = field(default_factory=dict)
    _reads: dict[str, Future[str | None]] = field(default_factory=dict)

    def start_reads(self, ctx: QueueContext, waiters: Sequence[Waiter]) -> None:
        for waiter in waiters:
            arn = waiter.execution_arn
            if arn not in self.known and arn not in self._reads:
                self._reads[arn] = _TOKEN_READER.submit(_read_token, ctx, arn)

    def take(self, ctx: QueueContext, execution_arn: str) -> str | None:
        """The token to resume the execution with: known, read already, or read now. A read that failed
        raises here, as a direct read would."""
        if execution_arn in self.known:
            return self.known[execution_arn]
        started = self._reads.pop(execution_arn, None)
        return started.result() if started is not None else _read_token(ctx, execution_arn)


@dataclass(frozen=True)
class QueueContext:
    """Everything the queue functions act with: clients, table, the lock's limits, time and a deadline."""

    dynamodb: DynamoDBClient
    stepfunctions: StepFunctionsClient
    config: LockTableConfig
    clock: Clock
    sleep: Sleep
    limit: int
    tps_limit: float | None
    #: Epoch ms by which the function must be done sleeping (its timeout, less a margin).
    deadline_ms: int
    tokens: TaskTokens = field(default_factory=TaskTokens)

    @classmethod
    def for_invocation(
        cls, limit: int, tps_limit: float | None, clock: Clock, sleep: Sleep, lambda_context: object
    ) -> QueueContext:
        """The context of one invocation of a queue function: the shared clients, the table from the
        environment, and the invocation's deadline."""
        return cls(
            dynamodb=dynamo.get_client(),
            stepfunctions=stepfunctions.get_client(),
            config=lock_table_config(),
            clock=clock,
            sleep=sleep,
            limit=limit,
            tps_limit=tps_limit,
            deadline_ms=deadline_ms(clock, lambda_context),
        )

    def transact(self, lock_name: str, decide: Callable[[QueueLock, int], Outcome]) -> Committed:
        """``queue_store.transact`` on this context's table; each decision starts reading the tokens of the
        executions it grants."""

        def decide_and_read_tokens(lock: QueueLock, now_ms: int) -> Outcome:
            outcome = decide(lock, now_ms)
            self.tokens.start_reads(self, outcome.granted)
            return outcome

        return transact(
            self.dynamodb,
            self.config,
            lock_name,
            decide_and_read_tokens,
            self.clock,
            self.sleep,
            limit=self.limit,
        )


@dataclass
class Handoff:
    """What happened to the granted executions (ARNs, in order)."""

    resumed: list[str] = field(default_factory=list)
    #: Granted, but their execution had ended: the grant was released and passed on.
    dropped: list[str] = field(default_factory=list)
    #: Granted and still running, but not reachable now: their own re-check resumes them.
    left: list[str] = field(default_factory=list)
    #: After passing on dropped grants, a fitting head waits for the rate until this time (epoch ms).
    rate_blocked_until: int | None = None

    def extend(self, other: Handoff) -> None:
        self.resumed += other.resumed
        self.dropped += other.dropped
        self.left += other.left
        self.rate_blocked_until = other.rate_blocked_until


def grant_output(lock_name: str, waiter: Waiter, granted_at: int, already_held: bool = False) -> str:
    """The ``SendTaskSuccess`` output: the acquire task's result (the module discards it, ResultPath null)."""
    return json.dumps(
        {
            "granted": True,
            "alreadyHeld": already_held,
            "lockName": lock_name,
            "weight": waiter.weight,
            "grantedAt": granted_at,
        },
        separators=(",", ":"),
    )


def resume_granted(
    ctx: QueueContext,
    lock_name: str,
    granted: Sequence[Waiter],
    already_held: Mapping[str, int] | None = None,
    granted_at: int | None = None,
) -> Handoff:
    """Resume every granted execution; pass on the grants of those that have ended (see module doc).

    ``granted_at`` is when the decision granted them (epoch ms); ``already_held`` maps executions found
    holding already (their resume was lost) to their own grant time.
    """
    handoff = Handoff()
    pending = deque(granted)
    times = dict(already_held or {})
    decided = granted_at if granted_at is not None else ctx.clock()
    for waiter in granted:
        times.setdefault(waiter.execution_arn, decided)
    while pending:
        waiter = pending.popleft()
        arn = waiter.execution_arn
        output = grant_output(
            lock_name, waiter, times.get(arn, decided), already_held=arn in (already_held or {})
        )
        verdict = _resume(ctx, waiter, output)
        if verdict == "resumed":
            handoff.resumed.append(arn)
        elif verdict == "left":
            handoff.left.append(arn)
        else:
            committed = _release_grant(ctx, lock_name, arn)
            handoff.dropped.append(arn)
            handoff.rate_blocked_until = committed.outcome.rate_blocked_until
            _log(
                "grant passed on",
                lock_name,
                arn,
                granted=[w.execution_arn for w in committed.outcome.granted],
            )
            for passed_on in committed.outcome.granted:
                times[passed_on.execution_arn] = committed.outcome.decided_at or ctx.clock()
            pending.extend(committed.outcome.granted)
    return handoff


def _release_grant(ctx: QueueContext, lock_name: str, execution_arn: str) -> Committed:
    """Give back the grant of a holder whose execution has ended, and settle: the slot goes to the next
    waiter. Its per-execution item goes too, and an iteration holder leaves its execution's registry, as its
    own release would have done."""
    committed = ctx.transact(
        lock_name, lambda lock, now: release(lock, execution_arn, ctx.limit, ctx.tps_limit, now)
    )
    delete_execution_item(ctx.dynamodb, ctx.config, execution_arn)
    if is_iteration_holder(execution_arn):
        unregister_holder(ctx.dynamodb, ctx.config, execution_arn)
    return committed


def _resume(ctx: QueueContext, waiter: Waiter, output: str) -> str:
    """ "resumed", "left" (running, unreachable now) or "ended"."""
    arn = waiter.execution_arn
    token = ctx.tokens.take(ctx, arn)
    for _attempt in range(MAX_TOKEN_ATTEMPTS):
        if token is None:
            break
        try:
            ctx.stepfunctions.send_task_success(taskToken=token, output=output)
            return "resumed"
        except ClientError as error:
            if not is_dead_token(error):
                # Throttled or failing after the client's retries: the grant stands, and the execution's
                # own re-check (the waiting task's timeout) resumes it.
                logger.warning(
                    json.dumps({"outcome": "resume failed", "executionArn": arn, "error": error_code(error)})
                )
                return "left"
        fresh = _read_token(ctx, arn)
        if fresh == token:
            break
        token = fresh
    return "left" if _is_running(ctx, arn) else "ended"


def _read_token(ctx: QueueContext, execution_arn: str) -> str | None:
    item = read_execution_item(ctx.dynamodb, ctx.config, execution_arn)
    return item.task_token if item is not None else None


def _is_running(ctx: QueueContext, holder_id: str) -> bool:
    """Whether the holder may still be waiting: whether its execution runs (Step Functions knows executions,
    not iteration holders: asked about one, it would answer ExecutionDoesNotExist while the iteration
    waits). Unknown (access denied, e.g. an execution of another state machine sharing the lock) counts as
    running: its re-check, or its own reaper, settles it."""
    execution_arn = execution_of(holder_id)
    try:
        status = ctx.stepfunctions.describe_execution(executionArn=execution_arn).get("status")
    except ClientError as error:
        if error_code(error) == EXECUTION_DOES_NOT_EXIST:
            return False
        logger.warning(
            json.dumps(
                {"outcome": "describe failed", "executionArn": execution_arn, "error": error_code(error)}
            )
        )
        return True
    return status == RUNNING


def nudge(ctx: QueueContext, waiter: Waiter, wait_ms: int) -> bool:
    """Make a rate-blocked head re-check on its own: fail its waiting task with ``WarmupTooSoonError`` (its
    Retry re-invokes the acquire after the grant interval; it keeps its place). False if it was not
    reachable (its own re-check will do)."""
    token = _read_token(ctx, waiter.execution_arn)
    if token is None:
        return False
    try:
        ctx.stepfunctions.send_task_failure(
            taskToken=token,
            error=NUDGE_ERROR,
            cause=f"the warm-up rate allows the next grant in {wait_ms} ms; re-check then",
        )
    except ClientError as error:
        logger.info(
            json.dumps(
                {"outcome": "nudge failed", "executionArn": waiter.execution_arn, "error": error_code(error)}
            )
        )
        return False
    return True


@dataclass(frozen=True)
class PumpResult:
    #: Still blocked only by the rate when the pump stopped (epoch ms), or None.
    rate_blocked_until: int | None
    #: The lock as last written or read by the pump (or as given, when it did not run).
    lock: QueueLock


def pump(
    ctx: QueueContext,
    lock_name: str,
    lock: QueueLock,
    rate_blocked_until: int | None,
    keep_going: Callable[[QueueLock], bool],
    handoff: Handoff,
    turn_offset_ms: Callable[[QueueLock], int] | None = None,
) -> PumpResult:
    """While a fitting head waits only for the rate, the wait is short and fits before the deadline, and
    ``keep_going(lock)``: sleep until ``nextGrantAt`` (plus ``turn_offset_ms(lock)``: a waiter further back
    sleeps until its own turn), settle, resume whoever was granted."""
    while rate_blocked_until is not None:
        now = ctx.clock()
        wait_ms = rate_blocked_until + (turn_offset_ms(lock) if turn_offset_ms else 0) - now
        if wait_ms > PUMP_MAX_WAIT_MS or now + max(wait_ms, 0) > ctx.deadline_ms:
            break
        if wait_ms > 0:
            ctx.sleep(wait_ms / 1000)
        committed = ctx.transact(lock_name, lambda lk, t: settle_only(lk, ctx.limit, ctx.tps_limit, t))
        lock = committed.outcome.lock
        rate_blocked_until = committed.outcome.rate_blocked_until
        if committed.outcome.granted:
            step = resume_granted(
                ctx,
                lock_name,
                committed.outcome.granted,
                granted_at=committed.outcome.decided_at,
            )
            handoff.extend(step)
            if step.dropped:
                rate_blocked_until = step.rate_blocked_until
        if not keep_going(lock):
            break
    return PumpResult(rate_blocked_until=rate_blocked_until, lock=lock)


#: The metrics both queue functions report under the same names, so that each sums over both.
HANDOFF_METRICS = ("Resumes", "GrantsPassedOn", "LockWriteRetries", "LockContention")


def handoff_counts(
    resumed: Sequence[str], dropped: Sequence[str], attempts: int, error: Exception | None
) -> dict[str, int]:
    """Resumes: executions resumed with SendTaskSuccess. GrantsPassedOn: grants to executions that had ended,
    handed to the next waiter. LockWriteRetries: conditional writes lost to other writers and retried.
    LockContention: the call failed with LockContentionError (``error``)."""
    return {
        "Resumes": len(resumed),
        "GrantsPassedOn": len(dropped),
        "LockWriteRetries": max(0, attempts - 1),
        "LockContention": int(isinstance(error, LockContentionError)),
    }


def _log(outcome: str, lock_name: str, execution_arn: str, **fields: object) -> None:
    logger.info(
        json.dumps({"outcome": outcome, "lockName": lock_name, "executionArn": execution_arn, **fields})
    )
