SHELL := /bin/bash
# pkarena — run `make help` for the targets.
GO        ?= go
BIN       := bin
RESULTS   ?= results
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X github.com/pkarena/pkarena/reference/server.Version=$(VERSION)
LISTEN    ?= 127.0.0.1:7070

.DEFAULT_GOAL := help
.PHONY: help build test fmt-check vet cross lint unit load-accuracy load-distributed bench-fanout demo conformance load serve clean image load-image conformance-image mutants soak-conformance bench-load bench-journal fuzz mutation-audit mutation-sweep

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -E 's/^## ([a-z-]+): /\1\t/' \
		| sed -e 's|$$(SCENARIO)|$(SCENARIO)|g' -e 's|$$(IMAGE)|$(IMAGE)|g' -e 's|$$(LOAD_IMAGE)|$(LOAD_IMAGE)|g' \
		      -e 's|$$(SOAK)|$(SOAK)|g' -e 's|$$(LISTEN)|$(LISTEN)|g' \
		| awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

## build: build bin/pkarena-server, bin/pkarena-conformance and bin/pkarena-load
build:
	@mkdir -p $(BIN)
	@echo "building bin/pkarena-server, bin/pkarena-conformance, bin/pkarena-load (the first build downloads the Go modules: a few minutes)"
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkarena-server ./reference/cmd/pkarena-server
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS) -X main.Version=$(VERSION) -X main.Commit=$(COMMIT)' -o $(BIN)/pkarena-conformance ./conformance/cmd/pkarena-conformance
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pkarena-load ./load/cmd/pkarena-load

## test: everything CI checks: gofmt, go vet and staticcheck, go test -race ./..., load accuracy, the suite against the image, the mutants
test: fmt-check lint unit load-accuracy conformance-image load-distributed mutants

## fmt-check: gofmt -l over every Go file; fails listing the files gofmt would change
fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## vet: go vet ./..., and of measurements/tracehops and measurements/uringread/goreader (modules of their own, so that they keep building)
vet:
	$(GO) vet ./...
	cd measurements/tracehops && $(GO) vet ./...
	cd measurements/uringread/goreader && $(GO) vet ./...

