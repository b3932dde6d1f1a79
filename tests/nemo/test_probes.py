"""The deprecated module :mod:`si_amortized.nemo.probes` (renamed :mod:`si_amortized.nemo.classifiers`)."""

import pytest

from si_amortized.nemo.classifiers import MLPProbe, cross_validate_probe


def test_probes_module_is_a_deprecated_alias_of_classifiers():
    import importlib
    import sys

    sys.modules.pop("si_amortized.nemo.probes", None)
    with pytest.warns(DeprecationWarning, match="si_amortized.nemo.classifiers"):
        probes = importlib.import_module("si_amortized.nemo.probes")
    assert probes.cross_validate_probe is cross_validate_probe and probes.MLPProbe is MLPProbe
