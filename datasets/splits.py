"""Pure rules of a version's split and statistics: which labelled samples without a usage go to
TRAIN and which to EVAL, and what the version records about its samples."""

import hashlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable


def hashed_split(sample_id: int, train_ratio: float, seed: int | None = None) -> str:
    """TRAIN or EVAL, fixed for a sample id (and the seed, when given), so that re-publishing
    gives the same split."""
    if seed is None:
        return "TRAIN" if (sample_id * 2654435761) % 4294967296 < train_ratio * 4294967296 else "EVAL"
    return "TRAIN" if int.from_bytes(_rank(seed, sample_id), "big") < train_ratio * 2 ** 64 else "EVAL"


def _rank(seed: int, sample_id: int) -> bytes:
    return hashlib.blake2b(sample_id.to_bytes(8, "little", signed=True), digest_size=8,
                           key=seed.to_bytes(8, "little", signed=True)).digest()


def stratified_eval_ids(groups: dict[str, Iterable[int]], *, train_ratio: float, seed: int) -> set[int]:
    """The sample ids that go to EVAL: in each label's group (a sample counts under its first
    label), round(n × (1 − train_ratio)) of its samples, drawn in an order the seed fixes. Every
    label is split in the same proportion, and the same seed gives the same split."""
    chosen = set()
    for ids in groups.values():
        ordered = sorted(ids, key=lambda sample_id: _rank(seed, sample_id))
        chosen.update(ordered[:round(len(ordered) * (1 - train_ratio))])
    return chosen


def grouped_ids(rows: Iterable[tuple[int, list]]) -> dict[str, array]:
    """Sample ids by their first label, as compact arrays (8 bytes a sample)."""
    groups = defaultdict(lambda: array("q"))
    for sample_id, annotations in rows:
        groups[annotations[0]["name"]].append(sample_id)
    return groups


class Statistics:
    """What a version records of its samples, gathered as they stream past: samples per label and
    per split, boxes per image, the range of image sizes, annotations per annotator."""

    def __init__(self):
        self.per_split = Counter()
        self.label_splits = defaultdict(Counter)
        self.boxes = Counter()
        self.box_images = 0
        self.most_boxes = 0
        self.width = [None, None]
        self.height = [None, None]
        self.annotators = Counter()

    def add(self, *, metadata: dict, annotations: list, split: str) -> None:
        self.per_split[split or "NONE"] += 1
        for name in {a["name"] for a in annotations}:
            self.label_splits[name][split or "NONE"] += 1
        boxes = sum(1 for a in annotations if a.get("type") == "modelarts/object_detection")
        if boxes:
            self.box_images += 1
            self.boxes[boxes] += 1
            self.most_boxes = max(self.most_boxes, boxes)
        for key, bounds in (("width", self.width), ("height", self.height)):
            value = metadata.get(key)
            if type(value) in (int, float):
                bounds[0] = value if bounds[0] is None else min(bounds[0], value)
                bounds[1] = value if bounds[1] is None else max(bounds[1], value)
        for annotation in annotations:
            self.annotators[annotation.get("annotated-by") or ""] += 1

    def as_dict(self) -> dict:
        total_boxes = sum(count * images for count, images in self.boxes.items())
        return {
            "splits": dict(sorted(self.per_split.items())),
            "labels": {name: dict(sorted(splits.items())) for name, splits in sorted(self.label_splits.items())},
            "boxes": {"total": total_boxes, "images": self.box_images, "most_per_image": self.most_boxes,
                      "mean_per_image": round(total_boxes / self.box_images, 3) if self.box_images else 0,
                      "images_by_count": {str(count): images for count, images in sorted(self.boxes.items())}},
            "image_sizes": {"width": {"min": self.width[0], "max": self.width[1]},
                            "height": {"min": self.height[0], "max": self.height[1]}},
            "annotators": dict(sorted(self.annotators.items())),
        }
