"""vsp's exporter: diffusers SDXL pipeline -> TorchScript modules + manifest.json."""
