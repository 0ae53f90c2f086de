"""The REST API (DRF): views, serializers, filters, pagination, permissions, schema, idempotency, cached documents."""
