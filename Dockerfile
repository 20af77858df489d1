# ingest in a container (docs/deploy.md):
#   docker build -t ingest .
#   docker run -d --name ingest -v ingest-data:/data -v "$PWD/config.yaml:/etc/ingest/config.yaml:ro" \
#     -p 127.0.0.1:9464:9464 --stop-timeout 40 ingest
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY ingest ./ingest
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --create-home --home-dir /data --shell /usr/sbin/nologin ingest
COPY config.yaml /etc/ingest/config.yaml

USER 10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
STOPSIGNAL SIGTERM
# healthy: the daemon holds its lock, its status file is fresh, feeds are read, the writer answers
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["ingest", "health", "--config", "/etc/ingest/config.yaml", "--db", "/data/ingest.db", "--quiet"]
ENTRYPOINT ["ingest"]
CMD ["run", "--config", "/etc/ingest/config.yaml", "--db", "/data/ingest.db", "--log-format", "json", \
     "--metrics-port", "9464", "--metrics-host", "0.0.0.0"]
