"""Face Mesh as the tracker, for styles drawn from landmarks (characters, mesh-conditioned
generators).

One call a frame of MediaPipe's Face Mesh landmark model (refined: 478 points with irises), on the
camera frame, inside the square static Face Mesh reads: the short-range face detector's box x1.5,
turned by the eyes. That detector runs every `anchor_every`-th frame (default: every other), in
the square around the face the crop shows; in between, the square comes from the last frame's
landmarks and how this person's detector box sat on their landmarks at the last anchor
(`BoxFit`). The full-range `FaceDetector` runs only when there are no landmarks to follow.
Anchoring every other frame rather than every 10th costs 0.5-1 ms a frame and keeps every signal
the character reads within 0.02 of Face Mesh on the crop in its agreement with static Face Mesh
on the camera frame (every 10th: the demo face's brows 0.05-0.06 lower, three more signals
0.02-0.03).

This replaces, per frame, a full-range detection every third frame, optical flow, the crop's
pixels and a second Face Mesh pass (its own detector, then the model) on the crop. Reading the
square the landmarks' bounds give (MediaPipe's own tracking mode) would cost the same but agrees
less with static Face Mesh on the camera frame, the motion check's reference: the detector's box
sits on the landmarks differently per person (side 0.86-0.93 of their bounds on the three real
clips), and the mouth-open measure's correlation with the reference on 651.mp4 is 0.91 that way
against 0.98 this way (0.98 for Face Mesh on the crop before)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatar_cam.align import CropSpec, crop_square
from avatar_cam.expression import N_LANDMARKS
from avatar_cam.face import FaceDetector, FaceTracker, TrackerConfig, quiet_native_stderr
from avatar_cam.frame import Face
from avatar_cam.mediapipe_loader import load_mediapipe

# MediaPipe's own subgraphs (as static Face Mesh runs them), each fed a region of the frame
_LANDMARK_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "LANDMARKS:landmarks"
input_side_packet: "WITH_ATTENTION:with_attention"
node {
  name: "facelandmarkcpu"
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  input_side_packet: "WITH_ATTENTION:with_attention"
}
"""
_DETECTOR_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "DETECTIONS:detections"
node {
  calculator: "FaceDetectionShortRange"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "DETECTIONS:detections"
  node_options {
    [type.googleapis.com/mediapipe.FaceDetectionOptions] { delegate { xnnpack {} } }
  }
}
"""
EYE_CORNERS = (33, 263)  # the right eye's outer corner, the left eye's outer corner
ROI_SCALE = 1.5  # the square around the detector's box the landmark model reads
# The full-range detector's face box (what `FaceTracker` tracks and crops and characters are
# framed by) against the landmarks on the real clips (../shared/media, 136 frames): square,
# side 0.965 of the landmarks' bounds (3% spread), centred between the eyes' and mouth's middles.
DETECTOR_SIDE = 0.965


@dataclass(frozen=True)
class Region:
    """A square of the image: centre and side in pixels, rotation in radians (the eye line's
    angle, + clockwise on screen: MediaPipe's convention)."""

    center: tuple[float, float]
    side: float
    rotation: float


def _cut(image_bgr: np.ndarray, region: Region) -> tuple[np.ndarray, Region, tuple[int, int]]:
    """The part of the image `region` covers, as RGB (converting only that part), the region in
    its pixels, and its offset in the image."""
    h, w = image_bgr.shape[:2]
    half = region.side / 2 * (abs(math.cos(region.rotation)) + abs(math.sin(region.rotation))) + 2
    x0, y0 = max(0, int(region.center[0] - half)), max(0, int(region.center[1] - half))
    x1, y1 = min(w, int(math.ceil(region.center[0] + half))), min(h, int(math.ceil(region.center[1] + half)))
    if x1 <= x0 or y1 <= y0:  # the region is off the image: read it all
        x0, y0, x1, y1 = 0, 0, w, h
    part = cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
    moved = Region((region.center[0] - x0, region.center[1] - y0), region.side, region.rotation)
    return part, moved, (x0, y0)


def _rotation(a: np.ndarray, b: np.ndarray) -> float:
    return math.atan2(float(b[1]) - float(a[1]), float(b[0]) - float(a[0]))


def _bounds(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """The centre and longer side of the landmarks' bounds."""
    lo, hi = lm[:, :2].min(0), lm[:, :2].max(0)
    return (lo + hi) / 2, float(max(hi - lo))


def region_from_face(face: Face) -> Region:
    """Where static Face Mesh reads a detected face: its box x1.5, turned by the eyes (MediaPipe's
    `FaceDetectionFrontDetectionToRoi`)."""
    x, y, w, h = face.box
    return Region((x + w / 2, y + h / 2), ROI_SCALE * max(w, h), _rotation(*face.eyes))


def search_region(face: Face, spec: CropSpec) -> Region:
    """Where the short-range detector looks for `face`: the square its crop shows
    (`align.crop_square`), not turned (the detector's boxes are upright, as on the whole frame)."""
    center, side = crop_square(face, spec)
    return Region(center, side, 0.0)


@dataclass(frozen=True)
class BoxFit:
    """How the short-range detector's box sits on one person's landmarks: its side over the
    landmarks' bounds, and its centre's offset from theirs (along the eye line and down the face,
    x its side). Defaults: the median over the real clips."""

    side: float = 0.89
    offset: tuple[float, float] = (0.016, 0.064)

    @classmethod
    def measure(cls, box: Face, lm: np.ndarray) -> BoxFit:
        """The fit of a detector box to the landmarks read in its square."""
        center, extent = _bounds(lm)
        x, y, w, h = box.box
        side = max(w, h)
        d = (np.array([x + w / 2, y + h / 2]) - center) / side
        r = _rotation(lm[EYE_CORNERS[0]], lm[EYE_CORNERS[1]])
        c, s = math.cos(r), math.sin(r)
        return cls(side / max(extent, 1e-6), (float(c * d[0] + s * d[1]), float(-s * d[0] + c * d[1])))

    def blend(self, other: BoxFit, weight: float = 0.5) -> BoxFit:
        a, b = np.array([self.side, *self.offset]), np.array([other.side, *other.offset])
        mix = a * (1 - weight) + b * weight
        return BoxFit(float(mix[0]), (float(mix[1]), float(mix[2])))

    def region(self, lm: np.ndarray) -> Region:
        """The square static Face Mesh would read for the face with these landmarks."""
        center, extent = _bounds(lm)
        side = self.side * extent
        r = _rotation(lm[EYE_CORNERS[0]], lm[EYE_CORNERS[1]])
        c, s = math.cos(r), math.sin(r)
        ox, oy = self.offset[0] * side, self.offset[1] * side
        return Region((float(center[0] + c * ox - s * oy), float(center[1] + s * ox + c * oy)),
                      ROI_SCALE * side, r)


def face_from_mesh(lm: np.ndarray) -> Face:
    """The face as the full-range detector reports it (`DETECTOR_SIDE`; keypoints: the eyes'
    middles, nose tip, mouth centre, the face's sides), from (478, 3) image landmarks."""
    _, extent = _bounds(lm)
    side = DETECTOR_SIDE * extent
    kp = np.stack([(lm[33, :2] + lm[133, :2]) / 2, (lm[362, :2] + lm[263, :2]) / 2, lm[1, :2],
                   (lm[13, :2] + lm[14, :2]) / 2, lm[234, :2], lm[454, :2]]).astype(np.float32)
    cx, cy = ((kp[0] + kp[1]) / 2 + kp[3]) / 2
    return Face(box=(float(cx - side / 2), float(cy - side / 2), float(side), float(side)), keypoints=kp)


class _Graph:
    """A MediaPipe graph run one image at a time on the calling thread's demand: what
    `SolutionBase.process` does, without its per-call result type (0.3 ms a call)."""

    def __init__(self, text: str, output: str, side_packets: dict | None = None):
        mp = load_mediapipe()  # first: the imports below would import MediaPipe without it
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.modules.face_detection import face_detection_pb2  # noqa: F401 (options type)
        from mediapipe.python._framework_bindings import resource_util

        resource_util.set_resource_dir(str(Path(mp.__file__).resolve().parents[1]))  # model paths
        self._mp = mp
        self._graph = mp.CalculatorGraph(
            graph_config=text_format.Parse(text, calculator_pb2.CalculatorGraphConfig()))
        self._found: object | None = None
        self._graph.observe_output_stream(output, self._keep)
        self._graph.start_run(side_packets or {})
        self._t = 0

    def _keep(self, stream: str, packet: object) -> None:
        self._found = packet

    def __call__(self, image_rgb: np.ndarray, region: Region) -> object | None:
        """The output packet for `image_rgb` read in `region`, or None (no output this time)."""
        from mediapipe.framework.formats import rect_pb2

        h, w = image_rgb.shape[:2]
        roi = rect_pb2.NormalizedRect(x_center=region.center[0] / w, y_center=region.center[1] / h,
                                      width=region.side / w, height=region.side / h,
                                      rotation=region.rotation)
        create = self._mp.packet_creator
        self._found = None
        self._t += 1
        self._graph.add_packet_to_input_stream(
            "image", create.create_image_frame(image_rgb, image_format=self._mp.ImageFormat.SRGB).at(self._t))
        self._graph.add_packet_to_input_stream("roi", create.create_proto(roi).at(self._t))
        self._graph.wait_until_idle()
        return self._found

    def close(self) -> None:
        self._graph.close()


# a landmark on the wire when it holds just x, y and z: its key and length, then three tagged floats
_WIRE_SIZE = 17
_WIRE_KEY_AT, _WIRE_KEYS = [0, 1, 2, 7, 12], np.array([0x0A, 15, 0x0D, 0x15, 0x1D], np.uint8)
_WIRE_FLOATS_AT = [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]


def points(data: bytes) -> np.ndarray:
    """(n, 3) float32 x, y, z of a serialised `NormalizedLandmarkList`. Read with numpy when every
    landmark is exactly three floats, as the landmark model writes them (reading 1,434 attributes
    one by one cost ~0.3 ms a frame); field by field otherwise (a landmark with a field unset, or
    with a visibility or presence, changes the layout)."""
    if data and len(data) % _WIRE_SIZE == 0:
        wire = np.frombuffer(data, np.uint8).reshape(-1, _WIRE_SIZE)
        if (wire[:, _WIRE_KEY_AT] == _WIRE_KEYS).all():
            return wire[:, _WIRE_FLOATS_AT].copy().view("<f4")  # the index alone is not row-contiguous
    from mediapipe.framework.formats import landmark_pb2

    found = landmark_pb2.NormalizedLandmarkList.FromString(data)
    return np.array([(p.x, p.y, p.z) for p in found.landmark], np.float32).reshape(-1, 3)


def _bytes_reader(mp: object) -> Callable[[object], bytes]:
    """How to read a proto packet's bytes as MediaPipe holds them, chosen once: its private getter
    skips building the message in Python only to write it out again (~26 us a landmark call);
    the public one where a release lacks it."""
    getter = getattr(mp.packet_getter, "_packet_getter", None)  # type: ignore[attr-defined]
    if getter is not None and hasattr(getter, "_get_serialized_proto"):
        return lambda packet: bytes(getter._get_serialized_proto(packet))
    return lambda packet: mp.packet_getter.get_proto(packet).SerializeToString()  # type: ignore[attr-defined]


class FaceMesh:
    """MediaPipe's Face Mesh parts on a region of a BGR image: the landmark model (`landmarks`;
    a face counts at presence >= 0.5) and the short-range face detector (`detect`; score >=
    0.5), as static Face Mesh runs them. Only the region's part of the image is converted and
    handed over."""

    def __init__(self) -> None:
        mp = load_mediapipe()
        with quiet_native_stderr():
            self._landmarks = _Graph(_LANDMARK_GRAPH, "landmarks",
                                     {"with_attention": mp.packet_creator.create_bool(True)})
            self._detector = _Graph(_DETECTOR_GRAPH, "detections")
            self._landmark_bytes = _bytes_reader(mp)
            blank, square = np.zeros((64, 64, 3), np.uint8), Region((32.0, 32.0), 64.0, 0.0)
            self.landmarks(blank, square)  # warm-up: the graphs print their banners here
            self.detect(blank, square)

    def landmarks(self, image_bgr: np.ndarray, region: Region) -> np.ndarray | None:
        """(478, 3) float32 landmarks in image pixels (z scaled like x), or None: the model sees
        no face in `region`."""
        part, inside, (x0, y0) = _cut(image_bgr, region)
        packet = self._landmarks(part, inside)
        if packet is None:
            return None
        pts = points(self._landmark_bytes(packet))
        if len(pts) < N_LANDMARKS:
            return None
        h, w = part.shape[:2]
        lm = pts[:N_LANDMARKS]
        lm *= np.array([w, h, w], np.float32)
        lm[:, :2] += np.array([x0, y0], np.float32)
        return lm

    def detect(self, image_bgr: np.ndarray, region: Region) -> list[Face]:
        """Faces the short-range detector finds in `region`, in image pixels."""
        part, inside, (x0, y0) = _cut(image_bgr, region)
        packet = self._detector(part, inside)
        if packet is None:
            return []
        h, w = part.shape[:2]
        faces = []
        for det in self._detector._mp.packet_getter.get_proto_list(packet):
            rb = det.location_data.relative_bounding_box
            kps = np.array([(x0 + k.x * w, y0 + k.y * h) for k in det.location_data.relative_keypoints],
                           np.float32)
            faces.append(Face(box=(x0 + rb.xmin * w, y0 + rb.ymin * h, rb.width * w, rb.height * h),
                              keypoints=kps, score=float(det.score[0]) if det.score else 0.0))
        return faces

    def close(self) -> None:
        self._landmarks.close()
        self._detector.close()


class MeshTracker(FaceTracker):
    """Keeps one face with Face Mesh (see the module's doc). The full-range detector's choice is
    sticky as in `FaceTracker`; the face (box, keypoints) comes from the landmarks
    (`face_from_mesh`) and is smoothed as there. `landmarks` are this frame's, unsmoothed, in
    image pixels (None when the face is held or lost)."""

    def __init__(self, detector: FaceDetector, mesh: FaceMesh | None = None,
                 config: TrackerConfig | None = None, anchor_every: int = 2,
                 crop: CropSpec | None = None):
        super().__init__(detector, config)
        self.mesh = mesh or FaceMesh()
        self.anchor_every = anchor_every
        self.crop = crop or CropSpec()
        self.landmarks: np.ndarray | None = None
        self.mesh_runs = 0  # landmark model calls, for the benchmark
        self.anchors = 0  # short-range detector calls
        self._fit = BoxFit()
        self._since_anchor = 0

    def reset(self) -> None:
        super().reset()
        self.landmarks = None
        self._fit = BoxFit()  # the next face may be someone else

    def _read(self, image_bgr: np.ndarray, region: Region) -> np.ndarray | None:
        self.mesh_runs += 1
        return self.mesh.landmarks(image_bgr, region)

    def _anchored(self, image_bgr: np.ndarray, face: Face, fallback: Region) -> np.ndarray | None:
        """Landmarks read where static Face Mesh reads them: in the square of the short-range
        detector's face nearest `face` (searched in the square the crop of `face` shows); that
        face's box refines the person's `BoxFit`. In `fallback` when the detector finds none."""
        self.anchors += 1
        self._since_anchor = 0
        found = self.mesh.detect(image_bgr, search_region(face, self.crop))
        if not found:
            # the face outgrew the square it was looked for in (a fast lean) or left it: the whole
            # picture's detector finds it (read in the old square, the mesh saw part of a face and
            # called it the face, and overlay mode pasted a small cartoon on the real one)
            self.detections += 1
            whole = self._pick(self.detector.detect(image_bgr), image_bgr.shape)
            return self._read(image_bgr, fallback if whole is None else region_from_face(whole))
        cx, cy = face.center
        box = min(found, key=lambda f: math.hypot(f.center[0] - cx, f.center[1] - cy))
        lm = self._read(image_bgr, region_from_face(box))
        if lm is not None:
            self._fit = self._fit.blend(BoxFit.measure(box, lm))
        return lm

    def _locate(self, image_bgr: np.ndarray) -> Face | None:
        lm = None
        if self.landmarks is not None:
            self._since_anchor += 1
            region = self._fit.region(self.landmarks)
            lm = (self._anchored(image_bgr, face_from_mesh(self.landmarks), region)
                  if self._since_anchor >= self.anchor_every else self._read(image_bgr, region))
        if lm is None:
            self.detections += 1
            face = self._pick(self.detector.detect(image_bgr), image_bgr.shape)
            lm = None if face is None else self._anchored(image_bgr, face, region_from_face(face))
        self.landmarks = lm
        return None if lm is None else face_from_mesh(lm)

    def still(self, image_bgr: np.ndarray) -> Face | None:
        """The face of a photo on its own (`FaceTracker.still`), read by the mesh."""
        face = super().still(image_bgr)
        if face is not None:
            self.landmarks = self._anchored(image_bgr, face, region_from_face(face))
        return None if self.landmarks is None else face_from_mesh(self.landmarks)

    def close(self) -> None:
        self.mesh.close()


def to_crop(landmarks: np.ndarray, crop_matrix: np.ndarray) -> np.ndarray:
    """Image-pixel landmarks (478, 3) in the pixels of the crop `crop_matrix` makes (z scaled
    like x, as if Face Mesh had read the crop)."""
    out = np.empty_like(landmarks)
    out[:, :2] = landmarks[:, :2] @ crop_matrix[:, :2].T + crop_matrix[:, 2]
    out[:, 2] = landmarks[:, 2] * math.hypot(crop_matrix[0, 0], crop_matrix[1, 0])
    return out
