"""What the video and audio apps share: model sets, the output folder and its sweeper, cancellation per session,
errors as one line, the ZeroGPU wrapper, queue and launch settings.

The apps are thin: every generation goes through the same VideoPipeline/AudioPipeline and the same
`mediadiff.validation` rules as the CLI, and every failure reaches the user as the CLI's one-line message.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python apps/app.py` and Spaces run this file from a checkout
    sys.path.insert(0, str(REPO_ROOT))

import gradio as gr  # noqa: E402

from mediadiff.checkpoints import Resolved, resolve_limits  # noqa: E402
from mediadiff.errors import Cancelled, MediadiffError, ValidationError  # noqa: E402
from mediadiff.worlds import prompt_notices  # noqa: E402

log = logging.getLogger("mediadiff.apps")

UNLOADED = (str, os.PathLike, Resolved)  # a model menu entry not loaded yet: a name, or that name resolved
GENERATE_QUEUE = "generate"  # one concurrency group for every generation event, video and audio alike
OOM_HINTS = {"video": "lower frames, width/height or steps", "audio": "lower seconds or steps"}


@dataclass
class AppConfig:
    """How an app runs: where outputs go and for how long, the queue, example caching, lazy-load device."""

    output_dir: Path | None = None  # None: a fresh folder under the system temp dir
    max_age_s: int = 3600  # outputs (and Gradio's cached copies) older than this are deleted
    sweep_every_s: int = 600
    concurrency: int = 1  # generations running at once, across both tabs (1 on a single GPU)
    max_queue: int = 16  # waiting requests past this get Gradio's "busy" answer
    cache_examples: bool | str = False  # True, "lazy" (cached on first click) or False
    device: str = "auto"  # for checkpoints picked in the model menu and loaded on first use
    dtype: str = "fp32"
    jit: bool = False  # frozen TorchScript UNets (CPU): faster steps once each size has been traced
    gpu_duration: int = 120  # seconds asked of ZeroGPU per generation

    def __post_init__(self):
        if self.output_dir is None:
            self.output_dir = Path(tempfile.mkdtemp(prefix="mediadiff-app-"))
        self.output_dir = Path(self.output_dir).resolve()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for name, value in (("concurrency", self.concurrency), ("max_queue", self.max_queue),
                            ("max_age", self.max_age_s), ("sweep_every", self.sweep_every_s)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(name, value, "must be an integer of at least 1")


class OutputStore:
    """The one folder the app writes and serves: unique names, files older than `max_age_s` swept on a timer."""

    def __init__(self, folder: Path, max_age_s: int, sweep_every_s: int):
        self.folder, self.max_age_s, self.sweep_every_s = Path(folder), max_age_s, sweep_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def new_path(self, modality: str, suffix: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return self.folder / f"{modality}-{stamp}-{uuid.uuid4().hex[:12]}{suffix}"

    def sweep(self, now: float | None = None) -> int:
        """Delete top-level files older than max_age_s (outputs, sidecars, stale temp files); returns the count."""
        now = time.time() if now is None else now
        removed = 0
        for path in self.folder.iterdir():
            try:
                if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > self.max_age_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def start(self) -> "OutputStore":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mediadiff-output-sweeper", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.sweep_every_s):
            try:
                self.sweep()
            except OSError as e:  # a vanished folder must not kill the app
                log.warning("output sweep failed: %s", e)


class ModelSet:
    """The models one tab offers: name -> a loaded pipeline, or a folder/preset loaded on first use and kept."""

    def __init__(self, cls, entries: dict, config: AppConfig):
        self.cls, self.config = cls, config
        self._entries = dict(entries)
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def is_loaded(self, name: str) -> bool:
        """Whether `name` is a loaded pipeline yet (folders and presets load on first use)."""
        return not isinstance(self._entries.get(name), (*UNLOADED, type(None)))

    def get(self, name):
        if name not in self._entries:
            raise ValidationError("model", name, f"must be one of {', '.join(self._entries) or '(none loaded)'}")
        with self._lock:  # one load at a time; requests for the same model wait for it
            entry = self._entries[name]
            if isinstance(entry, UNLOADED):
                entry = self._entries[name] = self.cls.from_pretrained(
                    entry, device=self.config.device, dtype=self.config.dtype).enable_jit(self.config.jit)
            return entry

    def limits(self, name):
        """A model's limits without loading its weights."""
        entry = self._entries.get(name)
        if entry is None or not isinstance(entry, UNLOADED):
            return self.get(name).limits
        with self._lock:
            entry = self._entries[name]
            if isinstance(entry, (str, os.PathLike)):  # resolved once; get() loads what was resolved
                entry = self._entries[name] = resolve_limits(entry)
        return entry.limits


