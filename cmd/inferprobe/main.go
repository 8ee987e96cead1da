// Command inferprobe profiles LLM inference servers from the outside with eBPF.
//
//	inferprobe <command> [flags]
//
// Each command lives in its own file and registers itself in commands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// command is one subcommand: its name, a one-line summary and what runs it with the
// arguments after its name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// register adds a subcommand; each command's file calls it from init.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("inferprobe: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error in the command line (exit status 2); flag errors are printed
// by pflag with the usage.
var errUsage = errors.New("usage")

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the command args name and returns the exit status.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "inferprobe: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "inferprobe %s: %v\n", c.name, err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: inferprobe <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run inferprobe <command> --help for its flags.")
}

// newFlags returns a command's flag set: errors come back to the command.
func newFlags(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("inferprobe "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	return fs
}

// parseFlags parses args, mapping a bad command line to errUsage.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), flagError(err))
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// badValue is pflag's message for a value its type cannot parse.
var badValue = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: (.*)$`)

// flagError says what is wrong with a command line in the user's terms: the flag, the
// value and what it wants, without the Go parser's text.
func flagError(err error) string {
	m := badValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	flag := m[2]
	if i := strings.Index(flag, "--"); i >= 0 {
		flag = flag[i:]
	}
	want := "a valid value"
	switch inner := m[3]; {
	case strings.Contains(inner, "out of range"):
		want = "a smaller number"
	case strings.Contains(inner, "ParseInt"), strings.Contains(inner, "ParseUint"), strings.Contains(inner, "Atoi"):
		want = "a whole number"
	case strings.Contains(inner, "ParseFloat"):
		want = "a number"
	case strings.Contains(inner, "ParseBool"):
		want = "true or false"
	case strings.Contains(inner, "duration"):
		want = "a duration such as 500ms, 10s or 5m"
	}
	return fmt.Sprintf("%s %q: want %s", flag, m[1], want)
}
