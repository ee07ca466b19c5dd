SHELL := /bin/bash
# pkarena — run `make help` for the targets.
GO        ?= go
BIN       := bin
RESULTS   ?= results
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/pkarena/pkarena/reference/server.Version=$(VERSION)
LISTEN    ?= 127.0.0.1:7070

.DEFAULT_GOAL := help
.PHONY: help build test fmt-check vet unit demo conformance serve clean

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -E 's/^## ([a-z-]+): /\1\t/' | awk -F'\t' '{printf "  %-13s %s\n", $$1, $$2}'

## build: build bin/pkarena-server, bin/pkarena-conformance and bin/pkarena-load
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkarena-server ./reference/cmd/pkarena-server
	CGO_ENABLED=0 $(GO) test -c -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkarena-conformance ./conformance/cmd/pkarena-conformance
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkarena-load ./load/cmd/pkarena-load

## test: everything CI checks — gofmt, go vet, go test -race ./... (the conformance suite included)
test: fmt-check vet unit

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

## demo: build; conformance suite on the embedded server (reports in results/); a PK battle with gifts
demo: build
	@mkdir -p $(RESULTS)
	@$(BIN)/pkarena-conformance -ginkgo.junit-report=$(CURDIR)/$(RESULTS)/junit.xml \
		-ginkgo.json-report=$(CURDIR)/$(RESULTS)/ginkgo.json -ginkgo.no-color \
		| tee $(RESULTS)/conformance.log | grep -E '^(Ran |PASS|FAIL|SUCCESS|.*Passed.*Failed)' ; \
	status=$${PIPESTATUS[0]}; \
	echo "reports: $(RESULTS)/junit.xml $(RESULTS)/ginkgo.json $(RESULTS)/conformance.log"; \
	[ $$status -eq 0 ] || exit $$status; \
	echo; $(BIN)/pkarena-load demo | tee $(RESULTS)/battle-demo.log; \
	status=$${PIPESTATUS[0]}; echo "battle log: $(RESULTS)/battle-demo.log"; exit $$status

## conformance: run the suite verbosely (PKARENA_TARGET_URL=ws://... tests a running server; LABELS=cohost filters)
conformance: build
	$(BIN)/pkarena-conformance -ginkgo.v $(if $(LABELS),-ginkgo.label-filter='$(LABELS)')

## serve: run the reference server on $(LISTEN) (PKARENA_* variables apply)
serve: build
	$(BIN)/pkarena-server -listen $(LISTEN)

## clean: remove bin/ and results/
clean:
	rm -rf $(BIN) $(RESULTS)
