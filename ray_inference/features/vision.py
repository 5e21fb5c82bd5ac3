"""Vision features from a fixed classroom camera: what changes where, and how people move.

Everything is relative, so that resolution, exposure, lights and cameras matter little:

- pictures arrive at one analysis size (the decoder scales them), so zones are fractions
  of the frame, not pixels;
- luminance is divided by its own blurred illumination (a retinex-style normalisation):
  a lamp bank switching off, exposure drift or flicker scale both and cancel;
- small camera shake is undone by phase correlation against the lesson's reference;
- each lesson gets its own reference picture, the per-pixel median of some of its
  pictures: the room as it usually looks (desks, seated students, the board). A point is
  described by how it departs from that reference, zone by zone, and by how it moves
  between the point's pictures.

``scene`` describes a grid of zones: departure from the reference (brightness and
colour), dark-pixel share (hair, heads; heads bowed over desks leave their usual place),
vertical and horizontal edge density (raised arms and standing bodies add vertical
edges), and motion between pictures; plus the same per row band and column band, and the
row bands divided by their occupancy in the reference (how many people usually sit
there), so that shares do not depend on class size; and a rough count of heads (dark
blobs) as the students seen. ``board`` finds the blackboard (the largest dark, smooth,
wide region in the upper half of the reference) and measures chalk on it, its change
within and across points, and how much of it someone hides.

All per-picture work is on 8-bit images with OpenCV (≈ 1–2 ms a picture at 384×216).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ray_inference.features.base import ExtractorConfig, LessonInput, register

GRID = (8, 8)  # rows, columns of zones
ILLUM_SCALE = 8  # illumination is estimated at 1/8 of the analysis size
NORM_SCALE = 64.0  # normalised luminance is stored as uint8: value * 64 (1.0 = the local illumination)
DARK = 0.55  # normalised luminance below this is "dark" (hair, shadowed clothes)
REFERENCE_PICTURES = 32  # pictures in a lesson's reference median
STABILISE_STRIP = 0.2  # top share of the frame used to measure camera shake
CHANGE = 0.2 * NORM_SCALE  # a pixel "changed" when its normalised luminance moved this much
CHROMA_CHANGE = 16  # ... or its colour (Cr + Cb, 8-bit units)
EDGE = 0.15 * NORM_SCALE  # a luminance step this large between neighbours is an edge
DENOISE_SIGMA = 0.8  # pixels; a light blur before anything is measured
EPS = 1e-3


@dataclass
class Prepared:
    """Per-lesson pictures in normalised form, shared by the vision extractors."""

    norm: np.ndarray  # (n, H, W) uint8: luminance / illumination * NORM_SCALE
    ycc: np.ndarray  # (n, H, W, 3) uint8 YCrCb (chroma for colour change)
    ref_norm: np.ndarray  # (H, W) uint8
    ref_ycc: np.ndarray  # (H, W, 3) uint8; its luminance finds large dark surfaces (the board)
    shifts: np.ndarray  # (n, 2) camera shake undone, pixels


def prepare(lesson: LessonInput) -> Prepared:
    cached = lesson.cache.get("vision.prepared")
    if isinstance(cached, Prepared):
        return cached
    n, h, w = lesson.images.shape[:3]
    norm = np.empty((n, h, w), np.uint8)
    ycc = np.empty((n, h, w, 3), np.uint8)
    for i, img in enumerate(lesson.images):
        cv2.cvtColor(cv2.GaussianBlur(img, (5, 5), DENOISE_SIGMA), cv2.COLOR_BGR2YCrCb, dst=ycc[i])
        norm[i] = _normalise(ycc[i, :, :, 0])
    pick = np.linspace(0, n - 1, min(n, REFERENCE_PICTURES)).round().astype(int)
    ref = np.median(norm[pick], axis=0).astype(np.uint8)
    shifts = _stabilise(norm, ref)
    moved = np.flatnonzero(np.abs(shifts).max(axis=1) >= 0.5)
    for i in moved:
        m = np.float32([[1, 0, -shifts[i, 0]], [0, 1, -shifts[i, 1]]])
        norm[i] = cv2.warpAffine(norm[i], m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        ycc[i] = cv2.warpAffine(ycc[i], m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if len(moved):
        ref = np.median(norm[pick], axis=0).astype(np.uint8)
    prepared = Prepared(norm, ycc, ref, np.median(ycc[pick], axis=0).astype(np.uint8), shifts)
    lesson.cache["vision.prepared"] = prepared
    return prepared


def _normalise(luma: np.ndarray) -> np.ndarray:
    h, w = luma.shape
    small = cv2.resize(luma, (w // ILLUM_SCALE, h // ILLUM_SCALE), interpolation=cv2.INTER_AREA).astype(np.float32)
    illum = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (w, h), interpolation=cv2.INTER_LINEAR) + 8.0
    return cv2.divide(luma.astype(np.float32), illum, scale=NORM_SCALE, dtype=cv2.CV_8U)


def _stabilise(norm: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Global shift of each picture against the reference, by phase correlation on the top strip of
    the frame (wall, clock, board edge: nobody walks there, so people moving cannot fake a shift)."""
    h, w = ref.shape
    strip = max(16, int(STABILISE_STRIP * h))
    window = cv2.createHanningWindow((w, strip), cv2.CV_32F)
    top = ref[:strip].astype(np.float32)
    out = np.full((len(norm), 2), np.nan, np.float32)
    for i, img in enumerate(norm):
        (dx, dy), response = cv2.phaseCorrelate(top, img[:strip].astype(np.float32), window)
        if response > 0.5 and abs(dx) < 0.05 * w and abs(dy) < 0.05 * h:
            out[i] = (dx, dy)
    if np.isnan(out).all():
        return np.zeros_like(out)
    out -= np.nanmedian(out, axis=0)  # the reference sits where the camera usually is
    return np.nan_to_num(out)


