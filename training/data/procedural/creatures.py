"""Articulated figures and misc: humanoid robot, quadruped animal, bird, desk fan, guitar,
potted plant. Limbs are chains of segments joined at overlapping joints."""

from __future__ import annotations

import numpy as np

from ..parts import Part, group, leaf
from .primitives import (
    at,
    box,
    capsule,
    cylinder,
    ellipsoid,
    frustum,
    ri,
    rod,
    rx,
    ry,
    shell,
    sphere,
    sweep,
    torus,
    u,
)


def _limb(rng, p0, dirs, lengths, radii, names, boxy):
    """A chain of segments from p0; returns (parts, end point)."""
    parts = []
    p = np.asarray(p0, float)
    for d, ln, r, nm in zip(dirs, lengths, radii, names):
        d = np.asarray(d, float)
        d /= np.linalg.norm(d)
        q = p + d * ln
        if boxy:
            seg = rod(p, q, r, 4)
        else:
            seg = rod(p, q, r, 10)
        parts.append(leaf(nm, seg))
        parts.append(leaf(nm + "_joint", at(sphere(r * 1.15, 1), q)))
        p = q
    return parts[:-1], p


def humanoid(rng: np.random.Generator) -> Part:
    boxy = rng.random() < 0.6
    s = u(rng, 0.8, 1.2)
    leg_len, torso_h = u(rng, 0.35, 0.5) * s, u(rng, 0.35, 0.5) * s
    hip_w = u(rng, 0.1, 0.16) * s
    hip_z = 2 * leg_len + 0.05
    torso = [leaf("chest", at(box([hip_w * 2.6, 0.18 * s, torso_h * 0.6], bevel=0.03 if boxy else 0.08),
                              [0, 0, hip_z + torso_h * 0.6])),
             leaf("pelvis", at(box([hip_w * 2.2, 0.16 * s, torso_h * 0.3], bevel=0.03), [0, 0, hip_z + 0.03]))]
    if rng.random() < 0.5:
        torso.append(leaf("chest_plate", at(box([hip_w * 1.5, 0.02, torso_h * 0.3], bevel=0.01),
                                            [0, -0.09 * s, hip_z + torso_h * 0.65])))
    top = hip_z + torso_h * 0.9
    head_r = u(rng, 0.08, 0.12) * s
    head = [leaf("neck", at(cylinder(0.035 * s, 0.08, 10), [0, 0, top + 0.03])),
            leaf("skull", at(box([head_r * 2, head_r * 2, head_r * 2.2], bevel=0.02) if boxy else sphere(head_r, 2),
                             [0, 0, top + 0.07 + head_r]))]
    eyes = [leaf(f"eye_{i}", at(sphere(head_r * 0.15, 1), [sx * head_r * 0.4, -head_r * 0.95, top + 0.07 + head_r * 1.1]))
            for i, sx in enumerate((-1, 1))]
    head.append(group("eyes", eyes))
    if rng.random() < 0.4:
        head.append(leaf("antenna", rod([0, 0, top + 0.07 + head_r * 2], [0, 0, top + 0.2 + head_r * 2], 0.006, 6)))
    limbs = []
    for i, sx in enumerate((-1, 1)):
        swing = u(rng, -0.4, 0.4)
        parts, end = _limb(rng, [sx * hip_w, 0, hip_z], [[0, np.sin(swing), -1], [0, -np.sin(swing) * 0.5, -1]],
                           [leg_len, leg_len], [0.05 * s, 0.04 * s], ["thigh", "shin"], boxy)
        foot = leaf("foot", at(box([0.09 * s, 0.2 * s, 0.05], bevel=0.01), [end[0], end[1] - 0.04, max(end[2], 0.025)]))
        limbs.append(group(f"leg_{i}", parts + [foot]))
    for i, sx in enumerate((-1, 1)):
        sh = np.array([sx * (hip_w * 1.3 + 0.04), 0, top - 0.05])
        raise_ = u(rng, -0.2, 1.2)
        d1 = [sx * np.sin(raise_), 0, -np.cos(raise_)]
        d2 = [sx * np.sin(raise_ + u(rng, 0, 0.8)), -0.3, -np.cos(raise_ + 0.4)]
        parts, end = _limb(rng, sh, [d1, d2], [0.28 * s, 0.26 * s], [0.04 * s, 0.033 * s],
                           ["upper_arm", "forearm"], boxy)
        hand = [leaf("palm", at(box([0.05, 0.05, 0.08]) if boxy else sphere(0.045, 1), end))]
        if rng.random() < 0.5:
            hand += [leaf(f"finger_{k}", rod(end, end + [0.015 * (k - 1), -0.01, -0.07], 0.008, 5)) for k in range(3)]
        shoulder = leaf("shoulder", at(sphere(0.06 * s, 1), sh))
        limbs.append(group(f"arm_{i}", [shoulder] + parts + [group("hand", hand)]))
    return group("humanoid", group("torso", torso), group("head", head),
                 group("legs", limbs[:2]), group("arms", limbs[2:]))


