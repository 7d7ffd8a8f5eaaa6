# Image for docker-compose.yml: the sigap CLI with the pinned dependencies.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY sigap sigap
COPY schemas schemas
COPY core core
COPY streams streams
COPY consumers consumers
COPY metrics metrics
COPY storage storage
COPY monitoring monitoring
COPY deploy deploy
RUN pip install --no-cache-dir -c constraints.txt .
ENTRYPOINT []
CMD ["sigap", "--help"]
