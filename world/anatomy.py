"""How each creature kind is drawn: cat (side view), bird (side view), fish (side view), beetle (top view).

Each drawer lays shaded shapes (world/paint.py) back to front in the creature's frame — far limbs,
body, near limbs, head, eye — with the breed's coat pattern and the individual's marks on top. The
frame is posed by `RenderParams` (facing, rotation, scale, position); stride, head tilt and tail
curve bend the limbs, so no two pictures of one individual are rigid copies of each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from persona_lens.world.creatures import Breed, Mark, RenderParams
from persona_lens.world.paint import (F32, Canvas, Grid, Light, Shape, blend, capsule, ellipse, polygon,
                                      smoothstep)
from persona_lens.world.parts import (INK, TEXTURES, WHITE, DrawContext, coat, eye, mix, scale, shadow,
                                      tail_chain)


def draw_creature(breed: Breed, marks: tuple[Mark, ...], params: RenderParams, size: int,
                  light: Light, line_px: float) -> tuple[Canvas, Canvas]:
    """Paint the creature on a `size`×`size` canvas (outlines `line_px` wide); return it and a canvas
    of its ground shadow."""
    unit = params.scale * size / 2.0
    rot = math.radians(params.rotation)
    c, s = math.cos(rot), math.sin(rot)
    # frame → pixel: flip (facing), rotate counter-clockwise on screen (y grows downwards), scale, move.
    linear = unit * np.array([[c, s], [-s, c]]) @ np.diag([float(params.facing), 1.0])
    affine = np.hstack([linear, [[params.x * size], [params.y * size]]])
    grid = Grid(size, size, affine)
    rng = np.random.default_rng([params.noise_seed, 2])
    ctx = DrawContext(Canvas(grid), Canvas(grid), light, TEXTURES[breed.category](grid, rng),
                      line_px / unit, breed, marks, params)
    DRAWERS[breed.category](ctx)
    return ctx.canvas, ctx.shadow


# --- cat: a short-haired quadruped seen from the side -----------------------------------------------

def _cat(ctx: DrawContext) -> None:
    g, sh, p = ctx.canvas.grid, ctx.breed.shape, ctx.p
    L, H, hr, ear, limb = sh["length"], sh["height"], sh["head"], sh["ear"], sh["limb"]
    cx, cy = -0.05, 0.0
    ground = cy + H * 0.5 + limb
    leg_r = 0.055 + 0.03 * H
    body, dark = ctx.col("body"), ctx.col("pattern")
    points, bicolor, tabby = ctx.pattern("points"), ctx.pattern("bicolor"), ctx.pattern("tabby")
    extremity = mix(body, dark, points)          # "points" breeds have dark legs, tail, ears and face
    f, ph = ctx.breed.pattern_freq, ctx.breed.pattern_phase

    shadow(ctx, cx, ground + 0.01, L * 1.25, 0.07)
    hips, shoulders = (cx - L * 0.6, cy + H * 0.3), (cx + L * 0.55, cy + H * 0.3)
    swing = 0.13 * p.stride

    def leg(joint: tuple[float, float], dx: float, far: bool, sock: Mark | None = None) -> None:
        foot = (joint[0] + dx, ground)
        colour = scale(extremity, 0.78 if far else 1.0)        # far legs are in the body's shade
        ctx.paint(capsule(g, *joint, *foot, leg_r * 1.35, leg_r), colour)
        paw = mix(colour, WHITE, bicolor)
        if sock is not None:
            paw = mix(paw, sock.rgb, sock.opacity)
            ctx.paint(capsule(g, foot[0], foot[1] - limb * 0.35, *foot, leg_r * 1.02), paw)
        ctx.paint(ellipse(g, foot[0] + 0.03, foot[1] - leg_r * 0.5, leg_r * 1.5, leg_r * 0.85), paw)

    leg(hips, -swing, far=True)
    leg(shoulders, swing, far=True)

    tip_marks = ctx.marks_of("tail_tip")

    def tail_colour(i: int, n: int) -> tuple[float, ...]:
        colour = mix(extremity, dark, tabby * (i % 2) * 0.7)   # a tabby's tail is ringed
        return mix(colour, tip_marks[0].rgb, tip_marks[0].opacity) if tip_marks and i == n - 1 else colour

    tail_chain(ctx, cx - L * 0.9, cy - H * 0.25, math.pi + 0.9, sh["tail"], leg_r * 1.1, leg_r * 0.8,
               0.22 * p.tail_curve + 0.12, tail_colour)

    def pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        back = smoothstep(0.65, 0.15, v)                       # patterns stay off the belly
        stripes = smoothstep(0.3, 0.7, np.sin(math.pi * f * u + ph + 1.2 * v * v + 0.4 * np.sin(3 * v)))
        spots = smoothstep(0.45, 0.75, np.sin(math.pi * f * u + ph) * np.sin(math.pi * f * 1.3 * v + ph))
        ends = smoothstep(0.55, 1.0, np.abs(u)) * 0.6
        return np.clip((tabby * stripes + ctx.pattern("spotted") * spots) * back + points * ends, 0, 1)

    b = ellipse(g, cx, cy, L, H)
    if b is not None:
        white = bicolor * smoothstep(-0.1, 0.35, b.v + 0.25 * b.u)     # bicolour: white chest and belly
        ctx.paint(b, blend(coat(ctx, b, body, L, H, pattern), WHITE, white))

    tilt = p.head_tilt
    hx, hy = cx + L * 0.88 + 0.06 * math.sin(tilt), cy - H * 0.9 + 0.08 * tilt
    ctx.paint(capsule(g, cx + L * 0.6, cy - H * 0.15, hx - hr * 0.2, hy + hr * 0.2, hr * 0.75), body)   # neck
    leg(hips, swing * 0.6, far=False)
    socks = ctx.marks_of("sock")
    leg(shoulders, -swing * 0.6, far=False, sock=socks[0] if socks else None)
    for m in ctx.marks_of("collar"):
        nx, ny = hx - hr * 0.55, hy + hr * 0.72
        width = 0.028 + 0.02 * m.size
        band = capsule(g, nx - hr * 0.42, ny - hr * 0.38, nx + hr * 0.32, ny + hr * 0.42, width)
        ctx.paint(band, m.rgb, textured=False, gloss=0.3, opacity=m.opacity)

    notch = ctx.marks_of("notch")
    for k, (a0, a1) in enumerate(((-2.35, -1.75), (-1.45, -0.85))):      # far ear, then near ear
        a0, a1, am = a0 + tilt, a1 + tilt, (a0 + a1) / 2 + tilt
        base0 = (hx + hr * math.cos(a0) * 0.9, hy + hr * math.sin(a0) * 0.9)
        base1 = (hx + hr * math.cos(a1) * 0.9, hy + hr * math.sin(a1) * 0.9)
        tip = (hx + (hr + ear) * math.cos(am), hy + (hr + ear) * math.sin(am))
        ctx.paint(polygon(g, [base0, tip, base1], bevel=0.03), scale(extremity, 0.8 if k == 0 else 1.0))
        mid = mix(base0, base1, 0.5)
        inner = polygon(g, [mix(mid, q, 0.6) for q in (base0, tip, base1)], bevel=0.02)
        ctx.paint(inner, (225.0, 150.0, 150.0), textured=False, line=0)
        if k == 1 and notch:
            # A bite out of the near ear's front edge, two thirds of the way up.
            r = ear * 0.2 * notch[0].size + 0.01
            ctx.canvas.cut(ellipse(g, *mix(base1, tip, 0.62), r, r), notch[0].opacity)

    head = ellipse(g, hx, hy, hr * 1.08, hr * 0.95, tilt * 0.5)
    if head is not None:
        face = _fill(head, body)
        face = blend(face, dark, points * smoothstep(0.0, 0.8, head.u) * 0.9)
        forehead = (smoothstep(0.3, 0.7, np.sin(math.pi * f * 1.6 * head.u + ph))
                    * smoothstep(-0.2, -0.7, head.v))
        face = blend(face, dark, tabby * forehead)
        face = blend(face, WHITE, bicolor * smoothstep(0.1, 0.5, head.v + 0.3 * head.u))
        ctx.paint(head, face)
    sn = sh["snout"]
    mx, my = hx + hr * 0.62, hy + hr * 0.38
    muzzle = mix(ctx.col("belly"), WHITE, 0.5 * bicolor)
    ctx.paint(ellipse(g, mx, my, hr * sn, hr * 0.32), muzzle, line=ctx.lw * 0.5)
    nose = [(mx + hr * sn * 0.55, my - hr * 0.2), (mx + hr * sn, my - hr * 0.2),
            (mx + hr * sn * 0.85, my - hr * 0.02)]
    ctx.paint(polygon(g, nose, bevel=0.01), (215.0, 120.0, 125.0), textured=False)
    eye(ctx, hx + hr * 0.35, hy - hr * 0.12, hr * 0.2, ctx.col("accent"), slit=True)
    for k in (-1, 0, 1):                                                   # whiskers
        y0 = my + hr * k * 0.1
        ctx.paint(capsule(g, mx + hr * 0.2, y0, mx + hr * (sn + 0.75), y0 + hr * k * 0.25, 0.006),
                  (235.0, 232.0, 225.0), textured=False, line=0)


def _fill(shape: Shape, colour: tuple[float, ...]) -> np.ndarray:
    """An albedo array of one colour over `shape`'s window, to blend patterns into."""
    out = np.empty(shape.u.shape + (3,), F32)
    out[:] = colour
    return out


