"""Render the README screenshots of the front ends from the real UIs.

* ``assets/screenshots/widget_demo.png`` — ``notebooks/06_blur_demo.ipynb`` served by Voilà on 127.0.0.1,
  driven in headless Chromium (Selenium): pick the sample, choose pixelate, click Anonymize, wait for the result
  (before/after, counts, download link, save path and the same run as code below them).
* ``assets/screenshots/tk_app.png`` — the Tk app (``fpblur app``) in a virtual X display (Xvfb) after a run on
  ``zidane.jpg`` (the Output field filled in from the input).

Usage: ``python scripts/make_screenshots.py [--only widget|tk] [--out assets/screenshots]``.
Needs Debian's ``chromium``, ``chromium-driver`` and ``xvfb``.  The helpers here (Voilà server, Chromium
driver, Xvfb) are also what the end-to-end tests use, so the screenshots show exactly what CI checks.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06_blur_demo.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


ATTACH_FILE_INPUTS = """
(() => {
  const create = Document.prototype.createElement;
  Document.prototype.createElement = function (tag, ...rest) {
    const el = create.call(this, tag, ...rest);
    if (String(tag).toLowerCase() === "input") {
      setTimeout(() => {
        if (el.type === "file" && !el.isConnected && document.body) {
          el.style.display = "none";
          el.classList.add("fpblur-attached-file-input");
          document.body.appendChild(el);
        }
      }, 0);
    }
    return el;
  };
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(base: Path) -> dict[str, str]:
    """Environment with Jupyter's and IPython's config/data/runtime folders under ``base``."""
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "mpl"),
    ):
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    env["MPLBACKEND"] = "Agg"
    # Voilà's templates live in <prefix>/share/jupyter; in a venv made with --system-site-packages they are
    # under the base interpreter's prefix, which Jupyter does not search by itself.
    shares = [str(Path(p) / "share" / "jupyter") for p in dict.fromkeys((sys.prefix, sys.base_prefix))]
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [env.get("JUPYTER_PATH", ""), *shares]))
    env.pop("DISPLAY", None)  # the kernel needs no X display
    return env


@contextlib.contextmanager
def voila_server(notebook: Path, workdir: Path, timeout: float = 90.0) -> Iterator[str]:
    """Serve ``notebook`` with Voilà on 127.0.0.1 (free port); yields the page URL."""
    port = free_port()
    log = open(workdir / "voila.log", "wb")
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.open_browser=False",
        "--VoilaConfiguration.show_tracebacks=True",
    ]
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=jupyter_env(workdir / "jupyter"), stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"voila exited with {proc.returncode}: {_tail(workdir / 'voila.log')}")
            try:  # a TCP connect only: GETting the page would start a kernel
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"voila did not answer on {url}: {_tail(workdir / 'voila.log')}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def chromium_available() -> str | None:
    """None when headless Chromium + chromedriver can be used, else the reason why not."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed"
    return None


@contextlib.contextmanager
def chromium(workdir: Path, size: tuple[int, int] = (1280, 1800)):
    """A headless Chromium WebDriver with a fresh profile under ``workdir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=workdir))
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument(f"--window-size={size[0]},{size[1]}")
    service = Service(executable_path=CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    # ipywidgets' FileUpload keeps its <input type=file> out of the document; attach it (hidden) so that
    # WebDriver can hand it a file the way a user's file chooser would.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ATTACH_FILE_INPUTS})
    try:
        yield driver
    finally:
        driver.quit()


def drive_demo(
    driver,
    url: str | None,
    sample_label: str = "zidane.jpg",
    mode: str = "pixelate",
    upload: Path | None = None,
    timeout: float = 120.0,
) -> dict[str, str]:
    """Open the Voilà page (``url``; None: keep the page already open), wait for the widgets, pick
    ``sample_label`` (or upload the file ``upload``), choose ``mode``, click Anonymize and wait until the
    result is shown.  Returns the counts, status and download texts; raises if the demo shows an error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    if url is not None:
        driver.get(url)
    wait = WebDriverWait(driver, timeout)
    run = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button.fpblur-run")))
    select = Select(driver.find_element(By.CSS_SELECTOR, ".fpblur-sample select"))
    if upload is not None:  # the FileUpload's (hidden) file input takes a path
        driver.find_element(By.CSS_SELECTOR, "input.fpblur-attached-file-input").send_keys(str(upload))
        wait.until(lambda d: select.first_selected_option.text.startswith("—"))  # the upload took over
    else:
        label = next(o.text for o in select.options if o.text.startswith(sample_label))
        select.select_by_visible_text(label)
    driver.find_element(By.XPATH, f"//div[contains(@class,'fpblur-mode')]//button[normalize-space()='{mode}']").click()
    previous = driver.find_elements(By.CSS_SELECTOR, ".fpblur-message span")
    run.click()
    if previous:  # a second run on the same page: wait until the old message is replaced
        wait.until(EC.staleness_of(previous[0]))
    wait.until(
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, ".fpblur-error")
            or d.find_element(By.CSS_SELECTOR, ".fpblur-message").text.startswith("done in")
        )
    )
    errors = driver.find_elements(By.CSS_SELECTOR, ".fpblur-error")
    if errors:
        raise AssertionError(f"the demo showed an error: {errors[0].text}")
    wait.until(
        lambda d: d.execute_script(
            "const i = document.querySelector('img.fpblur-after'); return i && i.complete && i.naturalWidth > 0;"
        )
    )
    return {
        "counts": driver.find_element(By.CSS_SELECTOR, ".fpblur-counts").text,
        "status": driver.find_element(By.CSS_SELECTOR, ".fpblur-message").text,
        "download": driver.find_element(By.CSS_SELECTOR, ".fpblur-download").text,
    }


def screenshot_demo(driver, path: Path) -> Path:
    """Screenshot of the demo widget (the element, not the whole window)."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, ".fpblur-demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    box.screenshot(str(path))
    return path


# ---------------------------------------------------------------- Tk under Xvfb
def start_xvfb(size: str = "1280x900x24") -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a display number it picks itself (``-displayfd``); returns ``(process, ":N")``."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()  # written once the server accepts connections
    if not number:
        proc.kill()
        proc.wait()
        raise RuntimeError("Xvfb did not start")
    return proc, f":{number}"


@contextlib.contextmanager
def xvfb_display(size: str = "1280x900x24") -> Iterator[str]:
    """Run the body with ``DISPLAY`` set to a fresh Xvfb server."""
    proc, display = start_xvfb(size)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        proc.wait(timeout=10)


def grab_window(root, display: str):
    """Pixels of a Tk toplevel as a PIL image (X server screenshot of its area)."""
    from PIL import ImageGrab

    root.update()
    x, y, w, h = root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height()
    return ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=display)


