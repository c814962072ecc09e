"""Training: the recipe, the optimisers and schedules, the loop (``fit``), evaluation, the per-epoch
history, checkpoints, and where it runs (device, bf16 or fp32, several processes)."""
