"""Vehicles: car, bicycle, airplane, boat, truck (from primitives, x = forward, z = up)."""

from __future__ import annotations

import numpy as np

from ..parts import Part, group, leaf
from .primitives import (
    at,
    box,
    capsule,
    cylinder,
    ellipsoid,
    lathe,
    ri,
    rod,
    rx,
    ry,
    sweep,
    torus,
    u,
)


def _wheel(rng, r, w, pos, name="wheel", spokes=0):
    """Tyre (torus-ish) + rim + hub, axle along y, centred at ``pos``."""
    tyre = rx(torus(r * 0.78, r * 0.22, 28, 10), np.pi / 2, pos)
    tyre.vertices[:, 1] = pos[1] + (tyre.vertices[:, 1] - pos[1]) * (w / (0.44 * r))
    parts = [leaf("tyre", tyre), leaf("rim", rx(cylinder(r * 0.62, w * 0.8, 24), np.pi / 2, pos)),
             leaf("hub", rx(cylinder(r * 0.18, w * 1.0, 12), np.pi / 2, pos))]
    if spokes:
        sp = []
        for k in range(spokes):
            a = 2 * np.pi * k / spokes
            end = np.array(pos) + [r * 0.6 * np.cos(a), 0, r * 0.6 * np.sin(a)]
            sp.append(leaf(f"spoke_{k}", rod(pos, end, r * 0.02, 5)))
        parts.append(group("spokes", sp))
    return group(name, parts)


