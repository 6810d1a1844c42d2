"""What SnapStart must not share between the execution environments it resumes from one snapshot.

Lambda runs the before-snapshot hooks once, after the handler module's init, and the after-restore
hooks in every environment it resumes from that snapshot; without SnapStart neither runs. Ids need
no hook: uuid4, X-Ray's segment ids and `secrets` read os.urandom, which the restored kernel
reseeds.
"""

from __future__ import annotations

import random
from typing import Any

try:
    # Part of Lambda's Python runtimes (3.12 and later); the layer does not ship it, so it cannot
    # shadow the runtime's own registry, which the runtime reads when it snapshots and restores.
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:  # a runtime without it cannot snapshot, so there is nothing to hook
    def register_before_snapshot(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func

    register_after_restore = register_before_snapshot


def share_nothing_across_restores(*clients: Any) -> None:
    """Registers the hooks for a handler module's boto3 clients."""
    register_before_snapshot(close_connections, *clients)
    # The module-level generator feeds botocore's retry jitter, the user store's backoff on contended
    # writes and Powertools' log sampling: environments resumed from one snapshot would otherwise draw
    # the same sequence, and retry in lockstep. random.seed() without an argument reads os.urandom.
    register_after_restore(random.seed)


def close_connections(*clients: Any) -> None:
    # A connection in the snapshot would be resumed in many environments at once, each holding a
    # socket its peer has forgotten; the clients open fresh ones on their first call after restore.
    for client in clients:
        client.close()
