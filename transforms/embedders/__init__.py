"""What embeds a text: the embedder's spec and resolvers, the runtimes (torch, ONNX Runtime, OpenVINO,
static, fake), packaged models and their files, calibration texts, micro-batched queries."""
