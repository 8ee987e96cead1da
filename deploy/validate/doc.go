// Package validate checks inferprobe's deployment kit with the real tools instead of by
// eye: it renders the Helm chart with Helm's own library (chart loader, values schema,
// template engine) for the default values and the variants operators use, decodes every
// rendered object and every plain manifest strictly into the Kubernetes and Prometheus
// Operator API types (an unknown or misspelt field is an error), asserts the agent's
// security context, runs promtool over the alert rules and their unit tests, and checks
// that the Grafana dashboard's queries parse and return data on synthetic series.
//
// It also writes the generated files (go generate): the plain manifests in
// deploy/kubernetes, the plain rules file deploy/prometheus/inferprobe-rules.yml, and the
// chart's copy of the dashboard, all from the chart, so that each has one source; the
// tests fail when a generated file is stale.
//
// This is a module of its own so that Helm and the Kubernetes libraries stay out of the
// agent's go.mod. Run: cd deploy/validate && go test ./...
package validate

//go:generate go run ./cmd/generate
