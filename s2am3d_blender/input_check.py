"""Did the importer read the whole file? Blender's importers are tolerant: a truncated OBJ
or PLY imports what is there without a word. The batch compares what the file declares
with what was imported and warns (plain Python, no bpy: tested without Blender).

Checked: OBJ (``f`` records counted, a last record cut mid-line), PLY (the header's
``element vertex`` / ``element face`` counts), STL (a binary file shorter than its
triangle count says; an ASCII file without ``endsolid``). glTF/GLB readers validate their
buffers themselves and fail loudly, so they are not re-checked here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Bytes read per chunk while counting OBJ records (memory stays flat on huge files).
CHUNK = 1 << 24


@dataclass(frozen=True)
class Declared:
    """What a file says it holds. ``faces`` / ``vertices``: counts (``None`` = unknown);
    ``cut``: why the file looks cut short (``None`` = it ends cleanly)."""

    faces: int | None = None
    vertices: int | None = None
    cut: str | None = None


def _obj(path: str) -> Declared:
    faces = verts = 0
    prev = b"\n"
    last_line = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            data = prev[-1:] + chunk  # a record starts after a newline
            faces += data.count(b"\nf ") + data.count(b"\nf\t")
            verts += data.count(b"\nv ") + data.count(b"\nv\t")
            nl = chunk.rfind(b"\n")
            last_line = (last_line + chunk) if nl < 0 else chunk[nl + 1:]
            prev = chunk
    cut = None
    tail = last_line.strip()
    if tail and not prev.endswith(b"\n"):
        fields = tail.split()
        need = {b"v": 4, b"vt": 3, b"vn": 4, b"f": 4}.get(fields[0], 0)
        if len(fields) < need or tail.endswith((b"/", b"-", b".", b"e", b"E")):
            cut = f"it ends in the middle of a record ({tail[:40].decode(errors='replace')!r})"
    return Declared(faces, verts, cut)


def _ply(path: str) -> Declared:
    faces = verts = None
    with open(path, "rb") as fh:
        if fh.readline().strip() != b"ply":
            return Declared()
        for _ in range(200):
            line = fh.readline()
            if not line:
                return Declared(faces, verts, "its header has no end_header line")
            words = line.split()
            if words[:1] == [b"end_header"]:
                break
            if len(words) == 3 and words[0] == b"element" and words[2].isdigit():
                if words[1] == b"vertex":
                    verts = int(words[2])
                elif words[1] == b"face":
                    faces = int(words[2])
    return Declared(faces, verts)


def _stl(path: str) -> Declared:
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(84)
        if head[:5].lower() == b"solid":  # ASCII, or a binary file whose header says solid
            fh.seek(max(0, size - 4096))
            if b"endsolid" in fh.read().lower():
                return Declared()
        if len(head) == 84:
            n = int.from_bytes(head[80:84], "little")
            if 84 + 50 * n == size:
                return Declared(n, None)
            if 84 + 50 * n > size:
                return Declared(n, None, f"it holds {(size - 84) // 50} of the {n} triangles "
                                "its header declares")
    if head[:5].lower() == b"solid":
        return Declared(None, None, "it has no 'endsolid' line")
    return Declared()


_READERS = {".obj": _obj, ".ply": _ply, ".stl": _stl}


def declared(path: str) -> Declared:
    """What the file at ``path`` declares (empty for types not checked)."""
    reader = _READERS.get(os.path.splitext(path)[1].lower())
    return reader(path) if reader is not None else Declared()


def import_warnings(path: str, faces_read: int, vertices_read: int) -> list[str]:
    """One line per sign that the importer read less than ``path`` holds: ``faces_read`` /
    ``vertices_read`` are the polygon and vertex totals of the imported meshes."""
    try:
        d = declared(path)
    except OSError:
        return []
    out = []
    name = os.path.basename(path)
    if d.cut is not None:
        out.append(f"{name}: the file looks truncated: {d.cut}")
    # STL triangles are merged into polygons differently by each importer: only its
    # truncation test above applies
    if path.lower().endswith(".stl"):
        return out
    if d.faces is not None and faces_read < d.faces:
        out.append(f"{name}: the importer read {faces_read} of the {d.faces} faces the file "
                   "declares (truncated or broken file?)")
    if d.vertices is not None and vertices_read < d.vertices and not d.faces:
        out.append(f"{name}: the importer read {vertices_read} of the {d.vertices} vertices "
                   "the file declares (truncated or broken file?)")
    return out
