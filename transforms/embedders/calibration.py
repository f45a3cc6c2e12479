"""Texts that calibrate static int8 quantization: the activation ranges of a quantized model are measured on
them. They must be the same on every machine (an index and its queries are embedded by the same quantized
model, built wherever it is first used) and belong to no corpus that quality is measured on, so they come
from Python itself: the paragraphs of the standard library's help topics (``pydoc_data``), English prose
about Python, spread evenly over all topics."""

from __future__ import annotations

import re

TEXTS = 320  # paragraphs: 20 batches of 16, the statistics NNCF's default subset would take


def texts(count: int = TEXTS) -> list[str]:
    """``count`` paragraphs of 12 words or more, whitespace collapsed, picked at an even stride."""
    from pydoc_data.topics import topics

    paragraphs = [
        " ".join(p.split())
        for key in sorted(topics)
        for p in re.split(r"\n\s*\n", topics[key])
        if len(p.split()) >= 12
    ]
    return paragraphs[:: max(1, len(paragraphs) // count)][:count]
