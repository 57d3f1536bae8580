"""Generate reference fixtures for Kiban's inference library: generation, masked-LM scoring, ProtBERT ids.

Run from the repo root (after ``pip install -r requirements.txt``):

    python3 Tests/Fixtures/make_inference_fixtures.py

It writes, next to this script:

* ``generation.json``: transformers' greedy ``generate`` (float64, eager attention) of the tiny
  Llama of ``llama_clm.safetensors`` for two prompts, one stopping at the chosen eos token and one
  running to ``max_new_tokens``, with the smallest top-1/top-2 logit gap seen on each step.
* ``esm_scoring.safetensors``: on the tiny ESM-2 of ``esm_mlm.safetensors``, in float64, for two
  sequences: the masked-marginal log-probability table (one row per residue, each from a copy of
  the sequence with only that residue masked), the pseudo-log-likelihood, the pseudo-perplexity,
  and ESM-1v masked-marginal scores of single and multiple mutants.
* ``protbert_tokenizer/`` (``vocab.txt`` in Rostlab/prot_bert's order and its
  ``tokenizer_config.json``), ``protbert_tokenizer_saved/`` (the same tokenizer after
  ``save_pretrained``: ``tokenizer.json``) and ``protbert_tokenizer.json``, the ids of
  transformers' ``BertTokenizer`` for a few sequences, with ``do_lower_case`` false (as prot_bert
  says), true, and absent (transformers then lowercases).

Both models are built by ``make_model_fixtures.py``'s own ``llama_case`` / ``esm_case`` and
checked equal, tensor for tensor, to the committed weight files, so the references belong to the
weights the Swift tests load. The output is deterministic (no random draws besides those
functions', whose inputs are discarded).
"""

import json
import math
import shutil
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file

import make_model_fixtures as models

FIXTURES_DIR = Path(__file__).resolve().parent
GENERATOR = "Tests/Fixtures/make_inference_fixtures.py"

# --- generation -------------------------------------------------------------------------------

MAX_NEW_TOKENS = 12
# The first prompt's greedy continuation picks the eos: its first new token that first appears at
# step EOS_STEP or later. The second prompt is the first candidate whose continuation avoids it.
STOPPING_PROMPT = [5, 17, 3, 29, 11]
EOS_STEP = 2
CANDIDATE_PROMPTS = [[7, 30, 2, 14], [21, 8, 36, 0, 12, 25], [9, 9, 38], [1, 33, 6, 27, 18, 4, 22]]
# Rows of float32 logits for transformers' TopKLogitsWarper and TopPLogitsWarper: probabilities
# (0.1, 0.6, 0.3) at several p, four (then two) equal logits, top-k ties, top-k before top-p.
LOG = [math.log(p) for p in (0.1, 0.6, 0.3)]
LOG4 = [math.log(p) for p in (0.1, 0.5, 0.25, 0.15)]
WARPER_CASES = [
    *[(LOG, 0, p) for p in (0.01, 0.55, 0.65, 0.85, 0.95)],
    *[([1.0] * 4, 0, p) for p in (1e-6, 0.25, 0.5, 0.74, 0.75, 0.76)],
    ([0.0, 5.0, 0.0, 5.0], 0, 1e-6), ([1.0, 4.0, 3.0, 2.0], 2, 1.0), ([1.0, 4.0, 3.0, 3.0], 2, 1.0),
    (LOG4, 2, 1.0), (LOG4, 2, 0.6), (LOG4, 0, 0.6), (LOG4, 3, 0.8),
]

# --- masked-LM scoring ------------------------------------------------------------------------

ESM_ALPHABET = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO.-", "<null_1>", "<mask>"]
SEQUENCES = {
    "long": "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"[:48],
    "rare": "MXKUBZOCAXW",
}
VARIANTS = {
    "long": ["M1A", "K2R", "A4G", "Y5F", "S13T", "L48P", "T3T", "K2R:A4G", "A7G:K8R", "I12V:F14W:E24P"],
    "rare": ["X2A", "U4C", "B5D", "K3E", "C8S:W11F"],
}

# --- ProtBERT tokenizer -----------------------------------------------------------------------

PROTBERT_VOCAB = "[PAD] [UNK] [CLS] [SEP] [MASK] L A G V E S I K R D T P N Q F Y M H C W X U B Z O".split()
PROTBERT_MAX_LENGTH = 16
# Kiban's input; transformers gets ``spaced(sequence)``, the text its users write.
PROTBERT_CASES = [
    "MKTAYIAKQR",
    "MXKUBZOC",
    "mktAYiak",
    "MKTAYIAKQRQISFVKSHFSRQLEERL",
    "DLIP[MASK]SSK",
    "M[MAS]K",
    "M K T A",
]


