# Builds one of the apps (APP=server|persister|web|webhooks) into a small runtime image.
#   docker build --build-arg APP=server -t rookery-server .
FROM golang:1.26-bookworm AS build
ARG APP=server
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/app ./apps/${APP}

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
USER nonroot:nonroot
ENTRYPOINT ["/app"]
