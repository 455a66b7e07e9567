# Thin wrapper over CMake. `make demo` and `make test` are the README's two
# commands: each installs missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_CC    ?= clang-14
# Seconds each libFuzzer harness runs under `make fuzz` (`make test`: 5).
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)

.PHONY: all deps build asan fuzz-build fuzz fuzz-smoke demo test unit e2e bench clean format

all: build

deps:
	bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer harnesses of tests/fuzz (clang, ASan+UBSan); see tests/fuzz/README.md.
fuzz-build:
	bash scripts/deps.sh fuzz
	CC=$(FUZZ_CC) cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

# Each harness for FUZZ_SECONDS from a scratch copy of its seed corpus; fails
# on any crash, leak, sanitizer report or timeout (inputs saved under
# $(FUZZ_BUILD)/bin/fuzz-artifacts/<harness>/).
fuzz: fuzz-build
	@failed=""; for src in tests/fuzz/fuzz_*.c; do \
	  h=$$(basename $$src .c); h=$${h#fuzz_}; echo "fuzz_$$h: $(FUZZ_SECONDS) s"; \
	  bash scripts/fuzz.sh $(FUZZ_BUILD)/bin/fuzz_$$h tests/fuzz/corpus/$$h $(FUZZ_SECONDS) \
	    || failed="$$failed $$h"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzzing failed:$$failed" >&2; exit 1; fi

# A few seconds each, so `make test` catches a parser regression.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=5

demo: build
	bash scripts/demo.sh

# Every test twice: a normal build, then under ASan+UBSan.
test: build asan
	cd $(BUILD) && ctest --output-on-failure
	rm -rf $(ASAN_BUILD)/sanitizer-reports
	cd $(ASAN_BUILD) && SANITIZER_REPORT_DIR=$(CURDIR)/$(ASAN_BUILD)/sanitizer-reports \
	  ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/$(ASAN_BUILD)/sanitizer-reports/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(ASAN_BUILD)/sanitizer-reports/ubsan \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure
	$(MAKE) fuzz-smoke
	@# The image test needs root, podman and about 1.5 minutes: only on request.
	@if [ "$${CONTAINER_TESTS:-0}" = 1 ]; then \
	  bash scripts/deps.sh container && BUILD_DIR=$(CURDIR)/$(BUILD) bash scripts/container-test.sh; \
	else echo "make test: the container image test did not run (CONTAINER_TESTS=1 runs it:" \
	  "root, podman, about 90 s); the image's layout, packages and CT checks were tested above."; fi

unit: build
	cd $(BUILD) && ctest --output-on-failure -R '^unit\.'

e2e: build
	cd $(BUILD) && ctest --output-on-failure -R '^e2e'

bench: build
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
