"""Household families: mug, bottle, vase, bucket, cooking pot, hammer, scissors, faucet,
toolbox.

Vessels are thin shells of revolution with a real inside; handles enter the walls; the
toolbox is a thin-walled case whose hinged lid is often open, showing dividers inside.
"""

from __future__ import annotations

import numpy as np

from ..parts import Part, group, leaf
from .primitives import (
    at,
    box,
    box_shell,
    capsule,
    cylinder,
    frustum,
    lathe,
    ri,
    rod,
    rx,
    ry,
    rz,
    shell,
    sphere,
    sweep,
    torus,
    u,
)


def _loop_handle(rng, r_body, z0, z1, reach, thick, angle=0.0):
    """A C-shaped handle on the side of a body of radius ``r_body`` from z0 to z1,
    entering the wall slightly at both ends."""
    t = np.linspace(0, np.pi, 14)
    mid, half = (z0 + z1) / 2, (z1 - z0) / 2
    x = r_body - thick + (reach + thick) * np.sin(t)
    z = mid + half * np.cos(t)
    path = np.stack([x, np.zeros_like(x), z], 1)
    m = sweep(path, thick, 10)
    return rz(m, angle)


def mug(rng: np.random.Generator) -> Part:
    r, h = u(rng, 0.035, 0.06), u(rng, 0.07, 0.13)
    flare = u(rng, 0.9, 1.15)
    prof = [[0, 0], [r * 0.9, 0], [r, 0.01], [r * flare, h]]
    body = [leaf("cup", shell(prof, u(rng, 0.003, 0.007), 28))]
    if rng.random() < 0.4:
        body.append(leaf("foot_ring", at(tube_ring(r * 0.85, 0.004), [0, 0, 0.002])))
    else:
        body.append(leaf("base", at(cylinder(r * 0.92, 0.008, 28), [0, 0, 0.002])))
    if rng.random() < 0.3:
        body.append(leaf("rim", at(torus(r * flare - 0.002, 0.003, 28, 8), [0, 0, h])))
    handle = leaf("handle", _loop_handle(rng, r, h * 0.25, h * 0.8, u(rng, 0.02, 0.04),
                                         u(rng, 0.004, 0.008)))
    parts = [group("body", body), handle]
    if rng.random() < 0.2:
        lid = group("lid", leaf("lid_disk", at(cylinder(r * flare + 0.003, 0.008, 28), [0, 0, h + 0.004])),
                    leaf("lid_knob", at(sphere(0.01, 1), [0, 0, h + 0.012])))
        parts.append(lid)
    return group("mug", parts)


def tube_ring(radius, minor):
    return torus(radius, minor, 24, 6)


def bottle(rng: np.random.Generator) -> Part:
    r, h = u(rng, 0.03, 0.07), u(rng, 0.15, 0.35)
    nr = r * u(rng, 0.25, 0.45)
    sh = h * u(rng, 0.55, 0.8)
    nh = h * u(rng, 0.08, 0.2)
    body = lathe([[0, 0], [r * 0.95, 0], [r, 0.01], [r, sh]], 28)
    shoulder = lathe([[0, sh - 0.002], [r, sh - 0.002], [r * 0.7, sh + (h - sh) * 0.5],
                      [nr, h - 0.001], [0, h - 0.001]], 28)
    neck = at(cylinder(nr, nh, 20), [0, 0, h + nh / 2 - 0.003])
    container = [leaf("body", body), leaf("shoulder", shoulder), leaf("neck", neck)]
    if rng.random() < 0.6:
        lh = sh * u(rng, 0.3, 0.6)
        container.append(leaf("label", at(cylinder(r + 0.0015, lh, 28), [0, 0, sh * 0.5])))
    ch = u(rng, 0.012, 0.03)
    cap = [leaf("cap", at(cylinder(nr * 1.2, ch, 20), [0, 0, h + nh + ch / 2 - 0.004]))]
    if rng.random() < 0.4:
        cap.append(leaf("cap_ring", at(cylinder(nr * 1.25, 0.004, 20), [0, 0, h + nh - 0.004])))
    if rng.random() < 0.25:
        cap.append(leaf("spout", at(frustum(nr * 0.6, nr * 0.2, ch * 1.2, 12),
                                    [0, 0, h + nh + ch - 0.005])))
    return group("bottle", group("container", container), group("closure", cap))


