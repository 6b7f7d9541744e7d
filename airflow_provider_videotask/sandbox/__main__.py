"""``python -m airflow_provider_videotask.sandbox``: serve both vendor APIs on one local port."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from airflow_provider_videotask.sandbox.server import Sandbox
from airflow_provider_videotask.sandbox.world import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_TOKEN_TTL,
    FAULT_KINDS,
    Fault,
    SubmitLimit,
    hidream_limits,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_videotask.sandbox",
        description="A local stand-in for the vendors' video APIs: HiDream (v2, v3, v4 gateways) and every Ace "
        "Data Cloud video service by name (hailuo, kling, veo, luma, wan, seedance, sora, pika, pixverse, any "
        "other); see docs/sandbox.md.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8090, help="port, 0 for any free one (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a task takes (default: %(default)s)")
    parser.add_argument("--token", help="Ace: accept only this bearer token (default: any non-empty token)")
    parser.add_argument("--api-key", help="HiDream: accept only this API key (default: any non-empty key)")
    parser.add_argument(
        "--token-ttl", type=float, default=DEFAULT_TOKEN_TTL, help="HiDream token lifetime, s (default: %(default)s)"
    )
    parser.add_argument(
        "--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="Ace page without a limit (default: %(default)s)"
    )
    parser.add_argument("--no-limits", action="store_true", help="lift HiDream's per-minute submit limits")
    parser.add_argument(
        "--submit-limit",
        action="append",
        default=[],
        metavar="VENDOR:SCOPE=N/SECONDS[,active=K][,no-retry-after]",
        help="limit submits per account, e.g. hailuo:*=5/10 (replaces that scope's default)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:key=value,...]",
        help=f"inject a fault, e.g. rate_limit:count=3,retry_after=1 (kinds: {', '.join(FAULT_KINDS)})",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        faults = [Fault.parse(text) for text in args.fault]
    except (TypeError, ValueError) as error:
        parser.error(f"--fault: {error}")
    limits = {} if args.no_limits else hidream_limits()
    try:
        limits.update(SubmitLimit.parse(text) for text in args.submit_limit)
    except (TypeError, ValueError) as error:
        parser.error(f"--submit-limit: {error}")

    try:
        sandbox = Sandbox(
            args.host,
            args.port,
            duration=args.duration,
            token=args.token,
            api_key=args.api_key,
            token_ttl=args.token_ttl,
            page_size=args.page_size,
            limits=limits,
            verbose=args.verbose,
        )
    except OSError as error:  # the port is taken (another sandbox?), or the address is not this machine's
        print(
            f"sandbox: cannot listen on {args.host}:{args.port} ({error.strerror or error}); pick another port: "
            f"--port {args.port + 1} (make sandbox SANDBOX_PORT={args.port + 1}), or 0 for any free one",
            file=sys.stderr,
        )
        return 2
    for fault in faults:
        sandbox.state.faults.append(fault)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"videotask sandbox at {sandbox.url} (Ctrl-C to stop), serving HiDream at /api-pub/gw/{{v2,v3,v4}}/video/"
        "<module>/async and any Ace Data Cloud video service at /<service>/videos and /<service>/tasks (hailuo, "
        "kling, veo, luma, wan, seedance, sora, pika, pixverse, ...)",
        flush=True,
    )
    sandbox.callbacks.start()
    try:
        sandbox.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.callbacks.stop()
        sandbox.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
