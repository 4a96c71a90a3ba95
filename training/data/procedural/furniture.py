"""Furniture families: chair, table, shelf, cabinet (doors + drawers), lamp, sofa, bed.

z is up, the object stands on z = 0; sizes are roughly metres. Parts touch or slightly
interpenetrate where real furniture joins (legs enter the seat, drawer fronts sit flush).
"""

from __future__ import annotations

import numpy as np

from ..parts import Part, group, leaf
from .primitives import at, box, cylinder, frustum, ri, rod, rx, shell, sphere, sweep, u


def _legs(rng, w, d, h, inset, thick, round_legs, top_z=None, name="leg") -> list[Part]:
    """Four legs at the corners of a w x d rectangle, from z=0 to h (+ small overlap)."""
    top = h if top_z is None else top_z
    out = []
    splay = u(rng, 0.0, 0.04) if rng.random() < 0.3 else 0.0
    for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)]):
        x, y = sx * (w / 2 - inset), sy * (d / 2 - inset)
        if round_legs:
            m = rod([x + sx * splay, y + sy * splay, 0], [x, y, top], thick / 2, 10)
        else:
            m = at(box([thick, thick, top], bevel=thick * 0.1), [x, y, top / 2])
        out.append(leaf(f"{name}_{i}", m))
    return out


def _knob(rng, r=0.012):
    """A small round knob whose back is at z=0 pointing along +z (rotate to place)."""
    if rng.random() < 0.5:
        return at(cylinder(r, r * 1.6, 12), [0, 0, r * 0.8])
    return at(sphere(r, 1), [0, 0, r * 0.7])


def _bar_handle(length, r=0.006, standoff=0.025):
    """A bar pull along x with two posts, back at z=0, pointing +z."""
    half = length / 2
    path = [[-half, 0, 0], [-half, 0, standoff], [half, 0, standoff], [half, 0, 0]]
    return sweep(np.array(path, float), r, 8)


def _handle(rng, length, knob_ok=True):
    if knob_ok and rng.random() < 0.4:
        return _knob(rng, u(rng, 0.008, 0.018))
    return _bar_handle(length * u(rng, 0.6, 1.0), u(rng, 0.004, 0.008), u(rng, 0.015, 0.03))


