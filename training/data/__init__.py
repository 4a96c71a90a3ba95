"""Part-annotated training data built on this machine.

Sources: procedural objects with exact part trees (:mod:`training.data.procedural`), real
multi-part meshes from PyPI packages (:mod:`training.data.assets`), and fused (remeshed,
single-surface) variants of both (:mod:`training.data.fuse`). Objects pass through the
paper's pipeline (:mod:`training.data.pipeline`) and are written as shards
(:mod:`training.data.shards`). Command line: ``python -m training.data {build,stats,fetch-assets}``.
"""
