"""The inference endpoint: a FastAPI app around one :class:`ModelServer`.

Routes (docs/serving.md)::

    POST /v1/models/{name}/predict   JSON records or columns/data, CSV or Parquet -> predictions
    POST /v2/models/{name}/infer     the Open Inference Protocol (KServe V2)
    POST /v1/feedback                ground truth for earlier predictions, by request id
    GET  /health  /ready  /metrics  /v1/models  /v1/models/{name}  /v2/...  /docs

The request path is kept lean: bodies are read as bytes and parsed with orjson, a request
whose columns are all numbers reaches a scikit-learn model as an array, and a batch of
many rows is decoded and predicted on a worker thread so the event loop keeps answering.
Every refusal is a :class:`RequestError` with a JSON body; an exception from the model is
a 500 carrying the request id, logged with its traceback, and the server stays up.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from shipyard.__about__ import __version__
from shipyard.errors import SignatureError
from shipyard.ids import new_id
from shipyard.serving._batching import Batcher
from shipyard.serving._codec import (
    V2_DATATYPES,
    Limits,
    decode_frame,
    decode_v2,
    encode_v2,
    prediction_columns,
)
from shipyard.serving._errors import RequestError
from shipyard.serving._fast import decode_numeric_json
from shipyard.serving._log import InputArray
from shipyard.serving._metrics import ServingMetrics
from shipyard.serving._server import ModelServer, Served, served_name_matches

__all__ = ["create_app"]

logger = logging.getLogger("shipyard.serving")
access_logger = logging.getLogger("shipyard.serving.access")

#: Batches at least this large are decoded and predicted off the event loop. Below that
#: the hop costs more than it saves: under load, handing a request to a worker thread and
#: back costs ~2 ms of CPU in GIL hand-offs, while 1,000 numeric rows decode and predict
#: inline in ~1.5 ms (decision 33). The limits keep the loop blocked for a few ms at most.
THREAD_ROWS = 2_500
THREAD_BYTES = 512 * 1024
#: Bodies up to this size try the numeric fast path (a few dozen rows); it checks each
#: value in Python, which the codec's vectorised path beats for larger batches.
FAST_PATH_BYTES = 16 * 1024
_V2_NAMES = {dtype: name for name, dtype in V2_DATATYPES.items()}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_JSON = "application/json"
_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            _JSON: {
                "schema": {"type": "object"},
                "examples": {
                    "records": {"value": {"records": [{"tenure": 3, "plan": "basic"}]}},
                    "columns": {"value": {"columns": ["tenure", "plan"], "data": [[3, "basic"]]}},
                },
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def create_app(server: ModelServer, *, own_process: bool = False) -> FastAPI:
    """The ASGI app serving ``server``'s model; the model is loaded at startup (``/ready``
    answers 503 until then) and the logs are flushed at shutdown. ``own_process``: the
    process exists to serve (``shipyard serve``), so everything loaded at startup is
    moved out of the garbage collector's sight (``gc.freeze``)."""
    endpoint = _Endpoint(server)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if server.current is None:
            await run_in_threadpool(server.load)
        if own_process:
            # Everything imported and loaded so far lives as long as the server: out of
            # the collector's sight, full collections no longer pause requests for long.
            gc.freeze()
        server.start_logs()
        watcher = asyncio.create_task(_watch(server, endpoint.metrics)) if server.watched else None
        endpoint.ready = True
        served = _current(server)
        logger.info("Serving %s version %d.", served.name, served.version)
        try:
            yield
        finally:
            endpoint.ready = False
            if watcher is not None:
                watcher.cancel()
            await run_in_threadpool(server.close)

    app = FastAPI(
        title=f"Shipyard: {server.name}",
        version=__version__,
        description=f"Predictions of the registered model '{server.name}' ({server.ref}).",
        lifespan=lifespan,
    )
    if server.config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(server.config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id"],
        )
    endpoint.add_routes(app)
    app.state.metrics = endpoint.metrics
    return app