def quadruped(rng: np.random.Generator) -> Part:
    bl, bh = u(rng, 0.4, 1.2), u(rng, 0.15, 0.4)
    leg = u(rng, 0.2, 0.7)
    body = leaf("body", at(ellipsoid([bl / 2, bh / 2 * u(rng, 0.8, 1.1), bh / 2]), [0, 0, leg + bh * 0.3]))
    neck_a = u(rng, 0.3, 1.2)
    nl = u(rng, 0.1, 0.5) * bl
    n0 = np.array([bl * 0.4, 0, leg + bh * 0.4])
    n1 = n0 + nl * np.array([np.cos(neck_a), 0, np.sin(neck_a)])
    hr = u(rng, 0.07, 0.15) * max(bl, 0.5)
    head = [leaf("neck", rod(n0, n1, bh * 0.22, 10)),
            leaf("skull", at(ellipsoid([hr * 1.4, hr * 0.8, hr * 0.8]), n1 + [hr * 0.6, 0, 0])),
            leaf("snout", at(ellipsoid([hr * 0.6, hr * 0.45, hr * 0.4]), n1 + [hr * 1.8, 0, -hr * 0.2]))]
    ears = [leaf(f"ear_{i}", at(frustum(hr * 0.25, 0.002, hr * u(rng, 0.4, 1.0), 8), n1 + [hr * 0.3, s * hr * 0.45, hr * 0.5]))
            for i, s in enumerate((-1, 1))]
    eyes = [leaf(f"eye_{i}", at(sphere(hr * 0.12, 1), n1 + [hr * 1.35, s * hr * 0.45, hr * 0.2]))
            for i, s in enumerate((-1, 1))]
    head += [group("ears", ears), group("eyes", eyes)]
    legs = []
    for i, (sx, sy) in enumerate([(1, -1), (1, 1), (-1, -1), (-1, 1)]):
        hip = np.array([sx * bl * 0.35, sy * bh * 0.3, leg + bh * 0.2])
        kb = u(rng, -0.25, 0.25)
        knee = hip + [kb * leg, 0, -leg * 0.5]
        foot = np.array([hip[0], hip[1], 0.03])
        legs.append(group(f"leg_{i}", leaf("upper_leg", rod(hip, knee, bh * 0.13, 10)),
                          leaf("lower_leg", rod(knee, foot, bh * 0.1, 10)),
                          leaf("paw", at(ellipsoid([bh * 0.16, bh * 0.12, 0.03]), foot + [bh * 0.05, 0, 0]))))
    tail_l = u(rng, 0.1, 0.6) * bl
    t = np.linspace(0, 1, 8)
    tpath = np.stack([-bl * 0.45 - tail_l * t, 0 * t, leg + bh * 0.35 + tail_l * 0.5 * np.sin(t * u(rng, 0.5, 2.5))], 1)
    tail = leaf("tail", sweep(tpath, np.linspace(bh * 0.08, bh * 0.02, 8), 8))
    return group("quadruped", body, group("head", head), group("legs", legs), tail)


