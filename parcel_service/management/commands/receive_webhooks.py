"""``manage.py receive_webhooks``: a local receiver that verifies each message's signature and prints it.

For trying webhooks out on one machine (``make run`` delivers to ``http://127.0.0.1:…`` in development):
subscribe ``http://127.0.0.1:8001/`` with ``POST /api/v1/webhooks/``, then run this with the secret the
answer carried. It verifies with the ``standardwebhooks`` library, as a receiver in production would.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Command(BaseCommand):
    """Serve on 127.0.0.1, answer 204 to messages whose signature verifies and 400 to others; print both."""

    help = "Receive webhooks on 127.0.0.1 and print each verified message."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--port`` and ``--secret``."""
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--secret", required=True, help="The endpoint's secret (whsec_…).")

    def handle(self, *args: Any, **options: Any) -> None:
        """Serve until interrupted."""
        webhook, out = Webhook(options["secret"]), self.stdout

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    message = webhook.verify(body, dict(self.headers.items()))
                except WebhookVerificationError as error:
                    out.write(f"refused ({error}): {self.headers.get('webhook-id')}")
                    self.send_response(400)
                else:
                    out.write(f"{self.headers['webhook-id']} {json.dumps(message, indent=2)}")
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the command prints what matters."""

        server = ThreadingHTTPServer(("127.0.0.1", options["port"]), Handler)
        out.write(f"receiving on http://127.0.0.1:{options['port']}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
