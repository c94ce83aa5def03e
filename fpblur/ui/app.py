"""Desktop app (Tkinter): pick weights, an image or a video, tune the detectors, Run — work happens off the UI
thread with a progress bar and Cancel.  Start it with ``fpblur app`` or ``python face_plate_tool.py``.

Message boxes and file pickers go through a :class:`Dialogs` object so tests (and scripts) can replace them
with ones that do not block.

Choosing an input fills the output field with ``NAME_anon.EXT`` (:func:`fpblur.ui.session.default_output`) unless
the user has typed an output for that input; the preview is cleared when the input changes, when a run starts
and when it is cancelled or fails, so it only ever shows the finished result of the current run.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from PIL import Image, ImageTk

from fpblur.config.profiles import DEFAULT_PROFILE, PROFILES
from fpblur.config.settings import default_config
from fpblur.core.files import IMAGE_EXTS, VIDEO_EXTS, InputError, same_file
from fpblur.media.video_io import CONTAINERS
from fpblur.models.registry import DEFAULTS
from fpblur.ui.session import (
    FORM_FIELDS,
    TARGETS,
    AnonymizerCache,
    Cancelled,
    ImageResult,
    Settings,
    VideoResult,
    anonymize_image_file,
    anonymize_video_file,
    counts_text,
    default_output,
    display_rgb,
    form_defaults,
    media_kind,
    settings_from_form,
)

OPERATIONS = (("Bounding Box", "boxes"), ("Blur", "blur"), ("Pixelate", "pixelate"), ("Solid", "solid"))
PARAMS = FORM_FIELDS  # the detection grid's columns
POLL_MS = 40
PREVIEW_HINT = "The result preview appears here."


class Dialogs:
    """Tk's blocking message boxes and file pickers (tests replace them with ones that do not block)."""

    def error(self, title: str, message: str) -> None:
        """Show an error message box."""
        messagebox.showerror(title, message)

    def info(self, title: str, message: str) -> None:
        """Show an information message box."""
        messagebox.showinfo(title, message)

    def open_file(self, title: str, filetypes: list[tuple[str, str]]) -> str:
        """Ask for an existing file; ``filetypes`` are ``(label, "*.ext …")`` pairs.

        Returns:
            The chosen path, ``""`` when cancelled.
        """
        return filedialog.askopenfilename(title=title, filetypes=filetypes) or ""

    def save_file(self, title: str, filetypes: list[tuple[str, str]], default_ext: str) -> str:
        """Ask for a file to write; ``default_ext`` is appended to a name typed without one.

        Returns:
            The chosen path, ``""`` when cancelled.
        """
        return filedialog.asksaveasfilename(title=title, filetypes=filetypes, defaultextension=default_ext) or ""


def _patterns(exts) -> str:
    return " ".join(f"*{e}" for e in exts)


