"""Looking inside trained networks: feature maps and layer traces (``probe``), Grad-CAM, costs
(parameters, multiply-adds, memory, speed), Inception's branches, and the noise of a comparison
(``spread``)."""