class _Endpoint:
    """The route handlers of one server, with its metrics and limits."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.metrics = ServingMetrics()
        self.limits = Limits(
            max_body_bytes=server.config.max_body_bytes, max_rows=server.config.max_rows
        )
        self.ready = False
        self.batcher = Batcher()
        _add_log_gauges(self.metrics, server)
        self.metrics.gauge(
            "shipyard_batched_requests",
            "Requests predicted through dynamic batching.",
            lambda: self.batcher.requests,
        )
        self.metrics.gauge(
            "shipyard_batched_predict_calls",
            "Model calls those requests took (fewer than requests when batched).",
            lambda: self.batcher.calls,
        )

    def add_routes(self, app: FastAPI) -> None:
        post, get = ["POST"], ["GET"]
        json_body = {"requestBody": {"required": True, "content": {_JSON: {"schema": {}}}}}
        routes: list[tuple[str, str, Handler, list[str], str, dict[str, Any] | None]] = [
            ("/v1/models/{name}/predict", "predict", self.predict, post, "Predict rows",
             _PREDICT_BODY),
            ("/v2/models/{name}/infer", "infer", self.infer, post,
             "Open Inference Protocol inference", json_body),
            ("/v1/feedback", "feedback", self.feedback, post,
             "Ground truth for earlier predictions", json_body),
            ("/v1/models", "models", self.models, get, "Served models", None),
            ("/v1/models/{name}", "model", self.describe, get, "The served version", None),
            ("/health", "health", self.health, get, "Liveness", None),
            ("/ready", "ready", self.readiness, get, "Readiness", None),
            ("/v2", "v2", self.server_metadata, get, "V2 server metadata", None),
            ("/v2/health/live", "live", self.health, get, "V2 liveness", None),
            ("/v2/health/ready", "ready", self.readiness, get, "V2 readiness", None),
            ("/v2/models/{name}", "v2_model", self.v2_metadata, get, "V2 model metadata", None),
            ("/v2/models/{name}/ready", "ready", self.readiness, get, "V2 model readiness",
             None),
        ]  # fmt: skip
        for path, name, handler, methods, summary, extra in routes:
            app.add_api_route(
                path,
                self.answered(name, handler),
                methods=methods,
                summary=summary,
                openapi_extra=extra,
            )
        app.add_api_route("/metrics", self.metrics_text, methods=get, summary="Prometheus")

    def answered(self, endpoint: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` with a request id, latency metrics, an access log line and
        errors turned into JSON answers."""
        server, metrics = self.server, self.metrics

        async def route(request: Request) -> Response:
            started = time.perf_counter()
            given = request.headers.get("x-request-id")
            request_id = given if given and _REQUEST_ID.fullmatch(given) else new_id()
            try:
                response = await handler(request, request_id)
            except RequestError as exc:
                response = _json(exc.to_dict() | {"request_id": request_id}, exc.status)
                if exc.status == 401:
                    response.headers["www-authenticate"] = "Bearer"
            except Exception as exc:
                logger.exception("Request %s to %s failed", request_id, request.url.path)
                response = _json(
                    {
                        "error": f"The model failed on this request: {type(exc).__name__}.",
                        "hint": "The server log has the traceback under this request id.",
                        "request_id": request_id,
                    },
                    500,
                )
            seconds = time.perf_counter() - started
            response.headers["x-request-id"] = request_id
            metrics.observe(endpoint, response.status_code, seconds)
            if server.config.access_log:
                access_logger.info(
                    '{"request_id":"%s","method":"%s","path":"%s","status":%d,"ms":%.3f}',
                    request_id,
                    request.method,
                    request.url.path,
                    response.status_code,
                    seconds * 1000,
                )
            return response

        return route

    async def predict(self, request: Request, request_id: str) -> Response:
        served = _served_for(self.server, request.path_params["name"])
        body = await self._body(request)
        started = time.perf_counter()
        signature = served.model.signature
        content_type = request.headers.get("content-type")
        matrix = None
        if served.predict_matrix is not None and len(body) <= FAST_PATH_BYTES:
            matrix = decode_numeric_json(body, content_type, signature, self.limits)
        if matrix is not None:
            columns = prediction_columns(await self.batcher.submit(served, matrix), signature)
            inputs: Any = InputArray(served.input_columns, matrix)
        elif len(body) >= THREAD_BYTES:
            columns, inputs = await run_in_threadpool(
                _decode_and_predict, served, body, content_type, self.limits
            )
        else:
            frame = decode_frame(body, content_type, signature, self.limits)
            columns, inputs = await _maybe_threaded(
                len(frame) >= THREAD_ROWS, _predict_frame, served, frame
            )
        rows = self._logged(served, request_id, columns, started, inputs)
        self.metrics.count_rows("predict", rows)
        return _json(
            {
                "request_id": request_id,
                "model": served.name,
                "version": served.version,
                "predictions": _predictions_field(columns),
            }
        )

    async def infer(self, request: Request, request_id: str) -> Response:
        served = _served_for(self.server, request.path_params["name"])
        body = await self._body(request)
        started = time.perf_counter()
        parsed = await _maybe_threaded(
            len(body) >= THREAD_BYTES, decode_v2, body, served.model.signature, self.limits
        )
        columns, inputs = await _maybe_threaded(
            len(parsed.frame) >= THREAD_ROWS, _predict_frame, served, parsed.frame
        )
        rows = self._logged(served, request_id, columns, started, inputs)
        self.metrics.count_rows("infer", rows)
        return _json(
            encode_v2(parsed.id or request_id, served.name, served.version, columns, parsed.outputs)
        )

    async def feedback(self, request: Request, request_id: str) -> Response:
        body = await self._body(request)
        items = _feedback_items(body)
        log = self.server.feedback_log
        kept = 0
        if log is not None:
            served = _current(self.server)
            kept = sum(
                log.log(served.name, item["request_id"], item["label"], item.get("row"))
                for item in items
            )
        return _json({"request_id": request_id, "received": len(items), "logged": kept})

    async def describe(self, request: Request, request_id: str) -> Response:
        return _json(_served_for(self.server, request.path_params["name"]).describe())

    async def models(self, request: Request, request_id: str) -> Response:
        served = _current(self.server)
        return _json({"models": [{"name": served.name, "version": served.version}]})

    async def v2_metadata(self, request: Request, request_id: str) -> Response:
        served = _served_for(self.server, request.path_params["name"])
        signature = served.model.signature
        tensors = {
            part: [
                {
                    "name": column.name,
                    "datatype": _V2_NAMES.get(column.dtype, "BYTES"),
                    "shape": [-1],
                }
                for column in (getattr(signature, part) if signature else ())
            ]
            for part in ("inputs", "outputs")
        }
        return _json(
            {
                "name": served.name,
                "versions": [str(served.version)],
                "platform": served.record.flavor,
                **tensors,
            }
        )

    async def readiness(self, request: Request, request_id: str) -> Response:
        if not self.ready:
            return _json({"status": "loading"}, 503)
        served = _current(self.server)
        return _json({"status": "ready", "model": served.name, "version": served.version})

    async def health(self, request: Request, request_id: str) -> Response:
        return _json({"status": "ok"})

    async def server_metadata(self, request: Request, request_id: str) -> Response:
        return _json({"name": "shipyard", "version": __version__, "extensions": []})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def _body(self, request: Request) -> bytes:
        _check_token(self.server, request)
        return await _read_body(request, self.limits, self.server.config.body_timeout_s)

    def _logged(
        self,
        served: Served,
        request_id: str,
        columns: dict[str, list[Any]],
        started: float,
        inputs: Any,
    ) -> int:
        """Hand the request to the prediction log; the number of rows predicted."""
        log = self.server.prediction_log
        if log is not None:
            latency_ms = (time.perf_counter() - started) * 1000
            log.log(request_id, served.name, served.version, inputs, columns, latency_ms)
        return len(inputs)