class FpblurApp:
    """The app's widgets and logic inside a Tk root.

    Args:
        root: the Tk root to build in (default: a new ``tk.Tk()``; raises ``tk.TclError`` without a display).
        dialogs: message boxes and pickers (default: Tk's own, :class:`Dialogs`).
        cache: the detector cache (default: a new :class:`~fpblur.ui.session.AnonymizerCache`).
    """

    def __init__(
        self, root: tk.Tk | None = None, dialogs: Dialogs | None = None, cache: AnonymizerCache | None = None
    ) -> None:
        self.root = root or tk.Tk()
        self.dialogs = dialogs or Dialogs()
        self.cache = cache or AnonymizerCache()
        self.root.title("fpblur — Face & Plate anonymizer")
        style = ttk.Style(self.root)
        if style.theme_use() == "default" and "clam" in style.theme_names():
            style.theme_use("clam")  # X11's default theme looks dated
            style.configure("Horizontal.TProgressbar", background="#3b7dd8")
        self.root.geometry("1000x760")
        self.root.minsize(820, 600)

        self.weights = {t: tk.StringVar(value=DEFAULTS[t]) for t in TARGETS}
        self.use = {t: tk.BooleanVar(value=True) for t in TARGETS}
        self.media = tk.StringVar(value="image")
        self.operation = tk.StringVar(value=default_config().mode)
        self.profile = tk.StringVar(value=DEFAULT_PROFILE)
        self.params: dict[str, dict[str, tk.StringVar]] = {
            t: {name: tk.StringVar() for name in PARAMS} for t in TARGETS
        }
        self.reset_params()
        self.profile.trace_add("write", lambda *_: self.reset_params())
        self.input_path = tk.StringVar(value="")
        self.output_path = tk.StringVar(value="")
        self._derived_output = ""  # the output field's text when the app filled it in from the input
        self._output_input: str | None = None  # the input the user typed the output field's text for
        self._input_seen = ""  # the input field's text the output field was last updated for
        self.input_path.trace_add("write", lambda *_: self._input_changed())
        self.output_path.trace_add("write", lambda *_: self._output_changed())
        self.status = tk.StringVar(value="Ready. Choose an image or a video, then Run.")

        self._events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._worker: threading.Thread | None = None
        self._photo = None  # keep a reference to the preview image
        self.last_result: ImageResult | VideoResult | None = None
        self.last_output: Path | None = None
        self._build()

    # ---------- UI ----------
    def _build(self) -> None:
        pad = {"padx": 6, "pady": 3}
        main = ttk.Frame(self.root, padding=8)
        main.pack(fill="both", expand=True)

        models = ttk.LabelFrame(main, text="Models (registry name or .pt/.onnx file)", padding=6)
        models.pack(fill="x", **pad)
        for row, t in enumerate(TARGETS):
            ttk.Checkbutton(models, text=t.capitalize(), variable=self.use[t]).grid(row=row, column=0, sticky="w")
            ttk.Entry(models, textvariable=self.weights[t], width=70).grid(row=row, column=1, sticky="we", padx=4)
            ttk.Button(models, text="Browse…", command=lambda t=t: self.choose_weights(t)).grid(row=row, column=2)
        models.columnconfigure(1, weight=1)

        opts = ttk.Frame(main)
        opts.pack(fill="x", **pad)
        ttk.Label(opts, text="Mode:").pack(side="left")
        for text, value in (("Image", "image"), ("Video", "video")):
            ttk.Radiobutton(opts, text=text, variable=self.media, value=value).pack(side="left", padx=2)
        ttk.Label(opts, text="   Operation:").pack(side="left")
        for text, value in OPERATIONS:
            ttk.Radiobutton(opts, text=text, variable=self.operation, value=value).pack(side="left", padx=2)
        ttk.Label(opts, text="   Profile:").pack(side="left")
        ttk.Combobox(
            opts, textvariable=self.profile, values=list(PROFILES), state="readonly", width=max(map(len, PROFILES)) + 2
        ).pack(side="left", padx=2)

        plate_sizes = "+".join(map(str, default_config().spec("plate").imgsz))
        grid = ttk.LabelFrame(
            main,
            text=f"Detection (imgsz 0: the profile's sizes, {plate_sizes} px plates with the default profile; "
            "CenterFace faces: non-zero imgsz caps the long side)",
            padding=6,
        )
        grid.pack(fill="x", **pad)
        ttk.Label(grid, text="Choosing a Profile resets these to its values.", foreground="#555").grid(
            row=1, column=len(PARAMS) + 1, rowspan=2, sticky="w", padx=(12, 0)
        )
        for col, name in enumerate(PARAMS, start=1):
            ttk.Label(grid, text=name).grid(row=0, column=col)
        self.param_entries: dict[str, dict[str, ttk.Entry]] = {}
        for row, t in enumerate(TARGETS, start=1):
            ttk.Label(grid, text=t.capitalize()).grid(row=row, column=0, sticky="w", padx=(0, 8))
            self.param_entries[t] = {}
            for col, name in enumerate(PARAMS, start=1):
                e = ttk.Entry(grid, textvariable=self.params[t][name], width=8)
                e.grid(row=row, column=col, padx=3, pady=1)
                self.param_entries[t][name] = e

        files = ttk.Frame(main)
        files.pack(fill="x", **pad)
        ttk.Label(files, text="Input:").grid(row=0, column=0, sticky="w")
        ttk.Entry(files, textvariable=self.input_path).grid(row=0, column=1, sticky="we", padx=4)
        ttk.Button(files, text="Choose…", command=self.choose_input).grid(row=0, column=2)
        ttk.Label(files, text="Output (optional):").grid(row=1, column=0, sticky="w")
        ttk.Entry(files, textvariable=self.output_path).grid(row=1, column=1, sticky="we", padx=4)
        ttk.Button(files, text="Choose…", command=self.choose_output).grid(row=1, column=2)
        files.columnconfigure(1, weight=1)

        actions = ttk.Frame(main)
        actions.pack(fill="x", **pad)
        self.run_button = ttk.Button(actions, text="Run", command=self.run)
        self.run_button.pack(side="left")
        self.cancel_button = ttk.Button(actions, text="Cancel", command=self.cancel, state="disabled")
        self.cancel_button.pack(side="left", padx=6)
        self.progress = ttk.Progressbar(actions, orient="horizontal", mode="determinate", maximum=1)
        self.progress.pack(side="left", fill="x", expand=True, padx=6)

        self.preview = ttk.Label(main, anchor="center", text=PREVIEW_HINT, relief="sunken")
        self.preview.pack(fill="both", expand=True, **pad)
        ttk.Label(main, textvariable=self.status, anchor="w").pack(fill="x", **pad)

    # ---------- pickers ----------
    def choose_weights(self, target: str) -> None:
        """Pick a ``.pt``/``.onnx`` weights file for ``target`` ("face" or "plate") into its field."""
        p = self.dialogs.open_file(f"{target.capitalize()} weights", [("Model weights", "*.pt *.onnx"), ("All", "*")])
        if p:
            self.weights[target].set(p)

    def choose_input(self) -> None:
        """Pick the input file (an image or a video, after the Image/Video switch) into the input field."""
        video = self.media.get() == "video"
        types = [("Videos", _patterns(VIDEO_EXTS))] if video else [("Images", _patterns(IMAGE_EXTS))]
        p = self.dialogs.open_file("Choose a video" if video else "Choose an image", types + [("All", "*")])
        if p:
            self.input_path.set(p)
            self.status.set(f"Input: {p}")

    def choose_output(self) -> None:
        """Pick the output file (``.jpg``/``.png`` for images, a video container's extension for videos)."""
        video = self.media.get() == "video"
        types = (
            [(ext.lstrip(".").upper(), f"*{ext}") for ext in CONTAINERS]
            if video
            else [("JPEG", "*.jpg"), ("PNG", "*.png")]
        )
        p = self.dialogs.save_file("Save the result as", types, ".mp4" if video else ".jpg")
        if p:
            self.output_path.set(p)

    # ---------- input → output name ----------
    def _output_changed(self) -> None:
        out = self.output_path.get()
        if out != self._derived_output:  # typed or picked by the user, for the input shown now
            self._derived_output = ""
            self._output_input = self.input_path.get().strip() if out.strip() else None

    def _input_changed(self) -> None:
        """A new input: clear the preview and derive the output name (:meth:`derive_output`)."""
        raw = self.input_path.get().strip()
        if raw == self._input_seen:  # the same text written again: nothing changed
            return
        self._input_seen = raw
        self.clear_preview()
        self.derive_output()

    def derive_output(self) -> None:
        """Fill the output field from the input: ``NAME_anon.EXT`` beside it (:func:`default_output`).

        An output the user typed for this input (or before choosing any), or an existing folder (``NAME_anon.EXT``
        goes in it at Run), is kept; one typed for a previous input gives way to ``NAME_anon.EXT`` in that output's
        folder.  Nothing changes while the input is not an image or video name (Run says what is wrong).
        """
        raw = self.input_path.get().strip()
        out = self.output_path.get().strip()
        try:
            media_kind(raw)
            usable = True
        except InputError:
            usable = False
        if out and out != self._derived_output:  # the user's output
            if self._output_input in ("", raw) or Path(out).expanduser().is_dir():
                if usable:
                    self._output_input = raw  # kept: it is this input's output now
                return
            if not usable:
                return
            derived = str(default_output(raw, Path(out).expanduser().parent))
        else:
            derived = str(default_output(raw)) if usable else ""
        self._derived_output = derived
        self._output_input = None
        self.output_path.set(derived)

    # ---------- reading the form ----------
    def reset_params(self) -> None:
        """Set the detection grid to the chosen profile's values (resolved by the one resolver)."""
        for t, d in form_defaults(self.profile.get()).items():
            values = {"conf": f"{d.conf:g}", "iou": f"{d.iou:g}", "imgsz": str(d.imgsz), "pad": f"{d.pad:g}"}
            for name, var in self.params[t].items():
                var.set(values[name])

    def settings(self) -> Settings:
        """The form as checked :class:`Settings` (:func:`fpblur.ui.session.settings_from_form`, as the widget demo).

        Raises:
            InputError: a field is not a number, or the resolver refuses the choices.
        """
        return settings_from_form(
            use={t: self.use[t].get() for t in TARGETS},
            values={t: {name: var.get() for name, var in self.params[t].items()} for t in TARGETS},
            mode=self.operation.get(),
            profile=self.profile.get(),
            weights={t: self.weights[t].get() for t in TARGETS},
        )

    def plan(self) -> tuple[Path, Path, str]:
        """Validate the input/output fields.

        Returns:
            ``(src, dst, kind)``: the input, the output (default: ``<stem>_anon<ext>`` beside the input, or in an
            output folder) and ``"image"`` or ``"video"``.

        Raises:
            InputError: no or a missing input, an input that does not match the Image/Video switch, an output
                extension that does not fit, or an output equal to the input.
        """
        raw = self.input_path.get().strip()
        if not raw:
            raise InputError("choose an input file first")
        src = Path(raw).expanduser()
        if not src.is_file():
            raise InputError(f"{src}: no such file")
        kind = media_kind(src)
        if kind != self.media.get():
            raise InputError(
                f"{src.name} is a{'n' if kind == 'image' else ''} {kind}; switch the mode to "
                f"{kind.capitalize()} or choose a{'n' if self.media.get() == 'image' else ''} "
                f"{self.media.get()}"
            )
        out = self.output_path.get().strip()
        if out:
            dst = Path(out).expanduser()
            if dst.is_dir():
                dst = default_output(src, dst)
        else:
            dst = default_output(src)
        if kind == "video" and dst.suffix.lower() not in CONTAINERS:
            raise InputError(f"{dst}: video output must end in one of {', '.join(CONTAINERS)}")
        if kind == "image" and dst.suffix.lower() not in IMAGE_EXTS:
            raise InputError(f"{dst}: image output must end in one of {', '.join(IMAGE_EXTS)}")
        if same_file(dst, src):
            raise InputError(f"{src}: output path equals the input; refusing to overwrite an input")
        return src, dst, kind

    # ---------- run / cancel ----------
    @property
    def busy(self) -> bool:
        """Whether a job is running or its events have not been handled yet."""
        return (self._worker is not None and self._worker.is_alive()) or not self._events.empty()

    def run(self) -> bool:
        """Validate the form and start the work in a thread (progress and the result arrive through the event
        queue, polled every :data:`POLL_MS` ms).

        Returns:
            True when a job was started; False when one is already running or the form is bad (an error dialog
            says why).
        """
        if self._worker is not None and self._worker.is_alive():
            self.dialogs.error("Busy", "A job is already running; wait for it or press Cancel.")
            return False
        try:
            settings = self.settings()
            src, dst, kind = self.plan()
        except InputError as exc:
            self.status.set(f"Error: {exc}")
            self.dialogs.error("Cannot run", str(exc))
            return False
        self._cancel.clear()
        self.clear_preview(f"Working on {src.name}…")  # never the previous run's picture during this one
        self.progress.configure(maximum=1, value=0)
        self.run_button.state(["disabled"])
        self.cancel_button.state(["!disabled"])
        self.status.set(
            f"Working on {src.name}… (loading models)" if not self.cache.builds else f"Working on {src.name}…"
        )
        self._worker = threading.Thread(
            target=self._work, args=(settings, src, dst, kind), daemon=True, name="fpblur-app-worker"
        )
        self._worker.start()
        self.root.after(POLL_MS, self._poll)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop (a video's partial output is deleted); a no-op when idle."""
        if self._worker is not None and self._worker.is_alive():
            self._cancel.set()
            self.status.set("Cancelling…")

    def _work(self, settings: Settings, src: Path, dst: Path, kind: str) -> None:
        """Worker thread: never touches Tk; reports through the event queue."""
        try:
            anonymizer = self.cache.get(settings)
            if self._cancel.is_set():
                raise Cancelled()
            if kind == "image":  # refuses dst == src itself, writes atomically
                result = anonymize_image_file(anonymizer, src, dst)
            else:
                result = anonymize_video_file(anonymizer, src, dst, progress=self._report_progress, cancel=self._cancel)
            self._events.put(("done", result, dst))
        except Cancelled:
            self._events.put(("cancelled",))
        except InputError as exc:
            self._events.put(("error", str(exc)))
        except Exception as exc:  # a model or codec failure: shown in a dialog, the app stays usable
            first = str(exc).strip().splitlines()
            self._events.put(("error", f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__))

    def _report_progress(self, done: int, total: int | None) -> None:
        self._events.put(("progress", done, total))

    def _poll(self) -> None:
        try:
            while True:
                self._handle(self._events.get_nowait())
        except queue.Empty:
            pass
        if self._worker is not None and (self._worker.is_alive() or not self._events.empty()):
            self.root.after(POLL_MS, self._poll)

    def _handle(self, event: tuple) -> None:
        kind = event[0]
        if kind == "progress":
            done, total = event[1], event[2]
            self.progress.configure(maximum=max(total or 0, done, 1), value=done)
            self.status.set(f"Frame {done}" + (f" / {total}" if total else ""))
            return
        self.run_button.state(["!disabled"])
        self.cancel_button.state(["disabled"])
        if kind == "done":
            result, dst = event[1], event[2]
            self.last_result, self.last_output = result, dst
            self.progress.configure(maximum=1, value=1)
            self.status.set(f"Done: {counts_text(result.counts)} → {dst} ({result.seconds:.1f} s)")
            frame = result.output if isinstance(result, ImageResult) else result.first_frame
            if frame is not None:
                self.show_preview(frame)
        elif kind == "cancelled":
            self.progress.configure(value=0)
            self.clear_preview("Cancelled; no output was written.")
            self.status.set("Cancelled; no output was written.")
        else:
            self.progress.configure(value=0)
            self.clear_preview("No result (see the error).")
            self.status.set(f"Error: {event[1]}")
            self.dialogs.error("fpblur", event[1])

    def clear_preview(self, text: str = "") -> None:
        """Remove the picture from the preview area and show ``text`` there (default: where the preview goes)."""
        self._photo = None
        self.preview.configure(image="", text=text or PREVIEW_HINT)

    def show_preview(self, pixels) -> None:
        """Show ``pixels`` (an image array as fpblur handles it) in the preview area, scaled to fit it."""
        self.root.update_idletasks()
        w = max(self.preview.winfo_width(), 320)
        h = max(self.preview.winfo_height(), 240)
        rgb = display_rgb(pixels)
        img = Image.fromarray(rgb)
        img.thumbnail((w - 8, h - 8))
        self._photo = ImageTk.PhotoImage(img)
        self.preview.configure(image=self._photo, text="")

    def wait(self, timeout: float = 120.0) -> None:
        """Process Tk events until the current job finished (for scripts and tests).

        Raises:
            TimeoutError: the job is still running after ``timeout`` seconds.
        """
        end = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > end:
                raise TimeoutError("the job did not finish in time")
            self.root.update()
            time.sleep(0.01)
        self.root.update()


def launch(args) -> int:
    """Open the window with ``fpblur app``'s arguments preselected and run until it is closed.

    Args:
        args: the parsed ``fpblur app`` command line (``input``, ``faces``, ``plates``, ``output``; each optional).

    Returns:
        0 after the window was closed; 2 (one ``fpblur: error:`` line) when no window can be opened.
    """
    try:
        app = FpblurApp()
    except tk.TclError as exc:
        print(
            f"fpblur: error: cannot open a window ({exc}); the app needs a display (on a server: xvfb-run fpblur app)",
            file=sys.stderr,
        )
        return 2
    if getattr(args, "faces", None):
        app.weights["face"].set(args.faces)
    if getattr(args, "plates", None):
        app.weights["plate"].set(args.plates)
    if getattr(args, "input", None):
        app.input_path.set(args.input)
        try:
            app.media.set(media_kind(args.input))
        except InputError:
            pass
    if getattr(args, "output", None):
        app.output_path.set(args.output)
    app.root.mainloop()
    return 0
