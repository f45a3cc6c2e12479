"""The HTTP face of `vecpress serve`: the request schema and its limits, the optional bearer token, the body
size cap and a one-line access log per request. The served run and its watcher are in flows.serve."""

from __future__ import annotations

import dataclasses
import hmac
import logging
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from flows.limits import Limits
from transforms.storage.errors import VecpressError

logger = logging.getLogger(__name__)
access = logging.getLogger("flows.serve.access")

OPEN_ROUTES = ("/health",)  # answered without the token: load balancers and probes have none


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently ignored

    queries: list[str] = Field(min_length=1, description="texts to search for")
    k: int = Field(10, ge=1, description="hits per query")
    nprobe: int | None = Field(
        None, ge=1, le=1 << 20, description="lists to probe (IVF codecs); the run's own when unset"
    )
    rerank: int | None = Field(
        None, ge=1, description="candidates re-ranked per result (two tiers); the run's own when unset"
    )
    text: bool = Field(True, description="include each hit's text and label, read from the run's input")


def check(request: SearchRequest, limits: Limits, rerank_default: int) -> None:
    """Raise the HTTP error a request over ``limits`` gets (``rerank_default``: the run's own rerank)."""
    if len(request.queries) > limits.queries:
        raise HTTPException(413, f"{len(request.queries)} queries in one request; at most {limits.queries}")
    for i, query in enumerate(request.queries):
        if len(query) > limits.query_chars:
            raise HTTPException(413, f"query {i} has {len(query)} characters; at most {limits.query_chars}")
        if not query.strip():
            raise HTTPException(422, f"query {i} is blank")
        try:
            query.encode("utf-8")
        except UnicodeEncodeError:
            raise HTTPException(422, f"query {i} is not valid Unicode (a lone surrogate)") from None
    if request.k > limits.k:
        raise HTTPException(422, f"k={request.k}: at most {limits.k} hits per query")
    rerank = request.rerank or rerank_default
    if request.k * rerank > limits.candidates:
        raise HTTPException(
            422, f"k x rerank = {request.k} x {rerank} candidates per query; at most {limits.candidates}"
        )


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is answered 413 without being read whole: at once when its
    Content-Length says so, else as soon as the streamed part passes the limit (what came is at most
    ``limit`` bytes, held and handed on)."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                return await self._refuse(scope, receive, send)
            return await self.app(scope, receive, send)
        held, seen = [], 0
        while True:
            message = await receive()
            held.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                return await self._refuse(scope, receive, send)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> dict:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        detail = f"request body over {self.limit} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _authorized(request: Request, api_key: str | None) -> bool:
    if api_key is None or request.url.path in OPEN_ROUTES:
        return True
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode())


SHOWN_CODEC = ("factory", "refine", "rerank", "code_size", "model", "backend")


def app(served: Any, limits: Limits | None = None, api_key: str | None = None) -> FastAPI:
    """The API over ``served`` (a flows.serve.Served); every route but /health needs ``api_key`` when set."""
    limits = limits or Limits()
    api = FastAPI(title="vecpress", description="Search the current run of a vecpress output.")

    @api.middleware("http")
    async def guard_and_log(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        if _authorized(request, api_key):
            response = await call_next(request)
        else:
            response = JSONResponse(
                {"detail": "missing or wrong bearer token"}, 401, {"WWW-Authenticate": "Bearer"}
            )
        client = request.client.host if request.client else "-"
        access.info("%s %s %s %d %.1fms", client, request.method, request.url.path, response.status_code,
                    1000 * (time.perf_counter() - start))  # fmt: skip
        return response

    @api.get("/health")
    def health() -> dict[str, Any]:
        index = served.index
        m = index.manifest
        return {
            "status": "ok",
            "output": served.output,
            "run_id": index.run_id,
            "published_at": m.published_at,
            "counts": dataclasses.asdict(m.counts),
            "codec": {k: getattr(m.codec, k) for k in SHOWN_CODEC},
            "quality": {k: m.evaluation.get(k) for k in ("recall_at_k", "knn_accuracy_index", "k")},
            "swaps": served.swaps,
            "refused": served.refused,
            "limits": dataclasses.asdict(limits),
            "token_required": api_key is not None,
        }

    @api.post("/search")
    def search(request: SearchRequest) -> dict[str, Any]:
        index = served.index  # this request's run, whatever is swapped in meanwhile
        check(request, limits, index.info.rerank or 1)
        start = time.perf_counter()
        try:
            vectors = served.batcher.encode(index.embedder(), request.queries)
            results = index.search(
                request.queries,
                request.k,
                with_text=request.text,
                nprobe=request.nprobe,
                rerank=request.rerank,
                vectors=vectors,
            )
        except VecpressError as err:
            raise HTTPException(status_code=400, detail=str(err)) from err
        return {
            "run_id": index.run_id,
            "took_ms": round(1000 * (time.perf_counter() - start), 2),
            "results": [
                {"query": q, "hits": [{k: v for k, v in vars(h).items() if v is not None} for h in hits]}
                for q, hits in zip(request.queries, results, strict=True)
            ],
        }

    api.add_middleware(BodyLimit, limit=limits.body_bytes)
    return api
