"""Appliances and electronics: laptop, monitor, keyboard, microwave, washing machine,
toaster, camera, suitcase, remote control.

Many small repeated parts (keys, buttons, knobs, feet, hinges); doors and lids sit flush in
their frames; keys sit in the deck.
"""

from __future__ import annotations

import numpy as np

from ..parts import Part, group, leaf
from .primitives import at, box, capsule, cylinder, ri, rx, ry, shell, torus, u


def _key_grid(rng, w, d, rows, cols, z, gap_frac=0.2, key_h=0.006, name="key"):
    """Rows of keys on a deck of size w x d centred at the origin, key bottoms at z (sunk)."""
    kw, kd = w / cols, d / rows
    gap = min(kw, kd) * gap_frac
    out = []
    for r in range(rows):
        row = []
        c = 0
        while c < cols:
            span = 1
            if r == rows - 1 and cols >= 8 and c == cols // 2 - 2:
                span = 4  # space bar
            x = -w / 2 + kw * (c + span / 2)
            y = -d / 2 + kd * (r + 0.5)
            row.append(leaf(f"{name}_{r}_{c}", at(box([kw * span - gap, kd - gap, key_h], bevel=key_h * 0.3),
                                                  [x, y, z + key_h / 2 - key_h * 0.3])))
            c += span
        out.append(group(f"{name}_row_{r}", row))
    return out


def laptop(rng: np.random.Generator) -> Part:
    w, d = u(rng, 0.28, 0.38), u(rng, 0.19, 0.26)
    t = u(rng, 0.008, 0.018)
    base_shell = leaf("base_shell", at(box([w, d, t], bevel=t * 0.3), [0, 0, t / 2]))
    rows, cols = ri(rng, 4, 6), ri(rng, 10, 14)
    kb_w, kb_d = w * 0.85, d * 0.45
    keys = _key_grid(rng, kb_w, kb_d, rows, cols, t - 0.001, key_h=0.003)
    keyboard = group("keyboard", keys)
    keyboard.translate([0, d * 0.15, 0])
    pad = leaf("touchpad", at(box([w * 0.3, d * 0.22, 0.001]), [0, -d * 0.3, t]))
    base = group("base", base_shell, keyboard, pad)
    ang = u(rng, 1.3, 2.2)  # screen opening angle (from closed)
    st = u(rng, 0.004, 0.008)
    # lid built upright (hinge along x at the origin, screen facing -y), then tilted back
    lid = group("lid",
                leaf("lid_shell", at(box([w, st, d], bevel=st * 0.3), [0, st / 2, d / 2])),
                leaf("screen", at(box([w * 0.9, 0.001, d * 0.85]), [0, 0.0002, d * 0.52])),
                leaf("bezel_cam", rx(cylinder(0.002, 0.0015, 8), np.pi / 2, [0, 0, d * 0.96])))
    from trimesh.transformations import rotation_matrix

    lid.apply_transform(rotation_matrix(-(ang - np.pi / 2), [1, 0, 0]))
    lid.translate([0, d / 2, t])
    hinge = leaf("hinge", ry(cylinder(t * 0.45, w * 0.6, 14), np.pi / 2, [0, d / 2, t]))
    return group("laptop", base, lid, hinge)


def monitor(rng: np.random.Generator) -> Part:
    w = u(rng, 0.4, 0.7)
    h = w * u(rng, 0.5, 0.65)
    t = u(rng, 0.015, 0.05)
    z0 = u(rng, 0.08, 0.2)
    panel = [leaf("housing", at(box([w, t, h], bevel=0.006), [0, 0, z0 + h / 2])),
             leaf("screen", at(box([w * 0.95, 0.002, h * 0.92]), [0, -t / 2, z0 + h * 0.52]))]
    if rng.random() < 0.6:
        btns = [leaf(f"button_{i}", at(box([0.008, 0.006, 0.004], bevel=0.001),
                                       [w * 0.3 + i * 0.015, -t / 2, z0 + 0.002]))
                for i in range(ri(rng, 2, 5))]
        panel.append(group("buttons", btns))
    neck_h = z0 + h * 0.4
    stand = [leaf("neck", at(box([0.05, 0.025, neck_h], bevel=0.005), [0, t / 2 + 0.012, neck_h / 2]))]
    if rng.random() < 0.5:
        stand.append(leaf("foot", at(box([w * 0.4, 0.2, 0.015], bevel=0.005), [0, 0.03, 0.0075])))
    else:
        stand.append(leaf("foot", at(cylinder(0.11, 0.012, 28), [0, 0.03, 0.006])))
    return group("monitor", group("display", panel), group("stand", stand))