# --- bird: a perching songbird seen from the side --------------------------------------------------

def _bird(ctx: DrawContext) -> None:
    g, sh, p = ctx.canvas.grid, ctx.breed.shape, ctx.p
    L, H, hr, crest, limb = sh["length"], sh["height"], sh["head"], sh["ear"], sh["limb"]
    cx, cy, tilt_body = 0.0, 0.0, -0.45
    ground = cy + H * 0.8 + limb
    body, dark = ctx.col("body"), ctx.col("pattern")
    f, ph = ctx.breed.pattern_freq, ctx.breed.pattern_phase
    shadow(ctx, cx, ground + 0.01, L * 0.9, 0.06)

    # Tail: a fan pointing down-back from the rump, below the wing tips.
    tx, ty = cx - L * 0.8, cy + H * 0.35
    ta = math.pi * 0.82 + 0.15 * p.tail_curve
    tw = 0.11 + 0.04 * p.tail_curve
    ux, uy, nx, ny = math.cos(ta), math.sin(ta), -math.sin(ta), math.cos(ta)   # along, across
    tip = (tx + sh["tail"] * ux, ty + sh["tail"] * uy)

    def across(pt: tuple[float, float], w: float) -> list[tuple[float, float]]:
        return [(pt[0] + nx * w, pt[1] + ny * w), (pt[0] - nx * w, pt[1] - ny * w)]

    root_l, root_r = across((tx, ty), 0.05)
    tip_l, tip_r = across(tip, tw)
    ctx.paint(polygon(g, [root_l, tip_l, tip_r, root_r], bevel=0.03), scale(body, 0.8))
    for m in ctx.marks_of("tail_tip"):
        end_l, end_r = across((tip[0] - 0.06 * ux, tip[1] - 0.06 * uy), tw)
        ctx.paint(polygon(g, [end_l, tip_l, tip_r, end_r], bevel=0.01), m.rgb, opacity=m.opacity)

    # Legs: thin, with three forward toes; the near leg may wear a ring.
    bands = ctx.marks_of("leg_band")
    for k, dx in enumerate((-0.1 + 0.05 * p.stride, 0.06 - 0.05 * p.stride)):
        hip = (cx + dx, cy + H * 0.6)
        foot = (hip[0] + 0.02, ground)
        colour = scale(ctx.col("limb"), 0.8 if k == 0 else 1.0)
        ctx.paint(capsule(g, *hip, *foot, 0.028, 0.02), colour, textured=False)
        for toe in (-0.5, 0.0, 0.45):
            end = (foot[0] + 0.09 * math.cos(toe), foot[1] + 0.03 * math.sin(toe) + 0.01)
            ctx.paint(capsule(g, *foot, *end, 0.014), colour, textured=False, line=ctx.lw * 0.6)
        if k == 1 and bands:
            yb = hip[1] + (foot[1] - hip[1]) * 0.6
            ctx.paint(capsule(g, foot[0] - 0.02, yb, foot[0] + 0.03, yb, 0.038), bands[0].rgb, textured=False,
                      opacity=bands[0].opacity)

    def pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        dots = smoothstep(0.5, 0.8, np.sin(math.pi * f * 1.5 * u + ph) * np.sin(math.pi * f * 1.5 * v + ph))
        return ctx.pattern("breast_spots") * dots * smoothstep(0.0, 0.4, v)

    b = ellipse(g, cx, cy, L, H, tilt_body)
    if b is not None:
        ctx.paint(b, coat(ctx, b, body, L, H, pattern))

    hx, hy = cx + L * 0.82 + 0.04 * math.sin(p.head_tilt), cy - H * 1.05 + 0.06 * p.head_tilt
    ctx.paint(capsule(g, cx + L * 0.5, cy - H * 0.4, hx, hy, hr * 0.8), body)
    if crest > 0.08:
        bx, by = hx - hr * 0.3, hy - hr * 0.7
        tuft = [(bx - hr * 0.5, by + 0.05), (bx - crest * 1.2, by - crest), (bx + hr * 0.35, by + 0.02)]
        ctx.paint(polygon(g, tuft, bevel=0.03), dark)
    # Beak: upper and lower mandible.
    bl = sh["snout"]
    bx, by = hx + hr * 0.85, hy + hr * 0.1 + 0.06 * p.head_tilt
    upper = [(bx - 0.02, by - hr * 0.3), (bx + bl, by + 0.01), (bx - 0.02, by + hr * 0.05)]
    lower = [(bx - 0.02, by + hr * 0.03), (bx + bl * 0.8, by + 0.02), (bx - 0.02, by + hr * 0.28)]
    ctx.paint(polygon(g, upper, bevel=0.02), ctx.col("accent"), textured=False)
    ctx.paint(polygon(g, lower, bevel=0.02), ctx.col("accent", 0.8), textured=False)
    head = ellipse(g, hx, hy, hr, hr * 0.95)
    if head is not None:
        face = blend(_fill(head, body), ctx.col("belly"), 0.8 * smoothstep(0.3, 0.8, head.v))
        cap = smoothstep(-0.05, -0.3, head.v)
        eye_stripe = (smoothstep(0.22, 0.1, np.abs(head.v + 0.05 - 0.15 * head.u))
                      * smoothstep(-0.9, -0.2, head.u))
        ctx.paint(head, blend(face, dark, ctx.pattern("cap") * np.maximum(cap, eye_stripe)))
    ex, ey = hx + hr * 0.35, hy - hr * 0.15
    for m in ctx.marks_of("eye_ring"):
        ctx.paint(ellipse(g, ex, ey, hr * 0.33, hr * 0.33), m.rgb, textured=False, line=0, opacity=m.opacity)
    eye(ctx, ex, ey, hr * 0.2, (35.0, 25.0, 20.0))

    # Wing: folded along the body, feathered, darker primaries, and the breed's wing bars.
    wing = ellipse(g, cx - L * 0.2, cy - H * 0.12, L * 0.72, H * 0.46, tilt_body + 0.2 + 0.12 * p.stride)
    if wing is not None:
        at = 0.05 + 0.03 * (f - 5.5)            # the breed's rhythm nudges where the two bars sit
        bars = np.maximum(smoothstep(0.08, 0.04, np.abs(wing.u - at)),
                          smoothstep(0.08, 0.04, np.abs(wing.u - at - 0.3)))
        w = blend(_fill(wing, scale(body, 0.8)), WHITE, ctx.pattern("wingbars") * bars)
        ctx.paint(wing, blend(w, dark, 0.75 * smoothstep(-0.3, -0.7, wing.u)))


