import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.runner import resolve_runner


@pytest.fixture
def test_pipeline():
    """A TestPipeline on the in-process runner vecpress uses for 'DirectRunner' (no Prism download)."""

    def make() -> TestPipeline:
        return TestPipeline(runner=resolve_runner(PipelineOptions()), options=PipelineOptions())

    return make