def keyboard(rng: np.random.Generator) -> Part:
    rows, cols = ri(rng, 4, 6), ri(rng, 10, 16)
    kw = u(rng, 0.016, 0.02)
    w, d = cols * kw + 0.02, rows * kw + 0.02
    t = u(rng, 0.012, 0.025)
    case = [leaf("case", at(box([w, d, t], bevel=0.004), [0, 0, t / 2]))]
    feet = [leaf(f"foot_{i}", at(box([0.02, 0.01, 0.01]), [sx * w * 0.4, d * 0.4, -0.004]))
            for i, sx in enumerate((-1, 1))]
    case.append(group("feet", feet))
    blocks = [group("main_keys", _key_grid(rng, cols * kw, rows * kw, rows, cols, t - 0.002,
                                           key_h=u(rng, 0.006, 0.01)))]
    if rng.random() < 0.5:
        npad = 4
        pw = npad * kw
        pad = group("numpad", _key_grid(rng, pw, rows * kw, rows, npad, t - 0.002, key_h=0.008, name="num"))
        pad.translate([w / 2 + pw / 2 + 0.005, 0, 0])
        case.append(leaf("numpad_case", at(box([pw + 0.015, d, t], bevel=0.004),
                                           [w / 2 + pw / 2 + 0.004, 0, t / 2])))
        blocks.append(pad)
    if rng.random() < 0.4:
        leds = [leaf(f"led_{i}", at(cylinder(0.002, 0.002, 8), [w / 2 - 0.01 - i * 0.008, d / 2 - 0.006, t]))
                for i in range(3)]
        case.append(group("leds", leds))
    return group("keyboard", group("case", case), group("keys", blocks))


def _door_box(rng, w, d, h, name):
    """A box-shaped appliance body (walls) open at the front (-y), thin walls."""
    t = 0.012
    return group(name, [
        leaf("top_wall", at(box([w, d, t]), [0, 0, h - t / 2])),
        leaf("bottom_wall", at(box([w, d, t]), [0, 0, t / 2])),
        leaf("left_wall", at(box([t, d, h]), [-w / 2 + t / 2, 0, h / 2])),
        leaf("right_wall", at(box([t, d, h]), [w / 2 - t / 2, 0, h / 2])),
        leaf("back_wall", at(box([w, t, h]), [0, d / 2 - t / 2, h / 2])),
    ])


