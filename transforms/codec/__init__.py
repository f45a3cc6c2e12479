"""The codec: faiss factories, their training and files, the stored tier, the default choice, k-means
warnings and the drift check."""
