# The one image every lookout service runs: `docker compose` starts it as the
# scheduler, a worker, the launcher, the monitor or Flower by its command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Metadata first, so that a code change does not reinstall the dependencies.
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY scheduler ./scheduler
COPY workers ./workers
# pip's index settings, passed from the builder's environment where it has
# its own (`--build-arg PIP_INDEX_URL=...`); unset, pip uses its default index.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
# The flower extra lets the same image serve the optional `flower` service.
RUN pip install '.[flower]'

# The code location: the examples by default; compose mounts the user's own
# directory over it (see the README's "Deploy" section).
COPY examples /location
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin lookout \
    && mkdir -p /data \
    && chown lookout /data
ENV PYTHONPATH=/location \
    LOOKOUT_MODULE=file_sensor \
    LOOKOUT_EXAMPLE_DIR=/data
WORKDIR /location
USER lookout

ENTRYPOINT ["lookout"]
CMD ["--help"]
