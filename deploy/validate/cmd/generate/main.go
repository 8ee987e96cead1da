// Command generate writes the kit's generated files from the Helm chart: the plain
// manifests in deploy/kubernetes, deploy/prometheus/inferprobe-rules.yml and the chart's
// copy of the Grafana dashboard. Run it with `go generate` in deploy/validate.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/inferprobe/inferprobe/deploy/validate"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := validate.Root()
	if err != nil {
		return err
	}
	files, err := validate.Generate(root)
	if err != nil {
		return err
	}
	if err := validate.WriteGenerated(root, files); err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Println("wrote", p)
	}
	return nil
}
