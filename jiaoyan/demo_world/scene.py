"""The classroom a synthetic lesson is filmed in: geometry, background, figures, choreography.

A fixed camera high on the back wall looks at the blackboard over rows of students
seen from behind. Depth and height follow a pinhole projection; lateral positions are
squeezed by ``Camera.kx`` so that the whole back row and a readable blackboard fit one
16:9 frame (a real single back camera cannot see both). Everything that never moves
(room, desks, chairs, the empty board) is drawn once into a background; per frame the
renderer copies it, blits cached student sprites and draws the teacher. Chalk ink is
written into the background itself, so it persists until the teacher erases it.

Coordinates: world metres with X to the right, Y up from the floor and Z from the front
wall toward the camera; images are BGR ``uint8``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from jiaoyan import codes
from jiaoyan.demo_world.script import LessonScript

# --- room dimensions (metres) ---------------------------------------------------------
SEAT_W = 0.62  # desk width per student
AISLE_W = 0.72
ROW_PITCH = 0.9
FIRST_ROW_Z = 2.3  # desk centre of the front row
DESK_DEPTH = 0.42
DESK_Y = 0.75
STUDENT_BACK = 0.42  # a seated student's back is this far behind their desk centre
SPRITE_BASE_Y = 0.58  # student sprites are cut here; the next row's desk hides what is below
BOARD_HALF_W = 3.2
BOARD_Y = (0.9, 2.2)
TEACHER_BOARD_Z = 0.45
CAMERA_H = 4.74  # the pinhole's height; with V_HORIZON it sets how fast scale grows with depth
V_HORIZON = -0.25  # horizon row, in frame heights (above the frame)
WALL_FLOOR_V = 0.40  # where the front wall meets the floor, in frame heights
BACK_ROW_V = 0.97  # where the back row's sprites end
MAX_HALF_SPAN = 0.47  # the back row's outer students stay inside this share of the width

SHIFT = 4  # cv2 fixed-point bits: sub-pixel placement for small figures
ONE = 1 << SHIFT

Color = tuple[int, int, int]
STUDENT_CODES = codes.student_codes()
LISTEN, HAND, ANSWER, READ, TALK = (
    STUDENT_CODES.index(c)
    for c in ("listening", "hand_raising", "answering", "reading_writing", "student_student_interaction")
)
TEACHER_CODES = codes.teacher_codes()
LECTURE, WRITE, PATROL, INTERACT = (
    TEACHER_CODES.index(c)
    for c in ("lecturing", "blackboard_writing", "patrolling", "teacher_student_interaction")
)


# --- camera and layout -----------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """Pinhole without pitch (principal point shifted down) plus a lateral squeeze ``kx``."""

    f: float  # focal length, px
    z: float  # camera depth, m from the front wall
    kx: float
    cx: float  # image column of X = 0
    v_h: float  # image row of the horizon (px, negative: above the canvas)

    def scale(self, z: float) -> float:
        """Pixels per metre of a body at depth z."""
        return self.f / (self.z - z)

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        s = self.scale(z)
        return self.cx + self.kx * x * s, self.v_h + (CAMERA_H - y) * s


@dataclass(frozen=True)
class Seat:
    row: int
    col: int
    x: float
    z: float  # desk centre
    mate: int  # the desk-mate's student index, -1 if none
    side: int  # -1: left seat of the pair, +1: right seat


@dataclass(frozen=True)
class Layout:
    seats: tuple[Seat, ...]  # student i sits in seats[i]
    n_rows: int
    n_cols: int
    aisles: tuple[float, ...]  # X of the walkable aisles, inner and side
    half_span: float  # half the width of the desk block

    @property
    def back_z(self) -> float:
        return FIRST_ROW_Z + (self.n_rows - 1) * ROW_PITCH

    @property
    def room_half_w(self) -> float:
        return max(self.half_span + 0.9, BOARD_HALF_W + 1.2)


def build_layout(class_size: int) -> Layout:
    """Desks in pairs with aisles between; the back row, if partial, is filled from the centre."""
    pairs = 4 if class_size <= 56 else 5
    n_cols = 2 * pairs
    n_rows = max(1, math.ceil(class_size / n_cols))
    span = n_cols * SEAT_W + (pairs - 1) * AISLE_W
    col_x = [-span / 2 + (c // 2) * (2 * SEAT_W + AISLE_W) + (c % 2 + 0.5) * SEAT_W for c in range(n_cols)]
    order = [(r, c) for r in range(n_rows - 1) for c in range(n_cols)]
    last = sorted(range(n_cols), key=lambda c: (abs(col_x[c]), c))[: class_size - len(order)]
    order += [(n_rows - 1, c) for c in sorted(last)]
    index = {rc: i for i, rc in enumerate(order)}
    seats = tuple(
        Seat(row=r, col=c, x=col_x[c], z=FIRST_ROW_Z + r * ROW_PITCH, mate=index.get((r, c ^ 1), -1),
             side=-1 if c % 2 == 0 else 1)
        for r, c in order
    )
    inner = [-span / 2 + g * (2 * SEAT_W + AISLE_W) - AISLE_W / 2 for g in range(1, pairs)]
    aisles = (-span / 2 - 0.45, *inner, span / 2 + 0.45)
    return Layout(seats=seats, n_rows=n_rows, n_cols=n_cols, aisles=aisles, half_span=span / 2)


def fit_camera(layout: Layout, width: int, height: int, margin: int = 0) -> Camera:
    """Place the camera so the front wall's foot and the back row land on fixed frame rows."""
    v_h = V_HORIZON * height
    s_wall = (WALL_FLOOR_V - V_HORIZON) * height / CAMERA_H
    back_z = layout.back_z + STUDENT_BACK
    s_back = (BACK_ROW_V - V_HORIZON) * height / (CAMERA_H - SPRITE_BASE_Y)
    ratio = s_back / s_wall  # = z_cam / (z_cam - back_z)
    z_cam = ratio * back_z / (ratio - 1)
    f = s_wall * z_cam
    kx = min(1.0, MAX_HALF_SPAN * width / ((layout.half_span + 0.25) * s_back))
    return Camera(f=f, z=z_cam, kx=kx, cx=margin + width / 2, v_h=margin + v_h)


