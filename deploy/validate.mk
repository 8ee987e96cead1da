# Deployment kit checks (deploy/validate, a Go module of its own so that Helm and the
# Kubernetes libraries stay out of the agent's go.mod). Include from the Makefile:
#   include deploy/validate.mk
# and add deploy-validate to the test target. promtool comes with Debian's prometheus
# package (.ci/deps installs it); without it the promtool tests skip and say so.
.PHONY: deploy-validate deploy-generate

# Renders the chart (default, privileged, monitors, TLS, older Kubernetes), decodes every
# object strictly into the Kubernetes and Prometheus Operator types, runs promtool check
# and test on the rules and the dashboard's queries, and fails on a stale generated file.
deploy-validate:
	cd deploy/validate && $(GO) vet ./... && $(GO) test -count=1 ./...

# Rewrites deploy/kubernetes/*.yaml, deploy/prometheus/inferprobe-rules.yml and the
# chart's copy of the dashboard from the chart.
deploy-generate:
	cd deploy/validate && $(GO) generate ./...