# --- fish: a laterally flattened fish seen from the side --------------------------------------------

def _fish(ctx: DrawContext) -> None:
    g, sh, p = ctx.canvas.grid, ctx.breed.shape, ctx.p
    L, H, dorsal, tail = sh["length"], sh["height"], sh["ear"], sh["tail"]
    cx, cy = 0.0, 0.0
    body, fin = ctx.col("body"), ctx.col("limb", 0.95)
    f, ph = ctx.breed.pattern_freq, ctx.breed.pattern_phase
    shadow(ctx, cx, cy + H * 1.9, L * 0.9, 0.05)
    wag = 0.25 * p.tail_curve

    # Tail fin: each lobe of the fork is a convex quad (root, outer edge, tip, fork), wagging together.
    px_, py_ = cx - L * 0.88, cy
    fork = (px_ + tail * 0.75 * math.cos(math.pi + wag), py_ + tail * 0.75 * math.sin(math.pi + wag))
    for sgn in (-1, 1):                                                    # -1: upper lobe (y grows down)
        a = math.pi - sgn * 0.62 + wag
        tip = (px_ + tail * 1.35 * math.cos(a), py_ + tail * 1.35 * math.sin(a))
        outer = (px_ - tail * 0.3, py_ + sgn * tail * 0.5)
        lobe = polygon(g, [(px_ + 0.08, py_ + sgn * 0.02), outer, tip, fork], bevel=0.05)
        ctx.paint(lobe, fin, textured=False)
        for m in ctx.marks_of("tail_tip"):
            ctx.paint(polygon(g, [mix(tip, q, 0.35) for q in (outer, tip, fork)], bevel=0.02), m.rgb,
                      textured=False, opacity=m.opacity)
    # Dorsal fin (may carry a nick) and anal fin, behind the body.
    dx0 = cx - L * 0.35 + 0.05 * p.stride
    top = cy - H * 0.8
    dors = [(dx0 - L * 0.25, top + 0.1), (dx0 - 0.05 * dorsal, top - dorsal), (dx0 + L * 0.35, top + 0.08)]
    ctx.paint(polygon(g, dors, bevel=0.04), fin, textured=False)
    for m in ctx.marks_of("notch"):
        r = 0.03 + 0.04 * m.size
        ctx.canvas.cut(ellipse(g, *mix(dors[1], dors[2], 0.5), r, r), m.opacity)
    anal = [(cx - L * 0.55, cy + H * 0.7), (cx - L * 0.5, cy + H * 0.7 + dorsal * 0.6),
            (cx - L * 0.15, cy + H * 0.8)]
    ctx.paint(polygon(g, anal, bevel=0.03), fin, textured=False)

    def pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        bands = smoothstep(0.45, 0.75, np.sin(math.pi * f * 0.6 * u + ph)) * (u < 0.45)
        stripe = smoothstep(0.2, 0.12, np.abs(v + 0.05 + 0.1 * u))
        spots = smoothstep(0.55, 0.8, np.sin(math.pi * f * 1.4 * u + ph) * np.sin(math.pi * f * 1.4 * v))
        spots = spots * (u < 0.5)
        back = 0.45 * smoothstep(-0.2, -0.8, v)                            # countershading: dark back
        return np.clip(ctx.pattern("bands") * bands + ctx.pattern("stripe") * stripe
                       + ctx.pattern("spots") * spots + back, 0, 1)

    ctx.paint(capsule(g, cx - L * 0.5, cy, px_ + 0.02, py_, H * 0.55, H * 0.18), body)   # tail stalk
    b = ellipse(g, cx, cy, L, H)
    if b is not None:
        alb = coat(ctx, b, body, L, H, pattern)
        for m in ctx.marks_of("spot"):
            # A fish's spot is an eyespot: a dark ring around it.
            d = np.hypot((b.u - m.u) * L, (b.v - m.v) * H)
            ring = smoothstep(m.size * 0.9, m.size * 1.05, d) * smoothstep(m.size * 1.45, m.size * 1.25, d)
            alb = blend(alb, INK, m.opacity * ring)
        ctx.paint(b, alb)
        gx, gy, gr = cx + L * 0.3, cy, H * 0.62                            # gill cover: an arc of strokes
        for a0 in np.linspace(-0.85, 0.65, 5):
            a1 = a0 + 0.3
            stroke = capsule(g, gx + gr * math.cos(a0), gy + gr * math.sin(a0), gx + gr * math.cos(a1),
                             gy + gr * math.sin(a1), ctx.lw * 0.7)
            ctx.paint(stroke, ctx.col("body", 0.4), textured=False, line=0)
    # Pectoral fin over the body, angled by stride; eye and mouth.
    pa = 2.3 + 0.3 * p.stride
    bx, by = cx + L * 0.25, cy + H * 0.25
    pectoral = [(bx, by - 0.04), (bx + 0.3 * math.cos(pa), by + 0.3 * math.sin(pa)),
                (bx + 0.22 * math.cos(pa + 0.5), by + 0.22 * math.sin(pa + 0.5)), (bx + 0.02, by + 0.04)]
    ctx.paint(polygon(g, pectoral, bevel=0.03), fin, textured=False, opacity=0.85)
    eye(ctx, cx + L * 0.7, cy - H * 0.2, H * 0.2, ctx.col("accent"))
    ctx.paint(capsule(g, cx + L * 0.88, cy + H * 0.2, cx + L * 0.99, cy + H * 0.14, 0.012), INK,
              textured=False, line=0)


