# The two commands a user needs (README.md): `make run` and `make test`.
# Each runs tools/setup.sh first, which installs what is missing and is quick when nothing is.
APE := .venv/bin/ape

.PHONY: setup run test compile clean

setup:
	@bash tools/setup.sh

run: setup
	$(APE) run demo

test: setup
	$(APE) test tests -q -p no:cacheprovider

compile: setup
	$(APE) compile

clean:
	rm -rf .build .tools out
