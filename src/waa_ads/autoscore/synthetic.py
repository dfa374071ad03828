"""Synthetic scored essays for tests, demos and smoke runs (pure, seeded).

Each essay answers a made-up prompt by stringing sentences from templates; its quality
decides how many of the topic's key ideas it uses, how long it is and how many words it
misspells, and the human scores are that quality on the item's scale plus rater noise.
Also makes answers the screens must catch: off-topic, gibberish, another language, copies
of the prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PROMPT = (
    "Explain how the water cycle moves water between the oceans, the air and the land, "
    "and why it matters for the weather and for people."
)
IDEAS = (
    ("evaporation", "the sun heats the ocean and water turns into vapor"),
    ("condensation", "the vapor cools high in the air and forms clouds"),
    ("precipitation", "the clouds release rain and snow back to the ground"),
    ("runoff", "rain water flows over the land into rivers and lakes"),
    ("infiltration", "some water soaks into the soil and becomes groundwater"),
    ("transpiration", "plants release water vapor from their leaves"),
    ("collection", "rivers carry the water back to the ocean where it collects"),
    ("energy", "the energy of the sun drives the whole cycle"),
    ("weather", "the cycle shapes the weather, storms and droughts"),
    ("people", "people depend on the cycle for drinking water and farming"),
)
FILLER = (
    "I think this is very important for all of us.",
    "This is something that happens every day, even when we do not see it.",
    "Many people do not know about it, but they should.",
    "It is a good thing to learn about when you are young.",
    "We learned this in school last year with our teacher.",
    "There are a lot of steps in it and each one has a reason.",
    "It happens all over the world and it has always been that way.",
    "That is what I know about this and what I remember from class.",
    "Some of my friends were surprised when they heard about it.",
    "You can see it for yourself if you watch the sky for a while.",
    "It was the most interesting thing we studied before the holidays.",
    "My family talks about it when the summer is very hot and dry.",
    "Without it, the world would be a very different place to live in.",
    "Scientists have studied it for a long time and still learn new things.",
)
LINKS = (
    "First,",
    "Then",
    "After that,",
    "Also,",
    "Next,",
    "In addition,",
    "Finally,",
    "Because of this,",
)
OFF_TOPIC = (
    "Football clubs recruit talented players from youth academies across Europe.",
    "Coaches study tactics, formations and opponents ahead of big derbies.",
    "Stadium tickets became expensive as television contracts grew.",
    "Goalkeepers need quick reflexes, strong hands and excellent positioning.",
    "Supporters sing loud chants as heroes chase the championship trophy.",
)
OTHER_LANGUAGE = (
    "El ciclo del agua es muy importante para la vida en nuestro planeta.",
    "Cuando hace calor el agua del mar se evapora y sube hacia el cielo.",
    "Despues las nubes se forman y finalmente llueve sobre las montanas.",
    "Los rios llevan el agua de nuevo hasta el mar y todo comienza otra vez.",
)


@dataclass(frozen=True)
class Essays:
    ids: list[str]
    texts: list[str]
    scores: list[int]
    second_scores: list[int]
    groups: list[str]


def _misspell(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def essay(quality: float, rng: random.Random) -> str:
    """One essay of ``quality`` in [0, 1]: more ideas, more words, fewer misspellings."""
    n_ideas = max(1, round(quality * len(IDEAS) * rng.uniform(0.8, 1.1)))
    ideas = rng.sample(IDEAS, min(n_ideas, len(IDEAS)))
    sentences: list[str] = []
    for j, (name, sentence) in enumerate(ideas):
        link = LINKS[j % len(LINKS)]
        sentences.append(f"{link} {sentence}.")
        if quality > 0.5 and rng.random() < quality:
            sentences.append(f"This step is called {name}.")
        if rng.random() < 0.5:
            sentences.append(rng.choice(FILLER))
    text = " ".join(sentences)
    error_rate = 0.12 * (1.0 - quality)
    return " ".join(_misspell(w, rng) if rng.random() < error_rate else w for w in text.split())


def essays(
    n: int, *, seed: int = 0, min_score: int = 0, max_score: int = 4, rater_noise: float = 0.5
) -> Essays:
    """``n`` scored essays; group ``B`` writes like group ``A`` (the scores differ only by
    quality, so a fair model shows no group difference)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    span = max_score - min_score
    ids, texts, scores, seconds, groups = [], [], [], [], []
    for i in range(n):
        quality = rng.random()
        true = min_score + quality * span

        def rate(true: float = true) -> int:
            return max(min_score, min(max_score, round(true + rng.gauss(0.0, rater_noise))))

        ids.append(f"e{i:05d}")
        texts.append(essay(quality, rng))
        scores.append(rate())
        seconds.append(rate())
        groups.append("A" if rng.random() < 0.5 else "B")
    return Essays(ids, texts, scores, seconds, groups)


def off_topic(rng: random.Random) -> str:
    return " ".join(rng.sample(OFF_TOPIC, 4))


def other_language(rng: random.Random) -> str:
    return " ".join(rng.sample(OTHER_LANGUAGE, 4))


def gibberish(rng: random.Random, words: int = 40) -> str:
    letters = "qwrtzpsdfghjklxcvbnm"
    return " ".join(
        "".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(words)
    )
