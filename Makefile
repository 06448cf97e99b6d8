# Parley: the two commands a newcomer needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
SWIFT ?= $(shell command -v swift || echo /opt/swift/usr/bin/swift)
# One build folder for everything; tests reuse the debug build.
BUILD_FLAGS ?=

.PHONY: run test client-deps build build-release services-up services-down services-status migrate clean

## Install what is missing, start the local services, build (release), migrate, serve on PORT.
run: services-up build-release
	.build/release/parley migrate
	PARLEY_ENV=$${PARLEY_ENV:-development} exec .build/release/parley serve

## Install what is missing, start the local services, build, run the whole test suite.
test: services-up build client-deps
	$(SWIFT) test --skip-build --disable-swift-testing $(BUILD_FLAGS)

# The stock Socket.IO client the tests drive the gateway with, in a virtualenv under .run/.
VENV := .run/venv
client-deps: $(VENV)/.installed
$(VENV)/.installed: Tests/clients/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/clients/requirements.txt
	touch $@

build:
	$(SWIFT) build --build-tests $(BUILD_FLAGS)

build-release:
	$(SWIFT) build -c release --product parley $(BUILD_FLAGS)

## Start PostgreSQL, Redis and RabbitMQ on 127.0.0.1 (data under .run/); prints the settings.
services-up:
	@scripts/services up

services-down:
	@scripts/services down

services-status:
	@scripts/services status

migrate: build
	.build/debug/parley migrate

clean:
	rm -rf .build
