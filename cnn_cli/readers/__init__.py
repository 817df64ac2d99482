"""What reads a run directory back: inspect (feature maps, filters, Grad-CAM), report (one HTML page), plots."""
