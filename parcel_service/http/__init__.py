"""Django-level HTTP plumbing: middleware, authentication, throttling, renderers, parsers, cache, health, logs."""
