"""The broker is lookout's own Redis transport, and a rediss:// URL still means TLS."""

from __future__ import annotations

import ssl

from lookout._core.settings import Settings
from lookout.workers.app import make_celery


def test_the_broker_uses_lookouts_transport_and_tls_for_a_rediss_url() -> None:
    """Naming the transport skips kombu's scheme aliases: TLS must still follow the URL."""
    plain = make_celery(Settings(redis_url="redis://127.0.0.1:6379/0")).connection_for_read()
    assert plain.transport_cls == "lookout.workers.broker:Transport" and not plain.ssl
    secure = make_celery(Settings(redis_url="rediss://:pw@redis.example:6380/0"))
    assert secure.connection_for_read().ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    relaxed = make_celery(Settings(redis_url="rediss://:pw@h:6380/0?ssl_cert_reqs=none"))
    assert relaxed.connection_for_read().ssl == {"ssl_cert_reqs": ssl.CERT_NONE}