def vase(rng: np.random.Generator) -> Part:
    h = u(rng, 0.2, 0.5)
    r = [u(rng, 0.04, 0.1) for _ in range(4)]
    zs = np.linspace(0, h, 5)
    fine = np.linspace(0, h, 16)
    rr = np.interp(fine, zs, [r[0] * 0.8, r[0], r[1], r[2], r[3]])
    rr = np.convolve(np.pad(rr, 1, mode="edge"), [0.25, 0.5, 0.25], "valid")
    outer = np.concatenate([[[0, 0]], np.stack([rr, fine], 1)])
    vessel = [leaf("body", shell(outer, u(rng, 0.004, 0.01), 28))]
    foot_r = rr[0] * u(rng, 0.9, 1.2)
    vessel.append(leaf("foot", frustum(foot_r, rr[0] * 0.8, u(rng, 0.01, 0.04), 28)))
    vessel.append(leaf("lip", at(torus(rr[-1], u(rng, 0.003, 0.008), 28, 8), [0, 0, h])))
    parts = [group("vessel", vessel)]
    if rng.random() < 0.45:
        hs = []
        z0, z1 = h * u(rng, 0.5, 0.65), h * u(rng, 0.8, 0.92)
        rb = float(np.interp((z0 + z1) / 2, fine, rr))
        for i, a in enumerate((0.0, np.pi)):
            hs.append(leaf(f"handle_{i}", _loop_handle(rng, rb, z0, z1, u(rng, 0.02, 0.05),
                                                       u(rng, 0.004, 0.008), a)))
        parts.append(group("handles", hs))
    return group("vase", parts)


def bucket(rng: np.random.Generator) -> Part:
    r0, r1, h = u(rng, 0.1, 0.16), u(rng, 0.13, 0.2), u(rng, 0.18, 0.32)
    pail = [leaf("wall", shell([[0, 0], [r0, 0], [r1, h]], u(rng, 0.003, 0.008), 32)),
            leaf("rim", at(torus(r1, 0.006, 32, 8), [0, 0, h]))]
    if rng.random() < 0.5:
        for k, z in enumerate(np.linspace(0.25, 0.7, ri(rng, 1, 2))):
            rz_ = r0 + (r1 - r0) * z
            pail.append(leaf(f"rib_{k}", at(torus(rz_, 0.004, 32, 6), [0, 0, z * h])))
    lug_z = h * 0.92
    lugs = [leaf(f"lug_{i}", at(box([0.012, 0.03, 0.04], bevel=0.004),
                                [s * (r1 * 0.98), 0, lug_z])) for i, s in enumerate((-1, 1))]
    pail.append(group("lugs", lugs))
    up = u(rng, 0.0, 1.0)
    t = np.linspace(0, np.pi, 20)
    bail_h = r1 * u(rng, 0.7, 1.0)
    path = np.stack([r1 * np.cos(t) * 1.02, np.zeros_like(t), lug_z + bail_h * np.sin(t) * up], 1)
    if up < 0.15:  # handle folded down onto the side
        path = np.stack([r1 * np.cos(t) * 1.04, r1 * np.sin(t) * 1.04 * 0.9, np.full_like(t, lug_z)], 1)
    handle = [leaf("bail", sweep(path, 0.003, 8))]
    if rng.random() < 0.6 and up >= 0.15:
        handle.append(leaf("grip", at(ry(capsule(0.08, 0.012), np.pi / 2), path[10])))
    return group("bucket", group("pail", pail), group("handle", handle))


def pot(rng: np.random.Generator) -> Part:
    r, h = u(rng, 0.08, 0.16), u(rng, 0.07, 0.2)
    body = [leaf("vessel", shell([[0, 0], [r * 0.97, 0], [r, 0.01], [r, h]], 0.004, 32)),
            leaf("rim", at(torus(r, 0.004, 32, 6), [0, 0, h]))]
    parts = [group("body", body)]
    if rng.random() < 0.5:
        hz = h * 0.8
        hs = [leaf(f"side_handle_{i}", _loop_handle(rng, r, hz - 0.015, hz + 0.015, 0.025, 0.005, ang))
              for i, ang in enumerate((0.0, np.pi))]
        parts.append(group("handles", hs))
    else:
        length = u(rng, 0.12, 0.25)
        grip = ry(capsule(length, 0.012), np.pi / 2 - 0.15, [r + length / 2, 0, h * 0.85])
        bracket = at(box([0.04, 0.03, 0.02], bevel=0.004), [r + 0.01, 0, h * 0.8])
        parts.append(group("handle", leaf("bracket", bracket), leaf("grip", grip)))
    if rng.random() < 0.7:
        lid = [leaf("lid_dome", lathe([[0, 0], [r + 0.005, 0], [r * 0.7, 0.02], [0, 0.028]], 32)),
               leaf("lid_knob", at(cylinder(0.012, 0.02, 12), [0, 0, 0.035]))]
        lg = group("lid", lid)
        lg.translate([0, 0, h + 0.002])
        parts.append(lg)
    return group("pot", parts)


