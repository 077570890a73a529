"""``python -m pytest_sequin.server`` / ``sequin-embedded``: a standalone embedded Sequin."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Sequence

from .server import EmbeddedSequinServer


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {port}")
    return port


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sequin-embedded", description="Serve an in-process emulation of the Sequin v0.3.7 HTTP API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=7376, help="port to bind, 0 for any free port (default 7376)"
    )
    parser.add_argument("--no-default-stream", action="store_true", help="do not create the `default` stream")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="server log level (default WARNING; 500s answered on purpose are logged at WARNING)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")

    server = EmbeddedSequinServer(args.host, args.port, seed_default_stream=not args.no_default_stream)
    try:
        server.start()
    except OSError as exc:
        print(f"sequin-embedded: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"Sequin (embedded, v0.3.7 API) listening on {server.url}", flush=True)
    while not done.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
