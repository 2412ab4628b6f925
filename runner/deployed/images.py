"""Container image references: parsed as the OCI distribution reference grammar names them,
normalized the way the container runtimes do, and compared (pure).

`backstage:1.4` and `docker.io/library/backstage:1.4` are one image: Docker Hub is the default
registry and `library/` its default namespace (github.com/distribution/reference normalize.go,
ParseNormalizedNamed). A reference without tag or digest means `:latest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*\Z")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?\Z|\[[0-9a-fA-F:]+\](?::[0-9]+)?\Z"
)


class BadReference(ValueError):
    """Not an image reference; the message says why in a few words."""


@dataclass(frozen=True)
class ImageRef:
    repository: str  # normalized: registry/path, e.g. docker.io/library/backstage
    tag: str | None
    digest: str | None  # algorithm:hex, hex in lower case

    def __str__(self) -> str:
        return (
            self.repository
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )

    @property
    def short(self) -> str:
        """What a person calls it: the tag, else the digest's first 12 hex digits."""
        if self.tag:
            return self.tag
        return self.digest.split(":", 1)[1][:12] if self.digest else "latest"


def parse(text: str) -> ImageRef:
    """`[registry/]path[:tag][@digest]`, normalized; BadReference when it is none."""
    value = text.strip()
    if not value or any(c.isspace() for c in value) or value != text:
        raise BadReference("an image reference has no spaces and is not empty")
    name, digest = value, None
    if "@" in value:
        name, digest = value.split("@", 1)
        if not _DIGEST.match(digest):
            raise BadReference(f"{digest!r} is not a digest (expected e.g. sha256:<64 hex>)")
        algorithm, hex_part = digest.split(":", 1)
        digest = f"{algorithm}:{hex_part.lower()}"
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise BadReference(f"{tag!r} is not a tag")
    return ImageRef(_normalize(name), tag if tag or digest else "latest", digest)


def _normalize(name: str) -> str:
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or "[" in first):
        domain, path = first, parts[1:]
        if not _DOMAIN.match(domain):
            raise BadReference(f"{domain!r} is not a registry host")
    else:
        domain, path = DEFAULT_REGISTRY, parts
    if domain == "index.docker.io":
        domain = DEFAULT_REGISTRY
    if domain == DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    for component in path:
        if not _COMPONENT.match(component):
            raise BadReference(f"{component!r} is not a valid repository name component")
    return "/".join([domain, *path])


def digest_of_image_id(image_id: str) -> str | None:
    """The repository digest in a pod's `containerStatuses[].imageID`.

    The kubelet reports what the runtime says: `docker-pullable://repo@sha256:...` (dockershim),
    `repo@sha256:...` (containerd, CRI-O). A bare `sha256:...` is the runtime's image ID (the
    config digest of a locally loaded image), not the repository digest: None then, since it
    cannot be compared with the Freight's digest.
    """
    if "@" not in image_id:
        return None
    digest = image_id.rsplit("@", 1)[1].strip()
    return digest.lower() if _DIGEST.match(digest) else None


def same_image(expected: ImageRef, spec_image: str, image_id: str | None) -> bool:
    """Does a container (its spec image, its status imageID) run `expected`?

    With a digest expected, only digests count: the one pinned in the spec, else the one the
    runtime reports. A tag can be moved to another build; a digest cannot.
    """
    try:
        running = parse(spec_image)
    except BadReference:
        return False
    if running.repository != expected.repository:
        return False
    if expected.digest:
        served = running.digest or (digest_of_image_id(image_id) if image_id else None)
        return served == expected.digest
    return running.tag == expected.tag
