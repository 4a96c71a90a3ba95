"""Part-annotated training data built on this machine.

Sources: procedural objects with exact part trees (:mod:`training.data.procedural`), real
multi-part meshes from PyPI packages (:mod:`training.data.assets`), voxel-fused (remeshed,
single-surface) variants of both (:mod:`training.data.fuse`) and exact boolean unions of
their parts (:mod:`training.data.union`: one welded surface, parts meet at creases, labels
exact). Objects pass through the paper's pipeline (:mod:`training.data.pipeline`) and are
written as shards (:mod:`training.data.shards`). Labelled meshes for mesh-level learners:
:func:`training.data.union.labelled_meshes`. Command line:
``python -m training.data {build,stats,fetch-assets,add-meshes,train-quality,union-check,bench}``.
"""
