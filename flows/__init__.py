"""Prefect flows, tasks and the ``vecpress`` command line."""
