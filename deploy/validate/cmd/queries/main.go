// Command queries prints every PromQL expression of the kit as JSON, one object a line:
// the dashboard's panel targets and variables (variables as their "All" value, interval
// macros as --range) and the rules' expressions. An end-to-end test evaluates each one
// against a live Prometheus and fails on an empty result.
//
//	cd deploy/validate && go run ./cmd/queries [--range 1m]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/inferprobe/inferprobe/deploy/validate"
)

func main() {
	rng := flag.String("range", "5m", "range that replaces $__rate_interval, $__interval and $__range")
	flag.Parse()
	if err := run(*rng); err != nil {
		fmt.Fprintln(os.Stderr, "queries:", err)
		os.Exit(1)
	}
}

func run(rng string) error {
	root, err := validate.Root()
	if err != nil {
		return err
	}
	d, err := validate.LoadDashboard(filepath.Join(root, validate.DashboardFile))
	if err != nil {
		return err
	}
	qs, err := validate.DashboardQueries(d, rng)
	if err != nil {
		return err
	}
	rs, err := validate.RuleQueries(filepath.Join(root, validate.RulesFile))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, q := range append(qs, rs...) {
		if err := enc.Encode(q); err != nil {
			return err
		}
	}
	return nil
}