def zones(img: np.ndarray) -> np.ndarray:
    """(H, W) uint8 → (rows, cols) float32 zone means (the analysis size divides into the grid). Summed as
    integers, whole rows first (2.5x faster than a float mean over the block axes, which it equals exactly: a
    zone's sum of bytes is an integer far below 2**24, so float32 held it exactly too)."""
    rows, cols = GRID
    h, w = img.shape
    bh, bw = h // rows, w // cols
    cut = img[: rows * bh, : cols * bw]
    sums = cut.reshape(rows, bh, cols * bw).sum(axis=1, dtype=np.int32).reshape(rows, cols, bw).sum(axis=2)
    return sums.astype(np.float32) / np.float32(bh * bw)


def _past(img: np.ndarray, threshold: float) -> np.ndarray:
    """0/1 mask of pixels above ``threshold``."""
    return (img > threshold).view(np.uint8)


def _edges(img: np.ndarray, axis: int) -> np.ndarray:
    """0/1 mask of strong luminance steps along ``axis`` (1: across columns = vertical edges)."""
    out = np.zeros_like(img)
    if axis == 1:
        cv2.absdiff(img[:, 1:], img[:, :-1], dst=out[:, 1:])
    else:
        cv2.absdiff(img[1:], img[:-1], dst=out[1:])
    return _past(out, EDGE)


def _dark(img: np.ndarray) -> np.ndarray:
    return (img < DARK * NORM_SCALE).view(np.uint8)