def make_tk_screenshot(out: Path, workdir: Path) -> Path:
    from fpblur.models.samples import sample_folder

    shutil.copyfile(sample_folder() / "zidane.jpg", workdir / "zidane.jpg")
    cwd = Path.cwd()
    os.chdir(workdir)  # short relative paths in the screenshot
    try:
        with xvfb_display() as display:
            return _tk_screenshot(out, display)
    finally:
        os.chdir(cwd)


@dataclass
class RecordingDialogs:
    """Non-blocking stand-ins for the Tk app's message boxes and file pickers (``fpblur.ui.app.Dialogs``), for
    driving the app from code (this script and ``tests/test_app_tk.py``): messages are recorded, pickers return
    queued answers ("" when none)."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    infos: list[tuple[str, str]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    def error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def info(self, title: str, message: str) -> None:
        self.infos.append((title, message))

    def open_file(self, title, filetypes) -> str:
        return self.answers.pop(0) if self.answers else ""

    def save_file(self, title, filetypes, default_ext) -> str:
        return self.answers.pop(0) if self.answers else ""


def _tk_screenshot(out: Path, display: str) -> Path:
    import tkinter as tk

    from fpblur.ui.app import FpblurApp

    app = FpblurApp(tk.Tk(), dialogs=RecordingDialogs())
    try:
        app.root.geometry("1000x760+0+0")
        app.input_path.set("zidane.jpg")  # the Output field follows: zidane_anon.jpg
        app.operation.set("pixelate")
        app.run_button.invoke()
        app.wait(180)
        if app.dialogs.errors:
            raise RuntimeError(f"the app showed an error: {app.dialogs.errors}")
        image = grab_window(app.root, display)
    finally:
        app.root.destroy()
    return save_small_png(image, out)


def make_widget_screenshot(out: Path, workdir: Path) -> Path:
    reason = chromium_available()
    if reason:
        raise RuntimeError(reason)
    raw = workdir / "widget_raw.png"
    with voila_server(NOTEBOOK, workdir) as url, chromium(workdir) as driver:
        drive_demo(driver, url)
        screenshot_demo(driver, raw)
    from PIL import Image

    with Image.open(raw) as im:
        return save_small_png(im.copy(), out)


def save_small_png(image, out: Path, max_width: int = 960, colors: int = 192) -> Path:
    """Shrink to ``max_width`` and quantize to a palette so the committed PNG stays small."""
    from PIL import Image

    image = image.convert("RGB")
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
    image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part.png")
    image.save(tmp, optimize=True)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("widget", "tk"), help="make only one of the two screenshots")
    p.add_argument("--out", type=Path, default=ROOT / "assets" / "screenshots", help="output folder")
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="fpblur-shots-") as tmp:
        work = Path(tmp)
        if args.only in (None, "widget"):
            print(make_widget_screenshot(args.out / "widget_demo.png", work))
        if args.only in (None, "tk"):
            print(make_tk_screenshot(args.out / "tk_app.png", work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
