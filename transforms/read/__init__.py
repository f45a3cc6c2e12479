"""Reading the input: documents from Parquet (ids, texts, labels, rejections) and the bundled demo corpus."""
