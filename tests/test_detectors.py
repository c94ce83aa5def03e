import numpy as np
import pytest

from fpblur.core.boxes import iou_matrix
from fpblur.config.spec import DetectorSpec
from fpblur.detect.factory import build_detector
from fpblur.detect.centerface import CenterFaceDetector
from fpblur.detect.centerface_graph import prepare_model
from fpblur.detect.yolo_torch import class_label_map
from fpblur.models.registry import model_path
from fpblur.models.samples import synthetic_car

# Faces in ultralytics' zidane.jpg (1280×720), measured by hand.
ZIDANE_FACES = np.array([[911, 102, 1053, 277], [552, 258, 667, 434]], np.float32)


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
    assert class_label_map({0: "face", 1: "plate"}, "face", None) == {0: "face", 1: "face"}
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
    from fpblur.detect.plate_model import onnx_plate_path
    from fpblur.detect.yolo_onnx import OnnxYoloDetector
    from fpblur.detect.yolo_torch import YoloDetector
    from fpblur.models.registry import model_path

    onnx = onnx_plate_path(model_path("plate-yolov8n"))
    found = 0
    for name in ("bus.jpg", "zidane.jpg"):
        image = cv2.imread(str(ultralytics_assets / name))
        for size in (640, 480):
            ours = build_detector(DetectorSpec("plate", imgsz=size, conf=0.01, device="cpu"))
            assert isinstance(ours, OnnxYoloDetector)
            theirs = YoloDetector(onnx, conf=0.01, imgsz=size, device="cpu")
            a, b = ours.detect(image), theirs.detect(image)
            assert len(a) == len(b), (name, size)
            found += len(a)
            oa, ob = np.argsort(-a.scores, kind="stable"), np.argsort(-b.scores, kind="stable")
            assert np.allclose(a.boxes[oa], b.boxes[ob], atol=0.5) and np.allclose(a.scores[oa], b.scores[ob], atol=1e-4)
    assert found > 0  # the comparison saw real boxes


def test_default_plate_detector_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from fpblur.config.spec import DetectorSpec\nfrom fpblur.detect.factory import build_detector\n"
            "d = build_detector(DetectorSpec('plate', device='cpu'))\n"
            "d.detect(np.zeros((720, 1280, 3), np.uint8))\n"
            "print('torch' in sys.modules, 'ultralytics' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["False", "False"]


def test_labelled_maps_class_ids_and_drops_unknown_classes():
    from fpblur.detect.yolo_torch import labelled

    boxes = np.array([[0, 0, 10, 10], [1, 1, 5, 5], [2, 2, 8, 8]], np.float32)
    dets = labelled(boxes, np.array([0.9, 0.8, 0.7]), np.array([0.0, 1.0, 2.0]), {0: "plate", 2: "face"})
    assert dets.labels.tolist() == ["plate", "face"]
    assert np.allclose(dets.scores, [0.9, 0.7]) and np.array_equal(dets.boxes, boxes[[0, 2]])
    assert len(labelled(np.zeros((0, 4)), np.zeros(0), np.zeros(0), {0: "plate"})) == 0


def test_yolo_half_precision_follows_cuda_wanted(monkeypatch):
    import fpblur.detect.yolo_torch as yolo

    weights = model_path("plate-yolov8n")
    assert not yolo.YoloDetector(weights, device="cpu", half=True).half
    monkeypatch.setattr(yolo, "cuda_wanted", lambda device: True)  # the one CUDA check fpblur has
    assert yolo.YoloDetector(weights, device="cpu", half=True).half
    assert not hasattr(yolo.YoloDetector, "_on_cuda")


def test_pytorch_weights_at_several_sizes_share_one_model():
    from fpblur.detect.multipass import MultiDetector
    from fpblur.detect.yolo_torch import YoloDetector

    det = build_detector(DetectorSpec("plate", weights=str(model_path("plate-yolov8n")), imgsz=(640, 480)))
    assert isinstance(det, MultiDetector)
    assert all(isinstance(m, YoloDetector) for m in det.members)
    assert [m.imgsz for m in det.members] == [640, 480]
    assert det.members[0].model is det.members[1].model
    img, box = synthetic_car()
    assert iou_matrix(np.array([box]), det(img).boxes).max() > 0.7


def test_plate_onnx_export_failure_falls_back_to_pytorch_weights(monkeypatch, capsys, tmp_path):
    import fpblur.detect.plate_model as onnx_plate

    def fail(weights):
        raise RuntimeError("onnx exporter exploded\nwith a long traceback")

    monkeypatch.setattr(onnx_plate, "onnx_plate_path", fail)
    monkeypatch.setattr(onnx_plate, "cuda_wanted", lambda device: False)
    weights = tmp_path / "best.pt"
    assert onnx_plate.plate_weights(str(weights), "cpu") == weights
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "ONNX export failed (onnx exporter exploded)" in err[0], err
