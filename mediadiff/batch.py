"""Batch generation from a JSONL job file: resumable, split across processes/GPUs/nodes with accelerate."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MediadiffError, ValidationError

KINDS = ("video", "audio")
FIELDS = ("prompt", "kind", "settings", "name", "model")
SUFFIX = {"video": ".mp4", "audio": ".wav"}
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Job:
    """One validated line: what to generate, with which model, and where it goes."""

    line: int
    name: str
    kind: str
    model: str
    request: object  # a VideoRequest or AudioRequest
    spec: dict = field(default_factory=dict)  # the line as written
    resolved: object = None  # checkpoints.Resolved: the model resolved once, for the check and the load

    def paths(self, out: Path) -> list[Path]:
        """The files this job writes (numbered when it has several outputs)."""
        from .pipelines.outputs import numbered

        n = self.request.num_outputs
        return [numbered(out / f"{self.name}{SUFFIX[self.kind]}", i, n) for i in range(n)]

    def done(self, out: Path) -> bool:
        """Outputs are written atomically, so existing files are complete ones."""
        return all(p.exists() for p in self.paths(out))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "job"


def default_name(spec: dict) -> str:
    """A stable name from the job's content: the same line always maps to the same output file."""
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return f"{_slug(str(spec.get('prompt', '')))}-{digest}"


def _field_error(source: str, line: int, fieldname: str, value, rule: str) -> ValidationError:
    """One line naming the file, line number and field."""
    return ValidationError(f"{source} line {line} {fieldname}", value, rule)


def parse_line(text: str, line: int, source: str, models: dict[str, str], resolved: dict | None = None) -> Job:
    """One JSON object -> a validated Job (its settings checked against its model's limits, no weights loaded);
    `resolved` caches each model's resolution across the lines of one file."""
    from . import validation
    from .checkpoints import resolve_limits

    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise _field_error(source, line, "json", text.strip()[:40], f"is not valid JSON ({e.msg})") from None
    if not isinstance(spec, dict):
        raise _field_error(source, line, "json", text.strip()[:40], "must be an object {\"prompt\": ..., \"kind\": ...}")
    for key in spec:
        if key not in FIELDS:
            raise _field_error(source, line, key, spec[key], f"is not a job field; use {', '.join(FIELDS)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise _field_error(source, line, "kind", kind, "must be video or audio")
    settings = spec.get("settings", {})
    if not isinstance(settings, dict):
        raise _field_error(source, line, "settings", settings, "must be an object of generation settings")
    name = spec.get("name", default_name(spec))
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise _field_error(source, line, "name", name, "must be 1-100 letters, digits, '.', '_' or '-'")
    model = spec.get("model", models[kind])
    build = validation.video_request if kind == "video" else validation.audio_request
    try:
        resolved = {} if resolved is None else resolved
        if str(model) not in resolved:
            resolved[str(model)] = resolve_limits(model)
        request = build(resolved[str(model)].limits, spec.get("prompt"), settings.get("negative_prompt"),
                        **{k: v for k, v in settings.items() if k != "negative_prompt"})
    except ValidationError as e:
        raise _field_error(source, line, e.param, e.value, e.allowed) from None
    except TypeError as e:  # an unknown setting name
        bad = str(e).split("'")[1] if "'" in str(e) else "settings"
        raise _field_error(source, line, f"settings.{bad}", settings.get(bad), "is not a setting for "
                           f"{kind}") from None
    return Job(line, name, kind, str(model), request, spec, resolved[str(model)])


def read_jobs(path: str | Path, models: dict[str, str]) -> list[Job]:
    """Every job in a JSONL file (blank lines and # comments skipped); names must be unique."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("jobs", str(path), "no such file")
    jobs, seen, resolved = [], {}, {}
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        job = parse_line(text, number, path.name, models, resolved)
        if job.name in seen:
            raise _field_error(path.name, number, "name", job.name, f"is already used on line {seen[job.name]}")
        seen[job.name] = number
        jobs.append(job)
    if not jobs:
        raise ValidationError("jobs", str(path), "has no jobs (one JSON object per line)")
    return jobs


class Generator:
    """Pipelines loaded once per (kind, model) in this process, reused across its jobs."""

    def __init__(self, device: str, dtype: str, allow_pickle: bool = False, jit: bool = False):
        self.device, self.dtype, self.allow_pickle, self.jit = device, dtype, allow_pickle, jit
        self.pipes: dict[tuple[str, str], object] = {}

    def pipeline(self, job: Job):
        key = (job.kind, job.model)
        if key not in self.pipes:
            from .pipelines import AudioPipeline, VideoPipeline

            cls = VideoPipeline if job.kind == "video" else AudioPipeline
            pipe = cls.from_pretrained(job.resolved or job.model, device=self.device, dtype=self.dtype,
                                       allow_pickle=self.allow_pickle)
            self.pipes[key] = pipe.enable_jit(self.jit)
        return self.pipes[key]

    def run(self, job: Job, out: Path) -> list[Path]:
        """Generate one job's validated request and write its files (atomically, with metadata and sidecars)."""
        result = self.pipeline(job).generate(job.request)
        return result.save(out / f"{job.name}{SUFFIX[job.kind]}")


def manifest(jobs: list[Job], out: Path) -> dict:
    """Every job with its line, name, status and outputs; settings (with the seed used) from the sidecars."""
    from .codecs.metadata import sidecar_path

    entries = []
    for job in jobs:
        paths = job.paths(out)
        entry = {"line": job.line, "name": job.name, "kind": job.kind, "model": job.model,
                 "prompt": job.request.prompt, "status": "done" if job.done(out) else "missing",
                 "outputs": [p.name for p in paths]}
        sidecar = sidecar_path(paths[0])
        if sidecar.exists():
            entry["seed"] = json.loads(sidecar.read_text()).get("seed")
        entries.append(entry)
    done = sum(e["status"] == "done" for e in entries)
    return {"jobs": len(entries), "done": done, "missing": len(entries) - done, "entries": entries}


def write_manifest(data: dict, out: Path) -> Path:
    """manifest.json in `out`, replaced atomically."""
    from .codecs.atomic import atomic_output

    path = out / MANIFEST
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return path


def run_share(jobs: list[Job], out: Path, generator: Generator, on_job=None) -> dict:
    """Generate this process's jobs, skipping finished ones; a failing job is reported, not fatal."""
    counts = {"generated": 0, "skipped": 0, "failed": []}
    for job in jobs:
        if job.done(out):
            counts["skipped"] += 1
        else:
            try:
                generator.run(job, out)
                counts["generated"] += 1
            except MediadiffError as e:
                counts["failed"].append(f"line {job.line} ({job.name}): {e}")
        if on_job is not None:
            on_job(job)
    return counts


def process_state(device: str):
    """accelerate's PartialState: on a machine without CUDA (or --device cpu) it must be built with cpu=True,
    or each process believes it is alone."""
    import torch
    from accelerate import PartialState

    cpu = device == "cpu" or not torch.cuda.is_available()
    return PartialState(cpu=cpu)