def hammer(rng: np.random.Generator) -> Part:
    L = u(rng, 0.25, 0.4)
    hr = u(rng, 0.011, 0.018)
    handle = [leaf("shaft", at(cylinder(hr, L, 14), [0, 0, L / 2]))]
    if rng.random() < 0.6:
        gl = L * u(rng, 0.3, 0.45)
        handle.append(leaf("grip", at(capsule(gl, hr * 1.35), [0, 0, gl / 2 + 0.02])))
    hl, hw = u(rng, 0.09, 0.15), u(rng, 0.02, 0.035)
    head = [leaf("head_block", at(box([hl * 0.5, hw, hw * 1.2], bevel=0.003), [0, 0, L]))]
    face = at(ry(cylinder(hw * 0.6, hl * 0.3, 16), np.pi / 2), [hl * 0.35, 0, L])
    head.append(leaf("striking_face", face))
    if rng.random() < 0.6:
        claw = sweep(np.array([[-hl * 0.2, 0, L], [-hl * 0.4, 0, L - 0.005], [-hl * 0.55, 0, L - 0.025]]),
                     [hw * 0.45, hw * 0.35, hw * 0.15], 6)
        head.append(leaf("claw", claw))
    else:
        head.append(leaf("peen", at(ry(frustum(hw * 0.5, hw * 0.2, hl * 0.25, 12), -np.pi / 2),
                                    [-hl * 0.2, 0, L])))
    return group("hammer", group("handle", handle), group("head", head))


def scissors(rng: np.random.Generator) -> Part:
    bl, opn = u(rng, 0.06, 0.12), u(rng, 0.05, 0.45)
    halves = []
    for i, s in enumerate((-1, 1)):
        a = s * opn / 2
        blade = sweep(np.array([[0, 0, 0], [bl * 0.5, 0, 0], [bl, 0, 0]]), [0.006, 0.005, 0.001], 4)
        blade.vertices[:, 1] *= 0.3
        ring_c = np.array([-0.04, s * 0.018, 0])
        ring = at(torus(u(rng, 0.012, 0.018), 0.004, 20, 6), ring_c)
        shank = rod([0, 0, 0], ring_c * 0.7, 0.004, 6)
        half = group(f"half_{i}", leaf("blade", blade), leaf("shank", shank), leaf("finger_ring", ring))
        half.apply_transform(_rz_m(a))
        half.translate([0, 0, s * 0.002])
        halves.append(half)
    pivot = leaf("pivot_screw", at(cylinder(0.004, 0.01, 10), [0, 0, 0]))
    return group("scissors", halves + [pivot])


def _rz_m(a):
    from trimesh.transformations import rotation_matrix

    return rotation_matrix(a, [0, 0, 1])


def faucet(rng: np.random.Generator) -> Part:
    bh = u(rng, 0.02, 0.05)
    base = [leaf("base_plate", at(cylinder(u(rng, 0.03, 0.05), bh, 24), [0, 0, bh / 2]))]
    h = u(rng, 0.12, 0.3)
    reach = u(rng, 0.08, 0.2)
    r = u(rng, 0.01, 0.018)
    t = np.linspace(0, np.pi * u(rng, 0.5, 1.0), 10)
    path = np.concatenate([[[0, 0, bh - 0.003], [0, 0, h - reach / 2]],
                           np.stack([reach / 2 * (1 - np.cos(t)), 0 * t,
                                     h - reach / 2 + reach / 2 * np.sin(t)], 1)[1:]])
    spout = [leaf("spout_pipe", sweep(path, r, 12)),
             leaf("aerator", at(cylinder(r * 1.15, 0.015, 12), path[-1] + [0, 0, -0.006]))]
    handles = []
    if rng.random() < 0.5:
        lever = group("lever",
                      leaf("lever_hub", at(cylinder(r * 1.3, 0.03, 14), [0, 0, h * 0.45])),
                      leaf("lever_arm", rod([0, 0, h * 0.45 + 0.012], [-0.07, 0, h * 0.45 + 0.03], 0.006, 8)))
        handles.append(lever)
    else:
        for i, s in enumerate((-1, 1)):
            x = s * u(rng, 0.06, 0.1)
            handles.append(group(f"valve_{i}",
                                 leaf("valve_body", at(cylinder(0.015, 0.03, 14), [0, x, 0.015])),
                                 leaf("valve_knob", at(box([0.05, 0.01, 0.01], bevel=0.003), [0, x, 0.035]))))
        base.append(leaf("valve_bridge", rx(cylinder(0.008, 0.2, 10), np.pi / 2, [0, 0, 0.012])))
    return group("faucet", group("base", base), group("spout", spout), group("handles", handles))


