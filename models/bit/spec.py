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
(the config may be written on a machine that does not see the data), and, for a local run
that trains, by preflight() before its first step (a hub URL offline fails there at once).
"""
import dataclasses
import hashlib
import os
import re
import tempfile
import threading
import urllib.error
import urllib.request
from typing import Optional

from . import archs
from ...core import keys
from ...core.errors import ConfigError

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
    exactly those (models/bit/imagenet.py). Every other check still applies.
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


# --- pre-flight: can the model be reached before any step runs? -------------------------
PREFLIGHT_TIMEOUT_S = 5.0  # a URL that does not answer in this time counts as unreachable
NPZ_BASE_URL = "https://storage.googleapis.com/bit_models/"  # = weights.BASE_URL (pure here)
NPZ_CACHE_SUBDIR = "bit_models"                               # = weights.CACHE_SUBDIR


def hub_cache_dirs():
    """Where tensorflow_hub keeps downloaded modules: $TFHUB_CACHE_DIR, else its default
    (<system temp>/tfhub_modules)."""
    return [d for d in (os.environ.get("TFHUB_CACHE_DIR"),
                        os.path.join(tempfile.gettempdir(), "tfhub_modules")) if d]


def hub_cached(handle):
    """The cached copy of a hub URL (tensorflow_hub: CACHE/<sha1 of the handle>/), or None."""
    name = hashlib.sha1(handle.encode("utf8")).hexdigest()
    for cache in hub_cache_dirs():
        if os.path.isfile(os.path.join(cache, name, "saved_model.pb")):
            return os.path.join(cache, name)
    return None


def url_problem(url, timeout=PREFLIGHT_TIMEOUT_S):
    """None when `url` answers within `timeout` seconds (a 404 or 410 does not count), else
    what went wrong, as urllib says it. Bounded even where name resolution hangs (urllib's
    own timeout does not cover it): the request runs in a daemon thread."""
    answer = {}

    def probe():
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                answer["ok"] = True
        except urllib.error.HTTPError as e:
            answer["error" if e.code in (404, 410) else "ok"] = f"HTTP {e.code} {e.reason}"
        except (urllib.error.URLError, OSError, ValueError) as e:
            answer["error"] = str(e)

    thread = threading.Thread(target=probe, daemon=True, name="model-preflight")
    thread.start()
    thread.join(timeout + 0.5)
    if not answer:
        return f"no answer within {timeout:g} s"
    return answer.get("error")


def _keras_cache(name):
    homes = [os.environ.get("KERAS_HOME"), os.path.join(os.path.expanduser("~"), ".keras"),
             os.path.join(tempfile.gettempdir(), ".keras")]
    return any(h and os.path.isfile(os.path.join(h, NPZ_CACHE_SUBDIR, f"{name}.npz")) for h in homes)


def preflight(spec, shipped=None, timeout=PREFLIGHT_TIMEOUT_S):
    """Checks, cheaply and before any pipeline step, that the model of `spec` can be reached:
    a hub URL has a cached copy under TFHUB_CACHE_DIR or answers within `timeout` seconds, a
    published .npz is in the Keras cache or its URL answers, a local hub folder or .npz file
    exists. gs:// and ram:// locations are left to the Trainer. Raises ConfigError (field
    model_spec) saying how to work offline; `shipped` is the shipped backbone's spec."""
    parsed = parse(spec)
    cache = ("put the file into the Keras download cache (~/.keras/bit_models/NAME.npz)"
             if parsed.kind == "npz" else "set TFHUB_CACHE_DIR to a folder holding the cached module "
             "(TFHUB_CACHE_DIR/<sha1 of the URL>/saved_model.pb)")
    offline = ("To work offline, point --model at a local copy (hub:/path/to/saved_model_dir, "
               f"npz:/path/file.npz), or {cache}"
               + (f", or use the shipped backbone (--model {shipped}, the demo's)" if shipped else ""))
    location = parsed.location or ""
    if parsed.kind == "random" or location.startswith(("gs://", "ram://")):
        return parsed
    if parsed.kind == "hub" and location.startswith(("http://", "https://")):
        if hub_cached(location):
            return parsed
        problem = url_problem(location, timeout)
        if problem:
            raise ConfigError(
                f"model_spec {spec!r}: cannot load TF Hub module {location!r}: {problem} (checked "
                f"before any step; no cached copy under {' or '.join(hub_cache_dirs())}). {offline}",
                field="model_spec")
        return parsed
    if parsed.kind == "npz" and parsed.published and location == parsed.published:
        if _keras_cache(parsed.published):
            return parsed
        url = f"{NPZ_BASE_URL}{parsed.published}.npz"
        problem = url_problem(url, timeout)
        if problem:
            raise ConfigError(f"model_spec {spec!r}: cannot download {url}: {problem} (checked "
                              f"before any step). {offline}", field="model_spec")
        return parsed
    path = location[len("file://"):] if location.startswith("file://") else location
    if parsed.kind == "npz":
        missing = not os.path.isfile(path)
    else:  # a SavedModel folder, or a pushed version with its backbone inside
        missing = not any(os.path.isfile(os.path.join(path, inner, "saved_model.pb"))
                          for inner in ("", keys.BACKBONE_DIR))
    if missing:
        what = "an .npz file" if parsed.kind == "npz" else "a folder holding saved_model.pb"
        raise ConfigError(f"model_spec {spec!r}: {path!r} is not {what} (checked before any step): "
                          f"give the path of a local copy. {offline}", field="model_spec")
    return parsed
