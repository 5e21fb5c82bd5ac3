"""Optional extractor ``pose``: a multi-person keypoint network the operator provides, run with
onnxruntime on the GPU when the actor has one.

It expects a YOLO-pose style ONNX export (e.g. ``yolo11n-pose`` exported once with
``format="onnx"``; the weights are not shipped here — AGPL-licensed, and they need a
download): input ``(batch, 3, S, S)`` RGB in [0, 1], letterboxed; output ``(batch, 56, N)``
rows ``cx, cy, w, h, score`` and 17 COCO keypoints ``(x, y, confidence)``. Set::

    JIAOYAN_INFER_EXTRACTORS=scene,board,speech,pose
    JIAOYAN_INFER_EXTRACTOR_OPTIONS='{"pose_model": "/models/yolo11n-pose.onnx", "pose_size": "640"}'
    JIAOYAN_INFER_EXTRACTOR_DEVICE=cuda   # CUDAExecutionProvider (onnxruntime-gpu), else CPU

Per point it describes the people found: how many, and the shares with a wrist above the
head (hand raised), standing, head lowered toward the desk, turned sideways (one shoulder
hidden), plus where the tallest person (usually the teacher) stands. A model trained with
``pose`` in its feature set needs it at inference; the default feature set does without.
On a CPU it costs ≈ 140–450 ms a picture (see ``/work/shared/OFFLINE-COMPONENTS.md``); on a
GPU a few milliseconds.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ray_inference.features.base import ExtractorConfig, LessonInput, register

NOSE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP, L_KNEE, R_KNEE = (
    0, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14)
SCORE, KEYPOINT = 0.35, 0.3


class Pose:
    name = "pose"
    version = 1
    modality = "video"

    def __init__(self, config: ExtractorConfig, session: Any = None) -> None:
        self.config = config
        self.size = int(config.options.get("pose_size", "640"))
        self.session = session or self._session(config)

    @staticmethod
    def _session(config: ExtractorConfig) -> Any:
        import onnxruntime as ort

        path = config.options.get("pose_model")
        if not path:
            raise ValueError("extractor 'pose' needs the weights: set JIAOYAN_INFER_EXTRACTOR_OPTIONS="
                             '\'{"pose_model": "/path/to/pose.onnx"}\'')
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if config.device == "cuda" else [
            "CPUExecutionProvider"]
        return ort.InferenceSession(path, providers=providers)

    def feature_names(self) -> list[str]:
        return ["people", "raised", "standing", "head_down", "turned", "tallest_x", "tallest_foot_y",
                "tallest_height"]

    def extract(self, lesson: LessonInput) -> np.ndarray:
        per_picture = self._describe(lesson.images)
        slots = lesson.by_slot()
        return np.nanmean(per_picture[slots], axis=1).astype(np.float32) if len(per_picture) else np.zeros(
            (lesson.n_points, len(self.feature_names())), np.float32)

    def _describe(self, images: np.ndarray) -> np.ndarray:
        out = np.full((len(images), len(self.feature_names())), np.nan, np.float32)
        name = self.session.get_inputs()[0].name
        batch = max(1, self.config.batch_size)
        for start in range(0, len(images), batch):
            chunk = images[start : start + batch]
            tensors, scales = zip(*(letterbox(img, self.size) for img in chunk), strict=True)
            raw = self.session.run(None, {name: np.stack(tensors)})[0]
            for i, (pred, scale) in enumerate(zip(raw, scales, strict=True)):
                out[start + i] = describe(people(pred, scale), chunk[i].shape[:2])
        return out


def letterbox(img: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """BGR picture → (3, size, size) RGB float in [0, 1], padded; (scale, pad x, pad y) to map back."""
    h, w = img.shape[:2]
    s = size / max(h, w)
    nw, nh = round(w * s), round(h * s)
    canvas = np.full((size, size, 3), 114, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py : py + nh, px : px + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0, (s, px, py)


def people(pred: np.ndarray, scale: tuple[float, float, float]) -> np.ndarray:
    """(56, N) raw output → (people, 17, 3) keypoints in picture pixels, after NMS."""
    rows = pred.T
    keep = rows[:, 4] > SCORE
    rows = rows[keep]
    if not len(rows):
        return np.zeros((0, 17, 3), np.float32)
    boxes = np.column_stack([rows[:, 0] - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2, rows[:, 2], rows[:, 3]])
    picked = cv2.dnn.NMSBoxes(boxes.tolist(), rows[:, 4].tolist(), SCORE, 0.5)
    kp = rows[np.asarray(picked, int).reshape(-1), 5:].reshape(-1, 17, 3).copy()
    s, px, py = scale
    kp[:, :, 0] = (kp[:, :, 0] - px) / s
    kp[:, :, 1] = (kp[:, :, 1] - py) / s
    return kp


def describe(kp: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Shares of people with each posture, and the tallest person's place (fractions of the frame)."""
    h, w = shape
    if not len(kp):
        return np.array([0, 0, 0, 0, 0, np.nan, np.nan, np.nan], np.float32)
    conf = kp[:, :, 2] > KEYPOINT
    y = np.where(conf, kp[:, :, 1], np.nan)
    x = np.where(conf, kp[:, :, 0], np.nan)
    with np.errstate(all="ignore"):
        shoulder_y = np.nanmean(y[:, [L_SHOULDER, R_SHOULDER]], axis=1)
        width = np.abs(x[:, L_SHOULDER] - x[:, R_SHOULDER])
        head_y = np.nanmin(y[:, [NOSE, L_EAR, R_EAR]], axis=1)
        wrist_y = np.nanmin(y[:, [L_WRIST, R_WRIST]], axis=1)
        raised = wrist_y < np.where(np.isnan(head_y), shoulder_y - width, head_y)
        standing = conf[:, [L_KNEE, R_KNEE]].any(axis=1) & conf[:, [L_HIP, R_HIP]].any(axis=1)
        head_down = (head_y > shoulder_y - 0.25 * width) | (np.isnan(head_y) & conf[:, [L_SHOULDER, R_SHOULDER]].all(1))
        turned = conf[:, L_SHOULDER] != conf[:, R_SHOULDER]
        top, bottom = np.nanmin(y, axis=1), np.nanmax(y, axis=1)
        tallest = int(np.nanargmax(np.nan_to_num(bottom - top, nan=-1)))
    return np.array([len(kp), raised.mean(), standing.mean(), head_down.mean(), turned.mean(),
                     np.nanmean(x[tallest]) / w, bottom[tallest] / h, (bottom[tallest] - top[tallest]) / h],
                    np.float32)


@register("pose")
def _pose(config: ExtractorConfig) -> Pose:
    return Pose(config)
