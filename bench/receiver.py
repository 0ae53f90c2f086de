"""A webhook receiver that answers at once (``204``, keep-alive), for measuring delivery: ``python receiver.py PORT``.

asyncio streams, no framework: what it costs must be far below what a delivery costs the worker, so the
figure is the worker's. It counts what it received and prints the count on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

RECEIVED = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve one keep-alive connection: read each request's headers and body, answer 204."""
    global RECEIVED
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            RECEIVED += 1
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until SIGTERM."""
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    print(f"received {RECEIVED}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
