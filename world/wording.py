"""How a simulated viewer words a caption: its vocabulary, what it mentions, its sentence template.

A `Wording` is drawn once per viewer and kept for all its captions, which is what makes a viewer's
captions resemble each other more than other viewers' captions of the same scene: its own word for
each kind ("mug" or "cup") and colour ("crimson" or "red"), its habit of naming colour, size or
texture, its template (terse list, sentence, running commentary, inventory), its opener and closer,
and how many things it names at most. Noise (an occasional synonym swap, an omitted object) keeps
captions from being exact templates.

Every kind word is unambiguous across kinds and no template word is a kind word, so
`mentioned_kinds(text)` recovers which kinds a caption names, in order: the caption truth that
DEPER's scoring and this module's tests rely on.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

import numpy as np

# Words for each kind; a viewer picks one as its own (the first is the plain word).
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "ball": ("ball", "sphere", "toy ball"), "cup": ("cup", "mug", "teacup"),
    "lamp": ("lamp", "table lamp", "reading lamp"), "book": ("book", "novel", "hardback"),
    "plant": ("plant", "potted plant", "houseplant"), "hat": ("hat", "top hat", "bowler"),
    "clock": ("clock", "alarm clock", "timepiece"), "bottle": ("bottle", "flask", "carafe"),
    "chair": ("chair", "seat", "dining chair"), "vase": ("vase", "urn", "flower vase"),
    "cat": ("cat", "kitty", "kitten"), "bird": ("bird", "birdie", "songbird"),
}
COLOR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red", "crimson", "scarlet"), "orange": ("orange", "tangerine", "amber"),
    "yellow": ("yellow", "golden", "lemon"), "green": ("green", "emerald", "leafy green"),
    "blue": ("blue", "navy", "azure"), "purple": ("purple", "violet", "plum"),
    "pink": ("pink", "rosy", "salmon"), "brown": ("brown", "chocolate", "tan"),
    "white": ("white", "ivory", "snowy"), "black": ("black", "charcoal", "jet black"),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("big", "large", "huge")}
TEXTURE_WORDS: dict[str, tuple[str, ...]] = {
    "striped": ("striped", "stripy"), "dotted": ("dotted", "spotty", "polka-dot"),
    "checked": ("checked", "checkered", "chequered"),
}
STYLES = ("terse", "list", "chatty", "scene", "inventory")
CONNECTIVES: dict[str, tuple[str, ...]] = {
    "first": ("First I noticed", "My eye went first to", "The first thing I saw was", "Right away I spotted"),
    "then": ("then", "after that", "next"),
    "last": ("and finally", "and lastly", "and at the end"),
    "relation": ("next to", "beside", "near", "along with"),
    "there": ("There is", "I can see", "This shows", "Here we have"),
    "head": ("I see:", "Objects:", "Spotted:", "In view:"),
    "separator": ("; ", " / ", ", "),
}
OPENERS = ("", "", "Hmm,", "Well,", "Okay so,", "In this picture,", "At a glance,")
CLOSERS = ("", "", "That's it.", "Nice.", "Cute scene.", "Pretty calm overall.", "Nothing else really.")

_KIND_OF_PHRASE = {word: kind for kind, words in KIND_WORDS.items() for word in words}
_MAX_PHRASE = max(len(w.split()) for w in _KIND_OF_PHRASE)


@dataclass(frozen=True)
class Mention:
    """What a caption says about one object (the attributes it may or may not put into words)."""

    kind: str
    color: str
    size: str
    texture: str


@dataclass(frozen=True)
class Wording:
    """A viewer's wording style; its JSON (`to_json`) is `world_viewers.wording`."""

    style: str
    kind_words: dict[str, str]
    color_words: dict[str, str]
    size_words: dict[str, str]
    texture_words: dict[str, str]
    mention_color: float          # probability of naming an object's colour
    mention_size: float           # … its size (only when small or large)
    mention_texture: float        # … its texture (only when not plain)
    size_before_color: bool
    article: str                  # "a" or "the"
    connectives: dict[str, str]
    opener: str
    closer: str
    lowercase: bool
    max_objects: int              # length limit: most objects named in one caption
    synonym_swap: float           # per word: another synonym than the viewer's own
    omission: float               # per object: left out although looked at
    order: str = field(default="fixation")    # captions name objects in the order they were first fixated

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def make_wording(rng: np.random.Generator) -> Wording:
    """A random wording style; distinct viewers get distinct vocabularies and templates."""
    def pick(options: tuple[str, ...]) -> str:
        return str(options[int(rng.integers(len(options)))])

    habit = (0.05, 0.5, 0.95)      # never, sometimes, always: habits are strong in real captions
    return Wording(
        style=pick(STYLES),
        kind_words={k: pick(ws) for k, ws in KIND_WORDS.items()},
        color_words={c: pick(ws) for c, ws in COLOR_WORDS.items()},
        size_words={s: pick(ws) for s, ws in SIZE_WORDS.items()},
        texture_words={t: pick(ws) for t, ws in TEXTURE_WORDS.items()},
        mention_color=float(rng.choice(habit)), mention_size=float(rng.choice(habit)),
        mention_texture=float(rng.choice(habit)), size_before_color=bool(rng.random() < 0.8),
        article=pick(("a", "the")), connectives={k: pick(ws) for k, ws in CONNECTIVES.items()},
        opener=pick(OPENERS), closer=pick(CLOSERS), lowercase=bool(rng.random() < 0.3),
        max_objects=int(rng.integers(2, 6)), synonym_swap=float(rng.uniform(0.03, 0.12)),
        omission=float(rng.uniform(0.0, 0.1)),
    )