class Scene:
    name = "scene"
    version = 1
    modality = "video"
    MAPS = ("fg", "chroma", "dark", "vedge", "hedge", "motion")
    PER_OCCUPANCY = ("fg", "dark", "vedge", "motion")
    FLOORED = (0, 1, 5)  # change maps: the lesson's quietest level (sensor and compression noise) is removed

    def __init__(self, config: ExtractorConfig) -> None:
        self.config = config

    def feature_names(self) -> list[str]:
        rows, cols = GRID
        names = [f"{m}_z{r}{c}" for m in self.MAPS for r in range(rows) for c in range(cols)]
        names += [f"{m}_row{r}" for m in self.MAPS for r in range(rows)]
        names += [f"{m}_col{c}" for m in self.MAPS for c in range(cols)]
        names += [f"{m}_row{r}_per_occupancy" for m in self.PER_OCCUPANCY for r in range(rows)]
        names += [f"occupancy_row{r}" for r in range(rows)]
        names += ["students_seen"]
        return names

    def extract(self, lesson: LessonInput) -> np.ndarray:
        p = prepare(lesson)
        z = self._zone_maps(p, lesson)  # (n_points, maps, rows, cols)
        occupancy = self._occupancy(p)  # (rows,)
        rows_mean, cols_mean = z.mean(axis=3), z.mean(axis=2)
        idx = [self.MAPS.index(m) for m in self.PER_OCCUPANCY]
        per_occ = rows_mean[:, idx, :] / (occupancy[None, None, :] + 0.02)
        n = lesson.n_points
        seen = np.array([self._heads(p.norm[i]) for i in lesson.by_slot()[:, 0]], np.float32)
        return np.concatenate([
            z.reshape(n, -1), rows_mean.reshape(n, -1), cols_mean.reshape(n, -1), per_occ.reshape(n, -1),
            np.repeat(occupancy[None, :], n, axis=0), seen[:, None],
        ], axis=1).astype(np.float32)

    def _zone_maps(self, p: Prepared, lesson: LessonInput) -> np.ndarray:
        """Per point and zone, shares of pixels: changed from the reference (brightness, colour), dark,
        on a vertical or horizontal edge (both relative to the reference), moving between pictures.
        Shares of pixels past a threshold, not mean differences: sensor noise moves the mean, rarely
        the threshold."""
        ref = p.ref_norm
        ref_maps = np.stack([zones(_dark(ref)), zones(_edges(ref, 1)), zones(_edges(ref, 0))])
        slots = lesson.by_slot()
        m = slots.shape[1]
        out = np.zeros((lesson.n_points, len(self.MAPS), *GRID), np.float32)
        for k, row in enumerate(slots):
            for j, i in enumerate(row):
                img = p.norm[i]
                chroma = cv2.add(cv2.absdiff(p.ycc[i, :, :, 1], p.ref_ycc[:, :, 1]),
                                 cv2.absdiff(p.ycc[i, :, :, 2], p.ref_ycc[:, :, 2]))
                out[k, 0] += zones(_past(cv2.absdiff(img, ref), CHANGE))
                out[k, 1] += zones(_past(chroma, CHROMA_CHANGE))
                out[k, 2:5] += np.stack([zones(_dark(img)), zones(_edges(img, 1)), zones(_edges(img, 0))]) - ref_maps
                if j:
                    out[k, 5] += zones(_past(cv2.absdiff(img, p.norm[row[j - 1]]), CHANGE))
                elif m == 1:  # one picture a point: the change since the previous point's picture
                    out[k, 5] = zones(_past(cv2.absdiff(img, p.norm[slots[k - 1, 0]]), CHANGE)) if k else np.nan
        out[:, :5] /= m
        if m > 1:
            out[:, 5] /= m - 1
        floor = np.nanpercentile(out[:, self.FLOORED], 5, axis=0) if lesson.n_points >= 4 else 0.0
        out[:, self.FLOORED] = np.maximum(out[:, self.FLOORED] - floor, 0.0)
        return out

    @staticmethod
    def _occupancy(p: Prepared) -> np.ndarray:
        """How much of each row band is usually people (dark hair and textured clothes), from the reference."""
        ref = p.ref_norm
        busy = ((ref < DARK * NORM_SCALE) | (_edges(ref, 1) > 0)).astype(np.float32)
        return cv2.resize(busy, (1, GRID[0]), interpolation=cv2.INTER_AREA)[:, 0]

    @staticmethod
    def _heads(img: np.ndarray) -> float:
        """Head-like dark blobs in the lower two thirds (a rough count of the students seen)."""
        h, w = img.shape
        mask = (img[h // 3 :] < DARK * 0.8 * NORM_SCALE).view(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = stats[1:, cv2.CC_STAT_AREA]
        return float(np.count_nonzero((area >= 4e-5 * h * w) & (area <= 3e-3 * h * w)))


class Board:
    name = "board"
    version = 1
    modality = "video"

    def __init__(self, config: ExtractorConfig) -> None:
        self.config = config

    def feature_names(self) -> list[str]:
        return ["found", "chalk", "chalk_change_in_point", "chalk_change_from_previous", "chalk_gain_in_point",
                "occluded", "occluder_x", "area"]

    def extract(self, lesson: LessonInput) -> np.ndarray:
        p = prepare(lesson)
        box = find_board(p.ref_ycc[:, :, 0])
        n = lesson.n_points
        out = np.full((n, len(self.feature_names())), np.nan, np.float32)
        out[:, 0] = 0.0
        if box is None:
            return out
        x0, y0, x1, y1 = box
        ref = p.ref_norm[y0:y1, x0:x1]
        bright = max(float(np.median(ref)) * 1.6, 1.0)
        chalk = np.empty(len(p.norm), np.float32)
        occluded = np.empty(len(p.norm), np.float32)
        centre = np.full(len(p.norm), np.nan, np.float32)
        for i, img in enumerate(p.norm):
            region = img[y0:y1, x0:x1]
            chalk[i] = np.count_nonzero(region > bright) / region.size
            cols = (cv2.absdiff(region, ref) > 0.25 * NORM_SCALE).mean(axis=0)
            occluded[i] = cols.mean()
            if cols.sum() > 0.5:
                centre[i] = (cols * np.arange(len(cols))).sum() / cols.sum() / max(1, len(cols) - 1)
        slots = lesson.by_slot()
        per_point = chalk[slots].mean(axis=1)
        out[:, 0] = 1.0
        out[:, 1] = per_point
        out[:, 2] = np.abs(chalk[slots[:, -1]] - chalk[slots[:, 0]])
        out[:, 3] = np.abs(np.diff(per_point, prepend=per_point[:1]))
        out[:, 4] = chalk[slots[:, -1]] - chalk[slots[:, 0]]
        out[:, 5] = occluded[slots].mean(axis=1)
        out[:, 6] = nanmean_rows(centre[slots])
        out[:, 7] = (x1 - x0) * (y1 - y0) / p.ref_norm.size
        return out


def nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN; NaN where a row has no value (without numpy's warning)."""
    valid = ~np.isnan(values)
    count = valid.sum(axis=1)
    total = np.where(valid, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def find_board(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest dark, smooth, wide region in the upper half of the reference luminance: a blackboard
    (the box is shrunk a little so that its frame never counts as chalk)."""
    h, w = luma.shape
    upper = luma[: h // 2].astype(np.float32)
    smooth = cv2.blur(upper, (5, 5))
    mask = ((smooth < np.median(upper) * 0.6) & (np.abs(upper - smooth) < 12)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    best = None
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        board_like = bw >= 0.2 * w and bh >= 0.05 * h and bw > 1.5 * bh and area >= 0.5 * bw * bh
        if board_like and (best is None or area > best[4]):
            best = (x, y, bw, bh, area)
    if best is None:
        return None
    x, y, bw, bh, _ = best
    mx, my = max(1, bw // 40), max(1, bh // 20)
    return int(x + mx), int(y + my), int(x + bw - mx), int(y + bh - my)


@register("scene")
def _scene(config: ExtractorConfig) -> Scene:
    return Scene(config)


@register("board")
def _board(config: ExtractorConfig) -> Board:
    return Board(config)
