"""Running the gateway: ``tokenomy serve`` (uvicorn, one process or several workers)."""

from __future__ import annotations

import inspect
import logging
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenomy.errors import ConfigError
from tokenomy.serve.config import GatewayConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["CONFIG_ENV", "app_from_env", "serve"]

log = logging.getLogger(__name__)

CONFIG_ENV = "TOKENOMY_SERVE__CONFIG_FILE"
"""The environment variable naming the configuration file (``serve.config_file``)."""


def app_from_env() -> Starlette:
    """The app for the configuration file named in the environment (the factory each
    uvicorn worker process calls)."""
    from tokenomy.serve.app import create_app
    from tokenomy.settings import Settings

    path = Settings.from_env().serve.config_file
    if path is None:
        raise ConfigError(f"set {CONFIG_ENV} to the gateway's configuration file.")
    return create_app(GatewayConfig.from_file(path), environ=os.environ)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port (0: any free)."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    config_file: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    environ: Mapping[str, str],
    access_log: bool = False,
    log_level: str = "warning",
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the gateway until interrupted.

    The configuration and its secrets are checked before the port is opened, so a
    mistake is reported at once. One line on stderr says where it listens (with
    ``port=0``, the port the system chose).

    Args:
        config_file: the YAML configuration.
        host: interface to listen on (default 127.0.0.1; 0.0.0.0 behind a load balancer).
        port: TCP port (default 8000; 0: any free port).
        workers: processes sharing the port (each an independent replica; give them
            Redis to share the cache and de-duplication).
        environ: where secrets are read (``os.environ``).
        access_log: log every request (default False: costly under load).
        log_level: uvicorn's log level.
        ready: called with the base URL once the port is open (the CLI prints it).
    """
    from tokenomy._optional import require

    uvicorn = require("uvicorn", feature="tokenomy serve", extra="server")
    from tokenomy.serve.app import create_app
    from tokenomy.serve.gateway import Gateway

    config = GatewayConfig.from_file(config_file)
    Gateway(config, environ=environ)  # secrets, prices and routes checked now, not per worker
    if workers < 1:
        raise ConfigError(f"workers must be >= 1; got {workers!r}.")
    sock = _bind(host, port)
    where = sock.getsockname()
    shown = f"[{where[0]}]" if sock.family == socket.AF_INET6 else where[0]
    if ready is not None:
        ready(f"http://{shown}:{where[1]}/v1")
    options: dict[str, Any] = {"access_log": access_log, "log_level": log_level, "lifespan": "on"}
    if workers == 1:
        app = create_app(config, environ=environ)
        uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[CONFIG_ENV] = str(Path(config_file).resolve())  # for the worker processes
    uconfig = uvicorn.Config(
        "tokenomy.serve.server:app_from_env", factory=True, workers=workers, **options
    )
    extra: dict[str, Any] = {}
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.30
        extra["target"] = uvicorn.Server(uconfig).run
    Multiprocess(uconfig, sockets=[sock], **extra).run()
