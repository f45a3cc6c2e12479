import pytest

from flows import cli
from flows.config import ConfigError, ReindexConfig


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input: in/*.parquet\noutput: out\ntext_column: body\nshards: 2\n")
    config = ReindexConfig.from_yaml(path, shards=8, codec=None)
    assert (config.input, config.text_column, config.shards, config.codec) == (
        "in/*.parquet",
        "body",
        8,
        "auto",
    )
    assert config.embedder().model == "all-MiniLM-L6-v2"


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input: a\noutput: b\nshard: 2\n")
    with pytest.raises(ConfigError, match="unknown config key 'shard'"):
        ReindexConfig.from_yaml(path)
    with pytest.raises(
        ConfigError, match=r"^--shards \(shards\): Input should be greater than or equal to 1, got 0$"
    ):
        ReindexConfig.build(input="a", output="b", shards=0)
    with pytest.raises(ConfigError, match="--run-id .*should match pattern"):
        ReindexConfig.build(input="a", output="b", run_id="../escape")


def test_the_cli_knows_the_run_defaults_it_does_not_import():
    assert cli.DEFAULT_RUN_SAMPLE_SIZE == ReindexConfig.model_fields["sample_size"].default
    assert cli.DEFAULT_MODEL_NAME == ReindexConfig.model_fields["model"].default
