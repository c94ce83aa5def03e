"""Video clips the tests generate, coded so that every run of a test sees the same pixels.

libx264 at its default (lossy) settings codes the same frames differently from one encode to the next, even within
one process: two encodes of :func:`panning_clip`'s frames decode to pixels up to 67 levels apart.  Weak detections
follow that noise; on the Zidane pan, about 1 encode in 10 got a third face track confirmed (CenterFace scores
0.35–0.45 on the back of Zidane's head), so a test that counted the tracks failed at random.  Coded losslessly
(``qp=0``), the decoded frames are exactly the frames generated, whatever the encoder decides.  (x264's ultrafast
preset, which :func:`fpblur.media.synth.write_video` uses, also gave the same pixels on every encode measured; the
default preset did not.)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def panning_clip(
    photo: np.ndarray,
    dst: Path | io.BytesIO,
    frames: int,
    step: int = 2,
    size: tuple[int, int] = (480, 272),
    fps: int = 25,
) -> None:
    """Write a lossless H.264 mp4 that pans across ``photo`` (its real faces are in every frame).

    Args:
        photo: H×W×3 uint8 BGR picture, wider than tall.
        dst: the mp4 file, or a buffer to write it to.
        frames: number of frames.
        step: pixels of ``photo`` the view moves right per frame; it starts at x = 200.
        size: (width, height) of the clip in pixels; each frame is the view scaled to it.
        fps: frames per second.
    """
    import av
    import cv2

    width, height = size
    with av.open(dst if isinstance(dst, io.BytesIO) else str(dst), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"qp": "0"})  # lossless: see the module's docstring
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        h = photo.shape[0]
        for i in range(frames):
            x = 200 + step * i
            view = cv2.resize(photo[:, x : x + h * width // height], size, interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(view, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
