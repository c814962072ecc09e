"""Experiments built on training: fine-tuning torchvision's ImageNet models (``finetune``) and
transfer between CIFAR-10 classes without downloads (``class_transfer``)."""
