"""NEMO unit embeddings (Yu et al. 2025): multimodal contrastive learning of ACG images and waveforms.

``import si_amortized`` registers the ``nemo_embeddings`` SortingAnalyzer extension::

    analyzer.compute(["random_spikes", "templates"])
    analyzer.compute("nemo_embeddings")              # default pretrained model, (num_units, 1012)
    model, history = fit_nemo([analyzer_a, analyzer_b])  # train your own
    analyzer.compute("nemo_embeddings", model=model)

Naming rule of every wing: ``fit_*`` / ``.fit`` = user-level entry point; ``train_*`` = inner loop on arrays/tensors.
"""

from .acg import compute_acg_images, linear_acg_density, log_lag_edges_ms, resample_log_axis
from .augment import augment_acg, augment_waveform
from .config import ACGConfig, AugmentConfig, ModelConfig, NemoConfig, TrainConfig, WaveformConfig
from .extension import ComputeNemoEmbeddings, compute_nemo_embeddings
from .fit import (
    DEFAULT_EMBEDDING,
    EMBEDDING_PARTS,
    embed,
    embedding_feature_names,
    embedding_features,
    embedding_parts,
    fit_nemo,
)
from .inputs import (
    acg_images_from_acgs_3d,
    acg_images_from_sorting,
    inputs_from_analyzers,
    prepare_inputs,
    waveforms_from_analyzer,
)
from .io import load_nemo_model, load_pretrained_model, pretrained_model_path, save_nemo_model
from .loss import clip_loss, retrieval_accuracy
from .model import NemoModel
from .train import train_nemo
from .waveforms import normalise_templates, normalize_templates

__all__ = [
    "ACGConfig",
    "AugmentConfig",
    "ComputeNemoEmbeddings",
    "DEFAULT_EMBEDDING",
    "EMBEDDING_PARTS",
    "ModelConfig",
    "NemoConfig",
    "NemoModel",
    "TrainConfig",
    "WaveformConfig",
    "acg_images_from_acgs_3d",
    "acg_images_from_sorting",
    "augment_acg",
    "augment_waveform",
    "clip_loss",
    "compute_acg_images",
    "compute_nemo_embeddings",
    "embed",
    "embedding_feature_names",
    "embedding_features",
    "embedding_parts",
    "fit_nemo",
    "linear_acg_density",
    "load_nemo_model",
    "load_pretrained_model",
    "log_lag_edges_ms",
    "normalise_templates",
    "normalize_templates",
    "prepare_inputs",
    "pretrained_model_path",
    "resample_log_axis",
    "retrieval_accuracy",
    "save_nemo_model",
    "inputs_from_analyzers",
    "train_nemo",
    "waveforms_from_analyzer",
]
