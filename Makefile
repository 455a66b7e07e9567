# Thin wrapper over CMake. `make demo` and `make test` are the README's two
# commands: each installs missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all deps build asan demo test unit e2e bench clean format

all: build

deps:
	bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

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
	@# The image test needs root, podman and about 1.5 minutes: only on request.
	if [ "$${CONTAINER_TESTS:-0}" = 1 ]; then \
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
	rm -rf $(BUILD) $(ASAN_BUILD)
