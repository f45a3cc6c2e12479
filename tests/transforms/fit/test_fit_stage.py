"""The fit stage's choice to keep the last run's codec."""

from __future__ import annotations

from flows.reindex import reindex
from tests.conftest import make_corpus, small_config, write_parquet
from transforms.fit import fit_stage
from transforms.run import last_run


def test_a_run_over_unchanged_documents_keeps_the_codec_without_training(prefect_server, tmp_path):
    """When the stage cache misses (a new vecpress version, say) but no document is new or changed, the
    last codec is kept: there is nothing it has not seen, so nothing to hold against its reference error."""
    write_parquet(make_corpus(1200), str(tmp_path / "in" / "a.parquet"))
    config = small_config(tmp_path, model="fake:32", codec="PQ8x4", shards=2)
    first = reindex(config)
    previous = last_run.last_run(config.output)
    layout, _, emb = previous
    index, _, fitted = fit_stage.fit(emb, 1200, config.fit_settings(), 32, previous)
    assert fitted.kept == {
        "from_run": first["run_id"],
        "why": "no document is new or changed since it was trained",
        "errors": {},
    }
    assert fitted.source == layout.codec and fitted.info.fingerprint == first["codec"]["fingerprint"]
    assert index.sa_code_size() == 4
