"""Proof that real Blender (the bpy module) runs in this environment and in CI."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.blender


def test_bpy_builds_a_mesh_in_real_blender():
    # A subprocess keeps Blender's global state out of the pytest process.
    code = textwrap.dedent(
        """
        import bpy, bmesh
        bpy.ops.wm.read_factory_settings(use_empty=True)
        me = bpy.data.meshes.new("cube")
        bm = bmesh.new(); bmesh.ops.create_cube(bm, size=2.0); bm.to_mesh(me); bm.free()
        ob = bpy.data.objects.new("cube", me)
        bpy.context.scene.collection.objects.link(ob)
        print("RESULT", bpy.app.version_string, len(me.vertices), len(me.polygons))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")][0]
    _, version, nv, nf = line.split()
    assert version.startswith("5.0")
    assert (int(nv), int(nf)) == (8, 6)
