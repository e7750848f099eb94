"""The feature encoder (personas.encoding): every block weighs as one variable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.journeys import select_features
from cjresearch.analysis.personas.encoding import FeatureEncoder
from cjresearch.errors import CJResearchError
from helpers import sample_pipeline


def test_encoder_weights_every_block_to_total_variance_one() -> None:
    features = select_features(
        sample_pipeline(600, 3).features, ["channel_share_*", "emotion_*", "age", "plan"]
    )
    encoder = FeatureEncoder().fit(features)
    encoded = encoder.transform(features)
    blocks = encoder.blocks_.set_index("column")["block"]
    total = encoded.var(ddof=0).groupby(blocks).sum()
    np.testing.assert_allclose(total.to_numpy(), 1.0)
    # a family counts once; each channel share is a variable of its own
    assert {"emotion_*", "emotion_*_missing", "plan", "age", "channel_share_app"} <= set(
        total.index
    )
    assert "channel_share_*" not in set(total.index)
    assert "emotion_onboarding_missing" in encoder.columns_  # missing is not neutral
    assert encoder.fit(features) is encoder


def test_an_unfitted_encoder_says_so() -> None:
    features = pd.DataFrame({"customer_id": ["a", "b"], "spend": [1.0, 2.0]})
    with pytest.raises(CJResearchError, match="not fitted"):
        FeatureEncoder().transform(features)
