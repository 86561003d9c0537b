"""The facts of one split that the HyperRule decides from and the report and model card state,
read from its DatasetFeatureStatistics (the proto StatisticsGen writes; components/statistics.py
loads it from the artifact with TFX's loader). Pure protobuf reads: nothing is imported.

DatasetFacts is the typed form; `to_json` is its one JSON form (the decision's `statistics`
record, the same keys as always: num_examples, num_classes, image_height, image_width,
image_area, image_area_statistic).
"""
import dataclasses
from typing import Dict

from . import keys

AREA_STATISTIC = "median(image/height) * median(image/width) of the train split"


class StatisticsError(ValueError):
    """The statistics lack what is needed; names the split or feature and the cause."""


@dataclasses.dataclass(frozen=True)
class DatasetFacts:
    num_examples: int
    num_classes: int
    image_height: Dict[str, float]  # mean, median, min, max of image/height
    image_width: Dict[str, float]

    @property
    def image_area(self):
        """The HyperRule's image area: median height x median width (AREA_STATISTIC)."""
        return self.image_height["median"] * self.image_width["median"]

    def to_json(self):
        return {"num_examples": self.num_examples, "num_classes": self.num_classes,
                "image_height": dict(self.image_height), "image_width": dict(self.image_width),
                "image_area": self.image_area, "image_area_statistic": AREA_STATISTIC}


def feature(dataset, name):
    """The FeatureNameStatistics of a top-level feature (by path, or by the older name field)."""
    for f in dataset.features:
        if list(f.path.step) == [name] or f.name == name:
            return f
    raise StatisticsError(f"feature {name!r} is missing from the statistics; the examples must "
                          "come from ImageExampleGen or carry the same features")


def _numeric(dataset, name):
    stats = feature(dataset, name).num_stats
    summary = {"mean": stats.mean, "median": stats.median, "min": stats.min, "max": stats.max}
    if summary["median"] <= 0:
        raise StatisticsError(f"feature {name!r} has no positive median in the statistics: {summary}")
    return summary


def read_dataset_facts(dataset):
    """The DatasetFacts of one split's DatasetFeatureStatistics."""
    return DatasetFacts(num_examples=int(dataset.num_examples),
                        num_classes=int(feature(dataset, keys.LABEL_TEXT).string_stats.unique),
                        image_height=_numeric(dataset, keys.IMAGE_HEIGHT),
                        image_width=_numeric(dataset, keys.IMAGE_WIDTH))


def class_counts(dataset):
    """{label: examples} from the label's rank histogram (StatisticsGen keeps its top
    num_rank_histogram_buckets labels; compare len() with DatasetFacts.num_classes),
    or from its top values where there is no histogram."""
    stats = feature(dataset, keys.LABEL_TEXT).string_stats
    counts = {b.label: int(b.sample_count) for b in stats.rank_histogram.buckets}
    return counts or {v.value: int(v.frequency) for v in stats.top_values}
