# The two commands of the README:
#   make demo   run the demo server on loopback (embedded storage, demo accounts)
#   make test   run every test; installs the outside programs tests use
#               (gnupg, isync's mbsync, python3) when it can, else they skip
GO ?= go
DATA ?= ./demo-data

.PHONY: demo test test-deps build fuzz bench

demo:
	$(GO) run ./cmd/sealpost demo --data $(DATA)

build:
	$(GO) build -o sealpost ./cmd/sealpost

test: test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

# Installs what the tests drive, if missing and if we may (root with apt).
# Without them the tests that need them skip and say why.
test-deps:
	@missing=""; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	command -v mbsync >/dev/null || missing="$$missing isync"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    (apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1)) || \
	     echo "could not install$$missing: the tests that need them will skip"; \
	  else \
	    echo "missing$$missing and not root: the tests that need them will skip"; \
	  fi; \
	fi

# Short fuzzing of every target (seeds live in each package's testdata/).
fuzz:
	@for p in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$p/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=30s $$p || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./...