def chair(rng: np.random.Generator) -> Part:
    w, d = u(rng, 0.38, 0.55), u(rng, 0.36, 0.52)
    h, t = u(rng, 0.38, 0.5), u(rng, 0.02, 0.06)
    lt = u(rng, 0.025, 0.05)
    seat_parts = [leaf("seat_board", at(box([w, d, t], bevel=t * 0.2), [0, 0, h + t / 2]))]
    if rng.random() < 0.4:
        ct = u(rng, 0.03, 0.07)
        seat_parts.append(leaf("cushion", at(box([w * 0.95, d * 0.95, ct], bevel=ct * 0.45),
                                             [0, 0, h + t + ct / 2 - 0.005])))
    seat = group("seat", seat_parts)
    legs = _legs(rng, w, d, h + t * 0.5, lt, lt, rng.random() < 0.5)
    base_parts: list = [group("legs", legs)]
    if rng.random() < 0.5:
        z = u(rng, 0.08, 0.2)
        inset = lt
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        rails = []
        for i in range(4):
            (ax, ay), (bx, by) = pts[i], pts[(i + 1) % 4]
            p0 = [ax * (w / 2 - inset), ay * (d / 2 - inset), z]
            p1 = [bx * (w / 2 - inset), by * (d / 2 - inset), z]
            rails.append(leaf(f"stretcher_{i}", rod(p0, p1, lt * 0.3, 8)))
        base_parts.append(group("stretchers", rails))
    base = group("base", base_parts)
    # back
    bh, bt = u(rng, 0.35, 0.6), u(rng, 0.02, 0.04)
    y0 = -d / 2 + bt / 2
    z0 = h + t
    tilt = u(rng, 0.0, 0.25)
    if rng.random() < 0.45:
        back = leaf("back_panel", at(box([w, bt, bh], bevel=bt * 0.3), [0, y0, z0 + bh / 2]))
        back_m = [back]
    else:
        posts = [leaf(f"back_post_{i}", at(box([lt, bt, bh], bevel=0.004),
                                           [sx * (w / 2 - lt / 2), y0, z0 + bh / 2]))
                 for i, sx in enumerate((-1, 1))]
        rail = leaf("top_rail", at(box([w, bt * 1.2, bh * u(rng, 0.12, 0.3)], bevel=0.005),
                                   [0, y0, z0 + bh * 0.88]))
        n = ri(rng, 2, 6)
        xs = np.linspace(-w / 2 + lt, w / 2 - lt, n + 2)[1:-1]
        sw = min(u(rng, 0.015, 0.05), (w - 2 * lt) / (n + 1))
        slats = [leaf(f"slat_{i}", at(box([sw, bt * 0.6, bh * 0.8], bevel=0.002),
                                      [x, y0, z0 + bh * 0.4]))
                 for i, x in enumerate(xs)]
        back_m = [group("back_frame", posts + [rail]), group("slats", slats)]
    back = group("back", back_m)
    back.apply_transform(_about_x(-tilt, [0, y0, z0]))
    parts = [seat, base, back]
    if rng.random() < 0.35:
        arms = []
        ah = u(rng, 0.18, 0.28)
        for i, sx in enumerate((-1, 1)):
            x = sx * (w / 2 - lt / 2)
            sup = leaf("arm_support", at(box([lt, lt, ah], bevel=0.003), [x, d * 0.3, z0 + ah / 2]))
            rest = leaf("armrest", at(box([lt * 1.6, d * 0.85, 0.025], bevel=0.008),
                                      [x, -d * 0.05, z0 + ah + 0.01]))
            arms.append(group(f"arm_{i}", sup, rest))
        parts.append(group("arms", arms))
    return group("chair", parts)


def _about_x(angle, pivot):
    from trimesh.transformations import rotation_matrix

    return rotation_matrix(angle, [1, 0, 0], point=pivot)


def table(rng: np.random.Generator) -> Part:
    round_top = rng.random() < 0.3
    w, d = u(rng, 0.6, 1.8), u(rng, 0.5, 1.0)
    h, t = u(rng, 0.45, 0.78), u(rng, 0.025, 0.06)
    if round_top:
        d = w = u(rng, 0.6, 1.2)
        top = leaf("top", at(cylinder(w / 2, t, 32), [0, 0, h - t / 2]))
    else:
        top = leaf("top", at(box([w, d, t], bevel=t * u(rng, 0.0, 0.4)), [0, 0, h - t / 2]))
    if round_top and rng.random() < 0.6:
        col = leaf("column", at(cylinder(u(rng, 0.03, 0.07), h - t, 16), [0, 0, (h - t) / 2]))
        n = ri(rng, 3, 5)
        feet = []
        fl = w * u(rng, 0.3, 0.45)
        for i in range(n):
            a = 2 * np.pi * i / n
            feet.append(leaf(f"foot_{i}", rod([0, 0, 0.03], [fl * np.cos(a), fl * np.sin(a), 0.015],
                                              0.02, 8)))
        base = group("base", col, group("feet", feet))
        return group("table", top, base)
    lt = u(rng, 0.03, 0.07)
    inset = lt / 2 + (0 if rng.random() < 0.6 else u(rng, 0.02, 0.08))
    legs = group("legs", _legs(rng, w, d, h - t + 0.005, inset, lt, rng.random() < 0.4))
    base_parts = [legs]
    if not round_top and rng.random() < 0.65:
        ah, at_ = u(rng, 0.05, 0.12), 0.02
        z = h - t - ah / 2
        aprons = [
            leaf("apron_front", at(box([w - 2 * inset, at_, ah]), [0, -(d / 2 - inset), z])),
            leaf("apron_back", at(box([w - 2 * inset, at_, ah]), [0, d / 2 - inset, z])),
            leaf("apron_left", at(box([at_, d - 2 * inset, ah]), [-(w / 2 - inset), 0, z])),
            leaf("apron_right", at(box([at_, d - 2 * inset, ah]), [w / 2 - inset, 0, z])),
        ]
        base_parts.append(group("apron", aprons))
        if rng.random() < 0.4 and ah > 0.07:
            dw = (w - 2 * inset) * u(rng, 0.3, 0.5)
            y = -(d / 2 - inset) - at_ / 2 - 0.005
            front = leaf("drawer_front", at(box([dw, 0.012, ah * 0.8]), [0, y, z]))
            knob = leaf("drawer_knob", rx(_knob(rng), np.pi / 2, [0, y - 0.006, z]))
            base_parts.append(group("drawer", front, knob))
    if rng.random() < 0.3:
        shelf_z = u(rng, 0.1, 0.25)
        base_parts.append(leaf("lower_shelf", at(box([w - 2 * inset, d - 2 * inset, 0.02]),
                                                 [0, 0, shelf_z])))
    return group("table", top, group("base", base_parts))


