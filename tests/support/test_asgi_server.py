"""tests.support.ServerThread: serves, stops, and serves the same port again."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support import ServerThread, free_port


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/hello", hello)])


def test_serves_then_stops_then_serves_the_same_port_again() -> None:
    with ServerThread(APP) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/hello").text == "hello"
    port = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/hello")
    with ServerThread(APP, port) as again:
        assert httpx.get(f"{again.url}/hello").status_code == 200


def test_a_port_in_use_is_a_clear_error() -> None:
    with ServerThread(APP) as server, pytest.raises(RuntimeError, match="did not start"):
        ServerThread(APP, server.port).__enter__()


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