# --- looks -------------------------------------------------------------------------------
SHIRTS: tuple[Color, ...] = (
    (150, 80, 30), (60, 60, 170), (235, 235, 235), (70, 130, 60), (110, 110, 110), (90, 40, 20),
    (40, 150, 220), (160, 130, 200), (40, 40, 40), (190, 160, 90), (120, 60, 140), (80, 170, 170),
)
HAIR: tuple[Color, ...] = ((25, 25, 30), (20, 22, 28), (35, 40, 50), (45, 55, 70), (15, 15, 18))
SKIN: tuple[Color, ...] = ((150, 180, 225), (135, 165, 210), (120, 155, 200), (160, 190, 230))
TROUSERS: tuple[Color, ...] = ((60, 40, 30), (40, 40, 45), (90, 70, 50), (30, 30, 30))
JACKETS: tuple[Color, ...] = ((90, 50, 30), (70, 70, 75), (40, 60, 110), (60, 90, 50), (50, 40, 90))


@dataclass(frozen=True)
class Look:
    shirt: Color
    hair: Color
    skin: Color
    trousers: Color
    size: float  # body scale around 1
    hand: int  # +1 right-handed, -1 left-handed


def make_looks(n: int, rng: np.random.Generator) -> tuple[Look, ...]:
    def pick(options: tuple[Color, ...]) -> Color:
        return options[int(rng.integers(len(options)))]

    return tuple(
        Look(shirt=pick(SHIRTS), hair=pick(HAIR), skin=pick(SKIN), trousers=pick(TROUSERS),
             size=float(rng.uniform(0.9, 1.1)), hand=1 if rng.random() < 0.88 else -1)
        for _ in range(n)
    )


def teacher_look(rng: np.random.Generator) -> Look:
    return Look(shirt=JACKETS[int(rng.integers(len(JACKETS)))], hair=HAIR[int(rng.integers(len(HAIR)))],
                skin=SKIN[int(rng.integers(len(SKIN)))], trousers=TROUSERS[int(rng.integers(len(TROUSERS)))],
                size=float(rng.uniform(0.97, 1.05)), hand=1)


