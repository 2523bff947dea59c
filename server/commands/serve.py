"""``abrkit serve``: the control plane and N edges on loopback, until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

HELP = "Run the reference backend (control plane + OCA edges) on 127.0.0.1 until Ctrl-C."

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
DEFAULT_PORT_BASE = 8100


def cache_dir() -> Path:
    """``$ABRKIT_CACHE`` or ``~/.cache/abrkit``."""
    from server.runner import default_cache_dir

    return default_cache_dir()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--content",
        type=Path,
        metavar="DIR",
        help="packaged content root holding DIR/<title>/catalog.json "
        "(default: package the demo title into the cache on first run)",
    )
    parser.add_argument(
        "--edges", type=int, default=3, metavar="N", help="number of edges (default 3)"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=DEFAULT_PORT_BASE,
        metavar="P",
        help=f"control plane on P, edge i on P+i (default {DEFAULT_PORT_BASE}; 0 picks free ports)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; keep it on loopback)",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="catalog rules JSON (licence windows per country; default: "
        "everything licensed everywhere)",
    )
    parser.add_argument(
        "--steering-ttl",
        type=float,
        default=10.0,
        metavar="S",
        help="content-steering TTL in seconds (default 10)",
    )
    parser.add_argument(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help="file holding the token-signing secret (default: random per run)",
    )


def _content_root(args: argparse.Namespace) -> Path:
    if args.content is not None:
        return Path(args.content)
    from server.runner import ensure_demo_content

    print(
        f"preparing the demo title in {cache_dir() / 'content'} "
        "(the first run packages it, which takes minutes; later runs reuse it)",
        file=sys.stderr,
    )
    return ensure_demo_content(cache_dir())


def run(args: argparse.Namespace) -> int:
    from server.control.catalog_rules import CatalogRules
    from server.errors import ServerError
    from server.runner import start_backend

    if args.edges < 1:
        print("abrkit serve: --edges must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}, not loopback", file=sys.stderr)
    rules = None
    secret = None
    try:
        if args.rules is not None:
            rules = json.loads(args.rules.read_text())
            CatalogRules(rules)  # validate before starting
        if args.secret_file is not None:
            secret = args.secret_file.read_bytes().strip()
        content = _content_root(args)
        if not content.is_dir():
            print(f"abrkit serve: content directory {content} does not exist", file=sys.stderr)
            return EXIT_USAGE
        backend = start_backend(
            content,
            edges=args.edges,
            host=args.host,
            port_base=args.port_base,
            rules=rules,
            secret=secret,
            steering_ttl_s=args.steering_ttl,
            work_dir=cache_dir() / "serve",
        )
    except (OSError, ValueError, ServerError) as exc:
        print(f"abrkit serve: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    titles = sorted(p.parent.name for p in content.glob("*/catalog.json"))
    example = titles[0] if titles else "TITLE"
    print(f"content       {content}  (titles: {', '.join(titles) or 'none'})")
    print(f"control plane {backend.control_url}")
    for name, url in backend.edge_urls.items():
        print(f"{name:<13} {url}   faults: POST {url}/admin/faults")
    print(f"telemetry db  {backend.control_plane.config.db_path}")
    print("example grant:")
    print(
        f"  curl -s -X POST {backend.grant_url(example)} -H 'content-type: application/json' "
        '-d \'{"country": "US", "device_class": "tv", "account": "alice"}\''
    )
    print("Ctrl-C to stop", flush=True)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
    finally:
        backend.close()
    return EXIT_OK
