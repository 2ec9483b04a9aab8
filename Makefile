# Conveniences around the README's two commands:
#   make demo   = go run ./cmd/sealpost demo --data ./demo-data
#   make test   = ./scripts/test.sh
GO ?= go
DATA ?= ./demo-data

.PHONY: demo test build fuzz bench

demo:
	$(GO) run ./cmd/sealpost demo --data $(DATA)

build:
	$(GO) build -o sealpost ./cmd/sealpost

test:
	./scripts/test.sh

# Short fuzzing of every target (seeds live in each package's testdata/).
fuzz:
	@for p in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$p/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=30s $$p || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./...
