"""Chapter 1's class transfer (:mod:`cnnbook.experiments.class_transfer`): ResNet-20 pretrained on six
classes, then frozen features, fine-tuning and training from scratch on the four others, few-shot."""

from __future__ import annotations

from dataclasses import dataclass

from ...experiments import class_transfer
from ...training.evaluation import evaluate
from .registry import Study, register_study

TRANSFER_MODEL = "resnet20"


@dataclass(frozen=True)
class TransferStudy(Study):
    """Pretrains on the source classes (its test metrics are theirs) and always runs the few-shot stage."""

    def settings(self, cfg) -> dict:
        return {"few_shot": class_transfer.settings_dict(cfg.few_shot)}

    def train(self, spec, data, **fit_options):
        return class_transfer.pretrain(spec.model, spec.recipe, data, seed=spec.seed, **fit_options)

    def results(self, spec, model, data, *, test, device, progress):
        metrics = evaluate(model, class_transfer.classes_of(data.test, class_transfer.SOURCE_CLASSES))
        settings = class_transfer.FewShot(**spec.settings["few_shot"])
        rows = class_transfer.compare(model, spec.model, data, settings, seed=spec.seed, device=device,
                                      progress=progress)  # fmt: skip
        return metrics, {"few_shot": rows}


TRANSFER = register_study(
    TransferStudy(
        "transfer", (TRANSFER_MODEL,), "pretrain", builder={"num_classes": len(class_transfer.SOURCE_CLASSES)}
    )
)