def spaced(sequence):
    """The transformers user's text: residues separated by spaces, bracketed tokens kept whole."""
    words, index = [], 0
    while index < len(sequence):
        end = sequence.find("]", index) + 1 if sequence[index] == "[" else 0
        if end and sequence[index:end] in PROTBERT_VOCAB:
            words.append(sequence[index:end])
            index = end
        else:
            if not sequence[index].isspace():
                words.append(sequence[index])
            index += 1
    return " ".join(words)


def checked_model(case, weights_file):
    """The model ``case`` builds, after checking its weights equal the committed file's."""
    model, _, _, config_json = case()
    committed = load_file(str(FIXTURES_DIR / weights_file))
    state = model.state_dict()
    mismatched = [key for key in state if not torch.equal(state[key], committed[key])]
    assert not mismatched and set(state) <= set(committed), f"{weights_file}: differs at {mismatched}"
    return model.double().eval(), config_json


def greedy(model, prompt, eos):
    """transformers' greedy continuation (new tokens only, eos included) and its smallest logit gap."""
    input_ids = torch.tensor([prompt])
    output = model.generate(
        input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
        max_new_tokens=MAX_NEW_TOKENS, eos_token_id=eos, pad_token_id=0,
        output_scores=True, return_dict_in_generate=True)
    gaps = [float(step[0].topk(2).values[0] - step[0].topk(2).values[1]) for step in output.scores]
    return output.sequences[0, len(prompt):].tolist(), min(gaps)


def warper_case(logits, top_k, top_p):
    """The token ids transformers' top-k then top-p warpers keep (as generate applies them)."""
    scores = torch.tensor([logits], dtype=torch.float32)
    if top_k:
        scores = transformers.TopKLogitsWarper(top_k)(None, scores)
    if top_p < 1:
        scores = transformers.TopPLogitsWarper(top_p)(None, scores)
    kept = [i for i, v in enumerate(scores[0].tolist()) if v != float("-inf")]
    return {"logits": scores.new_tensor(logits).tolist(), "top_k": top_k, "top_p": top_p, "kept": kept}


def generation_fixture():
    model, config_json = checked_model(models.llama_case, "llama_clm.safetensors")
    free_run, _ = greedy(model, STOPPING_PROMPT, eos=None)
    eos = next(token for step, token in enumerate(free_run) if step >= EOS_STEP and token not in free_run[:step])
    second = next(prompt for prompt in CANDIDATE_PROMPTS if eos not in greedy(model, prompt, eos=None)[0])
    cases = []
    for prompt in (STOPPING_PROMPT, second):
        tokens, gap = greedy(model, prompt, eos=eos)
        assert gap > 1e-4, f"prompt {prompt}: a top-1/top-2 gap of {gap} is too close for float32"
        cases.append({"prompt": prompt, "greedy": tokens, "stopped_at_eos": tokens[-1] == eos,
                      "min_logit_gap": gap})
    assert cases[0]["stopped_at_eos"] and not cases[1]["stopped_at_eos"]
    assert len(cases[1]["greedy"]) == MAX_NEW_TOKENS
    return {
        "generator": GENERATOR, "torch": torch.__version__, "transformers": transformers.__version__,
        "weights": "llama_clm.safetensors", "config": json.loads(config_json),
        "call": "model.double().eval().generate(input_ids, attention_mask=ones, do_sample=False, "
                f"max_new_tokens={MAX_NEW_TOKENS}, eos_token_id=eos_token_id, pad_token_id=0)",
        "eos_token_id": eos, "max_new_tokens": MAX_NEW_TOKENS,
        "greedy": "new tokens only, the eos included when generated",
        "cases": cases,
        "warpers": "TopKLogitsWarper(top_k) when top_k > 0, then TopPLogitsWarper(top_p) when top_p < 1, "
                   "on one float32 row; kept = ids whose score is not -inf",
        "warper_cases": [warper_case(*case) for case in WARPER_CASES],
    }


def masked_marginals(model, input_ids):
    """(L, V) float64 log-softmax at each residue (token positions 1..L) with only it masked."""
    length = len(input_ids) - 2
    copies = torch.tensor([input_ids] * length)
    positions = torch.arange(1, length + 1)
    copies[torch.arange(length), positions] = models.ESM_MASK
    with torch.no_grad():
        logits = model(input_ids=copies, attention_mask=torch.ones_like(copies)).logits
    return logits[torch.arange(length), positions].log_softmax(dim=-1)


