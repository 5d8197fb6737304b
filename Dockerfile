# syntax=docker/dockerfile:1
#
# The drover manager image: one static binary on distroless, run as 65532 (nonroot).
#
#   make docker-build IMG=registry.example/drover/manager:v0.1.0
#
# The build stage runs on the build machine's platform and cross-compiles for the
# target (docker buildx build --platform linux/amd64,linux/arm64 ...). The binary is
# static (CGO_ENABLED=0) and reproducible (-trimpath, no VCS stamp); the release goes
# into client-go's version variables, so the manager's User-Agent towards the API
# server reads "manager/<VERSION> (linux/amd64) kubernetes/<COMMIT>".
# internal/packaging's tests check this file: the stages, the flags, the COPYs covering
# every package ./cmd/manager imports, that a build with these flags is static, and that
# every base image is pinned by digest.
#
# Base images are pinned by the digest of their multi-platform index, the tag kept for
# whoever reads it (a digest wins over the tag: the tag is not looked at). To move to a
# newer image, look its digest up and replace both, such as
#   crane digest golang:1.26.9
#   docker buildx imagetools inspect gcr.io/distroless/static:nonroot
# The Go release must be at least go.mod's go line.

FROM --platform=$BUILDPLATFORM golang:1.26.9@sha256:f1f0bcc2c524a3ced375fcb4d1ecb7aa371aa7070e112599aaca45cc02d0101b AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY cmd/manager/ cmd/manager/
COPY controllers/ controllers/
COPY internal/ internal/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=${VERSION} -X k8s.io/client-go/pkg/version.gitCommit=${COMMIT}" \
      -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot@sha256:e2e927ec666bae08560abb3c55d0659eceabb657f56b6782ab500a9fc7f555e3
LABEL org.opencontainers.image.title="drover-manager" \
      org.opencontainers.image.description="drover: production environments as cattle, on Cluster API" \
      org.opencontainers.image.source="https://github.com/drover-dev/drover"
WORKDIR /
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
