"""The server before its article is indexed: it listens at once, shows a page with a progress bar, and says
`indexing` on /api/health, then hands every request to the real app (whose start-up and shutdown hooks it runs)."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .schema import RETRY_AFTER

log = logging.getLogger("assistant")

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Article assistant</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:3em auto;max-width:36em;padding:0 1em;color:#1f2328}
.bar{height:10px;background:#eee;border-radius:5px;overflow:hidden;margin:1em 0}
.bar div{height:100%;background:#f59e0b;width:0;transition:width .4s}#stage{color:#555}</style></head>
<body><h1>Article assistant</h1><p>__TEXT__</p><div class="bar"><div id="fill"></div></div><p id="stage"></p>
<script>
async function poll() {
  try {
    const r = await fetch("/api/health", {cache: "no-store"});
    if (r.status === 200) { location.reload(); return; }
    const h = await r.json();
    if (h.status === "failed") { document.getElementById("stage").textContent = h.detail; return; }
    if (typeof h.progress === "number") document.getElementById("fill").style.width = (100 * h.progress) + "%";
    document.getElementById("stage").textContent = h.detail || "";
  } catch (e) {}
  setTimeout(poll, 700);
}
poll();
</script></body></html>"""


class Starting:
    """An ASGI app that serves the progress page until `load()` (run in a thread at start-up) returns the real app.

    load takes a Progress callback ((stage, fraction) -> None) to report with. A failure is shown on the page and
    on /api/health (503 "failed"), and the server keeps answering that rather than dying.
    """

    def __init__(self, load: Callable[[Callable[[str, float], None]], ASGIApp], name: str):
        self.load = load
        self.name = name
        self.app: ASGIApp | None = None
        self.stage, self.fraction, self.failed = "starting", 0.0, ""
        self._lock = threading.Lock()

    def progress(self, stage: str, fraction: float) -> None:
        with self._lock:
            self.stage, self.fraction = stage, fraction

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self._waiting(scope, receive, send)

    def health(self) -> dict:
        with self._lock:
            if self.failed:
                return {"status": "failed", "detail": self.failed}
            return {"status": "indexing", "stage": self.stage, "progress": round(self.fraction, 3),
                    "detail": f"indexing {self.name}: {self.stage}, {round(100 * self.fraction)}%"}  # fmt: skip

    async def _waiting(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.responses import HTMLResponse, JSONResponse

        headers = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"}
        path = scope["path"]
        if path == "/api/health":
            response = JSONResponse(self.health(), status_code=503, headers=headers)
        elif path.startswith(("/api/", "/v1/")):
            response = JSONResponse({"detail": self.health()["detail"] + "; try again in a moment"}, status_code=503,
                                    headers=headers)  # fmt: skip
        else:
            text = self.failed or f"Indexing {self.name} for its first questions: the chat page opens when it is done."
            response = HTMLResponse(_PAGE.replace("__TEXT__", html.escape(text)), status_code=503, headers=headers)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start listening at once; build the real app in a thread, then run its lifespan until shutdown."""
        import anyio
        import anyio.to_thread

        stop = anyio.Event()

        async def run_real() -> None:
            try:
                app = await anyio.to_thread.run_sync(self.load, self.progress, abandon_on_cancel=True)
            except Exception as e:
                log.exception("the article could not be indexed")
                with self._lock:
                    self.failed = f"the article could not be indexed ({_reason(e)}); the server's log says more"
                return
            async with app.router.lifespan_context(app):
                self.app = app
                await stop.wait()

        async with anyio.create_task_group() as tasks:
            message = await receive()
            assert message["type"] == "lifespan.startup"
            tasks.start_soon(run_real)
            await send({"type": "lifespan.startup.complete"})
            message = await receive()  # lifespan.shutdown
            stop.set()
            if self.app is None:  # still indexing: abandon it
                tasks.cancel_scope.cancel()
        await send({"type": "lifespan.shutdown.complete"})


def _reason(error: Exception) -> str:
    """What a user may read of a failure: an AssistantError's message (written for them), else only its kind."""
    from ..errors import AssistantError

    return str(error)[:300] if isinstance(error, AssistantError) else type(error).__name__
