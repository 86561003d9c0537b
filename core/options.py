"""HyperRuleOptions: what a user decides the BiT-HyperRule with, declared once (core/settings.py).
RunConfig inherits these fields, the CLI's flags derive from them, and the HyperRule component
takes the whole object as one serialised parameter (`options`, to_json/from_json), which its
executor hands to rule.decide. Pure Python (no TensorFlow)."""
import dataclasses
import json
from typing import Optional

from . import rule
from .settings import PARSE_JSON_OBJECT, setting


@dataclasses.dataclass(kw_only=True)  # not frozen: RunConfig, which inherits it, is not
class HyperRuleOptions:
    # A help's {name} is filled in by the command that offers the flag (HELP_FILLS; pre-training
    # offers the batch flags with the upstream recipe's values: cli/common.py).
    preserve_count: bool = setting(False, help="the label counts objects: no random crop")
    preserve_orientation: bool = setting(
        False, help="the label depends on orientation: no random flip")
    batch_size: int = setting(rule.BASE_BATCH, help="global batch actually used (default %(default)s)")
    batch_policy: str = setting(
        rule.DEFAULT_BATCH_POLICY, choices=rule.BATCH_POLICIES,
        help="keep the {recipe} at a smaller batch by accumulating gradients to {base_batch} "
             "(accumulate: exact) or by scaling the learning rate linearly (scale_lr){keep_lr}; "
             "default %(default)s")
    k_shot: Optional[int] = setting(None, help="k examples per class (dataset size k*classes)")
    class_weighted: bool = setting(
        False, help="weigh each example's loss by N / (classes x its class's count), for "
                    "imbalanced data (not the HyperRule's; recorded in the decision)")
    head_init: str = setting(
        rule.DEFAULT_HEAD_INIT, choices=rule.HEAD_INITS,
        help="how the new head starts: linear_probe fits it on the backbone's features first, "
             "then fine-tunes every layer (LP-FT; not the HyperRule's, recorded); zero is the "
             "HyperRule's own zero head (default %(default)s)")
    schedule_override: Optional[dict] = setting(
        None, metavar="JSON", parse=PARSE_JSON_OBJECT,
        help='smoke runs only: {"warmup": 2, "boundaries": [4, 6, 8], "total": 10}; recorded in '
             "the artifact as an override")
    seed: int = setting(
        rule.DEFAULT_SEED,
        help="seeds the weights a run initialises, the data order and every augmentation; "
             "recorded in the decision and the model card (default %(default)s)")

    HELP_FILLS = {"recipe": "rule", "base_batch": rule.BASE_BATCH,
                  "keep_lr": ", or with the rule's learning rate unscaled (keep_lr: not exact)"}

    def check(self):
        """Every check of these options that needs no data (rule.decide repeats none of the
        data's); raises RuleError (a ConfigError) naming the field. Returns self."""
        rule.batch_plan(self.batch_size, self.batch_policy)
        if self.schedule_override is not None:
            rule.check_schedule_override(self.schedule_override)
        if self.k_shot is not None and (not isinstance(self.k_shot, int) or self.k_shot < 1):
            raise rule.RuleError(f"k_shot must be a positive integer, got {self.k_shot!r}",
                                 field="k_shot")
        rule.check_head_init(self.head_init)
        rule.check_seed(self.seed)
        return self

    def to_json(self):
        """The component parameter: one JSON object, keys sorted."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        values = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise rule.RuleError(f"unknown HyperRule options {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)

    def decide(self, num_train_examples, num_classes, image_area, class_counts=None):
        """rule.decide with these options; class_counts (the train split's) is used only when
        class_weighted asks for inverse-frequency weights."""
        return rule.decide(
            num_train_examples, num_classes, image_area,
            preserve_count=self.preserve_count, preserve_orientation=self.preserve_orientation,
            batch_size=self.batch_size, batch_policy=self.batch_policy, k_shot=self.k_shot,
            schedule_override=self.schedule_override,
            class_counts=class_counts if self.class_weighted else None,
            head_init=self.head_init, seed=self.seed)
