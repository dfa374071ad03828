# WAA-ADS image: the API, the Celery worker and beat all run from it (see docker-compose.yml).
# Dependencies come from uv.lock, exactly; nothing is resolved at build time.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv>=0.5,<1"
WORKDIR /app
# Dependencies first, in a layer of their own: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY migrations ./migrations
# The project itself as a regular (non-editable) install: the migrations travel inside
# the package, so the runtime image needs neither the sources nor uv.
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin waa \
    && mkdir -p /app/var \
    && chown waa /app/var
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WAA_DATA_DIR=/app/var
WORKDIR /app
USER waa
EXPOSE 8000
CMD ["waa-ads", "serve", "--host", "0.0.0.0", "--port", "8000"]
