"""Runner profiles: each is a valid config layer whose pipeline options Beam itself recognises."""

from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from flows.config import ReindexConfig
from pipelines.runner import ALIASES, pipeline_options

PROFILES = sorted((Path(__file__).resolve().parents[2] / "infra" / "runners").glob("*.yaml"))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_profile_layers_onto_a_run_config_and_beam_knows_every_flag(profile, tmp_path):
    import apache_beam.runners.dask.dask_runner  # noqa: F401  (registers the Dask options)

    base = tmp_path / "run.yaml"
    base.write_text("input: s3://bucket/corpus\noutput: s3://bucket/index\n")
    config = ReindexConfig.from_yaml(base, profile)
    options = pipeline_options(config.runner, config.pipeline_args)
    assert options.view_as(StandardOptions).runner == ALIASES.get(config.runner, config.runner)
    # Flags Beam cannot parse are the ones that only appear when unknown options are retained.
    unknown = set(options.get_all_options(retain_unknown_options=True)) - set(
        options.get_all_options(retain_unknown_options=False)
    )
    assert unknown == set(), f"{profile.name}: Beam does not know {sorted(unknown)}"


def test_profiles_cover_the_documented_runners():
    assert {p.stem for p in PROFILES} >= {"direct", "dask", "flink", "spark", "dataflow"}


def test_unknown_flags_are_detected_that_way():
    options = PipelineOptions(["--runner=DirectRunner", "--no_such_flag=1"])
    assert "no_such_flag" in options.get_all_options(retain_unknown_options=True)
    assert "no_such_flag" not in options.get_all_options(retain_unknown_options=False)
