"""No network, ever: the switches that keep the libraries citeqa loads from calling out.

onnxruntime (1.32 measured) resolves mobile.events.data.microsoft.com and opens TLS connections from any
long-lived process that holds a session, and writes a device id and an event database under the user's cache;
`ORT_DISABLE_TELEMETRY=1`, set before the library is imported, stops both (`disable_telemetry_events()` alone
did not). Hugging Face's libraries are kept offline and quiet the same way. tests/test_faults.py runs a
45-second `index --watch` in a network namespace with a logging resolver and asserts that no name is looked up.
"""

from __future__ import annotations

import os

_SWITCHES = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
}


def stay_offline() -> None:
    """Set every switch (over any value the environment gives: citeqa never downloads)."""
    os.environ.update(_SWITCHES)


def onnxruntime():
    """The onnxruntime module, imported with its telemetry off."""
    stay_offline()
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    return onnxruntime
