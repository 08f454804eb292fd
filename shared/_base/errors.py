"""The exceptions lookout raises, one hierarchy so callers can catch them all."""


class LookoutError(Exception):
    """Base of every error lookout raises on purpose."""


class DefinitionError(LookoutError):
    """A sensor, job, op or asset is defined or used in a way lookout cannot accept."""


class SensorEvaluationError(LookoutError):
    """A sensor's function raised, or gave back something a sensor may not return."""


class SensorTimeoutError(SensorEvaluationError):
    """A sensor's evaluation ran past its timeout."""


class CodeLocationError(LookoutError):
    """A code location (module or file) could not be loaded into a ``Definitions``."""


class CodecError(LookoutError):
    """A value could not be encoded to, or decoded from, lookout's wire format."""


class StorageError(LookoutError):
    """Redis could not be reached or answered something lookout does not expect."""


class ReplicasBehindError(StorageError):
    """Fewer replicas than ``LOOKOUT_REDIS_MIN_REPLICAS`` confirmed the writes so far.

    Transient: the replicas catch up (or an operator lowers the setting).
    """