## cross: go vet ./... for Linux on arm64 and 386 (32-bit ints), macOS (arm64), Windows and FreeBSD (amd64): everything builds elsewhere too; not in test (some 5 minutes on a cold build cache)
cross:
	GOOS=linux GOARCH=arm64 $(GO) vet ./...
	GOOS=linux GOARCH=386 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=freebsd GOARCH=amd64 $(GO) vet ./...

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: go vet, then staticcheck (through the module proxy; staticcheck.conf allows Ginkgo's dot imports); part of test, about a minute
lint: vet
	$(GO) run $(STATICCHECK) ./...

# The conformance suite's package runs on its own, after the others: hundreds of its clients
# and the embedded server share one process under the race detector, and beside other
# packages' tests on a busy 2-core machine its own heartbeats would wait seconds for a CPU.
CONFORMANCE_PKG := ./conformance/cmd/pkarena-conformance

## unit: go test -race over every package, the conformance suite's package last and on its own
unit:
	@mkdir -p $(RESULTS)
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/conformance/cmd/pkarena-conformance$$')
	$(GO) test -race -count=1 -timeout 20m $(CONFORMANCE_PKG)

## load-accuracy: the load generator against a stub answering after a fixed delay, and stalling, checked against what the stub really did (no -race: it measures time)
load-accuracy:
	@mkdir -p $(RESULTS); $(GO) test -tags accuracy -run Accuracy -count=1 -v ./load/engine/ > $(RESULTS)/load-accuracy.log 2>&1; \
	status=$$?; grep -E '^\s+accuracy_test.go:[0-9]+: (delay|stall) |^(---|ok|FAIL)' $(RESULTS)/load-accuracy.log; \
	if [ $$status -ne 0 ]; then echo "load-accuracy failed; the whole log ($(RESULTS)/load-accuracy.log):"; grep -v '^=== ' $(RESULTS)/load-accuracy.log; fi; exit $$status

## demo: build; conformance suite on the embedded server (reports in results/); a PK battle with gifts; a short load run
demo: build
	@mkdir -p $(RESULTS)
	@$(BIN)/pkarena-conformance -results $(RESULTS) -ginkgo.no-color > $(RESULTS)/conformance.out 2>&1; \
	status=$$?; grep -E '^(Ran |SUCCESS|FAIL)' $(RESULTS)/conformance.out; \
	sed -n '/^results:/,$$p' $(RESULTS)/conformance.out; \
	[ $$status -eq 0 ] || exit $$status; \
	echo; $(BIN)/pkarena-load demo | tee $(RESULTS)/battle-demo.log; \
	status=$${PIPESTATUS[0]}; echo "battle log: $(RESULTS)/battle-demo.log"; \
	[ $$status -eq 0 ] || exit $$status; \
	echo; echo "a short load run: 300 hosts in PK battles with gifts, 15 s"; \
	$(BIN)/pkarena-load run -scenario pk -set hosts=300 -set duration=15s -set ramp_up=3s -set battle_duration=5s -out $(RESULTS)/load -quiet; \
	status=$$?; echo; echo "open $(RESULTS)/report.html for the conformance report and $(RESULTS)/load/report.html for the load run"; exit $$status

SCENARIO  ?= pk

## load: a load run of $(SCENARIO) (PKARENA_TARGET_URL=ws://... loads a running server; SET="hosts=2000 duration=30s" overrides)
load: build
	$(BIN)/pkarena-load run -scenario $(SCENARIO) $(foreach kv,$(SET),-set $(kv)) -out $(RESULTS)/load-$(SCENARIO)

## bench-load: the 50,000-connection benchmark (3 servers, 3 agents on this machine); figures put at the top of measurements/load-bench.md
bench-load: build
	$(BIN)/pkarena-load bench -out $(RESULTS)/bench -write measurements/load-bench.md

BENCH_REPEAT ?= 3
# A p99 of a fan-out rests on its slowest 1% of fan-outs: at 10,000 deliveries a second to 450
# connections, 3 fan-outs of 15 s and 13 of 60 s. Single pairs' p99 ratios ranged 0.73-3.18
# with 15 s; with 60 s, 1.04-1.46 at 10,000 and 25,000 a second and 1.32-2.20 at 50,000,
# where pkarena's margin is thin (measurements/fanout.md).
BENCH_DURATION ?= 60s

## bench-fanout: pkarena's fan-out (server + generator) beside a bare gorilla/websocket broadcaster, as ratios (medians of BENCH_REPEAT=3 pairs a rate, BENCH_DURATION=60s each; about 25 minutes); figures put at the top of measurements/fanout.md
bench-fanout: build
	@mkdir -p measurements
	$(BIN)/pkarena-load bench-fanout -repeat $(BENCH_REPEAT) -duration $(BENCH_DURATION) -out $(RESULTS)/bench-fanout -write measurements/fanout.md

## bench-journal: the battle journal's cost: the same pk load against a memory-only and a -state-dir server, side by side; figures put at the top of results/bench-journal/figures.md (measurements/journal.md records one run)
bench-journal: build
	$(BIN)/pkarena-load bench-journal -server-bin $(BIN)/pkarena-server -out $(RESULTS)/bench-journal -write $(RESULTS)/bench-journal/figures.md

## conformance: run the suite verbosely (PKARENA_TARGET_URL=ws://... tests a running server; LABELS=cohost filters)
conformance: build
	$(BIN)/pkarena-conformance -ginkgo.v $(if $(LABELS),-ginkgo.label-filter='$(LABELS)')

IMAGE     ?= pkarena-server:dev

## image: build the reference server image $(IMAGE) (FROM scratch, from the static binary)
image: build
	@rm -rf $(BIN)/image && mkdir -p $(BIN)/image/state && cp $(BIN)/pkarena-server $(BIN)/image/
	docker build -q -f reference/Dockerfile -t $(IMAGE) $(BIN)/image

LOAD_IMAGE ?= pkarena-load:dev

## load-image: build the load agent image $(LOAD_IMAGE) (FROM scratch, with CA certificates for wss://)
load-image: build
	@rm -rf $(BIN)/load-image && mkdir -p $(BIN)/load-image && cp $(BIN)/pkarena-load /etc/ssl/certs/ca-certificates.crt $(BIN)/load-image/
	docker build -q -f load/Dockerfile -t $(LOAD_IMAGE) $(BIN)/load-image

## conformance-image: the suite against the reference server image (no Docker: skipped, unless PKARENA_REQUIRE_DOCKER=1)
conformance-image:
	@if ! docker info >/dev/null 2>&1; then \
		if [ "$$PKARENA_REQUIRE_DOCKER" = 1 ]; then echo "conformance-image: no Docker engine reachable and PKARENA_REQUIRE_DOCKER=1"; exit 1; fi; \
		echo "conformance-image: SKIPPED: no Docker engine reachable (set PKARENA_REQUIRE_DOCKER=1 to make this an error)"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory image && \
	TESTCONTAINERS_RYUK_DISABLED=true $(BIN)/pkarena-conformance -target-image $(IMAGE) -results $(RESULTS)/image -ginkgo.no-color >$(RESULTS)/image.out 2>&1; \
	status=$$?; tail -4 $(RESULTS)/image.out; exit $$status

## load-distributed: a distributed load run on real containers: the server image, 3 agent containers (-shard i/3), then merge (no Docker: skipped, unless PKARENA_REQUIRE_DOCKER=1)
load-distributed:
	@if ! docker info >/dev/null 2>&1; then \
		if [ "$$PKARENA_REQUIRE_DOCKER" = 1 ]; then echo "load-distributed: no Docker engine reachable and PKARENA_REQUIRE_DOCKER=1"; exit 1; fi; \
		echo "load-distributed: SKIPPED: no Docker engine reachable (set PKARENA_REQUIRE_DOCKER=1 to make this an error)"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory image load-image && \
	TESTCONTAINERS_RYUK_DISABLED=true PKARENA_SERVER_IMAGE=$(IMAGE) PKARENA_LOAD_IMAGE=$(LOAD_IMAGE) \
		$(GO) test -count=1 -run TestDistributedRunOnContainers -v ./load/cmd/pkarena-load/ > $(RESULTS)/load-distributed.log 2>&1; \
	status=$$?; grep -E 'containers_test.go|^(---|ok|FAIL)' $(RESULTS)/load-distributed.log; exit $$status

## mutants: the suite, and load runs, against deliberately broken servers (reference/mutant); fails unless every one is caught
mutants:
	@mkdir -p $(BIN) $(RESULTS)
	CGO_ENABLED=0 $(GO) build -tags pkarena_mutants -o $(BIN)/pkarena-conformance-mutants ./conformance/cmd/pkarena-conformance
	$(GO) run ./conformance/cmd/pkarena-mutants -binary $(BIN)/pkarena-conformance-mutants -workers 4 -results $(RESULTS)
	@$(GO) test -tags pkarena_mutants -run TestLoadCatchesMutants -count=1 -v ./load/cmd/pkarena-load/ > $(RESULTS)/load-mutants.log 2>&1; \
	status=$$?; grep -E 'caught:|^(---|ok|FAIL)' $(RESULTS)/load-mutants.log; exit $$status

GREMLINS  ?= $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
AUDIT     := $(RESULTS)/mutation-audit
AUDIT_MAX ?= 40m
AUDIT_STATUSES ?= LIVED
AUDIT_PKGS ?= reference/core reference/server
AUDIT_WORKERS ?= 3

# Gremlins times each mutant's tests out at a coefficient times its coverage run, which must
# not come from go test's cache (GOFLAGS=-count=1): 30 × about 1 s for core, 6 × about 16 s
# for server (30 would spend a quarter of an hour on each mutant that hangs a test).
## mutation-audit: generated mutants (Gremlins) of AUDIT_PKGS (reference/core and reference/server) judged by their unit tests, then each survivor by the suite; figures to measurements/mutation-audit.md and .json (slow, not in test: stage 1 takes 10 min for core, 1.5-2.5 h for server; AUDIT_MAX=40m bounds stage 2, AUDIT_WORKERS=3 suite runs at once, AUDIT_STATUSES="LIVED,NOT COVERED" sends the lines no unit test runs too, AUDIT_PREVIOUS=measurements/mutation-audit.json reuses a run's verdicts, AUDIT_REUSE_STAGE1=1 a stage 1 report already in results/ of the same tree)
mutation-audit:
	@mkdir -p $(AUDIT) measurements; start=$$(date +%s); stage1=""; \
	for pkg in $(AUDIT_PKGS); do name=$$(basename $$pkg); json=$(AUDIT)/stage1-$$name.json; log=$(AUDIT)/stage1-$$name.log; \
		stage1="$$stage1 -stage1 $$pkg=$$json"; \
		if [ -n "$(AUDIT_REUSE_STAGE1)" ] && [ -s $$json ]; then echo "stage 1 of $$pkg: reusing $$json"; continue; fi; \
		echo "stage 1: Gremlins over $$pkg, judged by its unit tests (log: $$log)"; \
		case $$name in core) k=30;; *) k=6;; esac; \
		GOFLAGS=-count=1 $(GREMLINS) unleash --workers 1 --timeout-coefficient $$k -o $$json ./$$pkg > $$log 2>&1 || { tail -20 $$log; exit 1; }; \
		tr '\r' '\n' < $$log | grep -aE '^(Killed|Timed out|Test efficacy|Mutator coverage)'; \
	done; \
	$(GO) run ./tools/mutaudit $$stage1 -stage1-seconds $$(( $$(date +%s) - start )) \
		-workers $(AUDIT_WORKERS) -max-duration $(AUDIT_MAX) -statuses "$(AUDIT_STATUSES)" -json $(AUDIT)/mutants.json $(if $(AUDIT_PREVIOUS),-previous $(AUDIT_PREVIOUS)) -write measurements/mutation-audit.md && \
	cp $(AUDIT)/mutants.json measurements/mutation-audit.json

