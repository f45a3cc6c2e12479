"""The exported backends read the model folder alone: the same token ids as transformers' tokenizer, the
same facts as sentence-transformers, and no torch import once the export exists."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from transforms.embedders import model_files, packaged
from transforms.read import newsgroups


@pytest.mark.slow
@pytest.mark.parametrize("max_seq_length", [None, 128])
def test_tokens_and_facts_match_sentence_transformers(max_seq_length):
    from sentence_transformers import SentenceTransformer

    path = packaged.resolve("all-MiniLM-L6-v2")
    st = SentenceTransformer(path, device="cpu")
    if max_seq_length:
        st.max_seq_length = max_seq_length
    facts = model_files.facts(path, max_seq_length)
    assert facts == model_files.ModelFacts(st.get_embedding_dimension(), "mean", True, st.max_seq_length)
    texts = newsgroups.load_split("test").column("body").to_pylist()[:48]
    texts += ["", "  spaced  ", "Ünïcödé CAFÉ 東京 ☃", "word " * 2000]
    ours = model_files.Tokenizer(path, facts.max_length)
    for start in range(0, len(texts), 13):
        part = texts[start : start + 13]
        theirs = st.tokenizer(part, padding=True, truncation=True, max_length=facts.max_length,
                              return_tensors="np")  # fmt: skip
        got = ours(part)
        for name in theirs:
            assert np.array_equal(theirs[name], got[name]), (name, start)


@pytest.mark.slow
def test_an_exported_model_loads_without_torch():
    from transforms.embedders.embedder import load_embedder
    from transforms.embedders.spec import EmbedderSpec

    load_embedder(EmbedderSpec(device="cpu", backend="openvino", precision="int8"))  # exported once
    code = (
        "import sys; from transforms.embedders.embedder import load_embedder; "
        "from transforms.embedders.spec import EmbedderSpec; "
        "e = load_embedder(EmbedderSpec(device='cpu', backend='openvino', precision='int8')); "
        "assert e.encode(['a query']).shape == (1, 384); "
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]
