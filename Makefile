# uasense — two commands do everything on a fresh Debian machine:
#   make demo   install what is missing, build (release), analyse a bundled recording
#   make test   install what is missing, build, run every test
SWIFT        ?= swift
APT_PACKAGES := librtlsdr-dev libfftw3-dev libusb-1.0-0-dev libpng-dev libssl-dev pkg-config tshark openssl \
                libmosquitto-dev mosquitto mosquitto-clients
PY_MODULES   := sigmf jsonschema takproto
SUDO         := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
DEMO         := iq-samples/demo-915.sigmf-meta
DEMO_RID     := iq-samples/ble-remote-id-2402M.sigmf-meta

.PHONY: all deps build release demo test bench samples clean

all: build

# Debian packages: ask dpkg first, touch apt only when something is missing.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3 python3-pip"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@for m in $(PY_MODULES); do \
		python3 -c "import $$m" 2>/dev/null || { echo "installing Python package $$m"; \
			python3 -m pip install -q $$m 2>/dev/null || python3 -m pip install -q --break-system-packages $$m; }; \
	done

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

demo: release
	.build/release/uasense info $(DEMO)
	.build/release/uasense analyze $(DEMO)
	.build/release/uasense analyze --summary $(DEMO_RID) | head -3
	@mkdir -p out
	.build/release/uasense spectrum $(DEMO) --png out/demo-waterfall.png

# Tests run on an optimised build (-enable-testing keeps @testable imports working): the DSP
# tests push minutes of samples through the detector, which would crawl in a debug build.
TEST_FLAGS := -c release -Xswiftc -enable-testing

test: deps
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build

bench: release
	.build/release/uasense bench

# Regenerate the bundled recordings (deterministic: a test checks they match).
samples: release
	.build/release/uasense synth demo-915 -o $(DEMO)
	.build/release/uasense synth ble-remote-id --duration 0.5 --format cu8 -o $(DEMO_RID)

clean:
	rm -rf .build