def shelf(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.5, 1.4), u(rng, 0.22, 0.45), u(rng, 0.6, 2.0)
    t = u(rng, 0.012, 0.03)
    frame = [
        leaf("side_left", at(box([t, d, h]), [-w / 2 + t / 2, 0, h / 2])),
        leaf("side_right", at(box([t, d, h]), [w / 2 - t / 2, 0, h / 2])),
        leaf("top_board", at(box([w, d, t]), [0, 0, h - t / 2])),
        leaf("bottom_board", at(box([w - 2 * t, d, t]), [0, 0, t / 2 + 0.03])),
    ]
    if rng.random() < 0.7:
        frame.append(leaf("back_panel", at(box([w - 2 * t, 0.006, h - t]), [0, d / 2 - 0.003, h / 2])))
    if rng.random() < 0.5:
        frame.append(leaf("kick_board", at(box([w - 2 * t, t, 0.03]), [0, -d / 2 + t / 2, 0.015])))
    n = ri(rng, 1, 6)
    zs = np.linspace(0.03 + t, h - t, n + 2)[1:-1]
    shelves = [leaf(f"shelf_{i}", at(box([w - 2 * t, d * 0.97, t]), [0, -d * 0.015, z]))
               for i, z in enumerate(zs)]
    parts = [group("frame", frame), group("shelves", shelves)]
    if rng.random() < 0.6:
        rows = []
        levels = np.concatenate([[0.03 + t], zs + t / 2])
        gaps = np.diff(np.concatenate([levels, [h - t]]))
        for r, (z, g) in enumerate(zip(levels, gaps)):
            if rng.random() < 0.35:
                continue
            x = -w / 2 + t
            books = []
            while x < w / 2 - t - 0.06 and len(books) < 25:
                bw = u(rng, 0.015, 0.05)
                bh = min(g * u(rng, 0.55, 0.9), 0.35)
                bd = d * u(rng, 0.6, 0.9)
                books.append(leaf(f"book_{len(books)}", at(box([bw, bd, bh], bevel=0.002),
                                                            [x + bw / 2, -d / 2 + bd / 2 + 0.01, z + bh / 2])))
                x += bw + (0.0 if rng.random() < 0.8 else u(rng, 0.01, 0.1))
            if len(books) >= 2:
                rows.append(group(f"books_row_{r}", books))
        if rows:
            parts.append(group("contents", rows))
    return group("shelf", parts)


