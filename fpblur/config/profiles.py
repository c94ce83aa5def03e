"""Named detection profiles: what the default detectors run, and how much padding the anonymizer adds.

* ``default`` favours recall (a missed face is a privacy leak).  Faces: CenterFace twice, upscaled ×2 (long
  side capped at 4096 px) for faces under ~80 px and downscaled to a 640 px long side for larger ones (huge
  close-ups that full resolution misses), merged by NMS + box voting; boxes under 8 / 16 px need a raw score
  0.05 / 0.01 higher; in crowds (at least 10 boxes under 24 px in the ×2 pass) the ×2 pass also runs on the
  mirror image and both views are fused (``crowd_flip``); face regions padded 0.22 per side.  Plates: the
  YOLOv8n plate model (ONNX) at 640 and 480 px, merged, threshold 0.15, padded 0.25 per side plus 0.1 of the
  plate's width above and below (``pad_by_width``); dark frames (mean luminance under 60) are also searched on two
  brightened copies (``dark_luma``), and at 320 px on the frame, its mirror image and both copies
  (``dark_imgsz``).  Faces cost about 4.3× one full-resolution CenterFace pass (about 8× on crowd photos).  Both
  additions were kept because they win on the worst of 3 folds of the evaluation photos (README, "Folds").
* ``fast`` favours speed: int8 CenterFace at full resolution (long side capped at 1920 px) plus the 640 px
  pass; plates at 480 px, threshold 0.2.  Faces cost about 0.8× one fp32 full-resolution pass (what
  ``deface`` runs) on CPUs with VNNI.

On video both run through a frame schedule (:class:`VideoPlan`, :mod:`fpblur.track.schedule`): the full
detectors every 0.3 s (with the upscaling bounded and no crowd flip: :class:`FullFramePasses`), light passes
(faces ×0.75 with the long side at most 1280 px, plates 480 px) every other frame between, and on the other
frames the light detectors on crops around the boxes the tracker carries.

``benchmarks/quality.py`` measures both (numbers in the README's "Quality and speed" section).  Anything a
user sets explicitly (``--face-conf``, ``--face-scales``, ``--imgsz``, ``--pad``…) wins over the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DEFAULT_PAD = 0.18  # padding of a label no profile names (custom weights with other classes); re-exported by settings


@dataclass(frozen=True)
class FaceSettings:
    """CenterFace settings (see :class:`fpblur.detect.centerface.CenterFaceDetector`).

    Attributes:
        conf: score threshold in [0, 1] (after the small-box penalty).
        iou: NMS IoU of the merge within and across passes.
        passes: in :class:`~fpblur.detect.centerface.ScalePass` text form: ``"2@4096"`` = upscaled ×2 with the
            long side capped at 4096 px, ``"640px"`` = long side 640 px (never enlarged), ``"1"`` = full resolution.
        max_side: caps every pass's long side, in pixels (None: no cap).
        min_net: box height in network-input pixels that splits the passes
            (:func:`~fpblur.detect.centerface.pass_ranges`).
        vote_iou: box-voting IoU of the merge (None: plain NMS).
        small_penalty: ``((height px, score penalty), ...)`` for tiny boxes
            (:func:`~fpblur.detect.centerface.apply_small_penalty`).
        precision: ``"fp32"`` or ``"int8"`` (statically quantised graph, ~1.6× faster on VNNI CPUs).
        crowd_flip: ``(count, height px, score)``: when the highest-resolution pass sees at least ``count`` boxes
            under ``height`` px scoring at least ``score`` (a crowd), that pass also runs on the mirror image and
            both views are fused (agreement keeps the score, one view alone halves it); None: never.  See
            :class:`~fpblur.detect.centerface.CenterFaceDetector`; not on light video frames.
        rotations: also search copies of the image turned by these angles (degrees clockwise: 90, 180, 270), with
            the ``rotation_pass`` pass alone, for faces shown on their side or upside down
            (:class:`~fpblur.detect.rotations.RotatedPasses`; not on light video frames).  Empty: upright only.
        rotation_pass: the CenterFace pass run on the turned copies (:class:`~fpblur.detect.centerface.ScalePass`
            text form).
        rotation_conf: the score a face found on a turned copy needs (turned upright, a real face scores high;
            clutter seen sideways scores low).
    """

    conf: float = 0.2
    iou: float = 0.3
    passes: tuple[str, ...] = ("1",)
    max_side: int | None = None
    min_net: float = 40.0
    vote_iou: float | None = None
    small_penalty: tuple[tuple[float, float], ...] = ()
    precision: str = "fp32"
    crowd_flip: tuple[int, float, float] | None = None
    rotations: tuple[int, ...] = ()
    rotation_pass: str = "640px"
    rotation_conf: float = 0.35


@dataclass(frozen=True)
class PlateSettings:
    """YOLO plate-model settings: one or more inference sizes (merged by NMS, + voting if ``vote_iou``).

    Attributes:
        conf: score threshold in [0, 1].
        iou: NMS IoU (within one size and when merging sizes).
        imgsz: inference sizes in pixels (long side of the letterboxed input), one model run per size.
        vote_iou: box-voting IoU when merging sizes (None: plain NMS).
        onnx: let :func:`fpblur.detect.plate_model.plate_weights` pick the default plate model's file: the
            shipped ONNX file on ONNX Runtime, or its ``.pt`` weights through PyTorch when CUDA is wanted and they
            are installed.  False: the shipped ONNX file always (the default model has no other file).
        dark_luma: frames whose mean luminance (0–255) is below this are also searched on two brightened copies
            (CLAHE on luminance, and a gamma curve), merged with the normal pass
            (:class:`~fpblur.detect.lowlight.LowLightDetector`; not on light video frames).  None: never.
        dark_imgsz: on such a dark frame, the plate model also runs at these sizes on the frame, its mirror image
            and both brightened copies (empty: not).  The default profile's 320 px: dark plate sets' worst fold
            OpenALPR 0.969 -> 0.978, Kaggle 0.909 -> 0.939 (README, "Folds").
        tile: images whose long side is above ``tile_above`` pixels are also searched in overlapping tiles of
            at most ``tile`` pixels per side at their own scale (:class:`~fpblur.detect.tiles.TiledDetector`:
            a 40 px plate of a 2560 px frame stays 40 px to the model).  0: never.
        tile_overlap: neighbouring tiles overlap by at least this many pixels.
        tile_above: the long side, in pixels, above which tiles are searched.
    """

    conf: float = 0.25
    iou: float = 0.45
    imgsz: tuple[int, ...] = (640,)
    vote_iou: float | None = None
    onnx: bool = True
    dark_luma: float | None = None
    dark_imgsz: tuple[int, ...] = ()
    tile: int = 1024
    tile_overlap: int = 128
    tile_above: int = 1280


@dataclass(frozen=True)
class LightPasses:
    """What a light video frame and a crop re-check run (:mod:`fpblur.track.schedule`,
    :mod:`fpblur.track.recheck`).

    Attributes:
        face_passes: CenterFace passes (:class:`~fpblur.detect.centerface.ScalePass` text forms).
        plate_imgsz: the plate model's input sizes in pixels.
        plate_precision: the plate graph they run on the CPU: ``"int8"`` (the shipped int8 graph of the default
            plate model, :mod:`fpblur.detect.plate_int8`: a 480 px pass 11.6 instead of 18.7 ms; another plate
            model has none and runs fp32) or ``"fp32"``.  Full frames and photos always run fp32 (the int8 graph
            lost plates on the photo sets; on video, where full frames carry every plate, it anonymized the
            motion clips and the parking-lot clip exactly as fp32: README).

    Raises:
        ValueError: an unknown ``plate_precision``.
    """

    face_passes: tuple[str, ...] = ("0.75@1280",)
    plate_imgsz: tuple[int, ...] = (480,)
    plate_precision: str = "int8"

    def __post_init__(self) -> None:
        if self.plate_precision not in ("fp32", "int8"):
            raise ValueError(f"plate_precision must be fp32 or int8, got {self.plate_precision!r}")


@dataclass(frozen=True)
class FullFramePasses:
    """What a full video frame changes from the image profile (:meth:`~fpblur.detect.base.Detector.video_full`).

    A photo is looked at once; a video's full detectors run again 0.3 s later and the tracker, its crop re-checks
    and the light passes carry what they find in between, so the two test-time extras whose cost grows with the
    frame are bounded there.

    Attributes:
        upscale_max_side: CenterFace passes that upscale (``2@4096``) stop at this long side in pixels, never
            below the frame's own resolution (a 2560 px frame runs ×1, a 1280 px one ×2; the ×2 pass of a
            2560×1440 frame costs 2.6 times its ×1 pass).  None: the profile's passes as they are.
        crowd_flip: also run the profile's crowd flip (the mirrored ×2 pass on crowds of small faces).
        rotations: run the profile's rotated face passes (``--face-rotations``).
        deep_every: the *deep* passes - the upscaling passes and the rotated ones, which cost the most and find
            what the others cannot (faces under about 16 px, faces on their side) - run on every
            ``deep_every``-th full frame (the first, and the last frame of a video); the full frames between are
            :meth:`plain`.  What only the deep passes find is kept between by the crop re-checks (a small face's
            crop is enlarged up to ×2.5; a face on its side still scores above the keep-alive threshold upright),
            and hold and look-ahead cover ``full_every * deep_every`` frames.
            Default 1 (every full frame): 2 made 960×540 video 1.11× faster but leaked on held-out motion
            clips (README, "What the video path guarantees").
        upscale_precision: the CenterFace graph the upscaling passes run on, on the CPU: ``"int8"`` (the shipped
            statically quantised graph; the ×2 pass of a 960×540 frame was half of all ONNX time, 222 -> ~125 ms)
            or ``"fp32"``.  Only the upscaling passes: int8 on every video pass leaked frames on the motion clips
            (README).  On CUDA the detector's own graph runs.
        rotation_pass: the CenterFace pass the rotated copies of a full frame run (:class:`~fpblur.detect.
            centerface.ScalePass` text form; None: the profile's, ``640px`` as photos).  Default ``"1@960"``: full
            resolution up to a 960 px long side.  A face on its side scores lower than upright and needs more
            pixels: at ``640px`` a 33 px sideways face in 960×540 video scored 0.1–0.3 (under the rotated passes'
            0.35) and stayed sharp on 14–28 frames of held-out motion clips; at ``1@960`` none (with the rotated
            crop re-checks, :attr:`~fpblur.track.recheck.RecheckSettings.rotated`).  Cost: README ("What the
            video path guarantees").
        plate_imgsz: the plate model's sizes (pixels) that full frames run, among the profile's (None: all of
            them; when none of the profile's sizes is listed, all of them too).  Default ``(640,)``: the profile's
            480 px pass is what light frames run, two frames later, so full frames skip it (5 % less detection
            work at 960×540; the motion clips, the 2560×1440 clips and the parking-lot clip were anonymized the
            same: README).

    Raises:
        ValueError: ``deep_every`` not a whole number of at least 1, ``upscale_max_side`` not a whole number of
            at least 1 (or None), an unknown ``upscale_precision``, or ``plate_imgsz`` not None nor a sequence of
            whole numbers of pixels of at least 32.
    """

    upscale_max_side: int | None = 2560
    crowd_flip: bool = False
    rotations: bool = True
    deep_every: int = 1
    upscale_precision: str = "int8"
    rotation_pass: str | None = "1@960"
    plate_imgsz: tuple[int, ...] | None = (640,)

    def __post_init__(self) -> None:
        if (
            isinstance(self.deep_every, bool)
            or not isinstance(self.deep_every, (int, float))
            or self.deep_every != int(self.deep_every)
            or int(self.deep_every) < 1
        ):
            raise ValueError(f"deep_every must be a whole number of full frames, at least 1, got {self.deep_every!r}")
        side = self.upscale_max_side
        if side is not None and (isinstance(side, bool) or not isinstance(side, int) or side < 1):
            raise ValueError(f"upscale_max_side must be a whole number of pixels, at least 1, or None, got {side!r}")
        if self.upscale_precision not in ("fp32", "int8"):
            raise ValueError(f"upscale_precision must be fp32 or int8, got {self.upscale_precision!r}")
        sizes = self.plate_imgsz
        if isinstance(sizes, list):  # JSON/YAML lists; the dataclass stays hashable
            object.__setattr__(self, "plate_imgsz", sizes := tuple(sizes))
        if sizes is not None and (
            not isinstance(sizes, tuple)
            or not sizes
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 32 for v in sizes)
        ):
            raise ValueError(f"plate_imgsz must be None or whole numbers of pixels, at least 32, got {sizes!r}")

    def plain(self) -> FullFramePasses:
        """These settings for a full frame between deep ones: upscaling passes at ×1, no rotated passes."""
        return replace(self, upscale_max_side=1, rotations=False)


@dataclass(frozen=True)
class VideoPlan:
    """How ``fpblur video`` spreads the profile over frames (:mod:`fpblur.track.schedule`): the full detectors
    every ``full_every`` and cheap ``light`` passes every ``light_every`` in between (frames, or seconds with an
    ``s`` suffix: 8 and 2 frames at 25 fps; at 12 fps light passes run on every frame), and re-checks of the
    tracker's carried boxes on crops on the rest (:mod:`fpblur.track.recheck`)."""

    full_every: str = "0.3s"
    light_every: str = "0.08s"
    light: LightPasses = field(default_factory=LightPasses)
    full: FullFramePasses = field(default_factory=FullFramePasses)


@dataclass(frozen=True)
class Profile:
    """A named set of detection settings (:data:`PROFILES`): what the default detectors run and how much
    the anonymizer pads.

    Attributes:
        name: the profile's name (``"default"``, ``"fast"``).
        summary: one line for ``--help`` and listings.
        face: CenterFace settings.
        plate: plate-model settings.
        pad: fraction of each box's width/height added on every side, per label.
        pad_by_width: fraction of each box's *width* added above and below, on top of ``pad``, per label (labels
            it omits: 0).  Plates: the plate model's box hugs the characters, and the plate itself reaches further
            above and below in proportion to its width (a square plate's 0.82-covered box left 30 % of it sharp).
        video: how ``fpblur video`` spreads the detectors over frames.
    """

    name: str
    summary: str
    face: FaceSettings = field(default_factory=FaceSettings)
    plate: PlateSettings = field(default_factory=PlateSettings)
    pad: dict = field(default_factory=lambda: {"face": DEFAULT_PAD, "plate": DEFAULT_PAD}, hash=False)
    pad_by_width: dict = field(default_factory=dict, hash=False)
    video: VideoPlan = field(default_factory=VideoPlan)

    def conf(self, target: str) -> float:
        """The score threshold of ``target``'s detector (``"face"`` or ``"plate"``; ``ValueError`` otherwise)."""
        return self._settings(target).conf

    def iou(self, target: str) -> float:
        """The NMS IoU of ``target``'s detector (``"face"`` or ``"plate"``; ``ValueError`` otherwise)."""
        return self._settings(target).iou

    def _settings(self, target: str) -> FaceSettings | PlateSettings:
        if target == "face":
            return self.face
        if target == "plate":
            return self.plate
        raise ValueError(f"unknown target {target!r}; expected face or plate")

    def describe(self) -> str:
        """One line with every setting of this profile (faces, plates, padding)."""
        f, p = self.face, self.plate
        passes = ",".join(str(x) for x in f.passes)
        cap = f" max side {f.max_side}" if f.max_side else ""
        pen = ", ".join(f"<{b:g}px -{v:g}" for b, v in f.small_penalty) or "none"
        return (
            f"{self.name}: faces CenterFace passes {passes}{cap}, conf {f.conf:g}, NMS {f.iou:g}, "
            f"vote {f.vote_iou}, small-box penalty {pen}, {f.precision}, pad {self.pad.get('face')}; "
            f"plates imgsz {','.join(map(str, p.imgsz))}, conf {p.conf:g}, {'ONNX' if p.onnx else 'PyTorch'}, "
            f"pad {self.pad.get('plate')}"
            + (
                f" + {self.pad_by_width['plate']:g} of the width above and below"
                if self.pad_by_width.get("plate")
                else ""
            )
        )


_DEFAULT = Profile(
    name="default",
    summary="recall first: CenterFace ×2 upscaled + 640 px passes, plates at 640+480 px",
    face=FaceSettings(
        conf=0.2,
        iou=0.3,
        passes=("2@4096", "640px"),
        min_net=40.0,
        vote_iou=0.5,
        small_penalty=((8.0, 0.05), (16.0, 0.01)),
        crowd_flip=(10, 24.0, 0.3),  # crowds of small faces: the ×2 pass on the mirror image too, fused
        rotations=(90, 270),  # faces on their side: the 640 px pass on two turned copies (README: +~12 % per photo)
        rotation_conf=0.35,
    ),
    plate=PlateSettings(conf=0.15, iou=0.45, imgsz=(640, 480), dark_luma=60.0, dark_imgsz=(320,)),
    pad={"face": 0.22, "plate": 0.25},
    pad_by_width={"plate": 0.1},  # Kaggle plates, worst fold: coverage 0.964 -> 1.000 (README, "Folds")
)

# fast = default with a cheaper face pass set (int8, no upscaling) and one smaller plate size
_FAST = replace(
    _DEFAULT,
    name="fast",
    summary="speed first: int8 CenterFace at full resolution + 640 px pass, plates at 480 px",
    face=replace(_DEFAULT.face, passes=("1", "640px"), max_side=1920, precision="int8", rotations=(), crowd_flip=None),
    plate=replace(_DEFAULT.plate, conf=0.2, imgsz=(480,), dark_luma=None, dark_imgsz=()),
    pad=dict(_DEFAULT.pad),
    pad_by_width=dict(_DEFAULT.pad_by_width),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_DEFAULT, _FAST)}

DEFAULT_PROFILE = "default"


def get_profile(name: str | None = None) -> Profile:
    """The named profile.

    Args:
        name: a key of :data:`PROFILES` (None: :data:`DEFAULT_PROFILE`).

    Raises:
        ValueError: an unknown name (the one-line message lists the known names).
    """
    key = DEFAULT_PROFILE if name is None else str(name)
    if key not in PROFILES:
        raise ValueError(f"unknown profile {key!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[key]
