"""Beam pipeline graphs of vecpress: thin adapters over ``transforms``."""
