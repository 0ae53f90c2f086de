"""The bench's reference server: a textbook Django + DRF project (see bench/reference/README.md)."""
