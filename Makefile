# The two commands of the README. Both set up what they need on a fresh machine.
.PHONY: demo test bench
demo:
	@scripts/demo
test:
	@scripts/test
bench:
	@scripts/bench
