"""Runner-agnostic building blocks and the numeric core of vecpress."""
