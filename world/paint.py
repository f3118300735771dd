"""Raster primitives for the world's creatures: shaded shapes evaluated on a posed coordinate grid.

A creature is drawn in its own *frame* (x towards the head, y down, one unit ≈ half its body length).
`Grid` maps every supersampled pixel of the image into that frame once, so the pose (facing, rotation,
scale, position) costs nothing per shape, and each shape is evaluated only inside its own window.
Shapes carry a surface normal, so one `Canvas.paint` call shades, textures and outlines any of them
under the image's light; antialiasing comes from supersampling and a box filter at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32


class Grid:
    """Frame coordinates (X, Y) of every pixel centre of a `height`×`width` supersampled picture.

    `frame_to_pixel` is the 2×3 affine taking frame coordinates to pixels; its inverse fills X, Y.
    """

    def __init__(self, height: int, width: int, frame_to_pixel: np.ndarray) -> None:
        self.height, self.width = height, width
        self.frame_to_pixel = frame_to_pixel
        a = np.vstack([frame_to_pixel, [0.0, 0.0, 1.0]])
        inv = np.linalg.inv(a)[:2]
        self.pixel_to_frame = inv
        ys, xs = np.mgrid[0:height, 0:width].astype(F32) + F32(0.5)
        self.X = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]).astype(F32)
        self.Y = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]).astype(F32)

    def window(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice] | None:
        """Pixel rows/cols covering the frame box [x0, x1]×[y0, y1] (None when it is off the picture)."""
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], float)
        corners = corners @ self.frame_to_pixel.T
        c0, r0 = np.floor(corners.min(axis=0)).astype(int) - 1
        c1, r1 = np.ceil(corners.max(axis=0)).astype(int) + 1
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, self.height), min(c1, self.width)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)


@dataclass
class Shape:
    """One shape inside its window: coverage, unit surface normal, distance to its outline (frame units),
    and shape-local coordinates (u along its long axis, v across; both in [-1, 1]) for patterns."""

    win: tuple[slice, slice]
    mask: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    nz: np.ndarray
    edge: np.ndarray
    u: np.ndarray
    v: np.ndarray


def ellipse(grid: Grid, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> Shape | None:
    """A dome-shaded ellipse (radii rx, ry, rotated by `angle` radians), e.g. a body or a head."""
    r = max(rx, ry)
    win = grid.window(cx - r, cy - r, cx + r, cy + r)
    if win is None:
        return None
    dx, dy = grid.X[win] - cx, grid.Y[win] - cy
    c, s = np.cos(angle), np.sin(angle)
    u = (dx * c + dy * s) / rx
    v = (-dx * s + dy * c) / ry
    rr = u * u + v * v
    mask = rr <= 1.0
    nz = np.sqrt(np.clip(1.0 - rr, 0.0, 1.0))
    # Normal of the ellipsoid, rotated back into the frame.
    lu, lv = u / rx, v / ry
    gx, gy = lu * c - lv * s, lu * s + lv * c
    g = np.sqrt(gx * gx + gy * gy) + 1e-6
    side = np.sqrt(np.clip(rr, 0.0, 1.0))
    edge = (1.0 - np.sqrt(rr)) * min(rx, ry)
    return Shape(win, mask, gx / g * side, gy / g * side, nz, edge, u, v)


def capsule(grid: Grid, x0: float, y0: float, x1: float, y1: float, r0: float,
            r1: float | None = None) -> Shape | None:
    """A tube from (x0, y0) to (x1, y1), radius r0 tapering to r1, shaded as a cylinder (legs, tails)."""
    r1 = r0 if r1 is None else r1
    rmax = max(r0, r1)
    win = grid.window(min(x0, x1) - rmax, min(y0, y1) - rmax, max(x0, x1) + rmax, max(y0, y1) + rmax)
    if win is None:
        return None
    px, py = grid.X[win] - x0, grid.Y[win] - y0
    ax, ay = x1 - x0, y1 - y0
    length2 = ax * ax + ay * ay + 1e-9
    t = np.clip((px * ax + py * ay) / length2, 0.0, 1.0)
    dx, dy = px - t * ax, py - t * ay
    d = np.sqrt(dx * dx + dy * dy)
    rad = r0 + (r1 - r0) * t
    mask = d <= rad
    q = np.clip(d / rad, 0.0, 1.0)
    nz = np.sqrt(1.0 - q * q)
    inv = 1.0 / (d + 1e-6)
    length = np.sqrt(length2)
    u = t * 2.0 - 1.0
    v = (px * ay - py * ax) / length / rad
    return Shape(win, mask, dx * inv * q, dy * inv * q, nz, rad - d, u, v)


def polygon(grid: Grid, points: list[tuple[float, float]], bevel: float = 0.05) -> Shape | None:
    """A convex polygon (ears, beaks, fins), bevelled: flat in the middle, turning away within `bevel`."""
    pts = np.asarray(points, F32)
    win = grid.window(*pts.min(axis=0), *pts.max(axis=0))
    if win is None:
        return None
    X, Y = grid.X[win], grid.Y[win]
    # Orient counter-clockwise in frame terms so every edge's inward normal points the same way.
    area = np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    if area < 0:
        pts = pts[::-1]
    dists, normals = [], []
    for a, b in zip(pts, np.roll(pts, -1, axis=0)):
        ex, ey = b - a
        n = np.hypot(ex, ey) + 1e-9
        inx, iny = -ey / n, ex / n                      # inward for a counter-clockwise polygon
        dists.append((X - a[0]) * inx + (Y - a[1]) * iny)
        normals.append((-inx, -iny))
    dist = np.stack(dists)
    edge = dist.min(axis=0)
    nearest = dist.argmin(axis=0)
    out = np.asarray(normals, F32)[nearest]
    h = np.clip(edge / bevel, 0.0, 1.0)
    side = np.sqrt(1.0 - h * h)
    centre = pts.mean(axis=0)
    span = np.abs(pts - centre).max(axis=0) + 1e-6
    return Shape(win, edge >= 0, out[..., 0] * side, out[..., 1] * side, h, edge,
                 (X - centre[0]) / span[0], (Y - centre[1]) / span[1])


@dataclass(frozen=True)
class Light:
    """Unit direction *towards* the light in the creature's frame, and how much of it is ambient vs. direct."""

    x: float
    y: float
    z: float
    ambient: float = 0.42
    diffuse: float = 0.72


