# The two commands of the README. Both install what is missing, then build.
PRESET ?= release
BUILD  := build
JOBS   ?= $(shell nproc)
# `make run STEPS=20`: a shorter demo (CI's smoke test of the README's run path).
STEPS  ?=
PLAIT  ?= ./$(BUILD)/plait

.PHONY: run demo test setup build tsan asan clean fixtures

# Trains the demo model on the fortunes corpus, then prints a sample from it.
run: build
	$(MAKE) --no-print-directory demo

# The demo alone, with the binary already built (PLAIT=path runs another build).
demo:
	rm -rf runs/demo
	$(PLAIT) train --checkpoint-dir runs/demo --log runs/demo.jsonl $(if $(STEPS),--steps $(STEPS))
	@echo "--- a sample from the trained model:"
	$(PLAIT) sample --checkpoint runs/demo --prompt "The " --tokens 400

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

setup:
	@scripts/setup.sh

build: setup
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)

# Sanitizer runs: the threads transport under TSan, the suite under ASan+UBSan.
tsan: setup
	cmake --preset tsan >/dev/null && cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -R 'comm|parallel'

asan: setup
	cmake --preset asan >/dev/null && cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

# Regenerates tests/fixtures with the system's PyTorch (not needed to run the tests).
fixtures:
	/usr/bin/python3 tools/make_fixtures.py tests/fixtures
	/usr/bin/python3 tools/make_hf_fixture.py tests/fixtures/gpt2_hf

clean:
	rm -rf build build-debug build-tsan build-asan
