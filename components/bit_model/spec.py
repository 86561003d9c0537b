"""One model-specification string selecting the backbone (pure Python, no TensorFlow).

Why one string: the pipeline config, the CLI and the trainer all name "which BiT, from
where" the same way, and a typo fails at parse time, before any pipeline work starts.

Grammar (KIND:REST; the kind prefix is lower case):

  hub:<handle>            TF Hub SavedModel (TF2, TF Hub layout), loaded with
                          hub.KerasLayer(handle, trainable=True). <handle> is an https://
                          URL (tfhub.dev / kaggle.com), a gs:// directory or a local directory.
                          Must be a feature-vector module: classification modules (URL with
                          "classification") are refused, since a new head is put on top.
                            hub:https://tfhub.dev/google/bit/m-r50x1/1
                            hub:gs://my-bucket/bit_m_r50x1   hub:/models/bit_export
  npz:<published name>    official weights by name, BiT-{S,M}-<arch>[-ILSVRC2012], arch in
                          R50x1 R50x3 R101x1 R101x3 R152x2 R152x4; downloaded from
                          https://storage.googleapis.com/bit_models/<name>.npz.
                            npz:BiT-M-R50x1   npz:BiT-S-R101x3   npz:BiT-M-R50x1-ILSVRC2012
  npz:<path>.npz          official-naming .npz, local or gs://. The architecture comes from
                          the file name when it is an official one (.../BiT-M-R50x1.npz),
                          else it is inferred from the array shapes when the model is built.
                            npz:/data/BiT-M-R50x1.npz   npz:gs://bucket/finetuned.npz
  npz:<arch>:<path>.npz   the same with the architecture stated (checked against the file).
                            npz:R50x1:/data/my_weights.npz
  random:<arch>           random initialisation. arch: R50x1..R152x4 (depth 50/101/152,
                          width 1..4) or a smoke variant: tiny, small (NOT BiT; tests only).
                            random:R50x1   random:tiny
  Shorthands:
  BiT-M-R50x1             a bare published name = npz:BiT-M-R50x1
  m-r50x1                 a bare TF Hub short name {s,m}-<arch lower case> =
                          hub:https://tfhub.dev/google/bit/m-r50x1/1

The two shorthands cannot collide: published names start with "BiT-", hub short names
with "s-"/"m-" and contain no "/" or ":"; anything else must carry a kind prefix.
Parsing checks syntax only; whether a path exists is checked when the model is built
(the config may be written on a machine that does not see the data).
"""
import dataclasses
import re
from typing import Optional

from . import archs
from ..errors import ConfigError

KINDS = ("hub", "npz", "random")
HUB_BASE = "https://tfhub.dev/google/bit/"
_HUB_SHORT_RE = re.compile(r"^(?P<up>[sm])-(?P<arch>[a-z0-9]+)$")  # arch: a BiT name, lower case
_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")  # gs://, file://, ram://, https://

VALID_FORMS = """valid model specs:
  hub:<https URL | gs:// dir | local dir>  e.g. hub:https://tfhub.dev/google/bit/m-r50x1/1
  npz:<published name>                     e.g. npz:BiT-M-R50x1, npz:BiT-S-R101x3-ILSVRC2012
  npz:<path>.npz (local or gs://)          e.g. npz:/data/BiT-M-R50x1.npz
  npz:<arch>:<path>.npz                    e.g. npz:R50x1:gs://bucket/weights.npz
  random:<arch>                            e.g. random:R50x1, random:tiny
  <published name> (= npz:<name>)          e.g. BiT-M-R50x1
  {s,m}-<arch> (= tfhub.dev feature vector) e.g. m-r50x1
""" + (f"  arch: {archs.BIT_RANGE}, or smoke variants {', '.join(archs.SMOKE_NAMES)};\n"
       f"  published names: BiT-{{S,M}}-{{{','.join(archs.PUBLISHED_NAMES)}}}[-ILSVRC2012]")