def microwave(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.4, 0.55), u(rng, 0.3, 0.45), u(rng, 0.25, 0.33)
    body = _door_box(rng, w, d, h, "cabinet")
    pw = w * u(rng, 0.22, 0.3)
    dw = w - pw
    door = group("door",
                 leaf("door_frame", at(box([dw, 0.02, h], bevel=0.004), [-w / 2 + dw / 2, -d / 2 - 0.01, h / 2])),
                 leaf("window", at(box([dw * 0.7, 0.004, h * 0.6]), [-w / 2 + dw * 0.45, -d / 2 - 0.021, h / 2])),
                 leaf("door_handle", at(box([0.015, 0.02, h * 0.7], bevel=0.005),
                                        [-w / 2 + dw - 0.03, -d / 2 - 0.03, h / 2])))
    ctrl = [leaf("control_panel", at(box([pw, 0.02, h], bevel=0.003), [w / 2 - pw / 2, -d / 2 - 0.01, h / 2]))]
    if rng.random() < 0.5:
        knobs = [leaf(f"knob_{i}", rx(cylinder(0.018, 0.015, 16), np.pi / 2,
                                      [w / 2 - pw / 2, -d / 2 - 0.027, h * (0.6 - 0.3 * i)]))
                 for i in range(2)]
        ctrl.append(group("knobs", knobs))
    else:
        nb = ri(rng, 6, 12)
        btns = [leaf(f"button_{i}", at(box([pw * 0.25, 0.006, 0.015], bevel=0.002),
                                       [w / 2 - pw / 2 + (i % 3 - 1) * pw * 0.3, -d / 2 - 0.022,
                                        h * 0.7 - (i // 3) * 0.028]))
                for i in range(nb)]
        ctrl.append(group("buttons", btns))
        ctrl.append(leaf("display", at(box([pw * 0.8, 0.004, 0.03]), [w / 2 - pw / 2, -d / 2 - 0.021, h * 0.85])))
    inside = [leaf("turntable", at(cylinder(min(dw, d) * 0.4, 0.006, 28), [-w / 2 + dw / 2, 0, 0.02]))]
    feet = [leaf(f"foot_{i}", at(cylinder(0.012, 0.01, 10), [sx * w * 0.4, sy * d * 0.4, -0.004]))
            for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
    return group("microwave", group("body", body, group("feet", feet), group("interior", inside)),
                 door, group("controls", ctrl))


def washing_machine(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.55, 0.65), u(rng, 0.5, 0.65), u(rng, 0.8, 0.9)
    body = [leaf("cabinet", at(box([w, d, h], bevel=0.01), [0, 0, h / 2]))]
    dr = w * u(rng, 0.28, 0.36)
    dz = h * 0.45
    door = group("door",
                 leaf("door_ring", rx(torus(dr, 0.025, 32, 10), np.pi / 2, [0, -d / 2 - 0.01, dz])),
                 leaf("door_glass", rx(sphere_cap(dr * 0.95), np.pi / 2, [0, -d / 2 - 0.01, dz])),
                 leaf("door_handle", at(box([0.03, 0.03, 0.08], bevel=0.008), [dr * 0.95, -d / 2 - 0.03, dz])))
    panel_h = h * 0.12
    ctrl = [leaf("control_strip", at(box([w, 0.02, panel_h], bevel=0.004), [0, -d / 2 - 0.005, h - panel_h / 2]))]
    ctrl.append(leaf("dial", rx(cylinder(0.03, 0.025, 20), np.pi / 2, [w * 0.25, -d / 2 - 0.025, h - panel_h / 2])))
    btns = [leaf(f"button_{i}", rx(cylinder(0.008, 0.01, 10), np.pi / 2,
                                   [-w * 0.1 + i * 0.03, -d / 2 - 0.018, h - panel_h / 2]))
            for i in range(ri(rng, 2, 6))]
    ctrl.append(group("buttons", btns))
    ctrl.append(leaf("detergent_drawer", at(box([w * 0.3, 0.02, panel_h * 0.8], bevel=0.003),
                                            [-w * 0.32, -d / 2 - 0.015, h - panel_h / 2])))
    feet = [leaf(f"foot_{i}", at(cylinder(0.02, 0.03, 10), [sx * w * 0.4, sy * d * 0.4, -0.01]))
            for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
    body.append(group("feet", feet))
    return group("washing_machine", group("body", body), door, group("controls", ctrl))


def sphere_cap(r):
    m = shell([[0, 0], [r, 0.0], [r, 0.01]], 0.004, 24)
    return m


def toaster(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.2, 0.35), u(rng, 0.12, 0.2), u(rng, 0.15, 0.22)
    ns = ri(rng, 1, 2) * (1 if rng.random() < 0.5 else 2)
    shell_ = leaf("housing", at(box([w, d, h], bevel=min(w, d) * u(rng, 0.05, 0.3)), [0, 0, h / 2]))
    slots = []
    for i in range(ns):
        x = -w / 2 + w * (i + 0.5) / ns
        slots.append(leaf(f"slot_{i}", at(box([w / ns * 0.7, 0.03, 0.004]), [x, 0, h + 0.001])))
    controls = [leaf("lever", at(box([0.02, 0.04, 0.012], bevel=0.003), [w / 2 + 0.015, 0, h * 0.7])),
                leaf("dial", ry(cylinder(0.012, 0.012, 14), np.pi / 2, [w / 2 + 0.005, 0.03, h * 0.3]))]
    for i in range(ri(rng, 0, 3)):
        controls.append(leaf(f"button_{i}", ry(cylinder(0.006, 0.008, 10), np.pi / 2,
                                               [w / 2 + 0.003, -0.03, h * (0.2 + 0.12 * i)])))
    feet = [leaf(f"foot_{i}", at(box([0.02, 0.02, 0.008], bevel=0.003), [sx * w * 0.4, sy * d * 0.35, 0.002]))
            for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
    return group("toaster", group("body", shell_, group("slots", slots), group("feet", feet)),
                 group("controls", controls))


def camera(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.1, 0.15), u(rng, 0.04, 0.08), u(rng, 0.06, 0.1)
    body = [leaf("body", at(box([w, d, h], bevel=0.006), [0, 0, h / 2]))]
    if rng.random() < 0.6:
        body.append(leaf("grip", at(box([0.03, d * 1.3, h * 0.9], bevel=0.01), [w / 2 - 0.015, -d * 0.15, h * 0.45])))
    if rng.random() < 0.5:
        body.append(leaf("viewfinder", at(box([0.03, d * 0.7, 0.025], bevel=0.004), [0, 0, h + 0.01])))
    lr = min(h, w) * u(rng, 0.25, 0.4)
    nl = ri(rng, 1, 3)
    rings = []
    y = -d / 2
    for i in range(nl):
        ll = u(rng, 0.015, 0.04)
        rr = lr * (1 - 0.08 * i)
        rings.append(leaf(f"lens_ring_{i}", rx(cylinder(rr, ll + 0.002, 28), np.pi / 2, [0, y - ll / 2 + 0.001, h / 2])))
        y -= ll
    rings.append(leaf("lens_glass", rx(cylinder(lr * 0.8, 0.002, 24), np.pi / 2, [0, y, h / 2])))
    top = [leaf("shutter_button", at(cylinder(0.006, 0.006, 12), [w / 2 - 0.015, 0, h + 0.002]))]
    if rng.random() < 0.7:
        top.append(leaf("mode_dial", at(cylinder(0.012, 0.008, 16), [-w / 2 + 0.02, 0, h + 0.003])))
    if rng.random() < 0.4:
        top.append(leaf("flash", at(box([0.025, d * 0.6, 0.012], bevel=0.003), [-w * 0.2, 0, h + 0.005])))
    return group("camera", group("body", body), group("lens", rings), group("controls", top))


def suitcase(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.35, 0.5), u(rng, 0.2, 0.3), u(rng, 0.5, 0.75)
    zb = 0.04
    half_d = d / 2
    shells = group("shell",
                   leaf("front_shell", at(box([w, half_d, h], bevel=0.03), [0, -half_d / 2, zb + h / 2])),
                   leaf("back_shell", at(box([w, half_d, h], bevel=0.03), [0, half_d / 2, zb + h / 2])),
                   leaf("zipper_band", at(box([w + 0.004, 0.01, h + 0.004], bevel=0.02), [0, 0, zb + h / 2])))
    top_handle = group("top_handle",
                       leaf("grip", ry(capsule(w * 0.25, 0.012), np.pi / 2, [0, 0, zb + h + 0.03])),
                       leaf("post_l", at(box([0.02, 0.02, 0.035]), [-w * 0.15, 0, zb + h + 0.012])),
                       leaf("post_r", at(box([0.02, 0.02, 0.035]), [w * 0.15, 0, zb + h + 0.012])))
    parts = [shells, top_handle]
    if rng.random() < 0.7:
        ext = u(rng, 0.0, 0.4)
        tel = group("trolley",
                    leaf("tube_l", at(box([0.015, 0.015, h + ext]), [-w * 0.3, half_d + 0.008, zb + (h + ext) / 2])),
                    leaf("tube_r", at(box([0.015, 0.015, h + ext]), [w * 0.3, half_d + 0.008, zb + (h + ext) / 2])),
                    leaf("bar", at(box([w * 0.65, 0.025, 0.025], bevel=0.008), [0, half_d + 0.008, zb + h + ext])))
        parts.append(tel)
        wheels = [leaf(f"wheel_{i}", ry(cylinder(0.025, 0.018, 14), np.pi / 2,
                                        [sx * (w / 2 - 0.03), sy * (half_d - 0.03), 0.025]))
                  for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
        parts.append(group("wheels", wheels))
    else:
        feet = [leaf(f"foot_{i}", at(box([0.03, 0.03, zb + 0.01], bevel=0.005), [sx * w * 0.4, sy * d * 0.3, zb / 2]))
                for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
        parts.append(group("feet", feet))
    return group("suitcase", parts)


def remote(rng: np.random.Generator) -> Part:
    w, ln, t = u(rng, 0.04, 0.06), u(rng, 0.14, 0.22), u(rng, 0.015, 0.025)
    body = leaf("casing", at(box([w, ln, t], bevel=t * 0.4), [0, 0, t / 2]))
    rows, cols = ri(rng, 3, 6), 3
    pad = group("number_pad", _key_grid(rng, w * 0.8, ln * 0.4, rows, cols, t - 0.001, key_h=0.004, name="btn"))
    pad.translate([0, -ln * 0.15, 0])
    dpad = group("dpad", leaf("ring", at(torus(w * 0.25, 0.004, 20, 6), [0, ln * 0.22, t])),
                 leaf("ok", at(cylinder(w * 0.12, 0.006, 16), [0, ln * 0.22, t])))
    power = leaf("power", at(cylinder(0.005, 0.006, 10), [w * 0.3, ln * 0.42, t]))
    return group("remote", body, group("buttons", pad, dpad, power))


FAMILIES = {
    "laptop": laptop,
    "monitor": monitor,
    "keyboard": keyboard,
    "microwave": microwave,
    "washing_machine": washing_machine,
    "toaster": toaster,
    "camera": camera,
    "suitcase": suitcase,
    "remote": remote,
}
