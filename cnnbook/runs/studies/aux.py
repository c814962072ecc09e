"""Chapter 2's auxiliary-classifier study: the chapter's GoogLeNet trained with its side heads on and
off, with the ablation recipe (fp32: the arms differ by little)."""

from __future__ import annotations

from .registry import Study, register_study

AUX_MODEL = "googlenet_cifar"
AUX_ON = register_study(Study("aux-on", (AUX_MODEL,), "ablation", builder={"aux_logits": True}, label="with"))
AUX_OFF = register_study(Study("aux-off", (AUX_MODEL,), "ablation", builder={"aux_logits": False}, label="without"))
