"""The planner's sample: from a published run's embeddings, or embedded from Parquet (seeded, order-free)."""

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import make_corpus, write_parquet
from transforms.embedders.spec import EmbedderSpec
from transforms.planner import sample as plan_sample
from transforms.read import reading

COLUMNS = reading.Columns(id="doc_id", text="body", label="topic")
SPEC = EmbedderSpec(model="fake:16")


def test_a_published_runs_embeddings_are_sampled_with_their_labels(published):
    first = plan_sample.from_run(str(published), 100, seed=0)
    assert first.vectors.shape == (100, 32) and len(first.labels) == 100
    assert first.corpus_rows == 600 and "fake:32" in first.source
    again = plan_sample.from_run(str(published), 100, seed=0)
    other = plan_sample.from_run(str(published), 100, seed=1)
    assert np.array_equal(first.vectors, again.vectors) and not np.array_equal(first.vectors, other.vectors)


def test_a_parquet_sample_leaves_out_rejects_and_duplicates_and_ignores_file_order(tmp_path):
    corpus = make_corpus(300)
    bad = pa.table({"doc_id": ["blank", "doc-00001"], "body": ["", "again"], "topic": ["cars", "cars"]})
    write_parquet(corpus.slice(0, 150), str(tmp_path / "a" / "1.parquet"))
    write_parquet(corpus.slice(150), str(tmp_path / "a" / "2.parquet"))
    write_parquet(bad, str(tmp_path / "a" / "3.parquet"))
    write_parquet(corpus.slice(150), str(tmp_path / "b" / "1.parquet"))  # the same rows, files swapped
    write_parquet(corpus.slice(0, 150), str(tmp_path / "b" / "2.parquet"))

    a = plan_sample.from_parquet(str(tmp_path / "a"), COLUMNS, SPEC, 50, seed=0)
    b = plan_sample.from_parquet(str(tmp_path / "b"), COLUMNS, SPEC, 50, seed=0)
    assert a.corpus_rows == 300 and b.corpus_rows == 300  # the blank row and the repeated id are not counted
    assert np.array_equal(a.vectors, b.vectors) and a.labels == b.labels
    assert a.vectors.shape == (50, 16) and set(a.labels) <= {"space", "cars", "hockey"}


def test_nothing_to_plan_on_is_an_input_error(tmp_path):
    write_parquet(pa.table({"doc_id": ["x"], "body": [""], "topic": ["cars"]}), str(tmp_path / "e.parquet"))
    with pytest.raises(reading.InputError, match="no documents to plan on"):
        plan_sample.from_parquet(str(tmp_path), COLUMNS, SPEC, 10, seed=0)
