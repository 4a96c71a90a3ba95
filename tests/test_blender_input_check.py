"""The batch's check that an importer read the whole file (truncated OBJ / PLY / STL)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from s2am3d_blender import input_check

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import sample_meshes  # noqa: E402


def _table_obj(path: Path) -> bytes:
    v, f, _ = sample_meshes.table()
    sample_meshes.write_obj(path, v, f)
    return path.read_bytes()


def test_complete_obj_gives_no_warning_and_counts_its_records(tmp_path):
    data = _table_obj(tmp_path / "t.obj")
    d = input_check.declared(str(tmp_path / "t.obj"))
    assert d.faces == data.count(b"\nf ") + data.startswith(b"f ") and d.cut is None
    assert input_check.import_warnings(str(tmp_path / "t.obj"), d.faces, d.vertices) == []


def test_obj_cut_mid_record_is_reported(tmp_path):
    data = _table_obj(tmp_path / "t.obj")
    cut = data[: data.rindex(b"\nf ") + 5]  # "\nf 12" : a face record cut short
    (tmp_path / "cut.obj").write_bytes(cut)
    # the importer drops the one-index face: both signs are reported
    warn = input_check.import_warnings(str(tmp_path / "cut.obj"), 35, 48)
    assert len(warn) == 2 and "cut.obj: the file looks truncated" in warn[0]
    assert "middle of a record ('f 44')" in warn[0] and "read 35 of the 36 faces" in warn[1]


def test_importer_reading_fewer_faces_than_declared_is_reported(tmp_path):
    _table_obj(tmp_path / "t.obj")
    faces = input_check.declared(str(tmp_path / "t.obj")).faces
    warn = input_check.import_warnings(str(tmp_path / "t.obj"), faces - 3, 48)
    assert warn == [f"t.obj: the importer read {faces - 3} of the {faces} faces the file "
                    "declares (truncated or broken file?)"]


def test_ply_header_counts_and_truncated_binary_stl(tmp_path):
    ply = tmp_path / "p.ply"
    ply.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\n"
                    b"property float y\nproperty float z\nelement face 2\n"
                    b"property list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n")
    assert input_check.declared(str(ply)) == input_check.Declared(2, 4, None)
    assert "read 0 of the 2 faces" in input_check.import_warnings(str(ply), 0, 2)[0]
    stl = tmp_path / "s.stl"
    tri = np.zeros(12, np.float32).tobytes() + b"\0\0"
    stl.write_bytes(b"\0" * 80 + (10).to_bytes(4, "little") + tri * 4)
    warn = input_check.import_warnings(str(stl), 4, 12)
    assert warn == ["s.stl: the file looks truncated: it holds 4 of the 10 triangles its "
                    "header declares"]
    stl.write_bytes(b"\0" * 80 + (4).to_bytes(4, "little") + tri * 4)
    assert input_check.import_warnings(str(stl), 4, 12) == []
    ascii_stl = tmp_path / "a.stl"
    ascii_stl.write_text("solid x\nfacet normal 0 0 1\n outer loop\n  vertex 0 0 0\n")
    assert "no 'endsolid' line" in input_check.import_warnings(str(ascii_stl), 0, 0)[0]
