"""Chapter 1's degradation study (He et al., Fig. 6): plain, residual and pre-activation networks of
20 and 56 layers, with the short side recipe, their layers traced every epoch."""

from __future__ import annotations

from dataclasses import dataclass

from ...analysis.probe import LayerTrace
from ...data import normalize
from .registry import Study, register_study

SIDE_MODELS = ("plain20", "plain56", "resnet20", "resnet56", "preact_resnet20", "preact_resnet56")
# They compare final training errors a few points apart, where bf16 rounding moves them by a
# similar amount: they run in fp32 everywhere.
SIDE_PRECISION = "fp32"
SIDE_VAL_IMAGES = 1000  # validated after every epoch on this many images: the training error is what they compare
TRACE_IMAGES = 256  # the fixed training batch on which a side run's layers are traced every epoch


@dataclass(frozen=True)
class SideStudy(Study):
    """Traces its layers every epoch (:class:`~cnnbook.analysis.probe.LayerTrace`), which the
    gradient-flow figures read, and validates on :data:`SIDE_VAL_IMAGES` images."""

    def callbacks(self, spec, data, model) -> list:
        trained = data.train.take(spec.recipe.subset, seed=spec.seed)  # a fixed batch of the images it trains on
        x, y = trained.images[:TRACE_IMAGES], trained.labels[:TRACE_IMAGES]
        return [LayerTrace(model, normalize(x), y)]

    def validation(self, spec, data):
        return data.val.take_up_to(SIDE_VAL_IMAGES, seed=spec.seed)


SIDE = register_study(SideStudy("side", SIDE_MODELS, "side", overrides={"precision": SIDE_PRECISION}))
SIDE_RUNS = tuple(SIDE.run_id(m) for m in SIDE_MODELS)
