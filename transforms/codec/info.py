"""A codec's record: what its JSON file says (the model and how it embedded, the factory and its settings,
the stored tier, what the codec was trained on and may be kept for). What most modules want of a codec,
apart from faiss (transforms.codec.codec trains, saves and loads codecs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from transforms.embedders.spec import EmbedderSpec


@dataclass
class CodecInfo:
    """The JSON half of a codec: enough to re-embed queries and to verify the codes that use it."""

    model: str
    dim: int
    normalize: bool
    max_seq_length: int | None
    factory: str
    metric: str
    sample_size: int
    seed: int
    nprobe: int
    code_size: int
    fingerprint: str
    reductions: list[str] = field(default_factory=list)
    params: dict[str, int] = field(default_factory=dict)  # search/encode settings index_factory cannot say
    plan: dict[str, Any] | None = None  # when the planner chose the codec: what it measured and why
    # search ranks by cosine to each code's reconstruction scaled to unit length (see unit_decodable)
    unit_decode: bool = False
    # two tiers (transforms.codec.refine): the stored tier's scalar code, and how many candidates per result
    # the in-memory codes hand it to re-rank; None for one tier
    refine: str | None = None
    rerank: int = 1
    refine_code_size: int = 0
    refine_fingerprint: str = ""
    # the training sample's largest priority (sampling.cutoff): tells which documents it never trained on
    sample_cutoff: int | None = None
    # what a later run may keep this codec for (fit_stage.FitSettings.key) and the reconstruction errors
    # its new documents are held to (drift)
    settings_key: str = ""
    drift_reference: dict[str, float] | None = None
    # how the embeddings were made: queries are embedded the same way
    backend: str = "torch"
    precision: str = "fp32"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def embedder(self, device: str = "auto") -> EmbedderSpec:
        """The embedder that made the indexed vectors, on ``device``: queries are embedded the same way. fp16
        weights exist on CUDA only, so elsewhere it is the same model in fp32."""
        precision = self.precision if self.precision != "fp16" or device.startswith("cuda") else "fp32"
        return EmbedderSpec(
            model=self.model, device=device, normalize=self.normalize, max_seq_length=self.max_seq_length,
            backend=self.backend, precision=precision,
        )  # fmt: skip
