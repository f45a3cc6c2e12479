"""The versions of what each stage writes, bumped by hand in the change that alters a stage's output for the
same input (its vectors, codes, index bytes or file schema). Cache keys carry these, never source hashes: a
refactor, a fixed comment or a moved module reuses every chunk and stage, while a change to what is computed
says so here, once, and is redone everywhere."""

from __future__ import annotations

EMBED = 1  # chunk files: their schema, and how a text becomes its vector around the model (pooling, checks)
FIT = 1  # the codec: its training sample, factory and parameters
ENCODE = 2  # code files: sa_encode of each vector, one code file per vector file (2: was per embed chunk)
BUILD = 1  # index shards built from the codes
EVALUATE = 2  # the evaluation protocol: its queries, exact neighbours and figures (2: the lists kept)
STAGES = {"embed": EMBED, "fit": FIT, "encode": ENCODE, "build": BUILD, "evaluate": EVALUATE}