def bird(rng: np.random.Generator) -> Part:
    bl = u(rng, 0.1, 0.3)
    body = leaf("body", at(ellipsoid([bl / 2, bl * 0.3, bl * 0.32]), [0, 0, bl * 0.5]))
    hr = bl * u(rng, 0.18, 0.25)
    hc = np.array([bl * 0.45, 0, bl * 0.8])
    head = group("head", leaf("skull", at(sphere(hr, 2), hc)),
                 leaf("beak", ry(frustum(hr * 0.4, 0.001, hr * u(rng, 0.6, 1.5), 10), np.pi / 2, hc + [hr * 0.8, 0, 0])),
                 group("eyes", [leaf(f"eye_{i}", at(sphere(hr * 0.15, 1), hc + [hr * 0.6, s * hr * 0.6, hr * 0.3]))
                                for i, s in enumerate((-1, 1))]))
    spread = u(rng, 0.0, 1.0)
    wings = []
    for i, s in enumerate((-1, 1)):
        w = box([bl * 0.45, bl * u(rng, 0.5, 1.2), bl * 0.04], bevel=bl * 0.015)
        w.vertices[:, 0] -= np.abs(w.vertices[:, 1]) * 0.4
        ang = s * (0.2 + spread * 1.2)
        from trimesh.transformations import rotation_matrix

        w.apply_translation([0, s * (w.extents[1] / 2), 0])
        w.apply_transform(rotation_matrix(ang, [1, 0, 0]))
        w.apply_translation([0, s * bl * 0.2, bl * 0.65])
        wings.append(leaf(f"wing_{i}", w))
    tail = leaf("tail", at(box([bl * 0.4, bl * 0.25, bl * 0.03], bevel=0.003), [-bl * 0.6, 0, bl * 0.55]))
    legs = []
    for i, s in enumerate((-1, 1)):
        top = np.array([0, s * bl * 0.1, bl * 0.3])
        foot = np.array([0.01, s * bl * 0.1, 0.005])
        toes = [leaf(f"toe_{k}", rod(foot, foot + [bl * 0.12 * np.cos(a), bl * 0.12 * np.sin(a), 0], bl * 0.01, 4))
                for k, a in enumerate((-0.5, 0, 0.5, np.pi))]
        legs.append(group(f"leg_{i}", leaf("shank", rod(top, foot, bl * 0.015, 6)), group("toes", toes)))
    parts = [body, head, group("wings", wings), tail, group("legs", legs)]
    if rng.random() < 0.3:
        parts.append(group("perch", leaf("branch", rx(cylinder(bl * 0.05, bl * 1.5, 10), np.pi / 2, [0.01, 0, -bl * 0.04]))))
    return group("bird", parts)


def desk_fan(rng: np.random.Generator) -> Part:
    br = u(rng, 0.1, 0.15)
    h = u(rng, 0.2, 0.5)
    base = group("base", leaf("base_disk", frustum(br, br * 0.8, 0.04, 28)),
                 group("buttons", [leaf(f"button_{i}", at(box([0.02, 0.015, 0.012], bevel=0.003), [br * 0.5, (i - 1.5) * 0.025, 0.04]))
                                   for i in range(ri(rng, 2, 4))]),
                 leaf("pole", at(cylinder(0.015, h, 12), [0, 0, h / 2 + 0.02])))
    R = u(rng, 0.12, 0.22)
    hub_c = np.array([0, -0.06, h + 0.05])
    motor = leaf("motor_housing", rx(capsule(0.05, 0.05), np.pi / 2, hub_c + [0, 0.06, 0]))
    nb = ri(rng, 3, 6)
    blades = []
    for k in range(nb):
        a = 2 * np.pi * k / nb + u(rng, 0, 1)
        bl = ellipsoid([R * 0.42, R * 0.2, 0.006])
        bl.apply_translation([R * 0.5, 0, 0])
        from trimesh.transformations import rotation_matrix

        bl.apply_transform(rotation_matrix(0.3, [1, 0, 0]))
        bl.apply_transform(rotation_matrix(a, [0, 0, 1]))
        bl.apply_transform(rotation_matrix(np.pi / 2, [1, 0, 0]))
        bl.apply_translation(hub_c)
        blades.append(leaf(f"blade_{k}", bl))
    rotor = group("rotor", leaf("spinner", rx(cylinder(0.035, 0.04, 16), np.pi / 2, hub_c)), group("blades", blades))
    cage = [leaf("cage_ring_front", rx(torus(R * 1.05, 0.004, 32, 6), np.pi / 2, hub_c + [0, -0.04, 0])),
            leaf("cage_ring_back", rx(torus(R * 1.05, 0.004, 32, 6), np.pi / 2, hub_c + [0, 0.04, 0]))]
    ns = ri(rng, 6, 16)
    bars = [leaf(f"cage_bar_{k}", rod(hub_c + [R * 1.05 * np.cos(a), -0.04, R * 1.05 * np.sin(a)],
                                      hub_c + [R * 1.05 * np.cos(a), 0.04, R * 1.05 * np.sin(a)], 0.003, 4))
            for k, a in enumerate(np.linspace(0, 2 * np.pi, ns, endpoint=False))]
    return group("desk_fan", base, group("head", motor, rotor, group("guard", cage + [group("bars", bars)])))


