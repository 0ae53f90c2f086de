"""One attempt at a webhook message, and what follows from its answer.

A task names the messages it should attempt together with how many attempts each has had: claiming one is a
conditional ``UPDATE`` on that count (and on no other attempt being in flight), so a duplicate task finds the
count moved on and sends nothing, and at most one attempt of a message is ever in flight. The claim takes a
lease (``locked_until``); a worker killed mid-attempt leaves the message to the dispatcher once it runs out.
The outcome is written under the same count, so a late writer can never turn a failure into a success.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..http.outbound import Answer, OutboundClient, TargetNotAllowed, check_target
from ..metrics import WEBHOOK_ATTEMPT_DURATION, WEBHOOK_DELIVERIES
from ..models import WebhookDelivery, WebhookEndpoint
from .messages import message_body, signed_headers, signing_secrets

logger = logging.getLogger(__name__)

# Waits after the 1st, 2nd, … failed attempt (API.md): about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; the 8th
# failure is final.
RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
# A task's claim holds its messages this much longer than their attempts may take.
LEASE_MARGIN_S = 10.0

Claim = tuple[str, int]  # a message id and the number of attempts it had when the task was queued
OUTCOME_FIELDS = ["status", "next_attempt_at", "locked_until", "last_status_code", "last_error", "delivered_at"]


def retry_delay(failed_attempts: int, *, scale: float = 1.0, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``failed_attempts`` failures (jittered ±20%); None when none is left."""
    if failed_attempts > len(RETRY_SCHEDULE_S):
        return None
    base = RETRY_SCHEDULE_S[failed_attempts - 1] * scale
    return base * (rng or random).uniform(1 - JITTER, 1 + JITTER)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: ``succeeded``, ``retrying`` or ``failed``."""

    message_id: str
    outcome: str
    answer: Answer


@contextmanager
def bookkeeping() -> Iterator[None]:
    """A transaction for the worker's own rows; on PostgreSQL it does not wait for its commit to reach disk.

    Losing the last such commit in a database crash loses a claim or an outcome, never a message: the message is
    attempted again (at least once, as promised). The change that wrote the message was committed durably.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


