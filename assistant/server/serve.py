"""Serving: the listening socket (bound before the index loads, so a busy port fails in a second), and uvicorn."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from starlette.types import ASGIApp

from ..api import DEFAULT_ARTICLE, Assistant
from ..article import read_article
from ..errors import AssistantError
from ..library import Library, default_folder
from . import HOST, PORT
from .app import create_app
from .starting import Starting

log = logging.getLogger("assistant")


def serve(
    *,
    article: Path | None = None,
    index_dir: Path | None = None,
    model: str | None = None,
    host: str = HOST,
    port: int = PORT,
    library: Path | None = None,
    allow_private_urls: bool = False,
    api_key: str | None = None,
    engine: str | None = None,
) -> None:
    """Load (or build) the article's index, then serve the page and the API until interrupted. library: the folder
    of added articles (default: beside the article's index); allow_private_urls: let users fetch from loopback and
    private addresses (for tests against a local server); api_key: the bearer token /api/* and /v1/* require;
    engine: the archive's engine, a folder or a Qdrant server's URL (default: $ASSISTANT_ENGINE, else
    library/.archive)."""
    import uvicorn

    listener = listen(host, port)  # before loading: a busy port fails in a second, not after indexing
    path = Path(article) if article else DEFAULT_ARTICLE
    read_article(path)  # a missing or unreadable article fails now, with its message, not later on the page

    def load(progress) -> ASGIApp:
        assistant = Assistant.from_article(path, index_dir, model, progress=progress)
        folder = library or default_folder(assistant.index_dir)
        shared = Library(assistant, folder, allow_private_urls=allow_private_urls)
        return create_app(shared, chat="later", api_key=api_key, archive=engine)

    app = Starting(load, path.name)  # listens at once; a long article shows its progress on / and /api/health
    bound = listener.getsockname()
    url = f"http://{_url_host(host)}:{bound[1]}"
    log.info("listening on %s: the API under %s/api (docs at %s/docs) answers once the article is loaded, and the chat "
             "page follows; until then %s shows the progress", url, url, url, url)  # fmt: skip
    if not _is_loopback(host) and not api_key:
        log.warning("listening on %s: anyone who can reach it can use it (no login; --api-key KEY guards /api and "
                    "/v1, not the chat page)", host)  # fmt: skip
    elif not _is_loopback(host):
        log.warning("listening on %s: /api and /v1 need the API key; the chat page at / does not", host)
    config = uvicorn.Config(app, log_level="warning", server_header=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listener])


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or an AssistantError saying how to pick another port."""
    sock = None
    try:
        # proto must be IPPROTO_TCP, not 0 (as socket.create_server leaves it): asyncio sets TCP_NODELAY on
        # accepted connections only then, and without it every kept-alive request waits ~40 ms (Nagle).
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except socket.gaierror as e:
        raise AssistantError(f"cannot listen on {host!r} ({e.strerror}): pass --host 127.0.0.1 or an address") from None
    except OSError as e:
        if sock is not None:
            sock.close()
        raise AssistantError(
            f"cannot listen on {host}:{port} ({e.strerror or e}): is another server using it? Pass --port N"
        ) from None
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