def toolbox(rng: np.random.Generator) -> Part:
    """A thin-walled case (tray + hinged lid) with dividers, an optional lift-out insert,
    latches, hinges, feet and a carrying handle; the lid is open in 70 % of draws."""
    w, d, h = u(rng, 0.3, 0.6), u(rng, 0.15, 0.28), u(rng, 0.1, 0.22)
    t = u(rng, 0.003, 0.007)
    lid_h = u(rng, 0.025, 0.07)
    dividers = []
    for k, x in enumerate(np.sort(rng.uniform(-0.35, 0.35, ri(rng, 0, 3))) * w):
        hd = h * u(rng, 0.5, 0.9)
        dividers.append(leaf(f"divider_{k}", at(box([t, d - 2 * t, hd]), [x, 0, t + hd / 2 - 0.001])))
    inside = [group("dividers", dividers)] if dividers else []
    if rng.random() < 0.4:  # lift-out insert hanging from the rim, wall to wall along x
        ih = h * u(rng, 0.25, 0.4)
        insert = box_shell([w - 2 * t, d * u(rng, 0.4, 0.6), ih], t * 0.8)
        inside.append(leaf("insert", at(insert, [0, -d / 4 + t, h - ih])))
    feet = [leaf(f"foot_{i}", at(box([0.02, 0.02, 0.012], bevel=0.003),
                                 [sx * (w / 2 - 0.025), sy * (d / 2 - 0.025), -0.005]))
            for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
    body = group("body", leaf("tray", box_shell([w, d, h], t)), inside, group("feet", feet))
    # lid built closed (open side down on the rim), then swung about the back hinge line
    lid_parts = [leaf("lid_shell", at(rx(box_shell([w, d, lid_h], t), np.pi), [0, 0, h + lid_h]))]
    gw = w * u(rng, 0.3, 0.5)
    arc_t = np.linspace(0, np.pi, 12)
    grip = sweep(np.stack([-gw / 2 * np.cos(arc_t), np.zeros(12),
                           h + lid_h - 0.004 + 0.035 * np.sin(arc_t)], 1), 0.007, 10)
    lid_parts.append(group("handle", leaf("grip", grip),
                           leaf("grip_cover", at(ry(capsule(gw * 0.5, 0.011), np.pi / 2),
                                                 [0, 0, h + lid_h + 0.031]))))
    nl = 2 if w < 0.45 else ri(rng, 2, 3)
    lx = np.linspace(-0.3, 0.3, nl) * w
    lid_parts.append(group("clips", [leaf(f"clip_{i}", at(box([0.03, 0.006, 0.02], bevel=0.002),
                                                           [x, -d / 2 - 0.002, h + 0.008]))
                                     for i, x in enumerate(lx)]))
    lid = group("lid", lid_parts)
    if rng.random() < 0.7:
        from trimesh.transformations import rotation_matrix

        lid.apply_transform(rotation_matrix(-u(rng, 0.4, 1.9), [1, 0, 0], [0, d / 2, h]))
    latches = [leaf(f"latch_{i}", at(box([0.035, 0.008, 0.025], bevel=0.002),
                                     [x, -d / 2 - 0.003, h - 0.014])) for i, x in enumerate(lx)]
    hinges = [leaf(f"hinge_{i}", at(ry(cylinder(0.005, 0.04, 10), np.pi / 2), [x, d / 2 + 0.002, h]))
              for i, x in enumerate(np.linspace(-0.3, 0.3, ri(rng, 2, 3)) * w)]
    hardware = group("hardware", group("latches", latches), group("hinges", hinges))
    return group("toolbox", body, lid, hardware)


FAMILIES = {
    "mug": mug,
    "bottle": bottle,
    "vase": vase,
    "bucket": bucket,
    "pot": pot,
    "hammer": hammer,
    "scissors": scissors,
    "faucet": faucet,
    "toolbox": toolbox,
}
