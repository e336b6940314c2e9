"""``restore serve``: a web page and a JSON API over one loaded Restorer.

Built on FastAPI (Starlette underneath, served by uvicorn): request and response models give
validation with clear 422 messages and the OpenAPI docs (``/docs``, ``/openapi.json``) from
one declaration (rendered at ``/docs`` by a packaged page, not FastAPI's CDN-hosted Swagger UI).
The model is loaded once; each request's model call runs in a worker thread
(never on the event loop), at most ``max_concurrency`` at a time, under a timeout.

    pip install "unspin[serve]"
    restore serve --port 8000            # http://127.0.0.1:8000/

API (JSON, UTF-8):

* ``POST /v1/restore`` ``{"text": "..."}`` or ``{"texts": ["...", ...]}``: the restored text,
  its edits (input offsets, spun, restored, confidence), the edits it suggests but did not
  make (the same fields) and the spin score of each text;
* ``POST /v1/detect``, same input: every word's spin probability, the spin score and the
  calibrated probability that the text was spun;
* with ``"html": true`` either reads each text as an HTML page (``restore.markup``): the text
  a reader sees is restored or judged, the markup comes back as it was, offsets are page
  offsets;
* ``GET /healthz``: ``{"status": "ok", "model": ...}``.

Limits: a body over ``max_body_bytes`` gets 413 before it is read in full; more than
``max_texts`` texts or a text over ``max_chars`` characters get 422; a request that waits and
runs longer than ``timeout_s`` gets 503. The page (``restore/static``) builds its DOM with
``textContent`` only, so user text is never parsed as HTML.
"""

# No "from __future__ import annotations": FastAPI must see the request models, which are
# local to build_app (their limits come from its settings), as classes, not as strings.

import asyncio
import contextlib
import json
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any

from restore.markup import place_next, read_pages

logger = logging.getLogger(__name__)

STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "docs.html": "text/html; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
# The page runs only its own script and style, and fetches only from this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits."""

    max_body_bytes: int = 1_000_000
    max_texts: int = 64
    max_chars: int = 100_000  # per text
    max_concurrency: int = 2  # model calls at a time
    timeout_s: float = 60.0  # waiting plus running, per request

    def validate(self) -> None:
        if min(self.max_body_bytes, self.max_texts, self.max_chars, self.max_concurrency) < 1:
            raise ValueError("serve limits must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("the timeout must be positive")


def build_app(restorer, settings: ServeSettings | None = None, *, model_name: str = ""):
    """The ASGI application serving ``restorer`` (any object with ``restore_detailed_iter``,
    ``detect_batch`` and ``detect_html_batch``, as :class:`restore.Restorer`)."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    settings = settings or ServeSettings()
    settings.validate()
    detects = getattr(restorer, "detects", True)
    # The executor's worker count is the concurrency cap; later requests queue for a worker.
    executor = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="restore-model")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    class TextsIn(BaseModel):
        """One text (``text``) or a list of them (``texts``), not both."""

        model_config = ConfigDict(extra="forbid", strict=True)
        text: str | None = Field(None, max_length=settings.max_chars)
        texts: list[str] | None = Field(None, max_length=settings.max_texts)
        html: bool = Field(
            False,
            description="read each text as an HTML page: restore or judge the text a reader "
            "sees, keep the markup; offsets are page offsets",
        )

        @model_validator(mode="after")
        def _one_of(self):
            if (self.text is None) == (self.texts is None):
                raise ValueError("give exactly one of 'text' (a string) or 'texts' (a list)")
            if self.texts is not None:
                if not self.texts:
                    raise ValueError(f"'texts' is empty: give 1 to {settings.max_texts} texts")
                longest = max(len(t) for t in self.texts)
                if longest > settings.max_chars:
                    raise ValueError(
                        f"a text has {longest} characters; the limit is {settings.max_chars}"
                    )
            return self

        def items(self) -> list[str]:
            return [self.text] if self.text is not None else list(self.texts or [])

    class AlternativeOut(BaseModel):
        restored: str
        confidence: float = Field(description="the edit's confidence, were this the original")

    class EditOut(BaseModel):
        start: int
        end: int
        spun: str
        restored: str
        confidence: float
        alternatives: list[AlternativeOut] = Field(
            description="the next likeliest originals, likeliest first (a tagger names up to 3)"
        )

    class SpinOut(BaseModel):
        spin_score: float = Field(description="expected share of spun words (mean word prob.)")
        spun_probability: float | None = Field(
            description="calibrated probability that the text was spun at all (null: the "
            "model has no calibration)"
        )

    class RestoredOut(BaseModel):
        text: str
        edits: list[EditOut]
        suggestions: list[EditOut] = Field(
            description="edits the model was not sure enough to make, for a reader to judge"
        )
        detection: SpinOut | None = Field(description="null: the model does not detect")

    class WordOut(BaseModel):
        start: int
        end: int
        word: str
        probability: float

    class DetectedOut(SpinOut):
        words: list[WordOut]

    class RestoreResponse(BaseModel):
        results: list[RestoredOut]

    class DetectResponse(BaseModel):
        results: list[DetectedOut]

    app = FastAPI(
        title="restore",
        version="1",
        description="Restore the original words of spun text, and say how likely it was spun.",
        lifespan=lifespan,
        # FastAPI's own /docs and /redoc load Swagger UI and ReDoc from a CDN; ours is a
        # packaged page over /openapi.json.
        docs_url=None,
        redoc_url=None,
    )

    app.add_middleware(BodyGuard, settings=settings)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse(status_code=422, content={"detail": _messages(exc.errors())})

    async def _call(fn, body: TextsIn) -> list[Any]:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(executor, fn, body), settings.timeout_s
            )
        except asyncio.TimeoutError as err:
            raise HTTPException(
                503, f"the model did not answer within {settings.timeout_s:g} s; try again"
            ) from err

    def _restore(body: TextsIn) -> list[dict[str, Any]]:
        from restore.detection import build_detection

        items, pages = body.items(), deque()
        texts = read_pages(items, pages) if body.html else items
        out = []
        for text, result in zip(items, restorer.restore_detailed_iter(texts)):
            judged = result
            if body.html:  # spin is judged on the text read; the answer gets page offsets
                result, text = place_next(pages, result)
            detection = None
            if detects:
                spin = build_detection(text, judged.word_spin, restorer.calibration)
                detection = spin.to_dict(words=False)
            data = result.to_dict()
            out.append(
                {
                    "text": result.text,
                    "edits": data["edits"],
                    "suggestions": data["suggestions"],
                    "detection": detection,
                }
            )
        return out

    def _detect(body: TextsIn) -> list[dict[str, Any]]:
        detect = restorer.detect_html_batch if body.html else restorer.detect_batch
        return [d.to_dict() for d in detect(body.items())]

    @app.post("/v1/restore", response_model=RestoreResponse)
    async def restore_texts(body: TextsIn) -> dict[str, Any]:
        """Restore one text or a list: restored text, edits in input offsets, spin score."""
        return {"results": await _call(_restore, body)}

    @app.post("/v1/detect", response_model=DetectResponse)
    async def detect_texts(body: TextsIn) -> dict[str, Any]:
        """Each word's spin probability, the spin score and P(spun) for one text or a list."""
        if not detects:
            raise HTTPException(501, "this model gives no word spin probabilities")
        return {"results": await _call(_detect, body)}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """The server is up and its model is loaded."""
        return {"status": "ok", "model": model_name, "limits": _limits(settings)}

    def _static(name: str) -> Response:
        data = resources.files("restore").joinpath("static", name).read_bytes()
        headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(data, media_type=STATIC_FILES[name], headers=headers)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return _static("index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return _static("docs.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return _static(name)

    return app


def serve(
    restorer,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: ServeSettings | None = None,
    model_name: str = "",
) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    app = build_app(restorer, settings, model_name=model_name)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


class BodyGuard:
    """ASGI middleware that reads each POST body before the app sees it: over the size cap it
    answers 413 (as soon as the cap is passed, or from Content-Length alone), and a body that
    is not JSON-typed (415) or not UTF-8 (400) gets a clear message."""

    def __init__(self, app, settings: ServeSettings):
        self.app = app
        self.cap = settings.max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").decode("latin-1")
        if length and (not length.isdigit() or int(length) > self.cap):
            await _error(413, f"request body too large: the limit is {self.cap} bytes", scope, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.cap:
                await _error(
                    413, f"request body too large: the limit is {self.cap} bytes", scope, send
                )
                return
        kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if kind != "application/json":
            message = "send a JSON body with Content-Type: application/json"
            await _error(415, message, scope, send)
            return
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            message = f"the body is not valid UTF-8 (byte 0x{body[err.start]:02x} at {err.start})"
            await _error(400, message, scope, send)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _error(status: int, message: str, scope, send) -> None:
    from fastapi.responses import JSONResponse

    async def nothing():
        return {"type": "http.disconnect"}

    await JSONResponse({"detail": message}, status_code=status)(scope, nothing, send)


class BackgroundServer:
    """uvicorn serving ``app`` on ``host`` (a free port by default) in a daemon thread, for
    tests and scripts; :meth:`stop` ends it.

    For example, ``server = BackgroundServer(build_app(restorer))`` serves at ``server.url``
    (``http://127.0.0.1:PORT``) until ``server.stop()``.
    """

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 30):
        import socket
        import threading
        import time

        import uvicorn

        if not port:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.port = port
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _limits(settings: ServeSettings) -> dict[str, Any]:
    return {
        "max_body_bytes": settings.max_body_bytes,
        "max_texts": settings.max_texts,
        "max_chars": settings.max_chars,
        "max_concurrency": settings.max_concurrency,
        "timeout_s": settings.timeout_s,
    }


def _messages(errors) -> list[dict[str, Any]]:
    """Validation errors without echoing the (possibly huge) input back."""
    out = []
    for error in errors:
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
        else:
            message = str(error.get("msg", "invalid input"))
        out.append({"loc": [str(p) for p in error.get("loc", ())], "msg": message})
    return json.loads(json.dumps(out))
