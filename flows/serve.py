"""`vecpress serve`: a long-running search server over an output's current run, following each publish.

The model and the current run's shards are loaded once. A thread watches ``CURRENT``; when it moves, the new
run is loaded in full and checked against its manifest (every shard's size and sha256) before one reference
swap makes it the one served. A request holds the run it started with, so in-flight requests finish on the
old one. A run that fails its check is refused: the old one keeps serving and ``/health`` says why.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from transforms import io
from transforms.errors import VecpressError
from transforms.layout import POINTER
from transforms.query import PublishedIndex

logger = logging.getLogger(__name__)


class SearchRequest(BaseModel):
    queries: list[str] = Field(min_length=1, description="texts to search for")
    k: int = Field(10, ge=1, le=1000, description="hits per query")
    nprobe: int | None = Field(
        None, ge=1, description="lists to probe (IVF codecs); the run's own when unset"
    )
    rerank: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="candidates re-ranked per result (two tiers); the run's own when unset",
    )
    text: bool = Field(True, description="include each hit's text and label, read from the run's input")


class Served:
    """The run being served, and the watcher that swaps in each newly published one."""

    def __init__(self, output: str, device: str = "auto", poll_s: float = 5.0):
        self.output, self.device, self.poll_s = output, device, poll_s
        self.index = self._load()
        self.pointer = self._pointer()
        self.refused: dict[str, Any] | None = None
        self.swaps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="vecpress-serve-watch", daemon=True)

    def _pointer(self) -> bytes | None:
        try:
            return io.read_bytes(io.join(self.output, POINTER))
        except FileNotFoundError:
            return None

    def _load(self) -> PublishedIndex:
        index = PublishedIndex(self.output, device=self.device)
        index.search(["warm up"], 1, with_text=False)  # the model loaded and every shard touched once
        return index

    def check(self) -> None:
        """Swap to the published run if ``CURRENT`` moved and the new run passes its check."""
        pointer = self._pointer()
        if pointer == self.pointer:
            return
        self.pointer = pointer
        start = time.perf_counter()
        try:
            fresh = self._load()
        except (VecpressError, OSError) as err:
            self.refused = {"pointer": (pointer or b"").decode(errors="replace").strip(), "reason": str(err)}
            logger.error("refused the newly published run: %s; still serving run %s", err, self.index.run_id)
            return
        old, self.index = self.index, fresh  # one reference swap: requests keep the run they started with
        self.refused = None
        self.swaps += 1
        logger.info(
            "now serving run %s (was %s), loaded in %.1f s",
            fresh.run_id,
            old.run_id,
            time.perf_counter() - start,
        )

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad look at the output
                logger.exception("watching %s", self.output)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


SHOWN_CODEC = ("factory", "refine", "rerank", "code_size", "model", "backend")


def app(served: Served) -> FastAPI:
    api = FastAPI(title="vecpress", description="Search the current run of a vecpress output.")

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
        }

    @api.post("/search")
    def search(request: SearchRequest) -> dict[str, Any]:
        index = served.index  # this request's run, whatever is swapped in meanwhile
        start = time.perf_counter()
        try:
            results = index.search(
                request.queries,
                request.k,
                with_text=request.text,
                nprobe=request.nprobe,
                rerank=request.rerank,
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

    return api


def run(output: str, host: str, port: int, device: str = "auto", poll_s: float = 5.0) -> None:
    import uvicorn

    served = Served(output, device, poll_s)
    served.start()
    logger.info("serving run %s of %s on http://%s:%d", served.index.run_id, output, host, port)
    try:
        uvicorn.run(app(served), host=host, port=port, log_level="warning")
    finally:
        served.stop()