def cabinet(rng: np.random.Generator) -> Part:
    w, d, h = u(rng, 0.4, 1.5), u(rng, 0.35, 0.6), u(rng, 0.5, 1.9)
    t = u(rng, 0.015, 0.025)
    plinth = u(rng, 0.0, 0.1)
    carcass = [
        leaf("side_left", at(box([t, d, h - plinth]), [-w / 2 + t / 2, 0, plinth + (h - plinth) / 2])),
        leaf("side_right", at(box([t, d, h - plinth]), [w / 2 - t / 2, 0, plinth + (h - plinth) / 2])),
        leaf("top", at(box([w, d, t]), [0, 0, h - t / 2])),
        leaf("bottom", at(box([w - 2 * t, d, t]), [0, 0, plinth + t / 2])),
        leaf("back", at(box([w - 2 * t, t, h - plinth - 2 * t]), [0, d / 2 - t / 2, (h + plinth) / 2])),
    ]
    body_parts = [group("carcass", carcass)]
    if plinth > 0.03:
        if rng.random() < 0.5:
            body_parts.append(group("legs", _legs(rng, w, d, plinth + 0.003, 0.03, 0.03, True)))
        else:
            body_parts.append(leaf("plinth", at(box([w * 0.96, d * 0.9, plinth]), [0, 0, plinth / 2])))
    # front layout: optional drawer band on top, doors below (or all drawers)
    inner_w, z_lo, z_hi = w - 2 * t, plinth + t, h - t
    fy = -d / 2  # front plane; fronts sit flush: their back face on the carcass edge
    ft = u(rng, 0.015, 0.022)
    mode = rng.choice(["doors", "drawers", "mixed"], p=[0.3, 0.3, 0.4])
    n_dr = 0 if mode == "doors" else ri(rng, 1, 4 if mode == "drawers" else 2)
    drawer_h = (z_hi - z_lo) / n_dr if mode == "drawers" else min(0.2, (z_hi - z_lo) * 0.3)
    cols = ri(rng, 1, 2) if inner_w > 0.6 else 1
    drawers = []
    z = z_hi
    for _ in range(n_dr):
        for c in range(cols):
            cw = inner_w / cols
            cx = -inner_w / 2 + cw * (c + 0.5)
            zc = z - drawer_h / 2
            front = leaf("front", at(box([cw - 0.003, ft, drawer_h - 0.003], bevel=0.002),
                                     [cx, fy - ft / 2 + 0.001, zc]))
            hd = rx(_handle(rng, cw * 0.4), np.pi / 2, [cx, fy - ft, zc + drawer_h * 0.15])
            bd = d - 2 * t
            bh = drawer_h * 0.7
            box_parts = [
                leaf("box_bottom", at(box([cw - 0.03, bd, 0.01]), [cx, fy + bd / 2, zc - bh / 2])),
                leaf("box_side_l", at(box([0.01, bd, bh]), [cx - cw / 2 + 0.02, fy + bd / 2, zc])),
                leaf("box_side_r", at(box([0.01, bd, bh]), [cx + cw / 2 - 0.02, fy + bd / 2, zc])),
                leaf("box_back", at(box([cw - 0.03, 0.01, bh]), [cx, fy + bd, zc])),
            ]
            drawers.append(group(f"drawer_{len(drawers)}", leaf("front", front.mesh),
                                 leaf("handle", hd), group("drawer_box", box_parts)))
        z -= drawer_h
    front_parts = []
    if drawers:
        front_parts.append(group("drawers", drawers))
    if mode != "drawers":
        nd = 1 if inner_w < 0.5 else 2
        dh = z - z_lo
        doors = []
        for i in range(nd):
            dw = inner_w / nd
            cx = -inner_w / 2 + dw * (i + 0.5)
            zc = z_lo + dh / 2
            panel = leaf("panel", at(box([dw - 0.003, ft, dh - 0.003], bevel=0.002),
                                     [cx, fy - ft / 2 + 0.001, zc]))
            side = 1 if (nd == 1 or i == 0) else -1
            hx = cx + side * (dw / 2 - 0.04)
            handle = leaf("handle", rx(_handle(rng, min(0.15, dh * 0.3)), np.pi / 2,
                                       [hx, fy - ft, zc + dh * 0.2]))
            hinges = [leaf(f"hinge_{k}", at(cylinder(0.006, 0.05, 8),
                                            [cx - side * (dw / 2 - 0.002), fy - 0.002, zc + s * dh * 0.38]))
                      for k, s in enumerate((-1, 1))]
            doors.append(group(f"door_{i}", panel, handle, group("hinges", hinges)))
        front_parts.append(group("doors", doors))
    return group("cabinet", group("body", body_parts), group("front", front_parts))