# --- beetle: seen from above, head towards the front ------------------------------------------------

def _beetle(ctx: DrawContext) -> None:
    g, sh, p = ctx.canvas.grid, ctx.breed.shape, ctx.p
    L, W, hr, ant, limb = sh["length"], sh["height"], sh["head"], sh["ear"], sh["limb"]
    cx, cy = -0.1, 0.0
    body, dark = ctx.col("body"), ctx.col("limb")
    f, ph = ctx.breed.pattern_freq, ctx.breed.pattern_phase
    shadow(ctx, cx + 0.05, cy + 0.08, L * 1.25, W * 1.2)

    # Six legs, two segments each, splayed; stride swings the two tripods against each other, as in walking.
    for k, (ax, reach) in enumerate(((0.45, 0.5), (0.0, 0.0), (-0.4, -0.55))):
        for side in (-1, 1):
            phase = p.stride * (1 if (k + (side > 0)) % 2 else -1) * 0.25
            hip = (cx + L * ax * 0.6, cy + side * W * 0.6)
            knee = (hip[0] + 0.12 * reach + phase * 0.4, hip[1] + side * limb * 1.05)
            foot = (knee[0] + 0.3 * reach + phase, knee[1] + side * limb * 0.55)
            ctx.paint(capsule(g, *hip, *knee, 0.035, 0.028), dark, textured=False, gloss=0.2)
            ctx.paint(capsule(g, *knee, *foot, 0.026, 0.016), dark, textured=False, gloss=0.2)
    # Antennae: chains of segments; a "notch" mark breaks the right one short.
    hx = cx + L + W * 0.45 + hr * 0.6
    short = ctx.marks_of("notch")
    for side in (-1, 1):
        x, y = hx + hr * 0.4, cy + side * hr * 0.5
        a = side * (0.55 + 0.15 * p.head_tilt * side)
        n = int(round(6 - 4 * short[0].opacity)) if side == 1 and short else 6
        for _ in range(n):
            nx, ny = x + ant / 6 * math.cos(a), y + ant / 6 * math.sin(a)
            ctx.paint(capsule(g, x, y, nx, ny, 0.016), dark, textured=False, line=ctx.lw * 0.5)
            x, y, a = nx, ny, a + side * 0.12 * (1 + p.tail_curve * 0.5)

    def pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        sv = np.abs(v)                                                     # symmetric about the seam
        spots = smoothstep(0.5, 0.75, np.sin(math.pi * f * 0.5 * u + ph) * np.sin(math.pi * 2.0 * sv + 0.3))
        stripes = smoothstep(0.16, 0.08, np.abs(sv - 0.5))
        border = smoothstep(0.78, 0.9, np.sqrt(u * u + v * v))
        return np.clip(ctx.pattern("spots") * spots + ctx.pattern("stripes") * stripes
                       + ctx.pattern("border") * border, 0, 1)

    b = ellipse(g, cx, cy, L, W)
    if b is not None:
        alb = coat(ctx, b, body, L, W, pattern)
        alb = blend(alb, body, smoothstep(0.3, 0.85, b.v) * 0.8)           # seen from above: no pale belly
        ctx.paint(b, alb, gloss=0.35 + 0.4 * ctx.pattern("plain"))
        ctx.paint(capsule(g, cx - L * 0.95, cy, cx + L * 0.92, cy, 0.01), INK, textured=False, line=0)  # seam
    pron = ellipse(g, cx + L + W * 0.1, cy, W * 0.42, W * 0.78)
    if pron is not None:
        alb = _fill(pron, mix(ctx.col("pattern"), body, ctx.pattern("plain")))
        for m in ctx.marks_of("pronotum_dot"):
            d = np.hypot(pron.u * W * 0.42, pron.v * W * 0.78)
            alb = blend(alb, m.rgb, m.opacity * smoothstep(0.06 + 0.03 * m.size, 0.045 + 0.02 * m.size, d))
        ctx.paint(pron, alb, gloss=0.5)
    ctx.paint(ellipse(g, hx, cy, hr, hr * 1.15), dark, gloss=0.5)
    for side in (-1, 1):
        jaw = [(hx + hr * 0.6, cy + side * hr * 0.5), (hx + hr * 1.7, cy + side * hr * 0.15),
               (hx + hr * 0.8, cy + side * hr * 0.1)]
        ctx.paint(polygon(g, jaw, bevel=0.01), dark, textured=False)
        ctx.paint(ellipse(g, hx + hr * 0.35, cy + side * hr * 0.75, hr * 0.22, hr * 0.22), (60.0, 55.0, 50.0),
                  textured=False, gloss=0.8, line=0)


DRAWERS: dict[str, Callable[[DrawContext], None]] = {
    "cat": _cat, "bird": _bird, "fish": _fish, "beetle": _beetle}
