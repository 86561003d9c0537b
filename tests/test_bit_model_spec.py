"""The model spec grammar: every valid form parses; every invalid one lists the valid forms."""
import subprocess
import sys

import pytest

from bit_tfx.models.bit import spec as S
from bit_tfx.core.errors import ConfigError

VALID = {
    "hub:https://tfhub.dev/google/bit/m-r50x1/1":
        S.ModelSpec("hub", None, "https://tfhub.dev/google/bit/m-r50x1/1"),
    "hub:gs://bucket/exports/bit": S.ModelSpec("hub", None, "gs://bucket/exports/bit"),
    "hub:/models/bit_m_r50x1": S.ModelSpec("hub", None, "/models/bit_m_r50x1"),
    "m-r50x1": S.ModelSpec("hub", None, "https://tfhub.dev/google/bit/m-r50x1/1"),
    "s-r152x4": S.ModelSpec("hub", None, "https://tfhub.dev/google/bit/s-r152x4/1"),
    "npz:BiT-M-R50x1": S.ModelSpec("npz", "R50x1", "BiT-M-R50x1", "BiT-M-R50x1"),
    "npz:BiT-S-R101x3": S.ModelSpec("npz", "R101x3", "BiT-S-R101x3", "BiT-S-R101x3"),
    "BiT-M-R50x1-ILSVRC2012": S.ModelSpec("npz", "R50x1", "BiT-M-R50x1-ILSVRC2012",
                                          "BiT-M-R50x1-ILSVRC2012"),
    "BiT-M-R152x2": S.ModelSpec("npz", "R152x2", "BiT-M-R152x2", "BiT-M-R152x2"),
    "npz:/data/BiT-S-R50x3.npz": S.ModelSpec("npz", "R50x3", "/data/BiT-S-R50x3.npz",
                                             "BiT-S-R50x3"),
    "npz:gs://bucket/finetuned.npz": S.ModelSpec("npz", None, "gs://bucket/finetuned.npz"),
    "npz:relative/w.npz": S.ModelSpec("npz", None, "relative/w.npz"),
    "npz:r101x1:gs://bucket/w.npz": S.ModelSpec("npz", "R101x1", "gs://bucket/w.npz"),
    "npz:tiny:/tmp/w.npz": S.ModelSpec("npz", "tiny", "/tmp/w.npz"),
    "random:R50x1": S.ModelSpec("random", "R50x1"),
    "random:r152x4": S.ModelSpec("random", "R152x4"),
    "random:tiny": S.ModelSpec("random", "tiny"),
    "  random:small ": S.ModelSpec("random", "small"),
}

INVALID = ["", "   ", "R50x1", "foo", "BiT-L-R50x1", "BiT-M-R50x2", "bit-m-r50x1",
           "m-r152x2", "tfhub:m-r50x1", "random:", "random:R50x5", "random:R18x1",
           "npz:", "npz:weights.h5", "npz:BiT-M-R50x1.h5", "npz:R50x5:/x.npz",
           "npz:resnet:/x.npz", "npz:R50x3:/data/BiT-M-R50x1.npz",
           "npz:https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz",
           "hub:", "hub:ftp://host/x", "hub:https://",
           "hub:https://tfhub.dev/google/bit/m-r50x1/ilsvrc2012_classification/1",
           "HUB:m-r50x1", None, 3]


@pytest.mark.parametrize("text", sorted(VALID))
def test_valid_forms_parse_and_round_trip(text):
    parsed = S.parse(text)
    assert parsed == VALID[text]
    assert S.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text", INVALID, ids=repr)
def test_invalid_forms_list_every_valid_form(text):
    with pytest.raises(S.ModelSpecError) as err:
        S.parse(text)
    assert isinstance(err.value, ConfigError)
    msg = str(err.value)
    for example in ("hub:https://tfhub.dev/google/bit/m-r50x1/1", "npz:BiT-M-R50x1",
                    "npz:/data/BiT-M-R50x1.npz", "npz:R50x1:gs://bucket/weights.npz",
                    "random:R50x1", "random:tiny", "e.g. BiT-M-R50x1", "e.g. m-r50x1"):
        assert example in msg


def test_grammar_documented_in_module_and_docs():
    import os
    doc = S.__doc__
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "models.md")) as f:
        md = f.read()
    for form in ("hub:", "npz:BiT-M-R50x1", "npz:<arch>:<path>.npz", "random:tiny",
                 "m-r50x1"):
        assert form in doc and form in md


def test_spec_module_does_not_import_tensorflow():
    code = ("import sys; import bit_tfx.models.bit.spec as s; s.parse('random:tiny'); "
            "import bit_tfx.models.bit; assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
