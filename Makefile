# sirm — see README.md. `make run` and `make test` do all the set-up.
GO ?= go

.PHONY: run test build stop bench vet clean

build:
	$(GO) build -o bin/sirm ./cmd/sirm

run: build
	bash scripts/run.sh

test:
	bash scripts/test.sh

stop:
	bash scripts/stop.sh

bench: build
	bash -c '. scripts/pg.sh && pg_ensure && $(GO) test -run "^$$" -bench . -benchtime 3s ./audit/... ./api/...'

vet:
	$(GO) vet ./...

clean: stop
	rm -rf bin .data
