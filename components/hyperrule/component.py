"""HyperRule: a custom TFX component that turns dataset statistics into the
BiT-HyperRule decision (core/rule.py does the arithmetic). Its sibling
UpstreamRecipe does the same for upstream pre-training (`bit-tfx pretrain`; upstream.py):
same input, same output type, so Transform and Trainer take either.

Input: the ExampleStatistics of StatisticsGen. Output: a HyperParameters artifact
holding one JSON file (decision.Decision.to_json), so that Trainer(hyperparameters=...)
receives the decision as fn_args.hyperparameters; readers turn it back into a Decision
(core/decision.py: write_decision, read_decision, Decision.from_json).

Image area: median(image/height) x median(image/width) of the train split, from
TFDV's numeric statistics. The median is robust to a few huge or tiny images that
would drag a mean across the 96x96 threshold; the official code looked a typical
size up in a table per dataset, which is what a median measures.
"""
import json

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from ...core import keys
from ...core import rule, upstream
from ...core.decision import write_decision
from ...core.options import HyperRuleOptions
from ...core.dataset_facts import class_counts, read_dataset_facts
from ..statistics import load_split_statistics

# Execution parameters: the HyperRule's options as one serialised object (core/options.py
# HyperRuleOptions.to_json), declared once there; a string travels alike on every orchestrator
# (local, KFP v2, Vertex).
PARAMS = {
    "options": str,
}


def _decision_spec(name, params):
    """A ComponentSpec: train statistics in, one HyperParameters artifact out (both components)."""
    return type(name, (ComponentSpec,), {
        "PARAMETERS": {p: ExecutionParameter(type=t) for p, t in params.items()},
        "INPUTS": {keys.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics)},
        "OUTPUTS": {keys.HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters)}})


HyperRuleSpec = _decision_spec("HyperRuleSpec", PARAMS)


def decide_from_statistics(dataset, options):
    """The decision from the train split's statistics and the run's HyperRuleOptions."""
    facts = read_dataset_facts(dataset)
    counts = class_counts(dataset)
    rule.check_k_shot(options.k_shot or 0, counts, facts.num_classes)
    decision = options.decide(facts.num_examples, facts.num_classes, facts.image_area,
                              class_counts=counts)
    return decision.with_statistics(facts.to_json())


def decide_from_params(dataset, params):
    """decide_from_statistics with the component's parameter (`options`, its JSON form)."""
    return decide_from_statistics(dataset, HyperRuleOptions.from_json(params["options"]))


class Executor(base_executor.BaseExecutor):
    decide = staticmethod(decide_from_params)
    params = PARAMS
    what = "HyperRule decision"

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        statistics = artifact_utils.get_single_instance(input_dict[keys.STATISTICS_KEY])
        dataset = load_split_statistics(statistics, keys.TRAIN_SPLIT)
        decision = self.decide(dataset, {k: exec_properties[k] for k in self.params})
        decision = decision.with_statistics(dict(decision.statistics, source=statistics.uri))
        out = artifact_utils.get_single_instance(output_dict[keys.HYPERPARAMETERS_KEY])
        path = write_decision(decision, out.uri)
        out.set_int_custom_property("crop_size", decision.crop_size)
        out.set_int_custom_property("total_steps", decision.total_steps)
        out.set_float_custom_property("mixup_alpha", decision.mixup_alpha)
        logging.info("%s: %s; written to %s", self.what, brief(decision), path)


def brief(decision):
    """One short console line of a decision (the whole of it is the JSON file)."""
    crop = (f"resize {decision.resize_size}, {'random' if decision.random_crop else 'central'} "
            f"crop {decision.crop_size}")
    batch = f"batch {decision.batch_size}" + (
        f" x {decision.gradient_accumulation_steps} accumulated" if decision.gradient_accumulation_steps > 1 else "")
    return (f"{crop}, flip {'on' if decision.random_flip else 'off'}, MixUp "
            f"{decision.mixup_alpha if decision.mixup_alpha else 'off'}, {decision.total_steps} steps at "
            f"{batch}, learning rate {decision.learning_rate:g}, head {decision.head_init}")


class HyperRule(base_component.BaseComponent):
    """Reads train-split statistics and writes the BiT-HyperRule decision (one JSON file)."""

    SPEC_CLASS = HyperRuleSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, statistics, options=None):
        """options: HyperRuleOptions (the run's: RunConfig.hyperrule_options()); checked here,
        before any pipeline work, for what does not depend on the data."""
        options = (options or HyperRuleOptions()).check()
        spec = HyperRuleSpec(statistics=statistics, options=options.to_json(),
                             hyperparameters=types.Channel(type=standard_artifacts.HyperParameters))
        super().__init__(spec=spec)


# --- upstream pre-training -------------------------------------------------------------------
UPSTREAM_PARAMS = {
    "schedule": str,             # upstream.SCHEDULES: bit-s, bit-m, bit-l
    "batch_size": int,
    "batch_policy": str,
    "overrides": str,            # JSON object of upstream.OVERRIDABLE values, or ""
    "seed": int,
}


UpstreamRecipeSpec = _decision_spec("UpstreamRecipeSpec", UPSTREAM_PARAMS)


def upstream_from_statistics(dataset, params):
    facts = read_dataset_facts(dataset)
    decision = upstream.decide(
        facts.num_examples, facts.num_classes, schedule=params["schedule"],
        batch_size=params["batch_size"], batch_policy=params["batch_policy"],
        overrides=json.loads(params["overrides"]) if params["overrides"] else None,
        seed=params["seed"])
    return decision.with_statistics(facts.to_json())


class UpstreamExecutor(Executor):
    decide = staticmethod(upstream_from_statistics)
    params = UPSTREAM_PARAMS
    what = "Upstream recipe"


class UpstreamRecipe(base_component.BaseComponent):
    """Reads train-split statistics and writes the BiT upstream pre-training recipe
    (upstream.decide) as the same HyperParameters artifact the HyperRule writes."""

    SPEC_CLASS = UpstreamRecipeSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(UpstreamExecutor)

    def __init__(self, statistics, schedule=upstream.DEFAULT_SCHEDULE, batch_size=upstream.BATCH,
                 batch_policy=upstream.DEFAULT_BATCH_POLICY, overrides=None, seed=rule.DEFAULT_SEED):
        upstream.check_config(schedule, batch_size, batch_policy, overrides)  # before any work
        rule.check_seed(seed)
        spec = UpstreamRecipeSpec(
            statistics=statistics, schedule=schedule, batch_size=int(batch_size),
            batch_policy=batch_policy, overrides=json.dumps(overrides) if overrides else "",
            seed=int(seed), hyperparameters=types.Channel(type=standard_artifacts.HyperParameters))
        super().__init__(spec=spec)
