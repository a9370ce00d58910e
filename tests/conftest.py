import os

from hypothesis import HealthCheck, settings

# Deterministic by default (CI and local runs draw the same examples); HYPOTHESIS_PROFILE=dev explores.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
