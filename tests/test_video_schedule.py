"""The video frame schedule: full detectors every few frames, light passes between, the tracker carrying (and
interpolating) boxes over frames with no detector; and the cheap views of the default detectors it uses."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fpblur.core.detections import Detections
from fpblur.detect.base import Detector, as_detector
from fpblur.track.schedule import LightPasses, VideoSchedule
from fpblur.track.tracker import Lookahead, Tracker, TrackerConfig, merge_by_track, track_sequence
from fpblur.training.eval.metrics import coverage_hits

SIZE = (320, 180)
SQUARE = 24


def test_schedule_kinds():
    s = VideoSchedule(full_every=8, light_every=2)
    assert [s.kind(i) for i in range(10)] == [
        "full",
        "none",
        "light",
        "none",
        "light",
        "none",
        "light",
        "none",
        "full",
        "none",
    ]
    assert {VideoSchedule(1, 2).kind(i) for i in range(20)} == {"full"}
    assert [VideoSchedule(3, 0).kind(i) for i in range(4)] == ["full", "none", "none", "full"]
    assert [VideoSchedule(4, 1).kind(i) for i in range(4)] == ["full", "light", "light", "light"]
    with pytest.raises(ValueError):
        VideoSchedule(0, 1)
    with pytest.raises(ValueError):
        VideoSchedule(4, -1)


def test_profile_schedule_follows_fps():
    from fpblur import Anonymizer
    from fpblur.config.settings import VideoSettings
    from fpblur.run.video import video_schedule

    anon = Anonymizer(targets=("face",), detectors={"face": lambda im: Detections()})
    assert video_schedule(anon.config.video, 25)[0] == VideoSchedule(8, 2)  # 0.3 s / 0.08 s at 25 fps
    assert video_schedule(VideoSettings(), 25)[0] == VideoSchedule(8, 2)
    assert video_schedule(VideoSettings(), 12)[0] == VideoSchedule(4, 1)  # low fps: light on every frame
    assert video_schedule(VideoSettings(full_every="1"), 25)[0].full_every == 1
    assert video_schedule(VideoSettings(full_every="0"), 25)[0].full_every == 1  # 0 also means every frame
    assert video_schedule(VideoSettings(light_every="0"), 25)[0].light_every == 0


def test_light_views_share_the_loaded_models():
    from fpblur.detect.centerface import CenterFaceDetector, ScalePass
    from fpblur.detect.multipass import MultiDetector

    face = CenterFaceDetector(scales=("2@4096", "640px"))
    light = face.light(LightPasses(face_passes=("0.75",)))
    assert light.session is face.session and light.passes == (ScalePass(0.75),)
    assert face.passes == (ScalePass(2.0, max_side=4096), ScalePass(side=640))  # the original is untouched

    class Sized(Detector):
        labels = ("plate",)

        def __init__(self, imgsz):
            self.imgsz = imgsz

        @property
        def input_sizes(self):
            return (self.imgsz,)

        def _predict(self, images, conf):
            return [Detections() for _ in images]

    multi = MultiDetector([Sized(640), Sized(480)], iou=0.45)
    assert multi.light(LightPasses(plate_imgsz=(480,))).imgsz == 480
    assert multi.light(LightPasses(plate_imgsz=(320,))).imgsz == 480  # none matches: the smallest
    both = multi.light(LightPasses(plate_imgsz=(640, 480)))
    assert isinstance(both, MultiDetector) and len(both.members) == 2 and len(multi.members) == 2
    custom = as_detector(lambda image: Detections(), "face")
    assert custom.light(LightPasses()) is custom  # unknown detectors run in full on light frames


def box_at(x: float, y: float = 60, size: float = SQUARE) -> tuple:
    return (x, y, x + size, y + size)


def test_bridge_interpolates_over_frames_without_detections():
    """A square moving half its size per frame, detected every 4th frame: the frames between are covered by
    the box interpolated between the detections either side (the held box alone would not cover them)."""
    xs = [10 + 12 * i for i in range(9)]
    seq = [
        Detections(np.array([box_at(x)], np.float32), [0.9], "face") if i % 4 == 0 else Detections()
        for i, x in enumerate(xs)
    ]
    cfg = TrackerConfig(conf=0.5, hold=4, velocity=False, smooth=1.0, grow=0.0, max_grow=0.0)
    out = track_sequence(seq, cfg, lookahead=4)
    for i, (regions, x) in enumerate(zip(out, xs)):
        assert coverage_hits(np.array([box_at(x)]), regions.boxes, min_cover=0.95)[0], (i, regions.boxes)
        assert len(regions) == 1 and regions.track_ids.tolist() == [0]  # one track, one region per frame
    # without the look-ahead there is nothing to interpolate towards: the middle frames are missed
    blind = track_sequence(seq, cfg, lookahead=0)
    assert not coverage_hits(np.array([box_at(xs[2])]), blind[2].boxes)[0]


def test_match_reach_grows_with_the_gap():
    """A small object whose centre moved 1.3 box diagonals over a 2-frame gap is still the same track (the gate
    is 1 diagonal for consecutive detections)."""
    tracker = Tracker(TrackerConfig(conf=0.5, hold=5))
    tracker.update(Detections(np.array([box_at(10, size=10)], np.float32), [0.9], "face"))
    tracker.update(Detections())
    tracker.update(Detections())
    active = tracker.update(Detections(np.array([box_at(28, size=10)], np.float32), [0.9], "face"))
    assert active.track_ids.tolist() == [0] and len(tracker.started) == 0
    assert len(tracker.bridges) == 1 and tracker.bridges[0].gap == 2


def test_merge_by_track_encloses_boxes_of_one_track():
    d = Detections(
        np.array([[0, 0, 10, 10], [5, 5, 20, 20], [50, 50, 60, 60], [0, 0, 4, 4]], np.float32),
        [0.5, 0.9, 0.7, 0.3],
        ["face", "face", "plate", "face"],
        [1, 1, 2, -1],
    )
    m = merge_by_track(d)
    assert m.boxes.tolist() == [[0, 0, 20, 20], [50, 50, 60, 60], [0, 0, 4, 4]]
    assert m.scores.tolist() == pytest.approx([0.9, 0.7, 0.3]) and m.track_ids.tolist() == [1, 2, -1]


class SquareFinder:
    """A stand-in detector: the bright square of :func:`square_clip`, found by thresholding; counts its calls."""

    label = "face"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image, conf=None):
        self.calls += 1
        ys, xs = np.nonzero(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) > 200)
        if not len(xs):
            return Detections()
        return Detections(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32), [0.9], "face")

    __call__ = detect


def square_clip(tmp_path, n: int = 23, step: float = 10.0):
    from fpblur.media.synth import write_video

    frames, truth = [], []
    for i in range(n):
        img = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
        x = int(10 + step * i)
        cv2.rectangle(img, (x, 60), (x + SQUARE - 1, 60 + SQUARE - 1), (255, 255, 255), -1)
        frames.append(img)
        truth.append(box_at(x))
    return write_video(tmp_path / "square.mp4", frames, fps=25), truth


def face_records(src, dst, face, **settings):
    """Run ``anonymize_video`` with ``face`` as the only detector; return its report and the ``--log`` records."""
    from fpblur import Anonymizer
    from fpblur.config.settings import VideoSettings
    from fpblur.run.video import anonymize_video

    records: list[dict] = []
    report = anonymize_video(
        src,
        dst,
        Anonymizer(targets=("face",), detectors={"face": face}),
        VideoSettings(progress=False, **settings),
        on_frame=records.append,
    )
    return report, records


def run_square(tmp_path, **settings):

    src, truth = square_clip(tmp_path)
    finder = SquareFinder()
    report, records = face_records(src, tmp_path / "out.mp4", finder, **settings)
    return report, finder, records, truth


def test_pipeline_runs_detectors_on_schedule_and_covers_every_frame(tmp_path):
    report, finder, records, truth = run_square(tmp_path, full_every="4", light_every="0", hold="0", lookahead="0")
    kinds = [r["pass"] for r in records]
    expected = ["full" if i % 4 == 0 or i == len(truth) - 1 else "none" for i in range(len(truth))]
    assert kinds == expected  # the last frame always gets the full detectors
    assert finder.calls == expected.count("full") == report.frame_kinds["full"] == 7
    assert report.frame_kinds == {"full": 7, "light": 0, "none": 16}
    assert "every 4 frames" in report.schedule
    for i, (rec, box) in enumerate(zip(records, truth)):
        regions = np.array([a["region"] for a in rec["anonymized"]]).reshape(-1, 4)
        # hold and look-ahead were raised to the full-frame interval, so nothing pops out between them
        assert coverage_hits(np.array([box]), regions, min_cover=0.99)[0], (i, rec["pass"], regions)


def test_full_every_one_is_frame_by_frame(tmp_path):
    report, finder, records, truth = run_square(tmp_path, full_every="1")
    assert {r["pass"] for r in records} == {"full"} and finder.calls == len(truth)


def test_cli_schedule_options(tmp_path, capsys):
    from fpblur.cli import build_parser, main
    from fpblur.cli.video_cmd import video_settings

    args = build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4", "--full-every", "0.5s", "--light-every", "0"])
    settings = video_settings(args)
    assert (settings.full_every, settings.light_every) == ("0.5s", "0")
    with pytest.raises(SystemExit):
        main(["video", "in.mp4", "-o", "out.mp4", "--full-every", "-2"])
    assert "--full-every" in capsys.readouterr().err


def test_video_log_names_the_pass(tmp_path):
    from fpblur.cli import main

    src, _ = square_clip(tmp_path, n=10)
    log = tmp_path / "log.jsonl"
    assert main(["video", str(src), "-o", str(tmp_path / "o.mp4"), "--targets", "face", "--log", str(log)]) == 0
    passes = [json.loads(line)["pass"] for line in log.read_text().splitlines()]
    assert passes == ["full", "none", "light", "none", "light", "none", "light", "none", "full", "full"]


def test_lookahead_bridge_pads_by_distance_from_detections():
    la = Lookahead(4, grow=0.1, max_grow=0.3)
    tracker = Tracker(TrackerConfig(conf=0.5, hold=4, velocity=False, smooth=1.0, grow=0.0, max_grow=0.0))
    seq = [
        Detections(np.array([box_at(0, size=20)], np.float32), [0.9], "face"),
        Detections(),
        Detections(),
        Detections(np.array([box_at(30, size=20)], np.float32), [0.9], "face"),
    ]
    out = []
    for i, d in enumerate(seq):
        active = tracker.update(d)
        out.extend(regions for _, regions in la.push(i, active, tracker.started, tracker.bridges))
    out.extend(regions for _, regions in la.flush())
    # frame 1 is a third of the way: interpolated box x 10–30, padded 10 % of 20 px (one frame from a
    # detection), enclosed with the held box at x 0–20 (no smoothing, velocity or growth here)
    assert out[1].boxes[0].tolist() == pytest.approx([0, 58, 32, 82], abs=0.01)
    assert out[2].boxes[0].tolist() == pytest.approx([0, 58, 42, 82], abs=0.01)  # 2/3 of the way: x 20–40 ± 2


def test_camera_motion_matches_a_known_pan_and_zoom(ultralytics_assets):
    from fpblur.media.synth import pan_zoom_frames
    from fpblur.track.motion import CameraMotion

    photo = cv2.imread(str(ultralytics_assets / "zidane.jpg"))
    frames = list(pan_zoom_frames(photo, (640, 360), 10, zoom=(1.0, 0.8)))
    camera = CameraMotion()
    assert camera.step(frames[0][0]) is None  # nothing to compare with yet
    estimated = 0
    for (img, crop), (_, before) in zip(frames[1:], frames):
        m = camera.step(img)
        if m is None:
            continue
        estimated += 1
        # frame pixels of the previous crop → this crop: scale ratio, then the shift of the crop origin
        s = crop.scale / before.scale
        truth = np.array([[s, 0, (before.x0 - crop.x0) * crop.scale], [0, s, (before.y0 - crop.y0) * crop.scale]])
        assert np.allclose(m[:, :2], truth[:, :2], atol=0.01) and np.allclose(m[:, 2], truth[:, 2], atol=1.0), (
            m,
            truth,
        )
    assert estimated >= 6
    flat = np.full((360, 640, 3), 90, np.uint8)
    assert camera.step(flat) is None and camera.step(flat) is None  # no texture: no guess
    assert camera.step(frames[0][0], estimate=False) is None


def test_transform_boxes_and_held_tracks_follow_the_camera():
    from fpblur.core.boxes import transform_boxes

    shift_zoom = np.array([[2.0, 0.0, 10.0], [0.0, 2.0, -5.0]])
    assert transform_boxes(np.array([[0, 0, 10, 20]]), shift_zoom).tolist() == [[10, -5, 30, 35]]
    tracker = Tracker(TrackerConfig(conf=0.5, hold=5, velocity=False, grow=0.0, max_grow=0.0))
    tracker.update(Detections(np.array([box_at(100)], np.float32), [0.9], "face"))
    pan = np.array([[1.0, 0.0, -30.0], [0.0, 1.0, 4.0]])  # the picture moved 30 px left, 4 px down
    held = tracker.update(Detections(), motion=pan)
    assert held.boxes.tolist() == [[70, 64, 94, 88]]
    # the re-detection at the moved place is the same track, not a new one
    again = tracker.update(Detections(np.array([box_at(40, 68)], np.float32), [0.9], "face"), motion=pan)
    assert again.track_ids.tolist() == [0] and len(tracker.started) == 0


def test_border_velocity_uses_the_unclipped_side():
    from fpblur.track.tracker import border_velocity

    v = np.array([-30.0, 0.0, 5.0, 0.0])  # entering from the right: x2 stays clipped at the border
    assert border_velocity(v, np.array([150, 10, 180, 40]), 180, 100).tolist() == [-30, 0, -30, 0]
    assert border_velocity(v, np.array([0, 10, 180, 40]), 180, 100).tolist() == [0, 0, 0, 0]  # both sides clipped
    assert border_velocity(v, np.array([50, 10, 80, 40]), 180, 100).tolist() == v.tolist()


def test_carried_boxes_are_rechecked_on_crops(tmp_path):
    """Frames without a whole-frame detector search a crop around each carried box (the detector sees a small
    image there), so a square that turns back abruptly between detector frames is found where it is."""
    from fpblur.media.synth import write_video

    xs = [60 + 14 * min(i % 12, 12 - i % 12) for i in range(24)]  # right, then straight back, at 14 px per frame
    frames, truth = [], []
    for x in xs:
        img = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
        cv2.rectangle(img, (x, 60), (x + SQUARE - 1, 60 + SQUARE - 1), (255, 255, 255), -1)
        frames.append(img)
        truth.append(box_at(x))
    src = write_video(tmp_path / "turn.mp4", frames, fps=25)
    sizes: list[tuple[int, int]] = []

    def finder(image):
        sizes.append(image.shape[:2])
        return SquareFinder().detect(image)

    report, records = face_records(src, tmp_path / "out.mp4", finder, lookahead="0", hold="0")
    assert report.frame_kinds.get("crop", 0) > 0 and report.crops > 0
    assert any(r["pass"] == "crop" and r["crops"] >= 1 for r in records)
    assert min(h * w for h, w in sizes) < SIZE[0] * SIZE[1] / 4  # crops, not whole frames
    for i, (rec, box) in enumerate(zip(records, truth)):
        regions = np.array([a["region"] for a in rec["anonymized"]]).reshape(-1, 4)
        assert coverage_hits(np.array([box]), regions, min_cover=0.99)[0], (i, rec["pass"], regions)
    # on frames without a whole-frame detector, the crop found the square where it is (not where it was headed)
    for rec, box in zip(records, truth):
        if rec["pass"] == "crop":
            found = np.array([d["box"] for d in rec["detections"]]).reshape(-1, 4)
            assert coverage_hits(np.array([box]), found, min_cover=0.95)[0], (rec["frame"], found)


class UprightBarFinder:
    """Finds a bright blob only when it stands upright (at least 1.5 times as tall as wide): a stand-in for
    CenterFace, which scores a face on its side far lower than upright."""

    def detect(self, image, conf=None):
        ys, xs = np.nonzero(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) > 200)
        if not len(xs) or (ys.max() - ys.min() + 1) < 1.5 * (xs.max() - xs.min() + 1):
            return Detections()
        return Detections(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32), [0.9], "face")

    __call__ = detect


@pytest.mark.parametrize("rotated,conf_low", [(True, None), (False, None), (True, 0.5)])
def test_a_face_on_its_side_is_rechecked_on_turned_crops(tmp_path, rotated, conf_low):
    """A face on its side that only the full frames' rotated passes find (here a wide bar that the detector finds
    only turned upright) is re-checked on crops turned the same ways between them (``RecheckSettings.rotated``),
    so its track follows it when it turns back; upright crops alone find nothing there.  With ``conf_low`` at the
    start threshold (no score keeps a track alive without starting one) the turned crops' boxes count in full:
    lowered under the start threshold they would fall under the keep-alive threshold too, and the face would be
    lost (6 leaked frames of a review clip so)."""
    from fpblur.detect.rotations import RotatedPasses
    from fpblur.media.synth import write_video

    bar = as_detector(UprightBarFinder(), "face", conf=0.5)
    face = RotatedPasses(bar, bar, (90, 270), rotated_conf=0.5)
    assert face.rotations == (90, 270) and bar.rotations == ()
    xs = [40 + 12 * min(i % 12, 12 - i % 12) for i in range(24)]  # right, then straight back, 12 px per frame
    frames, truth = [], []
    for x in xs:
        img = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
        cv2.rectangle(img, (x, 70), (x + 35, 70 + 15), (255, 255, 255), -1)  # 36 wide, 16 tall
        frames.append(img)
        truth.append(np.array([x, 70, x + 36, 86], np.float32))
    src = write_video(tmp_path / "sideways.mp4", frames, fps=25)
    _, records = face_records(
        src, tmp_path / "out.mp4", face, lookahead="0", hold="0", recheck={"rotated": rotated}, conf_low=conf_low
    )
    between = [(rec, box) for rec, box in zip(records, truth) if rec["pass"] == "crop"]
    assert between
    for rec, box in between:
        found = np.array([d["box"] for d in rec["detections"]]).reshape(-1, 4)
        assert coverage_hits(np.array([box]), found, min_cover=0.95)[0] == rotated, (rec["frame"], found)
    if rotated:
        for i, (rec, box) in enumerate(zip(records, truth)):
            regions = np.array([a["region"] for a in rec["anonymized"]]).reshape(-1, 4)
            assert coverage_hits(np.array([box]), regions, min_cover=0.99)[0], (i, rec["pass"], regions)
        # once found turned, the track's crop is searched that way first: one crop per frame, not three
        assert [rec["crops"] for rec, _ in between][1:] == [1] * (len(between) - 1)
    else:
        # upright only: one crop per frame
        assert all(rec["crops"] == 1 for rec, _ in between)


def test_a_crop_that_finds_nothing_either_way_is_not_searched_turned_again(tmp_path):
    """A track whose object is gone (clutter, a face that left) is searched turned once, then upright only until it
    is detected again: two more crops on every frame would cost more than they could find."""
    from fpblur.detect.rotations import RotatedPasses
    from fpblur.media.synth import write_video

    finder = SquareFinder()  # finds the square upright (and turned): it vanishes after frame 0
    face = RotatedPasses(as_detector(finder, "face", conf=0.5), as_detector(finder, "face", conf=0.5), (90, 270))
    frames = []
    for i in range(12):
        img = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
        if i == 0:
            cv2.rectangle(img, (100, 60), (100 + SQUARE - 1, 60 + SQUARE - 1), (255, 255, 255), -1)
        frames.append(img)
    src = write_video(tmp_path / "gone.mp4", frames, fps=25)
    _, records = face_records(src, tmp_path / "out.mp4", face, lookahead="0", hold="0.4s")
    crops = [rec["crops"] for rec in records[1:] if rec["crops"]]
    assert crops[0] == 3 and set(crops[1:]) == {1}, crops  # upright + both turns once, then upright only


def test_a_box_at_an_edge_a_crop_cut_keeps_tracks_alive_but_starts_none():
    """A crop re-check cuts through faces at its edges inside the picture: a box there on a tracked face is a piece
    of it (a sliver of a neighbour scored 0.51 on the Voila demo's pan clip and started a false track); its score is
    kept under the start threshold.  Edges on the picture's border cut nothing, and a cut box on no tracked object
    may be a face only the crop found (crowds of small faces in 2560×1440 frames: coverage 0.961 instead of 0.98
    when those could not start tracks)."""
    from fpblur.core.boxes import touching_inner_edges as cut_by_crop
    from fpblur.track.recheck import keep_alive_only, on_tracked

    crop = (100, 0, 300, 272)  # left and right edges inside a 480×272 picture; top and bottom on its border
    boxes = np.array([[100, 40, 130, 100], [150, 0, 200, 60], [270, 200, 299, 271], [150, 100, 200, 160]], float)
    assert cut_by_crop(boxes, crop, 480, 272).tolist() == [True, False, True, False]
    tracked = np.array([[60.0, 30, 125, 110]])  # a face tracked across the crop's left edge
    assert on_tracked(boxes, tracked).tolist() == [True, False, False, False]
    assert on_tracked(boxes, np.zeros((0, 4))).tolist() == [False] * 4
    dets = Detections(boxes.astype(np.float32), [0.9, 0.9, 0.3, 0.9], "face")
    kept = keep_alive_only(dets, {"face": 0.5}, cut_by_crop(boxes, crop, 480, 272))
    assert kept.scores[0] < 0.5 and kept.scores[0] == pytest.approx(0.5, abs=1e-6)
    assert kept.scores[1:].tolist() == pytest.approx([0.9, 0.3, 0.9])  # a low score stays as it was
    assert (keep_alive_only(dets, {"face": 0.5}).scores < 0.5).all()
