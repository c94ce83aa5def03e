"""Interactive blur demo for Jupyter, Voilà and Colab (ipywidgets).

>>> from fpblur.ui.widgets import show_demo
>>> demo = show_demo()          # upload a photo or short video, or pick a sample, then click "Anonymize"

:class:`BlurDemo` holds plain ipywidgets (``demo.sample``, ``demo.mode``, ``demo.controls["face"]["conf"]``,
``demo.run_button`` …) so it can be driven from code and tested without a kernel.  Every callback reports
errors in the widget itself (``demo.message``) instead of raising, so the UI never goes dead.

The chosen input is shown as soon as it is chosen; a result (after-image, counts, download link, save path) is
cleared when the input changes and when a run starts, so the panel never shows one input's result beside
another.  Below the panel, the same run as Python code (:func:`fpblur.ui.session.code_snippet`) follows every
setting.
"""

from __future__ import annotations

import base64
import functools
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

import ipywidgets as W
from IPython.display import display

from fpblur.config.profiles import DEFAULT_PROFILE, PROFILES
from fpblur.config.settings import MODES, default_config
from fpblur.core.files import IMAGE_EXTS, InputError, atomic_output, same_file
from fpblur.media.images import encode_image, read_image
from fpblur.media.video_io import CONTAINERS
from fpblur.models import samples
from fpblur.models.registry import DEFAULTS
from fpblur.ui.session import (
    FORM_FIELDS,
    TARGETS,
    AnonymizerCache,
    ImageResult,
    Settings,
    TargetSettings,
    VideoResult,
    anonymize_image_file,
    anonymize_video_file,
    code_snippet,
    counts_text,
    form_defaults,
    media_kind,
    preview_jpeg,
    probe_video,
    settings_from_form,
)

SAMPLES = {
    "zidane.jpg": "zidane.jpg — two faces (ultralytics sample)",
    "bus.jpg": "bus.jpg — street scene (ultralytics sample)",
    "car_plate.png": "car_plate.png — licence plate (generated)",
}
UPLOAD = ""  # sample dropdown value meaning "use the uploaded file"
PREVIEW_SIDE = 720
MAX_DOWNLOAD_BYTES = 40 * 1024 * 1024  # bigger results are only saved to disk, not inlined as a link
AFTER_HINT = "click Anonymize to see the result"
# the widget area's CSS sets a 28 px line height and a proportional font: code needs its own
CODE_STYLE = (
    "white-space:pre-wrap;font-family:monospace;font-size:12px;line-height:1.4;margin:0;padding:6px;"
    "background:#f6f8fa;border:1px solid #ddd"
)
SAVE_FOLDER = "fpblur-out"  # "Save" proposes this folder under the working directory (git-ignored in fpblur's repo)


def default_save_dir() -> Path:
    """The folder "Save" proposes: :data:`SAVE_FOLDER` under the current working directory, as an absolute path
    (beside the notebook in Jupyter and Voilà, ``/content/fpblur-out`` on Colab; ``.gitignore`` ignores it).
    """
    return Path.cwd().resolve() / SAVE_FOLDER


def enable_colab_widgets() -> bool:
    """Switch Colab to its custom widget manager (ipywidgets 8 needs it); a no-op elsewhere.

    Returns:
        True when running in Colab (the manager was enabled), else False.
    """
    if "google.colab" not in sys.modules:
        return False
    from google.colab import output  # type: ignore[import-not-found]  # optional: Colab only

    output.enable_custom_widget_manager()
    return True


def sample_path(name: str) -> Path:
    """A bundled sample (ultralytics' photos, a generated car) as a file on disk, created offline.

    Args:
        name: a key of :data:`SAMPLES`.

    Raises:
        InputError: ``name`` is not a sample.
    """
    path = samples.sample_folder() / name
    if not path.is_file():
        raise InputError(f"{name}: no such sample; choose one of {', '.join(SAMPLES)}")
    return path


IMGSZ_TIPS = {
    "face": "0 = the profile's CenterFace passes (×2 upscaled + 640 px by default); non-zero caps CenterFace's long "
    "side (custom YOLO weights: inference size, 0 = the profile's YOLO sizes)",
    "plate": "inference size; 0 = the profile's sizes (640 + 480 px by default), for the default plate model and "
    "custom weights alike",
}
# the numeric knobs of one target's row: (slider class, min, max, step)
KNOBS = {
    "conf": (W.FloatSlider, 0.01, 0.95, 0.01),
    "iou": (W.FloatSlider, 0.05, 0.95, 0.05),
    "pad": (W.FloatSlider, 0.0, 1.0, 0.02),
    "imgsz": (W.IntSlider, 0, 2560, 32),
}


