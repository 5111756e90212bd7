"""Making many objects at once without the cyclic garbage collector walking them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def bulk() -> Iterator[None]:
    """Decoding a cache or a posting list makes up to a million objects, none in a reference
    cycle: the cyclic garbage collector would walk them over and over for nothing.  Afterwards
    they go straight to the oldest generation (freeze then unfreeze moves them without a walk);
    re-enabled as they are, the first allocation would walk them all as the young generation."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