# --- drawing in body metres ---------------------------------------------------------------
class Pen:
    """Draws shapes given in body metres (x right, y up from an anchor) on an image and,
    optionally, in white on a mask of the same size."""

    def __init__(self, img: np.ndarray, mask: np.ndarray | None, u0: float, v0: float, s: float) -> None:
        self.u0, self.v0, self.s = u0, v0, s
        self.targets: list[tuple[np.ndarray, Color | None]] = [(img, None)]
        if mask is not None:
            self.targets.append((mask, (255, 255, 255)))

    def _pt(self, x: float, y: float) -> tuple[int, int]:
        return round((self.u0 + x * self.s) * ONE), round((self.v0 - y * self.s) * ONE)

    def poly(self, pts: list[tuple[float, float]], color: Color) -> None:
        arr = np.array([self._pt(x, y) for x, y in pts], np.int32)
        for im, c in self.targets:
            cv2.fillConvexPoly(im, arr, c or color, cv2.LINE_8, SHIFT)

    def circle(self, x: float, y: float, r: float, color: Color) -> None:
        c0, rr = self._pt(x, y), max(ONE // 2, round(r * self.s * ONE))
        for im, c in self.targets:
            cv2.circle(im, c0, rr, c or color, -1, cv2.LINE_8, SHIFT)

    def ellipse(self, x: float, y: float, ax: float, ay: float, color: Color, start: int = 0, end: int = 360) -> None:
        c0 = self._pt(x, y)
        axes = (max(1, round(ax * self.s * ONE)), max(1, round(ay * self.s * ONE)))
        for im, c in self.targets:
            cv2.ellipse(im, c0, axes, 0, start, end, c or color, -1, cv2.LINE_8, SHIFT)

    def line(self, p: tuple[float, float], q: tuple[float, float], width: float, color: Color) -> None:
        a, b, w = self._pt(*p), self._pt(*q), max(1, round(width * self.s))
        for im, c in self.targets:
            cv2.line(im, a, b, c or color, w, cv2.LINE_8, SHIFT)


def _head(pen: Pen, look: Look, x: float, y: float, face: float) -> None:
    """A head of radius 0.1 m; ``face`` is how much of the face turns to the camera:
    0 = back of the head, +-0.5 = profile to the right/left, 1 = full face."""
    pen.circle(x, y, 0.1, look.hair)
    if abs(face) >= 0.99:
        pen.ellipse(x, y - 0.015, 0.085, 0.085, look.skin)
        pen.ellipse(x, y + 0.02, 0.095, 0.075, look.hair, 180, 360)
        if pen.s * 0.1 >= 6:  # eyes only where a head is big enough to show them
            pen.circle(x - 0.035, y - 0.01, 0.012, (30, 30, 30))
            pen.circle(x + 0.035, y - 0.01, 0.012, (30, 30, 30))
    elif face:
        side = 1 if face > 0 else -1
        pen.ellipse(x + side * 0.045, y - 0.02, 0.05, 0.07, look.skin)
    else:
        pen.circle(x - 0.098, y - 0.01, 0.022, look.skin)  # ears seen from behind
        pen.circle(x + 0.098, y - 0.01, 0.022, look.skin)


def _torso(pen: Pen, look: Look, base: float, top: float, half_w: float, lean: float = 0.0) -> None:
    pen.poly([(-half_w * 0.85, base), (half_w * 0.85, base), (half_w + lean, top), (-half_w + lean, top)], look.shirt)
    pen.circle(-half_w + lean + 0.04, top - 0.03, 0.045, look.shirt)
    pen.circle(half_w + lean - 0.04, top - 0.03, 0.045, look.shirt)


def _arm(pen: Pen, look: Look, shoulder: tuple[float, float], hand: tuple[float, float], bend: float) -> None:
    """Upper arm and forearm to ``hand``; the elbow bulges sideways by ``bend`` metres."""
    mx, my = (shoulder[0] + hand[0]) / 2, (shoulder[1] + hand[1]) / 2
    elbow = (mx + bend, my)
    pen.line(shoulder, elbow, 0.075, look.shirt)
    pen.line(elbow, hand, 0.06, look.shirt)
    pen.circle(hand[0], hand[1], 0.04, look.skin)


# --- student poses (seen from behind), anchor at Y = SPRITE_BASE_Y --------------------------
SPRITE_HALF_W = 0.48
SPRITE_H = 1.12


def draw_student(pen: Pen, look: Look, behaviour: int, variant: int) -> None:
    """One student in one behaviour; ``variant`` picks a small motion phase of that behaviour."""
    if behaviour == ANSWER:
        _standing(pen, look, variant)
    elif behaviour == HAND:
        _seated(pen, look, head_dx=0.0, head_dy=0.0)
        sx = look.hand * 0.15
        _arm(pen, look, (sx, 0.34), (look.hand * 0.13 + (variant - 1) * 0.025, 0.86), look.hand * 0.05)
    elif behaviour == READ:
        _torso(pen, look, 0.0, 0.30, 0.17)
        dx, dy = ((0.0, 0.0), (0.02, 0.006), (0.035, 0.0), (0.02, -0.006))[variant]
        _arm(pen, look, (look.hand * 0.15, 0.27), (look.hand * (0.24 + dx), 0.13 + dy), look.hand * 0.02)
        pen.circle(0.0, 0.36, 0.1, look.hair)  # bowed head: no neck, lower
    elif behaviour == TALK:
        _talking(pen, look, variant)
    else:
        dx = (-0.015, 0.0, 0.015, -0.045, 0.045)[variant]
        _seated(pen, look, head_dx=dx, head_dy=0.0)


def _seated(pen: Pen, look: Look, head_dx: float, head_dy: float) -> None:
    _torso(pen, look, 0.0, 0.36, 0.17)
    pen.line((-0.16, 0.3), (-0.19, 0.1), 0.07, look.shirt)
    pen.line((0.16, 0.3), (0.19, 0.1), 0.07, look.shirt)
    pen.poly([(-0.035, 0.34), (0.035, 0.34), (0.035, 0.45), (-0.035, 0.45)], look.skin)
    _head(pen, look, head_dx, 0.53 + head_dy, 0.0)


def _standing(pen: Pen, look: Look, variant: int) -> None:
    lift = 0.38
    pen.poly([(-0.15, 0.0), (0.15, 0.0), (0.15, lift + 0.02), (-0.15, lift + 0.02)], look.trousers)
    _torso(pen, look, lift, lift + 0.38, 0.17)
    pen.line((-0.17, lift + 0.33), (-0.2, lift + 0.05), 0.065, look.shirt)
    pen.line((0.17, lift + 0.33), (0.2, lift + 0.05), 0.065, look.shirt)
    pen.circle(-0.2, lift + 0.03, 0.04, look.skin)
    pen.circle(0.2, lift + 0.03, 0.04, look.skin)
    pen.poly([(-0.035, lift + 0.36), (0.035, lift + 0.36), (0.035, lift + 0.47), (-0.035, lift + 0.47)], look.skin)
    dy = (0.0, -0.015, 0.01)[variant]
    _head(pen, look, 0.0, lift + 0.55 + dy, 0.0)


def _talking(pen: Pen, look: Look, variant: int) -> None:
    """Turned toward a neighbour: variants 0-2 turn left, 3-5 turn right, the phase moves the head."""
    side = -1 if variant < 3 else 1
    phase = variant % 3
    _torso(pen, look, 0.0, 0.36, 0.15, lean=side * 0.025)
    pen.poly([(-0.035, 0.34), (0.035, 0.34), (0.035, 0.45), (-0.035, 0.45)], look.skin)
    hx = side * 0.05 + (-0.012, 0.0, 0.012)[phase]
    hy = 0.53 + (0.0, 0.015, -0.01)[phase]
    _head(pen, look, hx, hy, 0.5 * side)
    gesture = (0.08, 0.2, 0.14)[phase]
    _arm(pen, look, (side * 0.14, 0.3), (side * 0.3, gesture), side * 0.04)


Sprite = tuple[np.ndarray, np.ndarray, np.ndarray]  # image, mask, the canvas view it is copied into


class StudentSprites:
    """Lazily rendered sprites, one per (student, behaviour * 8 + variant), cropped to the figure
    and clipped to the canvas, so that drawing one is a single masked copy into a fixed view."""

    def __init__(self, looks: tuple[Look, ...], scales: list[float], anchors: list[tuple[int, int]],
                 canvas: np.ndarray) -> None:
        self.looks, self.scales, self.anchors, self.canvas = looks, scales, anchors, canvas
        self.cache: list[dict[int, Sprite | None]] = [{} for _ in looks]

    def make(self, student: int, key: int) -> Sprite | None:
        """Render, cache and return a sprite; None when it is entirely outside the canvas."""
        sprite = self.cache[student][key] = self._render(student, key // 8, key % 8)
        return sprite

    def _render(self, student: int, behaviour: int, variant: int) -> Sprite | None:
        look = self.looks[student]
        s = self.scales[student] * look.size
        w, h = math.ceil(2 * SPRITE_HALF_W * s) + 2, math.ceil(SPRITE_H * s) + 2
        img = np.zeros((h, w, 3), np.uint8)
        mask = np.zeros((h, w, 3), np.uint8)
        u, v = self.anchors[student]
        draw_student(Pen(img, mask, w / 2, h - 1.0, s), look, behaviour, variant)
        x, y = u - round(w / 2), v - (h - 1)  # canvas position of the sprite's top-left pixel
        rows, cols = np.flatnonzero(mask[:, :, 0].any(1)), np.flatnonzero(mask[:, :, 0].any(0))
        height, width = self.canvas.shape[:2]
        y0, y1 = max(y + int(rows[0]), 0), min(y + int(rows[-1]) + 1, height)
        x0, x1 = max(x + int(cols[0]), 0), min(x + int(cols[-1]) + 1, width)
        if y0 >= y1 or x0 >= x1:
            return None
        crop = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        return (np.ascontiguousarray(img[crop]), np.ascontiguousarray(mask[crop][:, :, 0]),
                self.canvas[y0:y1, x0:x1])


# --- the teacher (standing, anchor at the feet) ---------------------------------------------
@dataclass
class TeacherPose:
    x: float
    z: float
    facing: bool  # True: face toward the camera (the class); False: back to the camera (the board)
    left_hand: tuple[float, float]  # body metres from the feet
    right_hand: tuple[float, float]
    stride: float = 0.0  # -1..1, which foot is lifted while walking
    head_dx: float = 0.0
    head_dy: float = 0.0


REST_LEFT, REST_RIGHT = (-0.22, 0.84), (0.22, 0.84)
SHOULDER_Y = 1.38
ARM_REACH = 0.64


def draw_teacher(img: np.ndarray, cam: Camera, look: Look, pose: TeacherPose) -> None:
    u, v = cam.project(pose.x, 0.0, pose.z)
    pen = Pen(img, None, u, v, cam.scale(pose.z) * look.size)
    lift = 0.07 * pose.stride
    for side, up in ((-1, max(0.0, lift)), (1, max(0.0, -lift))):
        pen.line((side * 0.08, 0.9), (side * 0.1, 0.04 + up), 0.12, look.trousers)
        pen.ellipse(side * 0.1, 0.03 + up, 0.07, 0.035, (25, 25, 25))
    pen.poly([(-0.17, 0.86), (0.17, 0.86), (0.21, 1.42), (-0.21, 1.42)], look.shirt)
    pen.poly([(-0.04, 1.4), (0.04, 1.4), (0.04, 1.5), (-0.04, 1.5)], look.skin)
    _head(pen, look, pose.head_dx, 1.59 + pose.head_dy, 1.0 if pose.facing else 0.0)
    for side, hand in ((-1, pose.left_hand), (1, pose.right_hand)):
        shoulder = (side * 0.19, SHOULDER_Y)
        _arm(pen, look, shoulder, _reach(shoulder, hand), side * 0.06)


def _reach(shoulder: tuple[float, float], hand: tuple[float, float]) -> tuple[float, float]:
    dx, dy = hand[0] - shoulder[0], hand[1] - shoulder[1]
    d = math.hypot(dx, dy)
    if d <= ARM_REACH:
        return hand
    return shoulder[0] + dx * ARM_REACH / d, shoulder[1] + dy * ARM_REACH / d


# --- static background ----------------------------------------------------------------------
WALL: Color = (200, 214, 222)
SIDE_WALL: Color = (178, 192, 200)
FLOOR: Color = (150, 160, 168)
BOARD_GREEN: Color = (52, 78, 44)
DESK_TOP: Color = (120, 170, 205)
DESK_SIDE: Color = (70, 100, 130)
CHAIR: Color = (60, 75, 95)


def _quad(img: np.ndarray, cam: Camera, pts: list[tuple[float, float, float]], color: Color) -> None:
    arr = np.array([[round(c) for c in cam.project(*p)] for p in pts], np.int32)
    cv2.fillConvexPoly(img, arr, color)


def render_background(layout: Layout, cam: Camera, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The empty classroom as BGR (``size`` = canvas width, height)."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = WALL
    r, zn, top = layout.room_half_w, layout.back_z + 3.0, 8.0
    _quad(img, cam, [(-r, 0, 0), (r, 0, 0), (r, 0, zn), (-r, 0, zn)], FLOOR)
    for side in (-1, 1):
        _quad(img, cam, [(side * r, 0, 0), (side * r, top, 0), (side * r, top, zn), (side * r, 0, zn)], SIDE_WALL)
    _floor_tiles(img, cam, r, zn)
    _wall_fixtures(img, cam, layout)
    _desks(img, cam, layout)
    noise = cv2.GaussianBlur(rng.normal(0, 3.0, (h, w)).astype(np.float32), (0, 0), 2.0)
    texture = img * _vignette(w, h)[..., None] + noise[..., None]  # plaster and dust, uneven light
    return np.clip(texture, 0, 255).astype(np.uint8)


def _floor_tiles(img: np.ndarray, cam: Camera, r: float, zn: float) -> None:
    color = tuple(c - 12 for c in FLOOR)
    for x in np.arange(-r + 0.6, r, 0.6):
        a, b = cam.project(float(x), 0, 0), cam.project(float(x), 0, zn)
        cv2.line(img, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), color, 1)
    for z in np.arange(0.6, zn, 0.6):
        a, b = cam.project(-r, 0, float(z)), cam.project(r, 0, float(z))
        cv2.line(img, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), color, 1)


def _wall_fixtures(img: np.ndarray, cam: Camera, layout: Layout) -> None:
    r, b0, b1 = layout.room_half_w, BOARD_Y[0], BOARD_Y[1]
    _quad(img, cam, [(-BOARD_HALF_W - 0.08, b0 - 0.08, 0), (BOARD_HALF_W + 0.08, b0 - 0.08, 0),
                     (BOARD_HALF_W + 0.08, b1 + 0.08, 0), (-BOARD_HALF_W - 0.08, b1 + 0.08, 0)], (160, 165, 165))
    _quad(img, cam, [(-BOARD_HALF_W, b0, 0), (BOARD_HALF_W, b0, 0), (BOARD_HALF_W, b1, 0),
                     (-BOARD_HALF_W, b1, 0)], BOARD_GREEN)
    _quad(img, cam, [(-BOARD_HALF_W, b0 - 0.1, 0), (BOARD_HALF_W, b0 - 0.1, 0),
                     (BOARD_HALF_W, b0 - 0.06, 0.08), (-BOARD_HALF_W, b0 - 0.06, 0.08)], (140, 145, 150))
    cu, cv = cam.project(0.0, 2.72, 0)
    cv2.circle(img, (round(cu), round(cv)), max(2, round(0.17 * cam.scale(0))), (245, 245, 245), -1)
    cv2.circle(img, (round(cu), round(cv)), max(2, round(0.17 * cam.scale(0))), (40, 40, 40), 1)
    _quad(img, cam, [(-1.6, 2.45, 0), (-0.5, 2.45, 0), (-0.5, 2.95, 0), (-1.6, 2.95, 0)], (40, 40, 170))
    _quad(img, cam, [(0.5, 2.45, 0), (1.6, 2.45, 0), (1.6, 2.95, 0), (0.5, 2.95, 0)], (40, 40, 170))
    for z0 in np.arange(1.4, layout.back_z + 1.5, 2.6):  # windows on the left wall
        z0 = float(z0)
        _quad(img, cam, [(-r, 0.95, z0), (-r, 2.7, z0), (-r, 2.7, z0 + 1.8), (-r, 0.95, z0 + 1.8)], (120, 120, 115))
        _quad(img, cam, [(-r, 1.0, z0 + 0.05), (-r, 2.65, z0 + 0.05), (-r, 2.65, z0 + 1.75),
                         (-r, 1.0, z0 + 1.75)], (245, 232, 215))
    _quad(img, cam, [(r, 0, 0.5), (r, 2.1, 0.5), (r, 2.1, 1.5), (r, 0, 1.5)], (50, 80, 120))  # door
    _quad(img, cam, [(r, 1.0, 2.6), (r, 2.2, 2.6), (r, 2.2, 4.6), (r, 1.0, 4.6)], (90, 140, 190))  # notice board
    lx = min(r - 0.5, BOARD_HALF_W + 0.75)
    _quad(img, cam, [(lx - 0.35, 1.05, 0.7), (lx + 0.35, 1.05, 0.7), (lx + 0.35, 1.05, 1.25),
                     (lx - 0.35, 1.05, 1.25)], (95, 130, 165))
    _quad(img, cam, [(lx - 0.35, 0, 1.25), (lx + 0.35, 0, 1.25), (lx + 0.35, 1.05, 1.25),
                     (lx - 0.35, 1.05, 1.25)], (55, 80, 110))


def _desks(img: np.ndarray, cam: Camera, layout: Layout) -> None:
    """Every seat of the room (also empty ones) gets a desk and a chair, far rows first."""
    for row in range(layout.n_rows):
        z = FIRST_ROW_Z + row * ROW_PITCH
        for col in range(layout.n_cols):
            x = -layout.half_span + (col // 2) * (2 * SEAT_W + AISLE_W) + (col % 2 + 0.5) * SEAT_W
            hw, d = SEAT_W * 0.48, DESK_DEPTH / 2
            _quad(img, cam, [(x - hw, DESK_Y, z - d), (x + hw, DESK_Y, z - d), (x + hw, DESK_Y, z + d),
                             (x - hw, DESK_Y, z + d)], DESK_TOP)
            _quad(img, cam, [(x - hw, DESK_Y, z + d), (x + hw, DESK_Y, z + d), (x + hw, 0.55, z + d),
                             (x - hw, 0.55, z + d)], DESK_SIDE)
            zc = z + STUDENT_BACK + 0.1
            _quad(img, cam, [(x - 0.17, 0.45, zc), (x + 0.17, 0.45, zc), (x + 0.17, 0.82, zc),
                             (x - 0.17, 0.82, zc)], CHAIR)


def _vignette(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rr = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    return (1.0 - 0.35 * rr).astype(np.float32)


# --- the blackboard ------------------------------------------------------------------------
LINE_TOPS = (1.92, 1.64, 1.36, 1.08)  # top of each text line; all within the teacher's reach
CHAR_W, CHAR_H = 0.22, 0.2
BOARD_MARGIN = 0.15
STROKES_PER_S = 5.5  # about 1.4 characters a second
ERASE_S = 1.8
CHALK: Color = (222, 230, 234)
STROKE_SHAPES = (
    ((0.1, 0.25), (0.9, 0.22)), ((0.15, 0.5), (0.85, 0.5)), ((0.1, 0.85), (0.9, 0.82)),
    ((0.3, 0.1), (0.3, 0.9)), ((0.5, 0.05), (0.5, 0.95)), ((0.72, 0.15), (0.7, 0.85)),
    ((0.55, 0.2), (0.15, 0.8)), ((0.4, 0.35), (0.9, 0.9)), ((0.45, 0.1), (0.55, 0.2)),
    ((0.2, 0.6), (0.8, 0.6)), ((0.75, 0.4), (0.6, 0.95)),
)


def _glyph(rng: np.random.Generator) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """A character-like set of 2-6 strokes in a unit cell (y down)."""
    picks = rng.choice(len(STROKE_SHAPES), size=int(rng.integers(2, 7)), replace=False)
    out = []
    for i in sorted(int(p) for p in picks):
        (x0, y0), (x1, y1) = STROKE_SHAPES[i]
        j = rng.uniform(-0.06, 0.06, 4)
        out.append(((x0 + j[0], y0 + j[1]), (x1 + j[2], y1 + j[3])))
    return out


class Chalkboard:
    """Chalk text written stroke by stroke into the background, and wiped off again."""

    def __init__(self, background: np.ndarray, cam: Camera, rng: np.random.Generator) -> None:
        self.bg, self.cam, self.rng = background, cam, rng
        u0, v0 = cam.project(-BOARD_HALF_W, BOARD_Y[1], 0.0)
        u1, v1 = cam.project(BOARD_HALF_W, BOARD_Y[0], 0.0)
        self.box = (math.floor(u0), math.floor(v0), math.ceil(u1), math.ceil(v1))
        self.pristine = self._region().copy()
        self.glyphs = [_glyph(rng) for _ in range(40)]
        self.cols = int((2 * BOARD_HALF_W - 2 * BOARD_MARGIN) / CHAR_W)
        self.capacity = self.cols * len(LINE_TOPS)
        self.chars = 0
        self.queue: list[tuple[tuple[float, float], tuple[float, float]]] = []
        self.budget = 0.0
        self.hand: tuple[float, float] | None = None
        self.erasing: float | None = None
        self.thickness = max(1, round(0.014 * cam.scale(0.0)))

    def _region(self) -> np.ndarray:
        x0, y0, x1, y1 = self.box
        return self.bg[y0:y1, x0:x1]

    @property
    def fill(self) -> float:
        return self.chars / self.capacity

    def start_erase(self) -> None:
        self.erasing, self.queue, self.budget = 0.0, [], 0.0

    def advance(self, dt: float, writing: bool) -> tuple[float, float] | None:
        """Move the chalk on by dt seconds; returns where the hand is (board X, Y), None if idle."""
        if self.erasing is not None:
            return self._erase(dt) if writing else None
        if not writing:
            self.budget = 0.0
            return None
        self.budget += dt
        cost = 1.0 / STROKES_PER_S
        while self.budget >= cost and self.chars < self.capacity:
            self.budget -= cost
            self._next_stroke()
        return self.hand

    def _next_stroke(self) -> None:
        if not self.queue:
            if self.rng.random() < 0.12:  # a gap between words, or a pause to read back
                self.chars += 1
                self.budget -= float(self.rng.uniform(0.2, 0.8))
                return
            line, col = divmod(self.chars, self.cols)
            x0 = -BOARD_HALF_W + BOARD_MARGIN + col * CHAR_W
            top = LINE_TOPS[line]
            glyph = self.glyphs[int(self.rng.integers(len(self.glyphs)))]
            w, h = CHAR_W * 0.85, CHAR_H
            self.queue = [((x0 + a[0] * w, top - a[1] * h), (x0 + b[0] * w, top - b[1] * h)) for a, b in glyph]
        p, q = self.queue.pop(0)
        a, b = self.cam.project(p[0], p[1], 0.0), self.cam.project(q[0], q[1], 0.0)
        cv2.line(self.bg, (round(a[0] * ONE), round(a[1] * ONE)), (round(b[0] * ONE), round(b[1] * ONE)),
                 CHALK, self.thickness, cv2.LINE_8, SHIFT)
        self.hand = q
        if not self.queue:
            self.chars += 1
            if self.chars % self.cols == 0:
                self.budget -= 0.8  # step along to the next line

    def _erase(self, dt: float) -> tuple[float, float]:
        """Wipe left to right, leaving a faint ghost of the old chalk."""
        assert self.erasing is not None
        start = self.erasing
        self.erasing = min(1.0, start + dt / ERASE_S)
        region = self._region()
        w = region.shape[1]
        a, b = int(start * w), int(self.erasing * w) if self.erasing < 1.0 else w
        if b > a:
            region[:, a:b] = cv2.addWeighted(self.pristine[:, a:b], 0.88, region[:, a:b], 0.12, 0.0)
        x = -BOARD_HALF_W + self.erasing * 2 * BOARD_HALF_W
        y = 1.15 + 0.7 * abs(math.sin(self.erasing * math.pi * 6))
        if self.erasing >= 1.0:
            self.erasing, self.chars, self.hand = None, 0, None
        return x, y


# --- who does what ---------------------------------------------------------------------------
def assign_students(script: LessonScript, persistence: float = 0.85) -> np.ndarray:
    """Behaviour index per (point, student) with exactly ``student_counts[k]`` students in each
    behaviour. A student keeps their behaviour with probability ``persistence`` while the counts
    allow; hands that were up get called on to answer; talkers come in desk-mate pairs."""
    layout = build_layout(script.class_size)
    mates = np.array([s.mate for s in layout.seats])
    rng = np.random.default_rng([script.seed, 101])
    out = np.empty((script.n_points, script.class_size), np.int8)
    prev = np.full(script.class_size, -1, np.int8)
    for k in range(script.n_points):
        prev = _assign_point(script.student_counts[k], prev, mates, rng, persistence)
        out[k] = prev
    return out


def _assign_point(counts: np.ndarray, prev: np.ndarray, mates: np.ndarray, rng: np.random.Generator,
                  persistence: float) -> np.ndarray:
    n = len(prev)
    cur = np.full(n, -1, np.int8)
    stay = rng.random(n) < persistence
    for b in range(5):
        held = np.flatnonzero((prev == b) & stay)
        if len(held) > counts[b]:
            held = np.sort(rng.permutation(held)[: counts[b]])
        cur[held] = b
    pair_key = np.where(mates >= 0, np.minimum(np.arange(n), mates), np.arange(n))
    for b in (ANSWER, HAND, TALK, READ, LISTEN):
        need = int(counts[b]) - int(np.count_nonzero(cur == b))
        if need <= 0:
            continue
        free = np.flatnonzero(cur < 0)
        priority = rng.random(len(free))
        if b == ANSWER:
            priority -= prev[free] == HAND
        elif b == TALK:  # mates share a priority so that pairs are picked together
            priority = rng.random(n)[pair_key[free]] + 0.01 * priority
            mate = mates[free]
            priority -= (mate >= 0) & (cur[np.maximum(mate, 0)] == TALK)
        cur[free[np.argsort(priority, kind="stable")[:need]]] = b
    return cur


def choose_speakers(assign: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    """Per point, the student whose voice answers (-1: none): an answering student, the same one
    as before while they still answer; in teacher-student interaction without one, a hand-raiser."""
    out = np.full(assign.shape[0], -1, np.int32)
    prev = -1
    for k, row in enumerate(assign):
        answering = np.flatnonzero(row == ANSWER)
        if prev in answering:
            out[k] = prev
        elif len(answering):
            out[k] = answering[0]
        elif teacher[k] == INTERACT:
            hands = np.flatnonzero(row == HAND)
            out[k] = hands[0] if len(hands) else (7 * k) % assign.shape[1]
        prev = int(out[k])
    return out


# --- choreography ----------------------------------------------------------------------------
class Voices(Protocol):
    """Who is speaking when (the audio track's speech plan)."""

    def talking(self, who: int, t: float) -> bool:
        """``who``: -1 the teacher, otherwise a student index."""
        ...

    def student_turn(self, t: float) -> bool: ...


TAU = 2 * math.pi


class TeacherDirector:
    """The teacher's pose frame by frame; stateful, so frames must be asked for in order."""

    def __init__(self, script: LessonScript, room: Classroom, rng: np.random.Generator) -> None:
        self.codes = script.teacher
        self.room, self.rng = room, rng
        self.p = rng.uniform(0, TAU, 12)
        self.x, self.z, self.walk = 0.0, 1.15, 0.0
        self.prev_code = -1
        self.aisle, self.direction, self.pause = 0.0, 1, 0.0

    def step(self, t: float, dt: float, k: int) -> TeacherPose:
        code = int(self.codes[k])
        new_run = code != self.prev_code
        self.prev_code = code
        if code != WRITE:
            self.room.board.advance(dt, writing=False)
        if code == WRITE:
            return self._write(dt, new_run)
        if code == PATROL:
            return self._patrol(t, dt, new_run)
        if code == INTERACT:
            return self._interact(t, dt, new_run)
        return self._lecture(t, dt, new_run)

    def _move_to(self, x: float, z: float, dt: float, new_run: bool, speed: float = 1.0) -> float:
        """Walk toward (x, z) (jump there on a new run); returns a stride value for the legs."""
        if new_run:
            self.x, self.z = x, z
            return 0.0
        dx = max(-speed * dt, min(speed * dt, x - self.x))
        dz = max(-speed * dt, min(speed * dt, z - self.z))
        self.x, self.z = self.x + dx, self.z + dz
        moved = math.hypot(dx, dz)
        self.walk += moved / 0.3 * math.pi
        return math.sin(self.walk) * min(1.0, moved / max(dt, 1e-6) / 0.3)

    def _lecture(self, t: float, dt: float, new_run: bool) -> TeacherPose:
        p = self.p
        x = 1.5 * math.sin(TAU * t / 41 + p[0]) + 0.4 * math.sin(TAU * t / 13 + p[1])
        stride = self._move_to(max(-2.2, min(2.2, x)), 1.1 + 0.15 * math.sin(TAU * t / 29 + p[2]), dt, new_run)
        g = 1.0 if self.room.voices.talking(-1, t) else 0.25  # gestures go with speech
        wave = [0.5 + 0.5 * math.sin(TAU * f * t + p[3 + j]) for j, f in enumerate((0.7, 0.45, 0.55, 0.35))]
        right = (0.16 + 0.2 * g * wave[0], 0.95 + 0.24 * g * wave[1])
        left = (-0.18 - 0.12 * g * wave[2], 0.86 + 0.12 * g * wave[3])
        return TeacherPose(self.x, self.z, True, left, right, stride, head_dx=0.012 * math.sin(TAU * 0.3 * t + p[7]))

    def _interact(self, t: float, dt: float, new_run: bool) -> TeacherPose:
        stride = self._move_to(0.5 * math.sin(TAU * t / 53 + self.p[8]), 1.25, dt, new_run, speed=0.5)
        listening = self.room.voices.student_turn(t)
        nod = -0.015 if listening and math.sin(TAU * 1.6 * t) > 0 else 0.0
        lift = 0.0 if listening else 0.06 * math.sin(TAU * 0.8 * t + self.p[9])
        return TeacherPose(self.x, self.z, True, REST_LEFT, (0.36, 1.2 + lift), stride, head_dy=nod)

    def _patrol(self, t: float, dt: float, new_run: bool) -> TeacherPose:
        layout = self.room.layout
        front, back = FIRST_ROW_Z + 0.3, layout.back_z + 0.3  # between the desks, never at the front
        if new_run:  # pick up the walk somewhere along an aisle, among the desks
            self.aisle = layout.aisles[int(self.rng.integers(len(layout.aisles)))]
            self.direction, self.pause = (1 if self.rng.random() < 0.5 else -1), 0.0
            self._move_to(self.aisle, float(self.rng.uniform(front + 0.6, back)), dt, True)
        speed = 0.0
        if self.pause > 0:
            self.pause -= dt
        else:
            speed = 0.55
            if self.rng.random() < 0.12 * dt:  # stop to look at someone's work
                self.pause = float(self.rng.uniform(1.5, 3.5))
        z = self.z + self.direction * speed * dt
        if not front <= z <= back:
            self.direction = -self.direction
            z = min(back, max(front, z))
        stride = self._move_to(self.aisle, z, dt, False, speed=1.0) if speed else 0.0
        hands = ((-0.1, 1.0), (0.1, 1.0)) if self.direction > 0 else (REST_LEFT, REST_RIGHT)
        return TeacherPose(self.x, self.z, self.direction > 0, hands[0], hands[1], stride,
                           head_dx=0.02 * math.sin(TAU * 0.2 * t + self.p[10]))

    def _write(self, dt: float, new_run: bool) -> TeacherPose:
        board = self.room.board
        if board.erasing is None and (board.chars >= board.capacity or (new_run and (
                board.fill >= 0.6 or (board.fill >= 0.3 and self.rng.random() < 0.25)))):
            board.start_erase()
        hand = board.advance(dt, writing=True)
        target = hand[0] - 0.3 if hand is not None else self.x
        stride = self._move_to(max(-BOARD_HALF_W + 0.1, min(BOARD_HALF_W - 0.3, target)), TEACHER_BOARD_Z, dt,
                               new_run, speed=0.9)
        right = (0.25, 1.0) if hand is None else self._body_point(hand)
        return TeacherPose(self.x, self.z, False, (-0.22, 0.95), right, stride)

    def _body_point(self, board_point: tuple[float, float]) -> tuple[float, float]:
        """A point on the board in the teacher's body metres, so the drawn hand covers it."""
        cam = self.room.cam
        uh, vh = cam.project(board_point[0], board_point[1], 0.0)
        uf, vf = cam.project(self.x, 0.0, self.z)
        s = cam.scale(self.z) * self.room.teacher_look.size
        return (uh - uf) / s, (vf - vh) / s


# --- the classroom: everything needed to draw a frame -----------------------------------------
VARIANT_RATE = np.array((0.6, 2.5, 3.0, 6.0, 3.0))  # Hz: how often each behaviour's motion phase changes
_GLANCES = (1,) * 10 + (0,) * 4 + (2,) * 4 + (3, 4)  # listening: mostly still, now and then a glance
VARIANT_LUT = np.array([[_GLANCES[j % 20] for j in range(60)], [j % 3 for j in range(60)],
                        [j % 3 for j in range(60)], [j % 4 for j in range(60)], [j % 3 for j in range(60)]])


class Classroom:
    def __init__(self, script: LessonScript, width: int, height: int, margin: int, voices: Voices,
                 assign: np.ndarray | None = None) -> None:
        """A canvas of (width + 2 margin) x (height + 2 margin); ``assign`` as from ``assign_students``."""
        rng = np.random.default_rng([script.seed, 7])
        self.script, self.voices = script, voices
        self.layout = build_layout(script.class_size)
        self.cam = fit_camera(self.layout, width, height, margin)
        self.background = render_background(self.layout, self.cam, (width + 2 * margin, height + 2 * margin), rng)
        self.board = Chalkboard(self.background, self.cam, np.random.default_rng([script.seed, 8]))
        self.looks = make_looks(script.class_size, rng)
        self.teacher_look = teacher_look(rng)
        depth = [s.z + STUDENT_BACK for s in self.layout.seats]
        anchors = [self.cam.project(s.x, SPRITE_BASE_Y, d) for s, d in zip(self.layout.seats, depth, strict=True)]
        self.canvas = np.empty_like(self.background)
        self.sprites = StudentSprites(self.looks, [self.cam.scale(d) for d in depth],
                                      [(round(u), round(v)) for u, v in anchors], self.canvas)
        self.order = sorted(range(script.class_size), key=lambda i: depth[i])
        self.depths = [depth[i] for i in self.order]
        self.assign = assign_students(script) if assign is None else assign
        self.turn = np.array([0 if (s.mate >= 0) == (s.side < 0) else 3 for s in self.layout.seats])
        self.table = rng.integers(0, 1 << 30, (script.class_size, 97))  # per student, in drawing order
        self.phase = rng.uniform(0, 97, script.class_size)
        self.rows = np.arange(script.class_size)
        self._window = -1
        self.director = TeacherDirector(script, self, np.random.default_rng([script.seed, 9]))

    def draw(self, t: float, dt: float, k: int) -> np.ndarray:
        """Draw the frame at time t (in point k) into ``self.canvas`` and return it.
        Frames must come in order: the teacher and the board keep state."""
        pose = self.director.step(t, dt, k)
        np.copyto(self.canvas, self.background)
        keys = self._keys(k, t)
        split = bisect.bisect_left(self.depths, pose.z)
        self._students(self.order[:split], keys[:split])
        draw_teacher(self.canvas, self.cam, self.teacher_look, pose)
        self._students(self.order[split:], keys[split:])
        return self.canvas

    def _students(self, students: list[int], keys: list[int]) -> None:
        cache, make, copy = self.sprites.cache, self.sprites.make, cv2.copyTo
        for i, key in zip(students, keys, strict=True):
            sprite = cache[i].get(key, False)
            if sprite is False:
                sprite = make(i, key)
            if sprite is not None:
                copy(*sprite)

    def _keys(self, k: int, t: float) -> list[int]:
        """Sprite key (behaviour * 8 + motion variant) of every student, in drawing order."""
        if k != self._window:
            self._window = k
            b = self.assign[k][self.order].astype(np.int64)
            self._rate = VARIANT_RATE[b]
            self._lut = VARIANT_LUT[b]  # (students, 60)
            self._base = b * 8 + np.where(b == TALK, self.turn[self.order], 0)
            self._answering = [(n, int(i)) for n, i in enumerate(self.order) if b[n] == ANSWER]
        slot = (t * self._rate + self.phase).astype(np.int64) % 97
        r = self.table[self.rows, slot] % VARIANT_LUT.shape[1]
        keys = (self._base + self._lut[self.rows, r]).tolist()
        for n, i in self._answering:  # an answering student moves only while speaking
            if not self.voices.talking(i, t):
                keys[n] = ANSWER * 8
        return keys