def model_set(cls, modality: str, pipe=None, extra: dict | None = None, config: AppConfig | None = None) -> ModelSet:
    """A tab's models: the given pipeline first, then any extra name -> pipeline/folder."""
    entries = {}
    if pipe is not None:
        entries[short_name(pipe.name) or f"{modality} model"] = pipe
    for name, entry in (extra or {}).items():
        entries.setdefault(name, entry)
    return ModelSet(cls, entries, config or AppConfig())


def short_name(source: str) -> str:
    """A model menu label: a preset name as is, a folder by its last part."""
    return Path(source).name if ("/" in source or os.sep in source) and Path(source).name else source


def local_models(modality: str, skip: set[str] = frozenset()) -> dict[str, str]:
    """Checkpoint folders configured in configs/presets.yaml (`path:` presets) that exist here, of one modality."""
    from mediadiff.checkpoints import inspect_limits
    from mediadiff.checkpoints.presets import get, names, repo_path

    found = {}
    for name in names():
        preset = get(name) or {}
        if "path" not in preset or name in skip:
            continue
        folder = repo_path(preset["path"])
        if not (folder / "model_index.json").exists():
            continue
        try:
            if inspect_limits(folder, preset).modality == modality:
                found[name] = name
        except MediadiffError:
            continue
    return found


class Run(threading.Event):
    """A running generation's cancel flag and the denoising step it has reached (for "stopped at step N of M")."""

    def __init__(self):
        super().__init__()
        self.step, self.steps = 0, 0


class Sessions:
    """One cancel flag per running request, grouped by Gradio session: the Stop button sets them."""

    def __init__(self):
        self._flags: dict[str, set[Run]] = defaultdict(set)
        self._lock = threading.Lock()

    @staticmethod
    def key(request) -> str | None:
        return getattr(request, "session_hash", None) if request is not None else None

    def open(self, request) -> Run:
        flag = Run()
        key = self.key(request)
        if key is not None:
            with self._lock:
                self._flags[key].add(flag)
        return flag

    def close(self, request, flag: threading.Event) -> None:
        key = self.key(request)
        with self._lock:
            if key in self._flags:
                self._flags[key].discard(flag)
                if not self._flags[key]:
                    del self._flags[key]

    def cancel(self, request) -> list[Run]:
        """Set the session's flags; the runs stopped."""
        with self._lock:
            flags = list(self._flags.get(self.key(request), ()))
        for flag in flags:
            flag.set()
        return flags


def gpu(fn: Callable, duration: int | None = None) -> Callable:
    """`spaces.GPU` around a generation function on Hugging Face ZeroGPU (when `spaces` imports); else `fn` itself."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn) if duration else spaces.GPU(fn)


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 (freeing memory is best effort)
        pass


def user_error(e: BaseException, modality: str) -> gr.Error:
    """The CLI's one-line message for any failure, as a gr.Error (never a stack trace in the page)."""
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, MediadiffError):  # validation, checkpoint, cancellation: the same text as the CLI
        return gr.Error(str(e), title="Cancelled" if isinstance(e, Cancelled) else "Error", print_exception=False)
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or \
            "DefaultCPUAllocator: can't allocate memory" in str(e):  # torch's CPU allocator raises RuntimeError
        free_memory()
        return gr.Error(f"out of memory; {OOM_HINTS[modality]}", title="Out of memory", print_exception=False)
    log.exception("generation failed")
    first = (str(e).strip().splitlines() or [""])[0][:300]
    return gr.Error(f"generation failed: {type(e).__name__}: {first}", print_exception=False)


def progress_callback(progress, run: Run | None = None) -> Callable | None:
    """The pipelines' callback(i, n, latents) -> gr.Progress, one tick per denoising step, and the step reached
    on `run`."""
    if progress is None and run is None:
        return None

    def on_step(i: int, n: int, latents) -> None:
        if run is not None:
            run.step, run.steps = i + 1, n
        if progress is not None:
            progress((i + 1, n), desc="denoising", unit="steps")

    return on_step


def stopped_message(runs: list[Run]) -> str:
    """What Stop says: the step each stopped generation had reached."""
    if not runs:
        return "Nothing to stop: no generation is running."
    return " ".join(f"Stopped at step {r.step} of {r.steps}." if r.steps else "Stopped before the first step."
                    for r in runs)


def examples_cache(config: AppConfig) -> None:
    """Cached example results go beside the outputs (not into the working directory, a Space's repo).

    Gradio reads GRADIO_EXAMPLES_CACHE when gr.Examples is built; a value set by the user wins.
    """
    if config.cache_examples:
        os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(config.output_dir / "examples"))


