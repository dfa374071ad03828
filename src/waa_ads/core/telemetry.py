"""Tracing with OpenTelemetry: HTTP requests, SQL statements and Celery tasks.

Off unless ``WAA_OTEL_EXPORTER_OTLP_ENDPOINT`` is set: the embedded default pays nothing
for it. When it is set, spans are batched and exported over OTLP/HTTP to
``<endpoint>/v1/traces`` (the endpoint is the collector's base URL, as in OpenTelemetry's
own ``OTEL_EXPORTER_OTLP_ENDPOINT``). A request's trace follows its work into Celery:
the publishing side injects the trace context into the message, the worker continues it.

Instrumentation is explicit, per app and per engine, never by patching at import; the
first :class:`Tracing` set up from the settings also becomes the global tracer provider, so
code that asks ``opentelemetry.trace.get_tracer(__name__)`` for spans of its own joins the
same traces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from waa_ads import __version__
from waa_ads.core.settings import Settings

# The SDK, the exporter and the instrumentations are imported when tracing is switched on,
# so that processes with tracing off (the default) do not pay for loading them.
if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine

#: Probes polled every few seconds by orchestrators: tracing them is noise.
EXCLUDED_URLS = "healthz,readyz"


def traces_endpoint(base: str) -> str:
    """The OTLP/HTTP traces URL for a collector base URL (kept when already complete)."""
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


class Tracing:
    """A tracer provider and the instrumentation attached to it.

    ``exporter`` adds a span exporter of the caller's (tests give an in-memory one); the
    OTLP exporter is added when the settings name an endpoint. :meth:`shutdown` removes
    the instrumentation and flushes what is still buffered.
    """

    def __init__(self, settings: Settings, *, exporter: SpanExporter | None = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        resource = Resource.create(
            {"service.name": settings.otel_service_name, "service.version": __version__}
        )
        self.provider = TracerProvider(resource=resource)
        if settings.otel_exporter_otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=traces_endpoint(settings.otel_exporter_otlp_endpoint))
                )
            )
        if exporter is not None:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self._engine_instrumented = False
        self._celery_instrumented = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Tracing | None:
        """Tracing when an OTLP endpoint is configured, else None (tracing off)."""
        if not settings.otel_exporter_otlp_endpoint:
            return None
        from opentelemetry import trace

        tracing = cls(settings)
        # OpenTelemetry allows one global provider per process; the first one set up from
        # the settings takes the place.
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(tracing.provider)
        return tracing

    def instrument_app(self, app: FastAPI) -> None:
        """Trace every request of ``app`` (call before the app serves its first request)."""
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=EXCLUDED_URLS,
            # One span per request, not one per ASGI message besides.
            exclude_spans=["receive", "send"],
        )

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """Trace every statement run on ``engine``.

        SQLAlchemy's instrumentor is one per process: a second engine (or a second
        Tracing) in the same process is left untraced.
        """
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        instrumentor = SQLAlchemyInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            return
        # The instrumentation declares support up to SQLAlchemy 2.0 and would refuse 2.1,
        # whose engine events it relies on are unchanged (the tests check the spans).
        instrumentor.instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, skip_dep_check=True
        )
        self._engine_instrumented = True

    def instrument_celery(self) -> None:
        """Trace task publishing and execution (in a worker: after the fork)."""
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
        if instrumentor.is_instrumented_by_opentelemetry:
            return
        instrumentor.instrument(tracer_provider=self.provider)
        self._celery_instrumented = True

    def shutdown(self) -> None:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        if self._engine_instrumented:
            SQLAlchemyInstrumentor().uninstrument()
            self._engine_instrumented = False
        if self._celery_instrumented:
            CeleryInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
            self._celery_instrumented = False
        self.provider.shutdown()