Handler = Callable[[Request, str], Awaitable[Response]]


def _decode_and_predict(
    served: Served, body: bytes, content_type: str | None, limits: Limits
) -> tuple[dict[str, list[Any]], Any]:
    """A large body, decoded and predicted in one trip to a worker thread."""
    frame = decode_frame(body, content_type, served.model.signature, limits)
    return _predict_frame(served, frame)


def _predict_frame(served: Served, frame: Any) -> tuple[dict[str, list[Any]], Any]:
    """Predictions for a frame already checked against the signature and in its order,
    and the inputs to log: the float array when the model took one, else the frame."""
    signature = served.model.signature
    if served.predict_matrix is not None:
        import numpy as np

        matrix = frame.to_numpy(dtype=np.float64)
        if not np.isnan(matrix).any():
            predictions = served.predict_matrix(matrix)
            return prediction_columns(predictions, signature), InputArray(
                served.input_columns, matrix
            )
    try:
        predictions = served.model.raw.predict(frame)
    except SignatureError as exc:  # a flavor's own check of the columns
        raise RequestError(422, exc.message, hint=exc.hint) from exc
    return prediction_columns(predictions, signature), frame


async def _maybe_threaded(threaded: bool, function: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(function, *args) if threaded else function(*args)


def _served_for(server: ModelServer, name: str) -> Served:
    served = _current(server)
    if not served_name_matches(server, name):
        raise RequestError(
            404,
            f"This server serves the model '{served.name}', not '{name}'.",
            hint=f"Send requests to /v1/models/{served.name}/predict.",
        )
    return served


def _current(server: ModelServer) -> Served:
    served = server.current
    if served is None:
        raise RequestError(503, "The model is still loading.", hint="Retry when /ready is 200.")
    return served


def _check_token(server: ModelServer, request: Request) -> None:
    if not server.tokens:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    valid = scheme.lower() == "bearer" and any(
        hmac.compare_digest(token.strip().encode(), known.encode()) for known in server.tokens
    )
    if not valid:
        raise RequestError(
            401,
            "This endpoint needs a bearer token, and the request has no valid one.",
            hint="Send the header 'Authorization: Bearer <token>' with a token from "
            "serving.yml auth_tokens.",
        )


async def _read_body(request: Request, limits: Limits, timeout_s: float) -> bytes:
    """The request body, refused with 413 as soon as it passes the limit and with 408
    when the client takes longer than ``timeout_s`` to send it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise _too_large(int(declared), limits)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise _too_large(size, limits)
                chunks.append(chunk)
    except TimeoutError as exc:
        raise RequestError(
            408,
            f"The request body took more than {timeout_s:g} s to arrive ({size:,} bytes by then).",
            hint="Send the body at once; body_timeout_s in serving.yml sets the limit.",
        ) from exc
    return b"".join(chunks)


def _too_large(size: int, limits: Limits) -> RequestError:
    return RequestError(
        413,
        f"The request body has {size:,} bytes or more; the limit is {limits.max_body_bytes:,}.",
        hint="Split the batch into smaller requests, or score large files with "
        "`shipyard predict`; max_body_mb in serving.yml sets the limit.",
    )


def _feedback_items(body: bytes) -> list[dict[str, Any]]:
    """``{"request_id", "label", "row"?}`` or ``{"feedback": [...]}`` of those, checked."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The body is not valid JSON: {exc}.", hint=_FEEDBACK_HINT) from exc
    items = data.get("feedback") if isinstance(data, dict) and "feedback" in data else [data]
    if not isinstance(items, list) or not items:
        raise RequestError(422, "'feedback' must be a non-empty list.", hint=_FEEDBACK_HINT)
    problems = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append({"item": position, "problem": "is not an object"})
            continue
        unknown = sorted(set(item) - {"request_id", "label", "row"})
        request_id = item.get("request_id")
        row = item.get("row")
        if unknown:
            problems.append({"item": position, "problem": f"unknown key(s) {unknown}"})
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            problems.append({"item": position, "problem": "request_id is missing or malformed"})
        if "label" not in item or isinstance(item["label"], dict | list):
            problems.append({"item": position, "problem": "label must be a number, text or bool"})
        if row is not None and (isinstance(row, bool) or not isinstance(row, int) or row < 0):
            problems.append({"item": position, "problem": "row must be a whole number >= 0"})
    if problems:
        raise RequestError(422, "The feedback is malformed.", hint=_FEEDBACK_HINT, details=problems)
    return items


