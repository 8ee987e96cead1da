package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// The census's tracefs side. Probes go in an event group of their own; they are enabled
// in a tracefs instance of the same name whose ring buffer is off (tracing_on 0), so
// nothing is written per hit: the kernel still counts hits in uprobe_profile. Stopping
// disables them, removes the instance and deletes every probe of the group.

type tracefs struct{ root string }

func (t tracefs) path(elem ...string) string {
	return filepath.Join(append([]string{t.root}, elem...)...)
}

func (t tracefs) write(name, s string) error {
	f, err := os.OpenFile(t.path(name), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(s)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %q to %s: %w", strings.TrimSpace(s), name, werr)
	}
	return cerr
}

// start registers a uprobe on every symbol of lib in group and enables them. It returns
// how many were registered and the names tracefs refused (with why, first few).
func (t tracefs) start(group, lib string, syms []symbol) (int, []string, error) {
	if _, err := os.Stat(t.path("uprobe_events")); err != nil {
		return 0, nil, fmt.Errorf("tracefs has no uprobe_events (kernel without CONFIG_UPROBE_EVENTS, or tracefs not mounted at %s): %w", t.root, err)
	}
	if _, err := os.Stat(t.path("events", group)); err == nil {
		return 0, nil, fmt.Errorf("event group %s already exists: run census-stop first", group)
	}
	var refused []string
	n := 0
	for _, s := range syms {
		if err := t.write("uprobe_events", fmt.Sprintf("p:%s/%s %s:0x%x\n", group, s.name, lib, s.offset)); err != nil {
			refused = append(refused, fmt.Sprintf("%s (%v)", s.name, err))
			continue
		}
		n++
	}
	if n == 0 {
		return 0, refused, fmt.Errorf("tracefs took none of %d probes: %s", len(syms), first(refused))
	}
	inst := t.path("instances", group)
	if err := os.Mkdir(inst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return n, refused, fmt.Errorf("tracefs instance: %w", err)
	}
	if err := t.write(filepath.Join("instances", group, "tracing_on"), "0\n"); err != nil {
		return n, refused, err
	}
	if err := t.write(filepath.Join("instances", group, "events", group, "enable"), "1\n"); err == nil {
		return n, refused, nil
	}
	// One probe the kernel cannot place fails the group's enable: enable them one by one.
	names, err := t.names(group)
	if err != nil {
		return n, refused, err
	}
	enabled := 0
	for _, name := range names {
		if err := t.write(filepath.Join("instances", group, "events", group, name, "enable"), "1\n"); err != nil {
			refused = append(refused, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		enabled++
	}
	if enabled == 0 {
		return 0, refused, fmt.Errorf("no census probe could be enabled: %s", first(refused))
	}
	return enabled, refused, nil
}

// stop returns uprobe_profile's lines for the group's probes and removes them.
func (t tracefs) stop(group string) ([]string, error) {
	names, err := t.names(group)
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, n := range names {
		mine[n] = true
	}
	prof, err := os.ReadFile(t.path("uprobe_profile"))
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(prof), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && mine[f[len(f)-2]] {
			lines = append(lines, l)
		}
	}
	var errs []error
	inst := filepath.Join("instances", group)
	if _, err := os.Stat(t.path(inst)); err == nil {
		if err := t.write(filepath.Join(inst, "events", group, "enable"), "0\n"); err != nil {
			errs = append(errs, err)
		}
		if err := os.Remove(t.path(inst)); err != nil {
			errs = append(errs, fmt.Errorf("remove tracefs instance: %w", err))
		}
	}
	for _, n := range names {
		if err := t.write("uprobe_events", fmt.Sprintf("-:%s/%s\n", group, n)); err != nil {
			errs = append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}

// names lists the events of group (none when the group does not exist).
func (t tracefs) names(group string) ([]string, error) {
	ents, err := os.ReadDir(t.path("events", group))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	if len(v) > 3 {
		return strings.Join(v[:3], "; ") + fmt.Sprintf("; and %d more", len(v)-3)
	}
	return strings.Join(v, "; ")
}

func runCensusStart(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("census-start", pflag.ContinueOnError)
	group := fs.String("group", "ipcensus", "tracefs event group and instance name")
	root := fs.String("path.tracefs", "/sys/kernel/tracing", "tracefs mount point")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 || !eventName.MatchString(*group) {
		fmt.Fprintln(stdout, "usage: gpucheck census-start [--group G] [--path.tracefs DIR] LIBCUDA")
		return errUsage
	}
	lib, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if strings.ContainsAny(lib, " \t\n") {
		return fmt.Errorf("libcuda path %q has white space: tracefs cannot take it", lib)
	}
	syms, err := cuSymbols(lib)
	if err != nil {
		return err
	}
	if len(syms) == 0 {
		return fmt.Errorf("%s exports no cu* functions", lib)
	}
	n, refused, err := tracefs{*root}.start(*group, lib, syms)
	fmt.Fprintf(stdout, "census: %d of %d exported cu* functions of %s probed; refused: %s\n", n, len(syms), lib, first(refused))
	return err
}

func runCensusStop(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("census-stop", pflag.ContinueOnError)
	group := fs.String("group", "ipcensus", "tracefs event group and instance name")
	root := fs.String("path.tracefs", "/sys/kernel/tracing", "tracefs mount point")
	out := fs.String("out", "", "write the group's uprobe_profile lines here (required)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *out == "" {
		fmt.Fprintln(stdout, "usage: gpucheck census-stop [--group G] [--path.tracefs DIR] --out PROFILE")
		return errUsage
	}
	lines, err := tracefs{*root}.stop(*group)
	if werr := os.WriteFile(*out, []byte(strings.Join(lines, "\n")+"\n"), 0o644); werr != nil && err == nil {
		err = werr
	}
	fmt.Fprintf(stdout, "census: %d probes read and removed\n", len(lines))
	return err
}