class Canvas:
    """A supersampled RGBA layer that shapes are painted onto, back to front."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.rgb = np.zeros((grid.height, grid.width, 3), F32)
        self.alpha = np.zeros((grid.height, grid.width), F32)

    def paint(self, shape: Shape | None, albedo: np.ndarray | tuple[float, float, float], light: Light, *,
              texture: np.ndarray | None = None, gloss: float = 0.0, line: float = 0.012,
              line_color: tuple[int, int, int] = (25, 20, 18), opacity: float = 1.0) -> None:
        """Shade `shape` (albedo: an RGB triple or an (h, w, 3) array over its window) and paint it on top.

        `texture` is a multiplicative map over the whole layer (fur, scales); `line` the outline width in
        frame units; `gloss` adds a specular highlight (beetle shells, eyes).
        """
        if shape is None:
            return
        win, m = shape.win, shape.mask
        if not m.any():
            return
        lam = np.clip(shape.nx * light.x + shape.ny * light.y + shape.nz * light.z, 0.0, 1.0)
        shade = light.ambient + light.diffuse * lam
        col = np.asarray(albedo, F32)
        col = (col if col.ndim == 3 else col[None, None, :]) * shade[..., None]
        if texture is not None:
            col = col * texture[win][..., None]
        if gloss:
            # Blinn highlight with the viewer straight ahead: half-vector between light and (0, 0, 1).
            hx, hy, hz = light.x, light.y, light.z + 1.0
            hn = np.sqrt(hx * hx + hy * hy + hz * hz)
            spec = np.clip((shape.nx * hx + shape.ny * hy + shape.nz * hz) / hn, 0.0, 1.0) ** 24
            col = col + gloss * 255.0 * spec[..., None]
        if line > 0:
            ink = np.clip(shape.edge / line, 0.0, 1.0)[..., None]
            col = col * ink + np.asarray(line_color, F32) * (1.0 - ink)
        rgb, alpha = self.rgb[win], self.alpha[win]
        if opacity >= 1.0:
            rgb[m] = col[m]
            alpha[m] = 1.0
        else:
            rgb[m] = rgb[m] * (1.0 - opacity) + col[m] * opacity
            alpha[m] = alpha[m] * (1.0 - opacity) + opacity

    def cut(self, shape: Shape | None, amount: float = 1.0) -> None:
        """Remove coverage inside `shape` (an ear notch, a nick in a fin): the background shows through."""
        if shape is None or amount <= 0:
            return
        self.alpha[shape.win][shape.mask] *= 1.0 - min(amount, 1.0)

    def downsample(self, factor: int) -> tuple[np.ndarray, np.ndarray]:
        """Box-filter by `factor`: premultiplied colour and coverage at the final resolution."""
        pre = _box(self.rgb * self.alpha[..., None], factor)
        return pre, _box(self.alpha, factor)

    def coverage(self, factor: int) -> np.ndarray:
        """Box-filtered coverage alone (for a shadow layer, whose colour does not matter)."""
        return _box(self.alpha, factor)


def _box(a: np.ndarray, factor: int) -> np.ndarray:
    # Sum of strided views: several times faster than reshape(...).mean() on these sizes.
    h, w = a.shape[0] // factor, a.shape[1] // factor
    out = np.zeros((h, w) + a.shape[2:], F32)
    for i in range(factor):
        for j in range(factor):
            out += a[i: h * factor: factor, j: w * factor: factor]
    return out / F32(factor * factor)


def blend(base: np.ndarray, colour: np.ndarray | tuple[float, ...], weight: np.ndarray) -> np.ndarray:
    """`base` (h, w, 3) moved towards `colour` by per-pixel `weight` in [0, 1]."""
    w = np.clip(weight, 0.0, 1.0)[..., None]
    return base * (1.0 - w) + np.asarray(colour, F32) * w


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 at edge0, 1 at edge1, smooth in between (edge0 > edge1 gives the falling step)."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
