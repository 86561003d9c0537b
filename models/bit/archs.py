"""The one architecture table of the model library (pure Python, no TensorFlow).

Like `KNOWN_MODELS` at the end of the official bit_pytorch/models.py: every architecture
name -> units per block and width factor. The model spec grammar (spec.py), the native
model (resnet_v2.py) and the weight-file names (weights.py) all read this table; no other
module spells an architecture name, a depth or a width.

Which rows exist where:
  published  official .npz files BiT-{S,M}-<name>[-ILSVRC2012] in the bit_models bucket
  on_hub     tfhub.dev feature vectors https://tfhub.dev/google/bit/{s,m}-<name lower>/1
  smoke      the small test variants: built by the same code, NOT BiT, no weights exist
"""
import dataclasses
import re
from typing import Dict, Optional, Tuple

from ...core.errors import ConfigError


class ArchError(ConfigError):
    """An unknown architecture name, or one that GroupNorm's 32 groups cannot divide."""


@dataclasses.dataclass(frozen=True)
class Arch:
    """A ResNet-v2 shape: units per block and a width factor (root filters = 64 * width)."""
    name: str
    units: Tuple[int, int, int, int]
    width: float
    smoke: bool = False       # True for the small test variants: NOT a BiT architecture
    published: bool = False   # official .npz files exist (BiT-S / BiT-M)
    on_hub: bool = False      # a tfhub.dev feature-vector module exists

    def filters(self, block: int) -> int:
        """Bottleneck width F of block 1..4."""
        return int(64 * self.width) * 2 ** (block - 1)

    @property
    def root_filters(self) -> int:
        return int(64 * self.width)

    @property
    def feature_dim(self) -> int:
        """Pre-logits width (2048 * wf)."""
        return 4 * self.filters(4)


_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
# Published checkpoints (BiT paper / official repository; R152x2 appears in the official
# PyTorch and JAX model lists for both BiT-S and BiT-M) and tfhub.dev modules.
_PUBLISHED = ("R50x1", "R50x3", "R101x1", "R101x3", "R152x2", "R152x4")
_ON_HUB = ("R50x1", "R50x3", "R101x1", "R101x3", "R152x4")

ARCHITECTURES: Dict[str, Arch] = {
    **{f"R{d}x{w}": Arch(f"R{d}x{w}", units, float(w), published=f"R{d}x{w}" in _PUBLISHED,
                         on_hub=f"R{d}x{w}" in _ON_HUB)
       for d, units in _DEPTHS.items() for w in (1, 2, 3, 4)},
    # Smoke variants. Width 0.5 keeps every GroupNorm input divisible by 32 (root 32
    # filters, bottlenecks 32/64/128/256).
    "tiny": Arch("tiny", (1, 1, 1, 1), 0.5, smoke=True),
    "small": Arch("small", (2, 2, 2, 2), 0.5, smoke=True),
}
_BY_LOWER = {name.lower(): arch for name, arch in ARCHITECTURES.items()}

BIT_NAMES = tuple(n for n, a in ARCHITECTURES.items() if not a.smoke)
SMOKE_NAMES = tuple(n for n, a in ARCHITECTURES.items() if a.smoke)
PUBLISHED_NAMES = tuple(n for n, a in ARCHITECTURES.items() if a.published)
HUB_NAMES = tuple(n.lower() for n, a in ARCHITECTURES.items() if a.on_hub)

# For messages: "R50x1..R50x4, R101x1..R101x4, R152x1..R152x4".
BIT_RANGE = ", ".join(f"R{d}x1..R{d}x4" for d in _DEPTHS)

_PUBLISHED_NAME_RE = re.compile(r"^BiT-(?P<up>[SM])-(?P<arch>[^-]+)(?P<ft>-ILSVRC2012)?$")


def lookup(name) -> Optional[Arch]:
    """The table's row for a name (case-insensitive: 'r50x1', 'TINY'), else None."""
    if isinstance(name, Arch):
        return name
    return _BY_LOWER.get(str(name or "").strip().lower())


def canonical(name) -> Optional[str]:
    """'r50x1' -> 'R50x1', 'TINY' -> 'tiny'; None when it is not an architecture."""
    arch = lookup(name)
    return arch.name if arch else None


def get(name) -> Arch:
    """The row for a name, or ArchError listing every valid one."""
    arch = lookup(name)
    if arch is None:
        raise ArchError(f"unknown BiT architecture {name!r}: use {BIT_RANGE}, or a smoke "
                        f"variant ({', '.join(SMOKE_NAMES)})")
    return arch


def published_parts(name: str) -> Optional[Tuple[str, str, bool]]:
    """'BiT-M-R50x1-ILSVRC2012' -> ('M', 'R50x1', True) when that file is published; None
    for anything else. `looks_published` tells a near miss (BiT-M-R50x2) apart."""
    m = _PUBLISHED_NAME_RE.match(name or "")
    if not m or m.group("arch") not in PUBLISHED_NAMES:
        return None
    return m.group("up"), m.group("arch"), bool(m.group("ft"))


def looks_published(name: str) -> bool:
    """BiT-{S,M}-<any BiT architecture>[-ILSVRC2012]: the shape of a published name, whether
    or not that checkpoint exists (for a precise refusal)."""
    m = _PUBLISHED_NAME_RE.match(name or "")
    return bool(m) and m.group("arch") in BIT_NAMES
