# Tollgate's two everyday commands are `make run` and `make test`.
GO ?= go

.PHONY: run build test e2e bench fmt vet

## run: start Tollgate on http://localhost:8080 with the embedded SQLite default
run:
	$(GO) run ./cmd/tollgate serve

## build: build the binary into bin/tollgate
build:
	$(GO) build -trimpath -o bin/tollgate ./cmd/tollgate

## test: formatting, vet, and every test (needs PostgreSQL and Redis, see README)
test: fmt vet
	$(GO) test -count=1 ./...

## e2e: the integration guides in headless Chromium (installs Chromium if missing; see docs/integrations)
e2e:
	e2e/setup.sh
	$(GO) vet -tags e2e ./e2e/
	$(GO) test -tags e2e -count=1 -timeout 20m -run TestBrowser -v ./e2e/

## bench: load benchmark on PostgreSQL + Redis; prints a table and writes docs/benchmarks.md
bench:
	$(GO) run ./cmd/tollgate-bench -out docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem ./server/oauth/ ./storage/oauthstore/ ./storage/redisstore/ ./passwords/
	$(GO) test -run '^$$' -bench AppendAuditEvents -benchmem ./storage/sqlstore/

fmt:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi

vet:
	$(GO) vet ./...