def lamp(rng: np.random.Generator) -> Part:
    br = u(rng, 0.07, 0.16)
    bh = u(rng, 0.015, 0.05)
    base = [leaf("base_disk", frustum(br, br * u(rng, 0.6, 1.0), bh, 28))]
    if rng.random() < 0.6:
        base.append(leaf("switch", at(box([0.02, 0.012, 0.01], bevel=0.003), [br * 0.5, 0, bh + 0.004])))
    base = group("base", base)
    articulated = rng.random() < 0.5
    sr = u(rng, 0.008, 0.018)
    if articulated:
        l1, l2 = u(rng, 0.2, 0.4), u(rng, 0.2, 0.4)
        a1, a2 = u(rng, -0.5, 0.3), u(rng, 0.6, 1.6)
        p0 = np.array([0, 0, bh])
        p1 = p0 + l1 * np.array([np.sin(a1), 0, np.cos(a1)])
        p2 = p1 + l2 * np.array([np.sin(a2), 0, np.cos(a2)])
        arm = group("arm",
                    leaf("lower_arm", rod(p0 - [0, 0, 0.01], p1, sr)),
                    leaf("joint", at(sphere(sr * 1.8, 1), p1)),
                    leaf("upper_arm", rod(p1, p2, sr)))
        head_at, head_dir = p2, np.array([np.sin(a2 + 0.9), 0, np.cos(a2 + 0.9)])
    else:
        sh = u(rng, 0.25, 0.6)
        if rng.random() < 0.5:
            arm = leaf("stem", at(cylinder(sr, sh + 0.01, 12), [0, 0, bh + sh / 2 - 0.005]))
            head_at, head_dir = np.array([0, 0, bh + sh]), np.array([0, 0, -1.0])
        else:
            reach = u(rng, 0.1, 0.25)
            path = np.concatenate([[[0, 0, bh - 0.005]],
                                   np.array([[0, 0, bh + sh * 0.7]]),
                                   [[reach * (1 - np.cos(a)), 0, bh + sh * 0.7 + reach * np.sin(a)]
                                    for a in np.linspace(0.2, np.pi / 2, 6)]])
            arm = leaf("stem", sweep(path, sr, 10))
            head_at, head_dir = path[-1], np.array([0.4, 0, -1.0])
    # shade: open thin shell opening along -z in its own frame
    rs, hs = u(rng, 0.06, 0.2), u(rng, 0.06, 0.22)
    top_r = rs * u(rng, 0.3, 0.9)
    sh_mesh = shell([[0, 0], [top_r, 0], [rs, hs]], u(rng, 0.003, 0.008), 28)
    sh_mesh.apply_transform(_flip())  # opening now faces -z, apex at z=0
    bulb = at(sphere(min(rs, hs) * 0.35, 2), [0, 0, -hs * 0.4])
    head = Part("head", None, [leaf("shade", sh_mesh), leaf("bulb", bulb)])
    d = head_dir / np.linalg.norm(head_dir)
    from trimesh.geometry import align_vectors

    m = align_vectors([0, 0, -1], d)
    m[:3, 3] = head_at
    head.apply_transform(m)
    return group("lamp", base, arm, head)


def _flip():
    m = np.eye(4)
    m[2, 2] = -1
    m[1, 1] = -1
    return m


