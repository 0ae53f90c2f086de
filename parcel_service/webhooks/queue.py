"""Queue delivery tasks on the broker: best effort, never failing the caller (the dispatcher is the safety net)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core_project.celery import app

from ..domain.outbox import DELIVER_TASK

logger = logging.getLogger(__name__)


def queue_claims(claims: Sequence[tuple[str, int]]) -> None:
    """Queue one delivery task for ``claims`` (message id, attempts so far); log and carry on if the broker fails."""
    try:
        app.send_task(DELIVER_TASK, args=[[list(claim) for claim in claims]], retry=False)
    except Exception:  # the broker is down or slow: the messages are in the database, the dispatcher finds them
        logger.warning("could not queue webhook deliveries; the dispatcher will", exc_info=True)


def queue_new(message_ids: list[str]) -> None:
    """Queue the first attempt of messages a change just committed (``Outbox``'s notify)."""
    queue_claims([(message_id, 0) for message_id in message_ids])
