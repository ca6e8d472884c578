"""``tokenomy serve``: an OpenAI-compatible gateway that runs every request through
the pipeline (extra ``tokenomy[server]``).

Point any OpenAI client at it (``base_url="http://host:8000/v1"``): chat, streaming,
tools and JSON mode work unchanged, identical requests are answered from the cache,
and identical calls in flight on any replica share one upstream call. See
docs/gateway.md.
"""

from tokenomy.serve.app import TRACE_HEADER, create_app
from tokenomy.serve.config import GatewayConfig, hash_key
from tokenomy.serve.dedup import Deduplicator
from tokenomy.serve.gateway import Gateway
from tokenomy.serve.server import serve

__all__ = [
    "TRACE_HEADER",
    "Deduplicator",
    "Gateway",
    "GatewayConfig",
    "create_app",
    "hash_key",
    "serve",
]