def sofa(rng: np.random.Generator) -> Part:
    w, d = u(rng, 1.2, 2.4), u(rng, 0.7, 1.0)
    sh, bh = u(rng, 0.15, 0.3), u(rng, 0.35, 0.6)
    ft = u(rng, 0.05, 0.15)
    frame = [leaf("base_frame", at(box([w, d, sh], bevel=0.02), [0, 0, ft + sh / 2])),
             leaf("backrest", at(box([w, 0.18, bh + sh], bevel=0.04), [0, d / 2 - 0.09, ft + (bh + sh) / 2]))]
    aw = u(rng, 0.1, 0.22)
    arms = [leaf(f"arm_{i}", at(box([aw, d, sh + bh * 0.5], bevel=0.04),
                                [s * (w / 2 - aw / 2), 0, ft + (sh + bh * 0.5) / 2]))
            for i, s in enumerate((-1, 1))]
    n = ri(rng, 1, 4)
    cw = (w - 2 * aw) / n
    ch = u(rng, 0.08, 0.16)
    seats = [leaf(f"seat_cushion_{i}", at(box([cw - 0.004, d - 0.2, ch], bevel=ch * 0.35),
                                          [-w / 2 + aw + cw * (i + 0.5), -0.09, ft + sh + ch / 2 - 0.01]))
             for i in range(n)]
    backs = [leaf(f"back_cushion_{i}", at(box([cw - 0.004, ch * 1.2, bh * 0.85], bevel=ch * 0.4),
                                          [-w / 2 + aw + cw * (i + 0.5), d / 2 - 0.18 - ch * 0.6,
                                           ft + sh + ch + bh * 0.42]))
             for i in range(n)]
    legs = group("legs", _legs(rng, w, d, ft + 0.01, 0.06, 0.04, rng.random() < 0.5))
    return group("sofa", group("frame", frame + arms), group("cushions", group("seat_cushions", seats),
                                                             group("back_cushions", backs)), legs)


def bed(rng: np.random.Generator) -> Part:
    w, ln = u(rng, 0.9, 1.8), u(rng, 1.9, 2.1)
    fh = u(rng, 0.2, 0.4)
    rails = [leaf("side_rail_l", at(box([0.05, ln, 0.2]), [-w / 2, 0, fh])),
             leaf("side_rail_r", at(box([0.05, ln, 0.2]), [w / 2, 0, fh]))]
    hb_h = u(rng, 0.5, 1.1)
    head = leaf("headboard", at(box([w + 0.1, 0.06, hb_h], bevel=0.02), [0, ln / 2, hb_h / 2]))
    frame = [group("rails", rails), head]
    if rng.random() < 0.6:
        fb_h = u(rng, 0.3, 0.6)
        frame.append(leaf("footboard", at(box([w + 0.1, 0.05, fb_h], bevel=0.02), [0, -ln / 2, fb_h / 2])))
    legs = group("legs", _legs(rng, w + 0.05, ln - 0.1, fh - 0.09, 0.03, 0.05, False))
    mt = u(rng, 0.15, 0.3)
    mattress = leaf("mattress", at(box([w - 0.02, ln - 0.08, mt], bevel=0.05), [0, -0.02, fh + 0.1 + mt / 2 - 0.01]))
    bedding = [mattress]
    for i in range(ri(rng, 1, 2) if w > 1.2 else 1):
        px = 0 if w <= 1.2 else (-1 + 2 * i) * w / 4
        bedding.append(leaf(f"pillow_{i}", at(box([min(0.6, w * 0.45), 0.35, 0.12], bevel=0.05),
                                              [px, ln / 2 - 0.3, fh + 0.1 + mt + 0.05])))
    return group("bed", group("frame", frame, legs), group("bedding", bedding))


FAMILIES = {
    "chair": chair,
    "table": table,
    "shelf": shelf,
    "cabinet": cabinet,
    "lamp": lamp,
    "sofa": sofa,
    "bed": bed,
}