SWEEP_PKGS ?= internal/seqwin internal/rxtime internal/wsread internal/fdlimit load/internal/pace load/metrics load/bare load/demo conformance/client conformance/results reference/usersig reference/protocol

## mutation-sweep: Gremlins over SWEEP_PKGS (the harness's own packages that mutation-audit does not cover), each mutant judged by its package's tests; prints what lived per package (slow, not in test: about 30 minutes)
mutation-sweep:
	@mkdir -p $(RESULTS); for pkg in $(SWEEP_PKGS); do echo "== $$pkg"; \
		GOFLAGS=-count=1 $(GREMLINS) unleash --workers 2 --timeout-coefficient 10 ./$$pkg > $(RESULTS)/sweep.log 2>&1 || { tail -20 $(RESULTS)/sweep.log; exit 1; }; \
		tr '\r' '\n' < $(RESULTS)/sweep.log | grep -aE '^ *LIVED |^(Killed|Test efficacy)' | sort -u; \
	done

FUZZTIME  ?= 30s

## fuzz: every Go fuzz target for FUZZTIME (30s) each; a finding fails and is saved under the package's testdata/fuzz
fuzz:
	@mkdir -p $(RESULTS); : > $(RESULTS)/fuzz.log; failed=0; \
	for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg > $(RESULTS)/fuzz-one.log 2>&1; then r=ok; else r=FAIL; failed=$$((failed+1)); fi; \
			cat $(RESULTS)/fuzz-one.log >> $(RESULTS)/fuzz.log; \
			execs=$$(grep -o 'execs: [0-9]*' $(RESULTS)/fuzz-one.log | tail -1 | cut -d' ' -f2); \
			printf '%-4s %-46s %-24s %s execs\n' $$r $${pkg#github.com/pkarena/pkarena/} $$t "$${execs:-?}"; \
			[ $$r = ok ] || grep -E -- '--- FAIL|Failing input|testdata/fuzz' $(RESULTS)/fuzz-one.log | head -5; \
		done; \
	done; rm -f $(RESULTS)/fuzz-one.log; echo "fuzz: $$failed target(s) failed; log in $(RESULTS)/fuzz.log"; [ $$failed -eq 0 ]

SOAK      ?= 20

## soak-conformance: the core suite $(SOAK) times in a row against the embedded server; any failure fails
soak-conformance: build
	@mkdir -p $(RESULTS); pass=0; for i in $$(seq 1 $(SOAK)); do \
		start=$$(date +%s%N); \
		if $(BIN)/pkarena-conformance -tiers core -ginkgo.no-color >$(RESULTS)/soak.log 2>&1; then pass=$$((pass+1)); r=pass; \
		else r=FAIL; cp $(RESULTS)/soak.log $(RESULTS)/soak-failure-$$i.log; fi; \
		ms=$$(( ($$(date +%s%N) - start) / 1000000 )); \
		echo "run $$i: $$r in $$((ms / 1000)).$$((ms % 1000 / 100)) s ($$(tail -1 $(RESULTS)/soak.log))"; \
	done; echo "soak: $$pass of $(SOAK) runs passed"; [ $$pass -eq $(SOAK) ]

## serve: run the reference server on $(LISTEN) (PKARENA_* variables apply)
serve: build
	$(BIN)/pkarena-server -listen $(LISTEN)

## clean: remove bin/ and results/
clean:
	rm -rf $(BIN) $(RESULTS)