def blocks(title: str, intro: str, config: AppConfig, build: Callable[[OutputStore], None]) -> gr.Blocks:
    """An app's gr.Blocks: its output folder swept on a timer, examples cached beside the outputs, `build(store)`
    adding the tabs under the intro, one bounded queue."""
    store = OutputStore(config.output_dir, config.max_age_s, config.sweep_every_s).start()
    examples_cache(config)
    with gr.Blocks(title=title, delete_cache=(config.sweep_every_s, config.max_age_s), analytics_enabled=False) as demo:
        gr.Markdown(intro)
        build(store)
    demo.output_store = store
    return configure_queue(demo, config)


def single_app(modality: str, pipe, models: dict | None, config: AppConfig | None, build_tab) -> gr.Blocks:
    """One tab's app alone: `pipe` (a loaded pipeline) first in its model menu, then `models` (name -> pipeline
    or folder)."""
    from mediadiff.pipelines import AudioPipeline, VideoPipeline

    config = config or AppConfig()
    tab_models = model_set(VideoPipeline if modality == "video" else AudioPipeline, modality, pipe, models, config)
    return blocks(f"mediadiff {modality}", f"# mediadiff {modality}\nText to {modality} on mediadiff's pipelines.",
                  config, lambda store: build_tab(tab_models, store, config))


def configure_queue(demo: gr.Blocks, config: AppConfig) -> gr.Blocks:
    """One bounded queue; generation events share one concurrency group (see GENERATE_QUEUE)."""
    return demo.queue(max_size=config.max_queue, default_concurrency_limit=config.concurrency)


def served_paths(config: AppConfig) -> list[str]:
    """allowed_paths, as small as it can be: none when Gradio already takes results from the output folder.

    Gradio copies each returned file into its own cache (hash-named folders, swept by `delete_cache`) and serves
    that copy; it accepts results from the system temp dir and the working directory without `allowed_paths`.
    So the output folder itself (sidecars, in-progress `.partial` dotfiles) is never served, unless it lies
    elsewhere, where it must be allowed for Gradio to take results from it at all.
    """
    folder = Path(config.output_dir).resolve()
    for root in (tempfile.gettempdir(), os.getcwd()):
        if folder.is_relative_to(Path(root).resolve()):
            return []
    return [str(folder)]


def launch_kwargs(config: AppConfig, host: str | None = None, port: int | None = None, share: bool = False) -> dict:
    """Serve results and nothing else from disk; no uploads beyond a small bound; tracebacks stay in the log."""
    return dict(server_name=host, server_port=port, share=share, allowed_paths=served_paths(config),
                max_file_size="5mb", show_error=False, footer_links=["api", "gradio"])


@dataclass
class Tab:
    """What a tab builder hands back: its generation event (for Stop), handlers (for tests) and components."""

    generate: Callable
    event: object = None
    components: dict = field(default_factory=dict)


class GenerationTab:
    """What the video and audio tabs share: the ZeroGPU-safe call, the cancel flag per request, saving, errors."""

    modality = ""

    def __init__(self, models: ModelSet, store: OutputStore, config: AppConfig, sessions: Sessions | None = None):
        self.models, self.store, self.config = models, store, config
        self.sessions = sessions or Sessions()
        self._run = gpu(self._run_pipeline, config.gpu_duration)
        self.zero_gpu = self._run != self._run_pipeline  # wrapped by spaces.GPU

    def _run_pipeline(self, model: str, request, progress=None, cancel=None):
        """The GPU part: the validated request, generated. Its arguments pickle (ZeroGPU runs it in a forked
        worker); the pipeline comes from the already loaded model set, so the weights are never copied."""
        pipe = self.models.get(model)
        return pipe.generate(request, callback=progress_callback(progress, cancel), cancel=cancel)

    def _generate(self, model: str, make_request: Callable, suffix: str, preview: Callable, request, progress,
                  finish: Callable | None = None):
        """Validate once (make_request(limits)), generate, `finish(output, cancel)` it (a clip's soundtrack), save
        to the output folder; every failure as one line."""
        flag = None
        try:
            limits = self.models.limits(model)
            req = make_request(limits)
            for line in prompt_notices(limits, req, model):  # a prompt the model has no word of: a toast
                gr.Warning(line.removeprefix("notice: "))
            self.models.get(model)  # load (once) before any GPU time is asked for
            flag = self.sessions.open(request)
            # A threading.Event cannot reach a ZeroGPU worker: there the Stop button cancels the event itself.
            out = self._run(model, req, progress, None if self.zero_gpu else flag)
            if finish is not None:
                out = finish(out, None if self.zero_gpu else flag)
            path = self.store.new_path(self.modality, suffix)
            out.save(path)
            shown = preview(out)
        except BaseException as e:  # noqa: BLE001 (every failure becomes one line for the user)
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise user_error(e, self.modality) from None
        finally:
            if flag is not None:
                self.sessions.close(request, flag)
        return str(path), shown, out.settings, str(path), out.seed

    def stop(self, request: gr.Request = None) -> str:
        """Stop this session's generations; says the step each had reached."""
        return stopped_message(self.sessions.cancel(request))
