"""Reproducible benchmarks of vecpress: quality per byte of index, measured on the pipeline's own outputs."""
