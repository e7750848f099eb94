"""The sample study's free text: what customers write about a stage, by how they felt,
with a little personal data planted for the redaction to find (not API)."""

from __future__ import annotations

import numpy as np

#: share of comments that mention personal data (to be redacted when published)
PII_RATE = 0.04

SUBJECTS = {
    "awareness": ("The advert", "What I first heard about you", "The campaign I saw"),
    "consideration": ("Comparing the plans", "The product information", "The sales advice"),
    "purchase": ("Checkout", "Paying for my plan", "The order process"),
    "onboarding": ("The setup", "Getting my account going", "Activation", "The welcome process"),
    "usage": ("The service", "Using the app day to day", "The product", "The dashboard"),
    "support": ("Support", "The help I got", "The support team", "Sorting out my problem"),
    "renewal": ("The renewal", "Renewing my plan", "The renewal reminder"),
}
PREDICATES = (
    (  # very negative
        "was a nightmare, support never answered",
        "kept failing and nobody helped me",
        "was a total mess and I'm still waiting for a fix",
        "was awful, I nearly cancelled",
        "was terrible, I waited on hold for an hour",
    ),
    (  # negative
        "was confusing and took far too long",
        "was frustrating",
        "was slower than promised",
        "had some annoying problems",
        "was a hassle",
    ),
    (  # neutral
        "was as expected",
        "took about a day",
        "was done through the app",
        "happened last week",
        "was standard",
    ),
    (  # positive
        "was easy",
        "went smoothly",
        "was quick and simple",
        "was helpful",
        "was good",
    ),
    (  # very positive
        "was brilliant, everything just worked",
        "was fantastic, thank you so much",
        "was excellent and super fast",
        "was a delight",
        "was great, really impressed",
    ),
)
PII_SENTENCES = (
    " You can reach me at jane.doe@example.com",
    " Call me back on +44 20 7946 0958",
    " My card 4111 1111 1111 1111 was charged",
    " See https://example.com/account?user=884213&token=abc",
    " Account number 99887766554433",
)


def comments(rng: np.random.Generator, stage: str, felt: np.ndarray) -> np.ndarray:
    bucket = np.digitize(felt, [-0.5, -0.15, 0.15, 0.5])
    subjects = SUBJECTS[stage]
    subject = rng.integers(0, len(subjects), len(felt))
    predicate = rng.integers(0, len(PREDICATES[0]), len(felt))
    texts = np.array(
        [
            f"{subjects[s]} {PREDICATES[b][p]}."
            for s, b, p in zip(subject, bucket, predicate, strict=True)
        ],
        dtype=object,
    )
    pii = rng.random(len(felt)) < PII_RATE
    if pii.any():
        extra = rng.integers(0, len(PII_SENTENCES), int(pii.sum()))
        texts[pii] = [t + PII_SENTENCES[e] for t, e in zip(texts[pii], extra, strict=True)]
    return texts
