# Serving image: onnxruntime + tokenizers only (no torch), the default model version baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KESU_MODELS_DIR=/app/models \
    KESU_FEEDBACK_DB=/data/feedback.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY training ./training
COPY eval ./eval
RUN pip install --no-cache-dir .

# Only the default version travels into the image.
COPY models/DEFAULT ./models/DEFAULT
ARG MODEL_VERSION=
COPY models/ /tmp/models/
RUN version="${MODEL_VERSION:-$(cat models/DEFAULT)}" \
    && mkdir -p "models/${version}" \
    && cp -r "/tmp/models/${version}/." "models/${version}/" \
    && rm -f "models/${version}/model.onnx" \
    && rm -rf /tmp/models

RUN useradd --create-home --uid 10001 kesu && mkdir -p /data && chown kesu /data
USER kesu
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"

CMD ["kesu", "serve", "--host", "0.0.0.0", "--port", "8000"]
