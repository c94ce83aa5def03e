"""fpblur.training.data.yolo: data YAML reading errors and the box helpers."""

from __future__ import annotations

import numpy as np
import pytest

from fpblur.training.data import qa, yolo


@pytest.mark.parametrize(
    "text, what", [("", "empty YAML file"), ("names: {0: plate\n", "not valid YAML"), ("just text\n", "mapping")]
)
def test_read_names_bad_data_yaml_is_a_one_line_error_naming_it(tmp_path, text, what):
    (tmp_path / "data.yaml").write_text(text)
    for call in (lambda: yolo.read_names(tmp_path), lambda: qa.audit(tmp_path)):
        with pytest.raises(ValueError, match=what) as err:
            call()
        assert str(err.value).startswith(f"{tmp_path / 'data.yaml'}: ") and "\n" not in str(err.value)


def test_read_names_without_or_with_a_data_yaml(tmp_path):
    assert yolo.read_names(tmp_path) is None
    (tmp_path / "data.yaml").write_text("path: .\nnames: [face, plate]\n")
    assert yolo.read_names(tmp_path) == {0: "face", 1: "plate"}


def test_box_helpers_round_trip_and_clip():
    xyxy = np.array([[-10.0, 5.0, 50.0, 130.0]])
    clipped = yolo.clip_xyxy(xyxy, 40, 120)
    np.testing.assert_array_equal(clipped, [[0, 5, 40, 120]])
    np.testing.assert_allclose(yolo.cxcywh_to_xyxy(yolo.xyxy_to_cxcywh(clipped, 40, 120)) * [40, 120, 40, 120], clipped)
