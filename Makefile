# inferprobe build. Everything lands in bin/. Run as root (or with sudo) for the targets
# that attach probes: test, demo, bench, accuracy.
GO      ?= go
BIN     := bin
# The pinned BPF compiler (tracer/gen.go): its version is checked before generating.
CLANG         ?= clang-14
CLANG_VERSION := 14.0.6
export PATH := /usr/local/go/bin:$(PATH)
# go-nvml's C header is noisy about deprecated NVML calls it wraps.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: all build inferprobe testbed fakecuda generate check-generate test test-short bench demo accuracy deps clean

all: build

build: inferprobe testbed fakecuda

inferprobe:
	$(GO) build -o $(BIN)/inferprobe ./cmd/inferprobe

testbed: fakecuda
	$(GO) build -o $(BIN)/testbed ./cmd/testbed

# The simulated CUDA driver (libcuda.so.1) and its scripted workload (cudriver).
fakecuda:
	$(MAKE) -C testbed/fakecuda OUT=$(CURDIR)/$(BIN)

# Rebuild the committed bpf2go output from bpf/*.c with the pinned clang-14.
generate:
	@$(CLANG) --version 2>/dev/null | grep -q "clang version $(CLANG_VERSION)" || \
		{ echo "make generate needs $(CLANG) $(CLANG_VERSION) (Debian 12's clang-14; ./.ci/deps installs it): found $$($(CLANG) --version 2>/dev/null | head -n 1)" >&2; exit 1; }
	$(GO) generate ./tracer/...

# Fails when the committed BPF objects differ from what the C sources compile to.
check-generate: generate
	git diff --exit-code -- tracer/ bpf/ || { echo "generated BPF objects are stale: run make generate and commit" >&2; exit 1; }

# The test suite. As root the kernel tests run for real; elsewhere they skip and say why.
test: deps build
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 30m ./...
	$(MAKE) deploy-validate

# Unit tests only: no root, no kernel.
test-short:
	$(GO) test -short -count=1 ./...

bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

# The built-in demo: the testbed engine under load, inferprobe top, then a recording.
demo: deps build
	./testbed/demo.sh

# Accuracy of the reconstruction against the testbed's ground truth, per testbed mode:
# a table of absolute errors (P50/P95/P99) per figure.
accuracy: deps build
	$(GO) test -count=1 -v -run '^TestAccuracy$$' -timeout 10m ./testbed/accuracy >$(BIN)/accuracy.log 2>&1; \
	status=$$?; grep -v '^record: \|^testbed serving' $(BIN)/accuracy.log | \
		sed -n '/e2e_test.go/,/^    ---\|^=== /p;/^--- \|^ok\|^FAIL/p'; exit $$status

deps:
	./.ci/deps

clean:
	rm -rf $(BIN)

include deploy/validate.mk

# The real-GPU validation kit (testbed/gpu, docs/gpu-validation.md). A GPU machine may
# have no Go: this builds what the kit runs there (bin/inferprobe, bin/gpucheck) and says
# how to run it and what to read back.
.PHONY: gpu-check
gpu-check: build
	$(GO) build -ldflags "-s -w -X main.commit=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD 2>/dev/null || echo -dirty)" -o $(BIN)/gpucheck ./testbed/gpu/gpucheck
	bash -n testbed/gpu/check.sh
	@$(BIN)/gpucheck version
	@du -ch $(BIN)/inferprobe $(BIN)/gpucheck | tail -n 1 | sed 's/total$$/for the GPU machine/'
	@echo
	@echo 'On a GPU machine (root, a kernel with eBPF, uprobes and tracefs; NVIDIA driver; python3'
	@echo 'with torch), from a copy of this tree with bin/inferprobe and bin/gpucheck in it:'
	@echo
	@echo '  sudo bash testbed/gpu/check.sh OUT     # 4 to 5 minutes'
	@echo
	@echo 'Then read, under OUT:'
	@echo '  summary.txt            every figure'
	@echo '  check.log              the whole log'
	@echo '  artifacts.tar.gz       truth, records (no raw events), census, load summaries, logs'
	@echo '  events1-head.jsonl.gz  the first 200000 raw events of each recording'
	@echo '  events2-head.jsonl.gz'
	@echo 'and fill in docs/gpu-validation.md.'