def car(rng: np.random.Generator) -> Part:
    L, W = u(rng, 3.6, 5.0), u(rng, 1.6, 2.0)
    H = u(rng, 0.5, 0.8)
    wr = u(rng, 0.3, 0.4)
    z0 = wr * u(rng, 0.6, 0.9)
    body = [leaf("chassis", at(box([L, W, H], bevel=u(rng, 0.05, 0.25)), [0, 0, z0 + H / 2]))]
    ch = u(rng, 0.4, 0.6)
    cl = L * u(rng, 0.4, 0.6)
    cx = u(rng, -0.15, 0.05) * L
    cabin = leaf("cabin", at(box([cl, W * 0.9, ch], bevel=u(rng, 0.1, 0.2)), [cx, 0, z0 + H + ch / 2 - 0.05]))
    wins = [leaf("windshield", at(box([0.02, W * 0.8, ch * 0.7]), [cx + cl / 2 - 0.02, 0, z0 + H + ch * 0.5])),
            leaf("rear_window", at(box([0.02, W * 0.75, ch * 0.6]), [cx - cl / 2 + 0.02, 0, z0 + H + ch * 0.5]))]
    for i, s in enumerate((-1, 1)):
        for j, dx in enumerate((-0.22, 0.22)):
            wins.append(leaf(f"side_window_{i}_{j}", at(box([cl * 0.38, 0.02, ch * 0.6]),
                                                        [cx + dx * cl, s * W * 0.45, z0 + H + ch * 0.5])))
    upper = group("cabin", cabin, group("windows", wins))
    doors = []
    nd = 2 if rng.random() < 0.4 else 4
    for i, s in enumerate((-1, 1)):
        for j in range(nd // 2):
            dx = cx + (j - (nd // 2 - 1) / 2) * cl * 0.48
            door = group(f"door_{i}_{j}",
                         leaf("door_panel", at(box([cl * 0.46, 0.02, H * 0.8]), [dx, s * W / 2, z0 + H * 0.55])),
                         leaf("door_handle", at(box([0.12, 0.03, 0.025], bevel=0.008),
                                                [dx + cl * 0.1, s * (W / 2 + 0.015), z0 + H * 0.8])))
            doors.append(door)
    lights = [leaf(f"headlight_{i}", at(ellipsoid([0.04, 0.15, 0.07]), [L / 2 - 0.02, s * W * 0.35, z0 + H * 0.65]))
              for i, s in enumerate((-1, 1))]
    lights += [leaf(f"taillight_{i}", at(box([0.04, 0.25, 0.08]), [-L / 2 + 0.01, s * W * 0.38, z0 + H * 0.7]))
               for i, s in enumerate((-1, 1))]
    bumpers = [leaf("front_bumper", at(box([0.12, W * 1.01, 0.15], bevel=0.05), [L / 2, 0, z0 + 0.12])),
               leaf("rear_bumper", at(box([0.12, W * 1.01, 0.15], bevel=0.05), [-L / 2, 0, z0 + 0.12]))]
    mirrors = [leaf(f"mirror_{i}", at(box([0.08, 0.15, 0.1], bevel=0.03), [cx + cl / 2 - 0.1, s * (W / 2 + 0.08), z0 + H + 0.05]))
               for i, s in enumerate((-1, 1))]
    body += [group("doors", doors), group("lights", lights), group("bumpers", bumpers), group("mirrors", mirrors)]
    wb = L * u(rng, 0.28, 0.36)
    wheels = [_wheel(rng, wr, 0.22, [x, s * (W / 2 - 0.05), wr], f"wheel_{i}_{j}")
              for i, x in enumerate((-wb, wb)) for j, s in enumerate((-1, 1))]
    return group("car", group("body", body), upper, group("wheels", wheels))


def bicycle(rng: np.random.Generator) -> Part:
    wr = u(rng, 0.3, 0.36)
    wb = u(rng, 0.95, 1.15)
    rear, front = np.array([-wb / 2, 0, wr]), np.array([wb / 2, 0, wr])
    bb = np.array([-wb * 0.08, 0, wr * 0.85])  # bottom bracket
    seat_top = bb + [-0.15, 0, u(rng, 0.5, 0.65)]
    head_top = front + [-0.18, 0, u(rng, 0.55, 0.7)]
    head_bot = head_top + [0.06, 0, -0.15]
    tr = 0.018
    frame = [leaf("top_tube", rod(seat_top - [0, 0, 0.05], head_top - [0, 0, 0.03], tr)),
             leaf("down_tube", rod(bb, head_bot, tr * 1.2)),
             leaf("seat_tube", rod(bb, seat_top, tr)),
             leaf("chain_stay", rod(bb, rear, tr * 0.7)),
             leaf("seat_stay", rod(seat_top - [0, 0, 0.05], rear, tr * 0.7)),
             leaf("head_tube", rod(head_bot, head_top, tr * 1.4))]
    fork = leaf("fork", rod(head_bot, front, tr * 0.9))
    bars = head_top + [0, 0, 0.08]
    steer = [fork, leaf("stem", rod(head_top, bars, tr)),
             leaf("handlebar", rx(cylinder(0.012, 0.5, 10), np.pi / 2, bars))]
    grips = [leaf(f"grip_{i}", rx(cylinder(0.017, 0.1, 10), np.pi / 2, bars + [0, s * 0.22, 0]))
             for i, s in enumerate((-1, 1))]
    steer.append(group("grips", grips))
    seat = group("seat", leaf("seat_post", rod(seat_top - [0, 0, 0.05], seat_top + [0, 0, 0.08], 0.013)),
                 leaf("saddle", at(ellipsoid([0.13, 0.07, 0.03]), seat_top + [0, 0, 0.1])))
    crank = group("drivetrain",
                  leaf("chainring", rx(cylinder(0.1, 0.008, 24), np.pi / 2, bb + [0, 0.05, 0])),
                  leaf("crank_arm_r", rod(bb + [0, 0.06, 0], bb + [0.1, 0.06, -0.13], 0.01)),
                  leaf("crank_arm_l", rod(bb + [0, -0.06, 0], bb + [-0.1, -0.06, 0.13], 0.01)),
                  leaf("pedal_r", at(box([0.1, 0.08, 0.02]), bb + [0.1, 0.11, -0.13])),
                  leaf("pedal_l", at(box([0.1, 0.08, 0.02]), bb + [-0.1, -0.11, 0.13])),
                  leaf("chain", sweep(np.array([bb + [0, 0.05, 0.1], rear + [0, 0.05, 0.05],
                                                rear + [0, 0.05, -0.05], bb + [0, 0.05, -0.1]]), 0.005, 5)))
    ns = ri(rng, 0, 16)
    wheels = [_wheel(rng, wr, 0.035, list(p), f"wheel_{i}", spokes=ns) for i, p in enumerate((rear, front))]
    return group("bicycle", group("frame", frame), group("steering", steer), seat, crank,
                 group("wheels", wheels))


def airplane(rng: np.random.Generator) -> Part:
    L = u(rng, 8, 40)
    R = L * u(rng, 0.045, 0.07)
    nose, tail = L * u(rng, 0.1, 0.18), L * u(rng, 0.2, 0.3)
    prof = [[0, 0], [R * 0.3, 0.02 * L], [R, nose], [R, L - tail], [R * 0.25, L], [0, L]]
    fus = ry(lathe(prof, 24), np.pi / 2, [-L / 2, 0, 0])
    fuselage = [leaf("fuselage", fus)]
    fuselage.append(leaf("cockpit", at(ellipsoid([nose * 0.5, R * 0.7, R * 0.4]), [L / 2 - nose * 0.8, 0, R * 0.55])))
    span = L * u(rng, 0.8, 1.2)
    chord = L * u(rng, 0.1, 0.18)
    sweep_back = u(rng, 0.0, 0.35)
    wx = u(rng, -0.05, 0.1) * L
    wings = []
    for i, s in enumerate((-1, 1)):
        wing = box([chord, span / 2, R * 0.25], bevel=R * 0.08)
        wing.vertices[:, 0] -= sweep_back * (wing.vertices[:, 1] + span / 4)
        wing.vertices[:, 0] *= 1 - 0.5 * (wing.vertices[:, 1] + span / 4) / (span / 2)
        wing.apply_translation([wx, span / 4 + R * 0.5, -R * 0.3])
        if s < 0:  # mirror the right wing to the left
            wing.vertices[:, 1] *= -1
            wing.invert()
        engines = []
        for k in range(ri(rng, 0, 2)):
            ey = s * (R + span / 2 * (0.25 + 0.2 * k))
            engines.append(group(f"engine_{k}",
                                 leaf("nacelle", ry(cylinder(R * 0.35, chord * 0.8, 16), np.pi / 2,
                                                    [wx + chord * 0.25 - sweep_back * abs(ey), ey, -R * 0.7])),
                                 leaf("pylon", at(box([chord * 0.4, R * 0.1, R * 0.5]),
                                                  [wx + chord * 0.1 - sweep_back * abs(ey), ey, -R * 0.4]))))
        wings.append(group(f"wing_{i}", [leaf("wing_panel", wing)] + engines))
    th = L * u(rng, 0.08, 0.14)
    fin = box([tail * 0.6, R * 0.15, th], bevel=R * 0.05)
    fin.vertices[:, 0] -= 0.5 * (fin.vertices[:, 2] + th / 2)
    fin.apply_translation([-L / 2 + tail * 0.4, 0, R * 0.5 + th / 2])
    stabs = []
    for i, s in enumerate((-1, 1)):
        st = box([tail * 0.4, span * 0.15, R * 0.12], bevel=R * 0.04)
        st.apply_translation([-L / 2 + tail * 0.25, s * (span * 0.075 + R * 0.2), R * 0.2])
        stabs.append(leaf(f"stabilizer_{i}", st))
    tail_g = group("tail", leaf("fin", fin), group("stabilizers", stabs))
    gear = []
    for i, (x, y) in enumerate([(L / 2 - nose, 0), (wx, -R * 0.8), (wx, R * 0.8)]):
        gear.append(group(f"gear_{i}", leaf("strut", rod([x, y, -R * 0.8], [x, y, -R * 1.6], R * 0.06, 8)),
                          leaf("tire", rx(cylinder(R * 0.22, R * 0.15, 14), np.pi / 2, [x, y, -R * 1.7]))))
    parts = [group("fuselage", fuselage), group("wings", wings), tail_g]
    if rng.random() < 0.6:
        parts.append(group("landing_gear", gear))
    return group("airplane", parts)


def boat(rng: np.random.Generator) -> Part:
    L, W, D = u(rng, 3, 12), u(rng, 1.2, 3.5), u(rng, 0.6, 1.5)
    n = 12
    xs = np.linspace(-L / 2, L / 2, n)
    secs = []
    for x in xs:
        t = (x + L / 2) / L
        half = W / 2 * np.sqrt(max(1e-3, 1 - max(0, (t - 0.6) / 0.4) ** 2))
        secs.append((x, half))
    # hull as a sweep of a U cross-section: build a lathe-free mesh by lofting
    ring = 10
    verts = []
    for x, half in secs:
        a = np.linspace(0, np.pi, ring)
        ys = -np.cos(a) * half
        zs = -np.sin(a) * D * (0.3 + 0.7 * half / (W / 2))
        verts.append(np.stack([np.full(ring, x), ys, zs + D], 1))
    v = np.concatenate(verts)
    f = []
    for i in range(n - 1):
        for j in range(ring - 1):
            a0, a1 = i * ring + j, i * ring + j + 1
            b0, b1 = a0 + ring, a1 + ring
            f += [[a0, b0, b1], [a0, b1, a1]]
    import trimesh

    hull = trimesh.Trimesh(v, np.array(f), process=False)
    deck = trimesh.Trimesh(v.copy(), np.array(f)[:, ::-1], process=False)
    deck.vertices[:, 2] = D - (D - deck.vertices[:, 2]) * 0.05  # a thin floor just below the rim
    hull_g = group("hull", leaf("hull_shell", hull), leaf("deck", deck),
                   leaf("gunwale", sweep(np.array([[x, -h, D] for x, h in secs] + [[x, h, D] for x, h in secs[::-1]]),
                                         0.03, 6, cap=False)))
    parts = [hull_g]
    kind = rng.choice(["sail", "motor", "row"])
    if kind == "sail":
        mh = L * u(rng, 0.8, 1.3)
        mx = u(rng, -0.05, 0.2) * L
        sail = box([L * 0.4, 0.02, mh * 0.8])
        sail.vertices[:, 0] -= (sail.vertices[:, 2] + mh * 0.4) / (mh * 0.8) * (sail.vertices[:, 0] + L * 0.2) * 0.9
        sail.apply_translation([mx - L * 0.2, 0, D + mh * 0.5])
        parts.append(group("rig", leaf("mast", at(cylinder(0.05, mh, 10), [mx, 0, D + mh / 2])),
                           leaf("boom", ry(cylinder(0.04, L * 0.45, 8), np.pi / 2, [mx - L * 0.22, 0, D + 0.4])),
                           leaf("sail", sail)))
    elif kind == "motor":
        parts.append(group("outboard", leaf("motor_cowl", at(box([0.4, 0.35, 0.5], bevel=0.08), [-L / 2 - 0.1, 0, D + 0.2])),
                           leaf("shaft", at(box([0.1, 0.08, D * 1.2]), [-L / 2 - 0.15, 0, D * 0.4])),
                           leaf("propeller", ry(cylinder(0.15, 0.04, 12), np.pi / 2, [-L / 2 - 0.2, 0, -0.1]))))
        parts.append(leaf("console", at(box([0.5, 0.6, 0.8], bevel=0.05), [0, 0, D + 0.35])))
    else:
        oars = [leaf(f"oar_{i}", rod([0, s * W * 0.45, D + 0.1], [-L * 0.1, s * W * 1.2, D - 0.2], 0.03, 6))
                for i, s in enumerate((-1, 1))]
        parts.append(group("oars", oars))
    seats = [leaf(f"thwart_{i}", at(box([0.25, W * 0.8, 0.04]), [x, 0, D * 0.75]))
             for i, x in enumerate(np.linspace(-L * 0.3, L * 0.3, ri(rng, 1, 3)))]
    parts.append(group("seats", seats))
    return group("boat", parts)


def truck(rng: np.random.Generator) -> Part:
    L, W = u(rng, 5, 9), u(rng, 2.0, 2.5)
    wr = u(rng, 0.45, 0.55)
    cl = u(rng, 1.6, 2.2)
    chassis = leaf("frame_rails", at(box([L, W * 0.7, 0.25]), [0, 0, wr + 0.1]))
    cab = group("cab", leaf("cab_body", at(box([cl, W, 2.0], bevel=0.15), [L / 2 - cl / 2, 0, wr + 1.2])),
                leaf("windshield", at(box([0.03, W * 0.85, 0.8]), [L / 2, 0, wr + 1.6])),
                leaf("grille", at(box([0.05, W * 0.7, 0.6]), [L / 2 + 0.01, 0, wr + 0.6])),
                group("mirrors", [leaf(f"mirror_{i}", at(box([0.1, 0.1, 0.35], bevel=0.03),
                                                         [L / 2 - 0.2, s * (W / 2 + 0.15), wr + 1.6]))
                                  for i, s in enumerate((-1, 1))]))
    bl = L - cl - 0.1
    kind = rng.choice(["box", "flatbed", "tank"])
    if kind == "box":
        cargo = leaf("cargo_box", at(box([bl, W, 2.4], bevel=0.03), [-L / 2 + bl / 2, 0, wr + 1.45]))
    elif kind == "tank":
        cargo = leaf("tank", ry(capsule(bl - W * 0.8, W * 0.45), np.pi / 2, [-L / 2 + bl / 2, 0, wr + 1.2]))
    else:
        cargo = leaf("flatbed", at(box([bl, W, 0.15]), [-L / 2 + bl / 2, 0, wr + 0.3]))
    axles = [L / 2 - cl * 0.5] + list(np.linspace(-L / 2 + 0.8, -L / 2 + 0.8 + ri(rng, 0, 1) * 1.3, 2))
    wheels = [_wheel(rng, wr, 0.3, [x, s * (W / 2 - 0.1), wr], f"wheel_{i}_{j}")
              for i, x in enumerate(axles) for j, s in enumerate((-1, 1))]
    return group("truck", group("body", chassis, cab, cargo), group("wheels", wheels))


FAMILIES = {
    "car": car,
    "bicycle": bicycle,
    "airplane": airplane,
    "boat": boat,
    "truck": truck,
}