def guitar(rng: np.random.Generator) -> Part:
    bl = u(rng, 0.4, 0.55)
    lower, upper = u(rng, 0.16, 0.21), u(rng, 0.12, 0.16)
    th = u(rng, 0.05, 0.1)
    lb = at(cylinder(lower, th, 32), [0, 0, 0])
    ub = at(cylinder(upper, th, 32), [0, bl * 0.5, 0])
    body = [leaf("lower_bout", lb), leaf("upper_bout", ub),
            leaf("bridge", at(box([0.12, 0.025, 0.01], bevel=0.003), [0, -lower * 0.45, th / 2 + 0.004])),
            leaf("soundhole_ring", at(torus(0.045, 0.004, 24, 6), [0, bl * 0.35, th / 2]))]
    nl = u(rng, 0.4, 0.5)
    neck = [leaf("neck_shaft", at(box([0.05, nl, 0.025], bevel=0.008), [0, bl * 0.5 + upper * 0.7 + nl / 2, th * 0.3]))]
    nf = ri(rng, 8, 16)
    frets = [leaf(f"fret_{k}", at(box([0.05, 0.003, 0.004]), [0, bl * 0.5 + upper * 0.75 + nl * (1 - (0.943 ** k)) * 2.2, th * 0.3 + 0.013]))
             for k in range(1, nf)]
    neck.append(group("frets", frets))
    hy = bl * 0.5 + upper * 0.7 + nl
    head = [leaf("headstock", at(box([0.08, 0.18, 0.02], bevel=0.006), [0, hy + 0.09, th * 0.3]))]
    pegs = [leaf(f"tuning_peg_{k}", ry(cylinder(0.006, 0.03, 8), np.pi / 2, [s * 0.05, hy + 0.04 + 0.045 * (k % 3), th * 0.3]))
            for k, s in enumerate((-1, -1, -1, 1, 1, 1))]
    head.append(group("tuning_pegs", pegs))
    strings = [leaf(f"string_{k}", rod([x, -lower * 0.45, th / 2 + 0.008], [x * 1.3, hy + 0.02, th * 0.3 + 0.014], 0.0008, 3))
               for k, x in enumerate(np.linspace(-0.02, 0.02, 6))]
    return group("guitar", group("body", body), group("neck", neck), group("headstock", head),
                 group("strings", strings))


def potted_plant(rng: np.random.Generator) -> Part:
    r, h = u(rng, 0.06, 0.15), u(rng, 0.08, 0.2)
    potg = group("pot", leaf("planter", shell([[0, 0], [r * 0.75, 0], [r, h]], 0.006, 28)),
                 leaf("soil", at(cylinder(r * 0.95, 0.01, 24), [0, 0, h * 0.85])))
    if rng.random() < 0.5:
        potg.children.append(leaf("saucer", shell([[0, -0.012], [r * 0.95, -0.012], [r * 1.05, 0.005]], 0.004, 28)))
    stem_h = r * u(rng, 1.5, 4.0)
    stems = []
    for k in range(ri(rng, 1, 4)):
        a = u(rng, 0, 2 * np.pi)
        lean = u(rng, 0, 0.5)
        top = np.array([np.sin(lean) * np.cos(a) * stem_h, np.sin(lean) * np.sin(a) * stem_h, h * 0.85 + stem_h])
        leaves = []
        for j in range(ri(rng, 2, 6)):
            t = (j + 1) / 7
            p = np.array([0, 0, h * 0.85]) + (top - [0, 0, h * 0.85]) * t
            lf = ellipsoid([stem_h * 0.18, stem_h * 0.07, 0.003])
            lf.apply_translation([stem_h * 0.17, 0, 0])
            from trimesh.transformations import rotation_matrix

            lf.apply_transform(rotation_matrix(u(rng, -0.6, 0.3), [0, 1, 0]))
            lf.apply_transform(rotation_matrix(u(rng, 0, 2 * np.pi), [0, 0, 1]))
            lf.apply_translation(p)
            leaves.append(leaf(f"leaf_{j}", lf))
        stems.append(group(f"stem_{k}", leaf("stalk", rod([0, 0, h * 0.8], top, 0.005, 6)), group("leaves", leaves)))
    return group("potted_plant", potg, group("plant", stems))


FAMILIES = {
    "humanoid": humanoid,
    "quadruped": quadruped,
    "bird": bird,
    "desk_fan": desk_fan,
    "guitar": guitar,
    "potted_plant": potted_plant,
}
