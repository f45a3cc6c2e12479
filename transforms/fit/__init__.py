"""The fit stage: the codec a run trains, or keeps from the last run."""
