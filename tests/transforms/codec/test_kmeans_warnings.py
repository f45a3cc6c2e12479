"""faiss's per-codebook k-means warnings become one log line; nothing else written to stderr is lost."""

import os

import pytest

from transforms.codec import kmeans_warnings


def test_warnings_are_gathered_and_other_stderr_is_written_back(capfd, caplog):
    with caplog.at_level("INFO", logger="transforms.codec.kmeans_warnings"):
        with kmeans_warnings.gathered("PQ8"):
            for _ in range(3):
                os.write(
                    2, b"WARNING clustering 5000 points to 256 centroids: please provide at least 9984\n"
                )
            os.write(2, b"something else faiss said\n")
    err = capfd.readouterr().err
    assert err == "something else faiss said\n"
    assert "PQ8: 3 k-means runs had fewer than 39 points per centroid" in caplog.text


def test_stderr_is_restored_when_training_fails(capfd):
    with pytest.raises(RuntimeError, match="faiss refused"):
        with kmeans_warnings.gathered("PQ8"):
            os.write(2, b"why it failed\n")
            raise RuntimeError("faiss refused")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "why it failed\nafter\n"
