# Image for docker-compose.yml: the sigap CLI with the pinned dependencies.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY sigap sigap
COPY schemas schemas
COPY streams streams
COPY consumers consumers
COPY metrics metrics
COPY deploy deploy
RUN pip install --no-cache-dir -c constraints.txt .
ENTRYPOINT []
CMD ["sigap", "--help"]
