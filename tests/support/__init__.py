"""Helpers shared by tests in several packages (import as ``tests.support``).

``tests`` is a package (``tests/__init__.py``) and pytest's default
``prepend`` import mode puts the repository root on ``sys.path``, so
``from tests.support import ServerThread`` works from any test module.
"""

from tests.support.asgi_server import ServerThread, free_port
from tests.support.fake_time import FakeTime

__all__ = ["FakeTime", "ServerThread", "free_port"]
