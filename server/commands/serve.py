"""``abrkit serve``: the control plane and N edges on loopback, until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

HELP = "Run the reference backend (control plane + OCA edges) on 127.0.0.1 until Ctrl-C."

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
DEFAULT_PORT_BASE = 8100
# LicenceConfig's defaults, spelled out so that building the CLI parser does not
# import the control plane (tests/server/test_serve_licence.py checks they agree)
DEFAULT_MAX_STREAMS = 2
DEFAULT_LICENCE_S = 600.0
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0


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
    lic = parser.add_argument_group(
        "licence server", "ClearKey licences and HLS AES-128 keys (see docs/drm.md)"
    )
    lic.add_argument(
        "--key-store",
        type=Path,
        metavar="FILE",
        help="key store written by 'abrkit package --encrypt' (mode 0600, never inside "
        "--content; default $ABRKIT_KEY_STORE or $ABRKIT_CACHE/keys/keystore.json)",
    )
    lic.add_argument(
        "--max-streams",
        type=int,
        default=DEFAULT_MAX_STREAMS,
        metavar="N",
        help="concurrent streams per account (default %(default)s)",
    )
    lic.add_argument(
        "--licence-seconds",
        type=float,
        default=DEFAULT_LICENCE_S,
        metavar="S",
        help="lifetime of a licence, its expires_in (default %(default)g)",
    )
    lic.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=DEFAULT_HEARTBEAT_TIMEOUT_S,
        metavar="S",
        help="a stream not seen (licence, renewal, heartbeat) for S seconds frees its "
        "slot (default %(default)g)",
    )


def licence_config(args: argparse.Namespace, content: Path) -> Any:
    """The ``LicenceConfig`` of the licence flags; ``ValueError`` with the flag's name.

    An explicit ``--key-store`` must be a readable key store (mode 0600, right
    format) outside ``content``: checked here so that a typo is an error at
    start, not a refused licence later.
    """
    import math

    from drm import KeyStore, KeyStoreError
    from server.control.licence import LicenceConfig

    if args.max_streams < 1:
        raise ValueError(f"--max-streams must be >= 1, got {args.max_streams}")
    for flag, value in (
        ("--licence-seconds", args.licence_seconds),
        ("--heartbeat-timeout", args.heartbeat_timeout),
    ):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{flag} must be a positive number of seconds, got {value:g}")
    store = args.key_store
    if store is not None:
        store = Path(store).expanduser()
        if not store.is_file():
            what = "is not a file" if store.exists() else "does not exist"
            raise ValueError(
                f"--key-store {store} {what} (write one with 'abrkit package --encrypt "
                "cenc --key-store FILE')"
            )
        try:
            KeyStore(store, forbid_under=content).keys()
        except KeyStoreError as exc:
            raise ValueError(f"--key-store: {exc}") from None
    return LicenceConfig(
        key_store=store,
        licence_duration_s=args.licence_seconds,
        max_streams=args.max_streams,
        heartbeat_timeout_s=args.heartbeat_timeout,
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
    from drm import DrmError
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
        try:
            licence = licence_config(args, content)
        except ValueError as exc:
            print(f"abrkit serve: {exc}", file=sys.stderr)
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
            licence=licence,
        )
    except (OSError, ValueError, ServerError, DrmError) as exc:
        print(f"abrkit serve: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    titles = sorted(p.parent.name for p in content.glob("*/catalog.json"))
    example = titles[0] if titles else "TITLE"
    print(f"content       {content}  (titles: {', '.join(titles) or 'none'})")
    print(f"control plane {backend.control_url}")
    for name, url in backend.edge_urls.items():
        print(f"{name:<13} {url}   faults: POST {url}/admin/faults")
    print(f"telemetry db  {backend.control_plane.config.db_path}")
    lic = backend.control_plane.licence
    print(
        f"licences      keys {lic.store.path}, at most {licence.max_streams} streams per account, "
        f"{licence.licence_duration_s:g} s licences, heartbeat timeout "
        f"{licence.heartbeat_timeout_s:g} s"
    )
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