def noun_phrase(wording: Wording, m: Mention, rng: np.random.Generator) -> str:
    """'big red cup': the viewer's words for the attributes it names, then the kind."""
    def word(own: dict[str, str], table: dict[str, tuple[str, ...]], key: str) -> str:
        if rng.random() < wording.synonym_swap:
            return str(table[key][int(rng.integers(len(table[key])))])
        return own[key]

    adjectives = []
    if m.size in wording.size_words and rng.random() < wording.mention_size:
        adjectives.append(word(wording.size_words, SIZE_WORDS, m.size))
    if rng.random() < wording.mention_color:
        colour = word(wording.color_words, COLOR_WORDS, m.color)
        adjectives.insert(len(adjectives) if wording.size_before_color else 0, colour)
    if m.texture in wording.texture_words and rng.random() < wording.mention_texture:
        adjectives.append(word(wording.texture_words, TEXTURE_WORDS, m.texture))
    return " ".join([*adjectives, word(wording.kind_words, KIND_WORDS, m.kind)])


def describe(wording: Wording, mentions: list[Mention], rng: np.random.Generator) -> str:
    """The caption naming `mentions` in the given order (omission noise applied here)."""
    if not mentions:
        raise ValueError("a caption needs at least one mention")
    kept = [m for m in mentions if rng.random() >= wording.omission] or mentions[:1]
    bare = [noun_phrase(wording, m, rng) for m in kept]
    art = [f"{_article(wording.article, np_)} {np_}" for np_ in bare]
    c = wording.connectives
    if wording.style == "terse":
        body = ", ".join(bare) + "."
    elif wording.style == "list":
        body = _join_and(art) + "."
    elif wording.style == "chatty":
        parts = [f"{c['first']} {art[0]}"] + [f"{c['then']} {a}" for a in art[1:-1]]
        if len(art) > 1:
            parts.append(f"{c['last']} {art[-1]}")
        body = ", ".join(parts) + "."
    elif wording.style == "scene":
        body = f"{c['there']} {art[0]}" + (f" {c['relation']} {_join_and(art[1:])}" if len(art) > 1 else "") + "."
    elif wording.style == "inventory":
        body = f"{c['head']} {c['separator'].join(bare)}"
    else:
        raise ValueError(f"unknown wording style {wording.style!r}; known: {STYLES}")
    text = body[0].upper() + body[1:]
    if wording.opener and rng.random() < 0.8:
        text = f"{wording.opener} {text[0].lower()}{text[1:]}"
    if wording.closer and rng.random() < 0.6:
        text = f"{text}{'' if text.endswith('.') else '.'} {wording.closer}"
    return text.lower() if wording.lowercase else text


def mentioned_kinds(text: str) -> list[str]:
    """The object kinds a caption names, in order (longest phrase first: 'toy ball' is one ball)."""
    words = re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())
    kinds, i = [], 0
    while i < len(words):
        for n in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            kind = _KIND_OF_PHRASE.get(" ".join(words[i:i + n]))
            if kind is not None:
                kinds.append(kind)
                i += n
                break
        else:
            i += 1
    return kinds


def _article(article: str, phrase: str) -> str:
    if article == "a" and phrase[0] in "aeiou":
        return "an"
    return article


def _join_and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