def _slider_row(target: str, defaults: TargetSettings) -> dict[str, W.Widget]:
    style = {"description_width": "56px"}
    row: dict[str, W.Widget] = {
        name: kind(
            value=getattr(defaults, name),
            min=low,
            max=high,
            step=step,
            description=name,
            style=style,
            layout=W.Layout(width="260px"),
            continuous_update=False,
        )
        for name, (kind, low, high, step) in KNOBS.items()
    }
    row["imgsz"].tooltip = IMGSZ_TIPS[target]
    row["weights"] = W.Text(
        value="",
        placeholder=f"default: {DEFAULTS[target]}",
        description="weights",
        style=style,
        layout=W.Layout(width="260px"),
        tooltip="optional custom .pt/.onnx weights path",
    )
    return row


class BlurDemo:
    """Upload or pick an input, tune the detectors, anonymize, compare, download (ipywidgets).

    The widgets are attributes (``sample``, ``mode``, ``profile``, ``controls[target][knob]``, ``run_button``,
    ``message`` …); uploads and video outputs live in a temporary folder removed by :meth:`close` or, at the
    latest, when the object is garbage-collected or the kernel exits.

    Args:
        cache: the detector cache to use (default: a new :class:`~fpblur.ui.session.AnonymizerCache`).
        save_dir: the folder "Save to" proposes (default: :func:`default_save_dir`); relative paths are taken
            from the current working directory and shown absolute.
    """

    def __init__(self, cache: AnonymizerCache | None = None, save_dir: str | Path | None = None) -> None:
        self.cache = cache or AnonymizerCache()
        self.save_dir = Path(save_dir).expanduser().resolve() if save_dir else default_save_dir()
        self.result: ImageResult | VideoResult | None = None
        self.result_name: str | None = None
        self.result_input: Path | None = None  # the file the result was made from (Save never overwrites it)
        self._work = Path(tempfile.mkdtemp(prefix="fpblur-widgets-"))
        # Voilà and Jupyter never call close(): the temp folder goes at the latest when the kernel exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._work, True)
        self._upload_key: tuple | None = None  # the upload self._upload_copy holds (name, size, last modified)
        self._upload_copy: Path | None = None
        self._out_dir: Path | None = None  # the last video run's output folder
        self._video_data: bytes | None = None  # the last video result's bytes, read once per run
        self._probe: tuple[Path, object, int] | None = None  # (video, first frame, frame count) of the shown input

        self.upload = W.FileUpload(
            accept="image/*,video/*", multiple=False, description="Upload image/video", layout=W.Layout(width="190px")
        )
        self.sample = W.Dropdown(
            options=[("— use uploaded file —", UPLOAD)] + [(v, k) for k, v in SAMPLES.items()],
            value="zidane.jpg",
            description="Sample",
            layout=W.Layout(width="420px"),
        )
        self.targets = {
            t: W.Checkbox(value=True, description=t, indent=False, layout=W.Layout(width="80px")) for t in TARGETS
        }
        self.mode = W.ToggleButtons(
            options=list(MODES), value=default_config().mode, description="Mode", style={"button_width": "80px"}
        )
        self.profile = W.Dropdown(
            options=list(PROFILES),
            value=DEFAULT_PROFILE,
            description="Profile",
            layout=W.Layout(width="200px"),
            tooltip="detector settings and padding; choosing one resets the sliders to its values",
        )
        self.controls = {t: _slider_row(t, d) for t, d in form_defaults(self.profile.value).items()}
        self.run_button = W.Button(description="Anonymize", button_style="primary", icon="eye-slash")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="Video", layout=W.Layout(visibility="hidden"))
        self.message = W.HTML()
        self.counts = W.HTML()
        # an Image without a value is a broken-image icon in the browser: each pane shows a note instead
        self.before = W.Image(format="jpeg", layout=W.Layout(max_width="100%", display="none"))
        self.before_note = W.HTML("<i>choose a sample or upload an image or video</i>")
        self.after = W.Image(format="jpeg", layout=W.Layout(max_width="100%", display="none"))
        self.after_note = W.HTML(AFTER_HINT)
        self.after_video = W.Video(
            format="mp4", autoplay=False, controls=True, loop=False, layout=W.Layout(max_width="100%", display="none")
        )
        self.download = W.HTML()
        self.save_path = W.Text(
            value="", placeholder="path to save the result", description="Save to", layout=W.Layout(width="560px")
        )
        self.save_button = W.Button(description="Save", icon="save")
        self.code = W.HTML()  # the same run as Python code, following the settings

        for name, w in (
            ("upload", self.upload),
            ("sample", self.sample),
            ("mode", self.mode),
            ("profile", self.profile),
            ("run", self.run_button),
            ("progress", self.progress),
            ("message", self.message),
            ("counts", self.counts),
            ("before", self.before),
            ("before-note", self.before_note),
            ("after", self.after),
            ("after-note", self.after_note),
            ("after-video", self.after_video),
            ("download", self.download),
            ("save-path", self.save_path),
            ("save", self.save_button),
            ("code", self.code),
        ):
            w.add_class(f"fpblur-{name}")

        self.upload.observe(self._guard(self._on_upload), names="value")
        self.sample.observe(self._guard(lambda _change: self.show_input()), names="value")
        self.profile.observe(self._guard(lambda _change: self.reset_controls()), names="value")
        for w in (
            self.mode,
            self.profile,
            *self.targets.values(),
            *(c for row in self.controls.values() for c in row.values()),
        ):
            w.observe(lambda _change: self.update_code(), names="value")
        self.run_button.on_click(self._guard(lambda _b: self.run()))
        self.save_button.on_click(self._guard(lambda _b: self.save()))
        self.widget = self._layout()
        self._guard(self.show_input)()

    # ----- layout -----
    def _layout(self) -> W.Widget:
        per_target = []
        for t in TARGETS:
            c = self.controls[t]
            per_target.append(
                W.VBox(
                    [self.targets[t], c["conf"], c["iou"], c["pad"], c["imgsz"], c["weights"]],
                    layout=W.Layout(border="1px solid #ddd", padding="4px", margin="2px"),
                )
            )
        source = W.HBox([self.upload, self.sample])
        panes = W.HBox(
            [
                W.VBox([W.HTML("<b>Before</b>"), self.before_note, self.before], layout=W.Layout(width="50%")),
                W.VBox(
                    [W.HTML("<b>After</b>"), self.after_note, self.after, self.after_video],
                    layout=W.Layout(width="50%"),
                ),
            ]
        )
        actions = W.HBox([self.run_button, self.progress, self.counts])
        save = W.HBox([self.save_path, self.save_button, self.download])
        code = W.VBox([W.HTML("<b>The same from code</b> (follows the settings above)"), self.code])
        box = W.VBox(
            [source, W.HBox([self.mode, self.profile]), W.HBox(per_target), actions, self.message, panes, save, code]
        )
        box.add_class("fpblur-demo")
        return box

    def _ipython_display_(self) -> None:
        display(self.widget)

    # ----- error handling: a callback never raises into the widget machinery -----
    def _guard(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # shown in the UI; the widget stays usable
                self.show_error(exc)
            return None

        return wrapper

    def show_error(self, exc: BaseException | str) -> None:
        """Show ``exc`` in the message area in red: an :class:`InputError` or a string as is, any other
        exception as ``Type: first line``.
        """
        if isinstance(exc, (InputError, str)):
            text = str(exc)
        else:
            first = str(exc).strip().splitlines()
            text = f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__
        self.message.value = f'<span class="fpblur-error" style="color:#b00020">⚠ {_escape(text)}</span>'

    def show_status(self, text: str) -> None:
        """Show ``text`` (HTML-escaped) in the message area."""
        self.message.value = f'<span class="fpblur-status">{_escape(text)}</span>'

    @property
    def error(self) -> str | None:
        """The error currently shown, if any (plain text)."""
        v = self.message.value
        return _unescape(v.split("⚠ ", 1)[1].rsplit("</span>", 1)[0]) if "fpblur-error" in v else None

    # ----- state → settings -----
    def settings(self) -> Settings:
        """The controls as checked :class:`Settings` (:func:`fpblur.ui.session.settings_from_form`, as the app).

        Raises:
            InputError: the controls' values are refused (no target, bad weights, a value out of range).
        """
        return settings_from_form(
            use={t: self.targets[t].value for t in TARGETS},
            values={t: {name: self.controls[t][name].value for name in FORM_FIELDS} for t in TARGETS},
            mode=self.mode.value,
            profile=self.profile.value,
            weights={t: self.controls[t]["weights"].value for t in TARGETS},
        )

    def reset_controls(self) -> None:
        """Set the sliders to the chosen profile's values (resolved by the one resolver); weights stay."""
        for t, d in form_defaults(self.profile.value).items():
            for name in FORM_FIELDS:
                self.controls[t][name].value = getattr(d, name)

    def _on_upload(self, change) -> None:
        if change["new"]:
            if self.sample.value != UPLOAD:
                self.sample.value = UPLOAD  # its observer shows the upload
            else:
                self.show_input()

    # ----- panes -----
    def show_input(self) -> None:
        """Show the chosen input in the Before pane (a video's first frame) and clear the previous result.

        Raises:
            InputError: the input cannot be read (an uploaded file is named, not its temporary copy); the pane
                is left empty.
        """
        self.clear_result()
        self._probe = None
        _set_image(self.before, self.before_note, None, "choose a sample or upload an image or video")
        if self.sample.value == UPLOAD and not self.upload.value:
            self.show_status("upload an image or video, or choose a sample")
            return
        src = self.input_file()
        try:
            if media_kind(src) == "video":
                first, frames = probe_video(src)
                self._probe = (src, first, frames)
                what = f"video, {frames} frames" if frames else "video"
            else:
                first = read_image(src).pixels
                what = "image"
        except InputError as exc:
            raise InputError(str(exc).replace(str(src), src.name)) from None
        _set_image(self.before, self.before_note, preview_jpeg(first, PREVIEW_SIDE))
        self.show_status(f"{src.name}: {first.shape[1]}×{first.shape[0]} {what}; click Anonymize")

    def clear_result(self, note: str | None = None) -> None:
        """Forget the last result and clear what showed it: the After pane, counts, download link and save path
        (``note``: the After pane's text, default: a hint to click Anonymize).  The previous video output leaves
        the disk.
        """
        self.result = self.result_name = self.result_input = None
        self._video_data = None
        self._drop_video_output()
        _set_image(self.after, self.after_note, None, note or AFTER_HINT)
        self.after_video.layout.display = "none"
        self.after_video.value = b""
        self.counts.value = ""
        self.download.value = ""
        self.save_path.value = ""
        self.progress.layout.visibility = "hidden"
        self.update_code()

    def update_code(self) -> None:
        """Show the current settings and input as Python code (:meth:`code_text`) below the panel."""
        try:
            text = self.code_text()
        except Exception as exc:  # settings Anonymize would refuse too (it says why when clicked)
            text = f"# not runnable with these settings: {exc}"
        self.code.value = f'<pre class="fpblur-code-text" style="{CODE_STYLE}">{_escape(text)}</pre>'

    def code_text(self) -> str:
        """Python code that does what Anonymize does now, through the public API
        (:func:`fpblur.ui.session.code_snippet`): ``Anonymizer(...)`` with the chosen profile, targets, mode,
        detector settings and padding (its ``.config`` equals ``self.settings().config()``), then the chosen
        sample or uploaded file (by its own name) anonymized into ``<name>_<mode><ext>``.

        Raises:
            InputError: the settings are refused (see :meth:`settings`).
        """
        settings = self.settings()
        if self.sample.value != UPLOAD:
            name, sample = self.sample.value, True
        elif self.upload.value:
            name, sample = Path(str(self.upload.value[0].get("name") or "upload")).name, False
        else:
            name, sample = "photo.jpg", False
        try:
            out = _result_name(Path(name), settings.mode)
        except InputError:  # an upload of an unsupported type: the error is shown elsewhere
            name, out = "photo.jpg", _result_name(Path("photo.jpg"), settings.mode)
        return code_snippet(settings, name, out, sample=sample)

    def input_file(self) -> Path:
        """The file to process: the chosen sample, else the uploaded file (copied once to the temp folder).

        Raises:
            InputError: no upload and no sample, or an upload whose type is neither image nor video.
        """
        if self.sample.value != UPLOAD:
            return sample_path(self.sample.value)
        if not self.upload.value:
            raise InputError("upload an image or video, or choose a sample")
        item = self.upload.value[0]
        name = Path(str(item.get("name") or "upload")).name or "upload"
        media_kind(name)  # unsupported types fail before anything is written
        content = item["content"]
        key = (name, len(content), str(item.get("last_modified", "")))
        if key == self._upload_key and self._upload_copy is not None and self._upload_copy.is_file():
            return self._upload_copy  # another click on the same upload: no second copy
        if self._upload_copy is not None:  # a new upload replaces the previous copy
            shutil.rmtree(self._upload_copy.parent, ignore_errors=True)
            self._upload_key = self._upload_copy = None
        folder = Path(tempfile.mkdtemp(prefix="in-", dir=self._work))
        path = folder / name
        path.write_bytes(bytes(content))
        self._upload_key, self._upload_copy = key, path
        return path

    # ----- actions -----
    def run(self) -> ImageResult | VideoResult:
        """Process the current input with the current settings (what the button does, minus the error display).

        Shows before/after previews, the counts, a download link (results up to :data:`MAX_DOWNLOAD_BYTES`) and
        proposes a save path.

        Returns:
            The :class:`ImageResult` or :class:`VideoResult`.

        Raises:
            InputError: bad settings or input (an uploaded file is named, not its temporary copy); whatever loading a
                model raises.
        """
        self.run_button.disabled = True
        self.message.value = ""
        try:
            settings = self.settings()
            src = self.input_file()
            kind = media_kind(src)
            self.clear_result("working…")  # a new run: nothing of the previous result stays on screen
            if kind == "video":  # the bar shows with the status, not after the models load and the input is probed
                self._show_progress()
            self.show_status("loading models…" if not self.cache.builds else "working…")
            try:
                anonymizer = self.cache.get(settings)
                result = (
                    self._run_image(anonymizer, src) if kind == "image" else self._run_video(anonymizer, settings, src)
                )
            except InputError as exc:  # name the uploaded file, not its temporary copy
                _set_image(self.after, self.after_note, None, "no result")
                raise InputError(str(exc).replace(str(src), src.name)) from None
            except BaseException:
                _set_image(self.after, self.after_note, None, "no result")
                raise
        finally:
            self.run_button.disabled = False
        self.result, self.result_name, self.result_input = result, _result_name(src, settings.mode), src
        self.counts.value = f'<span class="fpblur-counts">{counts_text(result.counts)}</span>'
        self.save_path.value = str(self.save_dir / self.result_name)
        self._set_download()
        self.show_status(f"done in {result.seconds:.1f} s")
        return result

    def _run_image(self, anonymizer, src: Path) -> ImageResult:
        self.progress.layout.visibility = "hidden"
        result = anonymize_image_file(anonymizer, src)
        _set_image(self.before, self.before_note, preview_jpeg(result.original, PREVIEW_SIDE))
        _set_image(self.after, self.after_note, preview_jpeg(result.output, PREVIEW_SIDE))
        return result

    def _show_progress(self) -> None:
        """Show the video progress bar, empty."""
        self.progress.value, self.progress.max = 0, 1
        self.progress.bar_style = ""
        self.progress.layout.visibility = "visible"

    def _run_video(self, anonymizer, settings: Settings, src: Path) -> VideoResult:
        if self._probe is not None and self._probe[0] == src:  # shown when chosen: no second probe
            first, expected_frames = self._probe[1], self._probe[2]
        else:  # the only extra open of the input: preview + frame count
            first, expected_frames = probe_video(src)
            self._probe = (src, first, expected_frames)
        _set_image(self.before, self.before_note, preview_jpeg(first, PREVIEW_SIDE))
        self._show_progress()

        def on_progress(done: int, total: int | None) -> None:
            self.progress.max = max(total or 0, done, 1)
            self.progress.value = done

        self._out_dir = Path(tempfile.mkdtemp(prefix="out-", dir=self._work))
        dst = self._out_dir / f"{src.stem}_{settings.mode}.mp4"
        try:
            result = anonymize_video_file(anonymizer, src, dst, progress=on_progress, expected_frames=expected_frames)
        except BaseException:
            self.progress.bar_style = "danger"
            raise
        self.progress.bar_style = "success"
        if result.first_frame is not None:
            _set_image(self.after, self.after_note, preview_jpeg(result.first_frame, PREVIEW_SIDE))
        else:
            _set_image(self.after, self.after_note, None, "")
        self._video_data = result.path.read_bytes()  # once: the player, the download link and Save share it
        self.after_video.value = self._video_data
        self.after_video.layout.display = None
        return result

    def _drop_video_output(self) -> None:
        """Delete the previous video run's output folder (its bytes stay in memory for Save)."""
        if self._out_dir is not None:
            shutil.rmtree(self._out_dir, ignore_errors=True)
            self._out_dir = None

    def result_bytes(self, suffix: str | None = None) -> bytes:
        """The last result as a file's bytes: a video's MP4, an image encoded for ``suffix`` (default: the
        result name's extension).

        Raises:
            InputError: nothing has been run yet, or no encoder exists for ``suffix``.
        """
        if self.result is None or self.result_name is None:
            raise InputError("nothing to save yet: click Anonymize first")
        if isinstance(self.result, VideoResult):
            return self._video_data if self._video_data is not None else self.result.path.read_bytes()
        return encode_image(self.result.output, suffix or Path(self.result_name).suffix)

    def _set_download(self) -> None:
        data = self.result_bytes()
        if len(data) > MAX_DOWNLOAD_BYTES:
            self.download.value = "<i>result too large for a download link: use Save</i>"
            return
        mime = "video/mp4" if isinstance(self.result, VideoResult) else _image_mime(self.result_name or "")
        b64 = base64.b64encode(data).decode("ascii")
        self.download.value = (
            f'<a class="fpblur-download-link" download="{_escape(self.result_name or "")}" '
            f'href="data:{mime};base64,{b64}">⬇ Download {_escape(self.result_name or "")}</a>'
        )

    def save(self, path: str | Path | None = None) -> Path:
        """Write the last result to ``path`` (default: the "Save to" field; a folder gets the result's name),
        atomically.

        Images are encoded for the target's extension (``x.png`` gets a PNG even when the input was a JPEG);
        a video result is an MP4 file, so it needs ``.mp4``/``.m4v``; the input the result came from is never
        overwritten.

        Returns:
            The path written.

        Raises:
            InputError: nothing to save yet, an extension that does not fit the result, or ``path`` is the input.
        """
        if self.result is None or self.result_name is None:
            raise InputError("nothing to save yet: click Anonymize first")
        dst = Path(path or self.save_path.value.strip() or self.save_dir / self.result_name).expanduser()
        if dst.is_dir():
            dst = dst / self.result_name
        suffix = dst.suffix.lower()
        if isinstance(self.result, VideoResult):
            container = CONTAINERS[self.result.path.suffix.lower()]
            same_kind = [ext for ext, fmt in CONTAINERS.items() if fmt == container]
            if CONTAINERS.get(suffix) != container:
                raise InputError(f"{dst}: the video result is {container.upper()}; save it as {' or '.join(same_kind)}")
        elif suffix not in IMAGE_EXTS:
            raise InputError(f"{dst}: an image result must be saved as one of {', '.join(IMAGE_EXTS)}")
        if self.result_input is not None and same_file(dst, self.result_input):
            raise InputError(f"{dst}: output path equals the input; refusing to overwrite an input")
        data = self.result_bytes(suffix)
        with atomic_output(dst) as tmp:
            tmp.write_bytes(data)
        self.show_status(f"saved {dst}")
        return dst

    def close(self) -> None:
        """Remove the temporary folder (uploads, video outputs) and close the widgets."""
        self._cleanup()  # removes the temp folder (once; also runs on garbage collection or at exit)
        self.widget.close()


def show_demo(**kwargs) -> BlurDemo:
    """Enable Colab's widget manager when needed, build a :class:`BlurDemo` (``kwargs``: its arguments) and
    display it.

    Returns:
        The demo, to drive from code.
    """
    enable_colab_widgets()
    demo = BlurDemo(**kwargs)
    display(demo.widget)
    return demo


def _set_image(image: W.Image, note: W.HTML, data: bytes | None, text: str = "") -> None:
    """Show ``data`` (JPEG bytes) in ``image``, or hide it and show ``text`` in ``note`` instead (an Image
    without a value is a broken-image icon in the browser)."""
    if data:
        image.value = data
        image.layout.display = None
        note.value, note.layout.display = "", "none"
    else:
        image.layout.display = "none"
        image.value = b""
        note.value = f'<i class="fpblur-note">{_escape(text)}</i>' if text else ""
        note.layout.display = None if text else "none"


def _result_name(src: Path, mode: str) -> str:
    suffix = ".mp4" if media_kind(src) == "video" else src.suffix.lower()
    return f"{src.stem}_{mode}{suffix}"


def _image_mime(name: str) -> str:
    ext = Path(name).suffix.lower().lstrip(".")
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "tif": "image/tiff"}.get(ext, f"image/{ext}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _unescape(text: str) -> str:
    return text.replace("&quot;", '"').replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
