"""Stream and consumer factories behind the fixtures. No pytest here.

A factory creates uniquely named resources through the client, remembers them, and deletes
them in :meth:`Resources.cleanup`. One :class:`Resources` belongs to one fixture scope (a test,
a module, the session), so each scope deletes exactly what it created.
"""

from __future__ import annotations

from typing import Any, Union

from pytest_sequin.cleanup import Breaker, CleanupFailure, Registry, delete_all
from pytest_sequin.client import ConsumerHandle, SequinClient, StreamHandle
from pytest_sequin.naming import NameFactory

StreamRef = Union[StreamHandle, str]

#: The consumer fields of the API (spec §3.5c) that the consumer factory and the ``sequin``
#: marker accept. The server silently ignores unknown fields (§5.4), so a typo such as
#: ``ack_wiat_ms`` would give a consumer with the default setting and a test that checks
#: nothing: the test helpers refuse unknown names instead (the client still sends anything).
CONSUMER_OPTIONS = frozenset(
    [
        "filter_key_pattern",
        "kind",
        "status",
        "ack_wait_ms",
        "max_ack_pending",
        "max_deliver",
        "max_waiting",
        "http_endpoint_id",
        "http_endpoint",
    ]
)


def unknown_consumer_options(options: Any) -> list[str]:
    """The names in ``options`` that are not consumer fields, sorted."""
    return sorted(set(options) - CONSUMER_OPTIONS)


class Resources:
    """What one scope created, in creation order."""

    def __init__(self, client: SequinClient, names: NameFactory, registry: Registry, hint: str = "") -> None:
        self.client = client
        self.names = names
        self.registry = registry
        self.hint = hint
        self.streams: list[StreamHandle] = []
        self.consumers: list[ConsumerHandle] = []

    def create_stream(self, name: str | None = None, **options: Any) -> StreamHandle:
        """Create a stream (a unique name unless one is given). ``options`` are sent as-is:
        the real server ignores every stream option (spec §5.4), so this only matters for
        tests that check exactly that."""
        stream = self.client.new_stream(name or self.names.stream_name(self.hint), **options)
        self.streams.append(stream)
        self.registry.add(stream)
        return stream

    def create_consumer(
        self,
        stream: StreamRef,
        filter_key_pattern: str = ">",
        name: str | None = None,
        **options: Any,
    ) -> ConsumerHandle:
        """Create a pull consumer on ``stream`` (a handle or a stream name or id)."""
        handle = stream if isinstance(stream, StreamHandle) else self.client.stream(stream)
        consumer = handle.new_consumer(
            name or self.names.consumer_name(self.hint), filter_key_pattern, **options
        )
        self.consumers.append(consumer)
        return consumer

    def cleanup(self, client: SequinClient, breaker: Breaker) -> list[CleanupFailure]:
        """Delete everything created here through ``client`` (a short-timeout one)."""
        streams, consumers = list(reversed(self.streams)), list(reversed(self.consumers))
        self.streams, self.consumers = [], []
        return delete_all(client, streams, consumers, breaker=breaker, on_deleted=self.registry.discard)


class StreamFactory:
    """``sequin_stream_factory(**options)`` -> a new stream handle, deleted at teardown."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources

    def __call__(self, name: str | None = None, **options: Any) -> StreamHandle:
        return self._resources.create_stream(name, **options)

    @property
    def created(self) -> list[StreamHandle]:
        return list(self._resources.streams)


class ConsumerFactory:
    """``sequin_consumer_factory(stream, filter_key_pattern=">", **options)`` -> a consumer handle."""

    def __init__(self, resources: Resources, defaults: dict[str, Any] | None = None) -> None:
        self._resources = resources
        self._defaults = dict(defaults or {})

    def __call__(
        self,
        stream: StreamRef,
        filter_key_pattern: str | None = None,
        name: str | None = None,
        **options: Any,
    ) -> ConsumerHandle:
        unknown = unknown_consumer_options(options)
        if unknown:
            raise TypeError(
                f"sequin_consumer_factory() got unknown consumer option(s) {', '.join(unknown)}; "
                f"the options are {', '.join(sorted(CONSUMER_OPTIONS))}"
            )
        settings = {**self._defaults, **options}
        pattern = (
            filter_key_pattern if filter_key_pattern is not None else settings.pop("filter_key_pattern", ">")
        )
        settings.pop("filter_key_pattern", None)
        return self._resources.create_consumer(stream, pattern, name, **settings)

    @property
    def created(self) -> list[ConsumerHandle]:
        return list(self._resources.consumers)
