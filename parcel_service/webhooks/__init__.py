"""Webhook delivery: messages rendered from the outbox, signed, sent by Celery workers, retried, logged."""
