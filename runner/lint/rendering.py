"""`-k DIR`: render a kustomization, and find for each rendered document the file it came from.

Two renders run side by side: `kubectl kustomize DIR` as the user would run it (else
`kustomize build DIR`), and the same directory through a throw-away kustomization with
`buildMetadata: [originAnnotations]`, which makes kustomize annotate every resource with
`config.kubernetes.io/origin` (the file it was read from). Both give the same documents in the
same order, so each rendered document gets the matching document of its source file as
`origin`; the engine points a finding there when the field is the same in both (no patch
changed it), else at the line of the rendered output.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from runner.lint.errors import LintInputError
from runner.lint.loading import kustomization_file, load_file
from runner.lint.yamldoc import Doc, Source, load_documents

RENDER_TIMEOUT_SECONDS = 120
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


def render_kustomization(directory: str) -> list[Doc]:
    path = Path(directory)
    if not (path.is_dir() and kustomization_file(path) is not None):
        raise LintInputError(
            f"-k {directory}: not a directory with a kustomization.yaml (or kustomization.yml,"
            " Kustomization)"
        )
    # A directory named like an option must not become one.
    command = _renderer(directory, directory if not directory.startswith("-") else f"./{directory}")
    with tempfile.TemporaryDirectory(prefix="verification-runner-lint-") as tmp:
        wrapper = {
            "resources": [os.path.relpath(path.resolve(), tmp)],
            "buildMetadata": ["originAnnotations"],
        }
        (Path(tmp) / "kustomization.yaml").write_text(json.dumps(wrapper), encoding="utf-8")
        plain, traced = _run_both(directory, command, [*command[:-1], tmp])
    uri = (path / "kustomization.yaml").as_posix()
    docs = load_documents(plain, Source(f"{directory} (rendered)", uri, rendered=True))
    if traced is None:
        return docs
    try:
        origins = load_documents(traced, Source("", ""))
    except LintInputError:
        return docs
    if len(origins) != len(docs):
        return docs
    files: dict[Path, list[Doc]] = {}
    return [
        _with_origin(doc, traced, tmp, files) for doc, traced in zip(docs, origins, strict=True)
    ]


def _renderer(directory: str, target: str) -> list[str]:
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        return [kubectl, "kustomize", target]
    kustomize = shutil.which("kustomize")
    if kustomize is not None:
        return [kustomize, "build", target]
    raise LintInputError(
        f"-k {directory}: neither kubectl nor kustomize is on PATH; install one, or render the"
        " kustomization yourself and lint the output from stdin (`-`)"
    )


def _run_both(directory: str, plain: list[str], traced: list[str]) -> tuple[str, str | None]:
    """Both renders at once (two cores, half the wait); the traced one may fail (a Component,
    a remote base): then findings stay on rendered lines."""
    children: list[subprocess.Popen[str]] = []
    try:
        for command in (plain, traced):
            children.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
        outputs = [child.communicate(timeout=RENDER_TIMEOUT_SECONDS) for child in children]
    except subprocess.TimeoutExpired:
        raise LintInputError(
            f"-k {directory}: `{shlex.join(plain)}` took over {RENDER_TIMEOUT_SECONDS} s"
            " (remote bases?); render it yourself and lint the output from stdin"
        ) from None
    except OSError as exc:
        raise LintInputError(f"-k {directory}: cannot run {plain[0]}: {exc}") from None
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    (plain_out, plain_err), (traced_out, _) = outputs
    if children[0].returncode != 0:
        last = (plain_err.strip().splitlines() or ["(no message)"])[-1]
        raise LintInputError(f"-k {directory}: `{shlex.join(plain)}` failed: {last}")
    return plain_out, traced_out if children[1].returncode == 0 else None


def _with_origin(doc: Doc, traced: Doc, tmp: str, files: dict[Path, list[Doc]]) -> Doc:
    annotation = _get(traced.data, "metadata", "annotations", ORIGIN_ANNOTATION)
    try:
        origin = yaml.safe_load(annotation) if isinstance(annotation, str) else None
    except yaml.YAMLError:
        return doc
    relative = origin.get("path") if isinstance(origin, dict) and "repo" not in origin else None
    if not isinstance(relative, str):
        return doc  # generated (configMapGenerator ...) or from a remote repository
    source = Path(os.path.normpath(os.path.join(tmp, relative)))
    try:
        if source not in files:
            files[source] = load_file(_shown(source))
        candidates = [d for d in files[source] if d.kind == doc.kind]
    except LintInputError:
        return doc
    if len(candidates) > 1:
        # namePrefix/nameSuffix change the name; the file's name is still inside it.
        candidates = [d for d in candidates if d.name and d.name in doc.name]
    if len(candidates) != 1:
        return doc
    return Doc(doc.source, doc.index, doc.data, doc.line, doc.ignores, origin=candidates[0])


def _shown(path: Path) -> Path:
    """The path as people would type it: relative to here when below here."""
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path


def _get(value: Any, *path: str) -> Any:
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value
