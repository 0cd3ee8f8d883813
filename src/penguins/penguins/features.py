"""Which columns the model sees and which it predicts.

Kept in one place so training, the model card and evaluation cannot drift
apart. ``year`` and the row order are deliberately not features: the model
should describe penguins, not when they were measured.
"""

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]
FEATURES = NUMERIC + CATEGORICAL
TARGET = "species"