_FEEDBACK_HINT = (
    'Send {"request_id": "<id from the prediction>", "label": 1} or '
    '{"feedback": [{"request_id": ..., "row": 0, "label": ...}, ...]}.'
)


def _predictions_field(columns: dict[str, list[Any]]) -> Any:
    """One output: its list of values; several: one object per row."""
    if len(columns) == 1:
        return next(iter(columns.values()))
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type=_JSON,
    )


async def _watch(server: ModelServer, metrics: ServingMetrics) -> None:
    """Check the served reference every ``watch_interval_s`` and swap in new versions."""
    while True:
        await asyncio.sleep(server.config.watch_interval_s)
        try:
            swapped = await run_in_threadpool(server.check_for_update)
        except Exception:  # the registry may be briefly unreachable: keep serving
            logger.exception("Checking %s for a new version failed", server.ref)
            continue
        if swapped is not None:
            metrics.swapped(swapped.name, swapped.version)


def _add_log_gauges(metrics: ServingMetrics, server: ModelServer) -> None:
    for kind, log in (("prediction", server.prediction_log), ("feedback", server.feedback_log)):
        if log is None:
            continue
        metrics.gauge(
            f"shipyard_{kind}_log_written_rows",
            f"Rows written to the {kind} log.",
            lambda log=log: log.stats.written_rows,
        )
        metrics.gauge(
            f"shipyard_{kind}_log_dropped_rows",
            f"Rows of the {kind} log lost (queue full or write failed).",
            lambda log=log: log.stats.dropped_rows,
        )
