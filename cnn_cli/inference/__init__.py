"""Using a trained run's model: evaluation on a split (`evaluation`), predictions for image files (`prediction`,
with `inputs`, what predict is given), flip test-time augmentation (`tta`), the background check of predicted
images (`background`) and Grad-CAM's gradients (`gradcam`). Reads a run through `cnn_cli.rundir`; draws nothing."""