class ModelSpecError(ConfigError):
    """An invalid model spec; the message lists every valid form."""

    def __init__(self, spec, reason):
        super().__init__(f"invalid model spec {spec!r}: {reason}\n{VALID_FORMS}", field="model_spec")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed spec.

    kind: 'hub' | 'npz' | 'random'.
    arch: canonical architecture ('R50x1', 'tiny'); None for hub, and for an npz path whose
      architecture is inferred from the arrays at build time.
    location: hub handle, npz path or published name; None for random.
    published: the published checkpoint name for npz by name (also set when an npz path's
      file name is an official one), else None.
    """
    kind: str
    arch: Optional[str] = None
    location: Optional[str] = None
    published: Optional[str] = None

    def __str__(self):
        """The canonical spec string; parse(str(spec)) == spec."""
        if self.kind == "random":
            return f"random:{self.arch}"
        if self.kind == "npz" and self.arch and _arch_in_name(self.location) is None:
            return f"npz:{self.arch}:{self.location}"
        return f"{self.kind}:{self.location}"


def canonical_arch(name: str) -> Optional[str]:
    """'r50x1' -> 'R50x1', 'TINY' -> 'tiny'; None when it is not an architecture."""
    return archs.canonical(name)


def _published(name: str) -> bool:
    return archs.published_parts(name) is not None


def _arch_in_name(path: str) -> Optional[str]:
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    base = base[:-4] if base.endswith(".npz") else base
    parts = archs.published_parts(base)
    return parts[1] if parts else None


def _is_hub_short(text: str) -> bool:
    m = _HUB_SHORT_RE.match(text)
    return bool(m) and archs.canonical(m.group("arch")) in archs.BIT_NAMES \
        and m.group("arch") == m.group("arch").lower()


def hub_url(short: str) -> str:
    """'m-r50x1' -> 'https://tfhub.dev/google/bit/m-r50x1/1' (feature vector, version 1)."""
    m = _HUB_SHORT_RE.match(short)
    if not m or m.group("arch") not in archs.HUB_NAMES:
        names = ",".join(archs.HUB_NAMES)
        raise ModelSpecError(short, f"not a TF Hub BiT short name ({{s,m}}-{{{names}}})")
    return f"{HUB_BASE}{short}/1"


def _parse_hub(spec, handle, allow_classification=False):
    if not handle:
        raise ModelSpecError(spec, "hub: needs a handle")
    if _URL_RE.match(handle):
        scheme = handle.split("://", 1)[0]
        if scheme not in ("https", "http", "gs", "file", "ram"):
            raise ModelSpecError(spec, f"unsupported URL scheme {scheme!r} for a hub handle")
        if len(handle.split("://", 1)[1].strip("/")) == 0:
            raise ModelSpecError(spec, "the hub handle has no host/path")
        if scheme.startswith("http") and "classification" in handle \
                and not allow_classification:
            raise ModelSpecError(spec, "a classification module outputs logits; use the "
                                 "feature-vector handle (e.g. .../bit/m-r50x1/1)")
    return ModelSpec("hub", None, handle)


def _parse_npz(spec, rest):
    if not rest:
        raise ModelSpecError(spec, "npz: needs a published name or a path to a .npz file")
    if _published(rest):
        return ModelSpec("npz", archs.published_parts(rest)[1], rest, rest)
    arch = None
    head, sep, tail = rest.partition(":")
    if sep and canonical_arch(head):
        arch, rest = canonical_arch(head), tail.strip()
    elif sep and not _URL_RE.match(rest) and re.fullmatch(r"[A-Za-z0-9_.-]{2,}", head):
        raise ModelSpecError(spec, f"{head!r} is not an architecture")
    if not rest.endswith(".npz") or rest == ".npz" or rest.endswith("/.npz"):
        raise ModelSpecError(spec, f"{rest!r} is neither a published name nor a path to a "
                             ".npz file")
    if rest.startswith(("http://", "https://")):
        raise ModelSpecError(spec, "npz files are read from local or gs:// paths; for the "
                             "published files use their name (npz:BiT-M-R50x1)")
    named = _arch_in_name(rest)
    if arch and named and arch != named:
        raise ModelSpecError(spec, f"architecture {arch} contradicts the file name ({named})")
    published = rest.replace("\\", "/").rsplit("/", 1)[-1][:-4] if named else None
    return ModelSpec("npz", arch or named, rest, published)


def parse(spec: str, allow_classification: bool = False) -> ModelSpec:
    """Parse and validate a model spec; raises ModelSpecError listing all valid forms.

    allow_classification: accept TF Hub classification modules (`hub:` URLs naming one),
    which a backbone spec refuses since a new head goes on top; `bit-tfx predict` wants
    exactly those (components/bit_model/imagenet.py). Every other check still applies.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(spec, "empty")
    s = spec.strip()
    if _published(s):
        return ModelSpec("npz", archs.published_parts(s)[1], s, s)
    if _is_hub_short(s):
        return ModelSpec("hub", None, hub_url(s))
    kind, sep, rest = s.partition(":")
    if not sep or kind not in KINDS:
        if archs.looks_published(s):
            raise ModelSpecError(spec, "no such published checkpoint")
        raise ModelSpecError(spec, "unknown form (missing or unknown kind prefix)")
    rest = rest.strip()
    if kind == "hub":
        return _parse_hub(spec, rest, allow_classification)
    if kind == "npz":
        return _parse_npz(spec, rest)
    arch = canonical_arch(rest)
    if not arch:
        raise ModelSpecError(spec, f"{rest!r} is not an architecture")
    return ModelSpec("random", arch, None)
