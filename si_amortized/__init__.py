"""si_amortized: amortized deep-learning methods for extracellular electrophysiology in SpikeInterface.

Importing the package registers its SortingAnalyzer extensions (``vae_locations``, ``nemo_embeddings``,
``well_embeddings``) and the ``"vae"`` peak-localization method with SpikeInterface. SpikeInterface
has no plugin discovery: a saved analyzer holding these extensions must be loaded *after*
``import si_amortized``, otherwise SpikeInterface warns and skips them.
"""

__version__ = "0.1.0"

from . import datasets  # noqa: E402,F401
from . import localization, nemo, rollae  # noqa: E402,F401  (importing registers the extensions)
from . import sorters  # noqa: E402,F401  (registers "location_sorter" with spikeinterface.sorters)
from .model_store import load_model, save_model  # noqa: E402,F401  (one file format for every trained model)
