"""Calibration texts: the same on every call, prose of some length, from many topics."""

from transforms.embedders import calibration


def test_calibration_texts_are_fixed_prose():
    texts = calibration.texts()
    assert len(texts) == calibration.TEXTS and texts == calibration.texts()
    assert len(set(texts)) > 0.9 * len(texts)  # a few topics share a stock paragraph
    assert all(len(t.split()) >= 12 and "\n" not in t for t in texts)
    assert len(calibration.texts(10)) == 10
