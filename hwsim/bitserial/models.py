"""Model shapes of the LLMs the published BitMoD simulator evaluates, as its shape pickles hold them.

The BitMoD simulator (abdelfattah-lab/BitMoD-HPCA-25 ``bitmod_sim/llm_shape_profile.py``) pickles
``(model_config, layer_config)`` per model: the Hugging Face config dict (it reads only
``num_hidden_layers, hidden_size, num_attention_heads`` and ``num_key_value_heads`` when present) and
``{module name: [out_features, in_features]}`` for every ``torch.nn.Linear`` in ``named_modules()``
order (LM head last). The shapes below are those of each model's public ``config.json`` and
architecture; this module is plain Python (no NumPy) so the reference generator can load it too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LLMArch:
    family: str        #: "llama" (q,k,v,o,gate,up,down), "opt" (k,v,q,out,fc1,fc2), "phi" (q,k,v,dense,fc1,fc2)
    layers: int
    hidden: int
    heads: int
    kv_heads: int | None   #: None: the config has no num_key_value_heads (OPT)
    ffn: int
    vocab: int

    @property
    def kvh(self) -> int:
        return self.kv_heads if self.kv_heads is not None else self.heads

    def model_config(self) -> dict:
        cfg = {"num_hidden_layers": self.layers, "hidden_size": self.hidden,
               "num_attention_heads": self.heads}
        if self.kv_heads is not None:
            cfg["num_key_value_heads"] = self.kv_heads
        return cfg

    def linear_layers(self) -> dict[str, list[int]]:
        """``{name: [out_features, in_features]}`` in ``named_modules()`` order."""
        h, hd = self.hidden, self.hidden // self.heads
        kv = self.kvh * hd
        out: dict[str, list[int]] = {}
        for i in range(self.layers):
            if self.family == "llama":
                p = f"model.layers.{i}."
                out[p + "self_attn.q_proj"] = [h, h]
                out[p + "self_attn.k_proj"] = [kv, h]
                out[p + "self_attn.v_proj"] = [kv, h]
                out[p + "self_attn.o_proj"] = [h, h]
                out[p + "mlp.gate_proj"] = [self.ffn, h]
                out[p + "mlp.up_proj"] = [self.ffn, h]
                out[p + "mlp.down_proj"] = [h, self.ffn]
            elif self.family == "opt":
                p = f"model.decoder.layers.{i}."
                out[p + "self_attn.k_proj"] = [h, h]
                out[p + "self_attn.v_proj"] = [h, h]
                out[p + "self_attn.q_proj"] = [h, h]
                out[p + "self_attn.out_proj"] = [h, h]
                out[p + "fc1"] = [self.ffn, h]
                out[p + "fc2"] = [h, self.ffn]
            elif self.family == "phi":
                p = f"model.layers.{i}."
                out[p + "self_attn.q_proj"] = [h, h]
                out[p + "self_attn.k_proj"] = [kv, h]
                out[p + "self_attn.v_proj"] = [kv, h]
                out[p + "self_attn.dense"] = [h, h]
                out[p + "mlp.fc1"] = [self.ffn, h]
                out[p + "mlp.fc2"] = [h, self.ffn]
            else:
                raise ValueError(f"model family {self.family!r}: allowed: llama, opt, phi")
        out["lm_head"] = [self.vocab, h]
        return out


#: The models of the BitMoD artefact (``test_*.py`` model_list), by their Hugging Face names.
BITMOD_MODELS: dict[str, LLMArch] = {
    "facebook/opt-1.3b": LLMArch("opt", 24, 2048, 32, None, 8192, 50272),
    "microsoft/phi-2": LLMArch("phi", 32, 2560, 32, 32, 10240, 51200),
    "01-ai/Yi-6B": LLMArch("llama", 32, 4096, 32, 4, 11008, 64000),
    "meta-llama/Llama-2-7b-hf": LLMArch("llama", 32, 4096, 32, 32, 11008, 32000),
    "meta-llama/Llama-2-13b-hf": LLMArch("llama", 40, 5120, 40, 40, 13824, 32000),
    "meta-llama/Meta-Llama-3-8B": LLMArch("llama", 32, 4096, 32, 8, 14336, 128256),
    # in the simulators' model-name tables but not in the artefact's scripts
    "facebook/opt-6.7b": LLMArch("opt", 32, 4096, 32, None, 16384, 50272),               # a902a09 only
    "meta-llama/Llama-3.1-8B-Instruct": LLMArch("llama", 32, 4096, 32, 8, 14336, 128256),  # e445a5f only
    "meta-llama/Llama-3.2-3B-Instruct": LLMArch("llama", 28, 3072, 24, 8, 8192, 128256),   # e445a5f only
}

#: The artefact's own model list (test_*.py).
ARTEFACT_MODELS = ("facebook/opt-1.3b", "microsoft/phi-2", "01-ai/Yi-6B", "meta-llama/Llama-2-7b-hf",
                   "meta-llama/Llama-2-13b-hf", "meta-llama/Meta-Llama-3-8B")
#: Models each commit's model_name_dict knows.
COMMIT_MODELS = {"a902a09": ARTEFACT_MODELS + ("facebook/opt-6.7b",),
                 "e445a5f": ARTEFACT_MODELS + ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.2-3B-Instruct")}

#: Short names accepted on the command line (``llm:llama2-7b`` style) for the same models.
ALIASES: dict[str, str] = {
    "opt-1.3b": "facebook/opt-1.3b", "phi-2": "microsoft/phi-2", "yi-6b": "01-ai/Yi-6B",
    "llama2-7b": "meta-llama/Llama-2-7b-hf", "llama2-13b": "meta-llama/Llama-2-13b-hf",
    "llama3-8b": "meta-llama/Meta-Llama-3-8B", "opt-6.7b": "facebook/opt-6.7b",
    "llama3.1-8b-instruct": "meta-llama/Llama-3.1-8B-Instruct", "llama3.2-3b-instruct": "meta-llama/Llama-3.2-3B-Instruct",
}

#: The pickle file stem the simulator opens for each model (``pe_array.py`` model_name_dict).
PICKLE_STEM: dict[str, str] = {
    "facebook/opt-1.3b": "opt_1_point_3", "microsoft/phi-2": "phi_2", "01-ai/Yi-6B": "yi_6",
    "meta-llama/Llama-2-7b-hf": "llama_2_7", "meta-llama/Llama-2-13b-hf": "llama_2_13",
    "meta-llama/Meta-Llama-3-8B": "llama_3_8", "facebook/opt-6.7b": "opt_6_point_7",
    "meta-llama/Llama-3.1-8B-Instruct": "llama_3p1_8_ins", "meta-llama/Llama-3.2-3B-Instruct": "llama_3p2_3_ins",
}


class UnknownModelError(ValueError):
    """A model name outside the BitMoD artefact's table (an input error: one line, no traceback)."""


def resolve(name: str) -> str:
    key = name.strip()
    if key in BITMOD_MODELS:
        return key
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    raise UnknownModelError(f"model {name!r}: allowed: {', '.join(list(ALIASES) + list(BITMOD_MODELS))}")