def mutation_score(table, sequence, variant):
    """ESM-1v masked marginals: sum over mutations of log p(mutant) - log p(wild type) at the residue."""
    score = 0.0
    for mutation in variant.split(":"):
        wild_type, position, mutant = mutation[0], int(mutation[1:-1]), mutation[-1]
        assert sequence[position - 1] == wild_type, mutation
        row = table[position - 1]  # residue p is token p (after <cls>), table row p - 1
        score += float(row[ESM_ALPHABET.index(mutant)] - row[ESM_ALPHABET.index(wild_type)])
    return score


def scoring_fixture():
    model, config_json = checked_model(models.esm_case, "esm_mlm.safetensors")
    tensors, metadata = {}, {"generator": GENERATOR, "torch": torch.__version__,
                             "transformers": transformers.__version__, "weights": "esm_mlm.safetensors",
                             "config": config_json}
    for name, sequence in SEQUENCES.items():
        input_ids = [models.ESM_CLS, *(ESM_ALPHABET.index(r) for r in sequence), models.ESM_EOS]
        table = masked_marginals(model, input_ids)
        pll = float(table[torch.arange(len(sequence)), torch.tensor(input_ids[1:-1])].sum())
        tensors[f"{name}.input_ids"] = torch.tensor(input_ids)
        tensors[f"{name}.marginals"] = table.contiguous()
        tensors[f"{name}.pll"] = torch.tensor([pll], dtype=torch.float64)
        tensors[f"{name}.pseudo_perplexity"] = torch.tensor([math.exp(-pll / len(sequence))], dtype=torch.float64)
        tensors[f"{name}.scores"] = torch.tensor(
            [mutation_score(table, sequence, v) for v in VARIANTS[name]], dtype=torch.float64)
        metadata[f"{name}.sequence"] = sequence
        metadata[f"{name}.variants"] = json.dumps(VARIANTS[name])
    return tensors, metadata


def protbert_fixture():
    folder = FIXTURES_DIR / "protbert_tokenizer"
    folder.mkdir(exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(PROTBERT_VOCAB) + "\n")
    config = {"do_lower_case": False, "tokenizer_class": "BertTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    tokenizers = {
        "false": transformers.BertTokenizer.from_pretrained(str(folder)),
        "true": transformers.BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True),
    }
    absent = FIXTURES_DIR / "protbert_tokenizer_absent_config"
    absent.mkdir(exist_ok=True)
    shutil.copy(folder / "vocab.txt", absent / "vocab.txt")
    tokenizers["absent"] = transformers.BertTokenizer.from_pretrained(str(absent))
    shutil.rmtree(absent)
    saved = FIXTURES_DIR / "protbert_tokenizer_saved"
    shutil.rmtree(saved, ignore_errors=True)
    tokenizers["false"].save_pretrained(str(saved))
    assert tokenizers["false"].do_lower_case is False and tokenizers["absent"].do_lower_case is True

    cases = []
    for sequence in PROTBERT_CASES:
        text = spaced(sequence)
        case = {"sequence": sequence, "text": text}
        for setting, tokenizer in tokenizers.items():
            case[f"do_lower_case_{setting}"] = tokenizer(text)["input_ids"]
        case["do_lower_case_false_max_length"] = tokenizers["false"](
            text, truncation=True, max_length=PROTBERT_MAX_LENGTH)["input_ids"]
        cases.append(case)
    reloaded = transformers.BertTokenizer.from_pretrained(str(saved))
    assert all(reloaded(c["text"])["input_ids"] == c["do_lower_case_false"] for c in cases)
    return {
        "generator": GENERATOR, "transformers": transformers.__version__,
        "folder": "protbert_tokenizer", "saved_folder": "protbert_tokenizer_saved",
        "max_length": PROTBERT_MAX_LENGTH,
        "calls": {
            "do_lower_case_false": "BertTokenizer.from_pretrained('protbert_tokenizer')(text)",
            "do_lower_case_true": "BertTokenizer('protbert_tokenizer/vocab.txt', do_lower_case=True)(text)",
            "do_lower_case_absent": "BertTokenizer.from_pretrained(folder with vocab.txt only)(text)",
            "do_lower_case_false_max_length": "from_pretrained('protbert_tokenizer')(text, truncation=True, "
                                              f"max_length={PROTBERT_MAX_LENGTH})",
        },
        "cases": cases,
    }


def write_json(name, value):
    path = FIXTURES_DIR / name
    path.write_text(json.dumps(value, indent=1) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main():
    write_json("generation.json", generation_fixture())
    tensors, metadata = scoring_fixture()
    path = FIXTURES_DIR / "esm_scoring.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    print(f"wrote {len(tensors)} tensors to {path} ({path.stat().st_size} bytes)")
    write_json("protbert_tokenizer.json", protbert_fixture())


if __name__ == "__main__":
    main()