class Deliverer:
    """Attempts claimed messages and records the outcome.

    Args:
        client: Sends the request to the checked address.
        clock: The current time (aware).
        timeout_s: The request's timeout (``WEBHOOK_TIMEOUT_S``); the lease is this plus a margin.
        allow_private: ``WEBHOOK_ALLOW_PRIVATE_TARGETS``.
        retry_scale: Multiplies the retry schedule (1 in production).
        disable_after_s: An endpoint failing for this long without a success is disabled.
    """

    def __init__(
        self,
        *,
        client: OutboundClient,
        clock: Callable[[], datetime] = timezone.now,
        timeout_s: float,
        allow_private: bool,
        retry_scale: float = 1.0,
        disable_after_s: float,
    ) -> None:
        self.client = client
        self.clock = clock
        self.attempt_time = timedelta(seconds=timeout_s)
        self.allow_private = allow_private
        self.retry_scale = retry_scale
        self.disable_after = timedelta(seconds=disable_after_s)

    def deliver(self, claims: Iterable[Claim]) -> list[Outcome]:
        """Attempt each message that is still pending, has had the given number of attempts and is not in flight.

        The claims and the outcomes are each written in one transaction for the whole task, not one per message:
        on this machine a message cost 9.6 ms with two commits of its own, most of it waiting for them.
        """
        wanted = dict(claims)
        if not wanted:
            return []
        claimed = self._claim(wanted)
        sent = [(delivery, self._send(delivery)) for delivery in claimed]
        return self._record(sent)

    def _claim(self, wanted: dict[str, int]) -> list[WebhookDelivery]:
        """Lock and lease the wanted messages that are still as the task saw them; each with its attempt number."""
        now = self.clock()
        with bookkeeping():
            candidates = (
                WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("endpoint")
                .filter(pk__in=list(wanted), status=WebhookDelivery.Status.PENDING)
                .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            )
            # The attempt count is compared here, not in SQL: one condition per message made building the query
            # cost more than running it.
            claimed = [delivery for delivery in candidates if wanted[str(delivery.pk)] == delivery.attempts]
            if claimed:
                # The task attempts its messages one after another: the lease covers them all, each taking the
                # longest an attempt may take, so none comes due again while it still waits its turn here.
                lease = self.attempt_time * len(claimed) + timedelta(seconds=LEASE_MARGIN_S)
                leased = WebhookDelivery.objects.filter(pk__in=[delivery.pk for delivery in claimed])
                leased.update(attempts=F("attempts") + 1, locked_until=now + lease)
        for delivery in claimed:
            delivery.attempts += 1
        return claimed

    def _send(self, delivery: WebhookDelivery) -> Answer:
        endpoint = delivery.endpoint
        if not endpoint.is_active:
            return Answer(None, "endpoint disabled", 0.0)
        try:
            target = check_target(endpoint.url, allow_private=self.allow_private)
        except TargetNotAllowed as refusal:  # DNS changed since the subscription: checked on every attempt
            return Answer(None, str(refusal), 0.0)
        now = self.clock()
        body = message_body(delivery)
        headers = signed_headers(
            message_id=str(delivery.pk), body=body, secrets_=signing_secrets(endpoint, now), now=now
        )
        answer = self.client.post(target, body, headers)
        WEBHOOK_ATTEMPT_DURATION.observe(answer.elapsed_s)
        return answer

    def _record(self, sent: list[tuple[WebhookDelivery, Answer]]) -> list[Outcome]:
        """Write every outcome of the task at once, for the messages whose attempt count is still the task's."""
        now = self.clock()
        outcomes, updated = [], []
        for delivery, answer in sent:
            endpoint = delivery.endpoint
            delivery.locked_until, delivery.last_status_code = None, answer.status
            delay = None
            if answer.ok:
                outcome = "succeeded"
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = "succeeded", now, None
                delivery.last_error = ""
                if endpoint.failing_since is not None:
                    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
                    endpoint.failing_since = None
            else:
                delay = retry_delay(delivery.attempts, scale=self.retry_scale) if endpoint.is_active else None
                outcome = "failed" if delay is None else "retrying"
                delivery.last_error = (answer.error or f"HTTP {answer.status}")[:200]
                if delay is None:
                    delivery.status, delivery.next_attempt_at = "failed", None
                else:
                    delivery.next_attempt_at = now + timedelta(seconds=delay)
                self._endpoint_failed(endpoint, now)
            updated.append(delivery)
            outcomes.append(Outcome(str(delivery.pk), outcome, answer))
            WEBHOOK_DELIVERIES.labels(outcome).inc()
            logger.info(
                "webhook attempt",
                extra={
                    "webhook_id": str(delivery.pk),
                    "endpoint_id": str(endpoint.pk),
                    "event_type": delivery.event_type,
                    "attempt": delivery.attempts,
                    "status_code": answer.status,
                    "outcome": outcome,
                    "error": delivery.last_error,
                    "duration_ms": round(answer.elapsed_s * 1000, 1),
                    "next_attempt_in_s": None if delay is None else round(delay, 1),
                },
            )
        if updated:
            self._write_outcomes(updated)
        return outcomes

    def _write_outcomes(self, deliveries: list[WebhookDelivery]) -> None:
        """Store the outcomes of the messages still at the attempt count this task gave them (the fence).

        One ``UPDATE`` per distinct outcome: the successes of a task share theirs, so a task of 20 delivered
        messages writes them in one statement.
        """
        attempts = {delivery.pk: delivery.attempts for delivery in deliveries}
        with bookkeeping():
            current = WebhookDelivery.objects.select_for_update().filter(pk__in=list(attempts))
            fenced = {pk for pk, count in current.values_list("pk", "attempts") if attempts[pk] == count}
            same: dict[tuple[object, ...], list[object]] = {}
            for delivery in deliveries:
                if delivery.pk in fenced:
                    values = tuple(getattr(delivery, field) for field in OUTCOME_FIELDS)
                    same.setdefault(values, []).append(delivery.pk)
            for values, pks in same.items():
                WebhookDelivery.objects.filter(pk__in=pks).update(**dict(zip(OUTCOME_FIELDS, values, strict=True)))

    def _endpoint_failed(self, endpoint: WebhookEndpoint, now: datetime) -> None:
        """Start the endpoint's run of failures, or disable it once the run has lasted ``disable_after``."""
        if not endpoint.is_active:
            return
        if endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
            endpoint.failing_since = now
        elif now - endpoint.failing_since >= self.disable_after:
            days = self.disable_after.total_seconds() / 86400
            reason = f"Every delivery failed for {days:g} days."
            WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
                is_active=False, disabled_reason=reason
            )
            endpoint.is_active = False
            logger.warning("webhook endpoint disabled", extra={"endpoint_id": str(endpoint.pk)})


def due_claims(*, now: datetime, requeue_after: timedelta, limit: int) -> list[Claim]:
    """Pending messages that are due and not in flight, pushed ``requeue_after`` ahead so the next run skips them.

    ``SELECT … FOR UPDATE SKIP LOCKED``: two dispatchers (a beat that restarted while the old one still ran) take
    different rows. A message whose task is lost comes round again after ``requeue_after``.
    """
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .order_by("next_attempt_at")
            .values_list("pk", "attempts")[:limit]
        )
        if due:
            WebhookDelivery.objects.filter(pk__in=[pk for pk, _ in due]).update(next_attempt_at=now + requeue_after)
    return [(str(pk), attempts) for pk, attempts in due]


def chunks(claims: Sequence[Claim], size: int) -> Iterable[list[Claim]]:
    """``claims`` in lists of at most ``size``."""
    for start in range(0, len(claims), size):
        yield list(claims[start : start + size])
