# wrk for `make bench`, run in a container of its own on the bench network (bench/wrk.py).
# BASE is the sandbox VM image, whose apt sources are set up already.
ARG BASE=wayshub/sandbox-vm:bookworm
FROM ${BASE}
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
