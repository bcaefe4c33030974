"""Collection on Ray actors (the optional extra `tfdrive[ray]`).

`DistributedCollector` starts N Ray actors, each running tfdrive's PyDriver
on an env and a policy built from user factories, and hands their
trajectories back as numpy batches through Ray's object store; the learner
publishes its policy weights to them once per round. Modules:

- `collector`: `DistributedCollector`, `Round`, `WorkerError`;
- `worker`: `CollectorWorker`, the actor (a plain class);
- `weights`: policy variables as numpy, checked and assigned;
- `batch`: `TrajectoryBatch` and the episode metrics of a batch;
- `cluster`: `connect()` to a Ray cluster or a local instance;
- `factories`: picklable env and policy factories for the common cases;
- `spec_check`: comparing specs and batches leaf by leaf.

Importing this package imports neither Ray nor TensorFlow; Ray is imported
when a collector starts.
"""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__,
    __path__,
    {
        "DistributedCollector": "collector",
        "Round": "collector",
        "WorkerError": "collector",
        "TrajectoryBatch": "batch",
        "connect": "cluster",
    },
)
