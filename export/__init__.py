"""Export: training checkpoints -> verified style files (ONNX + metadata)."""
